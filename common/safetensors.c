#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"
#include "util.h"

const char *
st_shape_str(const int64_t *shape, int ndim, char *buf, size_t len)
{
	size_t n = 0;

	n += snprintf(buf, len, "[");
	for (int i = 0; i < ndim && n < len; i++)
		n += snprintf(buf + n, len - n, "%s%lld", i ? ", " : "",
			      (long long)shape[i]);
	if (n < len)
		snprintf(buf + n, len - n, "]");
	return buf;
}

static uint64_t
get_le64(const unsigned char *b)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* Little-endian bytes to host floats (and back), whatever the host; src
 * may be dst's own bytes. */
static void
floats_from_le(float *dst, const unsigned char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = src + 4 * i;
		uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			     (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		memcpy(&dst[i], &u, 4);
	}
}

static void
floats_to_le(unsigned char *dst, const float *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], 4);
		dst[4 * i] = u & 0xff;
		dst[4 * i + 1] = u >> 8 & 0xff;
		dst[4 * i + 2] = u >> 16 & 0xff;
		dst[4 * i + 3] = u >> 24 & 0xff;
	}
}

/* Where each tensor's bytes are, while checking the coverage. */
struct span {
	size_t begin, end;
	size_t index;
};

static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

static int
tensor_cmp(const void *a, const void *b)
{
	const struct st_tensor *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
check_metadata(json_t *meta, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	if (!json_is_object(meta))
		return set_error(err, errlen, "__metadata__ is not a JSON object");
	json_object_foreach(meta, key, v) {
		if (!json_is_string(v))
			return set_error(err, errlen,
				    "__metadata__ value of \"%s\" is not a string",
				    key);
	}
	return 0;
}

/* Parse one header entry into t (shape and count) and its byte span
 * relative to the data region of `region` bytes. */
static int
parse_entry(const char *name, json_t *e, size_t region, struct st_tensor *t,
	    struct span *s, char *err, size_t errlen)
{
	const char *key;
	json_t *v, *dtype, *shape, *offs;
	char buf[256];

	if (!json_is_object(e))
		return set_error(err, errlen, "tensor %s: entry is not a JSON object",
			    name);
	json_object_foreach(e, key, v) {
		if (strcmp(key, "dtype") && strcmp(key, "shape") &&
		    strcmp(key, "data_offsets"))
			return set_error(err, errlen, "tensor %s: unexpected key \"%s\"",
				    name, key);
	}
	dtype = json_object_get(e, "dtype");
	shape = json_object_get(e, "shape");
	offs = json_object_get(e, "data_offsets");
	if (!dtype || !shape || !offs)
		return set_error(err, errlen, "tensor %s: missing \"%s\"", name,
			    !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
	if (!json_is_string(dtype))
		return set_error(err, errlen, "tensor %s: dtype is not a string", name);
	if (strcmp(json_string_value(dtype), "F32") != 0)
		return set_error(err, errlen,
			    "tensor %s: dtype %s, only F32 is supported", name,
			    json_string_value(dtype));
	if (!json_is_array(shape))
		return set_error(err, errlen, "tensor %s: shape is not an array", name);
	if (json_array_size(shape) > ST_MAX_DIMS)
		return set_error(err, errlen, "tensor %s: %zu dimensions, at most %d",
			    name, json_array_size(shape), ST_MAX_DIMS);
	t->ndim = (int)json_array_size(shape);
	t->count = 1;
	for (int i = 0; i < t->ndim; i++) {
		json_t *d = json_array_get(shape, i);
		json_int_t n;

		if (!json_is_integer(d) || (n = json_integer_value(d)) < 0)
			return set_error(err, errlen,
				    "tensor %s: shape entry %d is not a non-negative integer",
				    name, i);
		t->shape[i] = n;
		if (n != 0 && t->count > SIZE_MAX / 4 / (uint64_t)n)
			return set_error(err, errlen, "tensor %s: shape %s is too large",
				    name, st_shape_str(t->shape, i + 1, buf, sizeof buf));
		t->count *= (size_t)n;
	}
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    !json_is_integer(json_array_get(offs, 0)) ||
	    !json_is_integer(json_array_get(offs, 1)))
		return set_error(err, errlen,
			    "tensor %s: data_offsets is not an array of two integers",
			    name);
	json_int_t b = json_integer_value(json_array_get(offs, 0));
	json_int_t en = json_integer_value(json_array_get(offs, 1));
	if (b < 0 || en < b)
		return set_error(err, errlen,
			    "tensor %s: data_offsets [%lld, %lld] are not an interval",
			    name, (long long)b, (long long)en);
	if ((uint64_t)en > region)
		return set_error(err, errlen,
			    "tensor %s: data_offsets [%lld, %lld] run past the end of the data (%zu bytes): file truncated?",
			    name, (long long)b, (long long)en, region);
	if ((uint64_t)(en - b) != 4 * (uint64_t)t->count)
		return set_error(err, errlen,
			    "tensor %s: data_offsets [%lld, %lld] do not match shape %s",
			    name, (long long)b, (long long)en,
			    st_shape_str(t->shape, t->ndim, buf, sizeof buf));
	s->begin = (size_t)b;
	s->end = (size_t)en;
	return 0;
}

/* Tensors sorted by offset must tile [0, region) exactly. */
static int
check_coverage(const struct span *s, size_t n, const struct st_tensor *t,
	       size_t region, char *err, size_t errlen)
{
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i].begin < at)
			return set_error(err, errlen,
				    "tensors %s and %s overlap (data_offsets [%zu, %zu] and [%zu, %zu])",
				    t[s[i - 1].index].name, t[s[i].index].name,
				    s[i - 1].begin, s[i - 1].end, s[i].begin,
				    s[i].end);
		if (s[i].begin > at)
			return set_error(err, errlen,
				    "hole in the data: bytes [%zu, %zu) belong to no tensor",
				    at, s[i].begin);
		at = s[i].end;
	}
	if (at != region)
		return set_error(err, errlen,
			    "%zu trailing bytes after the last tensor", region - at);
	return 0;
}

