/* tap.h: a tiny TAP producer for the C unit tests. Each test prints
 * "ok N - name" or "not ok N - name", then the plan "1..N" at the end. */
#ifndef UNETPIPE_TAP_H
#define UNETPIPE_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int tap_count, tap_failed;

/* Report one check; the name is a printf format. Returns cond. */
static inline int __attribute__((format(printf, 2, 3)))
tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

/* A diagnostic line ("# ..."). */
#define tap_diag(...) (printf("# " __VA_ARGS__), putchar('\n'))

/* Print the plan; use as main()'s return value. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif
