#include "pngio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "outfile.h"
#include "util.h"

/* State shared with libpng's callbacks; on the heap so that it is not
 * indeterminate after the longjmp of an error. */
struct ctx {
	char msg[256];
	unsigned char *raster;
	png_bytep *rows;
};

static void
on_error(png_structp png, png_const_charp msg)
{
	struct ctx *c = png_get_error_ptr(png);

	snprintf(c->msg, sizeof c->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void
on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

/* Palettes to RGB, low gray depths to 8 bits, transparency to alpha or
 * dropped as flags say. */
static void
set_transforms(png_structp png, png_infop info, int color, int bit_depth,
	       int flags)
{
	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (color == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS)) {
		if (flags & PNGIO_KEEP_ALPHA)
			png_set_tRNS_to_alpha(png);
		else
			png_set_strip_alpha(png);
	}
	if ((color & PNG_COLOR_MASK_ALPHA) && !(flags & PNGIO_KEEP_ALPHA))
		png_set_strip_alpha(png);
}

/* Read the 8-byte signature: 1 when it is a PNG's, else 0 with the reason
 * in err. */
static int
read_signature(FILE *f, char *err, size_t errsize)
{
	unsigned char sig[8];
	size_t n = fread(sig, 1, sizeof sig, f);

	if (pngio_signature(sig, n))
		return 1;
	if (ferror(f))
		snprintf(err, errsize, "%s", strerror(errno));
	else
		snprintf(err, errsize, "not a PNG file");
	return 0;
}

/* A libpng reader reporting to c, and its info struct. */
static png_structp
new_reader(struct ctx *c, png_infop *info)
{
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c,
						 on_error, on_warning);

	if (!png)
		die("out of memory (libpng)");
	*info = png_create_info_struct(png);
	if (!*info)
		die("out of memory (libpng)");
	return png;
}

/* The reason a read failed after libpng's longjmp. */
static void
read_error(FILE *f, const struct ctx *c, char *err, size_t errsize)
{
	if (ferror(f))
		snprintf(err, errsize, "%s", strerror(errno));
	else if (feof(f))
		snprintf(err, errsize, "truncated PNG file");
	else
		snprintf(err, errsize, "corrupt PNG file: %s", c->msg);
}

/* Read the header of f (signature already read) into info. */
static void
start_reading(png_structp png, png_infop info, FILE *f)
{
	png_init_io(png, f);
	/* Every chunk's CRC is still checked, which covers the compressed
	 * data too; zlib's second checksum costs a tenth of the time. */
	png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* The fuzzer (make fuzz) could hardly ever get past a CRC. */
	png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
	png_set_sig_bytes(png, 8);
	png_read_info(png, info);
}

int
pngio_signature(const void *buf, size_t n)
{
	return n >= 8 && png_sig_cmp(buf, 0, 8) == 0;
}

int
pngio_read_file(FILE *f, struct image *img, int flags, char *err,
		size_t errsize)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	png_structp png;
	png_infop info;
	png_uint_32 w, h;
	int bit_depth, color, depth, bps, status = -1;
	size_t rowbytes;

	memset(img, 0, sizeof *img);
	if (!read_signature(f, err, errsize)) {
		free(c);
		return -1;
	}
	png = new_reader(c, &info);
	if (setjmp(png_jmpbuf(png))) {
		read_error(f, c, err, errsize);
		goto out;
	}
	start_reading(png, info, f);
	png_get_IHDR(png, info, &w, &h, &bit_depth, &color, NULL, NULL, NULL);

	set_transforms(png, info, color, bit_depth, flags);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);

	depth = png_get_channels(png, info);
	bit_depth = png_get_bit_depth(png, info);
	bps = bit_depth == 16 ? 2 : 1;
	if (w > IMAGE_MAX_SIDE || h > IMAGE_MAX_SIDE ||
	    (size_t)w * h * depth > IMAGE_MAX_SAMPLES) {
		snprintf(err, errsize, "size %ux%u beyond the limits", w, h);
		goto out;
	}
	rowbytes = png_get_rowbytes(png, info);
	if (rowbytes != (size_t)w * depth * bps) {
		snprintf(err, errsize, "unsupported PNG layout");
		goto out;
	}
	c->raster = xmalloc(rowbytes * h);
	c->rows = xmalloc(sizeof(png_bytep) * h);
	for (png_uint_32 y = 0; y < h; y++)
		c->rows[y] = c->raster + rowbytes * y;
	png_read_image(png, c->rows);
	png_read_end(png, NULL);

	{
		static const char *types[2][4] = {
			{"GRAYSCALE", "GRAYSCALE", "RGB", "RGB"},
			{"GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"},
		};
		size_t count = (size_t)w * h * depth;
		const unsigned char *b = c->raster;

		image_alloc(img, (int)w, (int)h, depth, bps == 2 ? 65535 : 255,
			    types[(flags & PNGIO_KEEP_ALPHA) != 0][depth - 1]);
		if (bps == 1)
			for (size_t i = 0; i < count; i++)
				img->data[i] = b[i];
		else
			for (size_t i = 0; i < count; i++)
				img->data[i] = (uint16_t)(b[2 * i] << 8 |
							  b[2 * i + 1]);
	}
	status = 0;
out:
	png_destroy_read_struct(&png, &info, NULL);
	free(c->raster);
	free(c->rows);
	free(c);
	return status;
}

int
pngio_read(const char *path, struct image *img, int flags, char *err,
	   size_t errsize)
{
	FILE *f = fopen_regular(path, err, errsize);
	int status;

	if (!f) {
		memset(img, 0, sizeof *img);
		return -1;
	}
	status = pngio_read_file(f, img, flags, err, errsize);
	fclose(f);
	return status;
}

