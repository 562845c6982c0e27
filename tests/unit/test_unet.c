/* Unit tests of common/unet: configuration and parameter contract, the
 * whole network's gradient against finite differences, determinism, the
 * size contract, the surgery (freezing, channel adaptation), the
 * receptive radius and the working memory. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "tap.h"
#include "unet.h"
#include "util.h"

static void
test_config(void)
{
	char err[128];
	struct unet_config ok = { 3, 16, 5, 1 }, bad[] = {
		{ 0, 16, 5, 1 }, { 5, 16, 5, 1 }, { 3, 0, 5, 1 },
		{ 3, 16, 1, 1 }, { 3, 16, UNET_MAX_DEPTH + 1, 1 },
		{ 3, 1 << 20, 5, 1 }, { 3, 16, 5, 0 },
		{ 3, 16, 5, UNET_MAX_OUTPUTS + 1 },
	};
	int all_bad = 1;

	tap_ok(unet_config_check(&ok, err, sizeof err) == 0,
	       "config 3 channels, F 16, depth 5 accepted");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (unet_config_check(&bad[i], err, sizeof err) != -1
		    || !err[0])
			all_bad = 0;
	tap_ok(all_bad, "bad configs rejected with a reason (last: %s)", err);
}

static void
test_params(void)
{
	struct unet_config cfg = { 3, 16, 5, 1 };
	struct unet *net = unet_new(&cfg);
	int n = unet_param_count(net), sorted = 1, found = 0, zero = 1;
	size_t total = 0;

	tap_ok(n == 46, "depth 5: 46 parameter tensors (%d)", n);
	for (int i = 0; i < n; i++) {
		struct unet_param *p = unet_param_at(net, i);

		if (i > 0 && strcmp(unet_param_at(net, i - 1)->name,
				    p->name) >= 0)
			sorted = 0;
		total += p->count;
		for (size_t j = 0; j < p->count; j++)
			if (p->value[j] != 0)
				zero = 0;
		if (strcmp(p->name, "c1.conv1.weight") == 0
		    && p->ndim == 4 && p->shape[0] == 16 && p->shape[1] == 3
		    && p->shape[2] == 3 && p->shape[3] == 3)
			found++;
		if (strcmp(p->name, "c5.conv2.weight") == 0
		    && p->shape[0] == 256 && p->shape[1] == 256)
			found++;
		if (strcmp(p->name, "u6.weight") == 0 && p->shape[0] == 256
		    && p->shape[1] == 128)
			found++;
		if (strcmp(p->name, "u6.bias") == 0 && p->ndim == 1
		    && p->shape[0] == 128)
			found++;
		if (strcmp(p->name, "c9.conv1.weight") == 0
		    && p->shape[0] == 16 && p->shape[1] == 32)
			found++;
		if (strcmp(p->name, "out.weight") == 0 && p->shape[0] == 1
		    && p->shape[1] == 16 && p->shape[2] == 1)
			found++;
	}
	tap_ok(sorted, "parameters in strcmp order of their names");
	tap_ok(found == 6, "names and PyTorch shapes of c1.conv1.weight, "
	       "c5.conv2.weight, u6.weight, u6.bias, c9.conv1.weight, "
	       "out.weight");
	/* the Keras course model's 1,941,105 parameters, with 3x3 instead of
	 * 2x2 transposed kernels: 5 (256 128 + 128 64 + 64 32 + 32 16) more */
	tap_ok(total == 2158705, "depth 5, F 16: %zu parameters", total);
	tap_ok(zero, "a new network is all zeros");
	tap_ok(unet_multiple(net) == 16, "depth 5: sizes multiple of 16");
	unet_free(net);
}

/* The loss of the network on (w, target, weight) after a forward pass. */
static double
loss_of(struct unet_work *w, int n, const float *target, const float *weight,
	float pw, int dice)
{
	unet_forward(w, n);
	return unet_loss(w, n, target, weight, pw, dice);
}

