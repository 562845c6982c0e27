/* curves: the log parser, the diagnosis (the verdicts of the fixtures
 * tests/fixtures/curves-*.jsonl, as train-curves.bats prints them) and the
 * drawing. Parser errors exit, so they are read in a child (tap_child). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curves.h"
#include "tap.h"
#include "util.h"

#define FIXTURES "tests/fixtures/"

static void
read_fixture(const char *name, struct curves_log *log)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, FIXTURES "%s", name);
	f = xfopen_read(path);
	curves_read(f, name, log);
	fclose(f);
}

static void
read_string(const char *s, struct curves_log *log)
{
	FILE *f = fmemopen((void *)s, strlen(s), "r");

	if (!f)
		abort();
	curves_read(f, "log", log);
	fclose(f);
}

/* curves_read of the string arg (in a child: it dies). */
static void
read_log_string(const void *arg)
{
	struct curves_log log;

	read_string(arg, &log);
	curves_free(&log);
}

static void
expect_error(const char *log, const char *message)
{
	char err[512], want[512];
	int status = tap_child(read_log_string, log, err, sizeof err);

	snprintf(want, sizeof want, "%s: %s\n", prog_name(), message);
	tap_ok(status == 1 && strcmp(err, want) == 0, "refused: %s", message);
	if (strcmp(err, want) != 0)
		tap_diag("got \"%s\" (exit %d)", err, status);
}

/* The verdict of a fixture under rules r, with the epoch numbers of the
 * best and first over-fitting epochs (0 for none). */
static void
expect_verdict(const char *name, const struct curves_rules *r,
	       const char *verdict, long best, long overfit,
	       const char *message)
{
	struct curves_log log;
	struct curves_diagnosis d;
	long b, o;

	read_fixture(name, &log);
	curves_diagnose(&log, r, &d);
	b = d.best < 0 ? 0 : log.e[d.best].epoch;
	o = d.overfit < 0 ? 0 : log.e[d.overfit].epoch;
	tap_ok(strcmp(d.verdict, verdict) == 0 && b == best && o == overfit,
	       "%s: %s, best epoch %ld, over-fitting from %ld", name, verdict,
	       best, overfit);
	if (message)
		tap_ok(strcmp(d.message, message) == 0, "%s: the message",
		       name);
	curves_free(&log);
}

