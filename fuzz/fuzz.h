/* fuzz.h: what every libFuzzer harness shares. The library reports bad
 * data with die(), which exits; the harnesses are linked with
 * -Wl,--wrap=exit so that an exit inside FUZZ_TRY returns to the harness
 * (a clean refusal) instead of ending the fuzzer. Files are handed to
 * path-taking readers through a memfd under /proc/self/fd. */
#ifndef UNETPIPE_FUZZ_H
#define UNETPIPE_FUZZ_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <pam.h>

static jmp_buf fuzz_jb;
static volatile int fuzz_armed;

void __real_exit(int status);

/* exit() of the code under test: back to FUZZ_TRY while armed. */
void
__wrap_exit(int status)
{
	if (fuzz_armed) {
		fuzz_armed = 0;
		longjmp(fuzz_jb, 1);
	}
	__real_exit(status);
}

/* Run stmt; died is set to 1 when it exited instead of finishing.
 * libnetpbm's error hooks, left pointing into a dead frame by a die()
 * inside pamio_write, are reset after a death. */
#define FUZZ_TRY(died, stmt) \
	do { \
		if (setjmp(fuzz_jb) == 0) { \
			fuzz_armed = 1; \
			stmt; \
			fuzz_armed = 0; \
			(died) = 0; \
		} else { \
			pm_setjmpbuf(NULL); \
			pm_setusererrormsgfn(NULL); \
			pm_setusermessagefn(NULL); \
			(died) = 1; \
		} \
	} while (0)

/* The n bytes at data as a file: a path that stays valid until the next
 * call. */
static __attribute__((unused)) const char *
fuzz_path(const uint8_t *data, size_t n)
{
	static int fd = -1;
	static char path[64];

	if (fd < 0) {
		fd = memfd_create("fuzz", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 ||
	    (n && pwrite(fd, data, n, 0) != (ssize_t)n)) {
		perror("memfd");
		abort();
	}
	return path;
}

#endif
