/* curves: a unet-train log (JSON Lines, one object per epoch, see
 * unetpipe-formats(5)) read into memory, the fit diagnosed by the rules of
 * train-curves(1), and the loss curves drawn. */
#ifndef UNETPIPE_CURVES_H
#define UNETPIPE_CURVES_H

#include <stddef.h>
#include <stdio.h>

#include "image.h"

/* One line of the log. val, dice and iou are 0 when the log lacks them. */
struct curves_epoch {
	long epoch;
	double train, val, dice, iou;
};

/* The epochs in the log's order (strictly increasing epoch numbers). */
struct curves_log {
	struct curves_epoch *e;
	size_t n;
	int has_val, has_dice, has_iou; /* 1 when on every line */
};

/* The thresholds of the diagnosis (train-curves' options). */
struct curves_rules {
	long overfit_epochs;
	double overfit_margin; /* fraction of the minimum */
	double underfit_drop;  /* fraction of the train loss */
	double underfit_total; /* fraction of the first train loss */
	double rise_margin;    /* fraction of the minimum val_loss */
	double dice_floor;     /* val_dice that counts as near 0 */
};

/* The defaults: 3 epochs, 2 %, 10 %, 10 %, 25 %, 0.05. */
extern const struct curves_rules curves_default_rules;

struct curves_diagnosis {
	const char *verdict; /* "good fit", "over-fitting", "under-fitting",
			      * "not converged" or "undetermined" */
	long best;     /* index into the log, -1 without validation */
	long overfit;  /* index of the first over-fitting epoch, or -1 */
	char message[512];
};

/* Read the whole log f (name for messages) into log (overwritten, not
 * freed). Blank lines are skipped. Dies "prog: NAME:LINE: what" on a line
 * that is no JSON object, without an integer epoch above the previous
 * one, without a finite train_loss, with a val_loss, val_dice or val_iou
 * that is not a finite number (null means absent), or present on some
 * lines and not on others; "prog: NAME: no epochs" on an empty log; read
 * errors and a full memory die too, never end the log early. */
void curves_read(FILE *f, const char *name, struct curves_log *log);

/* Free the epochs of a log read by curves_read and zero it. */
void curves_free(struct curves_log *log);

/* Diagnose the fit of a log of at least one epoch by the rules into d:
 * the verdict, the best epoch and the one-line message train-curves
 * prints. */
void curves_diagnose(const struct curves_log *log,
		     const struct curves_rules *r, struct curves_diagnosis *d);

/* Draw the curves of the log into img (allocated here, RGB, maxval 255,
 * width x height, at least 320 x 240): the losses, and below them the
 * validation Dice and IoU when the log has them, dice is set and the
 * image is at least 400 high; a dashed line at the best epoch (an index,
 * -1 for none). Any finite values draw in bounded time. */
void curves_render(struct image *img, int width, int height,
		   const struct curves_log *log, const char *title, int dice,
		   long best);

#endif
