/* infer: whole-image inference of images of any size (see infer.h). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "util.h"

struct infer {
	struct unet *net;
	int threads, tile, batch;
	double budget;
	int in_channels, outputs, multiple, margin;
	int auto_tile;  /* the largest tile within the budget, 0 until needed */
	/* The work buffers, of the largest size used so far. */
	struct unet_work *w;
};

static int
round_up(int n, int m)
{
	return (n + m - 1) / m * m;
}

struct infer *
infer_new(struct unet *net, int threads, double budget, int tile)
{
	struct infer *inf = xcalloc(1, sizeof *inf);
	const struct unet_config *cfg = unet_get_config(net);

	inf->net = net;
	inf->threads = threads;
	inf->budget = budget;
	inf->tile = tile;
	inf->batch = INT_MAX;
	inf->in_channels = cfg->in_channels;
	inf->outputs = cfg->outputs;
	inf->multiple = unet_multiple(net);
	inf->margin = unet_tile_margin(net);
	return inf;
}

void
infer_set_batch(struct infer *inf, int batch)
{
	inf->batch = batch;
}

void
infer_free(struct infer *inf)
{
	if (!inf)
		return;
	unet_work_free(inf->w);
	free(inf);
}

int
infer_tile_check(const struct unet *net, int tile, char *err, size_t errlen)
{
	int multiple = unet_multiple(net), margin = unet_tile_margin(net);

	if (tile % multiple == 0 && tile >= 2 * margin + multiple)
		return 0;
	snprintf(err, errlen, "this model needs a multiple of %d, at least %d",
		 multiple, 2 * margin + multiple);
	return -1;
}

/* Pixels a thread needs in a pass: fewer leave the threads short of work
 * in the deep levels (8 x 8 pixels an image of 128 x 128 at depth 5); more
 * are no faster, and the maps of a larger pass pay the first touch of
 * their pages (bench/README.md, "Passes of four"). */
#define PASS_PIXELS_PER_THREAD 32768

/* The number of h x w inputs of a pass: at most want, the engine's batch
 * and the inputs that give each thread PASS_PIXELS_PER_THREAD, inside
 * the budget; at least 1. */
static int
pass_images(const struct infer *inf, int want, int h, int w)
{
	double fit = inf->budget / unet_work_bytes(inf->net, h, w);
	double busy = ceil((double)PASS_PIXELS_PER_THREAD * inf->threads /
			   ((double)h * w));

	if (want > inf->batch)
		want = inf->batch;
	if (want > busy)
		want = (int)busy;
	if (fit < 1)
		return 1;
	return fit < want ? (int)fit : want;
}

/* Work for batch inputs of h x w: the last one, reshaped, when its maps
 * hold that many pixels (a stream of mixed sizes keeps the largest, the
 * pages already touched), else a new one of exactly batch. */
static struct unet_work *
get_work(struct infer *inf, int batch, int h, int w)
{
	if (!inf->w || unet_work_reshape(inf->w, batch, h, w) < 0) {
		unet_work_free(inf->w);
		inf->w = unet_work_new(inf->net, batch, h, w, 0, inf->threads);
	}
	return inf->w;
}

/* Fill dst (tw x th pixels) from the window of src (sw x sh pixels,
 * `ch` floats each) whose top left corner is (x0, y0); zero beyond src's
 * right and bottom edges. */
static void
fill_window(float *dst, int tw, int th, const float *src, int sw, int sh,
	    int ch, int x0, int y0)
{
	for (int y = 0; y < th; y++) {
		float *row = dst + (size_t)y * tw * ch;
		int sy = y0 + y;
		int n = sw - x0 < tw ? sw - x0 : tw;

		if (sy >= sh)
			n = 0;
		else
			memcpy(row, src + ((size_t)sy * sw + x0) * ch,
			       sizeof *row * (size_t)n * ch);
		memset(row + (size_t)n * ch, 0,
		       sizeof *row * (size_t)(tw - n) * ch);
	}
}

/* Copy the w x h pixels at (x0, y0) of a map of mw pixels per row into
 * dst at (x, y), dst having dw pixels per row, k floats each. */
static void
copy_block(float *dst, int dw, int x, int y, const float *src, int mw,
	   int x0, int y0, int w, int h, int k)
{
	for (int r = 0; r < h; r++)
		memcpy(dst + ((size_t)(y + r) * dw + x) * k,
		       src + ((size_t)(y0 + r) * mw + x0) * k,
		       sizeof *dst * (size_t)w * k);
}

