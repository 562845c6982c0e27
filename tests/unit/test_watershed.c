/* Unit tests of common/watershed: the seeded flooding and the objects on
 * small hand-made cases. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "instances.h"
#include "rng.h"
#include "tap.h"
#include "util.h"
#include "watershed.h"

/* Two discs of radius 5 centred at (5, 5) and (13, 5) in a 19 x 11 image,
 * overlapping on the column x = 9 (and a little beside it); priority: the
 * distance to the nearest centre, 1 at a centre and 0 at the radius. */
#define DW 19
#define DH 11

static void
two_discs(uint8_t *fg, uint8_t *seed, uint16_t *prio, int ndiscs)
{
	for (int y = 0; y < DH; y++)
		for (int x = 0; x < DW; x++) {
			int p = y * DW + x;
			double d1 = hypot(x - 5, y - 5), d2 = hypot(x - 13, y - 5);
			double d = ndiscs == 2 && d2 < d1 ? d2 : d1;
			double v = d <= 5 ? (5 - d) / 5 : 0;

			fg[p] = d1 <= 5 || (ndiscs == 2 && d2 <= 5);
			prio[p] = (uint16_t)lround(v * 65535);
			seed[p] = v > 0.5;
		}
}

static void
test_two_discs(void)
{
	uint8_t fg[DW * DH], seed[DW * DH];
	uint16_t prio[DW * DH];
	uint32_t lab[DW * DH], n;
	int left = 1, right = 1, middle = 1, covered = 1;

	two_discs(fg, seed, prio, 2);
	n = watershed_objects(fg, seed, prio, DW, DH, 8, 0, 1, 0, lab);
	tap_ok(n == 2, "two touching discs, two peaks: 2 objects (%u)", n);
	for (int p = 0; p < DW * DH; p++) {
		int x = p % DW, y = p / DW;

		covered &= (lab[p] != 0) == fg[p];
		if (!fg[p])
			continue;
		if (hypot(x - 5, y - 5) < hypot(x - 13, y - 5))
			left &= lab[p] == 1;
		else if (hypot(x - 5, y - 5) > hypot(x - 13, y - 5))
			right &= lab[p] == 2;
		else
			middle &= lab[p] == 1 || lab[p] == 2;
	}
	tap_ok(covered, "the objects cover the foreground exactly");
	tap_ok(left && right && middle,
	       "each pixel belongs to the disc whose centre is nearer");
	n = watershed_objects(fg, NULL, prio, DW, DH, 8, 0, 1, 0, lab);
	tap_ok(n == 1, "the same discs as components: 1 object (%u)", n);
}

static void
test_one_disc(void)
{
	uint8_t fg[DW * DH], seed[DW * DH];
	uint16_t prio[DW * DH];
	uint32_t lab[DW * DH], n;
	int same = 1, fgn = 0;

	two_discs(fg, seed, prio, 1);
	n = watershed_objects(fg, seed, prio, DW, DH, 4, 0, 1, 0, lab);
	for (int p = 0; p < DW * DH; p++) {
		same &= lab[p] == fg[p];
		fgn += fg[p];
	}
	tap_ok(n == 1 && same && fgn == 81,
	       "one disc (81 pixels) with one peak stays one object");
}

/* Labels of a w x h case given as a string: '.' background, '#'
 * foreground, 'S' foreground and seed; priority from digits in prio
 * ('0'..'9' scaled to 0..58995); merge in the same units. */
static uint32_t
run_case(const char *pic, const char *prio_pic, int w, int h, int conn,
	 uint16_t merge, uint32_t min_size, int seeded, uint32_t *lab)
{
	uint8_t *fg = xmalloc((size_t)w * h), *seed = xmalloc((size_t)w * h);
	uint16_t *prio = xmalloc((size_t)w * h * sizeof *prio);
	uint32_t n;

	for (int p = 0; p < w * h; p++) {
		fg[p] = pic[p] != '.';
		seed[p] = pic[p] == 'S';
		prio[p] = prio_pic ? (uint16_t)((prio_pic[p] - '0') * 6555) : 0;
	}
	n = watershed_objects(fg, seeded ? seed : NULL, prio, w, h, conn,
			      merge, min_size, 0, lab);
	free(fg);
	free(seed);
	free(prio);
	return n;
}

/* 1 when lab (n pixels) reads as the digits of want ('.' = 0). */
static int
labels_are(const uint32_t *lab, const char *want, int n)
{
	for (int p = 0; p < n; p++)
		if (lab[p] != (uint32_t)(want[p] == '.' ? 0 : want[p] - '0'))
			return 0;
	return 1;
}