static void
test_fixtures(void)
{
	/* the messages train-curves.bats expects */
	static const struct {
		const char *name, *verdict;
		long best, overfit;
		const char *message;
	} fixtures[] = {
		{"curves-overfit.jsonl", "over-fitting", 12, 13,
		 "best epoch 12 (val_loss 0.081); over-fitting from epoch 13: "
		 "val_loss above its minimum for 8 epochs (0.081 -> 0.1306) "
		 "while train_loss fell (0.1112 -> 0.0514)"},
		{"curves-goodfit.jsonl", "good fit", 15, 0,
		 "best epoch 15 (val_loss 0.1312); good fit: train_loss has "
		 "levelled off and val_loss has not kept rising"},
		{"curves-underfit.jsonl", "under-fitting", 8, 0,
		 "best epoch 8 (val_loss 0.1654); under-fitting: train_loss "
		 "still falling steeply at the last epoch (0.2575 -> 0.1413, "
		 "-45.1% over the last 3 epochs): train longer"},
		{"curves-noval.jsonl", "undetermined", 0, 0,
		 "train_loss has levelled off; without validation data "
		 "over-fitting cannot be judged"},
		/* the tour of issue 12: a good fit before the rules below */
		{"curves-stalled.jsonl", "not converged", 3, 0,
		 "best epoch 3 (val_loss 0.4602); not converged: val_dice "
		 "never reached 0.05 (at most 0.0412, epoch 1): the model "
		 "does not separate the foreground from the background; "
		 "train longer (more epochs, more patience) or check the "
		 "data"},
		{"curves-nodice.jsonl", "not converged", 10, 0,
		 "best epoch 10 (val_loss 0.1842); not converged: val_dice "
		 "never reached 0.05 (at most 0.0036, epoch 8): the model "
		 "does not separate the foreground from the background; "
		 "train longer (more epochs, more patience) or check the "
		 "data"},
	};
	struct curves_rules r = curves_default_rules;
	struct curves_log log;

	tap_ok(r.overfit_epochs == 3 && r.overfit_margin == 0.02 &&
	       r.underfit_drop == 0.10 && r.underfit_total == 0.10 &&
	       r.rise_margin == 0.25 && r.dice_floor == 0.05,
	       "the default rules: 3 epochs, 2 %%, 10 %%, 10 %%, 25 %%, "
	       "0.05");
	for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++)
		expect_verdict(fixtures[i].name, &r, fixtures[i].verdict,
			       fixtures[i].best, fixtures[i].overfit,
			       fixtures[i].message);

	/* a margin above the rise, or more epochs than the rise lasts: the
	 * rise of 61.2 % is still too much for a converged run */
	r.overfit_margin = 0.70;
	expect_verdict("curves-overfit.jsonl", &r, "not converged", 12, 0,
		       "best epoch 12 (val_loss 0.081); not converged: the "
		       "last val_loss is 61.2% above its minimum (0.081 -> "
		       "0.1306) while train_loss went 0.1112 -> 0.0514: "
		       "validation got worse, not better; train longer with "
		       "more patience or a lower learning rate");
	r = curves_default_rules;
	r.overfit_epochs = 9;
	expect_verdict("curves-overfit.jsonl", &r, "not converged", 12, 0,
		       NULL);
	/* a rise margin above the rise: the next rule judges (train_loss
	 * still falling 21.3 %) */
	r.rise_margin = 0.62;
	expect_verdict("curves-overfit.jsonl", &r, "under-fitting", 12, 0,
		       NULL);
	r.underfit_drop = 0.25;
	expect_verdict("curves-overfit.jsonl", &r, "good fit", 12, 0, NULL);
	r.rise_margin = 0.61;
	expect_verdict("curves-overfit.jsonl", &r, "not converged", 12, 0,
		       NULL);
	r.overfit_epochs = 8;
	expect_verdict("curves-overfit.jsonl", &r, "over-fitting", 12, 13,
		       NULL);

	/* the stalled run without the Dice rule: the rise of val_loss */
	r = curves_default_rules;
	r.dice_floor = 0;
	expect_verdict("curves-stalled.jsonl", &r, "not converged", 3, 0,
		       "best epoch 3 (val_loss 0.4602); not converged: the "
		       "last val_loss is 32.7% above its minimum (0.4602 -> "
		       "0.6107) while train_loss went 0.4021 -> 0.4129: "
		       "validation got worse, not better; train longer with "
		       "more patience or a lower learning rate");
	r.rise_margin = 0.33;
	expect_verdict("curves-stalled.jsonl", &r, "good fit", 3, 0, NULL);
	r = curves_default_rules;
	r.dice_floor = 0.0036;
	expect_verdict("curves-nodice.jsonl", &r, "good fit", 10, 0, NULL);
	r.dice_floor = 0.00361;
	expect_verdict("curves-nodice.jsonl", &r, "not converged", 10, 0,
		       NULL);

	read_fixture("curves-overfit.jsonl", &log);
	tap_ok(log.n == 20 && log.e[0].epoch == 1 && log.e[19].epoch == 20 &&
	       log.e[0].train == 0.5379 && log.e[0].val == 0.2269 &&
	       log.e[0].dice == 0.6731 && log.e[0].iou == 0.5731 &&
	       log.has_val && log.has_dice && log.has_iou,
	       "curves-overfit.jsonl: 20 epochs, every figure read");
	curves_free(&log);
	tap_ok(!log.e && log.n == 0, "curves_free: the log zeroed");
	read_fixture("curves-noval.jsonl", &log);
	tap_ok(log.n == 6 && log.e[0].epoch == 0 && !log.has_val &&
	       !log.has_dice && !log.has_iou && log.e[1].train == 0.39,
	       "curves-noval.jsonl: null figures are absent");
	curves_free(&log);
}

static void
test_rules(void)
{
	struct curves_log log;
	struct curves_diagnosis d;

	read_string("{\"epoch\": 1, \"train_loss\": 0.5, \"val_loss\": 0.4}\n",
		    &log);
	curves_diagnose(&log, &curves_default_rules, &d);
	tap_ok(strcmp(d.verdict, "undetermined") == 0 && d.best == 0 &&
	       d.overfit == -1 && strcmp(d.message, "best epoch 1 (val_loss "
	       "0.4); only one epoch: too few to judge") == 0,
	       "one epoch: too few to judge");
	curves_free(&log);

	read_string("{\"epoch\": 1, \"train_loss\": 0.5}\n\n  \n"
		    "{\"epoch\": 2, \"train_loss\": 0.52}\n"
		    "{\"epoch\": 3, \"train_loss\": 0.55}\n", &log);
	curves_diagnose(&log, &curves_default_rules, &d);
	tap_ok(log.n == 3 && strcmp(d.verdict, "under-fitting") == 0 &&
	       d.best == -1 && strcmp(d.message, "under-fitting: train_loss "
	       "rose 10.0% since the first epoch (0.5 -> 0.55): the model "
	       "has hardly learned") == 0,
	       "blank lines skipped; a rising train_loss under-fits");
	curves_free(&log);
}

