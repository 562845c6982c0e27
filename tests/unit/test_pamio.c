/* test_pamio: PAM stream round trips, PNM input, comments, the header
 * parser (every magic, plain and raw, comments, NUL bytes, the header size
 * limit, cut headers), and the one-line errors on bad data (checked in a
 * child process, since they exit). */
#include <stdlib.h>
#include <string.h>

#include "pamio.h"
#include "tap.h"
#include "util.h"


static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	fwrite(data, 1, n, f);
	fclose(f);
}

struct read_args {
	const char *path;
	int accept;
};

static void
read_stream(const void *arg)
{
	const struct read_args *a = arg;
	struct pamio_reader *r = pamio_open(a->path, a->accept);
	struct image img;

	while (pamio_read(r, &img))
		image_free(&img);
	pamio_close(r);
}

/* Read `path` in a child; return its exit status and its stderr in err. */
static int
read_in_child(const char *path, int accept, char *err, size_t errsize)
{
	struct read_args a = {path, accept};

	return tap_child(read_stream, &a, err, errsize);
}

static int
one_line(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl && nl[1] == '\0';
}

static void
expect_error(const char *name, const void *data, size_t n, int accept,
	     const char *needle)
{
	char err[1024];
	const char *path = tap_path(name);
	int status;

	write_file(path, data, n);
	status = read_in_child(path, accept, err, sizeof err);
	tap_ok(status == 1 && one_line(err) &&
		       strncmp(err, "test_pamio: ", 12) == 0 &&
		       strstr(err, needle) != NULL,
	       "%s: exit 1 and one line containing '%s'", name, needle);
	if (!(status == 1 && strstr(err, needle)))
		tap_diag("status %d, stderr: %s", status, err);
}

static void
test_round_trip(unsigned maxval)
{
	struct image a, b, c;
	struct pamio_reader *r;
	FILE *f;
	const char *path = tap_path("rt.pam");
	int same = 1, n = 0;

	image_alloc(&a, 5, 3, 4, maxval, "RGB_MASK");
	for (size_t i = 0; i < 5 * 3 * 4; i++)
		a.data[i] = (uint16_t)(i * 977 % (maxval + 1));
	image_set_id(&a, "abc123");
	a.orig_width = 640;
	a.orig_height = 480;
	a.comments = xstrdup("a comment\n  indented one");
	image_alloc(&b, 2, 2, 1, 1, "GRAYSCALE");
	b.data[1] = 1;

	f = fopen(path, "wb");
	pamio_write(f, &a);
	pamio_write(f, &b);
	fclose(f);

	r = pamio_open(path, PAMIO_IMAGE | PAMIO_SAMPLE);
	tap_ok(pamio_read(r, &c) == 1, "maxval %u: first image read", maxval);
	n++;
	tap_ok(c.width == 5 && c.height == 3 && c.depth == 4 &&
		       c.maxval == maxval && strcmp(c.tuple_type, "RGB_MASK") == 0,
	       "maxval %u: header kept", maxval);
	for (size_t i = 0; i < 5 * 3 * 4; i++)
		same &= c.data[i] == a.data[i];
	tap_ok(same, "maxval %u: samples kept", maxval);
	tap_ok(c.id && strcmp(c.id, "abc123") == 0, "maxval %u: id kept",
	       maxval);
	tap_ok(c.orig_width == 640 && c.orig_height == 480,
	       "maxval %u: original size kept", maxval);
	tap_ok(c.comments &&
		       strcmp(c.comments, "a comment\n  indented one") == 0,
	       "maxval %u: other comments kept", maxval);
	tap_ok(image_has_mask(&c) && image_channels(&c) == 3,
	       "maxval %u: mask and channels", maxval);
	image_free(&c);
	tap_ok(pamio_read(r, &c) == 1 && c.id == NULL && c.comments == NULL &&
		       c.orig_width == 0 && c.data[1] == 1 && c.maxval == 1,
	       "maxval %u: second image, no metadata", maxval);
	image_free(&c);
	tap_ok(pamio_read(r, &c) == 0 && pamio_count(r) == 2,
	       "maxval %u: clean end after 2 images", maxval);
	pamio_close(r);
	image_free(&a);
	image_free(&b);
}

