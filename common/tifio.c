#include "tifio.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tiffio.h>

#include "util.h"

/* The stream libtiff reads or writes through our procedures, and the
 * first error it reported. */
struct io {
	FILE *f;
	char msg[200];
};

struct tifio {
	struct io io;
	TIFF *tif;
	int pages;
};

static int
on_error(TIFF *tif, void *user, const char *module, const char *fmt,
	 va_list ap)
{
	struct io *io = user;

	(void)tif;
	(void)module;
	if (!io->msg[0])
		vsnprintf(io->msg, sizeof io->msg, fmt, ap);
	return 1;
}

static int
on_warning(TIFF *tif, void *user, const char *module, const char *fmt,
	   va_list ap)
{
	(void)tif;
	(void)user;
	(void)module;
	(void)fmt;
	(void)ap;
	return 1;
}

static tmsize_t
io_read(thandle_t h, void *buf, tmsize_t n)
{
	return (tmsize_t)fread(buf, 1, (size_t)n, ((struct io *)h)->f);
}

static tmsize_t
io_write(thandle_t h, void *buf, tmsize_t n)
{
	return (tmsize_t)fwrite(buf, 1, (size_t)n, ((struct io *)h)->f);
}

static toff_t
io_seek(thandle_t h, toff_t off, int whence)
{
	FILE *f = ((struct io *)h)->f;

	if (off > INT64_MAX || fseeko(f, (off_t)off, whence) != 0)
		return (toff_t)-1;
	return (toff_t)ftello(f);
}

static int
io_close(thandle_t h)
{
	(void)h;
	return 0;
}

static toff_t
io_size(thandle_t h)
{
	struct stat st;

	if (fstat(fileno(((struct io *)h)->f), &st) != 0)
		return 0;
	return (toff_t)st.st_size;
}

static int
io_map(thandle_t h, void **base, toff_t *size)
{
	(void)h;
	(void)base;
	(void)size;
	return 0;
}

static void
io_unmap(thandle_t h, void *base, toff_t size)
{
	(void)h;
	(void)base;
	(void)size;
}

/* libtiff on io, mode "r" or "w", its messages into io->msg; no single
 * allocation above what the largest image needs. */
static TIFF *
open_tiff(struct io *io, const char *mode)
{
	TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
	TIFF *tif;

	if (!o)
		die("out of memory (libtiff)");
	TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, io);
	TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, io);
	TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)IMAGE_MAX_SAMPLES * 8);
	tif = TIFFClientOpenExt("TIFF", mode, io, io_read, io_write, io_seek,
				io_close, io_size, io_map, io_unmap, o);
	TIFFOpenOptionsFree(o);
	return tif;
}

int
tifio_signature(const void *buf, size_t n)
{
	const unsigned char *b = buf;

	if (n < 4)
		return 0;
	if (b[0] == 'I' && b[1] == 'I')
		return b[3] == 0 && (b[2] == 42 || b[2] == 43);
	if (b[0] == 'M' && b[1] == 'M')
		return b[2] == 0 && (b[3] == 42 || b[3] == 43);
	return 0;
}

/* The integer value of attribute name (name="N") in the XML element
 * starting at elem, 1 when it is absent. */
static long
xml_attr(const char *elem, const char *name)
{
	const char *end = strchr(elem, '>');
	size_t len = strlen(name);

	for (const char *p = strstr(elem, name); p && (!end || p < end);
	     p = strstr(p + 1, name))
		if (p[-1] == ' ' && strncmp(p + len, "=\"", 2) == 0)
			return strtol(p + len + 2, NULL, 10);
	return 1;
}

/* The integer value of line "key=N" of an ImageJ description, 1 when
 * absent. */
static long
imagej_field(const char *desc, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = desc; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, len) == 0 && p[len] == '=')
			return strtol(p + len + 1, NULL, 10);
	}
	return 1;
}

/* 0 when the first page's description (OME-XML or ImageJ's) shows pages
 * that are images of one series along one axis at most; else -1 with the
 * reason in err. */