static void
test_errors(void)
{
	expect_error("", "log: no epochs");
	expect_error("\n \n", "log: no epochs");
	expect_error("{\"epoch\": 1, \"train_loss\": null}\n",
		     "log:1: train_loss is null (not a number)");
	expect_error("{\"epoch\": 1, \"train_loss\": \"0.3\"}\n",
		     "log:1: train_loss is not a number");
	expect_error("{\"epoch\": 1}\n", "log:1: train_loss missing");
	expect_error("{\"train_loss\": 0.2}\n", "log:1: epoch missing");
	expect_error("{\"epoch\": 1.5, \"train_loss\": 0.2}\n",
		     "log:1: epoch is not an integer");
	expect_error("[1]\n", "log:1: not a JSON object");
	expect_error("{\"epoch\": 2, \"train_loss\": 0.2}\n"
		     "{\"epoch\": 2, \"train_loss\": 0.1}\n",
		     "log:2: epoch 2 does not follow epoch 2");
	expect_error("{\"epoch\": 1, \"train_loss\": 0.2, \"val_loss\": 0.3}\n"
		     "{\"epoch\": 2, \"train_loss\": 0.1}\n",
		     "log:2: val_loss is missing or null, but a number on "
		     "line 1");
	expect_error("{\"epoch\": 1, \"train_loss\": 0.2, \"val_dice\": null}\n"
		     "{\"epoch\": 2, \"train_loss\": 0.1, \"val_dice\": 0.5}\n",
		     "log:2: val_dice is a number, but missing or null on "
		     "line 1");
	expect_error("{\"epoch\": 1, \"train_loss\": 1e999}\n",
		     "log:1: real number overflow near '1e999'");
}

static int
count_rgb(const struct image *img, int r, int g, int b)
{
	int n = 0;

	for (size_t i = 0; i < (size_t)img->width * img->height; i++)
		n += img->data[3 * i] == r && img->data[3 * i + 1] == g &&
		     img->data[3 * i + 2] == b;
	return n;
}

static void
test_render(void)
{
	struct curves_log log;
	struct curves_diagnosis d;
	struct image a, b;

	read_fixture("curves-overfit.jsonl", &log);
	curves_diagnose(&log, &curves_default_rules, &d);
	curves_render(&a, 800, 500, &log, "title", 1, d.best);
	tap_ok(a.width == 800 && a.height == 500 && a.depth == 3 &&
	       a.maxval == 255 && strcmp(a.tuple_type, "RGB") == 0,
	       "curves_render: an RGB image of the size asked for");
	/* train_loss blue, val_loss vermillion, Dice bluish green */
	tap_ok(count_rgb(&a, 0, 114, 178) > 500 &&
	       count_rgb(&a, 213, 94, 0) > 500 &&
	       count_rgb(&a, 0, 158, 115) > 200,
	       "curves_render: both losses and the Dice drawn");
	curves_render(&b, 800, 500, &log, "title", 0, d.best);
	tap_ok(count_rgb(&b, 0, 158, 115) == 0,
	       "curves_render: no metric panel without dice");
	image_free(&b);
	curves_render(&b, 800, 500, &log, "title", 1, d.best);
	tap_ok(memcmp(a.data, b.data, 800 * 500 * 3 * sizeof *a.data) == 0,
	       "curves_render: the same image twice");
	image_free(&a);
	image_free(&b);
	curves_free(&log);

	/* absurd but finite figures draw, in bounded time */
	read_string("{\"epoch\": -9000000000, \"train_loss\": 1e308}\n"
		    "{\"epoch\": 9000000000, \"train_loss\": -1e308}\n", &log);
	curves_diagnose(&log, &curves_default_rules, &d);
	curves_render(&a, 320, 240, &log, "", 1, d.best);
	tap_ok(a.width == 320 && a.height == 240,
	       "curves_render: absurd figures drawn");
	image_free(&a);
	curves_free(&log);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_fixtures();
	test_rules();
	test_errors();
	test_render();
	return tap_done();
}
