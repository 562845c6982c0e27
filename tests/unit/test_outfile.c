/* outfile: outputs replace their path only when committed, never an input
 * or another output; temporaries go at exit and on signals; FIFOs are
 * refused without blocking. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outfile.h"
#include "tap.h"
#include "util.h"

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static int
holds(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strcmp(buf, text) == 0;
}

/* Number of entries of the test folder. */
static int
entries(void)
{
	DIR *d = opendir(tap_scratch());
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Run fn(arg) in a child with stderr silenced; its exit status, or
 * 128 + signal. */
static int
child(void (*fn)(const char *), const char *arg)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		fn(arg);
		exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status);
}

static void
input_then_output(const char *out)
{
	outfile_input(tap_path("in"));
	outfile_check(out);
}

static void
output_twice(const char *out)
{
	outfile_check(out);
	outfile_check(tap_path("./new"));
}

static void
open_then_die(const char *out)
{
	struct outfile *o = outfile_open_or_die(out);

	fputs("half", outfile_stream(o));
	fflush(outfile_stream(o));
	die("failing on purpose");
}

static void
open_then_signal(const char *out)
{
	struct outfile *o = outfile_open_or_die(out);

	fputs("half", outfile_stream(o));
	fflush(outfile_stream(o));
	raise(SIGTERM);
	pause();
}

/* The hook's mark: a file that the hook removes (unlink is
 * async-signal-safe). */
static char mark[4096];

/* The output a hook case leaves open: reachable, so that leak checks
 * do not count it. */
static struct outfile *held;

static void
remove_mark(void)
{
	unlink(mark);
}

static void
hook_then_exit(const char *out)
{
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	fputs("half", outfile_stream(held));
	exit(0);
}

static void
hook_then_die(const char *out)
{
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	fputs("half", outfile_stream(held));
	die("failing on purpose");
}

/* A signal outfile handles: the hook is set before any output opens. */
static void
hook_then_signal(const char *out)
{
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	fflush(outfile_stream(held));
	raise(SIGHUP);
	pause();
}

static void
ignored_signal(const char *out)
{
	signal(SIGHUP, SIG_IGN);
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	raise(SIGHUP);
	fputs("half", outfile_stream(held));
	exit(3);
}

static void
exit_42(int sig)
{
	(void)sig;
	outfile_cleanup();
	_exit(42);
}

static void
own_handler(const char *out)
{
	signal(SIGTERM, exit_42);
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	raise(SIGTERM);
	pause();
}

static void
own_handler_then_fatal(int sig)
{
	outfile_fatal_signal(sig);
}

static void
own_handler_ending_fatal(const char *out)
{
	signal(SIGINT, own_handler_then_fatal);
	outfile_on_exit(remove_mark);
	held = outfile_open_or_die(out);
	raise(SIGINT);
	pause();
}

/* The exit hook: each child with a mark, an output being written and
 * one way out; 1 when it ended with status want, the mark and the
 * temporary removed, the path as it was. */
static int
hook_case(void (*fn)(const char *), int want)
{
	int status;

	put(mark, "mark");
	status = child(fn, tap_path("old"));
	if (status != want)
		tap_diag("status %d, want %d", status, want);
	return status == want && access(mark, F_OK) != 0 &&
	       holds(tap_path("old"), "new") && entries() == 2;
}

static void
test_exit_hook(void)
{
	snprintf(mark, sizeof mark, "%s", tap_path("mark"));
	tap_ok(hook_case(hook_then_exit, 0),
	       "outfile_on_exit: the hook runs at exit, after the temporary "
	       "goes");
	tap_ok(hook_case(hook_then_die, 1), "the hook runs when the run dies");
	tap_ok(hook_case(hook_then_signal, 128 + SIGHUP),
	       "the hook runs on SIGHUP, which still kills");
	tap_ok(hook_case(ignored_signal, 3),
	       "a signal ignored by the caller stays ignored (hook at exit)");
	tap_ok(hook_case(own_handler, 42),
	       "a program's own handler is kept; outfile_cleanup removes the "
	       "temporary and runs the hook");
	tap_ok(hook_case(own_handler_ending_fatal, 128 + SIGINT),
	       "outfile_fatal_signal from a program's handler: cleanup, then "
	       "death by the signal");
}

