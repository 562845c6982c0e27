/* util: the default worker-thread count; zeroed mapped blocks. */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static void
test_online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	int want = n < 1 ? 1 : n > 64 ? 64 : (int)n;

	tap_ok(online_cpus(64) == want, "online_cpus(64): the %d online "
	       "processors (at most 64)", want);
	tap_ok(online_cpus(1) == 1, "online_cpus(1): 1");
	tap_ok(online_cpus(want) == want && (want == 1 ||
	       online_cpus(want - 1) == want - 1),
	       "online_cpus: capped at max");
}

/* Blocks of xmap_zeroed: page-aligned, zero, writable to their last
 * byte, one after the other (the freed one's pages come back zero). */
static void
test_map_zeroed(void)
{
	size_t sizes[] = { 1, 4096, 4097, (size_t)3 << 20 };

	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			size_t n = sizes[i], zero = 1;
			unsigned char *p = xmap_zeroed(n, "a test");

			for (size_t k = 0; k < n; k++)
				zero &= p[k] == 0;
			tap_ok(((uintptr_t)p & 4095) == 0 && zero,
			       "xmap_zeroed(%zu), round %d: page-aligned, "
			       "zero", n, round + 1);
			memset(p, 0xa5, n);
			xunmap(p, n);
		}
	xunmap(NULL, 10);
	tap_ok(1, "xunmap(NULL): nothing");
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_online_cpus();
	test_map_zeroed();
	return tap_done();
}
