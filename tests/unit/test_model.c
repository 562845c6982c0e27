/* model: save/load round trip, the reference's files, and every refusal
 * (architecture, metadata, missing, extra and misshapen tensors). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "pamio.h"
#include "rng.h"
#include "safetensors.h"
#include "tap.h"
#include "util.h"

static char err[512];

/* 1 when every parameter of a and b holds the same PyTorch values. */
static int
same_params(struct unet *a, struct unet *b)
{
	if (unet_param_count(a) != unet_param_count(b))
		return 0;
	for (int i = 0; i < unet_param_count(a); i++) {
		struct unet_param *p = unet_param_at(a, i), *q = unet_param_at(b, i);
		float *x = xcalloc(p->count, sizeof *x), *y = xcalloc(q->count, sizeof *y);
		int same = strcmp(p->name, q->name) == 0 && p->count == q->count;
		if (same) {
			unet_param_export(p, x);
			unet_param_export(q, y);
			same = memcmp(x, y, p->count * sizeof *x) == 0;
		}
		free(x);
		free(y);
		if (!same)
			return 0;
	}
	return 1;
}

static void
test_round_trip(void)
{
	struct unet_config cfg = {3, 4, 3, 1};
	struct unet *net = unet_new(&cfg), *back;
	json_t *meta = json_pack("{ssss}", "epochs", "3", "depth", "99"), *got;
	const char *path = tap_path("rt.safetensors");

	unet_init_glorot(net, 7);
	if (!tap_ok(model_save(path, net, meta, err, sizeof err) == 0, "model_save"))
		tap_diag("%s", err);
	back = model_load(path, &got, err, sizeof err);
	if (!tap_ok(back != NULL, "model_load of what we saved"))
		tap_diag("%s", err);
	if (!back)
		return;
	const struct unet_config *c = unet_get_config(back);
	tap_ok(c->in_channels == 3 && c->base_filters == 4 && c->depth == 3,
	       "same architecture");
	tap_ok(same_params(net, back), "bit-identical parameters");
	tap_ok(got && strcmp(json_string_value(json_object_get(got, "epochs")), "3") == 0 &&
		       strcmp(json_string_value(json_object_get(got, "arch")), "unet") == 0 &&
		       strcmp(json_string_value(json_object_get(got, "in_channels")), "3") == 0 &&
		       strcmp(json_string_value(json_object_get(got, "base_filters")), "4") == 0 &&
		       strcmp(json_string_value(json_object_get(got, "depth")), "3") == 0,
	       "metadata copied, architecture fields set from the network");
	tap_ok(strcmp(json_string_value(json_object_get(meta, "depth")), "99") == 0,
	       "the caller's metadata is not modified");
	struct unet *again = model_load(path, NULL, err, sizeof err);
	tap_ok(again != NULL, "metadata pointer may be NULL");
	unet_free(again);
	json_decref(got);
	json_decref(meta);
	unet_free(back);

	meta = json_pack("{si}", "epochs", 3);
	tap_ok(model_save(path, net, meta, err, sizeof err) == -1 &&
		       strstr(err, "not a string"),
	       "model_save refuses a non-string metadata value (%s)", err);
	json_decref(meta);
	tap_ok(model_save(tap_path("none/m.safetensors"), net, NULL, err,
			  sizeof err) == -1 &&
		       strstr(err, "No such file or directory"),
	       "model_save into a missing folder: -1 (%s)", err);
	{
		struct unet_param *p = unet_param_at(net, 0);
		float keep = p->value[0];
		char *before = NULL, *after = NULL;
		size_t nb = 0, na = 0;
		FILE *f;

		if ((f = fopen(path, "rb"))) {
			before = malloc(1 << 20);
			nb = fread(before, 1, 1 << 20, f);
			fclose(f);
		}
		p->value[0] = NAN;
		tap_ok(model_save(path, net, NULL, err, sizeof err) == -1 &&
			       strstr(err, "not finite"),
		       "model_save refuses a NaN weight (%s)", err);
		if ((f = fopen(path, "rb"))) {
			after = malloc(1 << 20);
			na = fread(after, 1, 1 << 20, f);
			fclose(f);
		}
		tap_ok(before && after && na == nb &&
			       memcmp(before, after, nb) == 0,
		       "the previous model is left as it was");
		free(before);
		free(after);
		p->value[0] = keep;
	}
	unet_free(net);
}