/* Paint the foreground of one decoded row (any channel > half) with
 * value where out is still 0. */
static void
paint_row(uint16_t *out, uint16_t value, const unsigned char *row, int width,
	  int depth, int bps)
{
	if (bps == 1 && depth == 1) {
		for (int x = 0; x < width; x++)
			if (row[x] > 127 && !out[x])
				out[x] = value;
		return;
	}
	for (int x = 0; x < width; x++) {
		int fg = 0;
		for (int c = 0; c < depth; c++)
			fg |= row[bps * (x * depth + c)] > 127;
		if (fg && !out[x])
			out[x] = value;
	}
}

int
pngio_paint_mask(const char *path, int width, int height, uint16_t *out,
		 uint16_t value, int *mask_width, int *mask_height, char *err,
		 size_t errsize)
{
	struct ctx *c;
	FILE *f = fopen_regular(path, err, errsize);
	png_structp png;
	png_infop info;
	png_uint_32 w, h;
	int bit_depth, color, interlace, depth, bps, status = -1;

	if (!f)
		return -1;
	if (!read_signature(f, err, errsize)) {
		fclose(f);
		return -1;
	}
	c = xcalloc(1, sizeof *c);
	png = new_reader(c, &info);
	if (setjmp(png_jmpbuf(png))) {
		read_error(f, c, err, errsize);
		goto out;
	}
	start_reading(png, info, f);
	png_get_IHDR(png, info, &w, &h, &bit_depth, &color, &interlace, NULL,
		     NULL);
	*mask_width = (int)(w > INT32_MAX ? INT32_MAX : w);
	*mask_height = (int)(h > INT32_MAX ? INT32_MAX : h);
	if (w != (png_uint_32)width || h != (png_uint_32)height) {
		status = -2;
		goto out;
	}
	set_transforms(png, info, color, bit_depth, 0);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	depth = png_get_channels(png, info);
	bps = png_get_bit_depth(png, info) == 16 ? 2 : 1;
	if (png_get_rowbytes(png, info) != (size_t)w * depth * bps) {
		snprintf(err, errsize, "unsupported PNG layout");
		goto out;
	}
	if (interlace != PNG_INTERLACE_NONE) {
		/* The passes need the whole image in memory. */
		c->raster = xmalloc((size_t)w * depth * bps * h);
		c->rows = xmalloc(sizeof(png_bytep) * h);
		for (png_uint_32 y = 0; y < h; y++)
			c->rows[y] = c->raster + (size_t)w * depth * bps * y;
		png_read_image(png, c->rows);
		for (png_uint_32 y = 0; y < h; y++)
			paint_row(out + (size_t)y * w, value, c->rows[y],
				  (int)w, depth, bps);
	} else {
		c->raster = xmalloc((size_t)w * depth * bps);
		for (png_uint_32 y = 0; y < h; y++) {
			png_read_row(png, c->raster, NULL);
			paint_row(out + (size_t)y * w, value, c->raster,
				  (int)w, depth, bps);
		}
	}
	png_read_end(png, NULL);
	status = 0;
out:
	png_destroy_read_struct(&png, &info, NULL);
	free(c->raster);
	free(c->rows);
	free(c);
	fclose(f);
	return status;
}

int
pngio_write(FILE *f, const struct image *img, char *err, size_t errsize)
{
	struct ctx *c = xcalloc(1, sizeof *c);
	png_structp png;
	png_infop info;
	int label = image_is_label(img);
	int wide = img->maxval > 255 || label, status = -1;
	unsigned target = wide ? 65535 : 255;
	size_t row_samples = (size_t)img->width * img->depth;
	int color;

	switch (img->depth) {
	case 1: color = PNG_COLOR_TYPE_GRAY; break;
	case 2: color = PNG_COLOR_TYPE_GRAY_ALPHA; break;
	case 3: color = PNG_COLOR_TYPE_RGB; break;
	case 4: color = PNG_COLOR_TYPE_RGB_ALPHA; break;
	default:
		snprintf(err, errsize, "depth %d cannot be written as PNG",
			 img->depth);
		free(c);
		return -1;
	}
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error,
				      on_warning);
	info = png ? png_create_info_struct(png) : NULL;
	if (!info) {
		snprintf(err, errsize, "out of memory");
		png_destroy_write_struct(&png, NULL);
		free(c);
		return -1;
	}
	c->raster = xmalloc(row_samples * (wide ? 2 : 1));
	if (setjmp(png_jmpbuf(png))) {
		/* libpng's fwrite callback fails with "Write Error"; the
		 * stream's errno says why. */
		if (ferror(f) && errno)
			snprintf(err, errsize, "%s", strerror(errno));
		else
			snprintf(err, errsize, "%s",
				 c->msg[0] ? c->msg : "write error");
		goto done;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)img->width,
		     (png_uint_32)img->height, wide ? 16 : 8, color,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < img->height; y++) {
		const uint16_t *in = img->data + (size_t)y * row_samples;
		for (size_t i = 0; i < row_samples; i++) {
			unsigned v = image_file_sample(img, label, in[i],
						       target);
			if (wide) {
				c->raster[2 * i] = (unsigned char)(v >> 8);
				c->raster[2 * i + 1] = (unsigned char)v;
			} else {
				c->raster[i] = (unsigned char)v;
			}
		}
		png_write_row(png, c->raster);
	}
	png_write_end(png, NULL);
	if (fflush(f) != 0 || ferror(f)) {
		snprintf(err, errsize, "%s", strerror(errno));
		goto done;
	}
	status = 0;
done:
	png_destroy_write_struct(&png, &info);
	free(c->raster);
	free(c);
	return status;
}
