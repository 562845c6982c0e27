/* Unit tests of common/normalize: percentiles with interpolation computed
 * by hand, the minimum/maximum fallback, the constant image, the mask
 * channel left out, 8/12/16-bit copies, maxval; parse/format round trips
 * and refusals; and, when /usr/bin/python3 has numpy, the map of random
 * images against numpy.percentile (tests/reference/normalize_reference.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "rng.h"
#include "tap.h"
#include "util.h"

static const struct normalize maxval = { NORMALIZE_MAXVAL, 1, 99.8 };
static const struct normalize csbdeep = { NORMALIZE_PERCENTILE, 1, 99.8 };

static int
close_to(double a, double b)
{
	return fabs(a - b) <= 1e-12 * fmax(1, fabs(b));
}

/* The map of a one-channel image of n values. */
static struct normalize_map
map_of(const struct normalize *nz, const uint16_t *v, size_t n,
       unsigned maxval)
{
	struct normalize_map m;

	normalize_image(nz, v, n, 1, 1, maxval, &m);
	return m;
}

static void
test_by_hand(void)
{
	static const uint16_t five[] = { 50, 10, 40, 20, 30 };
	static const uint16_t two[] = { 10, 0 };
	struct normalize q = { NORMALIZE_PERCENTILE, 25, 75 };
	struct normalize_map m;

	/* sorted 10 20 30 40 50: positions 0.25 * 4 = 1 and 0.75 * 4 = 3 */
	m = map_of(&q, five, 5, 255);
	tap_ok(close_to(m.offset, 20) && close_to(m.range, 20),
	       "25..75 of 10..50: 20 and 40 (%g, %g)", m.offset, m.range);
	/* positions 0.1 * 4 = 0.4 and 0.9 * 4 = 3.6: interpolated */
	q.low = 10;
	q.high = 90;
	m = map_of(&q, five, 5, 255);
	tap_ok(close_to(m.offset, 14) && close_to(m.range, 46 - 14),
	       "10..90 of 10..50: 14 and 46, interpolated (%g, %g)", m.offset,
	       m.range);
	/* 0 10: 1 % at 0.1, 99.8 % at 9.98 */
	m = map_of(&csbdeep, two, 2, 255);
	tap_ok(close_to(m.offset, 0.1) && close_to(m.range, 9.88),
	       "1..99.8 of 0, 10: 0.1 and 9.98 (%g, %g)", m.offset, m.range);
	q.low = 0;
	q.high = 100;
	m = map_of(&q, five, 5, 255);
	tap_ok(close_to(m.offset, 10) && close_to(m.range, 40),
	       "0..100: the minimum and the maximum (%g, %g)", m.offset,
	       m.range);
	m = map_of(&maxval, five, 5, 4095);
	tap_ok(m.offset == 0 && m.range == 4095,
	       "maxval: offset 0, range maxval (%g, %g)", m.offset, m.range);
}

static void
test_fallback(void)
{
	uint16_t *v = xcalloc(1001, sizeof *v);
	struct normalize_map m;
	int finite = 1;

	/* 1000 values of 5 and one of 200: both percentiles are 5 (position
	 * 998 of 0 .. 1000), so the minimum and the maximum stand in. */
	for (int i = 0; i < 1001; i++)
		v[i] = i == 500 ? 200 : 5;
	m = map_of(&csbdeep, v, 1001, 255);
	tap_ok(close_to(m.offset, 5) && close_to(m.range, 195),
	       "equal percentiles: the minimum 5 and the maximum 200 (%g, %g)",
	       m.offset, m.range);
	/* A constant image: range 1, the input all zeros, at every depth. */
	for (int i = 0; i < 1001; i++)
		v[i] = 77;
	m = map_of(&csbdeep, v, 1001, 255);
	tap_ok(m.offset == 77 && m.range == 1,
	       "a constant image: offset 77, range 1 (%g, %g)", m.offset,
	       m.range);
	for (int i = 0; i < 1001; i++)
		if (!isfinite((v[i] - m.offset) / m.range)
		    || (v[i] - m.offset) / m.range != 0)
			finite = 0;
	tap_ok(finite, "a constant image gives an input of zeros");
	m = map_of(&csbdeep, v, 1, 65535);
	tap_ok(m.range == 1, "a one-pixel image: range 1");
	v[0] = 65535;
	m = map_of(&csbdeep, v, 1, 65535);
	tap_ok(m.offset == 65535 && m.range == 1,
	       "a one-pixel image at maxval 65535: range 1 (%g)", m.offset);
	free(v);
}

