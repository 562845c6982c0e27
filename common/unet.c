#include "unet.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dice.h"
#include "nn.h"
#include "optim.h"
#include "pool.h"
#include "rng.h"
#include "util.h"

#define MAX_PARAMS (10 * UNET_MAX_DEPTH)
#define MAX_WIDTH 4096

/* A convolution's two parameters. */
struct layer {
	struct unet_param *k, *b;
};

struct unet {
	struct unet_config cfg;
	int nparams;
	struct unet_param params[MAX_PARAMS];
	float *grads;      /* every params[i].grad, one block (unet_grads) */
	size_t grad_count; /* its floats, each grad 64-byte aligned */
	/* levels 1 .. depth: enc[l] = cl.conv1, cl.conv2; levels 1 ..
	 * depth-1: up[l] = u(2D-l), dec[l] = c(2D-l).conv1, conv2 */
	struct layer enc[UNET_MAX_DEPTH + 1][2];
	struct layer up[UNET_MAX_DEPTH + 1];
	struct layer dec[UNET_MAX_DEPTH + 1][2];
	struct layer out;
};

/* The maps of one level (l = 1 at full resolution), n images of h x w.
 * Encoder: pool (l > 1, the max-pooled skip of level l-1), a (conv1),
 * then the skip (conv2) which for l < depth is the second channel half of
 * cat = [up-sampled, skip], for l = depth its own map e. Decoder (l <
 * depth): cat, b (conv1), d (conv2). Each g* is the gradient of its map. */
struct level {
	int h, w, ch;
	float *pool, *a, *cat, *e, *b, *d;
	float *gpool, *ga, *gcat, *ge, *gb, *gd; /* above the deepest
						  * level in the maps: see
						  * unet_work_new */
};

/* The blocks of a work: input, logits, their gradient and five per level
 * at most. */
#define WORK_MAX_BLOCKS (3 + 5 * UNET_MAX_DEPTH)

struct unet_work {
	struct unet *net;
	int batch, height, width, training;
	size_t capacity; /* pixels (batch x height x width) of the maps */
	int threads;    /* of every pass */
	size_t bytes;   /* of the maps and gradients below */
	float *input, *logits, *glogits;
	struct level lv[UNET_MAX_DEPTH + 1];
	int nblocks;    /* every map above lies in one of these */
	struct {
		float *p;
		size_t count;
	} blocks[WORK_MAX_BLOCKS];
};

int
unet_config_check(const struct unet_config *cfg, char *err, size_t errlen)
{
	if (cfg->in_channels < 1 || cfg->in_channels > 4) {
		snprintf(err, errlen, "in_channels %d, expected 1 to 4",
			 cfg->in_channels);
		return -1;
	}
	if (cfg->depth < 2 || cfg->depth > UNET_MAX_DEPTH) {
		snprintf(err, errlen, "depth %d, expected 2 to %d", cfg->depth,
			 UNET_MAX_DEPTH);
		return -1;
	}
	if (cfg->base_filters < 1
	    || (long)cfg->base_filters << (cfg->depth - 1) > MAX_WIDTH) {
		snprintf(err, errlen, "base_filters %d with depth %d, expected "
			 "1 to %d", cfg->base_filters, cfg->depth,
			 MAX_WIDTH >> (cfg->depth - 1));
		return -1;
	}
	if (cfg->outputs < 1 || cfg->outputs > UNET_MAX_OUTPUTS) {
		snprintf(err, errlen, "outputs %d, expected 1 to %d",
			 cfg->outputs, UNET_MAX_OUTPUTS);
		return -1;
	}
	return 0;
}

static void
add_param(struct unet *net, const char *name, int ndim, int s0, int s1,
	  int s2, int s3)
{
	struct unet_param *p = &net->params[net->nparams++];
	int s[4] = { s0, s1, s2, s3 };

	if (strlen(name) >= sizeof p->name)
		die("unet: parameter name %s too long", name);
	memcpy(p->name, name, strlen(name) + 1);
	p->ndim = ndim;
	p->count = 1;
	for (int i = 0; i < ndim; i++) {
		p->shape[i] = s[i];
		p->count *= s[i];
	}
}

