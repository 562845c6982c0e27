#include "model.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "util.h"

/* The largest architecture value a model file may hold (nine digits);
 * unet_config_check then applies the real limits. */
#define META_INT_MAX 999999999L

enum model_count
model_parse_count(const char *s, long max, long *out)
{
	long n = 0;

	if (!s || !s[0] || (s[0] == '0' && s[1]))
		return MODEL_COUNT_BAD;
	for (const char *p = s; *p; p++) {
		int d = *p - '0';

		if (*p < '0' || *p > '9')
			return MODEL_COUNT_BAD;
		if (n > max / 10 || n * 10 > max - d)
			return MODEL_COUNT_RANGE;
		n = n * 10 + d;
	}
	*out = n;
	return MODEL_COUNT_OK;
}

/* A metadata value that must be a plain decimal integer ("16", not
 * " 16", "+16", "16.0" or "016"). */
static int
meta_int(json_t *meta, const char *key, int *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(meta, key);
	const char *s;
	long n;

	if (!v)
		return set_error(err, errlen, "__metadata__ has no \"%s\"", key);
	s = json_string_value(v);
	switch (model_parse_count(s, META_INT_MAX, &n)) {
	case MODEL_COUNT_OK:
		*out = (int)n;
		return 0;
	case MODEL_COUNT_RANGE:
		return set_error(err, errlen, "__metadata__ %s \"%s\" is out of range",
			    key, s);
	case MODEL_COUNT_BAD:
		break;
	}
	return set_error(err, errlen, "__metadata__ %s \"%s\" is not an integer", key,
		    s ? s : "");
}

int
model_outputs(const json_t *metadata, struct model_outputs *out, char *err,
	      size_t errlen)
{
	json_t *v = metadata ? json_object_get(metadata, "outputs") : NULL;
	const char *s = v ? json_string_value(v) : "foreground";

	if (!s)
		return set_error(err, errlen, "__metadata__ outputs is not a "
				 "string");
	out->count = 0;
	for (const char *p = s;; p++) {
		size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz");
		char *name;

		if (len == 0 || (p[len] && p[len] != ','))
			return set_error(err, errlen, "__metadata__ outputs "
					 "\"%s\": expected comma-separated "
					 "names of letters a-z", s);
		if (out->count == UNET_MAX_OUTPUTS)
			return set_error(err, errlen, "__metadata__ outputs "
					 "\"%s\": more than %d names", s,
					 UNET_MAX_OUTPUTS);
		if (len > MODEL_OUTPUT_NAME_MAX)
			return set_error(err, errlen, "__metadata__ outputs "
					 "\"%s\": a name longer than %d "
					 "letters", s, MODEL_OUTPUT_NAME_MAX);
		name = out->name[out->count];
		memcpy(name, p, len);
		name[len] = '\0';
		for (int i = 0; i < out->count; i++)
			if (strcmp(out->name[i], name) == 0)
				return set_error(err, errlen, "__metadata__ "
						 "outputs \"%s\": %s twice", s,
						 name);
		out->count++;
		p += len;
		if (!*p)
			break;
	}
	if (strcmp(out->name[0], "foreground") != 0)
		return set_error(err, errlen, "__metadata__ outputs \"%s\": "
				 "the first must be foreground", s);
	return 0;
}

int
model_normalize(const json_t *metadata, struct normalize *n, char *err,
		size_t errlen)
{
	json_t *v = metadata ? json_object_get(metadata, "normalize") : NULL;
	const char *s = v ? json_string_value(v) : "maxval";
	char why[128];

	if (!s)
		return set_error(err, errlen, "__metadata__ normalize is not a "
				 "string");
	if (normalize_parse(s, n, why, sizeof why) < 0)
		return set_error(err, errlen, "__metadata__ normalize: %s",
				 why);
	return 0;
}

void
model_tuple_type(const struct model_outputs *o, char *buf, size_t len)
{
	size_t at = 0;

	if (o->count == 1) {
		snprintf(buf, len, "GRAYSCALE");
		return;
	}
	for (int i = 0; i < o->count; i++)
		for (const char *c = o->name[i]; *c; c++) {
			if (c == o->name[i] && i > 0 && at + 1 < len)
				buf[at++] = '_';
			if (at + 1 < len)
				buf[at++] = (char)(*c - 'a' + 'A');
		}
	buf[at] = '\0';
}

