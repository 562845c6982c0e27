/* util: program name, the one way to fail, strict numbers, checked output. */
#ifndef UNETPIPE_UTIL_H
#define UNETPIPE_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdnoreturn.h>

#define UNETPIPE_VERSION "0.1.0"

/* Record the program name (basename of argv[0]) for messages and set up
 * libnetpbm (pm_init) and the C locale for numbers; ignore SIGXFSZ so that
 * a write past ulimit -f fails with EFBIG. Call first in main(). */
void prog_init(int argc, char **argv);

/* The program name recorded by prog_init(). */
const char *prog_name(void);

/* Print "prog: message" to stderr; a format ending in ':' appends
 * " strerror(errno)". Exits 1 (bad data or system failure). */
noreturn void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Have die(), called on this thread, run fn once after its message and
 * before it exits: the last chance to write what is already whole, such
 * as the maps of a batch read before a bad image (NULL: nothing). */
void set_die_hook(void (*fn)(void));

/* Like die() but exits 2 (usage error) and adds no strerror. */
noreturn void die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Print "prog: message" to stderr (':' at the end appends strerror) and
 * return. */
void warn_msg(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Parse a whole decimal integer in [min, max]; anything else (junk, empty,
 * overflow) is a usage error naming `what` (usually the option). */
long parse_long(const char *s, long min, long max, const char *what);

/* Parse a whole finite number in [min, max] (C locale); anything else is a
 * usage error naming `what`. */
double parse_double(const char *s, double min, double max, const char *what);

/* 0 when s is the word first, 1 when it is second; any other s is a usage
 * error "what: first or second, not 's'". */
int parse_choice(const char *s, const char *first, const char *second,
		 const char *what);

/* Parse "WxH" with both in [1, max]; anything else is a usage error. */
void parse_size(const char *s, int max, int *width, int *height,
		const char *what);

/* The number of online processors, at least 1 and at most max: a
 * program's default worker-thread count, max its useful ceiling. */
int online_cpus(int max);

/* The common end of every filter's getopt_long switch (whose option
 * string starts with ':'): 'h' prints usage_text to stdout and exits 0,
 * 'V' prints "prog unetpipe VERSION" and exits 0, ':' (an option without
 * its value) and anything else (an unknown option) are usage errors. */
noreturn void cli_other_option(int c, const char *usage_text, char **argv);

/* Print "prog unetpipe VERSION", with " (kernels: KERNELS)" when kernels
 * is not NULL, to stdout and exit 0 (--version). */
noreturn void cli_version(const char *kernels);

/* Write the printf-formatted reason into err (errlen bytes; nothing when
 * err is NULL) and return -1: the error convention of the functions that
 * report failures instead of dying. */
int set_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Flush and close stdout; a write error (full disk, closed pipe) dies with
 * "prog: write error: ...". Call at the end of every filter that writes. */
void close_stdout(void);

/* Die "prog: out of memory (N bytes for WHAT)", N = n * size ("n x size
 * bytes" when that overflows), without " for WHAT" when what is NULL. */
noreturn void die_out_of_memory(size_t n, size_t size, const char *what);

/* malloc/calloc/realloc that die with "prog: out of memory (N bytes)"
 * (die_out_of_memory) instead of returning NULL. Sizes are checked for
 * overflow (n * size); xmalloc_for names what the memory is for. */
void *xmalloc_for(size_t n, size_t size, const char *what);
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/* bytes (> 0) of zeroed memory, page-aligned, whose pages cost nothing
 * until first touched (under AddressSanitizer a checked heap block); dies
 * like xmalloc_for, naming what. Free with xunmap and the same bytes. */
void *xmap_zeroed(size_t bytes, const char *what);

/* Free a block of xmap_zeroed (NULL: nothing). */
void xunmap(void *p, size_t bytes);

/* Open `path` for reading ("-" is stdin); dies "prog: path: strerror". */
FILE *xfopen_read(const char *path);

/* Read the next line of f (name for messages) into *line (grown as
 * getline does, *cap its size), without its '\n'. Returns its length, or
 * -1 at the end of the file. Dies "prog: NAME: line N: longer than MAX
 * bytes" (N counted by *lineno, incremented here), "prog: NAME: read
 * error: ..." and on a line holding a NUL byte: a read error or a full
 * memory is never taken for the end of the file. */
long read_line(FILE *f, const char *name, char **line, size_t *cap,
	       size_t max, long *lineno);

/* True when stderr is a terminal (progress bars go only there). */
int stderr_is_tty(void);

/* True when stdout is a pipe (or socket): another program reads it. */
int stdout_is_pipe(void);

/* The length of the string s of n bytes cut to at most max bytes, never
 * inside a UTF-8 character (n itself when n <= max). */
size_t utf8_cut(const char *s, size_t n, size_t max);

/* Seconds from a monotonic clock. */
double now_seconds(void);

#endif
