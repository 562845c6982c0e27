/* progress: a one-line status redrawn in place on a terminal's stderr. */
#ifndef UNETPIPE_PROGRESS_H
#define UNETPIPE_PROGRESS_H

#include <stddef.h>

struct progress {
	int enabled; /* draw at all (stderr is a terminal and not quiet) */
	int drawn;   /* a line is on the screen */
	double last; /* now_seconds() of the last redraw */
};

/* Start with nothing drawn; enabled should be stderr_is_tty() && !quiet. */
void progress_init(struct progress *p, int enabled);

/* Redraw the line with the printf-formatted text, cut to the terminal's
 * width; unless force, skip the redraw when the last one was less than
 * 0.1 s ago. Does nothing when disabled. */
void progress_draw(struct progress *p, int force, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Erase the drawn line, if any, so that ordinary messages can follow. */
void progress_clear(struct progress *p);

/* Format a duration in seconds as "m:ss" or "h:mm:ss" ("?" when not a
 * finite, non-negative number) into buf. */
void progress_duration(double seconds, char *buf, size_t len);

#endif