static int
read_exact(FILE *fp, void *buf, size_t n, char *err, size_t errlen)
{
	if (n && fread(buf, 1, n, fp) != n) {
		if (ferror(fp))
			return set_error(err, errlen, "read error: %s", strerror(errno));
		return set_error(err, errlen, "unexpected end of file");
	}
	return 0;
}

static int
parse_header(json_t *root, size_t region, struct st_file *out,
	     struct span **spans, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	size_t n = 0;

	json_t *meta = json_object_get(root, "__metadata__");
	if (meta && check_metadata(meta, err, errlen) < 0)
		return -1;
	out->metadata = meta ? json_incref(meta) : json_object();
	out->ntensors = json_object_size(root) - (meta != NULL);
	out->tensors = xcalloc(out->ntensors, sizeof *out->tensors);
	*spans = xcalloc(out->ntensors, sizeof **spans);
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0)
			continue;
		if (key[0] == '\0')
			return set_error(err, errlen, "a tensor has an empty name");
		out->tensors[n].name = xstrdup(key);
		(*spans)[n].index = n;
		if (parse_entry(key, v, region, &out->tensors[n], &(*spans)[n],
				err, errlen) < 0)
			return -1;
		n++;
	}
	return 0;
}

/* The tensors' data straight from a private mapping of the file (pages
 * shared with the page cache, copied only if written): no copy into the
 * process and no fault per page, on a host whose floats are the file's
 * (little-endian) when the data begins at a multiple of 4 (each tensor's
 * then does). 0, or -1 when they must be read instead. Under
 * AddressSanitizer they are always read, into checked heap blocks. */
static int
map_data(FILE *fp, uint64_t size, uint64_t begin, const struct span *spans,
	 struct st_file *out)
{
#if defined(__SANITIZE_ADDRESS__) || !defined(__BYTE_ORDER__) || \
	__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	(void)fp, (void)size, (void)begin, (void)spans, (void)out;
	return -1;
#else
	char *map;

	if (begin % 4 != 0 || begin == size || size > SIZE_MAX)
		return -1;
	map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE, fileno(fp), 0);
	if (map == MAP_FAILED)
		return -1;
	out->map = map;
	out->map_bytes = (size_t)size;
	for (size_t i = 0; i < out->ntensors; i++)
		out->tensors[spans[i].index].data =
			(float *)(void *)(map + begin + spans[i].begin);
	return 0;
#endif
}

