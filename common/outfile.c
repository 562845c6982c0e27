#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct outfile {
	char *path;
	char *tmp;
	FILE *f;
};

/* A file's identity: device and inode when it exists; for an output not
 * yet there, its folder's device and inode and its name. */
struct identity {
	dev_t dev;
	ino_t ino;
	char *name; /* NULL for an existing file */
};

static struct identity *inputs, *outputs;
static size_t ninputs, noutputs;

/* Temporary files not yet committed or discarded. Changed only with the
 * cleanup signals blocked, so that a handler sees a whole array. */
static char **pending;
static size_t npending, pending_cap;

static const int cleanup_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM,
	SIGUSR1, SIGUSR2, SIGXCPU, SIGVTALRM, SIGPROF,
};
#define NSIGNALS (sizeof cleanup_signals / sizeof cleanup_signals[0])

static void
block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < NSIGNALS; i++)
		sigaddset(&set, cleanup_signals[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void
restore_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* The program's hook of outfile_on_exit, NULL if none. */
static void (*volatile exit_hook)(void);

void
outfile_cleanup(void)
{
	int saved = errno;
	void (*hook)(void) = exit_hook;

	for (size_t i = 0; i < npending; i++)
		unlink(pending[i]);
	if (hook)
		hook();
	errno = saved;
}

void
outfile_fatal_signal(int sig)
{
	outfile_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
cleanup_at_exit(void)
{
	outfile_cleanup();
}

/* Once: the cleanup at exit, and outfile_fatal_signal as the handler of
 * every cleanup signal whose action is still the default. */
static void
install_cleanup(void)
{
	static int installed;

	if (installed)
		return;
	installed = 1;
	atexit(cleanup_at_exit);
	for (size_t i = 0; i < NSIGNALS; i++) {
		struct sigaction old, sa;

		if (sigaction(cleanup_signals[i], NULL, &old) != 0 ||
		    old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
			continue;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = outfile_fatal_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(cleanup_signals[i], &sa, NULL);
	}
}

void
outfile_on_exit(void (*fn)(void))
{
	sigset_t old;

	block_signals(&old);
	exit_hook = fn;
	restore_signals(&old);
	install_cleanup();
}

static void
pending_add(char *tmp)
{
	sigset_t old;

	block_signals(&old);
	if (npending == pending_cap) {
		size_t cap = pending_cap ? 2 * pending_cap : 8;
		char **grown = malloc(cap * sizeof *grown);

		if (!grown) {
			restore_signals(&old);
			die("out of memory (%zu bytes for the temporary file list)",
			    cap * sizeof *grown);
		}
		if (npending)
			memcpy(grown, pending, npending * sizeof *grown);
		free(pending);
		pending = grown;
		pending_cap = cap;
	}
	pending[npending++] = tmp;
	restore_signals(&old);
}

static void
pending_remove(const char *tmp)
{
	sigset_t old;

	block_signals(&old);
	for (size_t i = 0; i < npending; i++)
		if (pending[i] == tmp) {
			pending[i] = pending[--npending];
			break;
		}
	restore_signals(&old);
}

/* The folder part of path ("." when it has none). */
static char *
folder_of(const char *path)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');

	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	return dir;
}

static const char *
base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int
same_identity(const struct identity *a, const struct identity *b)
{
	if (a->dev != b->dev || a->ino != b->ino)
		return 0;
	if (!a->name || !b->name)
		return !a->name && !b->name;
	return strcmp(a->name, b->name) == 0;
}

static void
add_identity(struct identity **list, size_t *n, const struct identity *id)
{
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = *id;
}

void
outfile_input(const char *path)
{
	struct identity id = {0};
	struct stat sb, out;
	int is_stdin = strcmp(path, "-") == 0;

	if (is_stdin ? fstat(STDIN_FILENO, &sb) != 0 : stat(path, &sb) != 0)
		return;
	if (is_stdin && !S_ISREG(sb.st_mode))
		return;
	if (S_ISREG(sb.st_mode) && fstat(STDOUT_FILENO, &out) == 0 &&
	    out.st_dev == sb.st_dev && out.st_ino == sb.st_ino)
		die("%s: is also the standard output",
		    is_stdin ? "stdin" : path);
	id.dev = sb.st_dev;
	id.ino = sb.st_ino;
	add_identity(&inputs, &ninputs, &id);
}

void
outfile_check(const char *path)
{
	struct identity id = {0};
	struct stat sb;

	if (!*path || strcmp(path, "-") == 0)
		die_usage("an output must be a file name, not '%s'", path);
	if (stat(path, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			die("%s: is a folder", path);
		if (!S_ISREG(sb.st_mode))
			die("%s: not a regular file (an output replaces its "
			    "path by a new file)", path);
		id.dev = sb.st_dev;
		id.ino = sb.st_ino;
		for (size_t i = 0; i < ninputs; i++)
			if (same_identity(&inputs[i], &id))
				die("%s: is also an input (an output never "
				    "replaces an input)", path);
	} else if (errno == ENOENT) {
		char *dir = folder_of(path);

		if (stat(dir, &sb) != 0)
			die("%s: folder %s:", path, dir);
		if (!S_ISDIR(sb.st_mode))
			die("%s: %s is not a folder", path, dir);
		free(dir);
		id.dev = sb.st_dev;
		id.ino = sb.st_ino;
		id.name = xstrdup(base_of(path));
	} else {
		die("%s:", path);
	}
	for (size_t i = 0; i < noutputs; i++)
		if (same_identity(&outputs[i], &id))
			die_usage("output '%s' given twice", path);
	add_identity(&outputs, &noutputs, &id);
}

static void
outfile_free(struct outfile *o)
{
	pending_remove(o->tmp);
	free(o->tmp);
	free(o->path);
	free(o);
}

struct outfile *
outfile_open(const char *path, char *err, size_t errlen)
{
	struct outfile *o;
	size_t n = strlen(path);
	mode_t mask;
	int fd;

	install_cleanup();
	o = xcalloc(1, sizeof *o);
	o->path = xstrdup(path);
	o->tmp = xmalloc(n + 8);
	memcpy(o->tmp, path, n);
	memcpy(o->tmp + n, ".XXXXXX", 8);
	pending_add(o->tmp);
	fd = mkstemp(o->tmp);
	if (fd < 0) {
		set_error(err, errlen,
			  "cannot create a temporary file beside it: %s",
			  strerror(errno));
		outfile_free(o);
		return NULL;
	}
	/* mkstemp makes the file 0600; an output is an ordinary file. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "wb"))) {
		set_error(err, errlen, "%s", strerror(errno));
		close(fd);
		outfile_discard(o);
		return NULL;
	}
	return o;
}

struct outfile *
outfile_open_or_die(const char *path)
{
	char err[256];
	struct outfile *o = outfile_open(path, err, sizeof err);

	if (!o)
		die("%s: %s", path, err);
	return o;
}

FILE *
outfile_stream(struct outfile *o)
{
	return o->f;
}

void
outfile_discard(struct outfile *o)
{
	if (o->f)
		fclose(o->f);
	unlink(o->tmp);
	outfile_free(o);
}

/* fsync the folder holding path, so that a rename in it is durable. */
static int
sync_folder(const char *path)
{
	char *dir = folder_of(path);
	int fd, rc = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
		rc = -1;
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	free(dir);
	return rc;
}

int
outfile_commit(struct outfile *o, char *err, size_t errlen)
{
	FILE *f = o->f;

	o->f = NULL;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) {
		int saved = errno;
		fclose(f);
		errno = saved;
		goto fail;
	}
	if (fclose(f) != 0)
		goto fail;
	if (rename(o->tmp, o->path) != 0)
		goto fail;
	pending_remove(o->tmp);
	if (sync_folder(o->path) != 0) {
		set_error(err, errlen, "fsync of its folder: %s",
			  strerror(errno));
		outfile_free(o);
		return -1;
	}
	outfile_free(o);
	return 0;
fail:
	set_error(err, errlen, "write error: %s", strerror(errno));
	outfile_discard(o);
	return -1;
}

void
outfile_commit_or_die(struct outfile *o)
{
	char err[256];
	char *path = xstrdup(o->path);

	if (outfile_commit(o, err, sizeof err) != 0)
		die("%s: %s", path, err);
	free(path);
}

FILE *
fopen_regular(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	FILE *f;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		set_error(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) != 0) {
		set_error(err, errlen, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(sb.st_mode)) {
		set_error(err, errlen, "%s",
			  S_ISDIR(sb.st_mode) ? "is a folder"
					      : "not a regular file");
		close(fd);
		return NULL;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0 ||
	    !(f = fdopen(fd, "rb"))) {
		set_error(err, errlen, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}
