/* fuzz_curves: a unet-train log through common/curves: the parser, the
 * diagnosis and the drawing train-curves does. */
#include "fuzz.h"

#include "curves.h"
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
	static struct curves_log log;
	struct curves_diagnosis d;
	struct image img;
	FILE *f;
	int died;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	FUZZ_TRY(died, curves_read(f, "log", &log));
	fclose(f);
	if (died) {
		curves_free(&log);
		return 0;
	}
	curves_diagnose(&log, &curves_default_rules, &d);
	curves_render(&img, 320, 400, &log, "fuzz", 1, d.best);
	image_free(&img);
	curves_free(&log);
	return 0;
}
