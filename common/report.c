#include "report.h"

#include <stdio.h>

#include "outfile.h"
#include "util.h"

/* v, which a jansson constructor returned; dies when it is NULL (out of
 * memory). */
static json_t *
made(json_t *v)
{
	if (!v)
		die("out of memory (JSON)");
	return v;
}

json_t *
report_object(void)
{
	return made(json_object());
}

json_t *
report_array(void)
{
	return made(json_array());
}

void
report_set(json_t *obj, const char *key, json_t *value)
{
	if (json_object_set_new(obj, key, made(value)) != 0)
		die("out of memory (JSON)");
}

void
report_append(json_t *array, json_t *value)
{
	if (json_array_append_new(array, made(value)) != 0)
		die("out of memory (JSON)");
}

void
report_merge(json_t *obj, json_t *from)
{
	if (json_object_update(obj, from) != 0)
		die("out of memory (JSON)");
	json_decref(from);
}

void
report_counts(json_t *obj, const struct confusion *c)
{
	report_set(obj, "tp", json_integer((json_int_t)c->tp));
	report_set(obj, "fp", json_integer((json_int_t)c->fp));
	report_set(obj, "fn", json_integer((json_int_t)c->fn));
	report_set(obj, "tn", json_integer((json_int_t)c->tn));
}

static json_t *
figures(double dice, double iou, double precision, double recall,
	double accuracy, const char *dice_key)
{
	json_t *o = report_object();

	report_set(o, dice_key, json_real(dice));
	report_set(o, "iou", json_real(iou));
	report_set(o, "precision", json_real(precision));
	report_set(o, "recall", json_real(recall));
	report_set(o, "accuracy", json_real(accuracy));
	return o;
}

json_t *
report_figures(const struct confusion *c, const char *dice_key,
	       int with_counts)
{
	json_t *o = figures(metric_dice(c), metric_iou(c), metric_precision(c),
			    metric_recall(c), metric_accuracy(c), dice_key);

	if (with_counts)
		report_counts(o, c);
	return o;
}

json_t *
report_means(const struct metric_sums *mean, const char *dice_key)
{
	return figures(mean->dice, mean->iou, mean->precision, mean->recall,
		       mean->accuracy, dice_key);
}

/* root (each element of root when lines is set) and a newline to f;
 * returns 0, or -1 with errno set. */
static int
dump(FILE *f, const json_t *root, size_t flags, int lines)
{
	size_t i;
	json_t *v;

	if (!lines)
		return json_dumpf(root, f, flags) != 0 || fputc('\n', f) == EOF
		       ? -1 : 0;
	json_array_foreach(root, i, v)
		if (dump(f, v, flags, 0) != 0)
			return -1;
	return 0;
}

void
report_print(const json_t *root, size_t flags)
{
	if (dump(stdout, root, flags, 0) != 0)
		die("write error:");
}

static struct outfile *
save(const char *path, const json_t *root, size_t flags, int lines)
{
	struct outfile *o = outfile_open_or_die(path);

	if (dump(outfile_stream(o), root, flags, lines) != 0)
		die("%s: write error:", path);
	return o;
}

struct outfile *
report_save(const char *path, const json_t *root, size_t flags)
{
	return save(path, root, flags, 0);
}

struct outfile *
report_save_lines(const char *path, const json_t *lines, size_t flags)
{
	return save(path, lines, flags, 1);
}