/* Add a module's weight [s0, s1, k, k] and bias [bias] as "prefix.weight"
 * and "prefix.bias". */
static void
add_module(struct unet *net, const char *prefix, int s0, int s1, int k,
	   int bias)
{
	char name[64];

	snprintf(name, sizeof name, "%s.weight", prefix);
	add_param(net, name, 4, s0, s1, k, k);
	snprintf(name, sizeof name, "%s.bias", prefix);
	add_param(net, name, 1, bias, 0, 0, 0);
}

static int
cmp_param(const void *a, const void *b)
{
	return strcmp(((const struct unet_param *)a)->name,
		      ((const struct unet_param *)b)->name);
}

static struct layer
find_layer(struct unet *net, const char *prefix)
{
	char wname[64], bname[64];
	struct layer l = { NULL, NULL };

	snprintf(wname, sizeof wname, "%s.weight", prefix);
	snprintf(bname, sizeof bname, "%s.bias", prefix);
	for (int i = 0; i < net->nparams; i++) {
		if (strcmp(net->params[i].name, wname) == 0)
			l.k = &net->params[i];
		if (strcmp(net->params[i].name, bname) == 0)
			l.b = &net->params[i];
	}
	return l;
}

static int
width(const struct unet_config *cfg, int level)
{
	return cfg->base_filters << (level - 1);
}

/* The bytes of a block of count floats, a whole number of cache lines. */
static size_t
float_bytes(size_t count)
{
	return (count * sizeof(float) + 63) / 64 * 64;
}

/* count zeroed floats, page-aligned, untouched until used (xmap_zeroed);
 * out of memory dies naming what. Free with free_floats. */
static float *
alloc_floats(size_t count, const char *what)
{
	if (count > SIZE_MAX / sizeof(float) / 2)
		die_out_of_memory(count, sizeof(float), what);
	return xmap_zeroed(float_bytes(count ? count : 1), what);
}

static void
free_floats(float *p, size_t count)
{
	xunmap(p, float_bytes(count ? count : 1));
}

/* alloc_floats for w's maps, counted in w->bytes and freed with w. */
static float *
work_floats(struct unet_work *w, size_t count, const char *what)
{
	float *p = alloc_floats(count, what);

	if (w->nblocks == WORK_MAX_BLOCKS)
		die("unet_work_new: more than %d blocks", WORK_MAX_BLOCKS);
	w->blocks[w->nblocks].p = p;
	w->blocks[w->nblocks++].count = count;
	w->bytes += count * sizeof(float);
	return p;
}

struct unet *
unet_new(const struct unet_config *cfg)
{
	struct unet *net = xcalloc(1, sizeof *net);
	int d = cfg->depth;
	char name[48];

	net->cfg = *cfg;
	for (int l = 1; l <= d; l++) {
		int cin = l == 1 ? cfg->in_channels : width(cfg, l - 1);

		snprintf(name, sizeof name, "c%d.conv1", l);
		add_module(net, name, width(cfg, l), cin, 3, width(cfg, l));
		snprintf(name, sizeof name, "c%d.conv2", l);
		add_module(net, name, width(cfg, l), width(cfg, l), 3,
			   width(cfg, l));
	}
	for (int l = d - 1; l >= 1; l--) {
		int w = width(cfg, l);

		snprintf(name, sizeof name, "u%d", 2 * d - l);
		add_module(net, name, width(cfg, l + 1), w, 3, w);
		snprintf(name, sizeof name, "c%d.conv1", 2 * d - l);
		add_module(net, name, w, 2 * w, 3, w);
		snprintf(name, sizeof name, "c%d.conv2", 2 * d - l);
		add_module(net, name, w, w, 3, w);
	}
	add_module(net, "out", cfg->outputs, width(cfg, 1), 1, cfg->outputs);
	qsort(net->params, net->nparams, sizeof net->params[0], cmp_param);
	for (int i = 0; i < net->nparams; i++)
		net->grad_count += (net->params[i].count + 15) / 16 * 16;
	net->grads = alloc_floats(net->grad_count, "the gradients");
	for (size_t i = 0, at = 0; i < (size_t)net->nparams; i++) {
		struct unet_param *p = &net->params[i];

		p->value = alloc_floats(p->count, "the parameters");
		p->grad = net->grads + at;
		at += (p->count + 15) / 16 * 16;
	}
	for (int l = 1; l <= d; l++) {
		snprintf(name, sizeof name, "c%d.conv1", l);
		net->enc[l][0] = find_layer(net, name);
		snprintf(name, sizeof name, "c%d.conv2", l);
		net->enc[l][1] = find_layer(net, name);
	}
	for (int l = 1; l < d; l++) {
		snprintf(name, sizeof name, "u%d", 2 * d - l);
		net->up[l] = find_layer(net, name);
		snprintf(name, sizeof name, "c%d.conv1", 2 * d - l);
		net->dec[l][0] = find_layer(net, name);
		snprintf(name, sizeof name, "c%d.conv2", 2 * d - l);
		net->dec[l][1] = find_layer(net, name);
	}
	net->out = find_layer(net, "out");
	return net;
}

