/* unet-train: train a U-Net on a stream of samples and write the model. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "augment.h"
#include "checkpoint.h"
#include "dataset.h"
#include "dice.h"
#include "dist.h"
#include "infer.h"
#include "metrics.h"
#include "isa.h"
#include "model.h"
#include "nn.h"
#include "normalize.h"
#include "optim.h"
#include "outfile.h"
#include "patch.h"
#include "pool.h"
#include "progress.h"
#include "report.h"
#include "rng.h"
#include "targets.h"
#include "unet.h"
#include "util.h"

#define CKPT_SUFFIX ".ckpt"
#define LOCK_SUFFIX ".lock"

struct options {
	const char *input, *output, *val_path, *log_path, *init_path;
	const char *freeze;  /* --freeze list as given, NULL = none */
	unsigned augment;    /* AUGMENT_* ops */
	struct targets outputs; /* --outputs, foreground by default */
	double val_split, lr, pos_weight, min_delta;
	double lr_factor;    /* --lr-factor */
	double border_w0, border_sigma; /* --border-weight (0 = none) */
	double touch_w0;     /* --touch-weight (0 = none) */
	long epochs, batch, patience;
	long lr_patience;    /* --lr-patience, 0 = never */
	int cosine;          /* --lr-schedule cosine */
	int bf16;            /* --precision bf16 */
	int keep_last;       /* --keep last */
	long patch;          /* --patch, 0 = not given */
	long steps;          /* --steps-per-epoch, 0 = one pass */
	int by_area;         /* --sample-by area: draws in proportion to
				the samples' areas */
	long memory;         /* --memory in MiB */
	struct normalize norm; /* --normalize */
	uint64_t seed;
	int threads, wbce, base_filters, depth, resume, quiet;
	int dice;            /* --loss ...+dice */
	int val_split_given, pos_weight_given, arch_given, sigma_given;
	int norm_given, patience_given;
};

/* The default --border-sigma, for nuclei of 128x128 images (see
 * unet-train(1)). */
#define BORDER_SIGMA 3.0

/* Whether the loss weighs pixels by the instance labels: --border-weight
 * or --touch-weight. */
static int
label_weighted(const struct options *o)
{
	return o->border_w0 > 0 || o->touch_w0 > 0;
}

/* The share of the pixels above which (or below 1 - which) a model's
 * validation predictions are all foreground (or background). */
#define DEGENERATE_SHARE 0.99

/* The patch size of samples of several sizes without --patch, before it
 * is reduced to their median shorter side (see unet-train(1)). */
#define PATCH_DEFAULT 128
#define BATCH_DEFAULT 16

/* The default --memory of validation, in MiB (unet-infer's). */
#define MEMORY_DEFAULT 1024

/* The figures of one epoch. */
struct epoch_result {
	double lr;            /* the learning rate the epoch trained with */
	double train_loss, val_loss, val_dice, val_iou;
	struct confusion val; /* the validation pixels at 0.5 */
	double seconds, train_seconds;
	double sum_seconds, sum_bytes; /* in the gradients' sums (ranks) */
};

/* ------------------------------------------------------------ lock
 * MODEL.lock, beside the model: flock-ed for the whole run so that a
 * second run on the same model refuses, it holds the pid of its holder and
 * is removed at exit. A lock file left by a killed run is harmless: the
 * lock went with its process. */
static char *lock_path;
static volatile sig_atomic_t lock_fd = -1;

/* Remove the lock file while it is still ours (async-signal-safe). */
static void
lock_release(void)
{
	struct stat a, b;
	int saved = errno;

	if (lock_fd >= 0 && fstat(lock_fd, &a) == 0 &&
	    stat(lock_path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		unlink(lock_path);
	lock_fd = -1;
	errno = saved;
}

/* Take the lock of model, or die naming the run that holds it (released
 * at exit by outfile's hook: install_signals first). Once locked, the
 * path must still name the file locked: otherwise its holder removed it
 * in between, and a new one is tried. */
static void
lock_take(const char *model)
{
	char pid[32];

	for (int tries = 0; tries < 2; tries++) {
		int fd = open(lock_path, O_RDWR | O_CREAT | O_NONBLOCK |
			      O_CLOEXEC, 0666);
		struct stat a, b;
		ssize_t n;

		if (fd < 0 || fstat(fd, &a) != 0)
			die("%s:", lock_path);
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK)
				die("%s: cannot lock it:", lock_path);
			n = pread(fd, pid, sizeof pid - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strspn(pid, "0123456789")] = '\0';
			die("%s: another unet-train%s%s%s is training into it",
			    model, pid[0] ? " (pid " : "", pid,
			    pid[0] ? ")" : "");
		}
		if (stat(lock_path, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
			lock_fd = fd;
			if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, n, 0) != n)
				die("%s:", lock_path);
			return;
		}
		close(fd);
	}
	die("%s: removed and created again by another program while it was "
	    "being locked", lock_path);
}

/* ------------------------------------------------------------ signals
 * Until the first epoch starts there is nothing to save: SIGINT or SIGTERM
 * ends the run at once with the line prepared in at_once_line. During
 * training it asks to stop after the current step; a second one ends at
 * once. Other terminating signals end at once without a message (outfile's
 * handler). Every way out removes the temporary files and the lock file
 * (lock_release is outfile's exit hook). */
static volatile sig_atomic_t stop_signal, at_once = 1;
static char at_once_line[PATH_MAX + 256];
static size_t at_once_len;

