#include "curves.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "draw.h"
#include "util.h"

const struct curves_rules curves_default_rules = {3, 0.02, 0.10, 0.10};

/* Fetch the number `key` of a log line into *out; return 0 when absent,
 * or null and null_ok (unet-train writes null for a figure it lacks). */
static int
get_number(json_t *obj, const char *key, int null_ok, double *out,
	   const char *name, long line)
{
	json_t *v = json_object_get(obj, key);

	if (!v || (null_ok && json_is_null(v)))
		return 0;
	if (json_is_null(v))
		die("%s:%ld: %s is null (not a number)", name, line, key);
	if (!json_is_number(v))
		die("%s:%ld: %s is not a number", name, line, key);
	*out = json_number_value(v);
	if (!isfinite(*out))
		die("%s:%ld: %s is not finite", name, line, key);
	return 1;
}

/* Keys that are either on every line of the log or on none. */
static void
check_presence(int present, int *has, const char *key, const char *name,
	       long line, long first_line)
{
	if (*has < 0)
		*has = present;
	else if (present != *has)
		die("%s:%ld: %s is %s, but %s on line %ld", name, line, key,
		    present ? "a number" : "missing or null",
		    present ? "missing or null" : "a number", first_line);
}

void
curves_read(FILE *f, const char *name, struct curves_log *log)
{
	char *buf = NULL;
	size_t cap = 0, alloc = 0;
	long len, line = 0, first_line = 0;
	int has_val = -1, has_dice = -1, has_iou = -1;

	memset(log, 0, sizeof *log);
	/* A line may be of any length (unetpipe-formats(5)); a read error or
	 * a full memory is an error, never the end of the log. */
	while ((len = read_line(f, name, &buf, &cap, SIZE_MAX, &line)) >= 0) {
		json_error_t err;
		json_t *obj, *ep;
		struct curves_epoch e = {0};
		int has;

		if (strspn(buf, " \t\r\n") == (size_t)len)
			continue;
		obj = json_loadb(buf, (size_t)len, JSON_REJECT_DUPLICATES,
				 &err);
		if (!obj)
			die("%s:%ld: %s", name, line, err.text);
		if (!json_is_object(obj))
			die("%s:%ld: not a JSON object", name, line);
		ep = json_object_get(obj, "epoch");
		if (!ep)
			die("%s:%ld: epoch missing", name, line);
		if (!json_is_integer(ep))
			die("%s:%ld: epoch is not an integer", name, line);
		e.epoch = (long)json_integer_value(ep);
		if (log->n > 0 && e.epoch <= log->e[log->n - 1].epoch)
			die("%s:%ld: epoch %ld does not follow epoch %ld", name,
			    line, e.epoch, log->e[log->n - 1].epoch);
		if (!get_number(obj, "train_loss", 0, &e.train, name, line))
			die("%s:%ld: train_loss missing", name, line);
		if (!first_line)
			first_line = line;
		has = get_number(obj, "val_loss", 1, &e.val, name, line);
		check_presence(has, &has_val, "val_loss", name, line,
			       first_line);
		has = get_number(obj, "val_dice", 1, &e.dice, name, line);
		check_presence(has, &has_dice, "val_dice", name, line,
			       first_line);
		has = get_number(obj, "val_iou", 1, &e.iou, name, line);
		check_presence(has, &has_iou, "val_iou", name, line,
			       first_line);
		json_decref(obj);
		if (log->n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			log->e = xreallocarray(log->e, alloc, sizeof *log->e);
		}
		log->e[log->n++] = e;
	}
	free(buf);
	if (log->n == 0)
		die("%s: no epochs", name);
	log->has_val = has_val > 0;
	log->has_dice = has_dice > 0;
	log->has_iou = has_iou > 0;
}

void
curves_free(struct curves_log *log)
{
	free(log->e);
	memset(log, 0, sizeof *log);
}

void
curves_diagnose(const struct curves_log *log, const struct curves_rules *r,
		struct curves_diagnosis *d)
{
	const struct curves_epoch *e = log->e, *last = &log->e[log->n - 1];
	size_t n = log->n, w;
	char *m = d->message;
	size_t room = sizeof d->message;
	int k = 0;