void
unet_free(struct unet *net)
{
	if (!net)
		return;
	for (int i = 0; i < net->nparams; i++)
		free_floats(net->params[i].value, net->params[i].count);
	free_floats(net->grads, net->grad_count);
	free(net);
}

float *
unet_grads(struct unet *net, size_t *count)
{
	*count = net->grad_count;
	return net->grads;
}

const struct unet_config *
unet_get_config(const struct unet *net)
{
	return &net->cfg;
}

int
unet_param_count(const struct unet *net)
{
	return net->nparams;
}

struct unet_param *
unet_param_at(struct unet *net, int i)
{
	return &net->params[i];
}

/* Both kernel kinds are PyTorch [A][B][kh][kw] and ours [A][kh][kw][B]
 * (A, B = Cout, Cin for a convolution and Cin, Cout for a transposed
 * one); biases are the same. */
void
unet_param_export(const struct unet_param *p, float *torch)
{
	if (p->ndim != 4) {
		memcpy(torch, p->value, p->count * sizeof(float));
		return;
	}
	size_t na = p->shape[0], nb = p->shape[1];
	size_t ns = (size_t)p->shape[2] * p->shape[3];

	for (size_t a = 0; a < na; a++)
		for (size_t b = 0; b < nb; b++)
			for (size_t s = 0; s < ns; s++)
				torch[(a * nb + b) * ns + s] =
					p->value[(a * ns + s) * nb + b];
}

void
unet_param_import(struct unet_param *p, const float *torch)
{
	if (p->ndim != 4) {
		memcpy(p->value, torch, p->count * sizeof(float));
		return;
	}
	size_t na = p->shape[0], nb = p->shape[1];
	size_t ns = (size_t)p->shape[2] * p->shape[3];

	for (size_t a = 0; a < na; a++)
		for (size_t b = 0; b < nb; b++)
			for (size_t s = 0; s < ns; s++)
				p->value[(a * ns + s) * nb + b] =
					torch[(a * nb + b) * ns + s];
}

void
unet_init_glorot(struct unet *net, uint64_t seed)
{
	struct rng r;

	rng_seed(&r, seed);
	/* One stream drawn parameter after parameter in name order, each in
	 * PyTorch's element order, so the weights do not depend on our
	 * layout. */
	for (int i = 0; i < net->nparams; i++) {
		struct unet_param *p = &net->params[i];

		if (p->ndim != 4) {
			memset(p->value, 0, p->count * sizeof(float));
			continue;
		}
		float *t = xmalloc_for(p->count, sizeof(float),
				       "the initial parameters");
		int rf = p->shape[2] * p->shape[3];

		/* PyTorch: fan_in = shape[1] * rf, fan_out = shape[0] * rf,
		 * for both Conv2d and ConvTranspose2d weights */
		glorot_uniform(t, p->count, p->shape[1] * rf,
			       p->shape[0] * rf, &r);
		unet_param_import(p, t);
		free(t);
	}
}

