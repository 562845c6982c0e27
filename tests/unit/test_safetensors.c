/* safetensors: round trip, byte layout, the reference's reader, and every
 * rejection rule of st_read; st_write's atomicity on a failing write. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "safetensors.h"
#include "tap.h"
#include "util.h"

static char err[512];

/* Write an 8-byte length (hlen, or strlen(json) when hlen is -1), the
 * JSON text and ndata bytes of data. */
static const char *
raw_file(const char *name, long long hlen, const char *json,
	 const void *data, size_t ndata)
{
	const char *path = tap_path(name);
	FILE *fp = fopen(path, "wb");
	uint64_t n = hlen < 0 ? strlen(json) : (uint64_t)hlen;
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = n >> (8 * i) & 0xff;
	fwrite(len, 1, 8, fp);
	fwrite(json, 1, strlen(json), fp);
	if (ndata)
		fwrite(data, 1, ndata, fp);
	fclose(fp);
	return path;
}

/* st_read of a file made by raw_file must fail with want in err. */
static void
reject(const char *what, long long hlen, const char *json, size_t ndata,
       const char *want)
{
	static unsigned char zeros[1024];
	struct st_file f;
	const char *path = raw_file("bad.safetensors", hlen, json, zeros, ndata);
	int rc = st_read(path, &f, err, sizeof err);

	if (!tap_ok(rc == -1 && strstr(err, want) != NULL &&
			    f.tensors == NULL && f.metadata == NULL,
		    "rejects %s", what))
		tap_diag("rc %d, err \"%s\", want \"%s\"", rc, err, want);
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = xmalloc(n);
	*len = fread(buf, 1, n, fp);
	fclose(fp);
	return buf;
}

static void
set_tensor(struct st_tensor *t, const char *name, int ndim,
	   const int64_t *shape)
{
	t->name = xstrdup(name);
	t->ndim = ndim;
	t->count = 1;
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		t->count *= shape[i];
	}
	t->data = xcalloc(t->count, sizeof(float));
	for (size_t i = 0; i < t->count; i++)
		t->data[i] = (float)(i * 0.37 - 3.1) * (name[0] == 'b' ? -1 : 1);
}

static void
test_exact_bytes(void)
{
	struct st_file f = {0};
	int64_t one = 1;
	size_t len;
	unsigned char *b;
	const char *want = "{\"__metadata__\":{\"arch\":\"unet\"},"
			   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
			   "\"data_offsets\":[0,4]}}";
	size_t hlen = (strlen(want) + 7) / 8 * 8;

	f.ntensors = 1;
	f.tensors = xcalloc(1, sizeof *f.tensors);
	set_tensor(&f.tensors[0], "a", 1, &one);
	f.tensors[0].data[0] = 1.0f;
	f.metadata = json_pack("{ss}", "arch", "unet");
	tap_ok(st_write(tap_path("one.safetensors"), &f, err, sizeof err) == 0,
	       "write a one-tensor file");
	b = slurp(tap_path("one.safetensors"), &len);
	int ok = b && len == 8 + hlen + 4 && b[0] == hlen && b[1] == 0 &&
		 b[7] == 0 && memcmp(b + 8, want, strlen(want)) == 0;
	for (size_t i = 8 + strlen(want); ok && i < 8 + hlen; i++)
		ok = b[i] == ' ';
	ok = ok && memcmp(b + 8 + hlen, "\x00\x00\x80\x3f", 4) == 0;
	tap_ok(ok, "exact bytes: LE length, compact JSON padded with spaces to 8, LE data");
	free(b);
	st_free(&f);
}

/* Data at an offset that is a multiple of 4 is used from a private
 * mapping of the file (where the build maps), written to without changing
 * the file; at any other offset it is read, to the same values. */
