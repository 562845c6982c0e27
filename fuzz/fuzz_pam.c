/* fuzz_pam: a PAM/PNM stream through pamio_read, image after image; each
 * image read is written back with pamio_write and must read back the
 * same. */
#include "fuzz.h"

#include <string.h>

#include "pamio.h"
#include "util.h"

static struct pamio_reader *reader;
static struct image img, back;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	prog_init(*argc, *argv);
	return 0;
}

/* Write img and read it again: shape and samples must survive. */
static void
round_trip(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct pamio_reader *r;
	int died, got = 0;

	pamio_write(f, &img);
	fclose(f);
	r = pamio_open(fuzz_path((const uint8_t *)buf, len), PAMIO_IMAGE |
		       PAMIO_SAMPLE);
	FUZZ_TRY(died, got = pamio_read(r, &back));
	if (died || got != 1 || back.width != img.width ||
	    back.height != img.height || back.depth != img.depth ||
	    back.maxval != img.maxval ||
	    memcmp(back.data, img.data, (size_t)img.width * img.height *
		   img.depth * sizeof *img.data) != 0)
		abort();
	image_free(&back);
	pamio_close(r);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	volatile int n = 0;
	int died, got = 1;

	reader = pamio_open(fuzz_path(data, size), PAMIO_IMAGE | PAMIO_SAMPLE);
	while (got == 1 && n < 16) {
		FUZZ_TRY(died, got = pamio_read(reader, &img));
		if (died)
			break;
		if (got == 1)
			round_trip();
		image_free(&img);
		n++;
	}
	image_free(&img);
	pamio_close(reader);
	return 0;
}