int
unet_freeze(struct unet *net, const char *layer)
{
	size_t len = strlen(layer);
	int hits = 0;

	for (int i = 0; i < net->nparams; i++) {
		const char *name = net->params[i].name;
		int level, used = 0, match;

		if (strcmp(layer, "encoder") == 0)
			match = sscanf(name, "c%d.%n", &level, &used) == 1 &&
				used > 0 && level <= net->cfg.depth;
		else
			match = strncmp(name, layer, len) == 0 &&
				(name[len] == '.' || !name[len]);
		if (match) {
			net->params[i].frozen = 1;
			hits++;
		}
	}
	return hits;
}

struct unet *
unet_adapt_channels(const struct unet *old, int channels)
{
	struct unet_config cfg = old->cfg;
	int from = cfg.in_channels;
	struct unet *net;

	if (!((from == 1 && channels == 3) || (from == 3 && channels == 1)))
		return NULL;
	cfg.in_channels = channels;
	net = unet_new(&cfg);
	for (int i = 0; i < net->nparams; i++) {
		const struct unet_param *po = &old->params[i];
		struct unet_param *pn = &net->params[i];
		float *a = xmalloc(po->count * sizeof *a);
		float *b = xmalloc(pn->count * sizeof *b);

		unet_param_export(po, a);
		if (pn != net->enc[1][0].k) {
			memcpy(b, a, pn->count * sizeof *b);
		} else {
			/* [Cout, Cin, 3, 3] */
			int cout = pn->shape[0];
			size_t k = (size_t)pn->shape[2] * pn->shape[3];
			for (int o = 0; o < cout; o++)
				for (size_t j = 0; j < k; j++) {
					if (from == 1) {
						float v = a[o * k + j] / 3;
						for (int c = 0; c < 3; c++)
							b[(o * 3 + c) * k + j] = v;
					} else {
						b[o * k + j] =
							a[(o * 3 + 0) * k + j] +
							a[(o * 3 + 1) * k + j] +
							a[(o * 3 + 2) * k + j];
					}
				}
		}
		unet_param_import(pn, b);
		free(a);
		free(b);
	}
	return net;
}

int
unet_multiple(const struct unet *net)
{
	return 1 << (net->cfg.depth - 1);
}

int
unet_receptive_radius(const struct unet *net)
{
	return 8 * unet_multiple(net) - 6;
}

int
unet_tile_margin(const struct unet *net)
{
	return 8 * unet_multiple(net);
}

double
unet_work_bytes(const struct unet *net, int height, int width_)
{
	const struct unet_config *c = &net->cfg;
	double pix = (double)height * width_;
	double floats = pix * (c->in_channels + c->outputs + 2.0 * c->base_filters);

	for (int l = 1; l < c->depth; l++)
		floats += 2 * pix * c->base_filters / (1 << (l - 1));
	return 4 * floats;
}

size_t
unet_work_size(const struct unet_work *w)
{
	return w->bytes;
}

/* Die naming fn unless batch >= 1 and height, width_ are multiples of
 * net's unet_multiple (at least one). */
static void
check_shape(const struct unet *net, int batch, int height, int width_,
	    const char *fn)
{
	int m = unet_multiple(net);

	if (batch < 1 || height < m || width_ < m || height % m || width_ % m)
		die("%s: batch %d of %dx%d for a network of multiple %d", fn,
		    batch, width_, height, m);
}

