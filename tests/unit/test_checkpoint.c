/* checkpoint: save/restore round trip (weights, moments, step, state,
 * fingerprint) and every refusal of a file that cannot resume a run: not
 * a checkpoint, torn, wrong architecture, missing, misshapen or
 * non-finite tensors, malformed state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "model.h"
#include "safetensors.h"
#include "tap.h"
#include "util.h"

static char err[512];

/* 1 when a and b hold n equal floats (bit for bit). */
static int
same_floats(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, n * sizeof *a) == 0;
}

/* A run to save: a 3-channel F4 D2 network, moments and state that all
 * differ from a fresh run's. */
static void
make_run(struct unet **net, struct adam **adam, struct train_state *s,
	 int outputs)
{
	struct unet_config cfg = { 3, 4, 2, outputs };

	*net = unet_new(&cfg);
	unet_init_glorot(*net, 7);
	*adam = adam_new(*net, 1e-3);
	(*adam)->step = 42;
	for (int i = 0; i < unet_param_count(*net); i++)
		for (size_t k = 0; k < unet_param_at(*net, i)->count; k++) {
			(*adam)->m[i][k] = (float)(i + 1) / (float)(k + 3);
			(*adam)->v[i][k] = (float)(k + 1) / (float)(i + 5);
		}
	s->epoch = 5;
	s->best_epoch = 3;
	s->best_loss = 0.1;
	s->best_dice = NAN;
	s->best_iou = 1.0 / 3;
	s->best_train_loss = INFINITY;
	s->wait = 2;
	rng_seed(&s->rng, 99);
	rng_next(&s->rng);
}

static void
test_round_trip(int outputs)
{
	struct unet *net, *net2;
	struct adam *adam, *adam2;
	struct train_state s, s2;
	struct checkpoint *ck;
	json_t *fp = json_pack("{s:s, s:s}", "seed", "7", "loss", "wbce");
	int same = 1;

	make_run(&net, &adam, &s, outputs);
	adam->lr = 0.125; /* a rate dropped by --lr-patience */
	tap_ok(checkpoint_save(tap_path("a.ckpt"), net, adam, &s, fp, err,
			       sizeof err) == 0, "save: %s", err);
	ck = checkpoint_open(tap_path("a.ckpt"), err, sizeof err);
	if (!tap_ok(ck != NULL, "open: %s", ck ? "" : err))
		goto out;
	tap_ok(checkpoint_config(ck)->in_channels == 3 &&
	       checkpoint_config(ck)->base_filters == 4 &&
	       checkpoint_config(ck)->depth == 2 &&
	       checkpoint_config(ck)->outputs == outputs,
	       "the architecture (%d output(s))", outputs);
	tap_ok(checkpoint_get(ck, "seed") &&
	       strcmp(checkpoint_get(ck, "seed"), "7") == 0 &&
	       strcmp(checkpoint_get(ck, "loss"), "wbce") == 0 &&
	       !checkpoint_get(ck, "augment"), "the fingerprint's keys");
	memset(&s2, 0, sizeof s2);
	if (!tap_ok(checkpoint_restore(ck, 0.5, &net2, &adam2, &s2, err,
				       sizeof err) == 0, "restore: %s", err)) {
		checkpoint_close(ck);
		goto out;
	}
	for (int i = 0; i < unet_param_count(net); i++) {
		const struct unet_param *p = unet_param_at(net, i);
		const struct unet_param *q = unet_param_at(net2, i);
		same = same && strcmp(p->name, q->name) == 0 &&
		       same_floats(p->value, q->value, p->count) &&
		       same_floats(adam->m[i], adam2->m[i], p->count) &&
		       same_floats(adam->v[i], adam2->v[i], p->count);
	}
	tap_ok(same, "weights and moments bit for bit");
	tap_ok(adam2->step == 42 && adam2->lr == 0.125,
	       "Adam's step count and the rate reached are restored, not "
	       "the caller's lr");
	tap_ok(s2.epoch == 5 && s2.best_epoch == 3 && s2.wait == 2 &&
	       s2.best_loss == 0.1 && isnan(s2.best_dice) &&
	       s2.best_iou == 1.0 / 3 && isinf(s2.best_train_loss) &&
	       memcmp(&s2.rng, &s.rng, sizeof s.rng) == 0,
	       "the state exactly (NaN, infinity, a third, the rng)");
	adam_free(adam2);
	unet_free(net2);
	checkpoint_close(ck);
out:
	json_decref(fp);
	adam_free(adam);
	unet_free(net);
}

/* A copy of a.ckpt, with one change, as name. */
enum change { SET_META, DROP_META, DROP_TENSOR, SWAP_SHAPE, NAN_VALUE };

