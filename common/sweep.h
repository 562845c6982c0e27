/* sweep: the report of threshold-sweep(1) (its OUTPUT section), as read
 * back by the filters that take its best threshold (--threshold-from of
 * score, binarize, confusion-render and label-objects). */
#ifndef UNETPIPE_SWEEP_H
#define UNETPIPE_SWEEP_H

/* The "best"."threshold" of the threshold-sweep report at path. Dies
 * "prog: path: ..." (exit 1) when the file cannot be read, is not JSON
 * (duplicate keys are refused), or has no "best" object with a
 * "threshold" number in [0, 1]. */
double sweep_best_threshold(const char *path);

/* The threshold of a filter's --threshold T / --threshold-from PATH:
 * threshold when path is NULL, else the report's best threshold, path
 * being recorded as an input first (outfile_input). */
double sweep_threshold(const char *path, double threshold);

#endif