static void
test_mapped_and_read(void)
{
	static const unsigned char two[8] = { 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0 };
	const char *aligned = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
			      "\"data_offsets\":[0,8]}}  ";
	char odd[128];
	struct st_file f;
	const char *path;
	int ok;

	snprintf(odd, sizeof odd, "%s ", aligned);
	tap_ok(strlen(aligned) % 4 == 0 && strlen(odd) % 4 == 1,
	       "the headers' lengths are 4k and 4k + 1");
	path = raw_file("mapped.safetensors", -1, aligned, two, sizeof two);
	ok = st_read(path, &f, err, sizeof err) == 0 && f.ntensors == 1 &&
	     f.tensors[0].data[0] == 1.0f && f.tensors[0].data[1] == -2.0f;
#if !defined(__SANITIZE_ADDRESS__)
	ok = ok && f.map != NULL &&
	     (char *)f.tensors[0].data == (char *)f.map + 8 + strlen(aligned);
#endif
	if (ok)
		f.tensors[0].data[0] = 5.0f;
	st_free(&f);
	tap_ok(ok && st_read(path, &f, err, sizeof err) == 0 &&
		       f.tensors[0].data[0] == 1.0f,
	       "aligned data mapped, and a write to it leaves the file as it was");
	st_free(&f);
	path = raw_file("read.safetensors", -1, odd, two, sizeof two);
	tap_ok(st_read(path, &f, err, sizeof err) == 0 && f.map == NULL &&
		       f.tensors[0].data[0] == 1.0f &&
		       f.tensors[0].data[1] == -2.0f,
	       "data at an odd offset read into memory, the same values");
	st_free(&f);
}

static void
test_round_trip(void)
{
	struct st_file f = {0}, g;
	int64_t s4[] = {4, 3, 3, 3}, s1[] = {7}, s2[] = {2, 5};
	const char *path = tap_path("rt.safetensors");

	f.ntensors = 4;
	f.tensors = xcalloc(4, sizeof *f.tensors);
	set_tensor(&f.tensors[0], "c1.conv1.weight", 4, s4);
	set_tensor(&f.tensors[1], "b.bias", 1, s1);
	set_tensor(&f.tensors[2], "a.scalar", 0, NULL);
	set_tensor(&f.tensors[3], "out.weight", 2, s2);
	f.tensors[1].data[0] = -0.0f;
	f.tensors[1].data[1] = 1e-40f; /* subnormal */
	f.tensors[1].data[2] = 3.4e38f;
	f.metadata = json_pack("{ssss}", "arch", "unet", "note", "h\u00e9 \"q\"");
	tap_ok(st_write(path, &f, err, sizeof err) == 0, "write %s", path);
	if (!tap_ok(st_read(path, &g, err, sizeof err) == 0, "read it back"))
		tap_diag("%s", err);
	int ok = g.ntensors == 4;
	const char *order[] = {"a.scalar", "b.bias", "c1.conv1.weight", "out.weight"};
	for (size_t i = 0; ok && i < 4; i++) {
		const struct st_tensor *a = st_find(&f, order[i]), *b = &g.tensors[i];
		ok = strcmp(b->name, order[i]) == 0 && a->ndim == b->ndim &&
		     a->count == b->count &&
		     memcmp(a->shape, b->shape, a->ndim * sizeof(int64_t)) == 0 &&
		     memcmp(a->data, b->data, a->count * sizeof(float)) == 0;
	}
	tap_ok(ok, "same names (sorted), shapes and bit-identical values");
	tap_ok(json_equal(f.metadata, g.metadata), "same metadata");
	tap_ok(st_find(&g, "out.weight") == &g.tensors[3] &&
		       st_find(&g, "nope") == NULL,
	       "st_find");

	/* The reference's own reader (numpy) reads what we wrote. */
	char cmd[8192];
	snprintf(cmd, sizeof cmd,
		 "cd tests/reference && /usr/bin/python3 -c '"
		 "import sys, unet_reference as r\n"
		 "t, m = r.load_safetensors(sys.argv[1])\n"
		 "w = t[\"c1.conv1.weight\"].numpy()\n"
		 "assert list(w.shape) == [4, 3, 3, 3]\n"
		 "assert abs(float(w[3, 2, 2, 2]) - (107 * 0.37 - 3.1)) < 1e-5\n"
		 "assert float(t[\"b.bias\"][2]) == 3.4e38 or abs(float(t[\"b.bias\"][2]) / 3.4e38 - 1) < 1e-6\n"
		 "assert m[\"arch\"] == \"unet\"\n' %s 2>/dev/null",
		 path);
	if (access("tests/reference/unet_reference.py", R_OK) != 0)
		tap_ok(1, "# SKIP the reference is read from the top of the tree");
	else if (system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null") != 0)
		tap_ok(1, "# SKIP the reference reader needs /usr/bin/python3 with torch");
	else
		tap_ok(system(cmd) == 0, "the reference's load_safetensors reads it");

	/* Overwriting replaces the file and leaves no temporary behind. */
	f.tensors[0].data[0] = 42.0f;
	st_free(&g);
	tap_ok(st_write(path, &f, err, sizeof err) == 0 &&
		       st_read(path, &g, err, sizeof err) == 0 &&
		       g.tensors[2].data[0] == 42.0f,
	       "overwrite an existing file");
	st_free(&g);
	st_free(&f);
	tap_ok(f.tensors == NULL && f.metadata == NULL && f.ntensors == 0,
	       "st_free zeroes the struct");
}

static int
count_temporaries(const char *prefix)
{
	DIR *d = opendir(tap_scratch());
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
		    strlen(e->d_name) == strlen(prefix) + 6)
			n++;
	closedir(d);
	return n;
}

