/* report: keys in insertion order, the number formats of the reports,
 * the figures objects, out of memory and write errors as one line, and a
 * report file that replaces its path whole or not at all. */
#include <glob.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "outfile.h"
#include "report.h"
#include "tap.h"
#include "util.h"

/* The whole of a file (at most 64 KiB, NUL-terminated) in a static
 * buffer; "" when it cannot be read. */
static const char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* The number of temporary files PATH.XXXXXX beside path. */
static size_t
temporaries(const char *path)
{
	char pattern[4200];
	glob_t g;
	size_t n;

	snprintf(pattern, sizeof pattern, "%s.??????", path);
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* root saved as f.json in the scratch folder, one line, committed and
 * released; the file's contents. */
static const char *
saved(json_t *root)
{
	outfile_commit_or_die(report_save(tap_path("f.json"), root,
					  REPORT_LINE(15)));
	json_decref(root);
	return slurp(tap_path("f.json"));
}

/* An object of every kind of value, keys in a non-alphabetical order. */
static json_t *
sample(void)
{
	json_t *o = report_object(), *a = report_array();

	report_set(o, "zeta", json_integer(-7));
	report_set(o, "alpha", json_real(0.3));
	report_set(o, "one", json_real(1.0));
	report_set(o, "third", json_real(2.0 / 3.0));
	report_set(o, "none", json_null());
	report_set(o, "id", json_string("a\"b"));
	report_append(a, json_integer(1));
	report_append(a, json_real(1e-20));
	report_set(o, "list", a);
	return o;
}

static const char sample_indented[] =
	"{\n"
	"  \"zeta\": -7,\n"
	"  \"alpha\": 0.3,\n"
	"  \"one\": 1.0,\n"
	"  \"third\": 0.666666666666667,\n"
	"  \"none\": null,\n"
	"  \"id\": \"a\\\"b\",\n"
	"  \"list\": [\n"
	"    1,\n"
	"    1e-20\n"
	"  ]\n"
	"}\n";

/* What a child that dies holds, reachable for LeakSanitizer (a one-line
 * death leaves its memory to exit()). */
static json_t *held;

static void
set_null(const void *arg)
{
	(void)arg;
	held = report_object();
	report_set(held, "k", NULL);
}

static void
append_null(const void *arg)
{
	(void)arg;
	held = report_array();
	report_append(held, NULL);
}

/* A report of about 40 KiB: more than a stdio buffer. */
static json_t *
big(void)
{
	json_t *a = report_array();

	for (int i = 0; i < 2000; i++)
		report_append(a, sample());
	return a;
}

/* report_save of a big report under a 1000-byte file size limit. */
static void
save_too_large(const void *path)
{
	struct rlimit rl = {1000, 1000};

	held = big();
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
	report_save(path, held, REPORT_INDENTED(15));
}

/* report_print of a big report to a full device. */
static void
print_full(const void *arg)
{
	(void)arg;
	held = big();
	if (!freopen("/dev/full", "w", stdout))
		_exit(3);
	report_print(held, REPORT_INDENTED(15));
}

/* report_print of the sample to the file path. */
static void
print_sample(const void *path)
{
	json_t *o = sample();

	if (!freopen(path, "w", stdout))
		_exit(3);
	report_print(o, REPORT_INDENTED(15));
	json_decref(o);
	close_stdout();
}

int
main(int argc, char **argv)
{
	struct confusion c = {3, 1, 2, 4};
	struct metric_sums mean = {0.25, 0.125, 1, 0, 0.5, 4};
	struct outfile *out;
	json_t *o, *lines;
	char err[512];
	int rc;

	prog_init(argc, argv);

	o = sample();
	out = report_save(tap_path("r.json"), o, REPORT_INDENTED(15));
	tap_ok(temporaries(tap_path("r.json")) == 1 &&
		       access(tap_path("r.json"), F_OK) != 0,
	       "before the commit only the temporary exists");
	outfile_commit_or_die(out);
	tap_ok(strcmp(slurp(tap_path("r.json")), sample_indented) == 0,
	       "indented: keys in insertion order, 0.3, 1.0, 15 digits, "
	       "null, escapes, a newline at the end");
	tap_ok(temporaries(tap_path("r.json")) == 0,
	       "the commit leaves no temporary");

	out = report_save(tap_path("r.json"), o, REPORT_INDENTED(10));
	outfile_commit_or_die(out);
	tap_ok(strstr(slurp(tap_path("r.json")),
		      "\"third\": 0.6666666667,") != NULL,
	       "REPORT_INDENTED(10): 10 significant digits");

	lines = report_array();
	outfile_commit_or_die(report_save(tap_path("old.json"), lines,
					  REPORT_LINE(15)));
	json_decref(lines);
	out = report_save(tap_path("old.json"), o, REPORT_INDENTED(15));
	outfile_discard(out);
	tap_ok(strcmp(slurp(tap_path("old.json")), "[]\n") == 0 &&
		       temporaries(tap_path("old.json")) == 0,
	       "a discarded report leaves the old file and no temporary");
	json_decref(o);

	lines = report_array();
	for (int k = 1; k <= 2; k++) {
		o = report_object();
		report_set(o, "index", json_integer(k));
		report_set(o, "dice", json_real(0.5 / k));
		report_append(lines, o);
	}
	outfile_commit_or_die(report_save_lines(tap_path("l.jsonl"), lines,
						REPORT_LINE(15)));
	tap_ok(strcmp(slurp(tap_path("l.jsonl")),
		      "{\"index\":1,\"dice\":0.5}\n"
		      "{\"index\":2,\"dice\":0.25}\n") == 0,
	       "JSON Lines: one compact line per element");
	json_array_clear(lines);
	outfile_commit_or_die(report_save_lines(tap_path("l.jsonl"), lines,
						REPORT_LINE(15)));
	tap_ok(strcmp(slurp(tap_path("l.jsonl")), "") == 0,
	       "no elements: an empty file");
	json_decref(lines);

	tap_ok(strcmp(saved(report_figures(&c, "dice", 1)),
		      "{\"dice\":0.666666666666667,\"iou\":0.5,"
		      "\"precision\":0.75,\"recall\":0.6,\"accuracy\":0.7,"
		      "\"tp\":3,\"fp\":1,\"fn\":2,\"tn\":4}\n") == 0,
	       "figures with counts: keys, order, values");

	o = report_object();
	report_set(o, "threshold", json_real(0.5));
	report_merge(o, report_figures(&c, "f1", 0));
	report_counts(o, &c);
	tap_ok(strcmp(saved(o),
		      "{\"threshold\":0.5,\"f1\":0.666666666666667,"
		      "\"iou\":0.5,\"precision\":0.75,\"recall\":0.6,"
		      "\"accuracy\":0.7,\"tp\":3,\"fp\":1,\"fn\":2,\"tn\":4}\n")
		       == 0,
	       "merge appends in order, f1 key, counts");

	tap_ok(strcmp(saved(report_means(&mean, "dice")),
		      "{\"dice\":0.25,\"iou\":0.125,\"precision\":1.0,"
		      "\"recall\":0.0,\"accuracy\":0.5}\n") == 0,
	       "means: the five figures, no counts");

	rc = tap_child(print_sample, tap_path("p.json"), err, sizeof err);
	tap_ok(rc == 0 && strcmp(slurp(tap_path("p.json")),
				 sample_indented) == 0,
	       "report_print: the same bytes on stdout");
	unlink(tap_path("p.json"));

	for (int k = 0; k < 2; k++) {
		rc = tap_child(k ? append_null : set_null, NULL, err,
			       sizeof err);
		tap_ok(rc == 1 && strcmp(err, "test_report: out of memory "
					 "(JSON)\n") == 0,
		       "%s of a value not made: exit 1, one line",
		       k ? "report_append" : "report_set");
	}

	rc = tap_child(print_full, NULL, err, sizeof err);
	tap_ok(rc == 1 && strcmp(err, "test_report: write error: No space "
				 "left on device\n") == 0,
	       "report_print to a full device: exit 1, one line");

	rc = tap_child(save_too_large, tap_path("old.json"), err, sizeof err);
	tap_ok(rc == 1 && strstr(err, "/old.json: write error: File too "
				 "large\n") && !strchr(err, '\n')[1],
	       "report_save that cannot be written: exit 1, one line");
	tap_ok(strcmp(slurp(tap_path("old.json")), "[]\n") == 0 &&
		       temporaries(tap_path("old.json")) == 0,
	       "... the old file intact, no temporary left");

	tap_scratch_remove();
	return tap_done();
}