/* 3 image channels and a mask: the mask is not counted; 8-bit, 12-bit
 * in 16 and 16-bit copies give the same input. */
static void
test_channels_and_depths(void)
{
	enum { N = 300 };
	uint16_t v8[N * 4], v12[N * 4], v16[N * 4];
	struct normalize_map m8, m12, m16, mm;
	struct rng r;
	double worst = 0;

	rng_seed(&r, 3);
	for (int i = 0; i < N * 4; i++) {
		v8[i] = i % 4 == 3 ? (rng_below(&r, 2) ? 255 : 0)
				   : (uint16_t)(20 + rng_below(&r, 100));
		v12[i] = (uint16_t)(v8[i] * 16);
		v16[i] = (uint16_t)(v8[i] * 257);
	}
	normalize_image(&csbdeep, v8, N, 4, 3, 255, &m8);
	normalize_image(&csbdeep, v12, N, 4, 3, 65535, &m12);
	normalize_image(&csbdeep, v16, N, 4, 3, 65535, &m16);
	for (int i = 0; i < N * 4; i++) {
		double a = (v8[i] - m8.offset) / m8.range;
		double b = (v12[i] - m12.offset) / m12.range;
		double c = (v16[i] - m16.offset) / m16.range;

		if (i % 4 == 3)
			continue;
		worst = fmax(worst, fmax(fabs(a - b), fabs(a - c)));
	}
	tap_ok(worst < 1e-12, "8-bit, 12-bit in 16 and 16-bit copies: the "
	       "same input (difference %g)", worst);
	/* The mask channel: setting every mask value to 255 or 0 changes
	 * nothing; counting it would (its values lie outside 20 .. 119). */
	for (int i = 3; i < N * 4; i += 4)
		v8[i] = 255;
	normalize_image(&csbdeep, v8, N, 4, 3, 255, &mm);
	tap_ok(mm.offset == m8.offset && mm.range == m8.range,
	       "the mask channel is not counted");
	normalize_image(&csbdeep, v8, N, 4, 4, 255, &mm);
	tap_ok(mm.range != m8.range, "(counting it would change the map)");
}

/* Random images against numpy.percentile. */
static void
test_numpy(void)
{
	struct rng r;
	int ran = 0, agree = 0;
	char cmd[4200], worst[256] = "";

	if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0 ||
	    access("tests/reference/normalize_reference.py", R_OK) != 0) {
		tap_ok(1, "# SKIP no numpy in /usr/bin/python3 (or not run "
		       "from the source tree)");
		return;
	}
	rng_seed(&r, 11);
	for (int t = 0; t < 12; t++) {
		static const unsigned maxvals[] = { 1, 255, 4095, 65535 };
		unsigned mv = maxvals[t % 4];
		int channels = 1 + t % 3, depth = channels + (t % 2);
		size_t pixels = 1 + rng_below(&r, t < 6 ? 50 : 5000);
		/* Narrow ranges give ties; few values, interpolation. */
		unsigned span = t % 3 == 0 ? 3 : mv;
		struct normalize nz = { NORMALIZE_PERCENTILE,
					rng_below(&r, 10000) / 1000.0,
					90 + rng_below(&r, 10001) / 1000.0 };
		uint16_t *v = xmalloc_for(pixels * depth, sizeof *v, "values");
		const char *path = tap_path("values");
		FILE *f = fopen(path, "w");
		struct normalize_map m;
		double lo, range;
		FILE *p;

		if (t == 11) { /* the defaults */
			nz.low = NORMALIZE_LOW;
			nz.high = NORMALIZE_HIGH;
		}
		for (size_t i = 0; i < pixels * depth; i++) {
			unsigned x = (unsigned)rng_below(&r, span + 1);
			v[i] = (uint16_t)(x > mv ? mv : x);
			if ((int)(i % depth) < channels)
				fprintf(f, "%u\n", v[i]);
		}
		fclose(f);
		normalize_image(&nz, v, pixels, depth, channels, mv, &m);
		snprintf(cmd, sizeof cmd, "/usr/bin/python3 "
			 "tests/reference/normalize_reference.py %.3f %.3f < %s",
			 nz.low, nz.high, path);
		p = popen(cmd, "r");
		if (p && fscanf(p, "%lf %lf", &lo, &range) == 2) {
			ran++;
			if (close_to(m.offset, lo) &&
			    fabs(m.range - range) <= 1e-12 * fabs(range))
				agree++;
			else
				snprintf(worst, sizeof worst, "%zu px maxval %u "
					 "%g..%g: %g %g against numpy %g %g",
					 pixels, mv, nz.low, nz.high, m.offset,
					 m.range, lo, range);
		}
		if (p)
			pclose(p);
		free(v);
	}
	tap_ok(ran == 12 && agree == ran, "%d of %d random images agree with "
	       "numpy.percentile %s", agree, ran, worst);
	tap_scratch_remove();
}