static void
on_signal(int sig)
{
	if (at_once) {
		if (write(STDERR_FILENO, at_once_line, at_once_len) < 0) {
			/* nothing more to do: the exit status tells */
		}
		outfile_cleanup();
		_exit(128 + sig);
	}
	/* A second signal ends at once: model files are replaced by rename,
	 * so what is on disk stays whole. */
	if (stop_signal)
		outfile_fatal_signal(sig);
	stop_signal = sig;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* The others: outfile's handler where the caller left the default
	 * (signals ignored by the caller, as under nohup, stay ignored). */
	outfile_on_exit(lock_release);
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage_text[] =
"usage: unet-train -o MODEL [options] [FILE]\n"
"Train a U-Net on a stream of RGB_MASK, GRAYSCALE_MASK, RGB_LABEL or\n"
"GRAYSCALE_LABEL samples (FILE or standard input) and write the best\n"
"model to MODEL.\n"
"\n"
"  -o, --output MODEL     model file to write (required)\n"
"      --val FILE         validation samples (default: split off the input)\n"
"      --val-split FRAC   fraction of the input held out for validation\n"
"                         (default 0.1; 0 = no validation)\n"
"      --epochs N         epochs to train (default 50)\n"
"      --batch N          samples per step (default 16, or with --patch P\n"
"                         as many as 16 of 128x128: 4 of 256)\n"
"      --lr X             Adam learning rate (default 0.001)\n"
"      --seed N           seed of initialisation, split and shuffling (default 0)\n"
"      --threads N        worker threads (default: online CPUs, at most " STR(NN_DEFAULT_MAX_THREADS) ")\n"
"      --loss NAME        bce (default) or wbce: plain or class-weighted\n"
"                         cross-entropy; bce+dice or wbce+dice add 1 - the\n"
"                         soft Dice of the foreground, sample by sample, to\n"
"                         optimise the overlap the Dice score measures\n"
"      --pos-weight X     weight of foreground pixels for wbce\n"
"                         (default: background/foreground pixel ratio)\n"
"      --outputs LIST     what the network learns, one output channel each:\n"
"                         foreground (default) or foreground,distance\n"
"                         (distance needs *_LABEL samples)\n"
"      --border-weight W0 weight background pixels between two nuclei\n"
"                         by 1 + W0 exp(-(d1+d2)^2/(2 sigma^2)) (U-Net paper;\n"
"                         needs *_LABEL samples; default 0 = none)\n"
"      --touch-weight W0  weight nucleus pixels near another nucleus by\n"
"                         1 + W0 exp(-d^2/(2 sigma^2)), d the distance to\n"
"                         it (needs *_LABEL samples; default 0 = none)\n"
"      --border-sigma S   sigma of --border-weight and --touch-weight in\n"
"                         pixels (default 3)\n"
"      --patience N       stop after N epochs without improvement of\n"
"                         val_loss (default 5; 0 = never)\n"
"      --min-delta X      smallest val_loss decrease that counts (default 0)\n"
"      --lr-patience N    multiply the learning rate by --lr-factor after\n"
"                         every N epochs without improvement of val_loss\n"
"                         (default 0 = never)\n"
"      --lr-factor X      the factor of --lr-patience (default 0.5)\n"
"      --lr-schedule S    constant (default) or cosine: the rate falls from\n"
"                         --lr to near 0 over --epochs, epoch by epoch\n"
"      --keep WHICH       the epoch whose model MODEL holds: best (the\n"
"                         lowest val_loss, the default) or last (every\n"
"                         epoch, for a fixed budget such as cosine's)\n"
"      --precision P      fp32 (default) or bf16: the Winograd layers'\n"
"                         products (forward and input gradient) in bf16,\n"
"                         summed in fp32; weights, weight gradients and\n"
"                         every other layer fp32 (AVX512_BF16 CPUs;\n"
"                         elsewhere fp32, with a warning)\n"
"      --base-filters F   width of the first level (default 16)\n"
"      --depth D          number of levels (default 5)\n"
"      --init MODEL       start from the weights of MODEL (fine-tuning; a\n"
"                         1-channel model adapts to 3 channels and back)\n"
"      --freeze LIST      keep these layers of the network fixed: encoder\n"
"                         (c1..cD) or layer names such as c1,c2,u6,out\n"
"      --augment LIST     augment every training sample afresh each epoch:\n"
"                         flip,rot90,crop,color,elastic, all or none\n"
"                         (default none)\n"
"      --patch N          train on random NxN patches of samples of any\n"
"                         sizes (N a multiple of 2^(depth-1); default:\n"
"                         whole samples when all have one size)\n"
"      --steps-per-epoch N  an epoch of N steps (default: one pass)\n"
"      --sample-by WHAT   patch training draws every sample as often\n"
"                         (image, the default) or in proportion to its\n"
"                         area (area)\n"
"      --normalize RULE   maxval, percentile or percentile:LOW:HIGH\n"
"                         (default maxval, or the --init model's)\n"
"      --memory MIB       memory budget of validating whole images of\n"
"                         several sizes, tiled beyond it (default " STR(MEMORY_DEFAULT) ")\n"
"      --resume           continue the run recorded in MODEL" CKPT_SUFFIX "\n"
"      --log FILE         write one JSON object per epoch to FILE\n"
"  -q, --quiet            no progress or summary messages\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version, the kernels in use and the MPI\n"
"                         library built in, exit\n";

enum { O_VAL = 256, O_VAL_SPLIT, O_EPOCHS, O_BATCH, O_LR, O_SEED, O_THREADS,
       O_LOSS, O_POS_WEIGHT, O_PATIENCE, O_MIN_DELTA, O_LR_PATIENCE, O_LR_FACTOR, O_LR_SCHEDULE, O_BASE, O_DEPTH,
       O_INIT, O_RESUME, O_LOG, O_FREEZE, O_AUGMENT, O_OUTPUTS,
       O_BORDER_WEIGHT, O_TOUCH_WEIGHT, O_BORDER_SIGMA, O_PATCH, O_STEPS, O_NORMALIZE,
       O_MEMORY, O_SAMPLE_BY, O_PRECISION, O_KEEP };

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "val", required_argument, NULL, O_VAL },
	{ "val-split", required_argument, NULL, O_VAL_SPLIT },
	{ "epochs", required_argument, NULL, O_EPOCHS },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "lr", required_argument, NULL, O_LR },
	{ "seed", required_argument, NULL, O_SEED },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "loss", required_argument, NULL, O_LOSS },
	{ "pos-weight", required_argument, NULL, O_POS_WEIGHT },
	{ "patience", required_argument, NULL, O_PATIENCE },
	{ "min-delta", required_argument, NULL, O_MIN_DELTA },
	{ "lr-patience", required_argument, NULL, O_LR_PATIENCE },
	{ "lr-factor", required_argument, NULL, O_LR_FACTOR },
	{ "lr-schedule", required_argument, NULL, O_LR_SCHEDULE },
	{ "precision", required_argument, NULL, O_PRECISION },
	{ "keep", required_argument, NULL, O_KEEP },
	{ "base-filters", required_argument, NULL, O_BASE },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "init", required_argument, NULL, O_INIT },
	{ "freeze", required_argument, NULL, O_FREEZE },
	{ "augment", required_argument, NULL, O_AUGMENT },
	{ "outputs", required_argument, NULL, O_OUTPUTS },
	{ "border-weight", required_argument, NULL, O_BORDER_WEIGHT },
	{ "touch-weight", required_argument, NULL, O_TOUCH_WEIGHT },
	{ "border-sigma", required_argument, NULL, O_BORDER_SIGMA },
	{ "patch", required_argument, NULL, O_PATCH },
	{ "steps-per-epoch", required_argument, NULL, O_STEPS },
	{ "sample-by", required_argument, NULL, O_SAMPLE_BY },
	{ "normalize", required_argument, NULL, O_NORMALIZE },
	{ "memory", required_argument, NULL, O_MEMORY },
	{ "resume", no_argument, NULL, O_RESUME },
	{ "log", required_argument, NULL, O_LOG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
set_defaults(struct options *o)
{
	memset(o, 0, sizeof *o);
	o->input = "-";
	o->val_split = 0.1;
	o->epochs = 50;
	o->lr = 1e-3;
	o->lr_factor = 0.5;
	o->patience = 5;
	o->base_filters = 16;
	o->depth = 5;
	o->outputs.count = 1;
	o->outputs.kind[0] = TARGET_FOREGROUND;
	o->border_sigma = BORDER_SIGMA;
	o->memory = MEMORY_DEFAULT;
	o->norm.mode = NORMALIZE_MAXVAL;
	o->threads = online_cpus(NN_DEFAULT_MAX_THREADS);
}

/* The loss names, o->wbce + 2 o->dice. */
static const char *const loss_names[] = {
	"bce", "wbce", "bce+dice", "wbce+dice"
};

static const char *
loss_name(const struct options *o)
{
	return loss_names[o->wbce + 2 * o->dice];
}

static void
parse_loss(const char *arg, struct options *o)
{
	for (int i = 0; i < (int)(sizeof loss_names / sizeof *loss_names); i++)
		if (strcmp(arg, loss_names[i]) == 0) {
			o->wbce = i & 1;
			o->dice = i >> 1;
			return;
		}
	die_usage("--loss: '%s' is not bce, wbce, bce+dice or wbce+dice",
		  arg);
}

/* Take option c (argument arg) if it shapes the training run: the data,
 * the steps and the loss. Returns 0 for any other option. */
static int
parse_run_option(int c, const char *arg, struct options *o)
{
	switch (c) {
	case O_VAL:
		o->val_path = arg;
		break;
	case O_VAL_SPLIT:
		o->val_split = parse_double(arg, 0, 1, "--val-split");
		if (o->val_split >= 1)
			die_usage("--val-split: must be below 1");
		o->val_split_given = 1;
		break;
	case O_EPOCHS:
		o->epochs = parse_long(arg, 1, 1000000, "--epochs");
		break;
	case O_BATCH:
		o->batch = parse_long(arg, 1, 65536, "--batch");
		break;
	case O_LR:
		o->lr = parse_double(arg, 0, 1e38, "--lr");
		if (o->lr <= 0)
			die_usage("--lr: must be positive");
		break;
	case O_SEED:
		o->seed = (uint64_t)parse_long(arg, 0, LONG_MAX, "--seed");
		break;
	case O_THREADS:
		o->threads = (int)parse_long(arg, 1, POOL_MAX_THREADS,
					     "--threads");
		break;
	case O_LOSS:
		parse_loss(arg, o);
		break;
	case O_POS_WEIGHT:
		o->pos_weight = parse_double(arg, 0, 1e6, "--pos-weight");
		if (o->pos_weight <= 0)
			die_usage("--pos-weight: must be positive");
		o->pos_weight_given = 1;
		break;
	case O_PATIENCE:
		o->patience = parse_long(arg, 0, 1000000, "--patience");
		o->patience_given = o->patience > 0;
		break;
	case O_MIN_DELTA:
		o->min_delta = parse_double(arg, 0, 1e30, "--min-delta");
		break;
	case O_LR_PATIENCE:
		o->lr_patience = parse_long(arg, 0, 1000000, "--lr-patience");
		break;
	case O_LR_FACTOR:
		o->lr_factor = parse_double(arg, 0, 1, "--lr-factor");
		if (o->lr_factor <= 0 || o->lr_factor >= 1)
			die_usage("--lr-factor: must be above 0 and below 1");
		break;
	case O_LR_SCHEDULE:
		o->cosine = parse_choice(arg, "constant", "cosine",
					 "--lr-schedule");
		break;
	case O_KEEP:
		o->keep_last = parse_choice(arg, "best", "last", "--keep");
		break;
	case O_PRECISION:
		o->bf16 = parse_choice(arg, "fp32", "bf16", "--precision");
		break;
	case O_PATCH:
		o->patch = parse_long(arg, 1, 16384, "--patch");
		break;
	case O_STEPS:
		o->steps = parse_long(arg, 1, 100000000, "--steps-per-epoch");
		break;
	case O_MEMORY:
		o->memory = parse_long(arg, 1, 1L << 30, "--memory");
		break;
	case O_SAMPLE_BY:
		o->by_area = parse_choice(arg, "image", "area", "--sample-by");
		break;
	default:
		return 0;
	}
	return 1;
}

/* Take option c (argument arg) if it is about the model: the network, what
 * it learns, where it and the log are written. Returns 0 for any other
 * option. */
static int
parse_model_option(int c, const char *arg, struct options *o)
{
	char err[256];

	switch (c) {
	case 'o':
		o->output = arg;
		break;
	case O_BASE:
		o->base_filters = (int)parse_long(arg, 1, 4096,
						  "--base-filters");
		o->arch_given = 1;
		break;
	case O_DEPTH:
		o->depth = (int)parse_long(arg, 2, UNET_MAX_DEPTH, "--depth");
		o->arch_given = 1;
		break;
	case O_INIT:
		o->init_path = arg;
		break;
	case O_RESUME:
		o->resume = 1;
		break;
	case O_FREEZE:
		if (!arg[0] || arg[0] == ',' || arg[strlen(arg) - 1] == ',' ||
		    strstr(arg, ",,"))
			die_usage("--freeze: '%s': empty layer name in the "
				  "list", arg);
		o->freeze = arg;
		break;
	case O_AUGMENT:
		if (augment_parse(arg, &o->augment, err, sizeof err) < 0)
			die_usage("--augment: %s", err);
		break;
	case O_NORMALIZE:
		if (normalize_parse(arg, &o->norm, err, sizeof err) < 0)
			die_usage("--normalize: %s", err);
		o->norm_given = 1;
		break;
	case O_OUTPUTS:
		if (targets_parse(arg, &o->outputs, err, sizeof err) < 0)
			die_usage("--outputs: %s", err);
		break;
	case O_BORDER_WEIGHT:
		o->border_w0 = parse_double(arg, 0, 1e6, "--border-weight");
		break;
	case O_TOUCH_WEIGHT:
		o->touch_w0 = parse_double(arg, 0, 1e6, "--touch-weight");
		break;
	case O_BORDER_SIGMA:
		o->border_sigma = parse_double(arg, 0, 1e4, "--border-sigma");
		if (o->border_sigma <= 0)
			die_usage("--border-sigma: must be positive");
		o->sigma_given = 1;
		break;
	case O_LOG:
		o->log_path = arg;
		break;
	case 'q':
		o->quiet = 1;
		break;
	default:
		return 0;
	}
	return 1;
}

/* --patch must keep the network's pooling aligned: a multiple of m. */
static void
check_patch(long patch, int m)
{
	if (patch % m)
		die_usage("--patch %ld: not a multiple of %d (the network's "
			  "2^(depth-1))", patch, m);
}

/* The checks of the options together, once all are read. */
static void
check_options(struct options *o)
{
	char err[256];

	if (!o->output)
		die_usage("--output MODEL is required");
	if (!o->output[0])
		die_usage("--output: empty file name");
	if (o->val_path && o->val_split_given)
		die_usage("--val and --val-split exclude each other");
	if (o->val_path) {
		o->val_split = 0;
		if (strcmp(o->val_path, "-") == 0 && strcmp(o->input, "-") == 0)
			die_usage("--val -: the training samples already come "
				  "from standard input");
	}
	if (dist_size() > 1 && (strcmp(o->input, "-") == 0 ||
				(o->val_path && strcmp(o->val_path, "-") == 0)))
		die_usage("standard input reaches rank 0 only: give every rank "
			  "the training and validation samples as files");
	if (o->pos_weight_given && !o->wbce)
		die_usage("--pos-weight needs --loss wbce or wbce+dice");
	if (o->sigma_given && !label_weighted(o))
		die_usage("--border-sigma needs --border-weight or "
			  "--touch-weight");
	if (o->cosine && o->lr_patience)
		die_usage("--lr-schedule cosine and --lr-patience exclude "
			  "each other");
	if (o->keep_last && (o->patience_given || o->lr_patience))
		die_usage("--keep last trains every epoch: --patience and "
			  "--lr-patience need --keep best");
	if (o->arch_given && !o->init_path && !o->resume) {
		struct unet_config cfg = { 3, o->base_filters, o->depth,
					   o->outputs.count };
		if (unet_config_check(&cfg, err, sizeof err) < 0)
			die_usage("%s", err);
	}
	if (o->patch && !o->init_path && !o->resume)
		check_patch(o->patch, 1 << (o->depth - 1));
}

/* --version: the kernels in use and the MPI library built in. */
static noreturn void
version(void)
{
	char what[256];

	snprintf(what, sizeof what, "%s; MPI: %s", isa_name(isa_current()),
		 dist_library() ? dist_library() : "none");
	cli_version(what);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int c;

	set_defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qhV", longopts, NULL)) != -1) {
		if (parse_run_option(c, optarg, o) ||
		    parse_model_option(c, optarg, o))
			continue;
		/* Rank 0 alone answers; the others end quietly. */
		if (c == 'V' || c == 'h')
			dist_serial_quit(0);
		if (c == 'V')
			version();
		cli_other_option(c, usage_text, argv);
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc)
		die_usage("more than one input FILE");
	check_options(o);
}

