/* tap.h: a tiny TAP producer for the C unit tests. Each test prints
 * "ok N - name" or "not ok N - name", then the plan "1..N" at the end. */
#ifndef UNETPIPE_TAP_H
#define UNETPIPE_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The test's scratch folder, /tmp/unetpipe-test.XXXXXX, made on the first
 * call (a failure exits 1); its path. */
static inline const char *
tap_scratch(void)
{
	static char dir[] = "/tmp/unetpipe-test.XXXXXX";
	static int made;

	if (!made && !mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	made = 1;
	return dir;
}

/* The path of name inside the scratch folder, in one of 8 buffers used in
 * turn (so that 8 such paths can be in use at once). */
static inline char *
tap_path(const char *name)
{
	static char buf[8][4096];
	static int k;

	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tap_scratch(), name);
	return buf[k];
}

/* Remove the scratch folder and everything in it. */
static inline void
tap_scratch_remove(void)
{
	char cmd[4200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tap_scratch());
	if (system(cmd) != 0)
		tap_diag("could not remove %s", tap_scratch());
}

#endif
