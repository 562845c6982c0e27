#include "watershed.h"

#include <stddef.h>
#include <math.h>
#include <stdlib.h>

#include "instances.h"
#include "util.h"

/* The flooding queue: a binary min-heap of keys (65535 - priority) << 32 |
 * age, so that the highest priority comes first and, among equals, the
 * pixel pushed first; pixel[age] is the pixel pushed at that age. Each
 * pixel is pushed at most once, so n entries suffice. */
struct queue {
	uint64_t *key;
	uint32_t *pixel;
	size_t len;
	uint32_t age;
};

static void
queue_push(struct queue *q, uint32_t p, uint16_t priority)
{
	uint64_t k = (uint64_t)(65535u - priority) << 32 | q->age;
	size_t i = q->len++;

	q->pixel[q->age++] = p;
	while (i > 0 && q->key[(i - 1) / 2] > k) {
		q->key[i] = q->key[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	q->key[i] = k;
}

static uint32_t
queue_pop(struct queue *q)
{
	uint64_t top = q->key[0], last = q->key[--q->len];
	size_t i = 0, n = q->len;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && q->key[c + 1] < q->key[c])
			c++;
		if (q->key[c] >= last)
			break;
		q->key[i] = q->key[c];
		i = c;
	}
	if (n > 0)
		q->key[i] = last;
	return q->pixel[(uint32_t)top];
}

/* The neighbours of pixel (x, y) in raster order (north-west to
 * south-east, corners only with 8-connectivity) into nb; returns their
 * number. */
static int
neighbours(int x, int y, int width, int height, int connectivity,
	   uint32_t *nb)
{
	int k = 0;

	for (int dy = -1; dy <= 1; dy++) {
		for (int dx = -1; dx <= 1; dx++) {
			int nx = x + dx, ny = y + dy;

			if ((dx == 0 && dy == 0) ||
			    (connectivity == 4 && dx != 0 && dy != 0))
				continue;
			if (nx < 0 || ny < 0 || nx >= width || ny >= height)
				continue;
			nb[k++] = (uint32_t)ny * (uint32_t)width + (uint32_t)nx;
		}
	}
	return k;
}

/* 1 when pixel p (x, y) has a floodable neighbour not yet labelled. */
static int
at_front(const uint32_t *labels, const uint8_t *floodable, int x, int y,
	 int width, int height, int connectivity)
{
	uint32_t nb[8];
	int k = neighbours(x, y, width, height, connectivity, nb);

	for (int i = 0; i < k; i++)
		if (floodable[nb[i]] && !labels[nb[i]])
			return 1;
	return 0;
}

void
watershed_flood(uint32_t *labels, const uint8_t *floodable,
		const uint16_t *priority, int width, int height,
		int connectivity)
{
	size_t n = (size_t)width * height;
	struct queue q = {0};

	q.key = xmalloc_for(n, sizeof *q.key, "the watershed queue");
	q.pixel = xmalloc_for(n, sizeof *q.pixel, "the watershed queue");
	/* The labelled pixels at the front; the others would flood nothing. */
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++) {
			uint32_t p = (uint32_t)y * (uint32_t)width +
				     (uint32_t)x;

			if (labels[p] && at_front(labels, floodable, x, y,
						  width, height, connectivity))
				queue_push(&q, p, priority[p]);
		}
	while (q.len > 0) {
		uint32_t p = queue_pop(&q), nb[8];
		int k = neighbours((int)(p % (uint32_t)width),
				   (int)(p / (uint32_t)width), width, height,
				   connectivity, nb);

		for (int i = 0; i < k; i++) {
			if (!floodable[nb[i]] || labels[nb[i]])
				continue;
			labels[nb[i]] = labels[p];
			queue_push(&q, nb[i], priority[nb[i]]);
		}
	}
	free(q.key);
	free(q.pixel);
}

/* Renumber labels 1..count in raster order of each label's first pixel,
 * dropping unused ones; returns the new count. */
static uint32_t
renumber(uint32_t *labels, size_t n, uint32_t count)
{
	uint32_t *map = xcalloc((size_t)count + 1, sizeof *map), next = 0;

	for (size_t p = 0; p < n; p++) {
		if (!labels[p])
			continue;
		if (!map[labels[p]])
			map[labels[p]] = ++next;
		labels[p] = map[labels[p]];
	}
	free(map);
	return next;
}

/* A border between two objects: the labels a < b and the priority of its
 * highest crossing (the lower of the two pixels' priorities). */
struct saddle {
	uint32_t a, b;
	uint16_t height;
};

static int
by_height(const void *x, const void *y)
{
	const struct saddle *s = x, *t = y;

	return (s->height < t->height) - (s->height > t->height);
}

static uint32_t
root(uint32_t *parent, uint32_t l)
{
	while (parent[l] != l)
		l = parent[l] = parent[parent[l]];
	return l;
}

/* Merge touching objects (labels 1..count) whose lower peak (highest
 * priority) rises at most depth above the highest saddle between them,
 * the saddles taken from the highest down, a merged object keeping the
 * higher peak (h-maxima dynamics). */