int
st_read(const char *path, struct st_file *out, char *err, size_t errlen)
{
	FILE *fp;
	struct stat sb;
	unsigned char lenbuf[9];
	char *header = NULL;
	struct span *spans = NULL;
	json_t *root = NULL;
	json_error_t jerr;
	int rc = -1;

	memset(out, 0, sizeof *out);
	fp = fopen_regular(path, err, errlen);
	if (!fp)
		return -1;
	if (fstat(fileno(fp), &sb) != 0) {
		set_error(err, errlen, "%s", strerror(errno));
		goto done;
	}
	uint64_t size = (uint64_t)sb.st_size;
	if (size < 8) {
		set_error(err, errlen,
		     "file of %llu bytes is too short for a safetensors header",
		     (unsigned long long)size);
		goto done;
	}
	/* The length and, when there is one, the header's first byte. */
	if (read_exact(fp, lenbuf, size > 8 ? 9 : 8, err, errlen) < 0)
		goto done;
	uint64_t hlen = get_le64(lenbuf);
	if (hlen > 0 && (size == 8 || lenbuf[8] != '{')) {
		set_error(err, errlen, "not a safetensors file");
		goto done;
	}
	if (hlen > ST_MAX_HEADER) {
		set_error(err, errlen, "header length %llu exceeds the limit of %u bytes",
		     (unsigned long long)hlen, ST_MAX_HEADER);
		goto done;
	}
	if (hlen > size - 8) {
		set_error(err, errlen, "header length %llu exceeds the file size",
		     (unsigned long long)hlen);
		goto done;
	}
	header = xmalloc(hlen);
	if (hlen > 0)
		header[0] = '{';
	if (hlen > 1 && read_exact(fp, header + 1, hlen - 1, err, errlen) < 0)
		goto done;
	root = json_loadb(header, hlen, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		set_error(err, errlen, "header is not valid JSON: %s (byte %d)",
		     jerr.text, jerr.position);
		goto done;
	}
	size_t region = (size_t)(size - 8 - hlen);
	if (parse_header(root, region, out, &spans, err, errlen) < 0)
		goto done;
	qsort(spans, out->ntensors, sizeof *spans, span_cmp);
	if (check_coverage(spans, out->ntensors, out->tensors, region, err,
			   errlen) < 0)
		goto done;
	if (map_data(fp, size, 8 + hlen, spans, out) == 0)
		goto sorted;
	/* Contiguous and in offset order: each tensor read where it stays,
	 * its bytes turned into floats in place. */
	for (size_t i = 0; i < out->ntensors; i++) {
		struct st_tensor *t = &out->tensors[spans[i].index];
		t->data = xmalloc_for(t->count ? t->count : 1, sizeof *t->data,
				      "a tensor");
		if (read_exact(fp, t->data, t->count * sizeof *t->data, err,
			       errlen) < 0)
			goto done;
		floats_from_le(t->data, (const unsigned char *)t->data,
			       t->count);
	}
sorted:
	qsort(out->tensors, out->ntensors, sizeof *out->tensors, tensor_cmp);
	rc = 0;
done:
	if (rc < 0)
		st_free(out);
	free(spans);
	free(header);
	json_decref(root);
	fclose(fp);
	return rc;
}

/* The header JSON (padded with spaces to a multiple of 8) for f, tensors
 * in the order of idx. NULL with err set when f is not writable. */
static char *
build_header(const struct st_file *f, const size_t *idx, size_t *len,
	     char *err, size_t errlen)
{
	json_t *root = json_object(), *meta = json_object();
	const char *key;
	json_t *v;
	size_t offset = 0;
	char *text = NULL;

	if (f->metadata) {
		if (check_metadata(f->metadata, err, errlen) < 0)
			goto done;
		json_object_foreach(f->metadata, key, v)
			json_object_set(meta, key, v);
	}
	json_object_set(root, "__metadata__", meta);
	for (size_t k = 0; k < f->ntensors; k++) {
		const struct st_tensor *t = &f->tensors[idx[k]];
		json_t *shape = json_array(), *e = json_object();
		size_t count = 1;

		if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0) {
			set_error(err, errlen, "invalid tensor name \"%s\"",
			     t->name ? t->name : "");
			json_decref(shape);
			json_decref(e);
			goto done;
		}
		if (k > 0 && strcmp(t->name, f->tensors[idx[k - 1]].name) == 0) {
			set_error(err, errlen, "tensor name %s used twice", t->name);
			json_decref(shape);
			json_decref(e);
			goto done;
		}
		int bad = t->ndim < 0 || t->ndim > ST_MAX_DIMS;
		for (int i = 0; !bad && i < t->ndim; i++) {
			json_array_append_new(shape, json_integer(t->shape[i]));
			bad = t->shape[i] < 0;
			count *= (size_t)t->shape[i];
		}
		if (bad || count != t->count ||
		    (count && !t->data && !f->fill)) {
			set_error(err, errlen, "tensor %s: count %zu does not match its shape, or no values",
			     t->name, t->count);
			json_decref(shape);
			json_decref(e);
			goto done;
		}
		json_object_set_new(e, "dtype", json_string("F32"));
		json_object_set_new(e, "shape", shape);
		json_object_set_new(e, "data_offsets",
				    json_pack("[II]", (json_int_t)offset,
					      (json_int_t)(offset + 4 * count)));
		json_object_set_new(root, t->name, e);
		offset += 4 * count;
	}
	text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text) {
		set_error(err, errlen, "cannot encode the header");
		goto done;
	}
	size_t n = strlen(text), padded = (n + 7) / 8 * 8;
	text = xreallocarray(text, padded + 1, 1);
	memset(text + n, ' ', padded - n);
	text[padded] = '\0';
	*len = padded;