	d->best = -1;
	d->overfit = -1;
	if (log->has_val) {
		d->best = 0;
		for (size_t i = 1; i < n; i++)
			if (e[i].val < e[d->best].val)
				d->best = (long)i;
		k = snprintf(m, room, "best epoch %ld (val_loss %.4g); ",
			     e[d->best].epoch, e[d->best].val);
	}
	if (n < 2) {
		d->verdict = "undetermined";
		snprintf(m + k, room - k, "only one epoch: too few to judge");
		return;
	}
	if (log->has_val) {
		const struct curves_epoch *b = &e[d->best];
		long after = (long)n - 1 - d->best;

		if (after >= r->overfit_epochs && last->train < b->train &&
		    last->val > b->val + r->overfit_margin * fabs(b->val)) {
			d->verdict = "over-fitting";
			d->overfit = d->best + 1;
			snprintf(m + k, room - k,
				 "over-fitting from epoch %ld: val_loss above "
				 "its minimum for %ld epochs (%.4g -> %.4g) "
				 "while train_loss fell (%.4g -> %.4g)",
				 e[d->overfit].epoch, after, b->val, last->val,
				 b->train, last->train);
			return;
		}
	}
	w = n - 1 < 3 ? n - 1 : 3;
	{
		const struct curves_epoch *ref = &e[n - 1 - w];
		double drop = ref->train > 0 ?
			(ref->train - last->train) / ref->train : 0;

		if (drop > r->underfit_drop) {
			d->verdict = "under-fitting";
			snprintf(m + k, room - k,
				 "under-fitting: train_loss still falling "
				 "steeply at the last epoch (%.4g -> %.4g, "
				 "-%.1f%% over the last %zu epochs): train "
				 "longer", ref->train, last->train,
				 100 * drop, w);
			return;
		}
	}
	{
		const struct curves_epoch *first = &e[0];
		double fall = first->train > 0 ?
			(first->train - last->train) / first->train : 0;

		if (fall < r->underfit_total) {
			d->verdict = "under-fitting";
			snprintf(m + k, room - k,
				 "under-fitting: train_loss %s %.1f%% since "
				 "the first epoch (%.4g -> %.4g): the model "
				 "has hardly learned",
				 fall < 0 ? "rose" : "fell only",
				 100 * fabs(fall), first->train, last->train);
			return;
		}
	}
	if (log->has_val) {
		d->verdict = "good fit";
		snprintf(m + k, room - k,
			 "good fit: train_loss has levelled off and "
			 "val_loss has not kept rising");
	} else {
		d->verdict = "undetermined";
		snprintf(m + k, room - k,
			 "train_loss has levelled off; without validation "
			 "data over-fitting cannot be judged");
	}
}

/* An axis range with "nice" tick steps (1, 2 or 5 times a power of ten). */
struct axis {
	double lo, hi, step;
	int decimals;
};