/* Report a failed model or checkpoint write: st_write's reason names the
 * file already, except for the odd case. */
static void
die_write(const char *path, const char *err)
{
	static const char we[] = "write error: ";

	if (strncmp(err, we, sizeof we - 1) == 0)
		err += sizeof we - 1;
	if (strstr(err, path))
		die("%s", err);
	die("%s: %s", path, err);
}

/* ------------------------------------------------------------ checkpoint
 * MODEL.ckpt (see checkpoint.h): the "fingerprint" keys must match for
 * --resume to go on. */

struct run {
	const struct options *o;
	const char *ckpt_path;
	struct dataset *train_ds, *val_ds;
	int *train_idx, ntrain, *val_idx, nval;
	double pos_weight;
	int labels;     /* targets from labels: --outputs distance,
			   --border-weight or --touch-weight */
	struct normalize norm; /* --normalize, or the --init model's or the
				  checkpoint's */
	int patch;      /* the patch size, 0 = whole samples */
	long batch;     /* samples or patches per step: --batch or
			   default_batch */
	long steps;     /* steps per epoch */
	long per_epoch; /* samples per epoch */
	struct patch_slot *slots; /* what an epoch draws from: the training
				     samples, by area several times */
	int nslots;
	struct unet *net;
	struct adam *adam;
	struct infer *val_engine; /* validation of patch training, made at
				     its first pass */
	enum nn_precision precision; /* in effect (nn_set_precision) */
	struct train_state st;
	struct confusion best_val; /* the best epoch's, all 0 = unknown */
};

static void
fingerprint(const struct run *r, json_t *meta)
{
	const struct options *o = r->o;
	char aug[64];

	model_meta_set(meta, "train_data", "%016" PRIx64, r->train_ds->hash);
	model_meta_set(meta, "val_data", "%016" PRIx64,
		r->val_ds != r->train_ds ? r->val_ds->hash : 0);
	model_meta_set(meta, "val_split", "%a", o->val_split);
	model_meta_set(meta, "batch", "%ld", r->batch);
	model_meta_set(meta, "lr", "%a", o->lr);
	model_meta_set(meta, "seed", "%" PRIu64, o->seed);
	model_meta_set(meta, "loss", "%s", loss_name(o));
	model_meta_set(meta, "pos_weight", "%a", r->pos_weight);
	model_meta_set(meta, "min_delta", "%a", o->min_delta);
	if (o->lr_patience)
		model_meta_set(meta, "lr_drop", "%ld,%a", o->lr_patience,
			       o->lr_factor);
	else
		model_meta_set(meta, "lr_drop", "none");
	if (o->cosine)
		model_meta_set(meta, "lr_schedule", "cosine,%ld", o->epochs);
	else
		model_meta_set(meta, "lr_schedule", "constant");
	augment_format(o->augment, aug, sizeof aug);
	model_meta_set(meta, "augment", "%s", aug);
	model_meta_set(meta, "freeze", "%s", o->freeze ? o->freeze : "none");
	targets_format(&o->outputs, aug, sizeof aug);
	model_meta_set(meta, "outputs", "%s", aug);
	if (o->border_w0 > 0)
		model_meta_set(meta, "border", "%a,%a", o->border_w0,
			       o->border_sigma);
	else
		model_meta_set(meta, "border", "none");
	if (o->touch_w0 > 0)
		model_meta_set(meta, "touch", "%a,%a", o->touch_w0,
			       o->border_sigma);
	else
		model_meta_set(meta, "touch", "none");
	if (r->patch)
		model_meta_set(meta, "patch", "%d", r->patch);
	else
		model_meta_set(meta, "patch", "none");
	if (o->steps)
		model_meta_set(meta, "steps_per_epoch", "%ld", o->steps);
	else
		model_meta_set(meta, "steps_per_epoch", "pass");
	model_meta_set(meta, "sample_by", "%s", o->by_area ? "area" : "image");
	normalize_format(&r->norm, aug, sizeof aug);
	model_meta_set(meta, "normalize", "%s", aug);
	model_meta_set(meta, "precision", "%s",
		       r->precision == NN_BF16 ? "bf16" : "fp32");
	model_meta_set(meta, "keep", "%s", o->keep_last ? "last" : "best");
}

static void
save_checkpoint(struct run *r)
{
	json_t *fp = json_object();
	char err[512];

	fingerprint(r, fp);
	if (checkpoint_save(r->ckpt_path, r->net, r->adam, &r->st, fp, err,
			    sizeof err) < 0)
		die_write(r->ckpt_path, err);
	json_decref(fp);
}

/* Load the architecture, weights, moments and state of r->ckpt_path. The
 * fingerprint is checked later, once the data is read (check_resume). */
static struct checkpoint *
load_checkpoint(struct run *r)
{
	const char *path = r->ckpt_path;
	const struct unet_config *cfg;
	struct checkpoint *ck;
	char err[512];

	if (access(path, F_OK) != 0)
		die("%s: no checkpoint to resume from:", path);
	ck = checkpoint_open(path, err, sizeof err);
	if (!ck)
		die("%s: %s", path, err);
	cfg = checkpoint_config(ck);
	if (r->o->arch_given && (cfg->base_filters != r->o->base_filters ||
				 cfg->depth != r->o->depth))
		die("%s: cannot resume: the checkpoint's network has "
		    "--base-filters %d --depth %d", path, cfg->base_filters,
		    cfg->depth);
	if (checkpoint_restore(ck, r->o->lr, &r->net, &r->adam, &r->st, err,
			       sizeof err) < 0)
		die("%s: %s", path, err);
	return ck;
}

/* Refuse to resume when the data or an option that shapes the run
 * differs from the checkpoint's. */
static void
check_resume(struct run *r, const struct checkpoint *ck)
{
	static const char *const keys[] = {
		"train_data", "val_data", "val_split", "batch", "lr", "seed",
		"loss", "pos_weight", "min_delta", "augment", "freeze",
		"outputs", "border", "touch", "patch", "steps_per_epoch",
		"normalize", "lr_drop", "sample_by", "lr_schedule", "precision",
		"keep"
	};
	/* What checkpoints written before a key ran with. */
	static const char *const old[][2] = {
		{ "augment", "none" }, { "freeze", "none" },
		{ "outputs", "foreground" }, { "border", "none" },
		{ "touch", "none" },
		{ "patch", "none" }, { "steps_per_epoch", "pass" },
		{ "normalize", "maxval" }, { "lr_drop", "none" },
		{ "sample_by", "image" }, { "lr_schedule", "constant" },
		{ "precision", "fp32" }, { "keep", "best" }
	};
	json_t *now = json_object();

	fingerprint(r, now);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *is = json_string_value(json_object_get(now,
								   keys[i]));
		const char *was;
		was = checkpoint_get(ck, keys[i]);
		for (size_t j = 0; !was && j < sizeof old / sizeof old[0]; j++)
			if (strcmp(keys[i], old[j][0]) == 0)
				was = old[j][1];
		if (!was)
			die("%s: not a unet-train checkpoint (no \"%s\")",
			    r->ckpt_path, keys[i]);
		if (strcmp(was, is) != 0)
			die("%s: cannot resume: %s differs from the "
			    "interrupted run's (same data and options needed)",
			    r->ckpt_path, keys[i]);
	}
	json_decref(now);
}

/* ------------------------------------------------------------ training */