static void
test_seedless_and_order(void)
{
	/* A blob without a seed first in raster order, then a seeded bar. */
	const char *pic = "##......"
			  "##......"
			  "....#S##"
			  "........";
	uint32_t lab[32], n;

	n = run_case(pic, NULL, 8, 4, 8, 0, 1, 1, lab);
	tap_ok(n == 2 && labels_are(lab, "11......"
					 "11......"
					 "....2222"
					 "........", 32),
	       "a seed-less blob is an object of its own, numbered in raster "
	       "order");
}

static void
test_priority_and_ties(void)
{
	uint32_t lab[7], n;

	/* Flat priority: the two seeds advance in step, the first seed in
	 * raster order takes the middle pixel. */
	n = run_case("S#####S", NULL, 7, 1, 4, 0, 1, 1, lab);
	tap_ok(n == 2 && labels_are(lab, "1111222", 7),
	       "ties: equal priorities flood in the order reached");
	/* The high side floods first: the right seed takes the middle. */
	n = run_case("S#####S", "9111889", 7, 1, 4, 0, 1, 1, lab);
	tap_ok(n == 2 && labels_are(lab, "1112222", 7),
	       "flooding follows decreasing priority (%u: %u%u%u%u%u%u%u)", n,
	       lab[0], lab[1], lab[2], lab[3], lab[4], lab[5], lab[6]);
}

static void
test_min_size(void)
{
	/* A spurious one-pixel seed at the right end of a bar makes a small
	 * object, merged back by --min-size; the lone 2-pixel speck goes. */
	const char *pic = "SS######S"
			  "#########"
			  "........."
			  "##.......";
	const char *prio = "999999989"
			   "999999989"
			   "000000000"
			   "000000000";
	uint32_t lab[36], n;

	n = run_case(pic, prio, 9, 4, 4, 0, 1, 1, lab);
	tap_ok(n == 3 && labels_are(lab, "111111122"
					 "111111122"
					 "........."
					 "33.......", 36),
	       "without min-size: 3 objects (%u)", n);
	n = run_case(pic, prio, 9, 4, 4, 0, 5, 1, lab);
	tap_ok(n == 1 && labels_are(lab, "111111111"
					 "111111111"
					 "........."
					 ".........", 36),
	       "min-size 5: the small (4-pixel) object joins its neighbour, the speck "
	       "is background");
	n = run_case(pic, NULL, 9, 4, 4, 0, 3, 0, lab);
	tap_ok(n == 1 && labels_are(lab, "111111111"
					 "111111111"
					 "........."
					 ".........", 36),
	       "components, min-size 3: the 2-pixel speck removed");
	n = run_case(pic, NULL, 9, 4, 4, 0, 2, 0, lab);
	tap_ok(n == 2, "components, min-size 2: the speck kept");
}

static void
test_connectivity(void)
{
	const char *pic = "S...."
			  ".#..."
			  "..#.S"
			  ".....";
	uint32_t lab[20], n;

	n = run_case(pic, NULL, 5, 4, 4, 0, 1, 0, lab);
	tap_ok(n == 4, "4-connectivity: the diagonal pixels are 4 objects");
	n = run_case(pic, NULL, 5, 4, 8, 0, 1, 0, lab);
	tap_ok(n == 2 && labels_are(lab, "1...."
					 ".1..."
					 "..1.2"
					 ".....", 20),
	       "8-connectivity: the diagonal is one object");
	n = run_case(pic, NULL, 5, 4, 4, 0, 1, 1, lab);
	tap_ok(n == 4 && labels_are(lab, "1...."
					 ".2..."
					 "..3.4"
					 ".....", 20),
	       "4-connectivity: the seed floods no diagonal");
	n = run_case(pic, NULL, 5, 4, 8, 0, 1, 1, lab);
	tap_ok(n == 2 && labels_are(lab, "1...."
					 ".1..."
					 "..1.2"
					 ".....", 20),
	       "8-connectivity: the seed floods the diagonal");
}

static void
test_components_match_instances(void)
{
	enum { W = 37, H = 23 };
	struct rng r;
	uint8_t fg[W * H];
	uint16_t prio[W * H];
	uint32_t a[W * H], b[W * H];
	int same = 1;

	rng_seed(&r, 14);
	for (int trial = 0; trial < 20; trial++) {
		uint32_t na, nb;
		int conn = trial % 2 ? 8 : 4;

		for (int p = 0; p < W * H; p++) {
			fg[p] = rng_uniform(&r) < 0.45;
			prio[p] = (uint16_t)rng_below(&r, 65536);
		}
		na = watershed_objects(fg, NULL, prio, W, H, conn, 0, 1, 0, a);
		nb = instances_label(fg, W, H, conn, b);
		same &= na == nb && memcmp(a, b, sizeof a) == 0;
	}
	tap_ok(same, "components mode equals instances_label (20 random "
		     "masks, 4 and 8)");
}

