/* fuzz_sweep: a threshold-sweep report through sweep_best_threshold
 * (score, binarize and confusion-render --threshold-from). */
#include "fuzz.h"

#include "sweep.h"
#include "util.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	prog_init(*argc, *argv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	volatile double t = 0.5;
	int died;

	FUZZ_TRY(died, t = sweep_best_threshold(fuzz_path(data, size)));
	if (!died && !(t >= 0 && t <= 1))
		abort();
	return 0;
}
