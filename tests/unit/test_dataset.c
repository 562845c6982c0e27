/* dataset: reading samples, compact storage, float batches, samples of
 * several sizes, percentile normalisation; progress's duration format. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset.h"
#include "progress.h"
#include "tap.h"
#include "util.h"

/* Write a stream of two samples to a temporary file: a 2x1 RGB_MASK with
 * maxval 255 and a 2x1 RGB_MASK with maxval 1000. */
static void
write_stream(const char *path, int second_maxval)
{
	FILE *f = fopen(path, "wb");

	fputs("P7\nWIDTH 2\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_MASK\n"
	      "ENDHDR\n", f);
	fwrite("\x00\x33\xff\x80" "\x01\x02\x03\x7f", 1, 8, f);
	fprintf(f, "P7\nWIDTH 2\nHEIGHT 1\nDEPTH 4\nMAXVAL %d\nTUPLTYPE "
		"RGB_MASK\nENDHDR\n", second_maxval);
	/* values 0, 500, 1000, mask 501 | 1, 2, 3, mask 500 (big-endian) */
	fwrite("\x00\x00\x01\xf4\x03\xe8\x01\xf5"
	       "\x00\x01\x00\x02\x00\x03\x01\xf4", 1, 16, f);
	fclose(f);
}

/* A GRAYSCALE_LABEL sample (3x1, maxval 65535: labels 0, 7, 65535) then
 * the 2x1 RGB_MASK sample of write_stream would not fit: a 3x1
 * GRAYSCALE_MASK one. */
static void
test_labels(const char *path)
{
	FILE *f = fopen(path, "wb");
	struct dataset ds;
	uint16_t lab[3];
	float t[3];
	int idx[1] = { 0 };

	fputs("P7\nWIDTH 3\nHEIGHT 1\nDEPTH 2\nMAXVAL 65535\nTUPLTYPE "
	      "GRAYSCALE_LABEL\nENDHDR\n", f);
	fwrite("\x00\x10\x00\x00" "\x00\x20\x00\x07" "\x00\x30\xff\xff",
	       1, 12, f);
	fputs("P7\nWIDTH 3\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\nTUPLTYPE "
	      "GRAYSCALE_MASK\nENDHDR\n", f);
	fwrite("\x01\x00\x02\xff\x03\x00", 1, 6, f);
	fclose(f);
	dataset_init(&ds, NULL);
	tap_ok(dataset_read(&ds, path) == 2 && ds.channels == 1 &&
	       ds.labelled == 1, "a *_LABEL and a *_MASK sample: one labelled");
	tap_ok(ds.samples[0].labels && !ds.samples[1].labels &&
	       dataset_first_unlabelled(&ds) == 1, "the mask sample has no "
	       "labels: first unlabelled is sample 1");
	dataset_fill_labels(&ds, idx, 1, lab);
	tap_ok(lab[0] == 0 && lab[1] == 7 && lab[2] == 65535,
	       "labels kept exactly (0, 7, 65535)");
	dataset_fill(&ds, idx, 1, NULL, t);
	tap_ok(t[0] == 0 && t[1] == 1 && t[2] == 1 &&
	       ds.samples[0].positives == 2, "the labels' foreground is the "
	       "target");
	tap_ok(ds.bytes == 3 * 2 + 3 + 3 * 2 + 3 + 3, "bytes %zu count the "
	       "labels", ds.bytes);
	dataset_free(&ds);
}

/* A GRAYSCALE_MASK sample of w x h: values v[] and masks m[] at maxval
 * (2 bytes each above 255). */
static void
put_gray(FILE *f, int w, int h, unsigned maxval, const unsigned *v,
	 const unsigned *m)
{
	fprintf(f, "P7\nWIDTH %d\nHEIGHT %d\nDEPTH 2\nMAXVAL %u\nTUPLTYPE "
		"GRAYSCALE_MASK\nENDHDR\n", w, h, maxval);
	for (int i = 0; i < w * h; i++) {
		unsigned x[2] = { v[i], m[i] };
		for (int k = 0; k < 2; k++) {
			if (maxval > 255)
				fputc(x[k] >> 8, f);
			fputc(x[k] & 0xff, f);
		}
	}
}

/* Samples of several sizes under percentile normalisation: per-sample
 * sizes, each sample's map checked against numpy.percentile's values
 * worked out by hand, an 8-bit sample and its 16-bit copy giving the
 * same input, the mask channel left out, a window, a constant image. */