static void
test_pnm(void)
{
	static const char p2[] = "P2\n# c\n3 1\n10\n0 5 10\n";
	static const char p5[] = "P5 2 1 255\n\x07\xff";
	static const char p1[] = "P1\n3 1\n1 0 1\n";
	static const char p4[] = "P4\n3 1\n\xa0";
	static const char p6[] = "P6\n1 1\n65535\n\x01\x02\x03\x04\x05\x06";
	static const char mixed[] = "P1\n1 1\n1\nP2 1 1 3 2\n";
	struct pamio_reader *r;
	struct image img;
	const char *path;

	path = tap_path("p.pnm");
	write_file(path, p2, sizeof p2 - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.width == 3 && img.maxval == 10 &&
		       strcmp(img.tuple_type, "GRAYSCALE") == 0 &&
		       img.data[0] == 0 && img.data[1] == 5 && img.data[2] == 10,
	       "plain PGM");
	image_free(&img);
	pamio_close(r);

	write_file(path, p5, sizeof p5 - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.data[0] == 7 && img.data[1] == 255,
	       "raw PGM");
	image_free(&img);
	pamio_close(r);

	/* In a PBM 1 is black; PAM's BLACKANDWHITE has 1 = white. */
	write_file(path, p1, sizeof p1 - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.maxval == 1 &&
		       strcmp(img.tuple_type, "BLACKANDWHITE") == 0 &&
		       img.data[0] == 0 && img.data[1] == 1 && img.data[2] == 0,
	       "plain PBM");
	image_free(&img);
	pamio_close(r);

	write_file(path, p4, sizeof p4 - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.data[0] == 0 && img.data[1] == 1 &&
		       img.data[2] == 0,
	       "raw PBM");
	image_free(&img);
	pamio_close(r);

	write_file(path, p6, sizeof p6 - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.depth == 3 &&
		       img.maxval == 65535 && img.data[0] == 0x0102 &&
		       img.data[2] == 0x0506,
	       "raw PPM, 16 bits");
	image_free(&img);
	pamio_close(r);

	write_file(path, mixed, sizeof mixed - 1);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) && img.data[0] == 0, "mixed stream 1");
	image_free(&img);
	tap_ok(pamio_read(r, &img) && img.data[0] == 2 && img.maxval == 3,
	       "mixed stream 2");
	image_free(&img);
	tap_ok(pamio_read(r, &img) == 0, "mixed stream end");
	pamio_close(r);

	write_file(path, "", 0);
	r = pamio_open(path, PAMIO_IMAGE);
	tap_ok(pamio_read(r, &img) == 0 && pamio_count(r) == 0,
	       "empty stream");
	pamio_close(r);
}

#define EXPECT(name, lit, accept, needle) \
	expect_error(name, lit, sizeof lit - 1, accept, needle)