/* Gradients of a network of k outputs against finite differences, with
 * targets 0 or 1 or soft ones in [0, 1], and a weight map (in [0, 3),
 * a tenth of them 0) or none, with the Dice term or not; the loss against
 * its closed form. */
static void
check_gradient(int k, int soft, int weighted, int dice)
{
	struct unet_config cfg = { 2, 2, 3, k };
	struct unet *net = unet_new(&cfg);
	int n = 2, h = 8, wd = 8;
	size_t npix = (size_t)n * h * wd, nel = npix * k;
	struct unet_work *w = unet_work_new(net, n, h, wd, 1, 1);
	float *target = xmalloc(nel * sizeof(float));
	float *weight = weighted ? xmalloc(nel * sizeof(float)) : NULL;
	float *in = unet_work_input(w);
	char what[64];
	struct rng r;
	double loss, worst_all = 0;
	int all_ok = 1, checked = 0;

	snprintf(what, sizeof what, "%d output(s), %s targets, %s%s", k,
		 soft ? "soft" : "0/1", weighted ? "a weight map" : "no weight",
		 dice ? ", Dice" : "");
	rng_seed(&r, 5 + k);
	unet_init_glorot(net, 3);
	/* non-zero biases, so that every bias gradient path is exercised */
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);

		if (p->ndim == 1)
			for (size_t j = 0; j < p->count; j++)
				p->value[j] = (float)(0.2 * rng_uniform(&r)
						      - 0.05);
	}
	for (size_t i = 0; i < npix * cfg.in_channels; i++)
		in[i] = (float)rng_uniform(&r);
	for (size_t i = 0; i < nel; i++) {
		target[i] = soft ? (float)rng_uniform(&r)
				 : rng_uniform(&r) < 0.4;
		if (weight)
			weight[i] = rng_below(&r, 10) == 0
				    ? 0 : (float)(3 * rng_uniform(&r));
	}
	unet_forward(w, n);
	loss = unet_backward(w, n, target, weight, 2.0f, dice);
	tap_ok(loss == unet_loss(w, n, target, weight, 2.0f, dice),
	       "%s: unet_backward returns unet_loss (%.9g)", what, loss);

	/* a few elements of every tensor: first, last and random ones; the
	 * steps are small enough not to cross the ReLU and max-pool kinks
	 * often (errors grow to 0.3 at 1e-2) and large enough for float32;
	 * a bias moves every pixel of its channel, and one step may cross
	 * a kink the other does not: the better of two steps counts */
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);
		double worst = 0;

		for (int s = 0; s < 5; s++) {
			size_t j = s == 0 ? 0 : s == 1 ? p->count - 1
				   : rng_below(&r, p->count);
			float keep = p->value[j];
			double err = INFINITY;

			for (double hh = 3e-4; hh > 5e-5; hh /= 3) {
				double lp, lm, num, e;

				p->value[j] = keep + (float)hh;
				lp = loss_of(w, n, target, weight, 2.0f, dice);
				p->value[j] = keep - (float)hh;
				lm = loss_of(w, n, target, weight, 2.0f, dice);
				p->value[j] = keep;
				num = (lp - lm) / (2 * hh);
				e = fabs(num - p->grad[j])
				    / (fabs(num) + fabs(p->grad[j]) + 1e-3);
				err = e < err ? e : err;
			}
			worst = err > worst ? err : worst;
			checked++;
		}
		if (worst > 2e-2) {
			all_ok = 0;
			tap_diag("%s: relative error %.3g", p->name, worst);
		}
		worst_all = worst > worst_all ? worst : worst_all;
	}
	tap_diag("worst relative gradient error over %d elements: %.3g",
		 checked, worst_all);
	tap_ok(all_ok, "%s: gradient of every parameter tensor matches "
	       "finite differences", what);

	/* the loss is the mean over every element of the weighted BCE of
	 * the logits: -w (pw y log s + (1 - y) log(1 - s)), plus with dice
	 * the mean over the images of 1 - (2 sum s y + 1) / (sum s + sum y
	 * + 1) of channel 0, over its elements of weight not 0 */
	const float *lg = unet_forward(w, n);
	double want = 0, dsum = 0;

	for (size_t i = 0; i < nel; i++) {
		double s = 1 / (1 + exp(-(double)lg[i])), y = target[i];

		want += (weight ? weight[i] : 1)
			* -(2 * y * log(s) + (1 - y) * log(1 - s));
	}
	want /= nel;
	for (int i = 0; dice && i < n; i++) {
		double sp = 0, sy = 0, spy = 0;

		for (size_t j = 0; j < (size_t)h * wd; j++) {
			size_t e = ((size_t)i * h * wd + j) * k;
			double s = 1 / (1 + exp(-(double)lg[e]));

			if (weight && weight[e] == 0)
				continue;
			sp += s;
			sy += target[e];
			spy += s * target[e];
		}
		dsum += 1 - (2 * spy + 1) / (sp + sy + 1);
	}
	want += dsum / n;
	tap_ok(fabs(want - unet_loss(w, n, target, weight, 2.0f, dice)) < 1e-9,
	       "%s: loss = mean weighted BCE of the n*h*w*K logits%s", what,
	       dice ? " + mean Dice loss of channel 0" : "");
	free(target);
	free(weight);
	unet_work_free(w);
	unet_free(net);
}

