/* fuzz_safetensors: a file through st_read; a file it accepts must hold
 * what it promised. */
#include "fuzz.h"

#include "safetensors.h"
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
	struct st_file f;
	char err[512];
	float sum = 0;

	if (st_read(fuzz_path(data, size), &f, err, sizeof err) < 0)
		return 0;
	if (!f.metadata)
		abort();
	for (size_t i = 0; i < f.ntensors; i++) {
		const struct st_tensor *t = &f.tensors[i];
		if (st_find(&f, t->name) != t)
			abort();
		for (size_t k = 0; k < t->count; k++)
			sum += t->data[k];
	}
	st_free(&f);
	if (sum != sum && sum == sum)
		abort(); /* keeps the reads */
	return 0;
}
