#include "instances.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

double
instances_iou_threshold(int k)
{
	return (50 + 5 * k) / 100.0;
}

static uint32_t
find(uint32_t *parent, uint32_t x)
{
	while (parent[x] != x) {
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

static void
unite(uint32_t *parent, uint32_t a, uint32_t b)
{
	a = find(parent, a);
	b = find(parent, b);
	if (a < b)
		parent[b] = a;
	else if (b < a)
		parent[a] = b;
}

uint32_t
instances_label(const uint8_t *mask, int width, int height, int connectivity,
		uint32_t *labels)
{
	size_t cap = 1024, next = 1;
	uint32_t *parent = xmalloc(cap * sizeof *parent);
	uint32_t *final, n = 0;
	int diag = connectivity == 8;

	/* First pass: provisional labels from the neighbours already seen
	 * (west, north, and with 8-connectivity north-west and north-east),
	 * equivalences in a union-find forest. */
	parent[0] = 0;
	for (int y = 0; y < height; y++) {
		for (int x = 0; x < width; x++) {
			size_t p = (size_t)y * width + x;
			uint32_t nb[4], best = 0;
			int k = 0;

			labels[p] = 0;
			if (!mask[p])
				continue;
			if (x > 0 && labels[p - 1])
				nb[k++] = labels[p - 1];
			if (y > 0) {
				size_t q = p - (size_t)width;
				if (labels[q])
					nb[k++] = labels[q];
				if (diag && x > 0 && labels[q - 1])
					nb[k++] = labels[q - 1];
				if (diag && x + 1 < width && labels[q + 1])
					nb[k++] = labels[q + 1];
			}
			if (k == 0) {
				if (next == cap) {
					cap *= 2;
					parent = xreallocarray(parent, cap,
							       sizeof *parent);
				}
				parent[next] = (uint32_t)next;
				labels[p] = (uint32_t)next++;
				continue;
			}
			best = nb[0];
			for (int i = 1; i < k; i++) {
				if (nb[i] < best)
					best = nb[i];
			}
			for (int i = 0; i < k; i++)
				unite(parent, best, nb[i]);
			labels[p] = best;
		}
	}

	/* Second pass: final labels numbered in raster order. */
	final = xcalloc(next, sizeof *final);
	for (size_t p = 0; p < (size_t)width * height; p++) {
		uint32_t r;
		if (!labels[p])
			continue;
		r = find(parent, labels[p]);
		if (!final[r])
			final[r] = ++n;
		labels[p] = final[r];
	}
	free(final);
	free(parent);
	return n;
}

uint32_t
instances_renumber(uint32_t *labels, size_t n)
{
	uint32_t top = 0, m = 0, *map;

	for (size_t p = 0; p < n; p++)
		if (labels[p] > top)
			top = labels[p];
	map = xcalloc((size_t)top + 1, sizeof *map);
	for (size_t p = 0; p < n; p++) {
		uint32_t v = labels[p];
		if (!v)
			continue;
		if (!map[v])
			map[v] = ++m;
		labels[p] = map[v];
	}
	free(map);
	return m;
}

/* A sparse table of overlaps: open addressing on the key
 * (pred << 32 | truth), both labels >= 1 so that 0 marks a free slot. */
struct overlaps {
	uint64_t *key;
	uint32_t *count;
	size_t cap, used;
};

static size_t
slot_of(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static void
overlaps_grow(struct overlaps *o)
{
	size_t cap = o->cap ? o->cap * 2 : 1024;
	uint64_t *key = xcalloc(cap, sizeof *key);
	uint32_t *count = xcalloc(cap, sizeof *count);

	for (size_t i = 0; i < o->cap; i++) {
		size_t s;
		if (!o->key[i])
			continue;
		s = slot_of(o->key[i], cap);
		while (key[s])
			s = (s + 1) & (cap - 1);
		key[s] = o->key[i];
		count[s] = o->count[i];
	}
	free(o->key);
	free(o->count);
	o->key = key;
	o->count = count;
	o->cap = cap;
}

static void
overlaps_add(struct overlaps *o, uint64_t key, uint32_t n)
{
	size_t s;

	if (2 * (o->used + 1) > o->cap)
		overlaps_grow(o);
	for (s = slot_of(key, o->cap); o->key[s] && o->key[s] != key;
	     s = (s + 1) & (o->cap - 1))
		;
	if (!o->key[s]) {
		o->key[s] = key;
		o->used++;
	}
	o->count[s] += n;
}

void
instances_score(const uint32_t *pred, uint32_t npred, const uint32_t *truth,
		uint32_t ntrue, size_t n, struct instance_score *s)
{
	uint64_t *pred_area = xcalloc((size_t)npred + 1, sizeof *pred_area);
	uint64_t *true_area = xcalloc((size_t)ntrue + 1, sizeof *true_area);
	struct overlaps o = {0};
	size_t i = 0;

	memset(s, 0, sizeof *s);
	s->pred_objects = npred;
	s->true_objects = ntrue;
	overlaps_grow(&o);
	/* Runs of the same pair of labels go into the table at once. */
	while (i < n) {
		size_t j = i + 1;
		while (j < n && pred[j] == pred[i] && truth[j] == truth[i])
			j++;
		pred_area[pred[i]] += j - i;
		true_area[truth[i]] += j - i;
		if (pred[i] && truth[i])
			overlaps_add(&o, (uint64_t)pred[i] << 32 | truth[i],
				     (uint32_t)(j - i));
		i = j;
	}
	for (size_t k = 0; k < o.cap; k++) {
		uint64_t inter, uni;
		if (!o.key[k])
			continue;
		inter = o.count[k];
		uni = pred_area[o.key[k] >> 32] +
		      true_area[o.key[k] & 0xffffffffu] - inter;
		for (int t = 0; t < INSTANCES_NTHRESH; t++)
			if (inter * 100 > (uint64_t)(50 + 5 * t) * uni)
				s->matches[t]++;
	}
	for (int t = 0; t < INSTANCES_NTHRESH; t++) {
		uint64_t tp = s->matches[t];
		uint64_t all = (uint64_t)npred + ntrue - tp;
		s->precision[t] = all ? (double)tp / (double)all : 1.0;
		s->score += s->precision[t];
	}
	s->score /= INSTANCES_NTHRESH;
	free(o.key);
	free(o.count);
	free(pred_area);
	free(true_area);
}
