/* normalize: raw image values to network input (see normalize.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"
#include "util.h"

/* A percentile bound: a plain number from 0 to 100 with at most 3
 * decimals, which normalize_format writes back exactly (%g: 6 significant
 * digits, no exponent above 0.0001). */
static int
parse_percent(const char *s, size_t len, double *out)
{
	char buf[32], *end, *dot;

	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strspn(buf, "0123456789.") != len)
		return -1;
	dot = strchr(buf, '.');
	if (dot && strlen(dot + 1) > 3)
		return -1;
	*out = strtod(buf, &end);
	return *end == '\0' && *out >= 0 && *out <= 100 ? 0 : -1;
}

int
normalize_parse(const char *s, struct normalize *n, char *err, size_t errlen)
{
	const char *colon;

	n->low = NORMALIZE_LOW;
	n->high = NORMALIZE_HIGH;
	if (strcmp(s, "maxval") == 0) {
		n->mode = NORMALIZE_MAXVAL;
		return 0;
	}
	n->mode = NORMALIZE_PERCENTILE;
	if (strcmp(s, "percentile") == 0)
		return 0;
	if (strncmp(s, "percentile:", 11) != 0) {
		snprintf(err, errlen, "'%s' is no normalisation (maxval, "
			 "percentile or percentile:LOW:HIGH)", s);
		return -1;
	}
	s += 11;
	colon = strchr(s, ':');
	if (!colon || parse_percent(s, (size_t)(colon - s), &n->low) < 0 ||
	    parse_percent(colon + 1, strlen(colon + 1), &n->high) < 0 ||
	    n->low >= n->high) {
		snprintf(err, errlen, "percentile:%s: want LOW:HIGH, two "
			 "percentiles with 0 <= LOW < HIGH <= 100, at most 3 "
			 "decimals", s);
		return -1;
	}
	return 0;
}

void
normalize_format(const struct normalize *n, char *buf, size_t len)
{
	if (n->mode == NORMALIZE_MAXVAL)
		snprintf(buf, len, "maxval");
	else
		snprintf(buf, len, "percentile:%g:%g", n->low, n->high);
}

/* The k-th smallest value (k from 0) of a histogram. */
static unsigned
nth_value(const uint64_t *hist, uint64_t k)
{
	uint64_t seen = 0;
	unsigned v = 0;

	while (seen + hist[v] <= k)
		seen += hist[v++];
	return v;
}

/* numpy.percentile (linear) of the `count` values in hist. */
static double
percentile(const uint64_t *hist, uint64_t count, double q)
{
	double pos = q / 100 * (double)(count - 1);
	uint64_t k = (uint64_t)floor(pos);
	double frac = pos - (double)k;
	unsigned a = nth_value(hist, k);
	unsigned b = k + 1 < count ? nth_value(hist, k + 1) : a;

	return a + frac * ((double)b - a);
}

void
normalize_image(const struct normalize *n, const uint16_t *data,
		size_t pixels, int depth, int channels, unsigned maxval,
		struct normalize_map *m)
{
	uint64_t *hist, count = (uint64_t)pixels * channels;
	double lo, hi;

	if (n->mode == NORMALIZE_MAXVAL || count == 0) {
		m->offset = 0;
		m->range = maxval;
		return;
	}
	hist = xcalloc((size_t)maxval + 1, sizeof *hist);
	for (size_t p = 0; p < pixels; p++)
		for (int c = 0; c < channels; c++) {
			unsigned v = data[p * depth + c];
			hist[v <= maxval ? v : maxval]++;
		}
	lo = percentile(hist, count, n->low);
	hi = percentile(hist, count, n->high);
	if (hi <= lo) {
		lo = nth_value(hist, 0);
		hi = nth_value(hist, count - 1);
	}
	free(hist);
	m->offset = lo;
	m->range = hi > lo ? hi - lo : 1;
}