/* A fill that gives tensor i the values i + k / 8, and refuses tensor
 * *arg (-1 for none). */
static int
fill_values(void *arg, size_t i, float *out, char *err, size_t errlen)
{
	if ((long)i == *(long *)arg)
		return set_error(err, errlen, "tensor %zu refused", i);
	for (size_t k = 0; k < 6; k++)
		out[k] = (float)i + k / 8.0f;
	return 0;
}

/* Tensors without data take their values from fill, in the file's order
 * whatever their order in the array; a refusal leaves the old file. */
static void
test_write_fill(void)
{
	struct st_file f = {0}, g;
	int64_t s6[] = {2, 3};
	long refuse = -1;
	const char *path = tap_path("fill.safetensors");
	size_t len1, len2;
	unsigned char *before, *after;
	int ok;

	f.ntensors = 3;
	f.tensors = xcalloc(3, sizeof *f.tensors);
	set_tensor(&f.tensors[0], "z", 2, s6);
	set_tensor(&f.tensors[1], "a", 2, s6);
	set_tensor(&f.tensors[2], "m", 2, s6);
	free(f.tensors[0].data);
	free(f.tensors[2].data);
	f.tensors[0].data = f.tensors[2].data = NULL;
	f.fill = fill_values;
	f.fill_arg = &refuse;
	tap_ok(st_write(path, &f, err, sizeof err) == 0, "write with fill");
	ok = st_read(path, &g, err, sizeof err) == 0 && g.ntensors == 3;
	for (size_t k = 0; ok && k < 6; k++)
		ok = st_find(&g, "z")->data[k] == 0 + k / 8.0f &&
		     st_find(&g, "m")->data[k] == 2 + k / 8.0f &&
		     st_find(&g, "a")->data[k] == f.tensors[1].data[k];
	tap_ok(ok, "the filled tensors read back with fill's values, the other "
	       "with its data");
	st_free(&g);
	before = slurp(path, &len1);
	refuse = 2;
	tap_ok(st_write(path, &f, err, sizeof err) == -1 &&
		       strcmp(err, "tensor 2 refused") == 0,
	       "a refusing fill: -1 with its reason (%s)", err);
	after = slurp(path, &len2);
	tap_ok(before && after && len1 == len2 &&
		       memcmp(before, after, len1) == 0 &&
		       count_temporaries("fill.safetensors.") == 0,
	       "the old file is intact, no temporary file is left");
	free(before);
	free(after);
	f.fill = NULL;
	tap_ok(st_write(path, &f, err, sizeof err) == -1 &&
		       strstr(err, "no values"),
	       "a tensor without data and no fill: refused (%s)", err);
	st_free(&f);
}

