/* unet-train: train a U-Net on a stream of samples and write the model. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "augment.h"
#include "checkpoint.h"
#include "dataset.h"
#include "metrics.h"
#include "isa.h"
#include "model.h"
#include "nn.h"
#include "optim.h"
#include "outfile.h"
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
	double border_w0, border_sigma; /* --border-weight (0 = none) */
	long epochs, batch, patience;
	uint64_t seed;
	int threads, wbce, base_filters, depth, resume, quiet;
	int val_split_given, pos_weight_given, arch_given, sigma_given;
};

/* The default --border-sigma, for nuclei of 128x128 images (see
 * unet-train(1)). */
#define BORDER_SIGMA 3.0

/* The figures of one epoch. */
struct epoch_result {
	double train_loss, val_loss, val_dice, val_iou;
	double seconds, train_seconds;
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
static char at_once_line[PATH_MAX + 160];
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
"      --batch N          samples per step (default 16)\n"
"      --lr X             Adam learning rate (default 0.001)\n"
"      --seed N           seed of initialisation, split and shuffling (default 0)\n"
"      --threads N        worker threads (default: online CPUs, at most " STR(NN_DEFAULT_MAX_THREADS) ")\n"
"      --loss bce|wbce    plain or class-weighted cross-entropy (default bce)\n"
"      --pos-weight X     weight of foreground pixels for wbce\n"
"                         (default: background/foreground pixel ratio)\n"
"      --outputs LIST     what the network learns, one output channel each:\n"
"                         foreground (default) or foreground,distance\n"
"                         (distance needs *_LABEL samples)\n"
"      --border-weight W0 weight background pixels between two nuclei\n"
"                         by 1 + W0 exp(-(d1+d2)^2/(2 sigma^2)) (U-Net paper;\n"
"                         needs *_LABEL samples; default 0 = none)\n"
"      --border-sigma S   sigma of --border-weight in pixels (default 3)\n"
"      --patience N       stop after N epochs without improvement of\n"
"                         val_loss (default 5; 0 = never)\n"
"      --min-delta X      smallest val_loss decrease that counts (default 0)\n"
"      --base-filters F   width of the first level (default 16)\n"
"      --depth D          number of levels (default 5)\n"
"      --init MODEL       start from the weights of MODEL (fine-tuning; a\n"
"                         1-channel model adapts to 3 channels and back)\n"
"      --freeze LIST      keep these layers of the network fixed: encoder\n"
"                         (c1..cD) or layer names such as c1,c2,u6,out\n"
"      --augment LIST     augment every training sample afresh each epoch:\n"
"                         flip,rot90,crop,color,elastic, all or none\n"
"                         (default none)\n"
"      --resume           continue the run recorded in MODEL" CKPT_SUFFIX "\n"
"      --log FILE         write one JSON object per epoch to FILE\n"
"  -q, --quiet            no progress or summary messages\n"
"  -h, --help             show this help and exit\n"
"  -V, --version          show the version and the kernels in use, exit\n";

enum { O_VAL = 256, O_VAL_SPLIT, O_EPOCHS, O_BATCH, O_LR, O_SEED, O_THREADS,
       O_LOSS, O_POS_WEIGHT, O_PATIENCE, O_MIN_DELTA, O_BASE, O_DEPTH,
       O_INIT, O_RESUME, O_LOG, O_FREEZE, O_AUGMENT, O_OUTPUTS,
       O_BORDER_WEIGHT, O_BORDER_SIGMA };

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
	{ "base-filters", required_argument, NULL, O_BASE },
	{ "depth", required_argument, NULL, O_DEPTH },
	{ "init", required_argument, NULL, O_INIT },
	{ "freeze", required_argument, NULL, O_FREEZE },
	{ "augment", required_argument, NULL, O_AUGMENT },
	{ "outputs", required_argument, NULL, O_OUTPUTS },
	{ "border-weight", required_argument, NULL, O_BORDER_WEIGHT },
	{ "border-sigma", required_argument, NULL, O_BORDER_SIGMA },
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
	o->batch = 16;
	o->lr = 1e-3;
	o->patience = 5;
	o->base_filters = 16;
	o->depth = 5;
	o->outputs.count = 1;
	o->outputs.kind[0] = TARGET_FOREGROUND;
	o->border_sigma = BORDER_SIGMA;
	o->threads = online_cpus(NN_DEFAULT_MAX_THREADS);
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
		if (strcmp(arg, "bce") == 0)
			o->wbce = 0;
		else if (strcmp(arg, "wbce") == 0)
			o->wbce = 1;
		else
			die_usage("--loss: '%s' is not bce or wbce", arg);
		break;
	case O_POS_WEIGHT:
		o->pos_weight = parse_double(arg, 0, 1e6, "--pos-weight");
		if (o->pos_weight <= 0)
			die_usage("--pos-weight: must be positive");
		o->pos_weight_given = 1;
		break;
	case O_PATIENCE:
		o->patience = parse_long(arg, 0, 1000000, "--patience");
		break;
	case O_MIN_DELTA:
		o->min_delta = parse_double(arg, 0, 1e30, "--min-delta");
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
	case O_OUTPUTS:
		if (targets_parse(arg, &o->outputs, err, sizeof err) < 0)
			die_usage("--outputs: %s", err);
		break;
	case O_BORDER_WEIGHT:
		o->border_w0 = parse_double(arg, 0, 1e6, "--border-weight");
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
	if (o->pos_weight_given && !o->wbce)
		die_usage("--pos-weight needs --loss wbce");
	if (o->sigma_given && o->border_w0 <= 0)
		die_usage("--border-sigma needs --border-weight");
	if (o->arch_given && !o->init_path && !o->resume) {
		struct unet_config cfg = { 3, o->base_filters, o->depth,
					   o->outputs.count };
		if (unet_config_check(&cfg, err, sizeof err) < 0)
			die_usage("%s", err);
	}
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
		if (c == 'V')
			cli_version(isa_name(isa_current()));
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
	int labels;     /* targets from labels: --outputs distance or
			   --border-weight */
	struct unet *net;
	struct adam *adam;
	struct train_state st;
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
	model_meta_set(meta, "batch", "%ld", o->batch);
	model_meta_set(meta, "lr", "%a", o->lr);
	model_meta_set(meta, "seed", "%" PRIu64, o->seed);
	model_meta_set(meta, "loss", "%s", o->wbce ? "wbce" : "bce");
	model_meta_set(meta, "pos_weight", "%a", r->pos_weight);
	model_meta_set(meta, "min_delta", "%a", o->min_delta);
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
		"outputs", "border"
	};
	/* What checkpoints written before a key ran with. */
	static const char *const old[][2] = {
		{ "augment", "none" }, { "freeze", "none" },
		{ "outputs", "foreground" }, { "border", "none" }
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

	model_meta_set(meta, "input_width", "%d", r->train_ds->width);
	model_meta_set(meta, "input_height", "%d", r->train_ds->height);
	model_meta_set(meta, "epoch", "%ld", r->st.epoch);
	model_meta_set(meta, "train_loss", "%.9g", e->train_loss);
	if (r->nval > 0) {
		model_meta_set(meta, "val_loss", "%.9g", e->val_loss);
		model_meta_set(meta, "val_dice", "%.9g", e->val_dice);
		model_meta_set(meta, "val_iou", "%.9g", e->val_iou);
	}
	model_meta_set(meta, "seed", "%" PRIu64, o->seed);
	model_meta_set(meta, "loss", "%s", o->wbce ? "wbce" : "bce");
	if (o->wbce)
		model_meta_set(meta, "pos_weight", "%.9g", r->pos_weight);
	model_meta_set(meta, "lr", "%.9g", o->lr);
	model_meta_set(meta, "batch", "%ld", o->batch);
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
	if (o->border_w0 > 0) {
		model_meta_set(meta, "border_weight", "%.9g", o->border_w0);
		model_meta_set(meta, "border_sigma", "%.9g", o->border_sigma);
	}
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
	snprintf(buf, len, "%s: interrupted; %s\n", prog_name(), good);
}

