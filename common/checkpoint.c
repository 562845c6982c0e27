#include "checkpoint.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "util.h"

#define CKPT_KIND "unet-train checkpoint 1"

struct checkpoint {
	struct st_file f;
	struct unet_config cfg;
};

/* What st_write's fill needs: tensor i is parameter i / 3's values
 * (i % 3 = 0) or moments (1, 2). */
struct saving {
	struct unet *net;
	const struct adam *adam;
};

/* The moments share the parameter's layout: exported as if they were its
 * values. */
static int
fill_checkpoint(void *arg, size_t i, float *out, char *err, size_t errlen)
{
	const struct saving *sv = arg;
	int k = (int)(i / 3);
	struct unet_param tmp = *unet_param_at(sv->net, k);

	(void)err, (void)errlen;
	if (i % 3 == 1)
		tmp.value = sv->adam->m[k];
	else if (i % 3 == 2)
		tmp.value = sv->adam->v[k];
	unet_param_export(&tmp, out);
	return 0;
}

int
checkpoint_save(const char *path, struct unet *net, const struct adam *adam,
		const struct train_state *s, json_t *fingerprint, char *err,
		size_t errlen)
{
	int n = unet_param_count(net);
	const struct unet_config *cfg = unet_get_config(net);
	struct saving sv = { net, adam };
	struct st_file f = { 0 };
	int rc;

	f.tensors = xcalloc(3 * (size_t)n, sizeof *f.tensors);
	for (int i = 0; i < n; i++) {
		const struct unet_param *p = unet_param_at(net, i);
		model_tensor_header(&f.tensors[f.ntensors++], "", p);
		model_tensor_header(&f.tensors[f.ntensors++], "adam.m.", p);
		model_tensor_header(&f.tensors[f.ntensors++], "adam.v.", p);
	}
	f.fill = fill_checkpoint;
	f.fill_arg = &sv;
	f.metadata = json_object();
	model_meta_set(f.metadata, "kind", "%s", CKPT_KIND);
	model_meta_set(f.metadata, "in_channels", "%d", cfg->in_channels);
	model_meta_set(f.metadata, "base_filters", "%d", cfg->base_filters);
	model_meta_set(f.metadata, "depth", "%d", cfg->depth);
	model_meta_set(f.metadata, "out_channels", "%d", cfg->outputs);
	if (fingerprint)
		json_object_update(f.metadata, fingerprint);
	model_meta_set(f.metadata, "epoch", "%ld", s->epoch);
	model_meta_set(f.metadata, "adam_step", "%ld", adam->step);
	model_meta_set(f.metadata, "adam_lr", "%a", adam->lr);
	model_meta_set(f.metadata, "rng", "%016" PRIx64 "%016" PRIx64
		       "%016" PRIx64 "%016" PRIx64, s->rng.s[0], s->rng.s[1],
		       s->rng.s[2], s->rng.s[3]);
	model_meta_set(f.metadata, "best_epoch", "%ld", s->best_epoch);
	model_meta_set(f.metadata, "best_val_loss", "%a", s->best_loss);
	model_meta_set(f.metadata, "best_val_dice", "%a", s->best_dice);
	model_meta_set(f.metadata, "best_val_iou", "%a", s->best_iou);
	model_meta_set(f.metadata, "best_train_loss", "%a",
		       s->best_train_loss);
	model_meta_set(f.metadata, "wait", "%ld", s->wait);
	rc = st_write(path, &f, err, errlen);
	st_free(&f);
	return rc;
}

static const char *
meta_get(const struct st_file *f, const char *key, char *err, size_t errlen)
{
	const char *v = json_string_value(json_object_get(f->metadata, key));

	if (!v)
		set_error(err, errlen,
			  "not a unet-train checkpoint (no \"%s\")", key);
	return v;
}

/* A count (model_parse_count) of at most max. */
static int
meta_count(const struct st_file *f, const char *key, long max, long *out,
	   char *err, size_t errlen)
{
	const char *s = meta_get(f, key, err, errlen);

	if (!s)
		return -1;
	switch (model_parse_count(s, max, out)) {
	case MODEL_COUNT_OK:
		return 0;
	case MODEL_COUNT_RANGE:
		return set_error(err, errlen, "checkpoint %s \"%s\" is out of "
				 "range", key, s);
	case MODEL_COUNT_BAD:
		break;
	}
	return set_error(err, errlen, "checkpoint %s \"%s\" is not a count",
			 key, s);
}

static int
meta_double(const struct st_file *f, const char *key, double *out,
	    char *err, size_t errlen)
{
	const char *s = meta_get(f, key, err, errlen);
	char *end;

	if (!s)
		return -1;
	*out = strtod(s, &end);
	if (!*s || *end)
		return set_error(err, errlen, "checkpoint %s \"%s\" is not a "
				 "number", key, s);
	return 0;
}