static void
save_model(struct run *r, const struct epoch_result *e)
{
	const struct options *o = r->o;
	json_t *meta = json_object();
	char err[512], aug[64];

	if (r->patch) {
		model_meta_set(meta, "patch", "%d", r->patch);
	} else {
		model_meta_set(meta, "input_width", "%d", r->train_ds->width);
		model_meta_set(meta, "input_height", "%d",
			       r->train_ds->height);
	}
	normalize_format(&r->norm, aug, sizeof aug);
	model_meta_set(meta, "normalize", "%s", aug);
	model_meta_set(meta, "epoch", "%ld", r->st.epoch);
	model_meta_set(meta, "train_loss", "%.9g", e->train_loss);
	if (r->nval > 0) {
		model_meta_set(meta, "val_loss", "%.9g", e->val_loss);
		model_meta_set(meta, "val_dice", "%.9g", e->val_dice);
		model_meta_set(meta, "val_iou", "%.9g", e->val_iou);
	}
	model_meta_set(meta, "seed", "%" PRIu64, o->seed);
	model_meta_set(meta, "loss", "%s", loss_name(o));
	if (o->wbce)
		model_meta_set(meta, "pos_weight", "%.9g", r->pos_weight);
	model_meta_set(meta, "lr", "%.9g", o->lr);
	if (o->lr_patience)
		model_meta_set(meta, "lr_drop", "%ld,%.9g", o->lr_patience,
			       o->lr_factor);
	if (o->cosine)
		model_meta_set(meta, "lr_schedule", "cosine");
	if (r->precision == NN_BF16)
		model_meta_set(meta, "precision", "bf16");
	if (o->keep_last)
		model_meta_set(meta, "keep", "last");
	model_meta_set(meta, "batch", "%ld", r->batch);
	if (o->steps)
		model_meta_set(meta, "steps_per_epoch", "%ld", o->steps);
	if (o->by_area)
		model_meta_set(meta, "sample_by", "area");
	augment_format(o->augment, aug, sizeof aug);
	model_meta_set(meta, "augment", "%s", aug);
	if (o->freeze)
		model_meta_set(meta, "freeze", "%s", o->freeze);
	if (o->init_path)
		model_meta_set(meta, "init", "%s", o->init_path);
	if (o->outputs.count > 1) {
		targets_format(&o->outputs, aug, sizeof aug);
		model_meta_set(meta, "outputs", "%s", aug);
	}
	if (o->border_w0 > 0)
		model_meta_set(meta, "border_weight", "%.9g", o->border_w0);
	if (o->touch_w0 > 0)
		model_meta_set(meta, "touch_weight", "%.9g", o->touch_w0);
	if (label_weighted(o))
		model_meta_set(meta, "border_sigma", "%.9g", o->border_sigma);
	model_meta_set(meta, "created_by", "unet-train (unetpipe %s)",
		UNETPIPE_VERSION);
	if (model_save(o->output, r->net, meta, err, sizeof err) < 0)
		die_write(o->output, err);
	json_decref(meta);
}

/* A loss or metric for messages: 4 decimals, or 4 digits when huge (a
 * diverging run). */
static const char *
fmt4(double v, char *buf, size_t len)
{
	snprintf(buf, len, fabs(v) < 1e4 ? "%.4f" : "%.4g", v);
	return buf;
}

/* What is on disk, for the messages of an early end. */
static void
last_good(const struct run *r, char *buf, size_t len)
{
	char b[32];

	/* best_loss is finite when there is validation (also before the
	 * data is read, after a checkpoint is loaded). */
	if (r->st.best_epoch == 0)
		snprintf(buf, len, "no model was written yet");
	else if (isfinite(r->st.best_loss))
		snprintf(buf, len, "last good model (epoch %ld, val_loss %s) "
			 "is in %s", r->st.best_epoch,
			 fmt4(r->st.best_loss, b, sizeof b),
			 r->o->output);
	else
		snprintf(buf, len, "last good model (epoch %ld) is in %s",
			 r->st.best_epoch, r->o->output);
}

/* The line of an interruption, '\n' included. */
static void
interrupted_line(const struct run *r, char *buf, size_t len)
{
	char good[PATH_MAX + 128];

	last_good(r, good, sizeof good);
	if (dist_size() > 1)
		snprintf(buf, len, "%s: terminated (a rank failed or the job "
			 "was stopped); %s\n", prog_name(), good);
	else
		snprintf(buf, len, "%s: interrupted; %s\n", prog_name(),
			 good);
}

static void
interrupted(const struct run *r, struct progress *pg)
{
	char buf[PATH_MAX + 256];

	progress_clear(pg);
	interrupted_line(r, buf, sizeof buf);
	fputs(buf, stderr);
	exit(128 + stop_signal);
}

/* Prepare the line of an interruption before the first epoch (and after
 * every epoch on several processes, where a signal always ends at once;
 * ranks other than 0 end without a word). */
