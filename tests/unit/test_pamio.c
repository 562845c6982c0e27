/* test_pamio: PAM stream round trips, PNM input, comments, and the one-line
 * errors on bad data (checked in a child process, since they exit). */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pamio.h"
#include "tap.h"
#include "util.h"

static char tmpdir[] = "/tmp/test_pamio.XXXXXX";

static char *
tmp_path(const char *name)
{
	static char buf[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

static void
write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	fwrite(data, 1, n, f);
	fclose(f);
}

/* Read `path` in a child; return its exit status and its stderr in err. */
static int
read_in_child(const char *path, int accept, char *err, size_t errsize)
{
	int fd[2], status;
	pid_t pid;
	ssize_t n, len = 0;

	if (pipe(fd) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct pamio_reader *r;
		struct image img;

		dup2(fd[1], 2);
		close(fd[0]);
		r = pamio_open(path, accept);
		while (pamio_read(r, &img))
			image_free(&img);
		pamio_close(r);
		_exit(0);
	}
	close(fd[1]);
	while ((n = read(fd[0], err + len, errsize - 1 - len)) > 0)
		len += n;
	err[len] = '\0';
	close(fd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
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
	const char *path = tmp_path(name);
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
	const char *path = tmp_path("rt.pam");
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

	path = tmp_path("p.pnm");
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

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	if (!mkdtemp(tmpdir))
		die("mkdtemp:");
	test_round_trip(255);
	test_round_trip(65535);
	test_pnm();
	test_errors();
	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			tap_diag("could not remove %s", tmpdir);
	}
	return tap_done();
}
