#include "curves.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "draw.h"
#include "util.h"

const struct curves_rules curves_default_rules = {3, 0.02, 0.10, 0.10, 0.25,
						   0.05};

/* Where curves_read is in the log: the line, the first epoch's line, and
 * whether val_loss, val_dice and val_iou are on the lines (-1 before the
 * first epoch). */
struct reading {
	long line, first_line;
	int has_val, has_dice, has_iou;
};

/* Fetch the number `key` of a log line into *out: 1 when present, 0 when
 * absent, or null and null_ok (unet-train writes null for a figure it
 * lacks), -1 with the reason in err. */
static int
get_number(json_t *obj, const char *key, int null_ok, double *out,
	   char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v || (null_ok && json_is_null(v)))
		return 0;
	if (json_is_null(v))
		return set_error(err, errlen, "%s is null (not a number)", key);
	if (!json_is_number(v))
		return set_error(err, errlen, "%s is not a number", key);
	*out = json_number_value(v);
	if (!isfinite(*out))
		return set_error(err, errlen, "%s is not finite", key);
	return 1;
}

/* The optional number key (null_ok), on every line of the log or on none:
 * 0, or -1 with the reason in err. */
static int
get_optional(json_t *obj, const char *key, double *out, int *has,
	     const struct reading *r, char *err, size_t errlen)
{
	int present = get_number(obj, key, 1, out, err, errlen);

	if (present < 0)
		return -1;
	if (*has < 0)
		*has = present;
	else if (present != *has)
		return set_error(err, errlen, "%s is %s, but %s on line %ld",
				 key, present ? "a number" : "missing or null",
				 present ? "missing or null" : "a number",
				 r->first_line);
	return 0;
}

/* The epoch of the line buf (len bytes, not blank) into *e, after the
 * epochs of log: 0, or -1 with the reason in err. Holds no memory when it
 * returns, so that the caller's die() leaves nothing behind. */
static int
read_epoch(const char *buf, size_t len, const struct curves_log *log,
	   struct reading *r, struct curves_epoch *e, char *err,
	   size_t errlen)
{
	json_error_t jerr;
	json_t *obj = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *ep;
	int rc = -1;

	if (!obj)
		return set_error(err, errlen, "%s", jerr.text);
	if (!json_is_object(obj)) {
		set_error(err, errlen, "not a JSON object");
		goto done;
	}
	ep = json_object_get(obj, "epoch");
	if (!ep) {
		set_error(err, errlen, "epoch missing");
		goto done;
	}
	if (!json_is_integer(ep)) {
		set_error(err, errlen, "epoch is not an integer");
		goto done;
	}
	e->epoch = (long)json_integer_value(ep);
	if (log->n > 0 && e->epoch <= log->e[log->n - 1].epoch) {
		set_error(err, errlen, "epoch %ld does not follow epoch %ld",
			  e->epoch, log->e[log->n - 1].epoch);
		goto done;
	}
	switch (get_number(obj, "train_loss", 0, &e->train, err, errlen)) {
	case -1:
		goto done;
	case 0:
		set_error(err, errlen, "train_loss missing");
		goto done;
	}
	if (!r->first_line)
		r->first_line = r->line;
	if (get_optional(obj, "val_loss", &e->val, &r->has_val, r, err,
			 errlen) < 0 ||
	    get_optional(obj, "val_dice", &e->dice, &r->has_dice, r, err,
			 errlen) < 0 ||
	    get_optional(obj, "val_iou", &e->iou, &r->has_iou, r, err,
			 errlen) < 0)
		goto done;
	rc = 0;
done:
	json_decref(obj);
	return rc;
}

/* The line buffer of curves_read, freed when the log is read. A die() on
 * the way (a bad line, or inside read_line: a NUL byte, a read error)
 * leaves it here for the next call to take back instead of losing it:
 * the fuzzer survives die() and must stay flat. */
static char *line_buf;
static size_t line_cap;

void
curves_read(FILE *f, const char *name, struct curves_log *log)
{
	struct reading r = { 0, 0, -1, -1, -1 };
	size_t alloc = 0;
	long len;
	char err[256];

	memset(log, 0, sizeof *log);
	/* A line may be of any length (unetpipe-formats(5)); a read error or
	 * a full memory is an error, never the end of the log. */
	while ((len = read_line(f, name, &line_buf, &line_cap, SIZE_MAX,
				&r.line)) >= 0) {
		struct curves_epoch e = {0};

		if (strspn(line_buf, " \t\r\n") == (size_t)len)
			continue;
		if (read_epoch(line_buf, (size_t)len, log, &r, &e, err,
			       sizeof err) < 0)
			die("%s:%ld: %s", name, r.line, err);
		if (log->n == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			log->e = xreallocarray(log->e, alloc, sizeof *log->e);
		}
		log->e[log->n++] = e;
	}
	free(line_buf);
	line_buf = NULL;
	line_cap = 0;
	if (log->n == 0)
		die("%s: no epochs", name);
	log->has_val = r.has_val > 0;
	log->has_dice = r.has_dice > 0;
	log->has_iou = r.has_iou > 0;
}

void
curves_free(struct curves_log *log)
{
	free(log->e);
	memset(log, 0, sizeof *log);
}

/* Not converged when val_dice never reaches the floor (m, room: the rest
 * of the message after the best epoch). */
static int
dice_near_zero(const struct curves_log *log, const struct curves_rules *r,
	       struct curves_diagnosis *d, char *m, size_t room)
{
	size_t top = 0;

	if (!log->has_dice)
		return 0;
	for (size_t i = 1; i < log->n; i++)
		if (log->e[i].dice > log->e[top].dice)
			top = i;
	if (log->e[top].dice >= r->dice_floor)
		return 0;
	d->verdict = "not converged";
	snprintf(m, room, "not converged: val_dice never reached %.4g (at "
		 "most %.4g, epoch %ld): the model does not separate the "
		 "foreground from the background; train longer (more epochs, "
		 "more patience) or check the data", r->dice_floor,
		 log->e[top].dice, log->e[top].epoch);
	return 1;
}

/* Not converged when the last val_loss is well above its minimum. */
static int
val_loss_risen(const struct curves_log *log, const struct curves_rules *r,
	       struct curves_diagnosis *d, char *m, size_t room)
{
	const struct curves_epoch *b = &log->e[d->best];
	const struct curves_epoch *last = &log->e[log->n - 1];

	if (!(last->val > b->val + r->rise_margin * fabs(b->val)))
		return 0;
	d->verdict = "not converged";
	snprintf(m, room, "not converged: the last val_loss is %.1f%% above "
		 "its minimum (%.4g -> %.4g) while train_loss went %.4g -> "
		 "%.4g: validation got worse, not better; train longer with "
		 "more patience or a lower learning rate",
		 b->val != 0 ? 100 * (last->val - b->val) / fabs(b->val) :
		 INFINITY,
		 b->val, last->val, b->train, last->train);
	return 1;
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
	if (dice_near_zero(log, r, d, m + k, room - k))
		return;
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
		if (val_loss_risen(log, r, d, m + k, room - k))
			return;
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