static double
nice_step(double raw)
{
	double p = pow(10, floor(log10(raw))), f = raw / p;

	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static void
make_axis(struct axis *a, double lo, double hi, int ticks, int integer)
{
	if (hi - lo <= 1e-9 * (fabs(lo) + fabs(hi))) {
		double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	a->step = nice_step((hi - lo) / ticks);
	if (integer && a->step < 1)
		a->step = 1;
	a->lo = floor(lo / a->step) * a->step;
	/* epochs end where the log ends, not at the next tick */
	a->hi = integer ? hi : ceil(hi / a->step) * a->step;
	a->decimals = a->step >= 1 ? 0 : (int)ceil(-log10(a->step) - 1e-9);
	if (a->decimals > 10)
		a->decimals = 10;
}

struct series {
	const char *label;
	struct rgb c;
	int field; /* 0 train, 1 val, 2 dice, 3 iou */
};

static double
value(const struct curves_epoch *e, int field)
{
	switch (field) {
	case 0: return e->train;
	case 1: return e->val;
	case 2: return e->dice;
	default: return e->iou;
	}
}

struct panel {
	int x, y, w, h; /* the plot area, inside the axes */
	struct axis ax, ay;
};

/* Pixel offset of fraction f of n pixels; absurd values (from absurd
 * logs) are kept in a range that cannot overflow or draw for long. */
static int
offset(double f, int n)
{
	double v = f * (n - 1);

	if (!(v > -1e5))
		return -100000;
	if (v > 1e5)
		return 100000;
	return (int)lround(v);
}

static int
px(const struct panel *p, double x)
{
	return p->x + offset((x - p->ax.lo) / (p->ax.hi - p->ax.lo), p->w);
}

static int
py(const struct panel *p, double y)
{
	return p->y + p->h - 1 -
		offset((y - p->ay.lo) / (p->ay.hi - p->ay.lo), p->h);
}

/* Number of tick steps on an axis; 0 when the range is unusable. */
static int
steps(const struct axis *a)
{
	double n = (a->hi - a->lo) / a->step;

	return isfinite(n) && n >= 0 && n < 1000 ? (int)(n + 0.5) : 0;
}

#define TICK_TEXT 9
#define LABEL_TEXT 11
#define TITLE_TEXT 14

static int
count_ink(const struct image *img, int x, int y, int w, int h)
{
	int ink = 0;

	for (int j = y; j < y + h; j++)
		for (int i = x; i < x + w; i++) {
			const uint16_t *s;

			if (i < 0 || j < 0 || i >= img->width ||
			    j >= img->height)
				continue;
			s = img->data + ((size_t)j * img->width + i) * 3;
			ink += !(s[0] == 255 && s[1] == 255 && s[2] == 255);
		}
	return ink;
}

/* Draw the legend in the corner of the plot area with the least ink. */
static void
draw_legend(struct image *img, const struct panel *p,
	    const struct series *s, int ns, int best)
{
	int rows = ns + (best >= 0), lw = 0, w, h, bx, by, mink = -1;

	for (int i = 0; i < ns; i++) {
		int t = draw_text_width(LABEL_TEXT, s[i].label);
		if (t > lw)
			lw = t;
	}
	if (best >= 0 && draw_text_width(LABEL_TEXT, "best epoch") > lw)
		lw = draw_text_width(LABEL_TEXT, "best epoch");
	w = 8 + 24 + 6 + lw + 8;
	h = 6 + rows * 18;
	bx = p->x + p->w - w - 6;
	by = p->y + 6;
	for (int c = 0; c < 4; c++) {
		int x = c % 2 ? p->x + 6 : p->x + p->w - w - 6;
		int y = c < 2 ? p->y + 6 : p->y + p->h - h - 6;
		int ink = count_ink(img, x, y, w, h);

		if (mink < 0 || ink < mink) {
			mink = ink;
			bx = x;
			by = y;
		}
	}
	draw_rect(img, bx, by, w, h, RGB_WHITE);
	draw_line(img, bx, by, bx + w - 1, by, 1, 0, RGB_GREY);
	draw_line(img, bx, by + h - 1, bx + w - 1, by + h - 1, 1, 0, RGB_GREY);
	draw_line(img, bx, by, bx, by + h - 1, 1, 0, RGB_GREY);
	draw_line(img, bx + w - 1, by, bx + w - 1, by + h - 1, 1, 0, RGB_GREY);
	for (int i = 0; i < rows; i++) {
		int y = by + 6 + i * 18 + 9;

		if (i < ns) {
			draw_line(img, bx + 8, y - 4, bx + 32, y - 4, 2, 0,
				  s[i].c);
			draw_text(img, bx + 38, y, LABEL_TEXT, RGB_BLACK,
				  s[i].label);
		} else {
			draw_line(img, bx + 8, y - 4, bx + 32, y - 4, 1, 3,
				  RGB_BLACK);
			draw_text(img, bx + 38, y, LABEL_TEXT, RGB_BLACK,
				  "best epoch");
		}
	}
}

static void
draw_panel(struct image *img, struct panel *p,
	   const struct curves_log *log, const struct series *s, int ns,
	   const char *ylabel, long best)
{
	double lo = INFINITY, hi = -INFINITY, pad;
	char t[64];

	for (size_t i = 0; i < log->n; i++)
		for (int k = 0; k < ns; k++) {
			double v = value(&log->e[i], s[k].field);
			lo = fmin(lo, v);
			hi = fmax(hi, v);
		}
	/* a little room so that no curve runs along an axis */
	pad = (hi - lo) * 0.04;
	lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
	hi += pad;
	make_axis(&p->ay, lo, hi, p->h / 60 > 2 ? p->h / 60 : 2, 0);
	make_axis(&p->ax, (double)log->e[0].epoch,
		  (double)log->e[log->n - 1].epoch,
		  p->w / 80 > 2 ? p->w / 80 : 2, 1);

	for (int i = 0, nt = steps(&p->ay); i <= nt; i++) {
		double v = p->ay.lo + i * p->ay.step;
		int y = py(p, v);

		draw_line(img, p->x, y, p->x + p->w - 1, y, 1, 0,
			  RGB_LIGHT_GREY);
		draw_line(img, p->x - 5, y, p->x - 1, y, 1, 0, RGB_BLACK);
		snprintf(t, sizeof t, "%.*f", p->ay.decimals,
			 fabs(v) < p->ay.step / 2 ? 0.0 : v);
		draw_text(img, p->x - 8 - draw_text_width(TICK_TEXT, t),
			  y + TICK_TEXT / 2, TICK_TEXT, RGB_BLACK, t);
	}
	for (int i = 0, nt = steps(&p->ax); i <= nt; i++) {
		double v = p->ax.lo + i * p->ax.step;
		int x = px(p, v);

		if (v > p->ax.hi + p->ax.step * 1e-6)
			break;

		draw_line(img, x, p->y + p->h, x, p->y + p->h + 4, 1, 0,
			  RGB_BLACK);
		snprintf(t, sizeof t, "%.0f", v);
		draw_text(img, x - draw_text_width(TICK_TEXT, t) / 2,
			  p->y + p->h + 8 + TICK_TEXT, TICK_TEXT, RGB_BLACK, t);
	}
	draw_text(img,
		  p->x + p->w / 2 - draw_text_width(LABEL_TEXT, "epoch") / 2,
		  p->y + p->h + 14 + TICK_TEXT + LABEL_TEXT, LABEL_TEXT,
		  RGB_BLACK, "epoch");
	draw_text(img, p->x - 8 - draw_text_width(LABEL_TEXT, ylabel) / 2,
		  p->y - 12, LABEL_TEXT, RGB_BLACK, ylabel);

	if (best >= 0) {
		int x = px(p, (double)log->e[best].epoch);
		draw_line(img, x, p->y, x, p->y + p->h - 1, 1, 4, RGB_BLACK);
	}
	for (int k = 0; k < ns; k++) {
		for (size_t i = 0; i < log->n; i++) {
			int x = px(p, (double)log->e[i].epoch);
			int y = py(p, value(&log->e[i], s[k].field));

			if (i > 0)
				draw_line(img,
					  px(p, (double)log->e[i - 1].epoch),
					  py(p, value(&log->e[i - 1],
						      s[k].field)),
					  x, y, 2, 0, s[k].c);
			if (log->n <= 40 || log->n == 1)
				draw_rect(img, x - 2, y - 2, 5, 5, s[k].c);
		}
	}
	if (best >= 0 && s[0].field == 0 && ns > 1) {
		int x = px(p, (double)log->e[best].epoch);
		int y = py(p, log->e[best].val);
		/* a square frame two pixels thick around the point */
		draw_rect(img, x - 6, y - 6, 13, 2, RGB_BLACK);
		draw_rect(img, x - 6, y + 5, 13, 2, RGB_BLACK);
		draw_rect(img, x - 6, y - 6, 2, 13, RGB_BLACK);
		draw_rect(img, x + 5, y - 6, 2, 13, RGB_BLACK);
	}
	draw_line(img, p->x - 1, p->y, p->x - 1, p->y + p->h, 1, 0, RGB_BLACK);
	draw_line(img, p->x - 1, p->y + p->h, p->x + p->w - 1, p->y + p->h, 1,
		  0, RGB_BLACK);
	draw_legend(img, p, s, ns, best >= 0 && ns > 1 ? 1 : -1);
}

void
curves_render(struct image *img, int width, int height,
	      const struct curves_log *log, const char *title, int dice,
	      long best)
{
	static const struct series loss[] = {
		{"train_loss", RGB_BLUE, 0},
		{"val_loss", RGB_VERMILLION, 1},
	};
	struct series metric[2];
	int nm = 0, left = 80, right = 24, top = 34 + TITLE_TEXT, bottom = 56;
	int area = height - top - bottom;
	struct panel p = {0};

	if (log->has_dice)
		metric[nm++] = (struct series){"val Dice", RGB_BLUISH_GREEN, 2};
	if (log->has_iou)
		metric[nm++] = (struct series){"val IoU", RGB_REDDISH_PURPLE,
					       3};
	if (!dice || height < 400)
		nm = 0;

	draw_canvas(img, width, height, RGB_WHITE);
	draw_text(img, width / 2 - draw_text_width(TITLE_TEXT, title) / 2,
		  10 + TITLE_TEXT, TITLE_TEXT, RGB_BLACK, title);
	p.x = left;
	p.y = top;
	p.w = width - left - right;
	p.h = nm ? (area - bottom - 24) * 3 / 5 : area;
	draw_panel(img, &p, log, loss, log->has_val ? 2 : 1, "loss", best);
	if (nm) {
		struct panel q = p;
		q.y = p.y + p.h + bottom + 24;
		q.h = area - p.h - bottom - 24;
		draw_panel(img, &q, log, metric, nm, "validation", best);
	}
}
