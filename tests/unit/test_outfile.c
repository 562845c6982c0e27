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

static char dir[] = "/tmp/test_outfile_XXXXXX";

static char *
in_dir(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

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
	DIR *d = opendir(dir);
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
	outfile_input(in_dir("in"));
	outfile_check(out);
}

static void
output_twice(const char *out)
{
	outfile_check(out);
	outfile_check(in_dir("./new"));
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

int
main(int argc, char **argv)
{
	struct outfile *o;
	char err[256] = "";
	FILE *f;

	prog_init(argc, argv);
	if (!mkdtemp(dir))
		return 1;
	put(in_dir("in"), "input");
	put(in_dir("old"), "old");

	o = outfile_open_or_die(in_dir("old"));
	fputs("new", outfile_stream(o));
	tap_ok(holds(in_dir("old"), "old") && entries() == 3,
	       "before the commit the path is untouched, the temporary beside it");
	tap_ok(outfile_commit(o, err, sizeof err) == 0 &&
		       holds(in_dir("old"), "new") && entries() == 2,
	       "the commit replaces the path and leaves no temporary");

	o = outfile_open_or_die(in_dir("old"));
	fputs("discarded", outfile_stream(o));
	outfile_discard(o);
	tap_ok(holds(in_dir("old"), "new") && entries() == 2,
	       "a discarded output leaves the path as it was");

	o = outfile_open_or_die(in_dir("created"));
	fputs("c", outfile_stream(o));
	outfile_commit_or_die(o);
	tap_ok(holds(in_dir("created"), "c"), "a new path is created");
	unlink(in_dir("created"));

	tap_ok(child(input_then_output, in_dir("in")) == 1,
	       "an output that is an input is refused");
	tap_ok(child(input_then_output, in_dir("./in")) == 1,
	       "another spelling of the input's path is refused");
	symlink(in_dir("in"), in_dir("link"));
	tap_ok(child(input_then_output, in_dir("link")) == 1,
	       "a symbolic link to an input is refused");
	link(in_dir("in"), in_dir("hard"));
	tap_ok(child(input_then_output, in_dir("hard")) == 1,
	       "a hard link to an input is refused");
	tap_ok(child(input_then_output, in_dir("old")) == 0,
	       "another existing file is a fine output");
	tap_ok(child(output_twice, in_dir("new")) == 2,
	       "the same new output twice (two spellings) is a usage error");
	tap_ok(child(input_then_output, dir) == 1, "a folder is refused");
	tap_ok(child(input_then_output, "/dev/null") == 1,
	       "a device is refused");
	tap_ok(child(input_then_output, in_dir("nofolder/x")) == 1,
	       "a missing folder is refused before anything is written");
	tap_ok(holds(in_dir("in"), "input"), "the input is intact");
	unlink(in_dir("link"));
	unlink(in_dir("hard"));

	tap_ok(child(open_then_die, in_dir("old")) == 1 &&
		       holds(in_dir("old"), "new") && entries() == 2,
	       "a run that dies leaves the path and no temporary");
	tap_ok(child(open_then_signal, in_dir("old")) == 128 + SIGTERM &&
		       holds(in_dir("old"), "new") && entries() == 2,
	       "SIGTERM removes the temporary and still kills");

	mkfifo(in_dir("fifo"), 0600);
	f = fopen_regular(in_dir("fifo"), err, sizeof err);
	tap_ok(!f && strcmp(err, "not a regular file") == 0,
	       "fopen_regular refuses a FIFO without blocking (%s)", err);
	f = fopen_regular(dir, err, sizeof err);
	tap_ok(!f && strcmp(err, "is a folder") == 0,
	       "fopen_regular refuses a folder");
	f = fopen_regular(in_dir("missing"), err, sizeof err);
	tap_ok(!f && strstr(err, "No such file"), "fopen_regular: %s", err);
	f = fopen_regular(in_dir("in"), err, sizeof err);
	tap_ok(f && fgetc(f) == 'i', "fopen_regular reads a regular file");
	if (f)
		fclose(f);

	unlink(in_dir("fifo"));
	unlink(in_dir("in"));
	unlink(in_dir("old"));
	rmdir(dir);
	return tap_done();
}