/* The index of v's first value that is not finite, n when all are:
 * blocks are scanned without a branch (vectorised), the first bad block
 * value by value. */
static size_t
first_not_finite(const float *v, size_t n)
{
	size_t k = 0;

	for (; k < n; k += 4096) {
		size_t end = n - k < 4096 ? n : k + 4096;
		uint32_t all = 0;

		for (size_t i = k; i < end; i++) {
			uint32_t u;

			memcpy(&u, &v[i], sizeof u);
			all |= (u & 0x7f800000u) == 0x7f800000u;
		}
		if (all)
			break;
	}
	for (; k < n; k++)
		if (!isfinite(v[k]))
			return k;
	return n;
}

enum model_tensor_fault
model_tensor_check(const struct st_file *f, const char *name,
		   const struct unet_param *p, const struct st_tensor **t,
		   size_t *bad)
{
	int same;

	*t = st_find(f, name);
	if (!*t)
		return MODEL_TENSOR_MISSING;
	same = (*t)->ndim == p->ndim;
	for (int k = 0; same && k < p->ndim; k++)
		same = (*t)->shape[k] == p->shape[k];
	if (!same)
		return MODEL_TENSOR_SHAPE;
	*bad = first_not_finite((*t)->data, (*t)->count);
	return *bad < (*t)->count ? MODEL_TENSOR_NOT_FINITE : MODEL_TENSOR_OK;
}

static int
check_tensors(struct st_file *f, struct unet *net, char *err, size_t errlen)
{
	int n = unet_param_count(net);
	char have[256], want[256];

	for (int i = 0; i < n; i++) {
		struct unet_param *p = unet_param_at(net, i);
		const struct st_tensor *t;
		int64_t shape[4];
		size_t bad = 0;

		switch (model_tensor_check(f, p->name, p, &t, &bad)) {
		case MODEL_TENSOR_OK:
			break;
		case MODEL_TENSOR_MISSING:
			return set_error(err, errlen, "missing tensor %s", p->name);
		case MODEL_TENSOR_SHAPE:
			for (int k = 0; k < p->ndim; k++)
				shape[k] = p->shape[k];
			return set_error(err, errlen,
				    "tensor %s has shape %s, expected %s", p->name,
				    st_shape_str(t->shape, t->ndim, have, sizeof have),
				    st_shape_str(shape, p->ndim, want, sizeof want));
		case MODEL_TENSOR_NOT_FINITE:
			return set_error(err, errlen,
				    "tensor %s: value %zu is not finite",
				    p->name, bad);
		}
	}
	for (size_t j = 0; j < f->ntensors; j++) {
		int known = 0;
		for (int i = 0; !known && i < n; i++)
			known = strcmp(unet_param_at(net, i)->name,
				       f->tensors[j].name) == 0;
		if (!known)
			return set_error(err, errlen, "unexpected tensor %s",
				    f->tensors[j].name);
	}
	return 0;
}

/* The network of cfg is allocated only when the file can hold it: its
 * deepest level alone has a 3x3 convolution from W to W channels (W =
 * base_filters * 2^(depth-1)), so a file with fewer values is refused
 * before a metadata line of a few bytes costs gigabytes. Small networks
 * are left to check_tensors, whose message names the tensor. */
static int
too_few_values(const struct st_file *f, const struct unet_config *cfg,
	       char *err, size_t errlen)
{
	double w = (double)cfg->base_filters * (double)(1L << (cfg->depth - 1));
	size_t have = 0;

	for (size_t i = 0; i < f->ntensors; i++)
		have += f->tensors[i].count;
	if ((double)have < 9 * w * w && 9 * w * w > (double)(1 << 22))
		return set_error(err, errlen,
			    "the tensors hold %zu values, too few for "
			    "base_filters %d and depth %d", have,
			    cfg->base_filters, cfg->depth);
	return 0;
}