/* model_outputs and model_tuple_type: what the names may be. */
static void
test_outputs(void)
{
	static const struct {
		const char *value; /* NULL: no key */
		int count;         /* -1: refused, err containing want */
		const char *want;
	} cases[] = {
		{ NULL, 1, "GRAYSCALE" },
		{ "foreground", 1, "GRAYSCALE" },
		{ "foreground,distance", 2, "FOREGROUND_DISTANCE" },
		{ "foreground,border,distance,centre", 4,
		  "FOREGROUND_BORDER_DISTANCE_CENTRE" },
		{ "foreground,abcdefghijklmno,abcdefghijklmno,x", -1, "twice" },
		{ "foreground,abcdefghijklmno,pqrstuvwxyzabcd,zyxwvutsrqponml", 4,
		  "FOREGROUND_ABCDEFGHIJKLMNO_PQRSTUVWXYZABCD_ZYXWVUTSRQPONML" },
		{ "foreground,abcdefghijklmnop", -1, "longer than 15" },
		{ "foreground,a,b,c,d", -1, "more than 4 names" },
		{ "distance,foreground", -1, "the first must be foreground" },
		{ "distance", -1, "the first must be foreground" },
		{ "Foreground", -1, "names of letters a-z" },
		{ "foreground,dist2", -1, "names of letters a-z" },
		{ "foreground,,distance", -1, "names of letters a-z" },
		{ "foreground, distance", -1, "names of letters a-z" },
		{ "foreground,", -1, "names of letters a-z" },
		{ "", -1, "names of letters a-z" },
	};
	int ok = 1;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *meta = json_object();
		struct model_outputs o;
		char tt[64];
		int rc;

		if (cases[i].value)
			json_object_set_new(meta, "outputs",
					    json_string(cases[i].value));
		err[0] = '\0';
		rc = model_outputs(meta, &o, err, sizeof err);
		if (cases[i].count < 0) {
			if (rc != -1 || !strstr(err, cases[i].want)) {
				tap_diag("\"%s\": %d, \"%s\"", cases[i].value,
					 rc, err);
				ok = 0;
			}
		} else {
			if (rc == 0)
				model_tuple_type(&o, tt, sizeof tt);
			if (rc != 0 || o.count != cases[i].count ||
			    strcmp(tt, cases[i].want) != 0) {
				tap_diag("\"%s\": %d, %s", cases[i].value, rc,
					 rc ? err : tt);
				ok = 0;
			}
		}
		json_decref(meta);
	}
	tap_ok(ok, "model_outputs: [a-z]+ names, foreground first, none "
	       "twice, at most 4 of at most 15 letters; the tuple types");
	{
		struct model_outputs o;
		json_t *meta = json_pack("{si}", "outputs", 2);

		tap_ok(model_outputs(NULL, &o, err, sizeof err) == 0 &&
		       o.count == 1 && strcmp(o.name[0], "foreground") == 0,
		       "no metadata: the one output foreground");
		tap_ok(model_outputs(meta, &o, err, sizeof err) == -1 &&
		       strstr(err, "not a string"), "outputs not a string: %s",
		       err);
		json_decref(meta);
	}
}

/* A network of three outputs saved and loaded; model_save wants names
 * for every output. */
