/* train-curves: the command line over common/curves: draw the loss curves
 * of a unet-train log and diagnose the fit (see train-curves(1) for the
 * rules). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "curves.h"
#include "outfile.h"
#include "pamio.h"
#include "report.h"
#include "util.h"

static const char usage_text[] =
		"usage: train-curves [options] [LOG]\n"
		"Draw the training curves of a unet-train JSON Lines log (stdin by\n"
		"default) as an RGB PAM image on stdout and print a diagnosis of the\n"
		"fit on stderr.\n"
		"\n"
		"  -W, --width N            image width (default 800)\n"
		"  -H, --height N           image height (default 500)\n"
		"      --title TEXT         title (default: the log's name and epochs)\n"
		"      --no-dice            leave out the validation Dice/IoU panel\n"
		"      --diagnosis FILE     write the diagnosis to FILE as JSON\n"
		"                           instead of stderr\n"
		"  -q, --quiet              print no diagnosis\n"
		"      --overfit-epochs N   epochs after the best one that make\n"
		"                           over-fitting (default 3)\n"
		"      --overfit-margin PCT rise of val_loss over its minimum that\n"
		"                           makes over-fitting (default 2)\n"
		"      --underfit-drop PCT  fall of train_loss over the last 3 epochs\n"
		"                           that makes under-fitting (default 10)\n"
		"      --underfit-total PCT least fall of train_loss since the first\n"
		"                           epoch (else under-fitting; default 10)\n"
		"      --rise-margin PCT    rise of the last val_loss over its minimum\n"
		"                           that makes a run not converged (default 25)\n"
		"      --dice-floor D       val_dice that all epochs stay below in a\n"
		"                           run not converged (default 0.05)\n"
		"  -h, --help               print this help and exit\n"
		"  -V, --version            print the version and exit\n";

/* The diagnosis as JSON into a temporary file beside path, committed by
 * the caller once the whole run has succeeded. */
static struct outfile *
write_diagnosis(const char *path, const struct curves_log *log,
		const struct curves_diagnosis *d)
{
	json_t *o = report_object();
	struct outfile *out;

	report_set(o, "epochs", json_integer((json_int_t)log->n));
	report_set(o, "first_epoch", json_integer(log->e[0].epoch));
	report_set(o, "last_epoch", json_integer(log->e[log->n - 1].epoch));
	report_set(o, "best_epoch", d->best < 0 ? json_null() :
		   json_integer(log->e[d->best].epoch));
	report_set(o, "best_val_loss", d->best < 0 ? json_null() :
		   json_real(log->e[d->best].val));
	report_set(o, "verdict", json_string(d->verdict));
	report_set(o, "over_fitting_from", d->overfit < 0 ? json_null() :
		   json_integer(log->e[d->overfit].epoch));
	report_set(o, "message", json_string(d->message));
	out = report_save(path, o, REPORT_INDENTED(10));
	json_decref(o);
	return out;
}

/* The command line. */
struct opts {
	struct curves_rules rules;
	int width, height, dice, quiet;
	const char *title, *diag_path, *path;
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	enum { OPT_TITLE = 256, OPT_NO_DICE, OPT_DIAGNOSIS, OPT_OVER_EPOCHS,
	       OPT_OVER_MARGIN, OPT_UNDER_DROP, OPT_UNDER_TOTAL, OPT_RISE_MARGIN,
	       OPT_DICE_FLOOR };
	static const struct option longopts[] = {
		{"width", required_argument, NULL, 'W'},
		{"height", required_argument, NULL, 'H'},
		{"title", required_argument, NULL, OPT_TITLE},
		{"no-dice", no_argument, NULL, OPT_NO_DICE},
		{"diagnosis", required_argument, NULL, OPT_DIAGNOSIS},
		{"quiet", no_argument, NULL, 'q'},
		{"overfit-epochs", required_argument, NULL, OPT_OVER_EPOCHS},
		{"overfit-margin", required_argument, NULL, OPT_OVER_MARGIN},
		{"underfit-drop", required_argument, NULL, OPT_UNDER_DROP},
		{"underfit-total", required_argument, NULL, OPT_UNDER_TOTAL},
		{"rise-margin", required_argument, NULL, OPT_RISE_MARGIN},
		{"dice-floor", required_argument, NULL, OPT_DICE_FLOOR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct curves_rules *rules = &o->rules;
	int c;

	*o = (struct opts){ .rules = curves_default_rules, .width = 800,
			    .height = 500, .dice = 1, .path = "-" };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":W:H:qhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'W':
			o->width = (int)parse_long(optarg, 320, 16384,
						   "--width");
			break;
		case 'H':
			o->height = (int)parse_long(optarg, 240, 16384,
						    "--height");
			break;
		case OPT_TITLE:
			o->title = optarg;
			break;
		case OPT_NO_DICE:
			o->dice = 0;
			break;
		case OPT_DIAGNOSIS:
			o->diag_path = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case OPT_OVER_EPOCHS:
			rules->overfit_epochs = parse_long(optarg, 1, 1000000,
							   "--overfit-epochs");
			break;
		case OPT_OVER_MARGIN:
			rules->overfit_margin = parse_double(optarg, 0, 1e6,
					"--overfit-margin") / 100;
			break;
		case OPT_UNDER_DROP:
			rules->underfit_drop = parse_double(optarg, 0, 100,
					"--underfit-drop") / 100;
			break;
		case OPT_UNDER_TOTAL:
			rules->underfit_total = parse_double(optarg, 0, 100,
					"--underfit-total") / 100;
			break;
		case OPT_RISE_MARGIN:
			rules->rise_margin = parse_double(optarg, 0, 1e6,
					"--rise-margin") / 100;
			break;
		case OPT_DICE_FLOOR:
			rules->dice_floor = parse_double(optarg, 0, 1,
							 "--dice-floor");
			break;
		default:
			cli_other_option(c, usage_text, argv);
		}
	}
	if (argc - optind > 1)
		die_usage("too many arguments");
	if (optind < argc)
		o->path = argv[optind];
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *title, *name;
	char deftitle[256];
	struct curves_log log;
	struct curves_diagnosis d;
	struct image img;
	struct outfile *diagnosis = NULL;
	FILE *f;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	name = strcmp(o.path, "-") == 0 ? "stdin" : o.path;
	outfile_input(o.path);
	if (o.diag_path)
		outfile_check(o.diag_path);

	f = xfopen_read(o.path);
	curves_read(f, name, &log);
	if (f != stdin)
		fclose(f);

	curves_diagnose(&log, &o.rules, &d);
	if (o.diag_path)
		diagnosis = write_diagnosis(o.diag_path, &log, &d);
	else if (!o.quiet)
		fprintf(stderr, "%s: %s\n", prog_name(), d.message);

	title = o.title;
	if (!title) {
		const char *slash = strrchr(name, '/');

		snprintf(deftitle, sizeof deftitle, "%s: %zu epoch%s",
			 slash ? slash + 1 : name, log.n,
			 log.n == 1 ? "" : "s");
		title = deftitle;
	}
	curves_render(&img, o.width, o.height, &log, title, o.dice, d.best);
	pamio_write(stdout, &img);
	image_free(&img);
	curves_free(&log);
	close_stdout();
	if (diagnosis)
		outfile_commit_or_die(diagnosis);
	return 0;
}