static void
test_errors(void)
{
	static const char hdr[] = "P7\nWIDTH 2\nHEIGHT 2\nDEPTH 1\nMAXVAL 255\n"
				  "TUPLTYPE GRAYSCALE\nENDHDR\n";
	char buf[512];
	size_t n;

	EXPECT("huge", "P7\nWIDTH 1000000\nHEIGHT 1000000\nDEPTH 3\n"
	       "MAXVAL 255\nTUPLTYPE RGB\nENDHDR\n",
	       PAMIO_IMAGE, "image 1: size 1000000x1000000");
	EXPECT("samples", "P7\nWIDTH 30000\nHEIGHT 30000\nDEPTH 3\n"
	       "MAXVAL 255\nTUPLTYPE RGB\nENDHDR\n",
	       PAMIO_IMAGE, "samples");
	EXPECT("magic", "hello\n", PAMIO_IMAGE, "image 1: bad magic");
	EXPECT("tupletype", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\n"
	       "TUPLTYPE RGB_ALPHA\nENDHDR\nabcd",
	       PAMIO_IMAGE, "tuple type 'RGB_ALPHA' not accepted");
	EXPECT("sample-only", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\n"
	       "TUPLTYPE RGB\nENDHDR\nabc",
	       PAMIO_SAMPLE, "expected RGB_MASK, GRAYSCALE_MASK");
	EXPECT("depth", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 4\nMAXVAL 255\n"
	       "TUPLTYPE RGB\nENDHDR\nabcd",
	       PAMIO_IMAGE, "depth 4 does not match tuple type RGB");
	EXPECT("depth-low", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\n"
	       "TUPLTYPE RGB\nENDHDR\nab",
	       PAMIO_IMAGE, "image 1: depth 2");
	EXPECT("value", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 100\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\n\xc8",
	       PAMIO_IMAGE, "sample value 200 exceeds maxval 100");

	/* A good image then a truncated one: the error names image 2. */
	n = sizeof hdr - 1;
	memcpy(buf, hdr, n);
	memcpy(buf + n, "abcd", 4);
	memcpy(buf + n + 4, hdr, n);
	memcpy(buf + 2 * n + 4, "ab", 2);
	expect_error("truncated", buf, 2 * n + 6, PAMIO_IMAGE,
		     "image 2: truncated raster");
	expect_error("truncated-header", buf, n + 4 + 20, PAMIO_IMAGE,
		     "image 2: ");
	EXPECT("plain-truncated", "P2\n3 1\n10\n0 5", PAMIO_IMAGE,
	       "image 1: ");
}

/* Read the n bytes at data as a stream: the image count read (all of
 * them), the first image kept in first (when not NULL). */
static int
read_all(const char *name, const void *data, size_t n, struct image *first)
{
	const char *path = tap_path(name);
	struct pamio_reader *r;
	struct image img;
	int k = 0;

	write_file(path, data, n);
	r = pamio_open(path, PAMIO_IMAGE | PAMIO_SAMPLE);
	while (pamio_read(r, &img)) {
		if (k++ == 0 && first)
			*first = img;
		else
			image_free(&img);
	}
	pamio_close(r);
	return k;
}

/* A PAM header with the given comment lines before WIDTH. */
static char *
pam_with_comments(const char *comments, const char *raster)
{
	static const char fmt[] = "P7\n%sWIDTH 2\nHEIGHT 1\nDEPTH 1\n"
				  "MAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n%s";
	size_t n = strlen(fmt) + strlen(comments) + strlen(raster) + 1;
	char *s = xmalloc(n);

	snprintf(s, n, fmt, comments, raster);
	return s;
}

