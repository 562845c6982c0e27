#include "sweep.h"

#include <jansson.h>

#include "outfile.h"
#include "util.h"

double
sweep_best_threshold(const char *path)
{
	json_error_t err;
	json_t *root, *best, *t;
	double v;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (!root) {
		if (err.line > 0)
			die("%s: line %d: %s", path, err.line, err.text);
		die("%s: %s", path, err.text);
	}
	best = json_object_get(root, "best");
	if (!json_is_object(best))
		die("%s: no \"best\" object: not a threshold-sweep report",
		    path);
	t = json_object_get(best, "threshold");
	if (!json_is_number(t))
		die("%s: \"best\" has no \"threshold\" number", path);
	v = json_number_value(t);
	if (!(v >= 0.0 && v <= 1.0))
		die("%s: \"best\" threshold %g is not in [0, 1]", path, v);
	json_decref(root);
	return v;
}

double
sweep_threshold(const char *path, double threshold)
{
	if (!path)
		return threshold;
	outfile_input(path);
	return sweep_best_threshold(path);
}