static void
test_outputs_round_trip(void)
{
	struct unet_config cfg = {1, 2, 2, 3};
	struct unet *net = unet_new(&cfg), *back;
	json_t *meta = json_pack("{ss}", "outputs", "foreground,border,distance");
	json_t *got = NULL;
	const char *path = tap_path("k3.safetensors");

	unet_init_glorot(net, 9);
	tap_ok(model_save(path, net, meta, err, sizeof err) == 0,
	       "model_save of a 3-output network: %s", err);
	back = model_load(path, &got, err, sizeof err);
	tap_ok(back && unet_get_config(back)->outputs == 3 &&
	       same_params(net, back) &&
	       strcmp(json_string_value(json_object_get(got, "outputs")),
		      "foreground,border,distance") == 0,
	       "loads back with its 3 outputs, bit-identical: %s",
	       back ? "" : err);
	unet_free(back);
	json_decref(got);
	json_decref(meta);
	tap_ok(model_save(tap_path("k3b.safetensors"), net, NULL, err,
			  sizeof err) == -1 &&
	       strstr(err, "metadata outputs names 1 output(s), the network "
		      "has 3") && access(tap_path("k3b.safetensors"), F_OK) != 0,
	       "model_save without outputs for 3 outputs: -1, no file (%s)",
	       err);
	meta = json_pack("{ss}", "outputs", "foreground,distance");
	tap_ok(model_save(path, net, meta, err, sizeof err) == -1 &&
	       strstr(err, "names 2 output(s), the network has 3"),
	       "model_save with 2 names for 3 outputs: -1 (%s)", err);
	json_decref(meta);
	unet_free(net);
}

/* Write n float32 values of shape [a, b, c, d] as a .npy file. */
static void
write_npy(const char *path, const float *v, int a, int b, int c, int d)
{
	char hdr[128];
	int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': "
			   "False, 'shape': (%d, %d, %d, %d), }", a, b, c, d);
	FILE *f = fopen(path, "wb");

	/* magic, version 1.0, header length: the data starts at 128 */
	while (len < 128 - 10 - 1)
		hdr[len++] = ' ';
	hdr[len++] = '\n';
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(len & 0xff, f);
	fputc(len >> 8, f);
	fwrite(hdr, 1, (size_t)len, f);
	fwrite(v, sizeof *v, (size_t)a * b * c * d, f);
	fclose(f);
}

/* The arbiter of the loss: unet_loss of a 2-output network with soft
 * targets, a weight map and a pos_weight against the reference's
 * binary_cross_entropy_with_logits on the same model and data. */
static void
test_reference_loss(void)
{
	enum { N = 2, H = 8, W = 8, K = 2 };
	struct unet_config cfg = {1, 2, 2, K};
	struct unet *net = unet_new(&cfg);
	struct unet_work *w = unet_work_new(net, N, H, W, 0, 1);
	json_t *meta = json_pack("{ss}", "outputs", "foreground,distance");
	static float target[N * H * W * K], weight[N * H * W * K];
	float *in = unet_work_input(w);
	char cmd[8192], out[64] = "";
	const char *model = tap_path("loss.safetensors");
	const char *samples = tap_path("loss.pam");
	struct rng r;
	FILE *f;

	unet_init_glorot(net, 21);
	model_save(model, net, meta, err, sizeof err);
	rng_seed(&r, 8);
	f = fopen(samples, "wb");
	for (int n = 0; n < N; n++) {
		struct image img = {0};

		image_alloc(&img, W, H, 2, 255, "GRAYSCALE_MASK");
		for (int p = 0; p < H * W; p++) {
			img.data[2 * p] = (uint16_t)rng_below(&r, 256);
			img.data[2 * p + 1] = 255 * (uint16_t)rng_below(&r, 2);
			in[n * H * W + p] = (float)(img.data[2 * p] / 255.0);
		}
		pamio_write(f, &img);
		image_free(&img);
	}
	fclose(f);
	for (int i = 0; i < N * H * W * K; i++) {
		target[i] = (float)rng_uniform(&r);
		weight[i] = rng_below(&r, 8) ? (float)(4 * rng_uniform(&r)) : 0;
	}
	write_npy(tap_path("t.npy"), target, N, H, W, K);
	write_npy(tap_path("w.npy"), weight, N, H, W, K);
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 tests/reference/unet_reference.py loss %s "
		 "--targets %s --weight %s --pos-weight 2.5 < %s", model,
		 tap_path("t.npy"), tap_path("w.npy"), samples);
	f = popen(cmd, "r");
	if (!f || !fgets(out, sizeof out, f))
		out[0] = '\0';
	if (f)
		pclose(f);
	unet_forward(w, N);
	double ours = unet_loss(w, N, target, weight, 2.5f, 0);
	double ref = strtod(out, NULL);

	tap_ok(out[0] && fabs(ours - ref) < 1e-5 * fabs(ref),
	       "a 2-output loss with soft targets, a weight map and "
	       "pos_weight 2.5: ours %.9g, the reference's %s", ours, out);
	json_decref(meta);
	unet_work_free(w);
	unet_free(net);
}

