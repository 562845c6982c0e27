/* infer: a network applied to whole images of any size, as unet-infer
 * and unet-train's validation apply it: each image padded with zeros on
 * the right and bottom to the network's multiple, images of one size
 * batched, and an image whose maps would not fit the memory budget cut
 * into overlapping tiles whose cores give exactly the logits of
 * whole-image inference. */
#ifndef UNETPIPE_INFER_H
#define UNETPIPE_INFER_H

#include "unet.h"

struct infer;

/* An engine for net (which it does not own) on `threads` threads, whose
 * activations stay within budget bytes where a tile can: tile -1 tiles
 * only the images too large for the budget, 0 never tiles, N > 0 tiles
 * every image larger than N x N in N x N tiles (N must pass
 * infer_tile_check). */
struct infer *infer_new(struct unet *net, int threads, double budget,
			int tile);

/* At most batch (>= 1) images or tiles in one forward pass (default: no
 * cap). A pass takes no more than give each thread 2^15 pixels (4
 * images of 128 x 128 on 2 threads), and what the budget holds. */
void infer_set_batch(struct infer *inf, int batch);

void infer_free(struct infer *inf);

/* How many images of width x height infer_images takes in one forward
 * pass (see infer_set_batch), 1 for an image that is tiled (each is
 * tiled alone). */
int infer_batch(struct infer *inf, int width, int height);

/* 0 when tile (> 0) is a tile size net can use (a multiple of
 * unet_multiple, at least 2 * unet_tile_margin + unet_multiple);
 * otherwise -1 with the reason in err (no program name). */
int infer_tile_check(const struct unet *net, int tile, char *err,
		     size_t errlen);

/* The logits of n images of width x height (any sizes from 1 up):
 * input holds n * height * width * in_channels floats (NHWC, already
 * normalised), logits receives n * height * width * K floats (NHWC, K the
 * network's outputs), the padding cut away. n, the budget and the
 * tiling change the result by float rounding at most. */
void infer_images(struct infer *inf, int n, int width, int height,
		  const float *input, float *logits);

#endif