static void
test_parse_format(void)
{
	static const char *good[][2] = {
		{ "maxval", "maxval" },
		{ "percentile", "percentile:1:99.8" },
		{ "percentile:1:99.8", "percentile:1:99.8" },
		{ "percentile:0:100", "percentile:0:100" },
		{ "percentile:2.5:97.125", "percentile:2.5:97.125" },
		{ "percentile:0.001:99.999", "percentile:0.001:99.999" },
		{ "percentile:01:99.80", "percentile:1:99.8" },
		{ "percentile:.5:99.", "percentile:0.5:99" },
	};
	static const char *bad[] = {
		"", "Maxval", "maxval ", "zscore", "percentile:", "percentile:5",
		"percentile:5:2", "percentile:5:5", "percentile:-1:50",
		"percentile:1:101", "percentile:1:100.001", "percentile:1:99:3",
		"percentile:1e1:50", "percentile: 1:50", "percentile:.:50",
		"percentile:1..2:50", "percentile:nan:50", "percentile:1:inf",
		"percentile:1:99.8x", "percentile:0.0001:99", "percentile:0.00001:99",
		"percentile:1:99.1234", "percentile:1:",
		"percentile:1:99.8000000000000000000000000000001",
	};
	int ok_good = 1, ok_bad = 1;
	char err[256], buf[32], why[600] = "";

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		struct normalize n, back;

		if (normalize_parse(good[i][0], &n, err, sizeof err) < 0) {
			snprintf(why, sizeof why, "%s refused: %s", good[i][0],
				 err);
			ok_good = 0;
			continue;
		}
		normalize_format(&n, buf, sizeof buf);
		if (strcmp(buf, good[i][1]) != 0 ||
		    normalize_parse(buf, &back, err, sizeof err) < 0 ||
		    back.mode != n.mode || back.low != n.low ||
		    back.high != n.high) {
			snprintf(why, sizeof why, "%s gave %s", good[i][0], buf);
			ok_good = 0;
		}
	}
	tap_ok(ok_good, "parse, format, parse again: the same %s", why);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct normalize n;

		err[0] = '\0';
		if (normalize_parse(bad[i], &n, err, sizeof err) == 0 ||
		    !err[0] || strchr(err, '\n')) {
			snprintf(why, sizeof why, "'%s' accepted", bad[i]);
			ok_bad = 0;
		}
	}
	tap_ok(ok_bad, "%zu malformed forms refused with a reason %s",
	       sizeof bad / sizeof bad[0], why);
	normalize_parse("zscore", &(struct normalize){0}, err, sizeof err);
	tap_ok(strcmp(err, "'zscore' is no normalisation (maxval, percentile "
		      "or percentile:LOW:HIGH)") == 0, "the reason: %s", err);
	normalize_parse("percentile:5:2", &(struct normalize){0}, err,
			sizeof err);
	tap_ok(strcmp(err, "percentile:5:2: want LOW:HIGH, two percentiles "
		      "with 0 <= LOW < HIGH <= 100, at most 3 decimals") == 0,
	       "the reason: %s", err);
}

int
main(void)
{
	test_by_hand();
	test_fallback();
	test_channels_and_depths();
	test_numpy();
	test_parse_format();
	return tap_done();
}
