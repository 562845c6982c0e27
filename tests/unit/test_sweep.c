/* sweep: the best threshold of a threshold-sweep report, and one exact
 * line (exit 1) for each way a report can be wrong. */
#include <string.h>

#include "sweep.h"
#include "tap.h"
#include "util.h"

/* A file of the scratch folder holding text; its path. */
static const char *
file(const char *name, const char *text)
{
	const char *path = tap_path(name);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return path;
}

static void
read_best(const void *path)
{
	sweep_best_threshold(path);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *text, *message;
	} bad[] = {
		{"{\"best\": {\"threshold\": 0.3}",
		 "line 1: '}' expected near end of file"},
		{"{\"best\": {\"threshold\": 0.3}, \"best\": {}}",
		 "line 1: duplicate object key near '\"best\"'"},
		{"{\"thresholds\": []}",
		 "no \"best\" object: not a threshold-sweep report"},
		{"{\"best\": 0.3}",
		 "no \"best\" object: not a threshold-sweep report"},
		{"{\"best\": {\"threshold\": \"0.3\"}}",
		 "\"best\" has no \"threshold\" number"},
		{"{\"best\": {\"threshold\": 2}}",
		 "\"best\" threshold 2 is not in [0, 1]"},
		{"{\"best\": {\"threshold\": -1e-9}}",
		 "\"best\" threshold -1e-09 is not in [0, 1]"},
		{"[]", "no \"best\" object: not a threshold-sweep report"},
	};
	char err[1024], want[1024];
	const char *path;

	prog_init(argc, argv);
	tap_ok(sweep_best_threshold(file("a.json", "{\"best\": {\"f1\": 1, "
					 "\"threshold\": 0.3}}")) == 0.3,
	       "the best threshold, exactly 0.3");
	tap_ok(sweep_best_threshold(file("a.json", "{\"best\": {\"threshold\":"
					 " 1}}")) == 1.0,
	       "an integer 1 is a threshold");
	tap_ok(sweep_best_threshold(file("a.json", "{\"best\": {\"threshold\":"
					 " 0.0}}")) == 0.0,
	       "0 is a threshold");

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		path = file("bad.json", bad[i].text);
		snprintf(want, sizeof want, "test_sweep: %s: %s\n", path,
			 bad[i].message);
		tap_ok(tap_child(read_best, path, err, sizeof err) == 1 &&
			       strcmp(err, want) == 0,
		       "%s: exit 1, one line", bad[i].message);
		if (strcmp(err, want) != 0)
			tap_diag("got %s", err);
	}
	path = tap_path("none.json");
	snprintf(want, sizeof want, "test_sweep: %s: unable to open %s: No "
		 "such file or directory\n", path, path);
	tap_ok(tap_child(read_best, path, err, sizeof err) == 1 &&
		       strcmp(err, want) == 0,
	       "a missing file: exit 1, one line");
	if (strcmp(err, want) != 0)
		tap_diag("got %s", err);

	tap_scratch_remove();
	return tap_done();
}
