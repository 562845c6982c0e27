/* test_tifio: TIFF files made here with libtiff (gray, RGB, extra
 * samples, 1 to 16 bits, floats, strips and tiles, planar, pages, OME and
 * ImageJ descriptions) read by tifio and imgfile; tifio_write read back;
 * the refusals, each one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "imgfile.h"
#include "tap.h"
#include "tifio.h"
#include "util.h"

/* One page to write: samples row-major, a plane after the other when
 * planar, in the machine's byte order. */
struct spec {
	uint32_t w, h;
	uint16_t spp, bps, format, photometric, planar;
	uint32_t tile;     /* tile side (a multiple of 16), 0 for strips */
	uint32_t rps;      /* rows per strip, 0 for libtiff's default */
	uint16_t compression;
	const char *desc;  /* ImageDescription, or NULL */
	const void *data;
};

static void
set_tags(TIFF *tif, const struct spec *s)
{
	TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, s->w);
	TIFFSetField(tif, TIFFTAG_IMAGELENGTH, s->h);
	TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
	TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, s->bps);
	TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
		     s->format ? s->format : SAMPLEFORMAT_UINT);
	TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, s->photometric);
	TIFFSetField(tif, TIFFTAG_PLANARCONFIG,
		     s->planar ? s->planar : PLANARCONFIG_CONTIG);
	TIFFSetField(tif, TIFFTAG_COMPRESSION,
		     s->compression ? s->compression : COMPRESSION_NONE);
	if (s->photometric == PHOTOMETRIC_MINISBLACK && s->spp == 2) {
		uint16_t extra = EXTRASAMPLE_UNASSALPHA;
		TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
	}
	if (s->photometric == PHOTOMETRIC_RGB && s->spp == 4) {
		uint16_t extra = EXTRASAMPLE_ASSOCALPHA;
		TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
	}
	if (s->desc)
		TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, s->desc);
	if (s->tile) {
		TIFFSetField(tif, TIFFTAG_TILEWIDTH, s->tile);
		TIFFSetField(tif, TIFFTAG_TILELENGTH, s->tile);
	} else {
		TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP,
			     s->rps ? s->rps : TIFFDefaultStripSize(tif, 0));
	}
}

/* Bytes of one row of one plane of s. */
static size_t
row_bytes(const struct spec *s)
{
	int nsamp = s->planar == PLANARCONFIG_SEPARATE ? 1 : s->spp;

	return ((size_t)s->w * nsamp * s->bps + 7) / 8;
}

static void
write_tiles(TIFF *tif, const struct spec *s)
{
	int planes = s->planar == PLANARCONFIG_SEPARATE ? s->spp : 1;
	size_t rb = row_bytes(s), trb = (size_t)TIFFTileRowSize(tif);
	unsigned char *buf = calloc(1, (size_t)TIFFTileSize(tif));
	const unsigned char *d = s->data;

	for (int p = 0; p < planes; p++)
		for (uint32_t ty = 0; ty < s->h; ty += s->tile)
			for (uint32_t tx = 0; tx < s->w; tx += s->tile) {
				size_t off = (size_t)tx * trb / s->tile;
				memset(buf, 0, (size_t)TIFFTileSize(tif));
				for (uint32_t y = ty; y < s->h && y < ty + s->tile; y++)
					memcpy(buf + (y - ty) * trb,
					       d + ((size_t)p * s->h + y) * rb + off,
					       rb - off < trb ? rb - off : trb);
				TIFFWriteTile(tif, buf, tx, ty, 0, (uint16_t)p);
			}
	free(buf);
}

/* Write the n pages of specs to the scratch file name; its path. */
static const char *
write_tiff(const char *name, const struct spec *specs, int n)
{
	const char *path = tap_path(name);
	TIFF *tif = TIFFOpen(path, "w");

	for (int i = 0; i < n; i++) {
		const struct spec *s = &specs[i];
		int planes = s->planar == PLANARCONFIG_SEPARATE ? s->spp : 1;
		size_t rb = row_bytes(s);

		set_tags(tif, s);
		if (s->tile)
			write_tiles(tif, s);
		else
			for (int p = 0; p < planes; p++)
				for (uint32_t y = 0; y < s->h; y++)
					TIFFWriteScanline(tif,
							  (unsigned char *)s->data +
								  ((size_t)p * s->h + y) * rb,
							  y, (uint16_t)p);
		TIFFWriteDirectory(tif);
	}
	TIFFClose(tif);
	return path;
}

