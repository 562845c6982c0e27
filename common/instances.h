/* instances: connected components of masks and the object-level match of
 * a prediction with the truth (the Data Science Bowl 2018 metric). */
#ifndef UNETPIPE_INSTANCES_H
#define UNETPIPE_INSTANCES_H

#include <stddef.h>
#include <stdint.h>

/* IoU thresholds of the DSB 2018 metric: 0.50, 0.55, ... 0.95. */
#define INSTANCES_NTHRESH 10

/* The k-th IoU threshold (0.50 + 0.05 k), k in [0, INSTANCES_NTHRESH). */
double instances_iou_threshold(int k);

/* Label the connected components of the foreground (mask[p] != 0) of a
 * width x height mask, row-major; connectivity is 4 (edges) or 8 (edges
 * and corners). labels[p] (width * height entries, caller's) becomes 0 on
 * the background and 1..n on the components, numbered in raster order of
 * each component's first pixel. Returns n. */
uint32_t instances_label(const uint8_t *mask, int width, int height,
			 int connectivity, uint32_t *labels);

/* Renumber the labels of n pixels in place (0 = background, any other
 * value an object, in one piece or several, values not necessarily
 * consecutive, as read from a label image) to 1..m in raster order of each
 * label's first pixel; 0 stays 0. Needs (largest label + 1) words of
 * memory. Returns m. */
uint32_t instances_renumber(uint32_t *labels, size_t n);

/* The object-level comparison of one image. */
struct instance_score {
	uint32_t pred_objects, true_objects;
	/* matches[k]: pairs of a predicted and a true object with
	 * IoU > threshold k; one-to-one since every threshold is >= 0.5. */
	uint32_t matches[INSTANCES_NTHRESH];
	/* precision[k] = TP / (TP + FP + FN) with TP = matches[k],
	 * FP = pred_objects - TP, FN = true_objects - TP; 1 when there are no
	 * objects at all. */
	double precision[INSTANCES_NTHRESH];
	double score; /* mean of precision[] */
};

/* Compare two label images of n pixels (0 = background, labels 1..npred
 * and 1..ntrue, as instances_label makes them). IoUs come from a sparse
 * table of the overlaps, so the cost is O(n) whatever the object count;
 * IoU > t is decided in integers (exactly). */
void instances_score(const uint32_t *pred, uint32_t npred,
		     const uint32_t *truth, uint32_t ntrue, size_t n,
		     struct instance_score *s);

#endif