static void
test_write_failures(void)
{
	struct st_file f = {0}, g;
	int64_t big[] = {1000, 100};
	const char *path = tap_path("keep.safetensors");
	struct rlimit old, lim;
	size_t len1, len2;
	unsigned char *before, *after;

	f.ntensors = 1;
	f.tensors = xcalloc(1, sizeof *f.tensors);
	set_tensor(&f.tensors[0], "w", 2, big);
	f.tensors[0].shape[0] = 1; /* a small version first */
	f.tensors[0].count = 100;
	st_write(path, &f, err, sizeof err);
	before = slurp(path, &len1);
	f.tensors[0].shape[0] = 1000;
	f.tensors[0].count = 1000 * 100;

	/* A file size limit makes the write fail like a full disk would. */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = 4096;
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = st_write(path, &f, err, sizeof err);
	setrlimit(RLIMIT_FSIZE, &old);
	if (!tap_ok(rc == -1 && strstr(err, "File too large"),
		    "a failing write returns -1 with strerror"))
		tap_diag("rc %d, err \"%s\"", rc, err);
	after = slurp(path, &len2);
	tap_ok(before && after && len1 == len2 && memcmp(before, after, len1) == 0,
	       "the old file is intact");
	tap_ok(count_temporaries("keep.safetensors.") == 0,
	       "the temporary file is removed");
	tap_ok(st_read(path, &g, err, sizeof err) == 0 && g.tensors[0].count == 100,
	       "the old file still reads");
	st_free(&g);
	free(before);
	free(after);

	rc = st_write(tap_path("no/such/tap_scratch().safetensors"), &f, err, sizeof err);
	tap_ok(rc == -1 && strstr(err, "No such file or directory"),
	       "a missing folder: -1 with strerror (%s)", err);

	free(f.tensors[0].name);
	f.tensors[0].name = xstrdup("");
	tap_ok(st_write(tap_path("x.safetensors"), &f, err, sizeof err) == -1 &&
		       strstr(err, "invalid tensor name"),
	       "writer refuses an empty name");
	st_free(&f);

	f.ntensors = 2;
	f.tensors = xcalloc(2, sizeof *f.tensors);
	set_tensor(&f.tensors[0], "w", 1, big);
	set_tensor(&f.tensors[1], "w", 1, big);
	tap_ok(st_write(tap_path("x.safetensors"), &f, err, sizeof err) == -1 &&
		       strstr(err, "tensor name w used twice") &&
		       access(tap_path("x.safetensors"), F_OK) != 0,
	       "writer refuses duplicate names and writes nothing");
	st_free(&f);

	f.metadata = json_pack("{si}", "epochs", 3);
	tap_ok(st_write(tap_path("x.safetensors"), &f, err, sizeof err) == -1 &&
		       strstr(err, "not a string"),
	       "writer refuses non-string metadata");
	st_free(&f);
}