struct unet_work *
unet_work_new(struct unet *net, int batch, int height, int width_,
	      int training, int threads)
{
	struct unet_work *w = xcalloc(1, sizeof *w);
	const struct unet_config *cfg = &net->cfg;
	int d = cfg->depth;
	char in[96], out[96], map[96], grad[96];
	float *scratch[2] = { NULL, NULL };

	check_shape(net, batch, height, width_, "unet_work_new");
	if (threads < 1 || threads > POOL_MAX_THREADS)
		die("unet_work_new: %d threads, expected 1 to %d", threads,
		    POOL_MAX_THREADS);
	w->net = net;
	w->batch = batch;
	w->height = height;
	w->width = width_;
	w->capacity = (size_t)batch * height * width_;
	w->training = training;
	w->threads = threads;
	snprintf(in, sizeof in, "the input of %d image(s) of %dx%d", batch,
		 width_, height);
	snprintf(out, sizeof out, "the output of %d image(s) of %dx%d", batch,
		 width_, height);
	w->input = work_floats(w, (size_t)batch * height * width_
				* cfg->in_channels, in);
	w->logits = work_floats(w, (size_t)batch * height * width_
				 * cfg->outputs, out);
	if (training)
		w->glogits = work_floats(w, (size_t)batch * height * width_
					  * cfg->outputs, out);
	/* Inference keeps only the skips (in cat) from one level to the
	 * next: every other map lives in one of two level-1-sized scratch
	 * maps, each pass reading one and writing the other. */
	if (!training) {
		size_t level1 = (size_t)batch * height * width_ *
				cfg->base_filters;

		snprintf(map, sizeof map, "the feature maps of %d image(s) "
			 "of %dx%d", batch, width_, height);
		scratch[0] = work_floats(w, level1, map);
		scratch[1] = work_floats(w, level1, map);
	}
	for (int l = 1; l <= d; l++) {
		struct level *lv = &w->lv[l];
		size_t pix;

		lv->h = height >> (l - 1);
		lv->w = width_ >> (l - 1);
		lv->ch = width(cfg, l);
		pix = (size_t)batch * lv->h * lv->w;
		snprintf(map, sizeof map, "the level-%d feature maps of %d "
			 "image(s) of %dx%d", l, batch, width_, height);
		snprintf(grad, sizeof grad, "the level-%d gradients of %d "
			 "image(s) of %dx%d", l, batch, width_, height);
		if (!training) {
			lv->pool = l > 1 ? scratch[0] : NULL;
			lv->a = scratch[1];
			if (l < d) {
				lv->cat = work_floats(w, pix * 2 * lv->ch, map);
				lv->b = scratch[1];
				lv->d = scratch[0];
			} else {
				lv->e = scratch[0];
			}
			continue;
		}
		if (l > 1)
			lv->pool = work_floats(w, pix * width(cfg, l - 1), map);
		lv->a = work_floats(w, pix * lv->ch, map);
		if (l == d) {
			lv->e = work_floats(w, pix * lv->ch, map);
			lv->ge = work_floats(w, pix * lv->ch, grad);
			lv->ga = work_floats(w, pix * lv->ch, grad);
		} else {
			/* A gradient lives in maps that are dead by the time
			 * it is written (unet_backward's order): gb in d (read
			 * last as the input of the backward that gave gd);
			 * gcat (two halves) in b and gd, one block (both read
			 * last by the backward that gave gb); ga in d again
			 * (gb is read by the decoder, before the encoder). */
			lv->cat = work_floats(w, pix * 2 * lv->ch, map);
			lv->b = work_floats(w, pix * 2 * lv->ch, map);
			lv->d = work_floats(w, pix * lv->ch, map);
			lv->gd = lv->b + pix * lv->ch;
			lv->gb = lv->d;
			lv->gcat = lv->b;
			lv->ga = lv->d;
		}
		/* gpool, read by the max-pool's backward into the skip
		 * gradient of the level above before that level writes its
		 * ga, in that level's gb (a quarter of its pixels, half its
		 * channels) */
		if (l > 1)
			lv->gpool = w->lv[l - 1].gb;
	}
	nn_reserve(width(cfg, d) > cfg->in_channels ? width(cfg, d)
						     : cfg->in_channels,
		   threads);
	return w;
}

int
unet_work_reshape(struct unet_work *w, int batch, int height, int width_)
{
	check_shape(w->net, batch, height, width_, "unet_work_reshape");
	if ((size_t)batch * height * width_ > w->capacity)
		return -1;
	w->batch = batch;
	w->height = height;
	w->width = width_;
	for (int l = 1; l <= w->net->cfg.depth; l++) {
		w->lv[l].h = height >> (l - 1);
		w->lv[l].w = width_ >> (l - 1);
	}
	return 0;
}

