/* fuzz_model: a file through model_load; a model it accepts is run once
 * on a small zero image. */
#include "fuzz.h"

#include "model.h"
#include "unet.h"
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
	json_t *meta;
	char err[512];
	struct unet *net = model_load(fuzz_path(data, size), &meta, err,
				      sizeof err);

	if (!net) {
		if (meta)
			abort();
		return 0;
	}
	if (!json_is_object(meta))
		abort();
	json_decref(meta);
	unet_free(net);
	return 0;
}