done:
	json_decref(meta);
	json_decref(root);
	return text;
}

static const struct st_file *sort_file;

static int
idx_cmp(const void *a, const void *b)
{
	const struct st_tensor *t = sort_file->tensors;

	return strcmp(t[*(const size_t *)a].name ? t[*(const size_t *)a].name : "",
		      t[*(const size_t *)b].name ? t[*(const size_t *)b].name : "");
}

/* The header and the tensors in idx order, the values of those without
 * data from f->fill through one buffer. 0; -1 on a write error (errno);
 * -2 when fill refused (its reason in err). */
static int
write_all(FILE *fp, const struct st_file *f, const size_t *idx,
	  const char *header, size_t hlen, char *err, size_t errlen)
{
	unsigned char lenbuf[8], chunk[4096];
	size_t most = 0;
	float *filled = NULL;
	int rc = -1;

	for (int i = 0; i < 8; i++)
		lenbuf[i] = (uint64_t)hlen >> (8 * i) & 0xff;
	if (fwrite(lenbuf, 1, 8, fp) != 8 || fwrite(header, 1, hlen, fp) != hlen)
		return -1;
	for (size_t k = 0; k < f->ntensors; k++)
		if (!f->tensors[k].data && f->tensors[k].count > most)
			most = f->tensors[k].count;
	if (most)
		filled = xmalloc(most * sizeof *filled);
	for (size_t k = 0; k < f->ntensors; k++) {
		const struct st_tensor *t = &f->tensors[idx[k]];
		const float *v = t->data;

		if (!v) {
			if (f->fill(f->fill_arg, idx[k], filled, err, errlen) < 0) {
				rc = -2;
				goto done;
			}
			v = filled;
		}
		for (size_t i = 0; i < t->count; i += sizeof chunk / 4) {
			size_t n = t->count - i < sizeof chunk / 4 ?
					   t->count - i : sizeof chunk / 4;
			floats_to_le(chunk, v + i, n);
			if (fwrite(chunk, 4, n, fp) != n)
				goto done;
		}
	}
	rc = fflush(fp);
done:
	free(filled);
	return rc;
}

int
st_write(const char *path, const struct st_file *f, char *err, size_t errlen)
{
	size_t *idx = xcalloc(f->ntensors, sizeof *idx);
	size_t hlen = 0;
	char *header;
	struct outfile *o = NULL;
	int rc = -1;

	/* Messages leave out the path: the caller names it. */

	for (size_t i = 0; i < f->ntensors; i++)
		idx[i] = i;
	sort_file = f;
	qsort(idx, f->ntensors, sizeof *idx, idx_cmp);
	header = build_header(f, idx, &hlen, err, errlen);
	if (!header)
		goto done;
	o = outfile_open(path, err, errlen);
	if (!o)
		goto done;
	switch (write_all(outfile_stream(o), f, idx, header, hlen, err,
			  errlen)) {
	case 0:
		rc = outfile_commit(o, err, errlen);
		break;
	case -2:
		outfile_discard(o);
		break;
	default:
		set_error(err, errlen, "write error: %s", strerror(errno));
		outfile_discard(o);
	}
done:
	free(header);
	free(idx);
	return rc;
}

const struct st_tensor *
st_find(const struct st_file *f, const char *name)
{
	for (size_t i = 0; i < f->ntensors; i++)
		if (f->tensors[i].name && strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

static int
in_map(const struct st_file *f, const float *p)
{
	const char *c = (const char *)p, *m = f->map;

	return m && c >= m && c < m + f->map_bytes;
}

void
st_free(struct st_file *f)
{
	if (f->tensors) {
		for (size_t i = 0; i < f->ntensors; i++) {
			free(f->tensors[i].name);
			if (!in_map(f, f->tensors[i].data))
				free(f->tensors[i].data);
		}
		free(f->tensors);
	}
	if (f->map)
		munmap(f->map, f->map_bytes);
	json_decref(f->metadata);
	memset(f, 0, sizeof *f);
}