static void
test_comments(void)
{
	struct image img;
	char *s, *lines;
	double t;

	s = pam_with_comments("#note one\n#id s1\n#\n#original-size 40x30\n"
			      "#id s2\n#original-size 5x\n", "ab");
	tap_ok(read_all("c.pam", s, strlen(s), &img) == 1 && img.id &&
		       strcmp(img.id, "s1") == 0 && img.orig_width == 40 &&
		       img.orig_height == 30 && img.comments &&
		       strcmp(img.comments, "note one\n\nid s2\n"
					    "original-size 5x") == 0 &&
		       img.data[0] == 'a' && img.data[1] == 'b',
	       "PAM comments: first id and original size taken, the rest "
	       "kept in order");
	image_free(&img);
	free(s);

	/* An original size of more than int range, a sign or a tail is no
	 * size: kept as a comment, never a wrapped-around number. */
	s = pam_with_comments("#original-size 99999999999x5\n"
			      "#original-size -3x5\n#original-size 3x5y\n"
			      "#original-size 2147483647x7\n", "ab");
	tap_ok(read_all("c1.pam", s, strlen(s), &img) == 1 &&
		       img.orig_width == 2147483647 && img.orig_height == 7 &&
		       img.comments &&
		       strcmp(img.comments, "original-size 99999999999x5\n"
					    "original-size -3x5\n"
					    "original-size 3x5y") == 0,
	       "an original size out of int range, signed or with a tail is "
	       "only a comment");
	image_free(&img);
	free(s);

	/* Comment lines between the fields, blank lines, CR LF, spaces. */
	s = xstrdup("P7 \n#id x\nWIDTH 1\r\n\n  HEIGHT   1  \n#a\nDEPTH 3\n"
		    "MAXVAL 65535\n#b\nTUPLTYPE RGB\nENDHDR\n\x01\x02\x03\x04"
		    "\x05\x06");
	tap_ok(read_all("c2.pam", s, strlen(s), &img) == 1 &&
		       img.depth == 3 && img.maxval == 65535 &&
		       img.data[0] == 0x0102 && img.data[2] == 0x0506 &&
		       img.comments && strcmp(img.comments, "a\nb") == 0,
	       "PAM: comments between fields, blank lines, CR LF, spaces");
	image_free(&img);
	free(s);

	/* A comment line over libnetpbm's 255 characters is read whole. */
	lines = xmalloc(420);
	memcpy(lines, "#id ", 4);
	memset(lines + 4, 'a', 400);
	strcpy(lines + 404, "\n");
	s = pam_with_comments(lines, "ab");
	tap_ok(read_all("c3.pam", s, strlen(s), &img) == 1 && img.id &&
		       strlen(img.id) == 400,
	       "a comment line of 404 bytes is read whole");
	image_free(&img);
	free(s);
	free(lines);

	/* 500,000 comment lines (1 MB): linear, well under a second. */
	lines = xmalloc(2 * 500000 + 2);
	memcpy(lines, "#c\n", 3);
	for (int i = 1; i < 500000; i++)
		memcpy(lines + 1 + 2 * i, "#\n", 2);
	lines[2 * 500000 + 1] = '\0';
	s = pam_with_comments(lines, "ab");
	t = now_seconds();
	tap_ok(read_all("many.pam", s, strlen(s), &img) == 1 && img.comments &&
		       strlen(img.comments) == 500000,
	       "500,000 comment lines are read");
	t = now_seconds() - t;
	tap_ok(t < 5, "500,000 comment lines in %.2f s (under 5 s)", t);
	image_free(&img);
	free(s);
	free(lines);

	/* Comments of a PNM header are skipped, anywhere in the whitespace
	 * and in a plain raster. */
	s = xstrdup("P2#a\n3#b\n#c\n1 # d\n10#e\n0#f\n5\n#g\n10#h\n");
	tap_ok(read_all("c.pgm", s, strlen(s), &img) == 1 &&
		       img.width == 3 && img.maxval == 10 && !img.comments &&
		       !img.id && img.data[0] == 0 && img.data[1] == 5 &&
		       img.data[2] == 10,
	       "plain PGM: comments anywhere, not kept");
	image_free(&img);
	free(s);
	s = xstrdup("P5 2 1 255#one byte of whitespace, then the raster\n"
		    "\n\x20");
	tap_ok(read_all("c.raw", s, strlen(s), &img) == 1 &&
		       img.data[0] == '\n' && img.data[1] == ' ',
	       "raw PGM: a comment after the maxval ends the header, the "
	       "raster starts at the next byte");
	image_free(&img);
	free(s);
}

/* A PAM image of one byte whose header is n bytes long, most of them
 * comment lines and blank lines. */
static char *
long_header(size_t n, size_t *len)
{
	static const char fields[] = "WIDTH 1\nHEIGHT 1\nDEPTH 1\n"
				     "MAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n";
	size_t f = sizeof fields - 1;
	char *s = xmalloc(n + 1), *p = s;

	p += sprintf(p, "P7\n");
	while ((size_t)(p - s) + 41 + f <= n) {
		p[0] = '#';
		memset(p + 1, 'c', 39);
		p[40] = '\n';
		p += 41;
	}
	while ((size_t)(p - s) + f < n)
		*p++ = '\n';
	memcpy(p, fields, f);
	p += f;
	*p++ = 'A';
	*len = (size_t)(p - s);
	return s;
}