static void
test_rejections(void)
{
	struct st_file f;
	const char *t1 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

	tap_ok(st_read(tap_path("nonexistent"), &f, err, sizeof err) == -1 &&
		       strstr(err, "No such file"),
	       "a missing file: strerror");
	tap_ok(st_read(tap_scratch(), &f, err, sizeof err) == -1 &&
		       strstr(err, "is a folder"),
	       "a folder");

	FILE *fp = fopen(tap_path("short"), "wb");
	fwrite("\x10\0\0", 1, 3, fp);
	fclose(fp);
	tap_ok(st_read(tap_path("short"), &f, err, sizeof err) == -1 &&
		       strstr(err, "too short"),
	       "a 3-byte file (%s)", err);

	/* Not safetensors at all: the 8 bytes are no length, no JSON header
	 * follows them. */
	static const struct {
		const char *bytes;
		size_t n;
	} others[] = {
#define BYTES(s) { s, sizeof s - 1 }
		BYTES("P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n"
		      "TUPLTYPE GRAYSCALE\nENDHDR\n\1\2\3\4"),
		BYTES("P7\nWIDTH"),
		BYTES("\2\0\0\0\0\0\0\0\0\0"),
#undef BYTES
	};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
		fp = fopen(tap_path("other"), "wb");
		fwrite(others[i].bytes, 1, others[i].n, fp);
		fclose(fp);
		if (!tap_ok(st_read(tap_path("other"), &f, err, sizeof err) == -1 &&
				    strcmp(err, "not a safetensors file") == 0 &&
				    f.tensors == NULL && f.metadata == NULL,
			    "not a safetensors file: other file %zu", i))
			tap_diag("err \"%s\"", err);
	}
	reject("a header length past the limit", 123456789012LL, t1, 8,
	       "header length 123456789012 exceeds the limit");
	reject("a header length past the file size", 1000, t1, 8,
	       "header length 1000 exceeds the file size");
	reject("an empty header", 0, "", 0, "not valid JSON");
	reject("non-JSON", -1, "{\"a\": nope}", 0, "not valid JSON");
	reject("JSON with trailing junk", -1, "{} {}", 0, "not valid JSON");
	reject("NaN", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}",
	       4, "not valid JSON");
	reject("a huge integer", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999999],\"data_offsets\":[0,4]}}",
	       4, "not valid JSON");
	reject("a huge real", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e999],\"data_offsets\":[0,4]}}",
	       4, "not valid JSON");
	reject("a real dimension", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}",
	       8, "tensor a: shape entry 0 is not a non-negative integer");
	reject("a negative dimension", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
	       8, "tensor a: shape entry 0 is not a non-negative integer");
	reject("a shape whose product overflows", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
	       8, "tensor a: shape [4294967296, 4294967296] is too large");
	reject("too many dimensions", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
	       4, "tensor a: 9 dimensions, at most 8");
	reject("a shape that is not an array", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}",
	       8, "tensor a: shape is not an array");
	reject("duplicate keys", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
	       8, "duplicate object key");
	reject("a header that is an array", -1, "[1, 2]", 0,
	       "not a safetensors file");
	reject("metadata that is not an object", -1,
	       "{\"__metadata__\":[\"unet\"]}", 0,
	       "__metadata__ is not a JSON object");
	reject("a non-string metadata value", -1,
	       "{\"__metadata__\":{\"arch\":\"unet\",\"depth\":5}}", 0,
	       "__metadata__ value of \"depth\" is not a string");
	reject("an entry that is not an object", -1, "{\"a\":3}", 0,
	       "tensor a: entry is not a JSON object");
	reject("an empty name", -1,
	       "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
	       4, "empty name");
	reject("dtype F16", -1,
	       "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
	       4, "tensor a: dtype F16, only F32 is supported");
	reject("a missing dtype", -1,
	       "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
	       "tensor a: missing \"dtype\"");
	reject("a missing data_offsets", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
	       "tensor a: missing \"data_offsets\"");
	reject("an unknown key", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}",
	       8, "tensor a: unexpected key \"x\"");
	reject("offsets of the wrong form", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
	       "tensor a: data_offsets is not an array of two integers");
	reject("reversed offsets", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
	       "tensor a: data_offsets [8, 0] are not an interval");
	reject("offsets that do not match the shape", -1,
	       "{\"c1.conv1.weight\":{\"dtype\":\"F32\",\"shape\":[16,3,3,3],\"data_offsets\":[0,400]}}",
	       400,
	       "tensor c1.conv1.weight: data_offsets [0, 400] do not match shape [16, 3, 3, 3]");
	reject("overlapping tensors", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
	       12, "tensors a and b overlap (data_offsets [0, 8] and [4, 12])");
	reject("an empty tensor inside another", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	       "\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
	       8, "tensors a and b overlap");
	reject("a hole", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
	       20, "hole in the data: bytes [8, 12) belong to no tensor");
	reject("a hole at the start", -1,
	       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
	       12, "hole in the data: bytes [0, 4)");
	reject("trailing bytes", -1, t1, 12,
	       "4 trailing bytes after the last tensor");
	reject("data and no tensors", -1, "{}", 4,
	       "4 trailing bytes after the last tensor");
	reject("truncated data", -1, t1, 6,
	       "tensor a: data_offsets [0, 8] run past the end of the data (6 bytes)");

	/* And the limits accepted: an empty model, a zero-size tensor. */
	const char *p = raw_file("ok", -1,
				 "{\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]},"
				 "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ",
				 "\0\0\x80\x3f\0\0\0\xc0", 8);
	int rc = st_read(p, &f, err, sizeof err);
	tap_ok(rc == 0 && f.ntensors == 2 && strcmp(f.tensors[0].name, "a") == 0 &&
		       f.tensors[0].data[0] == 1.0f && f.tensors[0].data[1] == -2.0f &&
		       f.tensors[1].count == 0 && json_object_size(f.metadata) == 0,
	       "accepts a zero-size tensor, no metadata, trailing spaces in the header");
	st_free(&f);
	p = raw_file("empty", -1, "{}", NULL, 0);
	tap_ok(st_read(p, &f, err, sizeof err) == 0 && f.ntensors == 0 &&
		       json_is_object(f.metadata),
	       "accepts a file without tensors");
	st_free(&f);
}

int
main(void)
{
	test_exact_bytes();
	test_mapped_and_read();
	test_round_trip();
	test_rejections();
	test_write_failures();
	test_write_fill();
	tap_scratch_remove();
	return tap_done();
}