static int
check_stack(TIFF *tif, char *err, size_t errsize)
{
	const char *desc = NULL, *pixels;
	long z, c, t;
	int images = 0;

	if (!TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) || !desc)
		return 0;
	if (strstr(desc, "<OME") && (pixels = strstr(desc, "<Pixels "))) {
		z = xml_attr(pixels, "SizeZ");
		c = xml_attr(pixels, "SizeC");
		t = xml_attr(pixels, "SizeT");
		for (const char *p = strstr(desc, "<Image "); p;
		     p = strstr(p + 1, "<Image "))
			images++;
		if (images > 1) {
			snprintf(err, errsize, "OME-TIFF of %d series: only "
				 "one is read (save each as its own file)",
				 images);
			return -1;
		}
	} else if (strncmp(desc, "ImageJ=", 7) == 0) {
		z = imagej_field(desc, "slices");
		c = imagej_field(desc, "channels");
		t = imagej_field(desc, "frames");
	} else {
		return 0;
	}
	if ((z > 1) + (c > 1) + (t > 1) > 1) {
		snprintf(err, errsize, "a %d-D stack (Z %ld, C %ld, T %ld): "
			 "only a stack along one of Z, C or T is read, each "
			 "page an image (save one stack per file)",
			 2 + (z > 1) + (c > 1) + (t > 1), z, c, t);
		return -1;
	}
	return 0;
}

struct tifio *
tifio_open(FILE *f, char *err, size_t errsize)
{
	struct tifio *t = xcalloc(1, sizeof *t);
	unsigned char sig[4];
	size_t n;

	t->io.f = f;
	if (fseeko(f, 0, SEEK_SET) != 0) {
		snprintf(err, errsize, "a TIFF is read from a regular file, "
			 "not a stream");
		goto fail;
	}
	n = fread(sig, 1, sizeof sig, f);
	if (!tifio_signature(sig, n)) {
		snprintf(err, errsize, "%s", ferror(f) ? strerror(errno)
				       : "not a TIFF file");
		goto fail;
	}
	if (fseeko(f, 0, SEEK_SET) != 0) {
		snprintf(err, errsize, "%s", strerror(errno));
		goto fail;
	}
	t->tif = open_tiff(&t->io, "rm");
	if (!t->tif) {
		if (ferror(f))
			snprintf(err, errsize, "%s", strerror(errno));
		else if (feof(f))
			snprintf(err, errsize, "truncated TIFF file");
		else
			snprintf(err, errsize, "corrupt TIFF file: %s",
				 t->io.msg);
		goto fail;
	}
	t->pages = (int)TIFFNumberOfDirectories(t->tif);
	if (t->pages < 1 || !TIFFSetDirectory(t->tif, 0)) {
		snprintf(err, errsize, "corrupt TIFF file: %s",
			 t->io.msg[0] ? t->io.msg : "no image");
		goto fail;
	}
	if (check_stack(t->tif, err, errsize) != 0)
		goto fail;
	return t;
fail:
	tifio_close(t);
	return NULL;
}

int
tifio_pages(const struct tifio *t)
{
	return t->pages;
}

void
tifio_close(struct tifio *t)
{
	if (t && t->tif)
		TIFFClose(t->tif);
	free(t);
}

/* The layout of one page. */
struct page {
	uint32_t w, h;
	uint16_t spp, bps, format, photometric, planar;
	int colors;        /* 1 (gray or palette index) or 3 (RGB) */
	int planes;        /* spp when planar, else 1 */
	int nsamp;         /* samples per pixel in one plane's rows */
	size_t rowbytes;   /* bytes of one row of one plane */
	uint16_t *cmap[3]; /* a palette's colors (libtiff's) */
};

static const char *
photometric_name(int p)
{
	switch (p) {
	case PHOTOMETRIC_SEPARATED: return "CMYK";
	case PHOTOMETRIC_YCBCR: return "YCbCr (not JPEG-compressed)";
	case PHOTOMETRIC_CIELAB:
	case PHOTOMETRIC_ICCLAB:
	case PHOTOMETRIC_ITULAB: return "Lab";
	case PHOTOMETRIC_MASK: return "transparency mask";
	default: return NULL;
	}
}

/* The colour space of the current page: pg->photometric (JPEG-compressed
 * YCbCr decoded as RGB), pg->colors and a palette's colours; 0, or -1
 * with what is not supported in err. */