/* Each output of a network of k outputs is a network of one output with
 * the same body and that row of the out layer: channel c of the NHWC
 * logits. */
static void
test_outputs(void)
{
	struct unet_config c3 = { 3, 4, 3, 3 }, c1 = { 3, 4, 3, 1 };
	struct unet *n3 = unet_new(&c3), *n1 = unet_new(&c1);
	int h = 8, wd = 16;
	size_t npix = (size_t)2 * h * wd;
	struct unet_work *w3, *w1;
	struct unet_param *o3 = NULL, *o1 = NULL, *b3 = NULL, *b1 = NULL;
	struct rng r;
	int same = 1;

	unet_init_glorot(n3, 11);
	for (int i = 0; i < unet_param_count(n3); i++) {
		struct unet_param *p = unet_param_at(n3, i);
		struct unet_param *q = unet_param_at(n1, i);

		if (strcmp(p->name, "out.weight") == 0) {
			o3 = p;
			o1 = q;
		} else if (strcmp(p->name, "out.bias") == 0) {
			b3 = p;
			b1 = q;
		} else {
			memcpy(q->value, p->value, p->count * sizeof(float));
		}
	}
	tap_ok(o3 && o3->ndim == 4 && o3->shape[0] == 3 && o3->shape[1] == 4
	       && o3->shape[2] == 1 && o3->shape[3] == 1 && b3->ndim == 1
	       && b3->shape[0] == 3 && o1->shape[0] == 1,
	       "out.weight [3, 4, 1, 1] and out.bias [3] for 3 outputs");
	for (int c = 0; c < 3; c++)
		b3->value[c] = 0.1f * (float)(c + 1);
	w3 = unet_work_new(n3, 2, h, wd, 0, 2);
	w1 = unet_work_new(n1, 2, h, wd, 0, 2);
	rng_seed(&r, 4);
	for (size_t i = 0; i < npix * 3; i++)
		unet_work_input(w3)[i] = unet_work_input(w1)[i] =
			(float)rng_uniform(&r);
	const float *l3 = unet_forward(w3, 2);
	for (int c = 0; c < 3; c++) {
		float all[12];

		/* row c of the out layer, in PyTorch's layout */
		unet_param_export(o3, all);
		unet_param_import(o1, all + 4 * c);
		b1->value[0] = b3->value[c];
		const float *l1 = unet_forward(w1, 2);
		for (size_t i = 0; i < npix; i++)
			if (fabsf(l1[i] - l3[i * 3 + c]) > 1e-6f * (1 + fabsf(l1[i])))
				same = 0;
	}
	tap_ok(same, "each of 3 outputs equals a one-output network with that "
	       "row of the out layer (NHWC logits)");
	unet_work_free(w3);
	unet_work_free(w1);
	unet_free(n3);
	unet_free(n1);
}