static void
merge_shallow(uint32_t *labels, uint32_t count, const uint16_t *priority,
	      int width, int height, int connectivity, uint16_t depth)
{
	/* right, down, and with 8-connectivity the two diagonals below */
	static const int dx[] = { 1, 0, 1, -1 }, dy[] = { 0, 1, 1, 1 };
	size_t n = (size_t)width * height, len = 0, cap = 64;
	struct saddle *sad = xmalloc(cap * sizeof *sad);
	uint32_t *parent = xmalloc_for((size_t)count + 1, sizeof *parent,
				       "the objects");
	uint16_t *peak = xcalloc((size_t)count + 1, sizeof *peak);

	for (uint32_t l = 0; l <= count; l++)
		parent[l] = l;
	for (size_t p = 0; p < n; p++)
		if (priority[p] > peak[labels[p]])
			peak[labels[p]] = priority[p];
	for (int y = 0; y < height; y++)
		for (int x = 0; x < width; x++) {
			size_t p = (size_t)y * width + x;

			for (int k = 0; k < (connectivity == 8 ? 4 : 2); k++) {
				int u = x + dx[k], v = y + dy[k];
				size_t q = (size_t)v * width + u;
				uint32_t a = labels[p], b;

				if (u < 0 || u >= width || v >= height)
					continue;
				b = labels[q];
				if (!a || !b || a == b)
					continue;
				if (len == cap)
					sad = xreallocarray(sad, cap *= 2,
							    sizeof *sad);
				sad[len++] = (struct saddle){
					a < b ? a : b, a < b ? b : a,
					priority[p] < priority[q] ? priority[p]
								  : priority[q]
				};
			}
		}
	qsort(sad, len, sizeof *sad, by_height);
	for (size_t i = 0; i < len; i++) {
		uint32_t a = root(parent, sad[i].a), b = root(parent, sad[i].b);
		uint16_t low = peak[a] < peak[b] ? peak[a] : peak[b];

		if (a == b || low - sad[i].height > depth)
			continue;
		if (peak[a] < peak[b]) {
			uint32_t t = a;
			a = b;
			b = t;
		}
		parent[b] = a;
	}
	for (size_t p = 0; p < n; p++)
		labels[p] = root(parent, labels[p]);
	free(peak);
	free(parent);
	free(sad);
}

static int
by_size(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return (a > b) - (a < b);
}

/* The median of the n sizes (sorted in place; n > 0): the middle one, or
 * the mean of the two middle ones. */
static double
median_size(uint32_t *sizes, size_t n)
{
	qsort(sizes, n, sizeof *sizes, by_size);
	return n % 2 ? sizes[n / 2]
		     : ((double)sizes[n / 2 - 1] + sizes[n / 2]) / 2;
}

/* Remove the objects (labels 1..count, some perhaps unused) of fewer than
 * min_size pixels or of less than min_fraction times the median size of
 * the objects: their pixels are flooded from the others, or become
 * background. */
static void
remove_small(uint32_t *labels, uint32_t count, const uint16_t *priority,
	     int width, int height, int connectivity, uint32_t min_size,
	     double min_fraction)
{
	size_t n = (size_t)width * height, live = 0;
	uint32_t *size = xcalloc((size_t)count + 1, sizeof *size);
	uint32_t *sizes = xmalloc_for((size_t)count + 1, sizeof *sizes,
				      "the sizes");
	uint8_t *freed = xmalloc(n);
	double cut = min_size;
	int any = 0;

	for (size_t p = 0; p < n; p++)
		size[labels[p]]++;
	for (uint32_t l = 1; l <= count; l++)
		if (size[l])
			sizes[live++] = size[l];
	if (live && min_fraction > 0)
		cut = fmax(cut, min_fraction * median_size(sizes, live));
	for (size_t p = 0; p < n; p++) {
		freed[p] = labels[p] && size[labels[p]] < cut;
		if (freed[p]) {
			labels[p] = 0;
			any = 1;
		}
	}
	if (any)
		watershed_flood(labels, freed, priority, width, height,
				connectivity);
	free(freed);
	free(sizes);
	free(size);
}

uint32_t
watershed_objects(const uint8_t *fg, const uint8_t *seed,
		  const uint16_t *priority, int width, int height,
		  int connectivity, uint16_t merge, uint32_t min_size,
		  double min_fraction, uint32_t *labels)
{
	size_t n = (size_t)width * height;
	uint32_t count;

	if (!seed) {
		count = instances_label(fg, width, height, connectivity,
					labels);
	} else {
		uint8_t *mask = xmalloc(n);
		uint32_t *rest = xmalloc_for(n, sizeof *rest, "labels");
		uint32_t seeds;

		for (size_t p = 0; p < n; p++)
			mask[p] = fg[p] && seed[p];
		count = instances_label(mask, width, height, connectivity,
					labels);
		watershed_flood(labels, fg, priority, width, height,
				connectivity);
		/* The parts of the foreground that no seed reached. */
		for (size_t p = 0; p < n; p++)
			mask[p] = fg[p] && !labels[p];
		seeds = count;
		count += instances_label(mask, width, height, connectivity,
					 rest);
		for (size_t p = 0; p < n; p++)
			if (rest[p])
				labels[p] = seeds + rest[p];
		free(rest);
		free(mask);
		if (merge)
			merge_shallow(labels, count, priority, width, height,
				      connectivity, merge);
	}
	if (min_size > 1 || min_fraction > 0)
		remove_small(labels, count, priority, width, height,
			     connectivity, min_size, min_fraction);
	return renumber(labels, n, count);
}
