/* fuzz_png: a PNG file through pngio_read_file (with and without the alpha
 * channel) and, when it reads, through pngio_paint_mask at its own size. */
#include "fuzz.h"

#include <string.h>

#include "pngio.h"
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
	struct image img;
	char err[256];
	FILE *f;
	int rc;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "rb");
	if (!f)
		abort();
	rc = pngio_read_file(f, &img, size & 1 ? PNGIO_KEEP_ALPHA : 0, err,
			     sizeof err);
	fclose(f);
	if (rc != 0) {
		if (img.data || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if ((size_t)img.width * img.height <= (1u << 22)) {
		uint16_t *mask = calloc((size_t)img.width * img.height,
					sizeof *mask);
		int mw, mh;

		rc = pngio_paint_mask(fuzz_path(data, size), img.width,
				      img.height, mask, 7, &mw, &mh, err,
				      sizeof err);
		if (rc == -2)
			abort(); /* the same file cannot change size */
		free(mask);
	}
	image_free(&img);
	return 0;
}