/* Read page k of path; the status, img filled, the message in err. */
static int
read_page(const char *path, int k, struct image *img, char *err, size_t n)
{
	FILE *f = fopen(path, "rb");
	struct tifio *t = tifio_open(f, err, n);
	int status = -1;

	memset(img, 0, sizeof *img);
	if (t) {
		status = tifio_read(t, k, img, err, n);
		tifio_close(t);
	}
	fclose(f);
	return status;
}

/* 1 when img is w x h x depth, of maxval and tuple type, with samples
 * want. */
static int
image_is(const struct image *img, int w, int h, int depth, unsigned maxval,
	 const char *type, const uint16_t *want)
{
	if (img->width != w || img->height != h || img->depth != depth ||
	    img->maxval != maxval || strcmp(img->tuple_type, type) != 0)
		return 0;
	return memcmp(img->data, want, sizeof *want * w * h * depth) == 0;
}

static void
test_gray16_keeps_values(void)
{
	/* 12-bit data in 16-bit samples stays as values. */
	uint16_t v[6] = {0, 1, 4095, 2048, 65535, 300};
	struct spec s = {3, 2, 1, 16, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0,
			 COMPRESSION_LZW, NULL, v};
	const char *path = write_tiff("g16.tif", &s, 1);
	struct image img;
	char err[300];

	tap_ok(read_page(path, 0, &img, err, sizeof err) == 0 &&
		       image_is(&img, 3, 2, 1, 65535, "GRAYSCALE", v),
	       "16-bit gray: every value kept, maxval 65535");
	image_free(&img);
}

static void
test_rgb_layouts(void)
{
	/* 20 x 18 RGB, 8 bits: strips of 5 rows, contiguous or planar, and
	 * tiles of 16 (partial at the right and bottom), every one equal. */
	enum { W = 20, H = 18 };
	static uint8_t contig[W * H * 3], planar[W * H * 3];
	static uint16_t want[W * H * 3];
	struct spec s = {W, H, 3, 8, 0, PHOTOMETRIC_RGB, 0, 0, 5,
			 COMPRESSION_ADOBE_DEFLATE, NULL, contig};
	const char *names[] = {"strips, contiguous", "strips, planar",
			       "tiles, contiguous", "tiles, planar"};

	for (int i = 0; i < W * H * 3; i++) {
		contig[i] = (uint8_t)(i * 37 + 11);
		planar[(i % 3) * W * H + i / 3] = contig[i];
		want[i] = contig[i];
	}
	for (int k = 0; k < 4; k++) {
		struct image img;
		char err[300];
		const char *path;

		s.planar = k & 1 ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG;
		s.data = k & 1 ? (const void *)planar : (const void *)contig;
		s.tile = k & 2 ? 16 : 0;
		path = write_tiff("rgb.tif", &s, 1);
		tap_ok(read_page(path, 0, &img, err, sizeof err) == 0 &&
			       image_is(&img, W, H, 3, 255, "RGB", want),
		       "RGB 8-bit, %s: every sample", names[k]);
		image_free(&img);
	}
}