static const char *
changed(const char *name, enum change c, const char *key, const char *value)
{
	struct st_file f;
	char *path = tap_path(name);

	if (st_read(tap_path("a.ckpt"), &f, err, sizeof err) < 0)
		die("%s", err);
	for (size_t i = 0; i < f.ntensors; i++) {
		struct st_tensor *t = &f.tensors[i];
		if (c == DROP_TENSOR && strcmp(t->name, key) == 0) {
			free(t->name);
			if (!f.map)
				free(t->data);
			memmove(t, t + 1, (f.ntensors - i - 1) * sizeof *t);
			f.ntensors--;
			break;
		}
		if (c == SWAP_SHAPE && strcmp(t->name, key) == 0) {
			int64_t x = t->shape[0];
			t->shape[0] = t->shape[1];
			t->shape[1] = x;
		}
		if (c == NAN_VALUE && strcmp(t->name, key) == 0)
			t->data[t->count - 1] = value ? INFINITY : NAN;
	}
	if (c == SET_META)
		json_object_set_new(f.metadata, key, json_string(value));
	if (c == DROP_META)
		json_object_del(f.metadata, key);
	if (st_write(path, &f, err, sizeof err) < 0)
		die("%s", err);
	st_free(&f);
	return path;
}

/* 1 when opening (and restoring) path fails with exactly want. */
static int
refused(const char *path, const char *want)
{
	struct checkpoint *ck = checkpoint_open(path, err, sizeof err);
	struct unet *net = (void *)1;
	struct adam *adam = (void *)1;
	struct train_state s;
	int rc;

	if (!ck)
		goto check;
	rc = checkpoint_restore(ck, 1e-3, &net, &adam, &s, err, sizeof err);
	checkpoint_close(ck);
	if (rc == 0) {
		adam_free(adam);
		unet_free(net);
		tap_diag("%s: accepted", path);
		return 0;
	}
	if (net || adam) {
		tap_diag("%s: refused, but the network is left", path);
		return 0;
	}
check:
	if (strcmp(err, want) != 0)
		tap_diag("got '%s'", err);
	return strcmp(err, want) == 0;
}