static void
test_gradient(void)
{
	check_gradient(1, 0, 0, 0);
	check_gradient(1, 1, 1, 0);
	check_gradient(2, 1, 0, 0);
	check_gradient(2, 1, 1, 0);
	check_gradient(3, 0, 1, 0);
	check_gradient(3, 1, 1, 0);
	/* (2, 0, 1) crosses a kink at c4.conv2.bias, with or without Dice */
	check_gradient(1, 0, 0, 1);
	check_gradient(2, 1, 1, 1);
	check_gradient(3, 1, 1, 1);
}

static void
test_determinism(void)
{
	struct unet_config cfg = { 3, 4, 3, 1 };
	struct unet *net = unet_new(&cfg);
	int n = 3, h = 8, wd = 12;
	size_t npix = (size_t)n * h * wd;
	struct unet_work *w = unet_work_new(net, n, h, wd, 1, 1), *w2;
	float *a = xmalloc(npix * sizeof(float));
	float *target = xmalloc(npix * sizeof(float));
	float *g1 = NULL;
	struct rng r;
	int same = 1, gsame = 1;
	double d12 = 0;
	size_t gcount;

	rng_seed(&r, 9);
	unet_init_glorot(net, 1);
	for (size_t i = 0; i < npix * 3; i++)
		unet_work_input(w)[i] = (float)rng_uniform(&r);
	for (size_t i = 0; i < npix; i++)
		target[i] = rng_uniform(&r) < 0.5;
	memcpy(a, unet_forward(w, n), npix * sizeof(float));
	tap_ok(memcmp(a, unet_forward(w, n), npix * sizeof(float)) == 0,
	       "forward twice: the same bits");

	/* a smaller n computes only the first images (not always to the
	 * same bits: the GEMM tiles differ) */
	const float *o1 = unet_forward(w, 1);
	double d1 = 0;

	for (size_t i = 0; i < (size_t)h * wd; i++)
		d1 = fabs(o1[i] - a[i]) > d1 ? fabs(o1[i] - a[i]) : d1;
	tap_ok(d1 < 1e-5, "forward of the first image alone agrees "
	       "(max diff %.2g)", d1);

	struct unet_param *p = unet_param_at(net, 1);

	gcount = p->count;
	g1 = xmalloc(gcount * sizeof(float));
	unet_forward(w, n);
	unet_backward(w, n, target, NULL, 1, 0);
	memcpy(g1, p->grad, gcount * sizeof(float));
	/* the same input on a work of 2 threads */
	w2 = unet_work_new(net, n, h, wd, 1, 2);
	memcpy(unet_work_input(w2), unet_work_input(w),
	       npix * 3 * sizeof(float));
	for (int rep = 0; rep < 2; rep++) {
		const float *o = unet_forward(w2, n);

		for (size_t i = 0; i < npix; i++) {
			double d = fabs(o[i] - a[i]);

			d12 = d > d12 ? d : d12;
		}
		if (rep == 1 && memcmp(a, o, npix * sizeof(float)))
			same = 0;
		memcpy(a, o, npix * sizeof(float));
		unet_backward(w2, n, target, NULL, 1, 0);
		if (rep == 1 && memcmp(g1, p->grad, gcount * sizeof(float)))
			gsame = 0;
		memcpy(g1, p->grad, gcount * sizeof(float));
	}
	tap_ok(d12 < 1e-5, "2 threads agree with 1 (max logit diff %.2g)",
	       d12);
	tap_ok(same && gsame, "2 threads: forward and backward "
	       "deterministic");
	free(a);
	free(g1);
	free(target);
	unet_work_free(w);
	unet_work_free(w2);
	unet_free(net);
}

