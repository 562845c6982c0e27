/* safetensors: reading and writing F32 safetensors files, trusting nothing
 * that is read. */
#ifndef UNETPIPE_SAFETENSORS_H
#define UNETPIPE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (16u << 20) /* header length limit, bytes */

struct st_tensor {
	char *name;
	int ndim;
	int64_t shape[ST_MAX_DIMS];
	size_t count;   /* product of the shape */
	float *data;    /* count floats, host order (in the st_file's map
			   when it has one); for st_write, NULL when the
			   file's fill gives them */
};

struct st_file {
	size_t ntensors;
	struct st_tensor *tensors; /* sorted by name */
	json_t *metadata;          /* object of strings (never NULL once read) */
	void *map;                 /* st_read's mapping of the file holding
				      the tensors' data, or NULL */
	size_t map_bytes;
	/* For st_write: the values of tensors[i] (its data NULL) into out,
	 * count floats, when its turn comes, so that a file is written
	 * without holding all its tensors twice. 0, or -1 with the reason in
	 * err to abandon the write. */
	int (*fill)(void *arg, size_t i, float *out, char *err, size_t errlen);
	void *fill_arg;
};

/* Read and validate path: a header beginning with '{' (else "not a
 * safetensors file"), its length bounded by ST_MAX_HEADER and the
 * file size, JSON without duplicate keys, every entry F32 with a sane shape
 * and data_offsets matching it, tensors covering the data exactly (no
 * holes, overlaps or trailing bytes), metadata string to string. 0 on
 * success; -1 with the reason in err (no program name) otherwise. */
int st_read(const char *path, struct st_file *out, char *err, size_t errlen);

/* Write f atomically (temporary file in the same folder, fsync, rename,
 * fsync of the folder): path is either the old file or the whole new one.
 * 0 on success; -1 with the reason in err (a write error, or f->fill's
 * refusal), the old file untouched. */
int st_write(const char *path, const struct st_file *f, char *err,
	     size_t errlen);

/* Format a shape as "[16, 3, 3, 3]" into buf (len bytes); returns buf. */
const char *st_shape_str(const int64_t *shape, int ndim, char *buf,
			 size_t len);

/* The tensor called name, or NULL. */
const struct st_tensor *st_find(const struct st_file *f, const char *name);

/* Free everything st_read allocated (or a file built by hand with malloc'd
 * names and data): the map, and every tensor's data outside it; zero the
 * struct. */
void st_free(struct st_file *f);

#endif