/* pamio_write of the image arg to a file (in a child: it dies). */
static void
write_big(const void *arg)
{
	FILE *f = fopen(tap_path("big-out.pam"), "wb");

	pamio_write(f, arg);
	fclose(f);
}

static void
test_header_limits(void)
{
	static const char nul_pam[] = "P7\n#id a\0b\nWIDTH 1\nHEIGHT 1\n"
				      "DEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\n"
				      "ENDHDR\nA";
	static const char nul_pnm[] = "P2\n# a\0b\n1 1 255 7\n";
	struct image img;
	size_t len;
	char *s;

	EXPECT("nul-comment", nul_pam, PAMIO_IMAGE,
	       "image 1: a header comment holds a NUL byte");
	EXPECT("nul-line", "P7\nWIDTH 1\0\nHEIGHT 1\n", PAMIO_IMAGE,
	       "image 1: a header line holds a NUL byte");
	EXPECT("nul-pnm", nul_pnm, PAMIO_IMAGE,
	       "image 1: a comment holds a NUL byte");

	/* A header of exactly PAMIO_MAX_HEADER bytes is read; one byte
	 * more is refused. */
	s = long_header(PAMIO_MAX_HEADER, &len);
	tap_ok(len == PAMIO_MAX_HEADER + 1 &&
		       read_all("limit.pam", s, len, NULL) == 1,
	       "a header of %d bytes is read", PAMIO_MAX_HEADER);
	free(s);
	s = long_header(PAMIO_MAX_HEADER + 1, &len);
	expect_error("over-limit.pam", s, len, PAMIO_IMAGE,
		     "image 1: header longer than 1048576 bytes");
	free(s);
	/* A endless header line is cut at the limit too, and so is a
	 * PNM header of endless comments. */
	s = xmalloc(3 * PAMIO_MAX_HEADER);
	memcpy(s, "P7\n#", 4);
	memset(s + 4, 'x', 3 * PAMIO_MAX_HEADER - 4);
	expect_error("endless.pam", s, 3 * PAMIO_MAX_HEADER, PAMIO_IMAGE,
		     "image 1: header longer than 1048576 bytes");
	memcpy(s, "P5\n ", 4);
	for (size_t i = 4; i < 3 * PAMIO_MAX_HEADER; i++)
		s[i] = i % 2 ? '#' : '\n';
	expect_error("endless.pgm", s, 3 * PAMIO_MAX_HEADER, PAMIO_IMAGE,
		     "image 1: header longer than 1048576 bytes");
	free(s);

	/* The writer never makes a header the reader refuses. */
	image_alloc(&img, 1, 1, 1, 255, "GRAYSCALE");
	img.comments = xmalloc(PAMIO_MAX_HEADER);
	for (size_t i = 0; i < PAMIO_MAX_HEADER - 1; i++)
		img.comments[i] = i % 20 == 19 ? '\n' : 'c';
	img.comments[PAMIO_MAX_HEADER - 1] = '\0';
	{
		char err[512] = "";
		int status = tap_child(write_big, &img, err, sizeof err);

		tap_ok(status == 1 && one_line(err) &&
			       strstr(err, "over the limit of 1048576"),
		       "pamio_write refuses a header over the limit: %s", err);
	}
	image_free(&img);
}