static void
test_sizes(void)
{
	struct unet_config cfg = { 1, 2, 4, 1 };
	struct unet *net = unet_new(&cfg);
	struct unet_work *w, *wn;

	tap_ok(unet_multiple(net) == 8, "depth 4: multiple of 8");
	/* the smallest and a non-square size both run */
	w = unet_work_new(net, 1, 8, 8, 0, 1);
	unet_forward(w, 1);
	unet_work_free(w);
	w = unet_work_new(net, 2, 16, 40, 0, 1);
	unet_work_input(w)[0] = 1;
	unet_forward(w, 2);
	unet_work_free(w);
	tap_ok(1, "inference work at 8x8 and 40x16 (width x height)");

	/* the deepest level 1x1: fewer rows than threads */
	float target[64] = { 0 }, y1[64];
	double l1, ln;

	unet_init_glorot(net, 4);
	w = unet_work_new(net, 1, 8, 8, 1, 1);
	for (int i = 0; i < 64; i++)
		unet_work_input(w)[i] = (float)(i % 7) / 7;
	memcpy(y1, unet_forward(w, 1), sizeof y1);
	l1 = unet_backward(w, 1, target, NULL, 1, 0);
	for (int nt = 3; nt <= 48; nt *= 4) {
		const float *y;
		double d = 0;

		wn = unet_work_new(net, 1, 8, 8, 1, nt);
		memcpy(unet_work_input(wn), unet_work_input(w),
		       64 * sizeof(float));
		y = unet_forward(wn, 1);
		for (int i = 0; i < 64; i++)
			d = fmax(d, fabs(y[i] - y1[i]));
		ln = unet_backward(wn, 1, target, NULL, 1, 0);
		tap_ok(fabs(l1 - ln) < 1e-6 && d < 1e-5, "8x8 at depth 4 on "
		       "%d threads: loss %.9g, on 1: %.9g (max logit diff "
		       "%.2g)", nt, ln, l1, d);
		unet_work_free(wn);
	}
	unet_work_free(w);
	unet_free(net);
}

/* The names of net's frozen parameters, comma-separated, into buf. */
static const char *
frozen_names(struct unet *net, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < unet_param_count(net); i++) {
		const struct unet_param *p = unet_param_at(net, i);
		if (p->frozen && used < len)
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", p->name);
	}
	return buf;
}

/* Freeze layer on a fresh network of depth d: the number it reports and
 * the parameters it froze. */
static void
check_freeze(int d, const char *layer, int want, const char *names)
{
	struct unet_config cfg = { 1, 2, d, 1 };
	struct unet *net = unet_new(&cfg);
	char buf[2048];
	int hits = unet_freeze(net, layer);

	frozen_names(net, buf, sizeof buf);
	tap_ok(hits == want && strcmp(buf, names) == 0,
	       "depth %d, freeze '%s': %d parameter(s) %s", d, layer, hits,
	       buf);
	unet_free(net);
}

static void
test_freeze(void)
{
	check_freeze(3, "encoder", 12, "c1.conv1.bias,c1.conv1.weight,"
		     "c1.conv2.bias,c1.conv2.weight,c2.conv1.bias,"
		     "c2.conv1.weight,c2.conv2.bias,c2.conv2.weight,"
		     "c3.conv1.bias,c3.conv1.weight,c3.conv2.bias,"
		     "c3.conv2.weight");
	check_freeze(3, "c1", 4, "c1.conv1.bias,c1.conv1.weight,"
		     "c1.conv2.bias,c1.conv2.weight");
	check_freeze(6, "c1", 4, "c1.conv1.bias,c1.conv1.weight,"
		     "c1.conv2.bias,c1.conv2.weight");
	check_freeze(3, "c4.conv2", 2, "c4.conv2.bias,c4.conv2.weight");
	check_freeze(3, "c5.conv1.weight", 1, "c5.conv1.weight");
	check_freeze(3, "u4", 2, "u4.bias,u4.weight");
	check_freeze(3, "out", 2, "out.bias,out.weight");
	check_freeze(3, "c", 0, "");
	check_freeze(3, "c1.conv", 0, "");
	check_freeze(3, "c6", 0, "");
	check_freeze(3, "u3", 0, "");
	check_freeze(2, "encoder", 8, "c1.conv1.bias,c1.conv1.weight,"
		     "c1.conv2.bias,c1.conv2.weight,c2.conv1.bias,"
		     "c2.conv1.weight,c2.conv2.bias,c2.conv2.weight");
}