/* The architecture's key as an int (then unet_config_check). */
static int
meta_int(const struct st_file *f, const char *key, int *out, char *err,
	 size_t errlen)
{
	long v;

	if (meta_count(f, key, INT_MAX, &v, err, errlen) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

/* The number of outputs: 1 in checkpoints older than multi-output
 * networks, which have no "out_channels". */
static int
meta_outputs(const struct st_file *f, int *out, char *err, size_t errlen)
{
	if (!json_object_get(f->metadata, "out_channels")) {
		*out = 1;
		return 0;
	}
	return meta_int(f, "out_channels", out, err, errlen);
}

struct checkpoint *
checkpoint_open(const char *path, char *err, size_t errlen)
{
	struct checkpoint *ck = xcalloc(1, sizeof *ck);
	const char *kind;

	if (st_read(path, &ck->f, err, errlen) < 0) {
		free(ck);
		return NULL;
	}
	kind = meta_get(&ck->f, "kind", err, errlen);
	if (kind && strcmp(kind, CKPT_KIND) != 0) {
		set_error(err, errlen, "not a unet-train checkpoint");
		kind = NULL;
	}
	if (!kind ||
	    meta_int(&ck->f, "in_channels", &ck->cfg.in_channels, err,
		     errlen) < 0 ||
	    meta_int(&ck->f, "base_filters", &ck->cfg.base_filters, err,
		     errlen) < 0 ||
	    meta_int(&ck->f, "depth", &ck->cfg.depth, err, errlen) < 0 ||
	    meta_outputs(&ck->f, &ck->cfg.outputs, err, errlen) < 0 ||
	    unet_config_check(&ck->cfg, err, errlen) < 0) {
		checkpoint_close(ck);
		return NULL;
	}
	return ck;
}

const struct unet_config *
checkpoint_config(const struct checkpoint *ck)
{
	return &ck->cfg;
}

/* Import the tensor prefix + p's name into ours (p's layout). */
static int
import_tensor(const struct st_file *f, const char *prefix,
	      const struct unet_param *p, float *ours, char *err,
	      size_t errlen)
{
	char name[96];
	const struct st_tensor *t;
	struct unet_param tmp = *p;
	size_t bad = 0;

	snprintf(name, sizeof name, "%s%s", prefix, p->name);
	switch (model_tensor_check(f, name, p, &t, &bad)) {
	case MODEL_TENSOR_OK:
		break;
	case MODEL_TENSOR_MISSING:
		return set_error(err, errlen, "checkpoint has no tensor %s",
				 name);
	case MODEL_TENSOR_SHAPE:
		return set_error(err, errlen, "checkpoint tensor %s has the "
				 "wrong shape", name);
	case MODEL_TENSOR_NOT_FINITE:
		return set_error(err, errlen, "checkpoint tensor %s: value %zu "
				 "is not finite", name, bad);
	}
	tmp.value = ours;
	unet_param_import(&tmp, t->data);
	return 0;
}

/* The generator's state: 64 hex digits, nothing else. */
static int
read_rng(const struct st_file *f, struct rng *rng, char *err, size_t errlen)
{
	const char *rs = meta_get(f, "rng", err, errlen);

	if (!rs)
		return -1;
	if (strlen(rs) != 64 || rs[strspn(rs, "0123456789abcdefABCDEF")])
		return set_error(err, errlen, "checkpoint rng \"%s\" is "
				 "malformed", rs);
	for (int k = 0; k < 4; k++) {
		char part[17];

		memcpy(part, rs + 16 * k, 16);
		part[16] = '\0';
		rng->s[k] = strtoull(part, NULL, 16);
	}
	return 0;
}

/* The learning rate the run had reached (a drop of --lr-patience), when
 * the checkpoint has it (older ones ran at their option's). */
static int
restore_lr(const struct st_file *f, struct adam *a, char *err, size_t errlen)
{
	if (!json_object_get(f->metadata, "adam_lr"))
		return 0;
	if (meta_double(f, "adam_lr", &a->lr, err, errlen) < 0)
		return -1;
	if (!(a->lr > 0) || !isfinite(a->lr))
		return set_error(err, errlen, "checkpoint adam_lr %g is not "
				 "a positive number", a->lr);
	return 0;
}

int
checkpoint_restore(const struct checkpoint *ck, double lr, struct unet **net,
		   struct adam **adam, struct train_state *s, char *err,
		   size_t errlen)
{
	const struct st_file *f = &ck->f;
	struct unet *n = unet_new(&ck->cfg);
	struct adam *a = adam_new(n, lr);
	int bad = 0;

	for (int i = 0; !bad && i < unet_param_count(n); i++) {
		struct unet_param *p = unet_param_at(n, i);
		bad = import_tensor(f, "", p, p->value, err, errlen) < 0 ||
		      import_tensor(f, "adam.m.", p, a->m[i], err,
				    errlen) < 0 ||
		      import_tensor(f, "adam.v.", p, a->v[i], err,
				    errlen) < 0;
	}
	bad = bad ||
	      meta_count(f, "adam_step", LONG_MAX, &a->step, err,
			 errlen) < 0 ||
	      meta_count(f, "epoch", LONG_MAX, &s->epoch, err, errlen) < 0 ||
	      meta_count(f, "best_epoch", LONG_MAX, &s->best_epoch, err,
			 errlen) < 0 ||
	      meta_double(f, "best_val_loss", &s->best_loss, err,
			  errlen) < 0 ||
	      meta_double(f, "best_val_dice", &s->best_dice, err, errlen) < 0 ||
	      meta_double(f, "best_val_iou", &s->best_iou, err, errlen) < 0 ||
	      meta_double(f, "best_train_loss", &s->best_train_loss, err,
			  errlen) < 0 ||
	      meta_count(f, "wait", LONG_MAX, &s->wait, err, errlen) < 0 ||
	      read_rng(f, &s->rng, err, errlen) < 0 ||
	      restore_lr(f, a, err, errlen) < 0;
	if (bad) {
		adam_free(a);
		unet_free(n);
		*net = NULL;
		*adam = NULL;
		return -1;
	}
	*net = n;
	*adam = a;
	return 0;
}

const char *
checkpoint_get(const struct checkpoint *ck, const char *key)
{
	return json_string_value(json_object_get(ck->f.metadata, key));
}

void
checkpoint_close(struct checkpoint *ck)
{
	if (!ck)
		return;
	st_free(&ck->f);
	free(ck);
}