static void
test_formats(void)
{
	/* Every magic, raw and plain, and the separators between images. */
	static const char all[] =
		"P1 2 1 0 1\n"
		"P2 2 1 9 3 9\n"
		"P3 1 1 9 1 2 3\n"
		"P4 10 2\n\x80\x40\x00\xc0 \n"
		"P5 2 1 255\n\x10\x20\n\n"
		"P6 1 1 65535\n\x01\x02\x03\x04\x05\x06\t"
		"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 1\n"
		"TUPLTYPE BLACKANDWHITE\nENDHDR\n\x01\x00"
		"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 2\nMAXVAL 255\n"
		"TUPLTYPE GRAYSCALE_MASK\nENDHDR\n\x07\xff";
	struct pamio_reader *r;
	struct image im[8];
	const char *path = tap_path("all.pnm");
	int k = 0;

	write_file(path, all, sizeof all - 1);
	r = pamio_open_file(fopen(path, "rb"), "all", PAMIO_IMAGE |
			    PAMIO_SAMPLE);
	while (k < 8 && pamio_read(r, &im[k]))
		k++;
	tap_ok(k == 8 && pamio_read(r, &im[0]) == 0 &&
		       strcmp(pamio_name(r), "all") == 0,
	       "8 images, one of each magic, through pamio_open_file");
	pamio_close(r);
	if (k < 8)
		return;
	tap_ok(strcmp(im[0].tuple_type, "BLACKANDWHITE") == 0 &&
		       im[0].data[0] == 1 && im[0].data[1] == 0,
	       "P1: 0 is white (1), 1 black (0)");
	tap_ok(strcmp(im[1].tuple_type, "GRAYSCALE") == 0 &&
		       im[1].maxval == 9 && im[1].data[0] == 3 &&
		       im[1].data[1] == 9,
	       "P2");
	tap_ok(strcmp(im[2].tuple_type, "RGB") == 0 && im[2].depth == 3 &&
		       im[2].data[0] == 1 && im[2].data[2] == 3,
	       "P3");
	{
		/* 10x2: bits 1000000001 and 0000000011, each row padded to
		 * 2 bytes */
		static const uint16_t want[] = {0, 1, 1, 1, 1, 1, 1, 1, 1, 0,
						1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
		int same = im[3].width == 10 && im[3].height == 2;
		for (int i = 0; same && i < 20; i++)
			same = im[3].data[i] == want[i];
		tap_ok(same, "P4: rows padded to bytes, 1 is black (0)");
	}
	tap_ok(im[4].data[0] == 0x10 && im[4].data[1] == 0x20, "P5");
	tap_ok(im[5].maxval == 65535 && im[5].data[0] == 0x0102 &&
		       im[5].data[2] == 0x0506,
	       "P6, 16 bits");
	tap_ok(strcmp(im[6].tuple_type, "BLACKANDWHITE") == 0 &&
		       im[6].data[0] == 1 && im[6].data[1] == 0,
	       "P7 BLACKANDWHITE");
	tap_ok(image_has_mask(&im[7]) && im[7].data[0] == 7 &&
		       im[7].data[1] == 255,
	       "P7 GRAYSCALE_MASK");
	for (int i = 0; i < 8; i++)
		image_free(&im[i]);
}

/* Every proper prefix of a header is a one-line error naming image 1
 * (an empty prefix is an empty stream). */
static void
test_truncated_headers(void)
{
	static const char *const headers[] = {
		"P1\n# c\n2 1\n", "P2\n2 1\n255\n", "P3 2 1 255\n",
		"P4\n#c\n2 1\n", "P5\n2 1\n255\n", "P6\n2 1 255\n",
		"P7\n#id a\nWIDTH 2\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
		"TUPLTYPE GRAYSCALE\nENDHDR\n",
	};
	int bad = 0, total = 0;

	for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
		size_t n = strlen(headers[h]);
		for (size_t cut = 1; cut < n; cut++) {
			char err[1024];
			const char *path = tap_path("cut");
			int status;

			write_file(path, headers[h], cut);
			status = read_in_child(path, PAMIO_IMAGE, err,
					       sizeof err);
			total++;
			if (status != 1 || !one_line(err) ||
			    !strstr(err, ": image 1: ")) {
				bad++;
				tap_diag("'%.*s': status %d, %s", (int)cut,
					 headers[h], status, err);
			}
		}
	}
	tap_ok(bad == 0, "%d cut headers: each exit 1, one line, image 1",
	       total);
}