/* The logits of net for one grey image of 8x8 pixels given as
 * `channels` equal channels: pixel i is grey[i] in each. */
static float *
logits_of(struct unet *net, const float *grey, int channels)
{
	struct unet_work *w = unet_work_new(net, 1, 8, 8, 0, 1);
	float *out = xmalloc(64 * sizeof *out);

	for (int i = 0; i < 64; i++)
		for (int c = 0; c < channels; c++)
			unet_work_input(w)[i * channels + c] = grey[i];
	memcpy(out, unet_forward(w, 1), 64 * sizeof *out);
	unet_work_free(w);
	return out;
}

/* Adapt a network of `from` channels to `to`: the first kernel mapped,
 * every other parameter the same, and a grey image gives the same
 * logits. */
static void
check_adapt(int from, int to)
{
	struct unet_config cfg = { from, 4, 3, 1 };
	struct unet *old = unet_new(&cfg), *net;
	float grey[64], *a, *b;
	int kernel = 1, others = 1;
	double diff = 0;
	struct rng r;

	unet_init_glorot(old, 5);
	net = unet_adapt_channels(old, to);
	if (!tap_ok(net != NULL, "%d to %d channel(s) adapts", from, to)) {
		unet_free(old);
		return;
	}
	tap_ok(unet_get_config(net)->in_channels == to &&
	       unet_get_config(net)->base_filters == 4 &&
	       unet_get_config(net)->depth == 3, "%d to %d: the config", from,
	       to);
	for (int i = 0; i < unet_param_count(net); i++) {
		const struct unet_param *po = unet_param_at(old, i);
		const struct unet_param *pn = unet_param_at(net, i);
		float *x = xmalloc(po->count * sizeof *x);
		float *y = xmalloc(pn->count * sizeof *y);

		unet_param_export(po, x);
		unet_param_export(pn, y);
		if (strcmp(pn->name, "c1.conv1.weight") != 0) {
			others = others && po->count == pn->count &&
				 memcmp(x, y, po->count * sizeof *x) == 0;
		} else {
			for (int o = 0; o < pn->shape[0]; o++)
				for (int j = 0; j < 9; j++) {
					float want = from == 1 ? x[o * 9 + j] / 3
						: x[(o * 3 + 0) * 9 + j] +
						  x[(o * 3 + 1) * 9 + j] +
						  x[(o * 3 + 2) * 9 + j];
					for (int c = 0; c < to; c++)
						kernel = kernel &&
							y[(o * to + c) * 9 + j]
							== want;
				}
		}
		free(x);
		free(y);
	}
	tap_ok(kernel, "%d to %d: c1.conv1.weight %s", from, to,
	       from == 1 ? "replicated and divided by 3" : "summed");
	tap_ok(others, "%d to %d: every other parameter as it was", from, to);
	rng_seed(&r, 3);
	for (int i = 0; i < 64; i++)
		grey[i] = (float)rng_uniform(&r);
	a = logits_of(old, grey, from);
	b = logits_of(net, grey, to);
	for (int i = 0; i < 64; i++)
		diff = fmax(diff, fabs(a[i] - b[i]));
	tap_ok(diff < 1e-5, "%d to %d: a grey image gives the same logits "
	       "(max difference %g)", from, to, diff);
	free(a);
	free(b);
	unet_free(net);
	unet_free(old);
}

