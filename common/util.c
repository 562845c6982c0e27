#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pam.h>

static const char *progname = "unetpipe";

void
prog_init(int argc, char **argv)
{
	if (argc > 0 && argv[0] && argv[0][0]) {
		const char *slash = strrchr(argv[0], '/');
		progname = slash ? slash + 1 : argv[0];
	}
	pm_init(progname, 0);
	setlocale(LC_NUMERIC, "C");
	/* Past a file size limit (ulimit -f) a write must fail with EFBIG
	 * and be reported, not kill the process half-way through a file. */
	signal(SIGXFSZ, SIG_IGN);
}

const char *
prog_name(void)
{
	return progname;
}

/* The message of fmt and ap on stderr, its control characters (a newline
 * in a file name, say) written as '?' so that it stays one line. */
static void
put_one_line(const char *fmt, va_list ap)
{
	char buf[4096];
	int n = vsnprintf(buf, sizeof buf, fmt, ap);

	if (n < 0)
		return;
	for (char *c = buf; *c; c++)
		if (iscntrl((unsigned char)*c))
			*c = '?';
	fputs(buf, stderr);
}

static void
vmessage(const char *fmt, va_list ap, int with_errno)
{
	int saved = errno;
	size_t len = strlen(fmt);

	fflush(stdout);
	/* On a terminal a progress line may be drawn: start afresh over it. */
	if (isatty(STDERR_FILENO))
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s: ", progname);
	put_one_line(fmt, ap);
	if (with_errno && len > 0 && fmt[len - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
}

static void (*die_hook)(void);
static pthread_t die_hook_thread;

void
set_die_hook(void (*fn)(void))
{
	die_hook = fn;
	die_hook_thread = pthread_self();
}

void
die(const char *fmt, ...)
{
	va_list ap;
	void (*hook)(void) = die_hook;

	va_start(ap, fmt);
	vmessage(fmt, ap, 1);
	va_end(ap);
	if (hook && pthread_equal(pthread_self(), die_hook_thread)) {
		die_hook = NULL; /* a die() within it exits at once */
		hook();
	}
	exit(1);
}

void
die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, 0);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(2);
}

void
warn_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap, 1);
	va_end(ap);
}

int
online_cpus(int max)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > max ? max : (int)n;
}

long
parse_long(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE)
		die_usage("%s: '%s' is not an integer", what, s);
	if (v < min || v > max)
		die_usage("%s: %ld is out of range [%ld, %ld]", what, v, min,
			  max);
	return v;
}

double
parse_double(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v))
		die_usage("%s: '%s' is not a number", what, s);
	if (v < min || v > max)
		die_usage("%s: %g is out of range [%g, %g]", what, v, min, max);
	return v;
}

int
parse_choice(const char *s, const char *first, const char *second,
	     const char *what)
{
	if (strcmp(s, first) == 0)
		return 0;
	if (strcmp(s, second) == 0)
		return 1;
	die_usage("%s: %s or %s, not '%s'", what, first, second, s);
}

void
parse_size(const char *s, int max, int *width, int *height, const char *what)
{
	char buf[64];
	char *x;

	if (strlen(s) >= sizeof buf)
		die_usage("%s: '%s' is not of the form WxH", what, s);
	strcpy(buf, s);
	x = strchr(buf, 'x');
	if (!x)
		die_usage("%s: '%s' is not of the form WxH", what, s);
	*x = '\0';
	*width = (int)parse_long(buf, 1, max, what);
	*height = (int)parse_long(x + 1, 1, max, what);
}

void
cli_version(const char *kernels)
{
	printf("%s unetpipe %s", progname, UNETPIPE_VERSION);
	if (kernels)
		printf(" (kernels: %s)", kernels);
	putchar('\n');
	close_stdout();
	exit(0);
}

void
cli_other_option(int c, const char *usage_text, char **argv)
{
	switch (c) {
	case 'h':
		fputs(usage_text, stdout);
		close_stdout();
		exit(0);
	case 'V':
		cli_version(NULL);
	case ':':
		die_usage("option '%s' needs a value", argv[optind - 1]);
	default:
		if (optopt)
			die_usage("unknown option '-%c'", optopt);
		die_usage("unknown option '%s'", argv[optind - 1]);
	}
}

int
set_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void
close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int saved = errno;
		fclose(stdout);
		errno = saved;
		die("write error:");
	}
	if (fclose(stdout) != 0)
		die("write error:");
}

void
die_out_of_memory(size_t n, size_t size, const char *what)
{
	const char *f = what ? " for " : "", *w = what ? what : "";

	if (size && n > SIZE_MAX / size)
		die("out of memory (%zu x %zu bytes%s%s)", n, size, f, w);
	die("out of memory (%zu bytes%s%s)", n * size, f, w);
}

void *
xmalloc_for(size_t n, size_t size, const char *what)
{
	void *p = NULL;

	if (!size || n <= SIZE_MAX / size)
		p = malloc(n && size ? n * size : 1);
	if (!p)
		die_out_of_memory(n, size, what);
	return p;
}

void *
xmalloc(size_t size)
{
	return xmalloc_for(1, size, NULL);
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die_out_of_memory(n, size, NULL);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		die_out_of_memory(n, size, NULL);
	p = realloc(p, n && size ? n * size : 1);
	if (!p)
		die_out_of_memory(n, size, NULL);
	return p;
}

/* AddressSanitizer checks heap blocks, not mappings: under it the
 * blocks come from the heap, so that an overrun of a map is reported. */
#if defined(__SANITIZE_ADDRESS__)
void *
xmap_zeroed(size_t bytes, const char *what)
{
	void *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);

	if (!p)
		die_out_of_memory(bytes, 1, what);
	return memset(p, 0, bytes);
}

void
xunmap(void *p, size_t bytes)
{
	(void)bytes;
	free(p);
}
#else
void *
xmap_zeroed(size_t bytes, const char *what)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die_out_of_memory(bytes, 1, what);
	return p;
}

void
xunmap(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes);
}
#endif

char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

FILE *
xfopen_read(const char *path)
{
	FILE *f;

	if (strcmp(path, "-") == 0)
		return stdin;
	f = fopen(path, "rb");
	if (!f)
		die("%s:", path);
	return f;
}

long
read_line(FILE *f, const char *name, char **line, size_t *cap, size_t max,
	  long *lineno)
{
	size_t len = 0;
	int c;

	if (!*line || *cap == 0) {
		*cap = 128;
		*line = xreallocarray(*line, *cap, 1);
	}
	++*lineno;
	while ((c = getc(f)) != EOF && c != '\n') {
		if (c == '\0')
			die("%s: line %ld: holds a NUL byte", name, *lineno);
		if (len == max)
			die("%s: line %ld: longer than %zu bytes", name,
			    *lineno, max);
		if (len + 1 >= *cap) {
			*cap = 2 * *cap;
			*line = xreallocarray(*line, *cap, 1);
		}
		(*line)[len++] = (char)c;
	}
	if (ferror(f))
		die("%s: read error:", name);
	(*line)[len] = '\0';
	if (c == EOF && len == 0) {
		--*lineno;
		return -1;
	}
	return (long)len;
}

int
stderr_is_tty(void)
{
	return isatty(STDERR_FILENO);
}

size_t
utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

int
stdout_is_pipe(void)
{
	struct stat sb;

	return fstat(STDOUT_FILENO, &sb) == 0 &&
	       (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