static int
page_colors(TIFF *tif, struct page *pg, char *err, size_t errsize)
{
	const char *name;
	uint16_t compression;

	TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
	if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &pg->photometric))
		pg->photometric = pg->spp >= 3 ? PHOTOMETRIC_RGB
					       : PHOTOMETRIC_MINISBLACK;
	if (pg->photometric == PHOTOMETRIC_YCBCR &&
	    compression == COMPRESSION_JPEG) {
		TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
		pg->photometric = PHOTOMETRIC_RGB;
	}
	switch (pg->photometric) {
	case PHOTOMETRIC_MINISBLACK:
	case PHOTOMETRIC_MINISWHITE:
		pg->colors = 1;
		break;
	case PHOTOMETRIC_PALETTE:
		pg->colors = 1;
		if (pg->format != SAMPLEFORMAT_UINT || pg->bps > 8 ||
		    !TIFFGetField(tif, TIFFTAG_COLORMAP, &pg->cmap[0],
				  &pg->cmap[1], &pg->cmap[2])) {
			snprintf(err, errsize, "unsupported TIFF palette");
			return -1;
		}
		break;
	case PHOTOMETRIC_RGB:
		pg->colors = 3;
		break;
	default:
		name = photometric_name(pg->photometric);
		if (name)
			snprintf(err, errsize, "%s TIFF not supported "
				 "(gray, RGB or a palette)", name);
		else
			snprintf(err, errsize, "TIFF photometric "
				 "interpretation %d not supported (gray, RGB "
				 "or a palette)", pg->photometric);
		return -1;
	}
	return 0;
}

/* Read the tags of the current page into pg: 0, or -1 with what is not
 * supported in err. */
static int
page_layout(TIFF *tif, struct page *pg, char *err, size_t errsize)
{
	memset(pg, 0, sizeof *pg);
	if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &pg->w) ||
	    !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &pg->h)) {
		snprintf(err, errsize, "corrupt TIFF file: no image size");
		return -1;
	}
	TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &pg->spp);
	TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &pg->bps);
	TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &pg->format);
	TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &pg->planar);
	if (page_colors(tif, pg, err, errsize) != 0)
		return -1;
	if (pg->spp < pg->colors || pg->spp > pg->colors + 1) {
		snprintf(err, errsize, "%u samples per pixel for %s: not "
			 "supported (gray or RGB, and one extra sample at "
			 "most)", pg->spp, pg->colors == 3 ? "RGB" : "gray");
		return -1;
	}
	if (!(pg->format == SAMPLEFORMAT_UINT &&
	      (pg->bps == 1 || pg->bps == 2 || pg->bps == 4 || pg->bps == 8 ||
	       pg->bps == 16)) &&
	    !(pg->format == SAMPLEFORMAT_IEEEFP && pg->bps == 32)) {
		snprintf(err, errsize, "%u-bit %s TIFF samples not supported "
			 "(unsigned 1, 2, 4, 8 or 16 bits, or 32-bit float)",
			 pg->bps, pg->format == SAMPLEFORMAT_INT ? "signed"
				: pg->format == SAMPLEFORMAT_IEEEFP ? "float"
				: pg->format == SAMPLEFORMAT_UINT ? "unsigned"
				: "complex or untyped");
		return -1;
	}
	if (pg->w < 1 || pg->h < 1 || pg->w > IMAGE_MAX_SIDE ||
	    pg->h > IMAGE_MAX_SIDE ||
	    (size_t)pg->w * pg->h * (pg->colors == 3 || pg->cmap[0] ? 3 : 1) >
		    IMAGE_MAX_SAMPLES) {
		snprintf(err, errsize, "size %ux%u beyond the limits", pg->w,
			 pg->h);
		return -1;
	}
	pg->planes = pg->planar == PLANARCONFIG_SEPARATE ? pg->spp : 1;
	pg->nsamp = pg->planes > 1 ? 1 : pg->spp;
	pg->rowbytes = ((size_t)pg->w * pg->nsamp * pg->bps + 7) / 8;
	if ((uint64_t)TIFFScanlineSize64(tif) != pg->rowbytes) {
		snprintf(err, errsize, "unsupported TIFF layout");
		return -1;
	}
	return 0;
}

/* Decode every strip of the page into raw: plane p's row y at
 * (p * h + y) * rowbytes. 0, or -1 (libtiff's message in io). */
static int
read_strips(TIFF *tif, const struct page *pg, unsigned char *raw)
{
	uint32_t rps;

	TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
	if (rps < 1 || rps > pg->h)
		rps = pg->h;
	for (int p = 0; p < pg->planes; p++)
		for (uint32_t y = 0; y < pg->h; y += rps) {
			uint32_t rows = pg->h - y < rps ? pg->h - y : rps;
			tmsize_t want = (tmsize_t)(rows * pg->rowbytes);
			unsigned char *dst =
				raw + ((size_t)p * pg->h + y) * pg->rowbytes;
			if (TIFFReadEncodedStrip(tif,
						 TIFFComputeStrip(tif, y,
								  (uint16_t)p),
						 dst, want) != want)
				return -1;
		}
	return 0;
}