static void
test_extra_sample_dropped(void)
{
	uint16_t rgba[8] = {1, 2, 3, 65535, 40000, 50000, 60000, 0};
	uint16_t rgb[6] = {1, 2, 3, 40000, 50000, 60000};
	uint8_t ga[4] = {7, 255, 200, 0};
	uint16_t g[2] = {7, 200};
	struct spec s = {2, 1, 4, 16, 0, PHOTOMETRIC_RGB, 0, 0, 0, 0, NULL,
			 rgba};
	struct spec t = {2, 1, 2, 8, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0,
			 NULL, ga};
	struct image img;
	char err[300];

	tap_ok(read_page(write_tiff("rgba.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 1, 3, 65535, "RGB", rgb),
	       "16-bit RGBA: alpha dropped, RGB kept");
	image_free(&img);
	tap_ok(read_page(write_tiff("ga.tif", &t, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 1, 1, 255, "GRAYSCALE", g),
	       "8-bit gray + alpha: alpha dropped");
	image_free(&img);
}

static void
test_low_bit_depths(void)
{
	/* 1-bit min-is-white 10 x 2: bit 1 is black. */
	uint8_t bits[4] = {0xa5, 0x40, 0x00, 0xc0};
	uint16_t want1[20] = {0, 255, 0, 255, 255, 0, 255, 0, 255, 0,
			      255, 255, 255, 255, 255, 255, 255, 255, 0, 0};
	uint8_t nib[2] = {0x0f, 0x80};
	uint16_t want4[4] = {0, 255, 136, 0};
	struct spec s = {10, 2, 1, 1, 0, PHOTOMETRIC_MINISWHITE, 0, 0, 0,
			 COMPRESSION_CCITTFAX4, NULL, bits};
	struct spec t = {3, 1, 1, 4, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0,
			 NULL, nib};
	struct image img;
	char err[300];

	tap_ok(read_page(write_tiff("bw.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 10, 2, 1, 255, "GRAYSCALE", want1),
	       "1-bit min-is-white (CCITT G4): black 0, white 255");
	if (img.data == NULL)
		tap_diag("%s", err);
	image_free(&img);
	tap_ok(read_page(write_tiff("g4.tif", &t, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 3, 1, 1, 255, "GRAYSCALE", want4),
	       "4-bit gray scaled to 0..255");
	image_free(&img);
}

static void
test_floats(void)
{
	float unit[4] = {0, 0.25f, 0.5f, 1};
	uint16_t want_unit[4] = {0, 16384, 32768, 65535};
	float wide[4] = {-2, 0, 2, 6};
	uint16_t want_wide[4] = {0, 16384, 32768, 65535};
	float flat[4] = {5, 5, 5, 5};
	uint16_t want_flat[4] = {0, 0, 0, 0};
	float bad[4] = {0, 0.5f, NAN, 1};
	struct spec s = {2, 2, 1, 32, SAMPLEFORMAT_IEEEFP,
			 PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, NULL, unit};
	struct image img;
	char err[300];

	tap_ok(read_page(write_tiff("f1.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 2, 1, 65535, "GRAYSCALE", want_unit),
	       "float within [0, 1]: v * 65535");
	image_free(&img);
	s.data = wide;
	tap_ok(read_page(write_tiff("f2.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 2, 1, 65535, "GRAYSCALE", want_wide),
	       "float -2..6: the page's minimum to 0, maximum to 65535");
	image_free(&img);
	s.data = flat;
	tap_ok(read_page(write_tiff("f3.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 2, 1, 65535, "GRAYSCALE", want_flat),
	       "float constant 5: all 0");
	image_free(&img);
	s.data = bad;
	tap_ok(read_page(write_tiff("f4.tif", &s, 1), 0, &img, err,
			 sizeof err) == -1 && img.data == NULL &&
		       strstr(err, "NaN") != NULL,
	       "float NaN refused: %s", err);
}

static void
test_pages(void)
{
	uint8_t a[2] = {1, 2}, b[6] = {3, 4, 5, 6, 7, 8};
	uint16_t wa[2] = {1, 2}, wb[6] = {3, 4, 5, 6, 7, 8};
	struct spec s[3] = {
		{2, 1, 1, 8, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, NULL, a},
		{2, 1, 3, 8, 0, PHOTOMETRIC_RGB, 0, 0, 0, 0, NULL, b},
		{1, 2, 1, 8, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, NULL, a},
	};
	const char *path = write_tiff("pages.tif", s, 3);
	FILE *f = fopen(path, "rb");
	char err[300];
	struct imgfile *in = imgfile_open(f, err, sizeof err);
	struct image img;
	int ok;

	tap_ok(in && imgfile_count(in) == 3, "3 pages counted");
	ok = imgfile_read(in, &img, err, sizeof err) == 1 &&
	     image_is(&img, 2, 1, 1, 255, "GRAYSCALE", wa);
	image_free(&img);
	ok &= imgfile_read(in, &img, err, sizeof err) == 1 &&
	      image_is(&img, 2, 1, 3, 255, "RGB", wb);
	image_free(&img);
	ok &= imgfile_read(in, &img, err, sizeof err) == 1 &&
	      image_is(&img, 1, 2, 1, 255, "GRAYSCALE", wa);
	image_free(&img);
	ok &= imgfile_read(in, &img, err, sizeof err) == 0;
	tap_ok(ok, "pages read in order, each its own size and kind, then 0");
	imgfile_close(in);
	tap_ok(imgfile_read_one(path, &img, err, sizeof err) == -1 &&
		       strcmp(err, "a TIFF of 3 pages, not one image") == 0,
	       "imgfile_read_one refuses several pages: %s", err);
}

/* Write one page of spec s (with description desc) and expect tifio to
 * refuse it (at open or read) with a message containing needle. */
static void
expect_refused(const char *what, struct spec s, const char *needle)
{
	const char *path = write_tiff("bad.tif", &s, 1);
	struct image img;
	char err[300] = "";
	int status = read_page(path, 0, &img, err, sizeof err);

	tap_ok(status == -1 && img.data == NULL && strstr(err, needle) &&
		       !strchr(err, '\n'),
	       "%s refused: %s", what, err);
}

static void
test_refusals(void)
{
	static uint8_t d[64];
	struct spec gray = {2, 2, 1, 8, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0,
			    NULL, d};
	struct spec s;

	s = gray, s.bps = 16, s.format = SAMPLEFORMAT_INT;
	expect_refused("16-bit signed", s, "16-bit signed TIFF samples");
	s = gray, s.bps = 32;
	expect_refused("32-bit unsigned", s, "32-bit unsigned TIFF samples");
	s = gray, s.bps = 64, s.format = SAMPLEFORMAT_IEEEFP;
	expect_refused("64-bit float", s, "64-bit float TIFF samples");
	s = gray, s.spp = 4, s.photometric = PHOTOMETRIC_SEPARATED;
	expect_refused("CMYK", s, "CMYK TIFF not supported");
	s = gray, s.spp = 3;
	expect_refused("gray of 3 samples", s, "3 samples per pixel for gray");
	s = gray, s.spp = 5, s.photometric = PHOTOMETRIC_RGB;
	expect_refused("RGB of 5 samples", s, "5 samples per pixel for RGB");
	s = gray;
	s.desc = "<?xml version=\"1.0\"?><OME><Image ID=\"Image:0\"><Pixels "
		 "DimensionOrder=\"XYZCT\" SizeC=\"2\" SizeT=\"3\" SizeX=\"2\" "
		 "SizeY=\"2\" SizeZ=\"5\" Type=\"uint8\"></Pixels></Image></OME>";
	expect_refused("5-D OME-TIFF", s, "a 5-D stack (Z 5, C 2, T 3)");
	s.desc = "<OME><Image ID=\"Image:0\"><Pixels SizeZ=\"4\"/></Image>"
		 "<Image ID=\"Image:1\"><Pixels SizeZ=\"4\"/></Image></OME>";
	expect_refused("OME-TIFF of 2 series", s, "OME-TIFF of 2 series");
	s.desc = "ImageJ=1.54f\nimages=6\nchannels=2\nslices=3\nhyperstack=true\n";
	expect_refused("ImageJ hyperstack", s, "a 4-D stack (Z 3, C 2, T 1)");
}

static void
test_stacks_of_one_axis(void)
{
	static uint8_t d[4] = {9, 8, 7, 6};
	uint16_t want[4] = {9, 8, 7, 6};
	struct spec s = {2, 2, 1, 8, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0,
			 "<OME><Image ID=\"Image:0\"><Pixels SizeC=\"1\" "
			 "SizeT=\"1\" SizeZ=\"7\"></Pixels></Image></OME>", d};
	struct image img;
	char err[300];

	tap_ok(read_page(write_tiff("ome.tif", &s, 1), 0, &img, err,
			 sizeof err) == 0 &&
		       image_is(&img, 2, 2, 1, 255, "GRAYSCALE", want),
	       "OME-TIFF of Z 7 only: read");
	image_free(&img);
}

static void
test_corrupt_not_tiff_stream(void)
{
	static uint16_t big[64 * 64];
	struct spec s = {64, 64, 1, 16, 0, PHOTOMETRIC_MINISBLACK, 0, 0, 0,
			 COMPRESSION_ADOBE_DEFLATE, NULL, big};
	const char *path, *cut = tap_path("cut.tif");
	struct image img;
	char err[300], cmd[9000];
	int fd[2];
	FILE *f;

	for (int i = 0; i < 64 * 64; i++)
		big[i] = (uint16_t)(i * 7919);
	path = write_tiff("big.tif", &s, 1);
	/* libtiff writes the strip first, its directory at the end: spoil
	 * the compressed data in the middle. */
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf '%%0200d' 0 | "
		 "dd of='%s' bs=1 seek=1000 conv=notrunc status=none",
		 path, cut, cut);
	if (system(cmd) != 0)
		tap_diag("cp or dd failed");
	tap_ok(read_page(cut, 0, &img, err, sizeof err) == -1 &&
		       img.data == NULL &&
		       strncmp(err, "corrupt or truncated TIFF file: ", 32) == 0,
	       "corrupt strip data: %s", err);
	f = fopen(tap_path("text.tif"), "w");
	fputs("II not a tiff", f);
	fclose(f);
	tap_ok(read_page(tap_path("text.tif"), 0, &img, err, sizeof err) == -1 &&
		       strcmp(err, "not a TIFF file") == 0,
	       "II and no version: %s", err);
	if (pipe(fd) == 0) {
		struct tifio *t;
		if (write(fd[1], "II*\0", 4) != 4)
			tap_diag("write failed");
		close(fd[1]);
		f = fdopen(fd[0], "rb");
		t = tifio_open(f, err, sizeof err);
		tap_ok(!t && strstr(err, "regular file"),
		       "a TIFF from a pipe: %s", err);
		tifio_close(t);
		fclose(f);
	}
}

static void
test_write_read_back(void)
{
	static const struct {
		int depth;
		unsigned maxval;
		const char *type, *read_type;
		int read_depth;
	} cases[] = {
		{1, 255, "GRAYSCALE", "GRAYSCALE", 1},
		{1, 65535, "GRAYSCALE", "GRAYSCALE", 1},
		{3, 65535, "RGB", "RGB", 3},
		{4, 255, "RGB_MASK", "RGB", 3},
		{1, 65535, "LABEL", "GRAYSCALE", 1},
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct image a, b;
		char err[300];
		const char *path = tap_path("w.tif");
		FILE *f = fopen(path, "wb");
		int w = 33, h = 7, same;
		size_t n = (size_t)w * h;

		image_alloc(&a, w, h, cases[k].depth, cases[k].maxval,
			    cases[k].type);
		for (size_t i = 0; i < n * a.depth; i++)
			a.data[i] = (uint16_t)(i * 40503 % (a.maxval + 1));
		tap_ok(tifio_write(f, &a, err, sizeof err) == 0,
		       "%s %u written", cases[k].type, cases[k].maxval);
		fclose(f);
		same = read_page(path, 0, &b, err, sizeof err) == 0 &&
		       b.depth == cases[k].read_depth && b.maxval == a.maxval &&
		       strcmp(b.tuple_type, cases[k].read_type) == 0;
		for (size_t p = 0; same && p < n; p++)
			for (int c = 0; c < b.depth; c++)
				same &= b.data[p * b.depth + c] ==
					a.data[p * a.depth + c];
		tap_ok(same, "%s %u read back equal (extra sample dropped)",
		       cases[k].type, cases[k].maxval);
		image_free(&a);
		image_free(&b);
	}
}

static void
test_formats(void)
{
	tap_ok(imgfile_format(0x89) == IMGFILE_PNG &&
		       imgfile_format('I') == IMGFILE_TIFF &&
		       imgfile_format('M') == IMGFILE_TIFF &&
		       imgfile_format(0xff) == IMGFILE_JPEG &&
		       imgfile_format('P') == IMGFILE_NETPBM &&
		       imgfile_format(EOF) == IMGFILE_EMPTY &&
		       imgfile_format('B') == IMGFILE_UNKNOWN,
	       "formats by first byte");
	tap_ok(tifio_signature("II*\0", 4) && tifio_signature("MM\0*", 4) &&
		       tifio_signature("II+\0", 4) && !tifio_signature("II*", 3) &&
		       !tifio_signature("MM*\0", 4),
	       "TIFF and BigTIFF signatures");
}

static void
test_unknown_format(void)
{
	const char *path = tap_path("x.bmp");
	FILE *f = fopen(path, "w");
	struct image img;
	char err[300];

	fputs("BM not an image we read", f);
	fclose(f);
	tap_ok(imgfile_read_one(path, &img, err, sizeof err) == -1 &&
		       strcmp(err, "not a PNG, TIFF, JPEG or Netpbm file") == 0,
	       "a BMP: %s", err);
}

int
main(void)
{
	test_formats();
	test_gray16_keeps_values();
	test_rgb_layouts();
	test_extra_sample_dropped();
	test_low_bit_depths();
	test_floats();
	test_pages();
	test_refusals();
	test_stacks_of_one_axis();
	test_corrupt_not_tiff_stream();
	test_write_read_back();
	test_unknown_format();
	tap_scratch_remove();
	return tap_done();
}