static void
test_no_foreground(void)
{
	uint8_t fg[12] = {0}, seed[12] = {1, 1, 1};
	uint16_t prio[12] = {0};
	uint32_t lab[12], n;
	int zero = 1;

	n = watershed_objects(fg, seed, prio, 4, 3, 8, 0, 4, 0, lab);
	for (int p = 0; p < 12; p++)
		zero &= lab[p] == 0;
	tap_ok(n == 0 && zero, "no foreground: no object, seeds outside it "
			       "ignored");
}

/* Seeds 9, 6, 9 (peaks) with saddles 5 and 2 between them: merge depth
 * 1.5 joins the middle object (6 - 5 = 1) to the left one, not the right
 * one (9 - 2 = 7); without merging three objects stay. */
static void
test_merge(void)
{
	uint32_t lab[7], n;
	uint16_t unit = 6555;

	n = run_case("S##S##S", "9756279", 7, 1, 4, 0, 1, 1, lab);
	tap_ok(n == 3 && labels_are(lab, "1112333", 7),
	       "without merging every seed is an object");
	n = run_case("S##S##S", "9756279", 7, 1, 4, unit * 3 / 2, 1, 1, lab);
	tap_ok(n == 2 && labels_are(lab, "1111222", 7),
	       "merge 1.5: the shallow peak joins its neighbour");
	n = run_case("S##S##S", "9756279", 7, 1, 4, unit / 2, 1, 1, lab);
	tap_ok(n == 3, "merge 0.5: the peak 1 above its saddle stays");
	n = run_case("S##S##S", "9756279", 7, 1, 4, unit * 7, 1, 1, lab);
	tap_ok(n == 1 && labels_are(lab, "1111111", 7),
	       "merge 7: the saddle 2 below both peaks of 9 joins them too");
	n = run_case("S#.S", "9909", 4, 1, 4, unit * 9, 1, 1, lab);
	tap_ok(n == 2, "objects that do not touch are never merged");
}

/* Components of 2, 4, 20 and 40 pixels (median 12) in a row of 70, a
 * background pixel apart: min_fraction cuts below the fraction times the median, never
 * below min_size; the objects left are numbered 1..n again. */
static void
test_min_fraction(void)
{
	uint8_t fg[70];
	uint16_t prio[70] = {0};
	uint32_t lab[70], n;
	int len[4] = {2, 4, 20, 40}, p = 0;

	for (int o = 0; o < 4; o++) {
		for (int i = 0; i < len[o]; i++)
			fg[p++] = 1;
		fg[p++] = 0;
	}
	n = watershed_objects(fg, NULL, prio, 70, 1, 4, 0, 1, 0, lab);
	tap_ok(n == 4, "no fraction: 4 objects (%u)", n);
	/* 0.2 x 12 = 2.4: the 2-pixel object goes */
	n = watershed_objects(fg, NULL, prio, 70, 1, 4, 0, 1, 0.2, lab);
	tap_ok(n == 3 && lab[0] == 0 && lab[1] == 0 && lab[3] == 1 &&
		       lab[69 - 1] == 3,
	       "fraction 0.2 of the median 12: the 2-pixel object goes (%u)",
	       n);
	/* 0.34 x 12 = 4.08: the 4-pixel one too */
	n = watershed_objects(fg, NULL, prio, 70, 1, 4, 0, 1, 0.34, lab);
	tap_ok(n == 2 && lab[3] == 0 && lab[8] == 1,
	       "fraction 0.34: the 4-pixel object goes too (%u)", n);
	/* min_size above the fraction's cut wins */
	n = watershed_objects(fg, NULL, prio, 70, 1, 4, 0, 21, 0.2, lab);
	tap_ok(n == 1 && lab[30] == 1 && lab[8] == 0,
	       "min_size 21 above the fraction's cut: one object (%u)", n);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_two_discs();
	test_one_disc();
	test_seedless_and_order();
	test_priority_and_ties();
	test_min_size();
	test_merge();
	test_min_fraction();
	test_connectivity();
	test_components_match_instances();
	test_no_foreground();
	return tap_done();
}
