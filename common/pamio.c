#include "pamio.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <pam.h>

#include "util.h"

/* libnetpbm's PAM_STRUCT_SIZE takes a member through a null pointer, which
 * UBSan rightly reports; offsetof is the defined way. */
#define PAM_LEN_COMMENT_P \
	(offsetof(struct pam, comment_p) + sizeof(((struct pam){0}).comment_p))

struct pamio_reader {
	FILE *f;
	char *name;
	int accept;
	int count;
	const char *comments; /* libnetpbm's, here so that an error can free it */
};

static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
image_alloc(struct image *img, int width, int height, int depth,
	    unsigned maxval, const char *tuple_type)
{
	memset(img, 0, sizeof *img);
	img->width = width;
	img->height = height;
	img->depth = depth;
	img->maxval = maxval;
	copy_str(img->tuple_type, sizeof img->tuple_type, tuple_type);
	img->data = xcalloc((size_t)width * height, (size_t)depth * sizeof(uint16_t));
}

void
image_free(struct image *img)
{
	free(img->id);
	free(img->comments);
	free(img->data);
	memset(img, 0, sizeof *img);
}

void
image_copy_meta(struct image *dst, const struct image *src)
{
	if (dst == src)
		return;
	image_set_id(dst, src->id);
	free(dst->comments);
	dst->comments = src->comments ? xstrdup(src->comments) : NULL;
	dst->orig_width = src->orig_width;
	dst->orig_height = src->orig_height;
}

void
image_set_id(struct image *img, const char *id)
{
	char *copy = id ? xstrdup(id) : NULL;

	free(img->id);
	img->id = copy;
}

int
image_channels(const struct image *img)
{
	return image_has_mask(img) ? img->depth - 1 : img->depth;
}

int
image_has_mask(const struct image *img)
{
	return strcmp(img->tuple_type, "RGB_MASK") == 0 ||
	       strcmp(img->tuple_type, "GRAYSCALE_MASK") == 0;
}

int
image_mask_at(const struct image *img, size_t p)
{
	return img->data[p * img->depth + img->depth - 1] > img->maxval / 2;
}

/* libnetpbm reports errors through pm_error, which calls the user error
 * function and then longjmps to the buffer set with pm_setjmpbuf. The
 * handlers are installed only around our own libnetpbm calls so that
 * pm_error elsewhere keeps its default behaviour. */
static char pm_msg[512];

static void
capture_error(const char *msg)
{
	size_t n;

	snprintf(pm_msg, sizeof pm_msg, "%s", msg);
	n = strlen(pm_msg);
	while (n > 0 && (pm_msg[n - 1] == '\n' || pm_msg[n - 1] == '.' ||
			 pm_msg[n - 1] == ' '))
		pm_msg[--n] = '\0';
	if (isupper((unsigned char)pm_msg[0]) &&
	    islower((unsigned char)pm_msg[1]))
		pm_msg[0] = (char)tolower((unsigned char)pm_msg[0]);
}

static void
ignore_message(const char *msg)
{
	(void)msg;
}

static void
handlers_on(void)
{
	pm_msg[0] = '\0';
	pm_setusererrormsgfn(capture_error);
	pm_setusermessagefn(ignore_message);
}

static void
handlers_off(jmp_buf *old)
{
	pm_setjmpbuf(old);
	pm_setusererrormsgfn(NULL);
	pm_setusermessagefn(NULL);
}

struct pamio_reader *
pamio_open(const char *path, int accept)
{
	struct pamio_reader *r = xcalloc(1, sizeof *r);

	r->f = xfopen_read(path);
	r->name = xstrdup(strcmp(path, "-") == 0 ? "stdin" : path);
	r->accept = accept;
	return r;
}

const char *
pamio_name(const struct pamio_reader *r)
{
	return r->name;
}

int
pamio_count(const struct pamio_reader *r)
{
	return r->count;
}

void
pamio_close(struct pamio_reader *r)
{
	if (!r)
		return;
	if (r->f != stdin)
		fclose(r->f);
	free(r->name);
	free(r);
}

static const struct {
	const char *type;
	int depth;
	int kind;
} tuple_kinds[] = {
	{"RGB", 3, PAMIO_IMAGE},
	{"GRAYSCALE", 1, PAMIO_IMAGE},
	{"BLACKANDWHITE", 1, PAMIO_IMAGE},
	{"RGB_MASK", 4, PAMIO_SAMPLE},
	{"GRAYSCALE_MASK", 2, PAMIO_SAMPLE},
};