static void
prepare_at_once(const struct run *r)
{
	char buf[sizeof at_once_line] = "";
	sigset_t set, old;

	if (dist_rank() == 0)
		interrupted_line(r, buf, sizeof buf);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	memcpy(at_once_line, buf, sizeof buf);
	at_once_len = strlen(buf);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Stop every rank with the one line of rank 0: for what every rank finds
 * together (the sums they share). */
static noreturn void
die_together(int status, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (dist_size() == 1 && status == 2)
		die_usage("%s", msg);
	if (dist_size() == 1)
		die("%s", msg);
	if (dist_rank() == 0)
		fprintf(stderr, "%s: %s\n", prog_name(), msg);
	/* A rank that leaves first makes mpirun stop the others: their
	 * line of an interruption would be a second one. */
	at_once_len = 0;
	dist_exit(status);
}

static void
not_finite(const struct run *r, struct progress *pg, const char *where,
	   const char *what, double loss)
{
	char buf[PATH_MAX + 128];

	progress_clear(pg);
	if (r->st.best_epoch == 0)
		snprintf(buf, sizeof buf, "no model was written");
	else
		snprintf(buf, sizeof buf, "last good model in %s",
			 r->o->output);
	die_together(1, "%s: %s is %s; stopping, %s", where, what,
		     isnan(loss) ? "nan" : "inf", buf);
}

/* The buffers of one batch of wbatch samples of width x height pixels
 * (whole samples, or patches). */
struct batch {
	int width, height;
	float *target;    /* wbatch * pixels * K, NHWC */
	float *weight;    /* the same, or NULL without --border-weight,
			     --touch-weight and patches */
	float *prob;      /* wbatch * pixels: the foreground probability */
	float *fg;        /* wbatch * pixels: the foreground target (K > 1) */
	uint16_t *labels; /* wbatch * pixels, or NULL without r->labels */
	float *plane;     /* pixels: one weight map (--border-weight,
			     --touch-weight) */
	int weighted;     /* the last fill_batch has weights other than 1 */
};

static void
batch_alloc(struct batch *b, const struct run *r, int wbatch, int width,
	    int height)
{
	size_t npix = (size_t)width * height;
	size_t n = (size_t)wbatch * npix, k = (size_t)r->o->outputs.count;

	memset(b, 0, sizeof *b);
	b->width = width;
	b->height = height;
	b->target = xmalloc_for(n * k, sizeof *b->target, "the targets");
	b->prob = xmalloc_for(n, sizeof *b->prob, "the probabilities");
	if (k > 1)
		b->fg = xmalloc_for(n, sizeof *b->fg, "the targets");
	if (r->labels)
		b->labels = xmalloc_for(n, sizeof *b->labels, "the labels");
	if (label_weighted(r->o) || r->patch)
		b->weight = xmalloc_for(n * k, sizeof *b->weight,
					"the weights");
	if (label_weighted(r->o))
		b->plane = xmalloc_for(npix, sizeof *b->plane, "the weights");
}

static void
batch_free(struct batch *b)
{
	free(b->target);
	free(b->weight);
	free(b->prob);
	free(b->fg);
	free(b->labels);
	free(b->plane);
}

/* The input and targets of one training sample, sample i of ds drawn for
 * the draw-th time in epoch (> 0), into x, t (or lab when the targets
 * come from labels) of b's size: a patch at a position drawn from the
 * sample's generator (patch_rng) when patch training, then augmented
 * with the same generator when --augment asks, so that the draw depends
 * neither on the batch it falls in nor on the thread count, and --resume
 * repeats it. A sample smaller than the patch is padded on the right and
 * bottom; *w x *h are the pixels of real data (at the top left). */
static void
fill_sample(const struct run *r, const struct dataset *ds, int i, int draw,
	    long epoch, float *x, float *t, uint16_t *lab, int *w, int *h)
{
	const struct options *o = r->o;
	const struct dataset_sample *s = &ds->samples[i];
	int c = ds->channels, x0 = 0, y0 = 0, size = epoch > 0 ? r->patch : 0;
	struct rng rng;

	*w = s->width;
	*h = s->height;
	if (epoch > 0 && (size || o->augment))
		patch_rng(&rng, o->seed, (uint64_t)epoch, (uint64_t)i,
			  (uint64_t)draw);
	if (size) {
		patch_draw(&rng, s->width, s->height, size, &x0, &y0);
		*w = s->width < size ? s->width : size;
		*h = s->height < size ? s->height : size;
	}
	dataset_window(ds, i, x0, y0, *w, *h, x, t, lab);
	if (epoch > 0 && o->augment) {
		if (lab)
			augment_apply_labels(o->augment, &rng, x, lab, *w, *h,
					     c);
		else
			augment_apply(o->augment, &rng, x, t, *w, *h, c);
	}
	if (!size || (*w == size && *h == size))
		return;
	patch_pad(x, c * sizeof *x, *w, *h, size);
	if (lab)
		patch_pad(lab, sizeof *lab, *w, *h, size);
	else
		patch_pad(t, sizeof *t, *w, *h, size);
}

/* The input and targets of the n samples idx[] of ds (training when
 * epoch > 0: their draws[], see fill_sample; whole samples for
 * validation). With labels, the targets (and weights) are derived after
 * the augmentation; padding gets weight 0. */
static void
fill_batch(const struct run *r, const struct dataset *ds, const int *idx,
	   const int *draws, int n, long epoch, float *input, struct batch *b)
{
	const struct options *o = r->o;
	int bw = b->width, bh = b->height;
	size_t npix = (size_t)bw * bh;
	int c = ds->channels, kc = o->outputs.count;

	b->weighted = label_weighted(o);
	for (int k = 0; k < n; k++) {
		float *x = input + (size_t)k * npix * c;
		float *t = b->target + (size_t)k * npix * kc;
		uint16_t *lab = r->labels ? b->labels + (size_t)k * npix : NULL;
		int w, h;

		fill_sample(r, ds, idx[k], draws ? draws[k] : 0, epoch, x,
			    lab ? NULL : t, lab, &w, &h);
		if (w < bw || h < bh)
			b->weighted = 1;
		if (lab)
			targets_fill(&o->outputs, lab, bw, bh, t);
		if (!b->weight)
			continue;
		if (b->plane)
			targets_border_weight(lab, bw, bh, o->border_w0,
					      o->touch_w0, o->border_sigma,
					      b->plane);
		for (size_t p = 0; p < npix; p++) {
			int in = (int)(p % bw) < w && (int)(p / bw) < h;
			float v = !in ? 0 : b->plane ? b->plane[p] : 1;
			for (int j = 0; j < kc; j++)
				b->weight[((size_t)k * npix + p) * kc + j] = v;
		}
	}
}

/* This process's share of n items, [*lo, *hi): all of them alone, a
 * contiguous slice of them as one of several ranks. */
static void
share(long n, long *lo, long *hi)
{
	*lo = n * dist_rank() / dist_size();
	*hi = n * (dist_rank() + 1) / dist_size();
}

/* The sums of a validation pass: the cross-entropy over its elements, the
 * Dice loss over its images. */
struct val_sums {
	double bce, elements, dice, images;
};

/* Add the loss of n whole images of npix pixels (their logits, b's
 * targets and weights) to v: both validation paths compute it here. */
static void
add_loss(const struct run *r, const float *logits, const struct batch *b,
	 int n, size_t npix, struct val_sums *v)
{
	int kc = r->o->outputs.count;
	const float *wt = b->weighted ? b->weight : NULL;
	size_t nel = n * npix * kc;

	v->bce += nn_bce_logits(r->o->threads, logits, b->target, wt, nel,
				(float)r->pos_weight, NULL) * nel;
	v->elements += nel;
	if (r->o->dice)
		v->dice += dice_loss_logits(r->o->threads, logits, b->target,
					    wt, kc, n, npix, NULL) * n;
	v->images += n;
}

/* The figures of the validation pass from its sums v and its confusion, of
 * this process's share (summed over every rank here): the loss is the
 * mean cross-entropy of the elements plus the mean Dice loss of the
 * images, as in training. */
static void
val_result(const struct run *r, struct progress *pg, long ep,
	   const struct val_sums *v, const struct confusion *c,
	   struct epoch_result *e)
{
	double d[4] = { v->bce, v->elements, v->dice, v->images };
	uint64_t u[4] = { c->tp, c->fp, c->fn, c->tn };

	dist_sum_double(d, 4);
	dist_sum_u64(u, 4);
	e->val_loss = d[0] / d[1] + d[2] / d[3];
	if (!isfinite(e->val_loss)) {
		char where[64];
		snprintf(where, sizeof where, "epoch %ld", ep);
		not_finite(r, pg, where, "val_loss", e->val_loss);
	}
	e->val = (struct confusion){ u[0], u[1], u[2], u[3] };
	e->val_dice = metric_dice(&e->val);
	e->val_iou = metric_iou(&e->val);
}

/* The share of the validation pixels predicted foreground at 0.5. */
static double
predicted_foreground(const struct confusion *c)
{
	uint64_t all = c->tp + c->fp + c->fn + c->tn;

	return all ? (double)(c->tp + c->fp) / all : NAN;
}

/* Add the foreground of n pixels of K-channel logits (and targets) to c
 * at 0.5, prob and fg n floats of scratch; the probabilities on nt
 * threads. */
static void
add_foreground(int nt, struct confusion *c, const float *logits,
	       const float *target,
	       size_t n, int kc, float *prob, float *fg)
{
	if (kc > 1) {
		for (size_t p = 0; p < n; p++) {
			prob[p] = logits[p * kc];
			fg[p] = target[p * kc];
		}
		logits = prob;
		target = fg;
	}
	nn_sigmoid(nt, logits, prob, n);
	confusion_add(c, prob, target, n, 0.5);
}

/* The validation pass of whole-sample training: the loss over every
 * output (weights included), the Dice and IoU of the foreground channel
 * at 0.5. */
static void
validate(struct run *r, struct unet_work *w, int wbatch, struct batch *b,
	 struct progress *pg, struct epoch_result *e, long ep)
{
	size_t npix = (size_t)b->width * b->height;
	struct confusion c = { 0 };
	struct val_sums v = { 0 };
	long lo, hi;

	share(r->nval, &lo, &hi);
	for (int i = (int)lo; i < hi; i += wbatch) {
		int n = hi - i < wbatch ? (int)hi - i : wbatch;
		const float *logits;

		fill_batch(r, r->val_ds, r->val_idx + i, NULL, n, 0,
			   unet_work_input(w), b);
		logits = unet_forward(w, n);
		add_loss(r, logits, b, n, npix, &v);
		add_foreground(r->o->threads, &c, logits, b->target, n * npix,
			       r->o->outputs.count, b->prob, b->fg);
		if (stop_signal)
			interrupted(r, pg);
		progress_draw(pg, 0, "epoch %ld/%ld validation %ld/%ld",
			      ep, r->o->epochs, i + n - lo, hi - lo);
	}
	val_result(r, pg, ep, &v, &c, e);
}

static const struct dataset *sort_ds;

/* Validation samples by size (height, width), then stream order. */
static int
by_size(const void *a, const void *b)
{
	const struct dataset_sample *x = &sort_ds->samples[*(const int *)a];
	const struct dataset_sample *y = &sort_ds->samples[*(const int *)b];

	if (x->height != y->height)
		return x->height < y->height ? -1 : 1;
	if (x->width != y->width)
		return x->width < y->width ? -1 : 1;
	return (*(const int *)a > *(const int *)b) -
	       (*(const int *)a < *(const int *)b);
}

/* The validation of n whole samples idx[] of one size through inf:
 * their loss added to v and their foreground to c. */
static void
validate_group(struct run *r, struct infer *inf, const int *idx, int n,
	       struct val_sums *v, struct confusion *c)
{
	const struct dataset_sample *s = &r->val_ds->samples[idx[0]];
	int kc = r->o->outputs.count, ch = r->val_ds->channels;
	size_t npix = (size_t)n * s->width * s->height;
	float *input = xmalloc_for(npix * ch, sizeof *input, "the input");
	float *logits = xmalloc_for(npix * kc, sizeof *logits, "the logits");
	struct batch b;

	batch_alloc(&b, r, n, s->width, s->height);
	fill_batch(r, r->val_ds, idx, NULL, n, 0, input, &b);
	infer_images(inf, n, s->width, s->height, input, logits);
	add_loss(r, logits, &b, n, (size_t)s->width * s->height, v);
	add_foreground(r->o->threads, c, logits, b.target, npix, kc, b.prob,
		       b.fg);
	batch_free(&b);
	free(input);
	free(logits);
}

/* The validation pass of patch training: every sample whole, at its own
 * size, through infer (tiled beyond --memory), samples of one size
 * together as many as infer takes in one pass; the loss over every output
 * and pixel (weights included), the Dice and IoU of the foreground at 0.5. */
static void
validate_native(struct run *r, struct progress *pg, struct epoch_result *e,
		long ep)
{
	int *idx = xmalloc(r->nval * sizeof *idx);
	struct confusion c = { 0 };
	struct val_sums v = { 0 };
	long lo, hi;

	/* One engine for the run: its maps are touched once, and it reads
	 * the network's weights of the pass. */
	if (!r->val_engine)
		r->val_engine = infer_new(r->net, r->o->threads,
					  r->o->memory * 1024.0 * 1024.0, -1);

	memcpy(idx, r->val_idx, r->nval * sizeof *idx);
	sort_ds = r->val_ds;
	qsort(idx, r->nval, sizeof *idx, by_size);
	share(r->nval, &lo, &hi);
	for (int i = (int)lo, n; i < hi; i += n) {
		const struct dataset_sample *s = &r->val_ds->samples[idx[i]];
		int most = infer_batch(r->val_engine, s->width, s->height);
		for (n = 1; i + n < hi && n < most; n++) {
			const struct dataset_sample *t =
				&r->val_ds->samples[idx[i + n]];
			if (t->width != s->width || t->height != s->height)
				break;
		}
		validate_group(r, r->val_engine, idx + i, n, &v, &c);
		if (stop_signal)
			interrupted(r, pg);
		progress_draw(pg, 0, "epoch %ld/%ld validation %ld/%ld",
			      ep, r->o->epochs, i + n - lo, hi - lo);
	}
	free(idx);
	val_result(r, pg, ep, &v, &c, e);
}

/* The gradient and loss of a step of n samples (m of them this process's,
 * their loss `loss`) summed over every rank: each rank's gradient of the
 * mean over its m samples scaled by m / n, so that the sum is the
 * gradient of the mean over the n, as one process computes it. Returns
 * the loss of the n. Alone, nothing to do. */
static double
sum_step(struct run *r, int n, int m, double loss)
{
	size_t count;
	float *g = unet_grads(r->net, &count);
	float scale = (float)m / n;
	double part = loss * m;

	if (dist_size() == 1)
		return loss;
	if (m == 0)
		memset(g, 0, count * sizeof *g);
	for (size_t i = 0; m > 0 && m < n && i < count; i++)
		g[i] *= scale;
	dist_sum_float(g, count);
	dist_sum_double(&part, 1);
	return part / n;
}

/* One epoch: r->steps training steps, then the validation pass. */
static void
run_epoch(struct run *r, struct unet_work *w, int wbatch, struct batch *b,
	  struct progress *pg, struct epoch_result *e)
{
	const struct options *o = r->o;
	long ep = r->st.epoch + 1, total = r->per_epoch, done = 0;
	int *order = xmalloc_for(total, sizeof *order, "the epoch's order");
	int *draws = xmalloc_for(total, sizeof *draws, "the epoch's order");
	double start = now_seconds(), sum = 0, s0, b0;

	e->lr = r->adam->lr;
	dist_stats(&s0, &b0);
	patch_epoch(&r->st.rng, r->slots, r->nslots, total, order, draws);
	for (long s = 0; s < r->steps; s++) {
		int n = total - done < r->batch ? (int)(total - done)
						: (int)r->batch;
		double loss = 0, el, rate;
		char where[64], eta[32], buf[32];
		long lo, hi;

		share(n, &lo, &hi);
		if (hi > lo) {
			fill_batch(r, r->train_ds, order + done + lo,
				   draws + done + lo, (int)(hi - lo), ep,
				   unet_work_input(w), b);
			unet_forward(w, (int)(hi - lo));
			loss = unet_backward(w, (int)(hi - lo), b->target,
					     b->weighted ? b->weight : NULL,
					     (float)r->pos_weight, o->dice);
		}
		loss = sum_step(r, n, (int)(hi - lo), loss);
		if (!isfinite(loss)) {
			snprintf(where, sizeof where, "epoch %ld step %ld", ep,
				 s + 1);
			not_finite(r, pg, where, "loss", loss);
		}
		adam_step(r->adam, r->net, o->threads);
		sum += loss * n;
		done += n;
		if (stop_signal)
			interrupted(r, pg);
		el = now_seconds() - start;
		rate = done / el;
		progress_duration((total - done) / rate, eta, sizeof eta);
		progress_draw(pg, s + 1 == r->steps, "epoch %ld/%ld step "
			      "%ld/%ld loss %s %.1f img/s ETA %s", ep,
			      o->epochs, s + 1, r->steps,
			      fmt4(sum / done, buf, sizeof buf), rate, eta);
	}
	free(order);
	free(draws);
	e->train_loss = sum / total;
	e->train_seconds = now_seconds() - start;
	dist_stats(&e->sum_seconds, &e->sum_bytes);
	e->sum_seconds -= s0;
	e->sum_bytes -= b0;

	e->val_loss = e->val_dice = e->val_iou = NAN;
	memset(&e->val, 0, sizeof e->val);
	if (r->nval > 0 && r->patch)
		validate_native(r, pg, e, ep);
	else if (r->nval > 0)
		validate(r, w, wbatch, b, pg, e, ep);
	e->seconds = now_seconds() - start;
}

static json_t *
real_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* ------------------------------------------------------------ log
 * The log's text: the previous log's lines up to the checkpoint's epoch
 * (--resume), then one line per epoch, written whole through outfile at
 * the end of each epoch, just before its checkpoint. A run that fails
 * before its first epoch leaves the previous log as it was, and the log on
 * disk matches the model and checkpoint on disk (or is one epoch ahead of
 * the checkpoint, like the model, when killed between the two). */
#define LOG_LINE_MAX 65536

struct log {
	const char *path;
	char *text;
	size_t len, cap;
};

static void
log_add(struct log *l, const char *line)
{
	size_t n = strlen(line);

	if (l->cap - l->len < n + 1) {
		l->cap = 2 * (l->len + n + 1);
		l->text = xreallocarray(l->text, l->cap, 1);
	}
	memcpy(l->text + l->len, line, n);
	l->len += n;
	l->text[l->len++] = '\n';
}

/* On --resume, keep the previous log's lines before the first one of an
 * epoch after the checkpoint's (written by the interrupted run after its
 * last checkpoint, if any). */
static void
log_resume(struct log *l, long epoch)
{
	char err[256], *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	struct stat sb;
	FILE *f;

	if (stat(l->path, &sb) != 0 && errno == ENOENT)
		return;
	f = fopen_regular(l->path, err, sizeof err);
	if (!f)
		die("%s: %s", l->path, err);
	while (read_line(f, l->path, &line, &cap, LOG_LINE_MAX, &lineno) >= 0) {
		json_t *obj = json_loads(line, 0, NULL);
		json_t *ep = json_object_get(obj, "epoch");
		int later = json_is_integer(ep) &&
			    json_integer_value(ep) > epoch;

		json_decref(obj);
		if (later)
			break;
		log_add(l, line);
	}
	free(line);
	fclose(f);
}

static void
log_epoch(struct log *l, const struct run *r, const struct epoch_result *e)
{
	json_t *obj = report_object();
	struct outfile *of;
	char *s;

	report_set(obj, "epoch", json_integer(r->st.epoch));
	report_set(obj, "train_loss", json_real(e->train_loss));
	report_set(obj, "val_loss", real_or_null(e->val_loss));
	report_set(obj, "val_dice", real_or_null(e->val_dice));
	report_set(obj, "val_iou", real_or_null(e->val_iou));
	report_set(obj, "val_foreground",
		   real_or_null(predicted_foreground(&e->val)));
	report_set(obj, "lr", json_real(e->lr));
	report_set(obj, "seconds", json_real(e->seconds));
	report_set(obj, "images_per_second",
		   real_or_null(r->per_epoch / e->train_seconds));
	if (dist_size() > 1) {
		report_set(obj, "processes", json_integer(dist_size()));
		report_set(obj, "allreduce_seconds",
			   json_real(e->sum_seconds));
		report_set(obj, "allreduce_bytes", json_real(e->sum_bytes));
	}
	s = json_dumps(obj, REPORT_LINE(9));
	if (!s)
		die("%s: cannot encode the log line", l->path);
	log_add(l, s);
	free(s);
	json_decref(obj);
	of = outfile_open_or_die(l->path);
	fwrite(l->text, 1, l->len, outfile_stream(of));
	outfile_commit_or_die(of);
}

static void
epoch_line(const struct run *r, const struct epoch_result *e)
{
	char val[128] = "", b1[32], b2[32];

	if (r->nval > 0)
		snprintf(val, sizeof val, " val_loss %s val_dice %.4f",
			 fmt4(e->val_loss, b1, sizeof b1), e->val_dice);
	fprintf(stderr, "%s: epoch %ld/%ld: loss %s%s %.1f img/s %.*f s\n",
		prog_name(), r->st.epoch, r->o->epochs,
		fmt4(e->train_loss, b2, sizeof b2), val,
		r->per_epoch / e->train_seconds, e->seconds < 10 ? 1 : 0,
		e->seconds);
}

/* Bytes allocated from the heap now (for the memory report). */
static size_t
heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static double
mib(size_t bytes)
{
	return bytes / (1024.0 * 1024.0);
}

/* Hold out round(n * fraction) samples (at least one) for validation,
 * chosen with a generator of their own (the run's may come from a
 * checkpoint); both lists keep the stream order. */
static void
split(struct run *r, int n, double fraction)
{
	int *perm = xmalloc(n * sizeof *perm);
	char *is_val = xcalloc(n, 1);
	int nval = (int)floor(n * fraction + 0.5);
	struct rng rng;

	rng_seed(&rng, r->o->seed ^ 0x5b1e5eedULL);
	if (nval < 1)
		nval = 1;
	if (nval >= n)
		die("%s: %d sample(s) are too few for --val-split %g (use "
		    "--val-split 0 or --val FILE)", r->o->input[0] == '-' &&
		    !r->o->input[1] ? "stdin" : r->o->input, n, fraction);
	for (int i = 0; i < n; i++)
		perm[i] = i;
	rng_shuffle(&rng, perm, n);
	for (int i = 0; i < nval; i++)
		is_val[perm[i]] = 1;
	r->val_idx = xmalloc(nval * sizeof *r->val_idx);
	r->train_idx = xmalloc((n - nval) * sizeof *r->train_idx);
	for (int i = 0; i < n; i++) {
		if (is_val[i])
			r->val_idx[r->nval++] = i;
		else
			r->train_idx[r->ntrain++] = i;
	}
	free(perm);
	free(is_val);
}

static int *
identity(int n)
{
	int *idx = xmalloc((n ? n : 1) * sizeof *idx);

	for (int i = 0; i < n; i++)
		idx[i] = i;
	return idx;
}

/* A new string: path followed by suffix. */
static char *
with_suffix(const char *path, const char *suffix)
{
	size_t n = strlen(path) + strlen(suffix) + 1;
	char *p = xmalloc(n);

	snprintf(p, n, "%s%s", path, suffix);
	return p;
}

static const char *
stream_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "stdin" : path;
}