static void
test_header_errors(void)
{
	EXPECT("magic-p8", "P8\n1 1\n", PAMIO_IMAGE, "image 1: bad magic");
	EXPECT("magic-q", "Q7\n", PAMIO_IMAGE, "image 1: bad magic");
	EXPECT("no-width", "P7\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: no WIDTH line in the header");
	EXPECT("width-x", "P7\nWIDTH 1x\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: WIDTH '1x' is not a number");
	EXPECT("width-neg", "P7\nWIDTH -1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: WIDTH '-1' is not a number");
	EXPECT("width-none", "P7\nWIDTH\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: no value for WIDTH");
	EXPECT("width-0", "P7\nWIDTH 0\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: size 0x1: a side is 0");
	EXPECT("width-huge", "P7\nWIDTH 4294967297\nHEIGHT 1\nDEPTH 1\n"
	       "MAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: size 4294967297x1 beyond the limit");
	EXPECT("unknown", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAYSCALE\nCOLOR red\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: unknown header line 'COLOR'");
	EXPECT("two-tupltypes", "P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\n"
	       "TUPLTYPE GRAY\nTUPLTYPE SCALE\nENDHDR\nA",
	       PAMIO_IMAGE, "image 1: tuple type 'GRAY SCALE' not accepted");
	EXPECT("pnm-junk", "P2\n3 x\n", PAMIO_IMAGE,
	       "image 1: junk where the height should be");
	EXPECT("pnm-maxval", "P5\n1 1\n70000\n\x01\x01", PAMIO_IMAGE,
	       "image 1: maxval 70000 out of range [1, 65535]");
	EXPECT("pnm-junk-after", "P5\n1 1\n255x\x01", PAMIO_IMAGE,
	       "image 1: junk after the header");
	EXPECT("plain-over", "P2\n2 1\n10\n3 11\n", PAMIO_IMAGE,
	       "image 1: sample value 11 exceeds maxval 10");
	EXPECT("plain-huge", "P2\n1 1\n10\n99999999999999999999\n",
	       PAMIO_IMAGE, "image 1: sample value 99999999999 exceeds");
	EXPECT("plain-pbm-junk", "P1\n2 1\n1 2\n", PAMIO_IMAGE,
	       "image 1: junk in a plain PBM raster");
	EXPECT("raw-pbm-truncated", "P4\n9 2\n\x01\x02\x03", PAMIO_IMAGE,
	       "image 1: truncated raster (17 of 18 samples)");
}

/* The id as the stream carries it: control characters '_', cut to
 * PAMIO_ID_MAX bytes at the start of a UTF-8 character. */
static void
test_stream_id(void)
{
	char id[400], *got;

	got = pamio_stream_id("a\nb\tc (z3) \xc2\xb5m");
	tap_ok(strcmp(got, "a_b_c (z3) \xc2\xb5m") == 0, "stream id: '%s'",
	       got);
	free(got);
	memset(id, 'x', 300);
	id[300] = '\0';
	got = pamio_stream_id(id);
	tap_ok(strlen(got) == PAMIO_ID_MAX, "stream id: cut to %zu bytes",
	       strlen(got));
	free(got);
	for (int i = 0; i < 150; i++)
		memcpy(id + 2 * i, "\xc2\xb5", 2);
	got = pamio_stream_id(id);
	tap_ok(strlen(got) == PAMIO_ID_MAX - 1 &&
	       strncmp(got, id, PAMIO_ID_MAX - 1) == 0,
	       "stream id: cut before a UTF-8 character (%zu bytes)",
	       strlen(got));
	free(got);
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_round_trip(255);
	test_round_trip(65535);
	test_pnm();
	test_errors();
	test_comments();
	test_header_limits();
	test_formats();
	test_truncated_headers();
	test_header_errors();
	test_stream_id();
	tap_scratch_remove();
	return tap_done();
}