static void
test_adapt(void)
{
	static const int refused[][2] = { { 1, 1 }, { 3, 3 }, { 2, 3 },
					  { 3, 4 }, { 4, 1 }, { 1, 2 } };
	int none = 1;

	check_adapt(1, 3);
	check_adapt(3, 1);
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct unet_config cfg = { refused[i][0], 4, 2, 1 };
		struct unet *net = unet_new(&cfg), *a;

		a = unet_adapt_channels(net, refused[i][1]);
		if (a) {
			tap_diag("%d to %d adapted", refused[i][0],
				 refused[i][1]);
			none = 0;
			unet_free(a);
		}
		unet_free(net);
	}
	tap_ok(none, "only 1 and 3 channels adapt to each other");
}

/* The receptive radius, found: one input pixel changed changes the
 * logits exactly up to unet_receptive_radius pixels away (over both
 * alignments to the pooling), and the tile margin covers it. */
static void
check_radius(int depth)
{
	struct unet_config cfg = { 1, 2, depth, 1 };
	struct unet *net = unet_new(&cfg);
	int m = unet_multiple(net), r = unet_receptive_radius(net);
	int n = 4 * r + 4 * m, reach = 0;
	struct unet_work *w = unet_work_new(net, 1, n, n, 0, 1);
	float *base = xmalloc((size_t)n * n * sizeof *base);
	struct rng g;

	unet_init_glorot(net, 11);
	/* positive biases: no ReLU hides the change */
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);
		if (p->ndim == 1)
			for (size_t k = 0; k < p->count; k++)
				p->value[k] = 1;
	}
	rng_seed(&g, 4);
	for (int i = 0; i < n * n; i++)
		unet_work_input(w)[i] = (float)rng_uniform(&g);
	memcpy(base, unet_forward(w, 1), (size_t)n * n * sizeof *base);
	for (int shift = 0; shift < 2; shift++) {
		int c = n / 2 + shift;
		const float *out;
		float keep = unet_work_input(w)[c * n + c];

		unet_work_input(w)[c * n + c] = keep + 10;
		out = unet_forward(w, 1);
		for (int y = 0; y < n; y++)
			for (int x = 0; x < n; x++) {
				int d = abs(x - c) > abs(y - c) ? abs(x - c)
								: abs(y - c);
				if (out[y * n + x] != base[y * n + x] &&
				    d > reach)
					reach = d;
			}
		unet_work_input(w)[c * n + c] = keep;
	}
	tap_ok(reach == r, "depth %d: a pixel reaches %d pixels, the radius "
	       "is %d", depth, reach, r);
	tap_ok(unet_tile_margin(net) >= r && unet_tile_margin(net) % m == 0,
	       "depth %d: margin %d covers the radius in multiples of %d",
	       depth, unet_tile_margin(net), m);
	free(base);
	unet_work_free(w);
	unet_free(net);
}

/* unet_work_bytes against what unet_work_new allocates: exactly. */
static void
check_work_bytes(int channels, int filters, int depth, int h, int wd,
		 int outputs)
{
	struct unet_config cfg = { channels, filters, depth, outputs };
	struct unet *net = unet_new(&cfg);
	int batch = 3;
	struct unet_work *w = unet_work_new(net, batch, h, wd, 0, 1);
	double est = unet_work_bytes(net, h, wd) * batch;
	double have = (double)unet_work_size(w);

	tap_ok(est == have, "%d channel(s), F%d D%d, "
	       "%d output(s), %dx%d: estimate %.0f bytes, allocated %.0f",
	       channels, filters, depth, outputs, wd, h, est, have);
	unet_work_free(w);
	w = unet_work_new(net, batch, h, wd, 1, 1);
	tap_ok((double)unet_work_size(w) > 1.5 * have, "training work: %zu "
	       "bytes, more than inference", unet_work_size(w));
	/* training: input, logits and their gradient; above the deepest
	 * level pool, a, cat (2 ch), b with gd (2 ch) and d (the other
	 * gradients live in those), at the deepest pool, a, e, ge, ga */
	double floats = (double)batch * h * wd * (channels + 2 * outputs);
	for (int l = 1; l <= depth; l++) {
		double pix = (double)batch * (h >> (l - 1)) * (wd >> (l - 1));
		double ch = (double)filters * (1 << (l - 1));

		floats += pix * ((l > 1 ? ch / 2 : 0) + (l < depth ? 6 * ch
							      : 4 * ch));
	}
	tap_ok((double)unet_work_size(w) == 4 * floats, "training work: %zu "
	       "bytes, %.0f expected", unet_work_size(w), 4 * floats);
	unet_work_free(w);
	unet_free(net);
}