static void
test_reference_file(void)
{
	char cmd[8192];
	const char *path = tap_path("ref.safetensors");
	struct st_file f;

	if (access("tests/reference/unet_reference.py", R_OK) != 0) {
		tap_ok(1, "# SKIP the reference is run from the top of the tree");
		return;
	}
	if (system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0) {
		tap_ok(1, "# SKIP /usr/bin/python3 has no torch: no reference model");
		return;
	}
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 tests/reference/unet_reference.py init "
		 "--in-channels 1 --base 4 --depth 3 --seed 1 %s", path);
	if (!tap_ok(system(cmd) == 0, "the reference writes a model"))
		return;
	struct unet *net = model_load(path, NULL, err, sizeof err);
	if (!tap_ok(net != NULL, "a model written by the reference loads"))
		tap_diag("%s", err);
	if (!net || st_read(path, &f, err, sizeof err) < 0)
		return;
	int same = 1;
	for (int i = 0; i < unet_param_count(net); i++) {
		struct unet_param *p = unet_param_at(net, i);
		const struct st_tensor *t = st_find(&f, p->name);
		float *x = xcalloc(p->count, sizeof *x);
		unet_param_export(p, x);
		same = same && t && memcmp(x, t->data, p->count * sizeof *x) == 0;
		free(x);
	}
	tap_ok(same, "its values are exactly the file's");
	st_free(&f);
	unet_free(net);
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 tests/reference/unet_reference.py init "
		 "--in-channels 3 --base 2 --depth 2 --seed 1 "
		 "--outputs foreground,distance %s", path);
	if (!tap_ok(system(cmd) == 0, "the reference writes a 2-output model"))
		return;
	net = model_load(path, NULL, err, sizeof err);
	tap_ok(net && unet_get_config(net)->outputs == 2,
	       "a 2-output model of the reference loads with 2 outputs: %s",
	       net ? "" : err);
	unet_free(net);
	test_reference_loss();
}

/* Save a small model, edit its file with edit(), and expect model_load to
 * fail with want in err. */
static void
refuse(const char *what, void (*edit)(struct st_file *), const char *want)
{
	struct unet_config cfg = {3, 2, 5, 1};
	struct unet *net = unet_new(&cfg);
	const char *good = tap_path("good.safetensors");
	const char *bad = tap_path("bad.safetensors");
	struct st_file f;
	json_t *meta = (json_t *)&meta;

	unet_init_glorot(net, 1);
	model_save(good, net, NULL, err, sizeof err);
	unet_free(net);
	st_read(good, &f, err, sizeof err);
	edit(&f);
	if (st_write(bad, &f, err, sizeof err) < 0)
		tap_diag("cannot write %s: %s", bad, err);
	st_free(&f);
	net = model_load(bad, &meta, err, sizeof err);
	if (!tap_ok(net == NULL && meta == NULL && strstr(err, want),
		    "refuses %s", what))
		tap_diag("err \"%s\", want \"%s\"", err, want);
	unet_free(net);
}