/* Decode every tile of the page into raw, laid out as read_strips'. */
static int
read_tiles(TIFF *tif, const struct page *pg, unsigned char *raw)
{
	uint32_t tw = 0, th = 0;
	size_t tilerow = (size_t)TIFFTileRowSize64(tif);
	tmsize_t size = TIFFTileSize(tif);
	unsigned char *buf;
	int status = 0;

	TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
	TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
	if (tw < 1 || th < 1 || size <= 0 ||
	    tilerow != ((size_t)tw * pg->nsamp * pg->bps + 7) / 8 ||
	    (size_t)tw * pg->nsamp * pg->bps % 8 != 0)
		return -1;
	buf = xmalloc((size_t)size);
	for (int p = 0; p < pg->planes && !status; p++)
		for (uint32_t ty = 0; ty < pg->h && !status; ty += th)
			for (uint32_t tx = 0; tx < pg->w; tx += tw) {
				size_t off = (size_t)tx * pg->nsamp * pg->bps / 8;
				size_t n = pg->rowbytes - off < tilerow
						   ? pg->rowbytes - off : tilerow;
				ttile_t tile = TIFFComputeTile(tif, tx, ty, 0,
							       (uint16_t)p);
				if (TIFFReadEncodedTile(tif, tile, buf, size) < 0) {
					status = -1;
					break;
				}
				for (uint32_t y = ty; y < pg->h && y < ty + th; y++)
					memcpy(raw + ((size_t)p * pg->h + y) *
							     pg->rowbytes + off,
					       buf + (size_t)(y - ty) * tilerow, n);
			}
	free(buf);
	return status;
}

/* Sample c of pixel (x, y) of the raw page as a number. */
static double
sample_at(const struct page *pg, const unsigned char *raw, uint32_t x,
	  uint32_t y, int c)
{
	const unsigned char *row;
	size_t i;

	if (pg->planes > 1) {
		row = raw + ((size_t)c * pg->h + y) * pg->rowbytes;
		i = x;
	} else {
		row = raw + (size_t)y * pg->rowbytes;
		i = (size_t)x * pg->nsamp + c;
	}
	switch (pg->bps) {
	case 8:
		return row[i];
	case 16: {
		uint16_t v;
		memcpy(&v, row + 2 * i, sizeof v);
		return v;
	}
	case 32: {
		float v;
		memcpy(&v, row + 4 * i, sizeof v);
		return v;
	}
	default: {
		size_t bit = i * pg->bps;
		return (row[bit / 8] >> (8 - pg->bps - bit % 8)) &
		       ((1u << pg->bps) - 1);
	}
	}
}

/* The float rule of tifio_read: *lo and *scale such that a sample v
 * becomes (v - lo) * scale in 0..65535; -1 on a NaN or an infinity. */
static int
float_range(const struct page *pg, const unsigned char *raw, double *lo,
	    double *scale)
{
	double min = INFINITY, max = -INFINITY;

	for (uint32_t y = 0; y < pg->h; y++)
		for (uint32_t x = 0; x < pg->w; x++)
			for (int c = 0; c < pg->colors; c++) {
				double v = sample_at(pg, raw, x, y, c);
				if (!isfinite(v))
					return -1;
				min = v < min ? v : min;
				max = v > max ? v : max;
			}
	if (min >= 0 && max <= 1) {
		*lo = 0;
		*scale = 65535;
	} else {
		*lo = min;
		*scale = max > min ? 65535 / (max - min) : 0;
	}
	return 0;
}

/* Convert the raw page into img as tifio_read says. 0, or -1 with err. */
static int
convert(const struct page *pg, const unsigned char *raw, struct image *img,
	char *err, size_t errsize)
{
	int fp = pg->format == SAMPLEFORMAT_IEEEFP;
	int depth = pg->colors == 3 || pg->cmap[0] ? 3 : 1;
	unsigned top = fp ? 0 : (1u << pg->bps) - 1;
	unsigned maxval = fp || pg->bps == 16 ? 65535 : 255;
	int invert = pg->photometric == PHOTOMETRIC_MINISWHITE;
	double lo = 0, scale = 1;
	uint16_t *d;

	if (fp && float_range(pg, raw, &lo, &scale) != 0) {
		snprintf(err, errsize, "a float sample is NaN or infinite");
		return -1;
	}
	image_alloc(img, (int)pg->w, (int)pg->h, depth, maxval,
		    depth == 3 ? "RGB" : "GRAYSCALE");
	d = img->data;
	for (uint32_t y = 0; y < pg->h; y++)
		for (uint32_t x = 0; x < pg->w; x++) {
			if (pg->cmap[0]) {
				unsigned i = (unsigned)sample_at(pg, raw, x, y, 0);
				for (int c = 0; c < 3; c++)
					*d++ = pg->cmap[c][i] >> 8;
				continue;
			}
			for (int c = 0; c < pg->colors; c++) {
				double v = sample_at(pg, raw, x, y, c);
				unsigned u;
				if (fp)
					u = (unsigned)lround((v - lo) * scale);
				else if (pg->bps < 8)
					u = ((unsigned)v * 255 + top / 2) / top;
				else
					u = (unsigned)v;
				*d++ = (uint16_t)(invert ? maxval - u : u);
			}
		}
	return 0;
}

