/* report: the JSON reports of the filters (score, threshold-sweep,
 * train-curves --diagnosis): objects built key by key in insertion order,
 * with a value that could not be made (out of memory) checked in one
 * place; the figures of a confusion; a report written to stdout, or to a
 * file through outfile (whole, or not at all). */
#ifndef UNETPIPE_REPORT_H
#define UNETPIPE_REPORT_H

#include <stddef.h>

#include <jansson.h>

#include "metrics.h"

struct outfile;

/* json_dumpf() flags of a report: keys in insertion order, reals with
 * digits significant digits (15 prints 0.3 as 0.3), as a document
 * indented by 2 spaces or as one compact line. */
#define REPORT_INDENTED(digits) \
	(JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(digits))
#define REPORT_LINE(digits) \
	(JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(digits))

/* A new empty object; dies "prog: out of memory (JSON)". */
json_t *report_object(void);

/* A new empty array; dies "prog: out of memory (JSON)". */
json_t *report_array(void);

/* Set key in obj to value, whose reference is taken
 * (json_object_set_new); dies "prog: out of memory (JSON)" when value is
 * NULL (it could not be made) or cannot be set. */
void report_set(json_t *obj, const char *key, json_t *value);

/* Append value, whose reference is taken, to array; dies as report_set. */
void report_append(json_t *array, json_t *value);

/* Set the keys of from in obj, in from's order, and release from; dies as
 * report_set. */
void report_merge(json_t *obj, json_t *from);

/* Set the counts of c in obj: tp, fp, fn, tn. */
void report_counts(json_t *obj, const struct confusion *c);

/* A new object with the figures of c: Dice under the key dice_key ("dice"
 * or "f1"), iou, precision, recall, accuracy, then the counts (as
 * report_counts) when with_counts is set. */
json_t *report_figures(const struct confusion *c, const char *dice_key,
		       int with_counts);

/* The same figures from per-image means (no counts). */
json_t *report_means(const struct metric_sums *mean, const char *dice_key);

/* Write root and a newline to stdout with the json_dumpf() flags (see
 * REPORT_INDENTED); dies "prog: write error: reason". */
void report_print(const json_t *root, size_t flags);

/* Write root and a newline into a new temporary file beside path (see
 * outfile_open), for the caller to commit with outfile_commit once the
 * whole run has succeeded. Dies "prog: PATH: reason" when the file cannot
 * be made and "prog: PATH: write error: reason" when it cannot be
 * written. */
struct outfile *report_save(const char *path, const json_t *root,
			    size_t flags);

/* report_save of the elements of the array lines, one per line (JSON
 * Lines; flags such as REPORT_LINE). */
struct outfile *report_save_lines(const char *path, const json_t *lines,
				  size_t flags);

#endif