static void
test_sizes_of_work(void)
{
	check_radius(2);
	check_radius(3);
	check_work_bytes(3, 4, 2, 8, 12, 1);
	check_work_bytes(1, 8, 4, 16, 32, 1);
	check_work_bytes(4, 2, 3, 24, 8, 1);
	check_work_bytes(1, 2, 2, 8, 8, 4);
}

/* The logits of a work reshaped to n images of h x wd equal those of a
 * new work of that size, bit for bit; with training, the loss and the
 * gradients too. */
static void
check_reshaped(struct unet *net, struct unet_work *w, int training, int n,
	       int h, int wd)
{
	struct unet_work *fresh = unet_work_new(net, n, h, wd, training, 2);
	size_t in = (size_t)n * h * wd * 3, out = (size_t)n * h * wd * 2;
	float *target = xmalloc(out * sizeof *target);
	size_t count;
	float *g, *g0;
	int same;

	for (size_t i = 0; i < in; i++)
		unet_work_input(w)[i] = unet_work_input(fresh)[i] =
			(float)((i * 37) % 101) / 101;
	for (size_t i = 0; i < out; i++)
		target[i] = (float)(i % 3 == 0);
	same = memcmp(unet_forward(w, n), unet_forward(fresh, n),
		      out * sizeof(float)) == 0;
	if (training) {
		double a = unet_backward(w, n, target, NULL, 1, 0);
		g = unet_grads(net, &count);
		g0 = xmalloc(count * sizeof *g0);
		memcpy(g0, g, count * sizeof *g0);
		same = same && a == unet_backward(fresh, n, target, NULL, 1, 0) &&
		       memcmp(g0, unet_grads(net, &count),
			      count * sizeof *g0) == 0;
		free(g0);
	}
	tap_ok(same, "%s work reshaped to %d of %dx%d: the results of a new "
	       "one", training ? "training" : "inference", n, wd, h);
	unet_work_free(fresh);
	free(target);
}

static void
test_reshape(void)
{
	struct unet_config cfg = { 3, 4, 3, 2 };
	struct unet *net = unet_new(&cfg);

	unet_init_glorot(net, 9);
	for (int training = 0; training <= 1; training++) {
		/* 2 x 16 x 24 = 768 pixels */
		struct unet_work *w = unet_work_new(net, 2, 16, 24, training,
						    2);
		size_t bytes = unet_work_size(w);

		check_reshaped(net, w, training, 2, 16, 24);
		tap_ok(unet_work_reshape(w, 3, 8, 12) == 0 &&
		       unet_work_size(w) == bytes, "288 pixels fit in 768");
		check_reshaped(net, w, training, 3, 8, 12);
		tap_ok(unet_work_reshape(w, 1, 28, 28) < 0,
		       "784 pixels do not fit in 768");
		check_reshaped(net, w, training, 3, 8, 12);
		tap_ok(unet_work_reshape(w, 1, 32, 24) == 0,
		       "768 pixels fit, in one image");
		check_reshaped(net, w, training, 1, 32, 24);
		unet_work_free(w);
	}
	unet_free(net);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_config();
	test_params();
	test_gradient();
	test_outputs();
	test_determinism();
	test_sizes();
	test_freeze();
	test_adapt();
	test_sizes_of_work();
	test_reshape();
	return tap_done();
}