static void
set_meta(struct st_file *f, const char *key, const char *value)
{
	if (value)
		json_object_set_new(f->metadata, key, json_string(value));
	else
		json_object_del(f->metadata, key);
}

static void no_arch(struct st_file *f) { set_meta(f, "arch", NULL); }
static void other_arch(struct st_file *f) { set_meta(f, "arch", "resnet"); }
static void no_depth(struct st_file *f) { set_meta(f, "depth", NULL); }
static void junk_channels(struct st_file *f) { set_meta(f, "in_channels", "3x"); }
static void signed_base(struct st_file *f) { set_meta(f, "base_filters", "+2"); }
static void spaced_depth(struct st_file *f) { set_meta(f, "depth", " 5"); }
static void huge_base(struct st_file *f) { set_meta(f, "base_filters", "99999999999"); }
static void bad_channels(struct st_file *f) { set_meta(f, "in_channels", "9"); }
static void other_base(struct st_file *f) { set_meta(f, "base_filters", "4"); }
static void two_outputs(struct st_file *f) { set_meta(f, "outputs", "foreground,distance"); }
static void bad_output(struct st_file *f) { set_meta(f, "outputs", "Foreground"); }

static void
reshape(struct st_file *f)
{
	struct st_tensor *t = (struct st_tensor *)st_find(f, "c3.conv1.weight");
	t->shape[0] = 4;
	t->shape[1] = 8;
}

static void
drop(struct st_file *f)
{
	struct st_tensor *t = (struct st_tensor *)st_find(f, "u6.bias");
	free(t->name);
	if (!f->map)
		free(t->data);
	*t = f->tensors[--f->ntensors];
}

static void
extra(struct st_file *f)
{
	f->tensors = xreallocarray(f->tensors, ++f->ntensors, sizeof *f->tensors);
	struct st_tensor *t = &f->tensors[f->ntensors - 1];
	t->name = xstrdup("x");
	t->ndim = 1;
	t->shape[0] = 1;
	t->count = 1;
	t->data = xcalloc(1, sizeof(float));
}

static void
nan_value(struct st_file *f)
{
	((struct st_tensor *)st_find(f, "out.weight"))->data[1] = NAN;
}

static void
flatten(struct st_file *f)
{
	struct st_tensor *t = (struct st_tensor *)st_find(f, "out.weight");
	t->ndim = 1;
	t->shape[0] = 2;
}

static void
test_refusals(void)
{
	refuse("a file without arch", no_arch, "__metadata__ has no \"arch\"");
	refuse("another architecture", other_arch, "arch \"resnet\", expected \"unet\"");
	refuse("a missing depth", no_depth, "__metadata__ has no \"depth\"");
	refuse("in_channels \"3x\"", junk_channels,
	       "__metadata__ in_channels \"3x\" is not an integer");
	refuse("base_filters \"+2\"", signed_base,
	       "__metadata__ base_filters \"+2\" is not an integer");
	refuse("depth \" 5\"", spaced_depth, "__metadata__ depth \" 5\" is not an integer");
	refuse("a huge base_filters", huge_base, "out of range");
	refuse("in_channels 9", bad_channels, "in_channels");
	refuse("metadata that does not match the tensors", other_base,
	       "tensor c1.conv1.bias has shape [2], expected [4]");
	refuse("two outputs named, one in out.weight", two_outputs,
	       "__metadata__ outputs names 2 output(s) but tensor out.weight "
	       "has 1");
	refuse("an output name not of a-z", bad_output,
	       "__metadata__ outputs \"Foreground\": expected comma-separated "
	       "names of letters a-z");
	refuse("a misshapen tensor", reshape,
	       "tensor c3.conv1.weight has shape [4, 8, 3, 3], expected [8, 4, 3, 3]");
	refuse("a tensor of the wrong rank", flatten,
	       "tensor out.weight has shape [2], expected [1, 2, 1, 1]");
	refuse("a missing tensor", drop, "missing tensor u6.bias");
	refuse("an extra tensor", extra, "unexpected tensor x");
	refuse("a NaN weight", nan_value, "tensor out.weight: value 1 is not finite");

	json_t *meta = (json_t *)&meta;
	tap_ok(model_load(tap_path("nonexistent"), &meta, err, sizeof err) == NULL &&
		       meta == NULL && strstr(err, "No such file"),
	       "a missing file (%s)", err);
	FILE *fp = fopen(tap_path("trunc"), "wb");
	fwrite("\x40\0\0\0\0\0\0\0{", 1, 9, fp);
	fclose(fp);
	tap_ok(model_load(tap_path("trunc"), NULL, err, sizeof err) == NULL &&
		       strstr(err, "exceeds the file size"),
	       "a truncated file (%s)", err);
}