static void
interrupted(const struct run *r, struct progress *pg)
{
	char buf[PATH_MAX + 160];

	progress_clear(pg);
	interrupted_line(r, buf, sizeof buf);
	fputs(buf, stderr);
	exit(128 + stop_signal);
}

/* Prepare the line of an interruption before the first epoch. */
static void
prepare_at_once(const struct run *r)
{
	char buf[sizeof at_once_line];
	sigset_t set, old;

	interrupted_line(r, buf, sizeof buf);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	memcpy(at_once_line, buf, sizeof buf);
	at_once_len = strlen(buf);
	sigprocmask(SIG_SETMASK, &old, NULL);
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
	die("%s: %s is %s; stopping, %s", where, what,
	    isnan(loss) ? "nan" : "inf", buf);
}

/* The buffers of one batch of wbatch samples. */
struct batch {
	float *target;    /* wbatch * pixels * K, NHWC */
	float *weight;    /* the same, or NULL without --border-weight */
	float *prob;      /* wbatch * pixels: the foreground probability */
	float *fg;        /* wbatch * pixels: the foreground target (K > 1) */
	uint16_t *labels; /* wbatch * pixels, or NULL without r->labels */
	float *plane;     /* pixels: one weight map (--border-weight) */
};

static void
batch_alloc(struct batch *b, const struct run *r, int wbatch)
{
	size_t npix = (size_t)r->train_ds->width * r->train_ds->height;
	size_t n = (size_t)wbatch * npix, k = (size_t)r->o->outputs.count;

	memset(b, 0, sizeof *b);
	b->target = xmalloc_for(n * k, sizeof *b->target, "the targets");
	b->prob = xmalloc_for(n, sizeof *b->prob, "the probabilities");
	if (k > 1)
		b->fg = xmalloc_for(n, sizeof *b->fg, "the targets");
	if (r->labels)
		b->labels = xmalloc_for(n, sizeof *b->labels, "the labels");
	if (r->o->border_w0 > 0) {
		b->weight = xmalloc_for(n * k, sizeof *b->weight,
					"the weights");
		b->plane = xmalloc_for(npix, sizeof *b->plane, "the weights");
	}
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

/* The input and targets of the n samples idx[] of ds, augmented when
 * epoch > 0 (training) and --augment asks: each sample with a generator
 * of its own from the seed, the epoch and its index in the stream, so
 * that the draw depends neither on the batch it falls in nor on the
 * thread count, and --resume repeats it. With labels, the targets (and
 * weights) are derived after the augmentation. */
static void
fill_batch(const struct run *r, const struct dataset *ds, const int *idx,
	   int n, long epoch, float *input, struct batch *b)
{
	const struct options *o = r->o;
	size_t npix = (size_t)ds->width * ds->height;
	int c = ds->channels, kc = o->outputs.count;

	dataset_fill(ds, idx, n, input, r->labels ? NULL : b->target);
	if (r->labels)
		dataset_fill_labels(ds, idx, n, b->labels);
	for (int k = 0; k < n; k++) {
		float *x = input + (size_t)k * npix * c;
		uint16_t *lab = r->labels ? b->labels + (size_t)k * npix : NULL;
		struct rng rng;

		if (epoch > 0 && o->augment) {
			augment_rng(&rng, o->seed, (uint64_t)epoch,
				    (uint64_t)idx[k]);
			if (lab)
				augment_apply_labels(o->augment, &rng, x, lab,
						     ds->width, ds->height, c);
			else
				augment_apply(o->augment, &rng, x,
					      b->target + (size_t)k * npix,
					      ds->width, ds->height, c);
		}
		if (!lab)
			continue;
		targets_fill(&o->outputs, lab, ds->width, ds->height,
			     b->target + (size_t)k * npix * kc);
		if (!b->weight)
			continue;
		targets_border_weight(lab, ds->width, ds->height, o->border_w0,
				      o->border_sigma, b->plane);
		for (size_t p = 0; p < npix; p++)
			for (int j = 0; j < kc; j++)
				b->weight[((size_t)k * npix + p) * kc + j] =
					b->plane[p];
	}
}

/* The validation pass: the loss over every output (weights included),
 * the Dice and IoU of the foreground channel at 0.5. */
static void
validate(struct run *r, struct unet_work *w, int wbatch, struct batch *b,
	 struct progress *pg, struct epoch_result *e, long ep)
{
	size_t npix = (size_t)r->val_ds->width * r->val_ds->height;
	int kc = r->o->outputs.count;
	struct confusion c = { 0 };
	double vsum = 0;

	for (int i = 0; i < r->nval; i += wbatch) {
		int n = r->nval - i < wbatch ? r->nval - i : wbatch;
		const float *logits, *fg = b->target;

		fill_batch(r, r->val_ds, r->val_idx + i, n, 0,
			   unet_work_input(w), b);
		logits = unet_forward(w, n);
		vsum += unet_loss(w, n, b->target, b->weight,
				  (float)r->pos_weight) * n;
		if (kc > 1) {
			for (size_t p = 0; p < n * npix; p++) {
				b->prob[p] = logits[p * kc];
				b->fg[p] = b->target[p * kc];
			}
			logits = b->prob;
			fg = b->fg;
		}
		nn_sigmoid(logits, b->prob, n * npix);
		confusion_add(&c, b->prob, fg, n * npix, 0.5);
		if (stop_signal)
			interrupted(r, pg);
		progress_draw(pg, 0, "epoch %ld/%ld validation %d/%d",
			      ep, r->o->epochs, i + n, r->nval);
	}
	e->val_loss = vsum / r->nval;
	if (!isfinite(e->val_loss)) {
		char where[64];
		snprintf(where, sizeof where, "epoch %ld", ep);
		not_finite(r, pg, where, "val_loss", e->val_loss);
	}
	e->val_dice = metric_dice(&c);
	e->val_iou = metric_iou(&c);
}

/* One epoch: shuffled training steps, then the validation pass. */
static void
run_epoch(struct run *r, struct unet_work *w, int wbatch, struct batch *b,
	  struct progress *pg, struct epoch_result *e)
{
	const struct options *o = r->o;
	long ep = r->st.epoch + 1;
	int nsteps = (r->ntrain + o->batch - 1) / o->batch;
	int *order = xmalloc(r->ntrain * sizeof *order);
	double start = now_seconds(), sum = 0;
	int done = 0;

	memcpy(order, r->train_idx, r->ntrain * sizeof *order);
	rng_shuffle(&r->st.rng, order, r->ntrain);
	for (int s = 0; s < nsteps; s++) {
		int n = r->ntrain - done < o->batch ? r->ntrain - done
						    : (int)o->batch;
		double loss, el, rate;
		char where[64], eta[32], buf[32];

		fill_batch(r, r->train_ds, order + done, n, ep,
			   unet_work_input(w), b);
		unet_forward(w, n);
		loss = unet_backward(w, n, b->target, b->weight,
				     (float)r->pos_weight);
		if (!isfinite(loss)) {
			snprintf(where, sizeof where, "epoch %ld step %d", ep,
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
		progress_duration((r->ntrain - done) / rate, eta, sizeof eta);
		progress_draw(pg, s + 1 == nsteps, "epoch %ld/%ld step %d/%d "
			      "loss %s %.1f img/s ETA %s", ep, o->epochs,
			      s + 1, nsteps, fmt4(sum / done, buf, sizeof buf),
			      rate, eta);
	}
	free(order);
	e->train_loss = sum / r->ntrain;
	e->train_seconds = now_seconds() - start;

	e->val_loss = e->val_dice = e->val_iou = NAN;
	if (r->nval > 0)
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
	report_set(obj, "lr", json_real(r->o->lr));
	report_set(obj, "seconds", json_real(e->seconds));
	report_set(obj, "images_per_second",
		   real_or_null(r->ntrain / e->train_seconds));
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
		r->ntrain / e->train_seconds, e->seconds < 10 ? 1 : 0,
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
 * come from instance labels: every sample of ds must have them. */
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
					     : "--border-weight");
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
	r->st.best_loss = INFINITY;
	r->st.best_dice = r->st.best_iou = r->st.best_train_loss = NAN;
	rng_seed(&r->st.rng, o->seed);
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
		ckpt = load_checkpoint(r);
		prepare_at_once(r);
		if (o->log_path)
			log_resume(log, r->st.epoch);
		return ckpt;
	}
	if (o->init_path) {
		r->net = model_load(o->init_path, &meta, err, sizeof err);
		if (!r->net)
			die("%s: %s", o->init_path, err);
		check_init_outputs(o, meta);
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
	if (val->width != train->width || val->height != train->height)
		die("%s: image 1: size %dx%d, the training samples are %dx%d",
		    stream_name(o->val_path), val->width, val->height,
		    train->width, train->height);
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

	dataset_init(train);
	dataset_init(val);
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
	r->labels = targets_need_labels(&o->outputs) || o->border_w0 > 0;
	if (r->labels) {
		need_labels(o, train, o->input);
		if (o->val_path)
			need_labels(o, val, o->val_path);
	}
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
	if (train->width % m || train->height % m)
		die("%s: image 1: size %dx%d is not a multiple of %d (resize "
		    "with ingest-resize --size)", stream_name(o->input),
		    train->width, train->height, m);
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
	all = (uint64_t)r->ntrain * train->width * train->height;
	for (int i = 0; i < r->ntrain; i++)
		pos += train->samples[r->train_idx[i]].positives;
	if (pos == 0)
		die("%s: --loss wbce: the training masks have no foreground "
		    "pixels (give --pos-weight)", stream_name(o->input));
	return (double)(all - pos) / pos;
}

/* What training needs besides the network: the positive weight, the
 * frozen layers, and the optimiser (new, or the checkpoint's once its
 * fingerprint matches; ckpt is closed). */
static void
setup_training(struct run *r, struct checkpoint *ckpt)
{
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

	fprintf(stderr, "%s: %d training and %d validation samples of %dx%d, "
		"%d channel(s); data %.1f MiB, workspace for %d images %.1f "
		"MiB; F%d D%d, %d thread(s)\n", prog_name(), r->ntrain,
		r->nval, train->width, train->height, train->channels,
		mib(data_bytes), wbatch, mib(work_bytes), cfg->base_filters,
		cfg->depth, o->threads);
	if (r->nval == 0)
		fprintf(stderr, "%s: no validation data: the model is saved "
			"after every epoch, no early stopping\n", prog_name());
	if (o->resume)
		fprintf(stderr, "%s: resuming after epoch %ld from %s\n",
			prog_name(), r->st.epoch, r->ckpt_path);
}

/* Keep the figures of an epoch that improved val_loss (or of every epoch
 * without validation) and save its model; count the others. */
static void
keep_best(struct run *r, const struct epoch_result *e)
{
	int improved = r->nval == 0 ||
		       e->val_loss < r->st.best_loss - r->o->min_delta;

	if (!improved) {
		r->st.wait++;
		return;
	}
	save_model(r, e);
	r->st.best_epoch = r->st.epoch;
	r->st.best_loss = r->nval ? e->val_loss : INFINITY;
	r->st.best_dice = e->val_dice;
	r->st.best_iou = e->val_iou;
	r->st.best_train_loss = e->train_loss;
	r->st.wait = 0;
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

		run_epoch(r, w, wbatch, b, pg, &e);
		r->st.epoch++;
		keep_best(r, &e);
		/* The model and the log before the checkpoint: killed in
		 * between, they are one epoch ahead of it, which --resume
		 * cuts back. */
		if (o->log_path)
			log_epoch(log, r, &e);
		save_checkpoint(r);
		progress_clear(pg);
		if (!o->quiet)
			epoch_line(r, &e);
		if (stop_signal)
			interrupted(r, pg);
	}
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
	int wbatch;

	prog_init(argc, argv);
	parse_options(argc, argv, &o);
	run_init(&r, &o, &log);
	claim_files(&r);

	/* Acquire: the network to start from, then every sample. */
	ckpt = load_start(&r, &log);
	read_data(&r, &train, &val);
	setup_network(&r);
	setup_training(&r, ckpt);

	wbatch = (int)o.batch;
	if (wbatch > r.ntrain && wbatch > r.nval)
		wbatch = r.ntrain > r.nval ? r.ntrain : r.nval;
	heap0 = heap_bytes();
	w = unet_work_new(r.net, wbatch, train.height, train.width, 1,
			  o.threads);
	batch_alloc(&batch, &r, wbatch);
	work_bytes = heap_bytes() - heap0;
	if (!o.quiet)
		summary(&r, train.bytes + val.bytes, wbatch, work_bytes);

	progress_init(&pg, stderr_is_tty() && !o.quiet);
	at_once = 0;
	train_epochs(&r, w, wbatch, &batch, &pg, &log);
	if (!o.quiet)
		end_line(&r);

	free(log.text);
	unet_work_free(w);
	adam_free(r.adam);
	unet_free(r.net);
	batch_free(&batch);
	free(r.train_idx);
	free(r.val_idx);
	free((char *)r.ckpt_path);
	lock_release();
	free(lock_path);
	dataset_free(&train);
	dataset_free(&val);
	close_stdout();
	return 0;
}