/* Mark the parameters named by --freeze (encoder = c1..cD; a layer name
 * covers the parameters under it) frozen: adam_step skips them. */
static void
setup_freeze(struct run *r)
{
	int depth = unet_get_config(r->net)->depth;
	char *list, *save = NULL;

	if (!r->o->freeze)
		return;
	list = xstrdup(r->o->freeze);
	for (char *e = strtok_r(list, ",", &save); e;
	     e = strtok_r(NULL, ",", &save)) {
		if (!unet_freeze(r->net, e))
			die_usage("--freeze: no layer '%s' in the network "
				  "(encoder, c1..c%d, u%d%s%.0d, out)", e,
				  2 * depth - 1, depth + 1,
				  depth > 2 ? "..u" : "",
				  depth > 2 ? 2 * depth - 1 : 0);
	}
	free(list);
}

/* The network of --init adapted to the data's channels (see
 * unet_adapt_channels), or refused. */
static struct unet *
adapt_channels(struct unet *old, int channels, const char *model,
	       const char *input, int quiet)
{
	int from = unet_get_config(old)->in_channels;
	struct unet *net = unet_adapt_channels(old, channels);

	if (!net)
		die("%s: image 1: %d channel(s), the model %s expects %d "
		    "(only 1 and 3 channels adapt to each other)", input,
		    channels, model, from);
	if (!quiet)
		fprintf(stderr, "%s: %s: first layer adapted from %d to %d "
			"input channel(s)\n", prog_name(), model, from,
			channels);
	unet_free(old);
	return net;
}

/* The targets of --outputs distance and the weights of --border-weight
 * and --touch-weight come from instance labels: every sample of ds must have them. */
static void
need_labels(const struct options *o, const struct dataset *ds,
	    const char *path)
{
	int i = dataset_first_unlabelled(ds);

	if (i < 0)
		return;
	die("%s: image %d: a mask without instance labels; %s needs RGB_LABEL "
	    "or GRAYSCALE_LABEL samples (ingest-resize keeps the nuclei of a "
	    "Data Science Bowl folder)", stream_name(path), i + 1,
	    targets_need_labels(&o->outputs) ? "--outputs distance"
	    : o->border_w0 > 0 ? "--border-weight" : "--touch-weight");
}

