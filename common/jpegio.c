#include "jpegio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "util.h"

/* libjpeg's error manager, the way back from its errors, and the first
 * message (an error, or a warning that we take for one). On the heap so
 * that nothing is indeterminate after the longjmp. */
struct ctx {
	struct jpeg_error_mgr mgr;
	jmp_buf back;
	char msg[JMSG_LENGTH_MAX];
	struct jpeg_decompress_struct d;
	unsigned char *row;
};

static void
on_error(j_common_ptr cinfo)
{
	struct ctx *c = (struct ctx *)cinfo->err;

	if (!c->msg[0])
		cinfo->err->format_message(cinfo, c->msg);
	longjmp(c->back, 1);
}

/* Warnings (level -1: corrupt or truncated data) are kept as errors;
 * trace messages are dropped. */
static void
on_message(j_common_ptr cinfo, int level)
{
	struct ctx *c = (struct ctx *)cinfo->err;

	if (level < 0 && !c->msg[0])
		cinfo->err->format_message(cinfo, c->msg);
}

int
jpegio_signature(const void *buf, size_t n)
{
	const unsigned char *b = buf;

	return n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff;
}

int
jpegio_read_file(FILE *f, struct image *img, char *err, size_t errsize)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	int status = -1, ch = getc(f);
	size_t count;

	memset(img, 0, sizeof *img);
	if (ch != 0xff) {
		snprintf(err, errsize, "%s", ferror(f) ? strerror(errno)
				       : "not a JPEG file");
		free(c);
		return -1;
	}
	ungetc(ch, f);
	c->d.err = jpeg_std_error(&c->mgr);
	c->mgr.error_exit = on_error;
	c->mgr.emit_message = on_message;
	if (setjmp(c->back)) {
		if (ferror(f))
			snprintf(err, errsize, "%s", strerror(errno));
		else
			snprintf(err, errsize, "corrupt JPEG file: %s", c->msg);
		image_free(img);
		goto out;
	}
	jpeg_create_decompress(&c->d);
	jpeg_stdio_src(&c->d, f);
	jpeg_read_header(&c->d, TRUE);
	if (c->d.jpeg_color_space == JCS_CMYK ||
	    c->d.jpeg_color_space == JCS_YCCK) {
		snprintf(err, errsize, "CMYK JPEG not supported (gray or RGB)");
		goto out;
	}
	if (c->d.image_width > IMAGE_MAX_SIDE ||
	    c->d.image_height > IMAGE_MAX_SIDE ||
	    (size_t)c->d.image_width * c->d.image_height *
			    c->d.num_components > IMAGE_MAX_SAMPLES) {
		snprintf(err, errsize, "size %ux%u beyond the limits",
			 c->d.image_width, c->d.image_height);
		goto out;
	}
	c->d.out_color_space = c->d.num_components == 1 ? JCS_GRAYSCALE
							 : JCS_RGB;
	jpeg_start_decompress(&c->d);
	image_alloc(img, (int)c->d.output_width, (int)c->d.output_height,
		    c->d.output_components, 255,
		    c->d.output_components == 1 ? "GRAYSCALE" : "RGB");
	count = (size_t)img->width * img->depth;
	c->row = xmalloc(count);
	while (c->d.output_scanline < c->d.output_height) {
		uint16_t *d = img->data + (size_t)c->d.output_scanline * count;
		JSAMPROW rows[1] = {c->row};
		jpeg_read_scanlines(&c->d, rows, 1);
		for (size_t i = 0; i < count; i++)
			d[i] = c->row[i];
	}
	jpeg_finish_decompress(&c->d);
	if (c->msg[0]) {
		snprintf(err, errsize, "corrupt JPEG file: %s", c->msg);
		image_free(img);
		goto out;
	}
	status = 0;
out:
	jpeg_destroy_decompress(&c->d);
	free(c->row);
	free(c);
	return status;
}
