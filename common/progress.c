#include "progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

void
progress_init(struct progress *p, int enabled)
{
	p->enabled = enabled;
	p->drawn = 0;
	p->last = -1;
}

static int
terminal_columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

void
progress_draw(struct progress *p, int force, const char *fmt, ...)
{
	char line[512];
	double t;
	va_list ap;
	int cols;

	if (!p->enabled)
		return;
	t = now_seconds();
	if (!force && p->last >= 0 && t - p->last < 0.1)
		return;
	p->last = t;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* A line that wraps could no longer be redrawn with '\r'. */
	cols = terminal_columns() - 1;
	if (cols < (int)sizeof line)
		line[cols] = '\0';
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	p->drawn = 1;
}

void
progress_clear(struct progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->drawn = 0;
}

void
progress_duration(double seconds, char *buf, size_t len)
{
	long s;

	if (!isfinite(seconds) || seconds < 0 || seconds > 1e9) {
		snprintf(buf, len, "?");
		return;
	}
	s = lround(seconds);
	if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}