static void
test_percentile(const char *path)
{
	/* 3x2: values 0..50; numpy.percentile(v, 1) = 0.5 and (v, 99.8) =
	 * 49.9, so input = (v - 0.5) / 49.4. */
	const unsigned v8[6] = { 0, 10, 20, 30, 40, 50 };
	const unsigned m8[6] = { 255, 0, 255, 0, 255, 0 };
	unsigned v16[6], m16[6];
	const unsigned vc[8] = { 7, 7, 7, 7, 7, 7, 7, 7 };
	const unsigned mc[8] = { 0, 0, 0, 0, 1, 1, 1, 1 };
	struct normalize n = { NORMALIZE_PERCENTILE, 1, 99.8 };
	struct dataset ds;
	float x8[6], x16[6], xc[8], win[4], t[4];
	FILE *f = fopen(path, "wb");
	int ok = 1, same = 1, zero = 1;

	for (int i = 0; i < 6; i++) {
		v16[i] = v8[i] * 257;
		m16[i] = m8[i] * 257;
	}
	put_gray(f, 3, 2, 255, v8, m8);
	put_gray(f, 3, 2, 65535, v16, m16);
	put_gray(f, 2, 4, 255, vc, mc);
	fclose(f);
	dataset_init(&ds, &n);
	tap_ok(dataset_read(&ds, path) == 3 && ds.width == 0 &&
	       ds.height == 0 && ds.channels == 1, "three samples of two "
	       "sizes: no one size");
	tap_ok(ds.samples[0].width == 3 && ds.samples[0].height == 2 &&
	       ds.samples[2].width == 2 && ds.samples[2].height == 4,
	       "each sample keeps its size");
	dataset_window(&ds, 0, 0, 0, 3, 2, x8, NULL, NULL);
	dataset_window(&ds, 1, 0, 0, 3, 2, x16, NULL, NULL);
	for (int i = 0; i < 6; i++) {
		double want = (v8[i] - 0.5) / 49.4;
		ok &= fabs(x8[i] - want) < 1e-6;
		same &= fabs(x16[i] - x8[i]) < 1e-6;
	}
	tap_ok(ok, "percentile 1 .. 99.8: (v - 0.5) / 49.4, the mask not "
	       "counted (%g %g)", x8[0], x8[5]);
	tap_ok(same, "the 16-bit copy gives the 8-bit one's input");
	dataset_window(&ds, 2, 0, 0, 2, 4, xc, NULL, NULL);
	for (int i = 0; i < 8; i++)
		zero &= xc[i] == 0;
	tap_ok(zero && ds.samples[2].map.range == 1, "a constant image: "
	       "range 1, an input of zeros");
	dataset_window(&ds, 0, 1, 0, 2, 2, win, t, NULL);
	tap_ok(win[0] == x8[1] && win[1] == x8[2] && win[2] == x8[4] &&
	       win[3] == x8[5] && t[0] == 0 && t[1] == 1 && t[2] == 1 &&
	       t[3] == 0, "a 2x2 window from (1, 0): its values and mask");
	dataset_free(&ds);
	tap_ok(ds.norm.mode == NORMALIZE_PERCENTILE, "freed, the rule kept");
}

int
main(int argc, char **argv)
{
	char path[] = "/tmp/test_dataset_XXXXXX";
	struct dataset ds, ds2;
	float x[2 * 2 * 3], t[2 * 2];
	int idx[2] = { 1, 0 };
	char buf[32];
	int fd;

	prog_init(argc, argv);
	fd = mkstemp(path);
	close(fd);
	write_stream(path, 1000);

	dataset_init(&ds, NULL);
	tap_ok(dataset_read(&ds, path) == 2, "two samples read");
	tap_ok(ds.count == 2 && ds.width == 2 && ds.height == 1 &&
	       ds.channels == 3, "shape 2x1, 3 channels");
	/* 8-bit: 6 + 2 bytes; 16-bit: 12 + 2 bytes */
	tap_ok(ds.bytes == 8 + 14, "bytes %zu: 8-bit values stay 8-bit",
	       ds.bytes);
	tap_ok(ds.samples[0].positives == 1 && ds.samples[1].positives == 1,
	       "mask foreground where value > maxval / 2");

	dataset_fill(&ds, idx, 2, x, t);
	tap_ok(x[0] == 0.0f && x[1] == 0.5f && x[2] == 1.0f &&
	       x[3] == (float)(1 / 1000.0), "16-bit sample divided by maxval");
	tap_ok(x[6] == 0.0f && x[7] == (float)(0x33 / 255.0) &&
	       x[8] == 1.0f && x[9] == (float)(1 / 255.0),
	       "8-bit sample divided by maxval, in idx order");
	tap_ok(t[0] == 1 && t[1] == 0 && t[2] == 1 && t[3] == 0,
	       "targets 0/1 in idx order");

	/* The same stream gives the same hash; another maxval another one. */
	dataset_init(&ds2, NULL);
	dataset_read(&ds2, path);
	tap_ok(ds2.hash == ds.hash, "same data, same hash");
	dataset_free(&ds2);
	write_stream(path, 1001);
	dataset_read(&ds2, path);
	tap_ok(ds2.hash != ds.hash, "other data, other hash");
	dataset_free(&ds2);
	dataset_free(&ds);
	tap_ok(ds.count == 0 && ds.samples == NULL, "freed and empty");
	test_labels(path);
	test_percentile(path);
	unlink(path);

	progress_duration(0, buf, sizeof buf);
	tap_ok(strcmp(buf, "0:00") == 0, "0 s is 0:00 (%s)", buf);
	progress_duration(125.4, buf, sizeof buf);
	tap_ok(strcmp(buf, "2:05") == 0, "125.4 s is 2:05 (%s)", buf);
	progress_duration(3 * 3600 + 61, buf, sizeof buf);
	tap_ok(strcmp(buf, "3:01:01") == 0, "3 h 1 min 1 s (%s)", buf);
	progress_duration(1.0 / 0.0, buf, sizeof buf);
	tap_ok(strcmp(buf, "?") == 0, "infinity is ? (%s)", buf);
	return tap_done();
}
