/* dice: the soft Dice loss of a segmentation's logits, image by image,
 * and its gradient: the term of the training loss that optimises the
 * overlap the Dice score measures. */
#ifndef UNETPIPE_DICE_H
#define UNETPIPE_DICE_H

#include <stddef.h>

/* The soft Dice loss of n images of npix pixels, one channel of NHWC maps
 * read at stride ld (x the logits, t the targets in [0, 1], wt the
 * weights or NULL for all 1): the mean over the images of
 *   1 - (2 sum p t + 1) / (sum p + sum t + 1),   p = sigmoid(x),
 * the sums over the pixels whose weight is not 0 (padding; the weights'
 * values scale nothing), so that an image without foreground whose p are
 * all near 0 adds near 0. Sums in double, over nt threads (1 ..
 * POOL_MAX_THREADS), each image's split among them alone, so that its
 * term is the same bits in a batch of any n for a given nt. When dx is
 * not NULL, ADDS dL/dx to it (stride ld; pixels of weight 0 unchanged). */
double dice_loss_logits(int nt, const float *x, const float *t,
			const float *wt, int ld, int n, size_t npix,
			float *dx);

#endif