int
main(int argc, char **argv)
{
	struct outfile *o;
	char err[256] = "";
	FILE *f;

	/* SIGHUP as a shell leaves it: under nohup it is ignored, which
	 * outfile respects, and the case that raises it would pause for
	 * ever. */
	signal(SIGHUP, SIG_DFL);
	prog_init(argc, argv);
	put(tap_path("in"), "input");
	put(tap_path("old"), "old");

	o = outfile_open_or_die(tap_path("old"));
	fputs("new", outfile_stream(o));
	tap_ok(holds(tap_path("old"), "old") && entries() == 3,
	       "before the commit the path is untouched, the temporary beside it");
	tap_ok(outfile_commit(o, err, sizeof err) == 0 &&
		       holds(tap_path("old"), "new") && entries() == 2,
	       "the commit replaces the path and leaves no temporary");

	o = outfile_open_or_die(tap_path("old"));
	fputs("discarded", outfile_stream(o));
	outfile_discard(o);
	tap_ok(holds(tap_path("old"), "new") && entries() == 2,
	       "a discarded output leaves the path as it was");

	o = outfile_open_or_die(tap_path("created"));
	fputs("c", outfile_stream(o));
	outfile_commit_or_die(o);
	tap_ok(holds(tap_path("created"), "c"), "a new path is created");
	unlink(tap_path("created"));

	tap_ok(child(input_then_output, tap_path("in")) == 1,
	       "an output that is an input is refused");
	tap_ok(child(input_then_output, tap_path("./in")) == 1,
	       "another spelling of the input's path is refused");
	symlink(tap_path("in"), tap_path("link"));
	tap_ok(child(input_then_output, tap_path("link")) == 1,
	       "a symbolic link to an input is refused");
	link(tap_path("in"), tap_path("hard"));
	tap_ok(child(input_then_output, tap_path("hard")) == 1,
	       "a hard link to an input is refused");
	tap_ok(child(input_then_output, tap_path("old")) == 0,
	       "another existing file is a fine output");
	tap_ok(child(output_twice, tap_path("new")) == 2,
	       "the same new output twice (two spellings) is a usage error");
	tap_ok(child(input_then_output, tap_scratch()) == 1, "a folder is refused");
	tap_ok(child(input_then_output, "/dev/null") == 1,
	       "a device is refused");
	tap_ok(child(input_then_output, tap_path("nofolder/x")) == 1,
	       "a missing folder is refused before anything is written");
	tap_ok(holds(tap_path("in"), "input"), "the input is intact");
	unlink(tap_path("link"));
	unlink(tap_path("hard"));

	tap_ok(child(open_then_die, tap_path("old")) == 1 &&
		       holds(tap_path("old"), "new") && entries() == 2,
	       "a run that dies leaves the path and no temporary");
	tap_ok(child(open_then_signal, tap_path("old")) == 128 + SIGTERM &&
		       holds(tap_path("old"), "new") && entries() == 2,
	       "SIGTERM removes the temporary and still kills");

	test_exit_hook();

	mkfifo(tap_path("fifo"), 0600);
	f = fopen_regular(tap_path("fifo"), err, sizeof err);
	tap_ok(!f && strcmp(err, "not a regular file") == 0,
	       "fopen_regular refuses a FIFO without blocking (%s)", err);
	f = fopen_regular(tap_scratch(), err, sizeof err);
	tap_ok(!f && strcmp(err, "is a folder") == 0,
	       "fopen_regular refuses a folder");
	f = fopen_regular(tap_path("missing"), err, sizeof err);
	tap_ok(!f && strstr(err, "No such file"), "fopen_regular: %s", err);
	f = fopen_regular(tap_path("in"), err, sizeof err);
	tap_ok(f && fgetc(f) == 'i', "fopen_regular reads a regular file");
	if (f)
		fclose(f);

	unlink(tap_path("fifo"));
	unlink(tap_path("in"));
	unlink(tap_path("old"));
	rmdir(tap_scratch());
	return tap_done();
}