/* An --init model must have the outputs asked for. */
static void
check_init_outputs(const struct options *o, const json_t *meta)
{
	struct model_outputs mo;
	char err[256], want[64], have[64] = "";
	size_t used = 0;

	if (model_outputs(meta, &mo, err, sizeof err) < 0)
		die("%s: %s", o->init_path, err);
	for (int i = 0; i < mo.count && used < sizeof have; i++)
		used += snprintf(have + used, sizeof have - used, "%s%s",
				 i ? "," : "", mo.name[i]);
	targets_format(&o->outputs, want, sizeof want);
	if (strcmp(have, want) != 0)
		die("%s: the model's outputs are %s, --outputs asks for %s",
		    o->init_path, have, want);
}

/* A run of options o before anything is claimed: nothing trained yet,
 * the generator seeded, the paths beside the model named. */
static void
run_init(struct run *r, const struct options *o, struct log *log)
{
	memset(r, 0, sizeof *r);
	memset(log, 0, sizeof *log);
	r->o = o;
	r->norm = o->norm;
	r->st.best_loss = INFINITY;
	r->st.best_dice = r->st.best_iou = r->st.best_train_loss = NAN;
	rng_seed(&r->st.rng, o->seed);
	r->precision = nn_set_precision(o->bf16 ? NN_BF16 : NN_FP32);
	if (o->bf16 && r->precision != NN_BF16)
		warn_msg("this CPU has no AVX512_BF16: computing in fp32");
	r->ckpt_path = with_suffix(o->output, CKPT_SUFFIX);
	lock_path = with_suffix(o->output, LOCK_SUFFIX);
	log->path = o->log_path;
}

/* Record the inputs and check the outputs before anything is read, then
 * arm the signals and take the lock. The checkpoint and the log are
 * outputs; with --resume the run reads what it replaces, so the checkpoint
 * is recorded as an input only after the outputs are checked. */
static void
claim_files(struct run *r)
{
	const struct options *o = r->o;

	outfile_input(o->input);
	if (o->val_path)
		outfile_input(o->val_path);
	if (o->init_path)
		outfile_input(o->init_path);
	outfile_check(o->output);
	outfile_check(r->ckpt_path);
	outfile_check(lock_path);
	if (o->log_path)
		outfile_check(o->log_path);
	if (o->resume)
		outfile_input(r->ckpt_path);
	/* Until the first epoch a signal ends the run at once; then it only
	 * asks to stop (reads restart). */
	prepare_at_once(r);
	install_signals();
	if (dist_rank() == 0)
		lock_take(o->output);
}

/* The network to start from, before the data is read: the checkpoint's
 * (returned, to be checked against the data) with the log's lines up to
 * it, or the --init model's; none for a new network. */
static struct checkpoint *
load_start(struct run *r, struct log *log)
{
	const struct options *o = r->o;
	struct checkpoint *ckpt;
	json_t *meta;
	char err[512];

	if (o->resume) {
		const char *norm;
		ckpt = load_checkpoint(r);
		prepare_at_once(r);
		if (o->log_path)
			log_resume(log, r->st.epoch);
		norm = checkpoint_get(ckpt, "normalize");
		if (!o->norm_given && norm &&
		    normalize_parse(norm, &r->norm, err, sizeof err) < 0)
			die("%s: normalize: %s", r->ckpt_path, err);
		return ckpt;
	}
	if (o->init_path) {
		r->net = model_load(o->init_path, &meta, err, sizeof err);
		if (!r->net)
			die("%s: %s", o->init_path, err);
		check_init_outputs(o, meta);
		if (!o->norm_given &&
		    model_normalize(meta, &r->norm, err, sizeof err) < 0)
			die("%s: %s", o->init_path, err);
		json_decref(meta);
	}
	return NULL;
}

/* Read the --val samples into val, which must match the training
 * samples; every sample of both is used. */
static void
read_val(struct run *r, struct dataset *val)
{
	const struct options *o = r->o;
	const struct dataset *train = r->train_ds;

	dataset_read(val, o->val_path);
	if (val->count == 0)
		die("%s: no validation samples", stream_name(o->val_path));
	/* Whole-sample training validates with its own work: one size. */
	for (int i = 0; !o->patch && train->width && i < val->count; i++) {
		const struct dataset_sample *s = &val->samples[i];
		if (s->width != train->width || s->height != train->height)
			die("%s: image %d: size %dx%d, the training samples "
			    "are %dx%d (or train on patches with --patch)",
			    stream_name(o->val_path), i + 1, s->width,
			    s->height, train->width, train->height);
	}
	if (val->channels != train->channels)
		die("%s: image 1: %d channel(s), the training samples have %d",
		    stream_name(o->val_path), val->channels, train->channels);
	r->val_ds = val;
	r->val_idx = identity(val->count);
	r->nval = val->count;
	r->train_idx = identity(train->count);
	r->ntrain = train->count;
}

/* Read the training samples into train and the validation samples (into
 * val with --val, else split off train), and check the labels the
 * targets need. */
static void
read_data(struct run *r, struct dataset *train, struct dataset *val)
{
	const struct options *o = r->o;

	dataset_init(train, &r->norm);
	dataset_init(val, &r->norm);
	dataset_read(train, o->input);
	if (train->count == 0)
		die("%s: no training samples", stream_name(o->input));
	r->train_ds = train;
	r->val_ds = train;
	if (o->val_path) {
		read_val(r, val);
	} else if (o->val_split > 0) {
		split(r, train->count, o->val_split);
	} else {
		r->train_idx = identity(train->count);
		r->ntrain = train->count;
	}
	r->labels = targets_need_labels(&o->outputs) || label_weighted(o);
	if (r->labels) {
		need_labels(o, train, o->input);
		if (o->val_path)
			need_labels(o, val, o->val_path);
	}
}

/* Refuse samples with a side shorter than the network's multiple m. */
static void
check_sides(const struct dataset *ds, const char *path, int m)
{
	for (int i = 0; i < ds->count; i++) {
		const struct dataset_sample *s = &ds->samples[i];
		if (s->width < m || s->height < m)
			die("%s: image %d: size %dx%d is smaller than the "
			    "network's %dx%d minimum", stream_name(path),
			    i + 1, s->width, s->height, m, m);
	}
}

/* The patch size of training samples of several sizes without --patch:
 * PATCH_DEFAULT, reduced to the multiple of m at or below their median
 * shorter side. */
static int
default_patch(const struct run *r, int m)
{
	int *sides = xmalloc(r->ntrain * sizeof *sides), size;

	for (int i = 0; i < r->ntrain; i++) {
		const struct dataset_sample *s =
			&r->train_ds->samples[r->train_idx[i]];
		sides[i] = s->width < s->height ? s->width : s->height;
	}
	size = patch_default(PATCH_DEFAULT, m, sides, r->ntrain);
	free(sides);
	return size;
}

/* The batch without --batch: BATCH_DEFAULT whole samples, or as many
 * patches as hold the pixels of BATCH_DEFAULT patches of 128 x 128 (4 of
 * 256, 1 of 512): a step's cost and memory do not grow with the patch. */
static long
default_batch(int patch)
{
	long n;

	if (!patch)
		return BATCH_DEFAULT;
	n = lround(BATCH_DEFAULT * (128.0 * 128) / ((double)patch * patch));
	return n < 1 ? 1 : n;
}

/* The network fitted to the data: the --init one adapted to its channels,
 * the checkpoint's checked against them, or a new one; the image size
 * must suit it. */
static void
setup_network(struct run *r)
{
	const struct options *o = r->o;
	const struct dataset *train = r->train_ds;
	char err[512];
	int m;

	if (r->net && !o->resume &&
	    unet_get_config(r->net)->in_channels != train->channels) {
		r->net = adapt_channels(r->net, train->channels, o->init_path,
					stream_name(o->input), o->quiet);
	} else if (r->net) {
		const struct unet_config *cfg = unet_get_config(r->net);
		if (cfg->in_channels != train->channels)
			die("%s: image 1: %d channel(s), the model %s expects "
			    "%d", stream_name(o->input), train->channels,
			    o->resume ? r->ckpt_path : o->init_path,
			    cfg->in_channels);
	} else {
		struct unet_config cfg = { train->channels, o->base_filters,
					   o->depth, o->outputs.count };
		if (unet_config_check(&cfg, err, sizeof err) < 0)
			die("%s", err);
		r->net = unet_new(&cfg);
		unet_init_glorot(r->net, o->seed);
	}
	m = unet_multiple(r->net);
	if (o->patch) {
		check_patch(o->patch, m);
		r->patch = (int)o->patch;
	} else if (!train->width) {
		r->patch = default_patch(r, m);
	} else if (train->width % m || train->height % m) {
		die("%s: image 1: size %dx%d is not a multiple of %d (resize "
		    "with ingest-resize --size, or train on patches with "
		    "--patch)", stream_name(o->input), train->width,
		    train->height, m);
	}
	r->batch = o->batch ? o->batch : default_batch(r->patch);
	if (r->patch) {
		check_sides(train, o->input, m);
		if (o->val_path)
			check_sides(r->val_ds, o->val_path, m);
	}
}

/* The weight of foreground pixels in the loss: 1 for bce, --pos-weight,
 * or the background/foreground pixel ratio of the training samples. */
static double
positive_weight(const struct run *r)
{
	const struct options *o = r->o;
	const struct dataset *train = r->train_ds;
	uint64_t pos = 0, all;

	if (!o->wbce)
		return 1;
	if (o->pos_weight_given)
		return o->pos_weight;
	all = 0;
	for (int i = 0; i < r->ntrain; i++) {
		const struct dataset_sample *s =
			&train->samples[r->train_idx[i]];
		all += (uint64_t)s->width * s->height;
		pos += s->positives;
	}
	if (pos == 0)
		die("%s: --loss %s: the training masks have no foreground "
		    "pixels (give --pos-weight)", stream_name(o->input),
		    loss_name(o));
	return (double)(all - pos) / pos;
}

/* The list an epoch draws from (patch_epoch): each training sample once,
 * or with --sample-by area and patches patch_area_draws times. */
static void
setup_slots(struct run *r)
{
	long *copies = xmalloc_for(r->ntrain, sizeof *copies, "the draws");

	for (int k = 0; k < r->ntrain; k++) {
		const struct dataset_sample *s =
			&r->train_ds->samples[r->train_idx[k]];

		copies[k] = r->o->by_area && r->patch
			? patch_area_draws(s->width, s->height, r->patch) : 1;
	}
	r->slots = patch_slots(r->train_idx, copies, r->ntrain, &r->nslots);
	free(copies);
}