int
tifio_read(struct tifio *t, int k, struct image *img, char *err,
	   size_t errsize)
{
	struct page pg;
	unsigned char *raw;
	int status;

	memset(img, 0, sizeof *img);
	t->io.msg[0] = '\0';
	if (k < 0 || k >= t->pages || !TIFFSetDirectory(t->tif, (tdir_t)k)) {
		snprintf(err, errsize, "corrupt TIFF file: %s",
			 t->io.msg[0] ? t->io.msg : "no such page");
		return -1;
	}
	if (page_layout(t->tif, &pg, err, errsize) != 0)
		return -1;
	raw = xmalloc((size_t)pg.planes * pg.h * pg.rowbytes);
	status = TIFFIsTiled(t->tif) ? read_tiles(t->tif, &pg, raw)
				     : read_strips(t->tif, &pg, raw);
	if (status != 0) {
		if (ferror(t->io.f))
			snprintf(err, errsize, "%s", strerror(errno));
		else
			snprintf(err, errsize, "corrupt or truncated TIFF "
				 "file: %s", t->io.msg[0] ? t->io.msg
							  : "unreadable data");
	} else {
		status = convert(&pg, raw, img, err, errsize);
	}
	free(raw);
	return status;
}

/* Write the tags and rows of img to tif as tifio_write says. */
static int
write_page(TIFF *tif, const struct image *img, uint16_t *row)
{
	int label = image_is_label(img);
	int wide = img->maxval > 255 || label;
	unsigned target = wide ? 65535 : 255;
	size_t row_samples = (size_t)img->width * img->depth;
	uint16_t extra = EXTRASAMPLE_UNASSALPHA;
	unsigned char *row8 = (unsigned char *)row;

	TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width);
	TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)img->height);
	TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)img->depth);
	TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(wide ? 16 : 8));
	TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_UINT);
	TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, img->depth >= 3
			     ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
	if (img->depth == 2 || img->depth == 4)
		TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
	TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_LZW);
	TIFFSetField(tif, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
	TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
	for (int y = 0; y < img->height; y++) {
		const uint16_t *in = img->data + (size_t)y * row_samples;
		for (size_t i = 0; i < row_samples; i++) {
			unsigned v = image_file_sample(img, label, in[i],
						       target);
			if (wide)
				row[i] = (uint16_t)v;
			else
				row8[i] = (unsigned char)v;
		}
		if (TIFFWriteScanline(tif, row, (uint32_t)y, 0) < 0)
			return -1;
	}
	return TIFFWriteDirectory(tif) ? 0 : -1;
}

int
tifio_write(FILE *f, const struct image *img, char *err, size_t errsize)
{
	struct io io = {f, ""};
	TIFF *tif;
	uint16_t *row;
	int status;

	if (img->depth < 1 || img->depth > 4) {
		snprintf(err, errsize, "depth %d cannot be written as TIFF",
			 img->depth);
		return -1;
	}
	tif = open_tiff(&io, "w");
	if (!tif) {
		snprintf(err, errsize, "%s", io.msg[0] ? io.msg : "libtiff");
		return -1;
	}
	row = xmalloc((size_t)img->width * img->depth * sizeof *row);
	status = write_page(tif, img, row);
	TIFFClose(tif);
	free(row);
	if (status == 0 && (fflush(f) != 0 || ferror(f)))
		status = -1;
	if (status != 0) {
		if (ferror(f) && errno)
			snprintf(err, errsize, "%s", strerror(errno));
		else
			snprintf(err, errsize, "%s",
				 io.msg[0] ? io.msg : "write error");
	}
	return status;
}