/* model_parse_count, the one parser of counts in metadata (models and
 * checkpoints). */
static void
test_parse_count(void)
{
	static const struct {
		const char *s;
		long max;
		enum model_count want;
		long value;
	} cases[] = {
		{ "0", 9, MODEL_COUNT_OK, 0 },
		{ "16", 99, MODEL_COUNT_OK, 16 },
		{ "999999999", 999999999, MODEL_COUNT_OK, 999999999 },
		{ "1000000000", 999999999, MODEL_COUNT_RANGE, 0 },
		{ "1000000000x", 999999999, MODEL_COUNT_RANGE, 0 },
		{ "9223372036854775807", LONG_MAX, MODEL_COUNT_OK, LONG_MAX },
		{ "9223372036854775808", LONG_MAX, MODEL_COUNT_RANGE, 0 },
		{ "99999999999999999999", LONG_MAX, MODEL_COUNT_RANGE, 0 },
		{ "2147483648", INT_MAX, MODEL_COUNT_RANGE, 0 },
		{ "4294967299", INT_MAX, MODEL_COUNT_RANGE, 0 },
		{ "7", 5, MODEL_COUNT_RANGE, 0 },
		{ "5", 5, MODEL_COUNT_OK, 5 },
		{ "", 9, MODEL_COUNT_BAD, 0 },
		{ " 12", 99, MODEL_COUNT_BAD, 0 },
		{ "12 ", 99, MODEL_COUNT_BAD, 0 },
		{ "+12", 99, MODEL_COUNT_BAD, 0 },
		{ "-1", 99, MODEL_COUNT_BAD, 0 },
		{ "12abc", 99, MODEL_COUNT_BAD, 0 },
		{ "1e3", 9999, MODEL_COUNT_BAD, 0 },
		{ "16.0", 99, MODEL_COUNT_BAD, 0 },
		{ "012", 99, MODEL_COUNT_BAD, 0 },
		{ "0x10", 99, MODEL_COUNT_BAD, 0 },
	};
	int ok = model_parse_count(NULL, 9, &(long){ 0 }) == MODEL_COUNT_BAD;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long v = -1;
		enum model_count got = model_parse_count(cases[i].s,
							 cases[i].max, &v);

		if (got != cases[i].want ||
		    (got == MODEL_COUNT_OK && v != cases[i].value) ||
		    (got != MODEL_COUNT_OK && v != -1)) {
			tap_diag("\"%s\" (max %ld): %d, value %ld", cases[i].s,
				 cases[i].max, (int)got, v);
			ok = 0;
		}
	}
	tap_ok(ok, "model_parse_count: plain decimal counts only, up to the "
	       "maximum, *out untouched on failure");
}

int
main(void)
{
	test_parse_count();
	test_round_trip();
	test_outputs();
	test_outputs_round_trip();
	test_reference_file();
	test_refusals();
	tap_scratch_remove();
	return tap_done();
}