/* What training needs besides the network: the positive weight, the
 * frozen layers, and the optimiser (new, or the checkpoint's once its
 * fingerprint matches; ckpt is closed). */
static void
setup_training(struct run *r, struct checkpoint *ckpt)
{
	const struct options *o = r->o;

	setup_slots(r);
	r->steps = o->steps ? o->steps : (r->ntrain + r->batch - 1) / r->batch;
	r->per_epoch = o->steps ? o->steps * r->batch : r->ntrain;
	r->pos_weight = positive_weight(r);
	setup_freeze(r);
	if (r->o->resume) {
		check_resume(r, ckpt);
		checkpoint_close(ckpt);
	} else {
		r->adam = adam_new(r->net, r->o->lr);
	}
}

/* The lines that open a run: the data, the memory, the network. */
static void
summary(const struct run *r, size_t data_bytes, int wbatch,
	size_t work_bytes)
{
	const struct options *o = r->o;
	const struct unet_config *cfg = unet_get_config(r->net);
	const struct dataset *train = r->train_ds;

	char size[64] = "several sizes", patch[64] = "", ranks[64] = "";

	if (train->width)
		snprintf(size, sizeof size, "%dx%d", train->width,
			 train->height);
	if (r->patch)
		snprintf(patch, sizeof patch, " of %dx%d patches", r->patch,
			 r->patch);
	if (dist_size() > 1)
		snprintf(ranks, sizeof ranks, " on each of %d processes",
			 dist_size());
	fprintf(stderr, "%s: %d training and %d validation samples of %s, "
		"%d channel(s); data %.1f MiB, workspace for %d images%s "
		"%.1f MiB; F%d D%d, %d thread(s)%s\n", prog_name(), r->ntrain,
		r->nval, size, train->channels, mib(data_bytes), wbatch,
		patch, mib(work_bytes), cfg->base_filters, cfg->depth,
		o->threads, ranks);
	if (r->nval == 0)
		fprintf(stderr, "%s: no validation data: the model is saved "
			"after every epoch, no early stopping\n", prog_name());
	if (o->resume)
		fprintf(stderr, "%s: resuming after epoch %ld from %s\n",
			prog_name(), r->st.epoch, r->ckpt_path);
}

/* Keep the figures of an epoch that improved val_loss (or of every epoch
 * without validation or with --keep last) and save its model; count the
 * others, and drop the learning rate after every --lr-patience of them in
 * a row. */
static void
keep_best(struct run *r, const struct epoch_result *e)
{
	const struct options *o = r->o;
	int improved = r->nval == 0 || o->keep_last ||
		       e->val_loss < r->st.best_loss - o->min_delta;

	if (!improved) {
		r->st.wait++;
		if (o->lr_patience && r->st.wait % o->lr_patience == 0)
			r->adam->lr *= o->lr_factor;
		return;
	}
	if (dist_rank() == 0)
		save_model(r, e);
	r->st.best_epoch = r->st.epoch;
	r->st.best_loss = r->nval ? e->val_loss : INFINITY;
	r->st.best_dice = e->val_dice;
	r->st.best_iou = e->val_iou;
	r->st.best_train_loss = e->train_loss;
	r->st.wait = 0;
	r->best_val = e->val;
}

/* Train until the last epoch or the early stop, saving the best model,
 * the log and the checkpoint after every epoch. */
static void
train_epochs(struct run *r, struct unet_work *w, int wbatch, struct batch *b,
	     struct progress *pg, struct log *log)
{
	const struct options *o = r->o;

	while (r->st.epoch < o->epochs &&
	       !(r->nval > 0 && o->patience > 0 && r->st.wait >= o->patience)) {
		struct epoch_result e;

		if (o->cosine)
			r->adam->lr = lr_cosine(o->lr, r->st.epoch, o->epochs);
		run_epoch(r, w, wbatch, b, pg, &e);
		r->st.epoch++;
		keep_best(r, &e);
		/* The model and the log before the checkpoint: killed in
		 * between, they are one epoch ahead of it, which --resume
		 * cuts back. */
		if (o->log_path && dist_rank() == 0)
			log_epoch(log, r, &e);
		if (dist_rank() == 0)
			save_checkpoint(r);
		if (dist_size() > 1)
			prepare_at_once(r);
		progress_clear(pg);
		if (!o->quiet)
			epoch_line(r, &e);
		if (stop_signal)
			interrupted(r, pg);
	}
}

/* A run whose best model predicts (nearly) every validation pixel
 * foreground, or none, while the truth has both, has learnt nothing that
 * the foreground share does not tell: say so, and what to try. */
static void
degenerate_warning(const struct run *r)
{
	const struct confusion *c = &r->best_val;
	double pred = predicted_foreground(c);
	uint64_t all = c->tp + c->fp + c->fn + c->tn;

	if (!(pred >= DEGENERATE_SHARE || pred <= 1 - DEGENERATE_SHARE) ||
	    c->tp + c->fn == 0 || c->tp + c->fn == all)
		return;
	warn_msg("warning: the model of epoch %ld predicts %.1f %% of the "
		 "validation pixels foreground (the truth %.1f %%), nearly all "
		 "%s: it has not learnt to tell them apart; try more steps "
		 "(--epochs, --steps-per-epoch), a larger --patience or "
		 "--augment", r->st.best_epoch, 100 * pred,
		 100.0 * (c->tp + c->fn) / all,
		 pred >= 0.5 ? "foreground" : "background");
}

/* The line that closes a run: how it ended and what is on disk. */
static void
end_line(const struct run *r)
{
	char buf[PATH_MAX + 128];

	last_good(r, buf, sizeof buf);
	if (r->st.epoch < r->o->epochs)
		fprintf(stderr, "%s: early stop after epoch %ld: no val_loss "
			"improvement in %ld epochs; %s\n", prog_name(),
			r->st.epoch, r->st.wait, buf);
	else
		fprintf(stderr, "%s: done; %s\n", prog_name(), buf);
}

/* On several processes every rank must run the same command on the same
 * samples from the same network: otherwise every rank stops with the
 * line of rank 0 naming the lowest rank that differs. */
static void
check_agreement(struct run *r, int argc, char **argv)
{
	uint64_t data[2] = { r->train_ds->hash, r->val_ds != r->train_ds ?
						r->val_ds->hash : 0 };
	long state[4] = { r->st.epoch, r->adam->step, r->st.best_epoch,
			  r->st.wait };
	size_t len = 0;
	char *args;
	int bad;

	if (dist_size() == 1)
		return;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	args = xmalloc(len);
	for (int i = 0, at = 0; i < argc; i++) {
		memcpy(args + at, argv[i], strlen(argv[i]) + 1);
		at += strlen(argv[i]) + 1;
	}
	bad = dist_differs(args, len);
	free(args);
	if (bad > 0)
		die_together(2, "rank %d: its command line differs from rank "
			     "0's (every rank runs the same command)", bad);
	if ((bad = dist_differs(data, sizeof data)) > 0)
		die_together(1, "rank %d: its training or validation samples "
			     "differ from rank 0's (every rank reads the same "
			     "files)", bad);
	bad = dist_differs(state, sizeof state);
	for (int i = 0; i < unet_param_count(r->net); i++) {
		const struct unet_param *p = unet_param_at(r->net, i);
		int b = dist_differs(p->value, p->count * sizeof *p->value);
		if (b > 0 && (bad < 0 || b < bad))
			bad = b;
	}
	if (bad > 0)
		die_together(1, "rank %d: its network differs from rank 0's "
			     "(--init or %s: every rank reads the same file)",
			     bad, r->ckpt_path);
}

int
main(int argc, char **argv)
{
	struct options o;
	struct run r;
	struct dataset train, val;
	struct checkpoint *ckpt;
	struct unet_work *w;
	struct progress pg;
	struct log log;
	struct batch batch;
	size_t heap0, work_bytes;
	int wbatch, bw, bh;

	prog_init(argc, argv);
	/* On several processes rank 0 acquires first: an error every rank
	 * would meet is told once. The others are quiet. */
	dist_init(&argc, &argv);
	dist_serial_begin();
	parse_options(argc, argv, &o);
	o.quiet |= dist_rank() != 0;
	run_init(&r, &o, &log);
	claim_files(&r);

	/* Acquire: the network to start from, then every sample. */
	ckpt = load_start(&r, &log);
	read_data(&r, &train, &val);
	setup_network(&r);
	setup_training(&r, ckpt);
	dist_serial_end();
	check_agreement(&r, argc, argv);

	wbatch = (int)r.batch;
	if (r.patch && wbatch > r.per_epoch)
		wbatch = (int)r.per_epoch;
	else if (!r.patch && wbatch > r.per_epoch && wbatch > r.nval)
		wbatch = r.per_epoch > r.nval ? (int)r.per_epoch : r.nval;
	/* A rank holds its share of a step's samples. */
	wbatch = (wbatch + dist_size() - 1) / dist_size();
	bw = r.patch ? r.patch : train.width;
	bh = r.patch ? r.patch : train.height;
	heap0 = heap_bytes();
	w = unet_work_new(r.net, wbatch, bh, bw, 1, o.threads);
	batch_alloc(&batch, &r, wbatch, bw, bh);
	work_bytes = heap_bytes() - heap0;
	if (!o.quiet)
		summary(&r, train.bytes + val.bytes, wbatch, work_bytes);

	progress_init(&pg, stderr_is_tty() && !o.quiet);
	/* On several processes mpirun ends every rank when one fails or is
	 * stopped: a signal ends at once, cleaning up, at any step. */
	at_once = dist_size() > 1;
	train_epochs(&r, w, wbatch, &batch, &pg, &log);
	if (!o.quiet)
		end_line(&r);
	if (!o.quiet)
		degenerate_warning(&r);

	free(log.text);
	unet_work_free(w);
	infer_free(r.val_engine);
	adam_free(r.adam);
	unet_free(r.net);
	batch_free(&batch);
	free(r.train_idx);
	free(r.slots);
	free(r.val_idx);
	free((char *)r.ckpt_path);
	lock_release();
	free(lock_path);
	dataset_free(&train);
	dataset_free(&val);
	close_stdout();
	dist_exit(0);
}
