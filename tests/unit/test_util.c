/* util: the default worker-thread count. */
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

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_online_cpus();
	return tap_done();
}