/* Whole images, padded, in batches within the budget. */
static void
infer_whole(struct infer *inf, int n, int width, int height,
	    const float *input, float *logits)
{
	int pw = round_up(width, inf->multiple);
	int ph = round_up(height, inf->multiple);
	int batch = pass_images(inf, n, ph, pw);
	struct unet_work *w = get_work(inf, batch, ph, pw);
	float *in = unet_work_input(w);
	size_t isize = (size_t)width * height * inf->in_channels;
	size_t osize = (size_t)width * height * inf->outputs;

	for (int i0 = 0; i0 < n; i0 += batch) {
		int m = n - i0 < batch ? n - i0 : batch;
		const float *l;

		for (int k = 0; k < m; k++)
			fill_window(in + (size_t)k * pw * ph * inf->in_channels,
				    pw, ph, input + (i0 + k) * isize, width,
				    height, inf->in_channels, 0, 0);
		l = unet_forward(w, m);
		for (int k = 0; k < m; k++)
			copy_block(logits + (i0 + k) * osize, width, 0, 0,
				   l + (size_t)k * pw * ph * inf->outputs, pw,
				   0, 0, width, height, inf->outputs);
	}
}

/* Window positions along one axis padded to pn: each window of `tile`
 * pixels starts `margin` before its core, kept inside [0, pn). */
static int
window_start(int core, int margin, int tile, int pn)
{
	int s = core - margin;

	if (s > pn - tile)
		s = pn - tile;
	return s < 0 ? 0 : s;
}

/* One image in tiles of `tile` x `tile` (fewer where the padded image is
 * smaller), tiles batched. Each tile's output is kept only in its core,
 * at least `margin` pixels (the receptive field's radius) from any tile
 * edge that is not an edge of the image, and tiles start at multiples of
 * the pooling cell: the result is whole-image inference's. */
static void
infer_tiled(struct infer *inf, int tile, int width, int height,
	    const float *input, float *logits)
{
	int pw = round_up(width, inf->multiple);
	int ph = round_up(height, inf->multiple);
	int tw = pw < tile ? pw : tile, th = ph < tile ? ph : tile;
	/* Core sizes: the whole axis when one window covers it. */
	int cx = pw <= tile ? pw : tile - 2 * inf->margin;
	int cy = ph <= tile ? ph : tile - 2 * inf->margin;
	int across = (width + cx - 1) / cx;
	int total = across * ((height + cy - 1) / cy);
	int batch = pass_images(inf, total, th, tw);
	struct unet_work *w = get_work(inf, batch, th, tw);
	float *in = unet_work_input(w);

	for (int t0 = 0; t0 < total; t0 += batch) {
		int n = total - t0 < batch ? total - t0 : batch;
		const float *l;

		for (int k = 0; k < n; k++) {
			int x = (t0 + k) % across * cx, y = (t0 + k) / across * cy;
			fill_window(in + (size_t)k * tw * th * inf->in_channels,
				    tw, th, input, width, height,
				    inf->in_channels,
				    window_start(x, inf->margin, tw, pw),
				    window_start(y, inf->margin, th, ph));
		}
		l = unet_forward(w, n);
		for (int k = 0; k < n; k++) {
			int x = (t0 + k) % across * cx, y = (t0 + k) / across * cy;
			int wx = window_start(x, inf->margin, tw, pw);
			int wy = window_start(y, inf->margin, th, ph);
			int ex = x + cx < width ? x + cx : width;
			int ey = y + cy < height ? y + cy : height;

			copy_block(logits, width, x, y,
				   l + (size_t)k * tw * th * inf->outputs, tw,
				   x - wx, y - wy, ex - x, ey - y, inf->outputs);
		}
	}
}

/* The tile for images of width x height: 0 for whole-image inference. */
static int
tile_for(struct infer *inf, int width, int height)
{
	int pw = round_up(width, inf->multiple);
	int ph = round_up(height, inf->multiple);
	int tile = inf->tile;

	if (tile < 0) {
		if (unet_work_bytes(inf->net, ph, pw) <= inf->budget)
			return 0;
		if (!inf->auto_tile) {
			/* The largest tile inside the budget. */
			int t = 2 * inf->margin + inf->multiple;

			while (unet_work_bytes(inf->net, t + inf->multiple,
					       t + inf->multiple) <= inf->budget)
				t += inf->multiple;
			inf->auto_tile = t;
		}
		tile = inf->auto_tile;
	}
	return tile > 0 && (pw > tile || ph > tile) ? tile : 0;
}

int
infer_batch(struct infer *inf, int width, int height)
{
	if (tile_for(inf, width, height))
		return 1;
	return pass_images(inf, INT_MAX, round_up(height, inf->multiple),
			   round_up(width, inf->multiple));
}

void
infer_images(struct infer *inf, int n, int width, int height,
	     const float *input, float *logits)
{
	int tile = tile_for(inf, width, height);
	size_t isize = (size_t)width * height * inf->in_channels;
	size_t osize = (size_t)width * height * inf->outputs;

	if (!tile) {
		infer_whole(inf, n, width, height, input, logits);
		return;
	}
	for (int k = 0; k < n; k++)
		infer_tiled(inf, tile, width, height, input + k * isize,
			    logits + k * osize);
}