static noreturn void
bad_image(const struct pamio_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
bad_image(const struct pamio_reader *r, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	die("%s: image %d: %s", r->name, r->count + 1, what);
}

static void
check_header(const struct pamio_reader *r, const struct pam *pam)
{
	size_t i, n = sizeof tuple_kinds / sizeof tuple_kinds[0];
	char expected[128] = "";

	for (i = 0; i < n; i++)
		if (strcmp(pam->tuple_type, tuple_kinds[i].type) == 0)
			break;
	if (i == n || !(tuple_kinds[i].kind & r->accept)) {
		for (size_t j = 0; j < n; j++) {
			if (!(tuple_kinds[j].kind & r->accept))
				continue;
			if (expected[0])
				strcat(expected, ", ");
			strcat(expected, tuple_kinds[j].type);
		}
		bad_image(r, "tuple type '%s' not accepted (expected %s)",
			  pam->tuple_type, expected);
	}
	if ((int)pam->depth != tuple_kinds[i].depth)
		bad_image(r, "depth %u does not match tuple type %s (depth %d)",
			  pam->depth, pam->tuple_type, tuple_kinds[i].depth);
	if (pam->maxval < 1 || pam->maxval > 65535)
		bad_image(r, "maxval %lu out of range [1, 65535]", pam->maxval);
	if (pam->width < 1 || pam->height < 1 ||
	    pam->width > PAMIO_MAX_SIDE || pam->height > PAMIO_MAX_SIDE)
		bad_image(r, "size %dx%d beyond the limit of %d per side",
			  pam->width, pam->height, PAMIO_MAX_SIDE);
	if ((size_t)pam->width * pam->height * pam->depth > PAMIO_MAX_SAMPLES)
		bad_image(r, "size %dx%dx%u beyond the limit of %zu samples",
			  pam->width, pam->height, pam->depth,
			  (size_t)PAMIO_MAX_SAMPLES);
}

/* Split libnetpbm's comment string (lines without '#', each ending in
 * '\n') into the id, the original size and the other lines. */
static void
parse_comments(struct image *img, const char *c)
{
	size_t cap = strlen(c) + 1, len = 0;
	char *other = xmalloc(cap);

	while (*c) {
		const char *end = strchr(c, '\n');
		size_t n = end ? (size_t)(end - c) : strlen(c);
		int w, h;
		char x, tail;

		if (n > 3 && strncmp(c, "id ", 3) == 0 && !img->id) {
			img->id = xmalloc(n - 2);
			memcpy(img->id, c + 3, n - 3);
			img->id[n - 3] = '\0';
		} else if (n > 14 && strncmp(c, "original-size ", 14) == 0 &&
			   !img->orig_width &&
			   sscanf(c + 14, "%d%c%d%c", &w, &x, &h, &tail) == 4 &&
			   x == 'x' && tail == '\n' && w > 0 && h > 0) {
			img->orig_width = w;
			img->orig_height = h;
		} else {
			if (len)
				other[len++] = '\n';
			memcpy(other + len, c, n);
			len += n;
		}
		c += n + (end != NULL);
	}
	other[len] = '\0';
	if (len)
		img->comments = other;
	else
		free(other);
}

/* Read the raster as raw big-endian bytes straight into img->data: PAM and
 * the raw PGM/PPM formats share that layout. */
static void
read_raw(const struct pamio_reader *r, struct image *img, int bps)
{
	size_t n = (size_t)img->width * img->height * img->depth;
	size_t got;
	uint16_t *d = img->data;

	got = fread(d, (size_t)bps, n, r->f);
	if (got != n) {
		if (ferror(r->f))
			bad_image(r, "read error: %s", strerror(errno));
		bad_image(r, "truncated raster (%zu of %zu samples)", got, n);
	}
	if (bps == 1) {
		const unsigned char *b = (const unsigned char *)d;
		for (size_t i = n; i-- > 0;)
			d[i] = b[i];
	} else {
		const unsigned char *b = (const unsigned char *)d;
		for (size_t i = 0; i < n; i++)
			d[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	}
}

static void
check_values(const struct pamio_reader *r, const struct image *img)
{
	size_t n = (size_t)img->width * img->height * img->depth;
	uint16_t worst = 0;

	for (size_t i = 0; i < n; i++)
		worst = img->data[i] > worst ? img->data[i] : worst;
	if (worst > img->maxval)
		bad_image(r, "sample value %u exceeds maxval %u", worst,
			  img->maxval);
}

int
pamio_read(struct pamio_reader *r, struct image *img)
{
	jmp_buf jb, *old;
	struct pam pam;
	int eof = 0;

	r->comments = NULL;
	handlers_on();
	pm_setjmpbufsave(&jb, &old);
	if (setjmp(jb)) {
		handlers_off(old);
		free((void *)r->comments);
		bad_image(r, "%s", pm_msg[0] ? pm_msg : "bad image");
	}
	pnm_nextimage(r->f, &eof);
	if (eof) {
		handlers_off(old);
		return 0;
	}
	if (r->count == INT_MAX) {
		handlers_off(old);
		die("%s: more than %d images in one stream", r->name, INT_MAX);
	}
	memset(&pam, 0, sizeof pam);
	pam.comment_p = &r->comments;
	pnm_readpaminit(r->f, &pam, PAM_LEN_COMMENT_P);
	check_header(r, &pam);

	image_alloc(img, pam.width, pam.height, (int)pam.depth,
		    (unsigned)pam.maxval, pam.tuple_type);
	if (r->comments) {
		parse_comments(img, r->comments);
		free((void *)r->comments);
		r->comments = NULL;
	}
	if (pam.format == PAM_FORMAT || pam.format == RPGM_FORMAT ||
	    pam.format == RPPM_FORMAT) {
		read_raw(r, img, pam.bytes_per_sample);
	} else {
		tuple *row = pnm_allocpamrow(&pam);
		uint16_t *d = img->data;
		for (int y = 0; y < pam.height; y++) {
			pnm_readpamrow(&pam, row);
			for (int x = 0; x < pam.width; x++)
				for (unsigned c = 0; c < pam.depth; c++)
					*d++ = (uint16_t)row[x][c];
		}
		pnm_freepamrow(row);
	}
	handlers_off(old);
	check_values(r, img);
	r->count++;
	return 1;
}

/* libnetpbm reads a header line of at most 255 characters: a longer
 * comment breaks the header for every reader, ours included. */
#define COMMENT_MAX 250

/* Append one comment line: prefix and the n bytes at s, control
 * characters made harmless (an id cannot break the header) and cut to
 * COMMENT_MAX bytes, not inside a UTF-8 character. */
static size_t
put_line(char *buf, size_t len, const char *prefix, const char *s, size_t n)
{
	size_t room = COMMENT_MAX - strlen(prefix);

	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	len += (size_t)sprintf(buf + len, "%s", prefix);
	for (size_t i = 0; i < n; i++)
		buf[len++] = iscntrl((unsigned char)s[i]) ? '_' : s[i];
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

void
pamio_write(FILE *f, const struct image *img)
{
	struct pam pam;
	jmp_buf jb, *old;
	char *comments;
	const char *cp;
	size_t cap = 64, len = 0;
	int bps = img->maxval > 255 ? 2 : 1;
	size_t rowlen = (size_t)img->width * img->depth;
	unsigned char *buf;

	cap += img->id ? strlen(img->id) + 4 : 0;
	cap += img->comments ? strlen(img->comments) + 2 : 0;
	comments = xmalloc(cap);
	comments[0] = '\0';
	if (img->id)
		len = put_line(comments, len, "id ", img->id, strlen(img->id));
	if (img->orig_width > 0 && img->orig_height > 0)
		len += (size_t)sprintf(comments + len, "original-size %dx%d\n",
				       img->orig_width, img->orig_height);
	if (img->comments) {
		const char *c = img->comments;
		while (*c) {
			const char *end = strchr(c, '\n');
			size_t n = end ? (size_t)(end - c) : strlen(c);
			len = put_line(comments, len, "", c, n);
			c += n + (end != NULL);
		}
	}

	memset(&pam, 0, sizeof pam);
	pam.size = sizeof pam;
	pam.len = PAM_LEN_COMMENT_P;
	pam.file = f;
	pam.format = PAM_FORMAT;
	pam.width = img->width;
	pam.height = img->height;
	pam.depth = (unsigned)img->depth;
	pam.maxval = img->maxval;
	copy_str(pam.tuple_type, sizeof pam.tuple_type, img->tuple_type);
	cp = comments;
	pam.comment_p = len ? &cp : NULL;

	handlers_on();
	pm_setjmpbufsave(&jb, &old);
	if (setjmp(jb)) {
		handlers_off(old);
		die("write error: %s", pm_msg);
	}
	pnm_writepaminit(&pam);
	handlers_off(old);
	free(comments);

	buf = xmalloc(rowlen * bps);
	for (int y = 0; y < img->height; y++) {
		const uint16_t *s = img->data + (size_t)y * rowlen;
		if (bps == 1) {
			for (size_t i = 0; i < rowlen; i++)
				buf[i] = (unsigned char)s[i];
		} else {
			for (size_t i = 0; i < rowlen; i++) {
				buf[2 * i] = (unsigned char)(s[i] >> 8);
				buf[2 * i + 1] = (unsigned char)s[i];
			}
		}
		if (fwrite(buf, (size_t)bps, rowlen, f) != rowlen)
			break;
	}
	free(buf);
	if (ferror(f))
		die("write error:");
}
