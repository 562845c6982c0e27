/* model: a U-Net in a safetensors file with the reference's tensor names
 * and PyTorch layouts, the architecture in __metadata__. */
#ifndef UNETPIPE_MODEL_H
#define UNETPIPE_MODEL_H

#include <stddef.h>

#include <jansson.h>

#include "normalize.h"
#include "unet.h"

struct st_file;
struct st_tensor;

/* Longest name of an output: four names joined by '_' fit a tuple type
 * (struct image's tuple_type, 64 bytes). */
#define MODEL_OUTPUT_NAME_MAX 15

/* The outputs of a model, in the order of its out layer's channels. */
struct model_outputs {
	int count;   /* K, 1 .. UNET_MAX_OUTPUTS */
	char name[UNET_MAX_OUTPUTS][MODEL_OUTPUT_NAME_MAX + 1];
};

/* The outputs named by metadata's "outputs" (comma-separated lowercase
 * names, [a-z]+, no two alike, the first "foreground"), or the one output
 * "foreground" when metadata (or the key) is absent, as in models older
 * than multi-output networks. 0, or -1 with the reason in err. */
int model_outputs(const json_t *metadata, struct model_outputs *out,
		  char *err, size_t errlen);

/* The input normalisation named by metadata's "normalize"
 * (normalize_parse's forms), or maxval when metadata (or the key) is
 * absent, as in models older than percentile normalisation. 0, or -1
 * with the reason in err. */
int model_normalize(const json_t *metadata, struct normalize *n, char *err,
		    size_t errlen);

/* The tuple type of the probability maps of a model with outputs o, in
 * buf (len >= 64): GRAYSCALE for one output, else the names upper-cased
 * and joined by '_' (FOREGROUND_DISTANCE). */
void model_tuple_type(const struct model_outputs *o, char *buf, size_t len);

/* Load a model: the file must pass st_read, its metadata must name
 * arch "unet" with valid in_channels, base_filters and depth and valid
 * outputs (model_outputs: as many names as out.weight has output
 * channels), and its tensors must be exactly the network's, each with the
 * right shape. On success returns the network and, when metadata is not
 * NULL, a new reference to the whole metadata object; NULL with the
 * reason in err otherwise. */
struct unet *model_load(const char *path, json_t **metadata, char *err,
			size_t errlen);

/* Save net atomically to path with metadata (an object of string values,
 * or NULL); arch, in_channels, base_filters and depth are set from the
 * network. metadata's "outputs" must name the network's K outputs (it may
 * be absent only when K is 1). 0 on success, -1 with the reason in err
 * (old file intact). */
int model_save(const char *path, struct unet *net, json_t *metadata,
	       char *err, size_t errlen);

/* Set key of obj to the printf-formatted string (at most 127 bytes): the
 * metadata of model and checkpoint files is all strings. */
void model_meta_set(json_t *obj, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What model_parse_count finds in a metadata string. */
enum model_count {
	MODEL_COUNT_OK,
	MODEL_COUNT_BAD,   /* NULL, or not a plain decimal count */
	MODEL_COUNT_RANGE  /* a count above the maximum */
};

/* Parse s, a metadata value, as a plain decimal count from 0 to max:
 * digits only, no sign, space, exponent or leading zero ("16", not
 * " 16", "+16", "16.0", "1e3", "12abc" or "016"). MODEL_COUNT_OK with the
 * value in *out, or what is wrong (digits are read from the left: a
 * string whose digits exceed max before any other character is
 * MODEL_COUNT_RANGE). */
enum model_count model_parse_count(const char *s, long max, long *out);

/* What model_tensor_check finds wrong with a tensor. */
enum model_tensor_fault {
	MODEL_TENSOR_OK,
	MODEL_TENSOR_MISSING,    /* f has no tensor of that name */
	MODEL_TENSOR_SHAPE,      /* its shape is not p's (*t is set) */
	MODEL_TENSOR_NOT_FINITE  /* value *bad is a NaN or an infinity */
};

/* Check f's tensor `name` against parameter p: present, of p's shape,
 * every value finite (a NaN weight survives ReLU with a finite loss).
 * Returns MODEL_TENSOR_OK with the tensor in *t, or the fault; each file
 * format words its own message. */
enum model_tensor_fault model_tensor_check(const struct st_file *f,
					   const char *name,
					   const struct unet_param *p,
					   const struct st_tensor **t,
					   size_t *bad);

/* Describe parameter p in t as a tensor of the file named prefix + p's
 * name (malloc'd), with p's PyTorch shape; its values come from the
 * file's fill. */
void model_tensor_header(struct st_tensor *t, const char *prefix,
			 const struct unet_param *p);

#endif