struct unet *
model_load(const char *path, json_t **metadata, char *err, size_t errlen)
{
	struct st_file f;
	struct unet_config cfg;
	struct model_outputs outs;
	const struct st_tensor *out;
	struct unet *net = NULL;
	json_t *arch;

	if (metadata)
		*metadata = NULL;
	if (st_read(path, &f, err, errlen) < 0)
		return NULL;
	arch = json_object_get(f.metadata, "arch");
	if (!arch) {
		set_error(err, errlen, "__metadata__ has no \"arch\": not a unetpipe model");
		goto done;
	}
	if (strcmp(json_string_value(arch), "unet") != 0) {
		set_error(err, errlen, "arch \"%s\", expected \"unet\"",
		     json_string_value(arch));
		goto done;
	}
	if (meta_int(f.metadata, "in_channels", &cfg.in_channels, err, errlen) ||
	    meta_int(f.metadata, "base_filters", &cfg.base_filters, err, errlen) ||
	    meta_int(f.metadata, "depth", &cfg.depth, err, errlen) ||
	    model_outputs(f.metadata, &outs, err, errlen))
		goto done;
	cfg.outputs = outs.count;
	out = st_find(&f, "out.weight");
	if (out && out->ndim == 4 && out->shape[0] != outs.count) {
		set_error(err, errlen, "__metadata__ outputs names %d output(s) "
			  "but tensor out.weight has %" PRId64, outs.count,
			  out->shape[0]);
		goto done;
	}
	if (unet_config_check(&cfg, err, errlen))
		goto done;
	if (too_few_values(&f, &cfg, err, errlen))
		goto done;
	net = unet_new(&cfg);
	if (check_tensors(&f, net, err, errlen) < 0) {
		unet_free(net);
		net = NULL;
		goto done;
	}
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);
		unet_param_import(p, st_find(&f, p->name)->data);
	}
	if (metadata)
		*metadata = json_incref(f.metadata);
done:
	st_free(&f);
	return net;
}

void
model_meta_set(json_t *obj, const char *key, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	json_object_set_new(obj, key, json_string(buf));
}

void
model_tensor_header(struct st_tensor *t, const char *prefix,
		    const struct unet_param *p)
{
	size_t n = strlen(prefix) + strlen(p->name) + 1;

	t->name = xmalloc(n);
	snprintf(t->name, n, "%s%s", prefix, p->name);
	t->ndim = p->ndim;
	for (int k = 0; k < p->ndim; k++)
		t->shape[k] = p->shape[k];
	t->count = p->count;
}

/* st_write's fill: parameter i in the reference's layout. model_load
 * refuses non-finite values: never write a model that will not load (a
 * NaN weight can hide behind a finite loss). */
static int
fill_param(void *net, size_t i, float *out, char *err, size_t errlen)
{
	const struct unet_param *p = unet_param_at(net, (int)i);

	size_t bad;

	unet_param_export(p, out);
	bad = first_not_finite(out, p->count);
	if (bad < p->count)
		return set_error(err, errlen, "tensor %s: value %zu is "
				 "not finite; model not written", p->name, bad);
	return 0;
}

int
model_save(const char *path, struct unet *net, json_t *metadata, char *err,
	   size_t errlen)
{
	const struct unet_config *cfg = unet_get_config(net);
	struct model_outputs outs;
	struct st_file f = {0};
	int rc;

	if (metadata && !json_is_object(metadata))
		return set_error(err, errlen, "metadata is not a JSON object");
	if (model_outputs(metadata, &outs, err, errlen) < 0)
		return -1;
	if (outs.count != cfg->outputs)
		return set_error(err, errlen, "metadata outputs names %d "
				 "output(s), the network has %d", outs.count,
				 cfg->outputs);
	f.metadata = json_object();
	if (metadata)
		json_object_update(f.metadata, metadata);
	json_object_set_new(f.metadata, "arch", json_string("unet"));
	model_meta_set(f.metadata, "in_channels", "%d", cfg->in_channels);
	model_meta_set(f.metadata, "base_filters", "%d", cfg->base_filters);
	model_meta_set(f.metadata, "depth", "%d", cfg->depth);

	f.ntensors = unet_param_count(net);
	f.tensors = xcalloc(f.ntensors, sizeof *f.tensors);
	for (size_t i = 0; i < f.ntensors; i++)
		model_tensor_header(&f.tensors[i], "",
				    unet_param_at(net, (int)i));
	f.fill = fill_param;
	f.fill_arg = net;
	rc = st_write(path, &f, err, errlen);
	st_free(&f);
	return rc;
}