static void
test_refusals(void)
{
	struct unet *net;
	struct adam *adam;
	struct train_state s;
	const char *p;
	FILE *f;
	long size;

	make_run(&net, &adam, &s, 1);
	if (model_save(tap_path("model.st"), net, NULL, err, sizeof err) < 0)
		die("%s", err);
	tap_ok(refused(tap_path("model.st"),
		       "not a unet-train checkpoint (no \"kind\")"),
	       "a model file is no checkpoint");
	tap_ok(refused(changed("kind", SET_META, "kind",
			       "unet-train checkpoint 2"),
		       "not a unet-train checkpoint"), "another kind");

	/* torn: the file cut anywhere */
	p = tap_path("a.ckpt");
	f = fopen(p, "rb");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	if (truncate(changed("torn", SET_META, "x", "y"), size - 4) < 0)
		die("truncate:");
	tap_ok(checkpoint_open(tap_path("torn"), err, sizeof err) == NULL &&
	       err[0], "a torn file: %s", err);
	if (truncate(tap_path("torn"), 0) < 0)
		die("truncate:");
	tap_ok(checkpoint_open(tap_path("torn"), err, sizeof err) == NULL &&
	       err[0], "an empty file: %s", err);

	/* the architecture */
	tap_ok(refused(changed("d9", SET_META, "depth", "9"),
		       "depth 9, expected 2 to 8"), "depth 9");
	tap_ok(refused(changed("dx", SET_META, "depth", "two"),
		       "checkpoint depth \"two\" is not a count"), "depth two");
	tap_ok(refused(changed("fneg", SET_META, "base_filters", "-4"),
		       "checkpoint base_filters \"-4\" is not a count"),
	       "base_filters -4");
	tap_ok(refused(changed("cwrap", SET_META, "in_channels", "4294967299"),
		       "checkpoint in_channels \"4294967299\" is out of range"),
	       "in_channels 2^32 + 3 (not read as 3)");
	tap_ok(refused(changed("d03", SET_META, "depth", "03"),
		       "checkpoint depth \"03\" is not a count"), "depth 03");
	tap_ok(refused(changed("nodepth", DROP_META, "depth", NULL),
		       "not a unet-train checkpoint (no \"depth\")"),
	       "no depth");
	tap_ok(refused(changed("f8", SET_META, "base_filters", "8"),
		       "checkpoint tensor c1.conv1.bias has the wrong shape"),
	       "base_filters 8 over F4 tensors: the first tensor's shape");
	tap_ok(refused(changed("o3", SET_META, "out_channels", "3"),
		       "checkpoint tensor out.bias has the wrong shape"),
	       "out_channels 3 over a one-output network's tensors");
	tap_ok(refused(changed("o5", SET_META, "out_channels", "5"),
		       "outputs 5, expected 1 to 4"), "out_channels 5");
	{
		struct checkpoint *ck = checkpoint_open(
			changed("old", DROP_META, "out_channels", NULL), err,
			sizeof err);

		tap_ok(ck && checkpoint_config(ck)->outputs == 1,
		       "a checkpoint without out_channels (older) has one "
		       "output");
		checkpoint_close(ck);
	}
	tap_ok(refused(changed("c1", SET_META, "in_channels", "1"),
		       "checkpoint tensor c1.conv1.weight has the wrong shape"),
	       "in_channels 1 over 3-channel tensors");

	/* the tensors */
	tap_ok(refused(changed("nov", DROP_TENSOR, "adam.v.out.weight", NULL),
		       "checkpoint has no tensor adam.v.out.weight"),
	       "a moment missing");
	tap_ok(refused(changed("now", DROP_TENSOR, "c2.conv2.bias", NULL),
		       "checkpoint has no tensor c2.conv2.bias"),
	       "a weight missing");
	tap_ok(refused(changed("shape", SWAP_SHAPE, "adam.m.c1.conv1.weight",
			       NULL),
		       "checkpoint tensor adam.m.c1.conv1.weight has the "
		       "wrong shape"), "a moment of the wrong shape");
	tap_ok(refused(changed("nan", NAN_VALUE, "c1.conv1.weight", NULL),
		       "checkpoint tensor c1.conv1.weight: value 107 is not "
		       "finite"), "a NaN weight");
	tap_ok(refused(changed("inf", NAN_VALUE, "adam.v.out.bias", "inf"),
		       "checkpoint tensor adam.v.out.bias: value 0 is not "
		       "finite"), "an infinite moment");

	/* the state */
	tap_ok(refused(changed("step", SET_META, "adam_step", "1.5"),
		       "checkpoint adam_step \"1.5\" is not a count"),
	       "adam_step 1.5");
	tap_ok(refused(changed("ep1", SET_META, "epoch", "12abc"),
		       "checkpoint epoch \"12abc\" is not a count"),
	       "epoch 12abc");
	tap_ok(refused(changed("ep2", SET_META, "epoch", " 12"),
		       "checkpoint epoch \" 12\" is not a count"), "epoch \" 12\"");
	tap_ok(refused(changed("ep3", SET_META, "best_epoch", "1e3"),
		       "checkpoint best_epoch \"1e3\" is not a count"),
	       "best_epoch 1e3");
	tap_ok(refused(changed("ep4", SET_META, "wait", "+2"),
		       "checkpoint wait \"+2\" is not a count"), "wait +2");
	tap_ok(refused(changed("ep5", SET_META, "adam_step", "0012"),
		       "checkpoint adam_step \"0012\" is not a count"),
	       "adam_step 0012");
	tap_ok(refused(changed("ep6", SET_META, "epoch",
			       "99999999999999999999"),
		       "checkpoint epoch \"99999999999999999999\" is out of "
		       "range"), "epoch 10^20 - 1");
	tap_ok(refused(changed("wait", DROP_META, "wait", NULL),
		       "not a unet-train checkpoint (no \"wait\")"), "no wait");
	tap_ok(refused(changed("loss", SET_META, "best_val_loss", "low"),
		       "checkpoint best_val_loss \"low\" is not a number"),
	       "best_val_loss low");
	tap_ok(refused(changed("rng", SET_META, "rng", "abc"),
		       "checkpoint rng \"abc\" is malformed"), "a short rng");
	tap_ok(refused(changed("rngx", SET_META, "rng",
			       "000000000000000x0000000000000000"
			       "00000000000000000000000000000000"),
		       "checkpoint rng \"000000000000000x0000000000000000"
		       "00000000000000000000000000000000\" is malformed"),
	       "an rng with a letter out of hex");
	tap_ok(refused(changed("rngs", SET_META, "rng",
			       "-000000000000001ffffffffffffffff"
			       "00000000000000000000000000000000"),
		       "checkpoint rng \"-000000000000001ffffffffffffffff"
		       "00000000000000000000000000000000\" is malformed"),
	       "an rng with a sign");
	tap_ok(refused(changed("rngw", SET_META, "rng",
			       " 000000000000001ffffffffffffffff"
			       "00000000000000000000000000000000"),
		       "checkpoint rng \" 000000000000001ffffffffffffffff"
		       "00000000000000000000000000000000\" is malformed"),
	       "an rng with a space");
	adam_free(adam);
	unet_free(net);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_round_trip(3);
	test_round_trip(1);
	test_refusals();
	tap_scratch_remove();
	return tap_done();
}
