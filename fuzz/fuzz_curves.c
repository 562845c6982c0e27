/* fuzz_curves: a unet-train log through train-curves' parser, diagnosis
 * and drawing (the filter's own code, its main renamed). */
#define main train_curves_main
#include "../filters/train-curves.c"
#undef main

#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	prog_init(*argc, *argv);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log log;
	struct rules rules = {3, 0.02, 0.10, 0.10};
	struct diagnosis d;
	struct image img;
	FILE *f;
	int died;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	FUZZ_TRY(died, read_log(f, "log", &log));
	fclose(f);
	if (died) {
		free(log.e);
		memset(&log, 0, sizeof log);
		return 0;
	}
	diagnose(&log, &rules, &d);
	render(&img, 320, 400, &log, "fuzz", 1, d.best);
	image_free(&img);
	free(log.e);
	memset(&log, 0, sizeof log);
	return 0;
}
