/* tap.h: a tiny TAP producer for the C unit tests. Each test prints
 * "ok N - name" or "not ok N - name", then the plan "1..N" at the end. */
#ifndef UNETPIPE_TAP_H
#define UNETPIPE_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Run fn(arg) in a child process (for code that exits: die() and the
 * like), its stderr captured into err (errsize bytes, NUL-terminated; the
 * rest is dropped). Returns its exit status (0 when fn returns), 128 + the
 * signal that ended it, or -1 when no pipe could be made. */
static inline int
tap_child(void (*fn)(const void *), const void *arg, char *err,
	  size_t errsize)
{
	int fd[2], status;
	pid_t pid;
	ssize_t n, len = 0;

	if (pipe(fd) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	while ((n = read(fd[0], err + len, errsize - 1 - len)) > 0)
		len += n;
	err[len] = '\0';
	close(fd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

/* Print the plan; use as main()'s return value. */
static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed != 0;
}

#endif