void
unet_work_free(struct unet_work *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->nblocks; i++)
		free_floats(w->blocks[i].p, w->blocks[i].count);
	free(w);
}

float *
unet_work_input(struct unet_work *w)
{
	return w->input;
}

/* The skip map of level l (the encoder's output) and its pixel stride. */
static float *
skip_of(struct level *lv, int is_deepest, int *ld)
{
	*ld = is_deepest ? lv->ch : 2 * lv->ch;
	return is_deepest ? lv->e : lv->cat + lv->ch;
}

static float *
skip_grad_of(struct level *lv, int is_deepest)
{
	return is_deepest ? lv->ge : lv->gcat + lv->ch;
}

/* A caller's mistake, not bad data: say so and stop. */
static void
check_n(const struct unet_work *w, int n, const char *fn)
{
	if (n < 1 || n > w->batch)
		die("%s: %d images for a work of %d", fn, n, w->batch);
}

const float *
unet_forward(struct unet_work *w, int n)
{
	struct unet *net = w->net;
	int d = net->cfg.depth;
	const float *x = w->input;
	int cin = net->cfg.in_channels, ldx = cin;

	check_n(w, n, "unet_forward");
	for (int l = 1; l <= d; l++) {
		struct level *lv = &w->lv[l];
		int lds;
		float *s = skip_of(lv, l == d, &lds);

		if (l > 1) {
			nn_maxpool_forward(w->threads, x, ldx, n, lv->h * 2,
					   lv->w * 2, cin, lv->pool, cin);
			x = lv->pool;
			ldx = cin;
		}
		nn_conv3x3_forward(w->threads, x, ldx, n, lv->h, lv->w, cin,
				   net->enc[l][0].k->value,
				   net->enc[l][0].b->value, lv->ch, lv->a,
				   lv->ch, 1);
		nn_conv3x3_forward(w->threads, lv->a, lv->ch, n, lv->h, lv->w,
				   lv->ch, net->enc[l][1].k->value,
				   net->enc[l][1].b->value, lv->ch, s, lds, 1);
		x = s;
		ldx = lds;
		cin = lv->ch;
	}
	for (int l = d - 1; l >= 1; l--) {
		struct level *lv = &w->lv[l], *below = &w->lv[l + 1];
		int ch = lv->ch;

		nn_upconv_forward(w->threads, x, ldx, n, below->h, below->w,
				  below->ch, net->up[l].k->value,
				  net->up[l].b->value, ch, lv->cat, 2 * ch);
		nn_conv3x3_forward(w->threads, lv->cat, 2 * ch, n, lv->h, lv->w,
				   2 * ch, net->dec[l][0].k->value,
				   net->dec[l][0].b->value, ch, lv->b, ch, 1);
		nn_conv3x3_forward(w->threads, lv->b, ch, n, lv->h, lv->w, ch,
				   net->dec[l][1].k->value,
				   net->dec[l][1].b->value, ch, lv->d, ch, 1);
		x = lv->d;
		ldx = ch;
	}
	nn_conv1x1_forward(w->threads, x, ldx, (size_t)n * w->height * w->width,
			   w->lv[1].ch, net->out.k->value, net->out.b->value,
			   net->cfg.outputs, w->logits, net->cfg.outputs);
	return w->logits;
}

double
unet_loss(const struct unet_work *w, int n, const float *target,
	  const float *weight, float pos_weight, int dice)
{
	size_t npix = (size_t)w->height * w->width;
	int k = w->net->cfg.outputs;
	double loss;

	check_n(w, n, "unet_loss");
	loss = nn_bce_logits(w->threads, w->logits, target, weight,
			     n * npix * k, pos_weight, NULL);
	if (dice)
		loss += dice_loss_logits(w->threads, w->logits, target, weight,
					 k, n, npix, NULL);
	return loss;
}

double
unet_backward(struct unet_work *w, int n, const float *target,
	      const float *weight, float pos_weight, int dice)
{
	struct unet *net = w->net;
	int d = net->cfg.depth, k = net->cfg.outputs;
	size_t npix = (size_t)n * w->height * w->width;
	double loss;

	check_n(w, n, "unet_backward");
	if (!w->training)
		die("unet_backward: work without gradients");
	for (int i = 0; i < net->nparams; i++)
		memset(net->params[i].grad, 0,
		       net->params[i].count * sizeof(float));
	loss = nn_bce_logits(w->threads, w->logits, target, weight, npix * k,
			     pos_weight, w->glogits);
	if (dice)
		loss += dice_loss_logits(w->threads, w->logits, target, weight,
					 k, n, (size_t)w->height * w->width,
					 w->glogits);
	/* Each map's gradient is masked by its ReLU where it is produced
	 * (mask = 1): from then on it is the gradient of the
	 * pre-activation. */
	nn_conv1x1_backward(w->threads, w->lv[1].d, w->lv[1].ch, npix,
			    w->lv[1].ch, net->out.k->value, k, w->glogits, k,
			    w->lv[1].gd, w->lv[1].ch, 1, net->out.k->grad,
			    net->out.b->grad);
	for (int l = 1; l < d; l++) {
		struct level *lv = &w->lv[l], *below = &w->lv[l + 1];
		int ch = lv->ch, ldb;
		const float *bx = l + 1 == d ? below->e : below->d;
		float *gbx = l + 1 == d ? below->ge : below->gd;

		ldb = below->ch;
		nn_conv3x3_backward(w->threads, lv->b, ch, n, lv->h, lv->w, ch,
				    net->dec[l][1].k->value, ch, lv->gd, ch,
				    lv->gb, ch, 1, net->dec[l][1].k->grad,
				    net->dec[l][1].b->grad);
		/* the skip half of gcat is masked after the max-pool's
		 * share is added, in the encoder loop */
		nn_conv3x3_backward(w->threads, lv->cat, 2 * ch, n, lv->h,
				    lv->w, 2 * ch, net->dec[l][0].k->value, ch,
				    lv->gb, ch, lv->gcat, 2 * ch, 0,
				    net->dec[l][0].k->grad,
				    net->dec[l][0].b->grad);
		nn_upconv_backward(w->threads, bx, ldb, n, below->h, below->w,
				   below->ch, net->up[l].k->value, ch, lv->gcat,
				   2 * ch, gbx, ldb, 1, net->up[l].k->grad,
				   net->up[l].b->grad);
	}
	for (int l = d; l >= 1; l--) {
		struct level *lv = &w->lv[l];
		int ch = lv->ch, lds = l == d ? ch : 2 * ch;
		float *gs = skip_grad_of(lv, l == d);
		int cin = l == 1 ? net->cfg.in_channels : w->lv[l - 1].ch;
		const float *x = l == 1 ? w->input : lv->pool;

		/* gs is masked: by the upconv's backward for the deepest
		 * level, by the max-pool's otherwise */
		nn_conv3x3_backward(w->threads, lv->a, ch, n, lv->h, lv->w, ch,
				    net->enc[l][1].k->value, ch, gs, lds,
				    lv->ga, ch, 1, net->enc[l][1].k->grad,
				    net->enc[l][1].b->grad);
		nn_conv3x3_backward(w->threads, x, cin, n, lv->h, lv->w, cin,
				    net->enc[l][0].k->value, ch, lv->ga, ch,
				    l == 1 ? NULL : lv->gpool, cin, 0,
				    net->enc[l][0].k->grad,
				    net->enc[l][0].b->grad);
		if (l > 1) {
			struct level *up = &w->lv[l - 1];
			int ldu;
			const float *us = skip_of(up, 0, &ldu);

			nn_maxpool_backward(w->threads, us, ldu, n, up->h,
					    up->w, up->ch, lv->gpool, cin,
					    skip_grad_of(up, 0), ldu, 1);
		}
	}
	return loss;
}
