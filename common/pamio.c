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
	size_t header_bytes; /* bytes of the current header read so far */
	char *line;          /* the current PAM header line */
	size_t line_cap;
	char *comments;      /* the header's comment lines, each ending '\n' */
	size_t comments_len, comments_cap;
};

/* libnetpbm reports errors through pm_error, which calls the user error
 * function and then longjmps to the buffer set with pm_setjmpbuf. The
 * handlers are installed only around pamio_write's libnetpbm call so that
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
	return pamio_open_file(xfopen_read(path),
			       strcmp(path, "-") == 0 ? "stdin" : path, accept);
}

struct pamio_reader *
pamio_open_file(FILE *f, const char *name, int accept)
{
	struct pamio_reader *r = xcalloc(1, sizeof *r);

	r->f = f;
	r->name = xstrdup(name);
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
pamio_read_partner(struct pamio_reader *r, struct image *img,
		   const char *lead, int k, const struct image *ref,
		   const char *whose)
{
	image_free(img);
	if (!pamio_read(r, img))
		die("%s: image %d: no matching image in %s, which ends after "
		    "%d", lead, k, r->name, r->count);
	if (img->width != ref->width || img->height != ref->height)
		die("%s: image %d: size %dx%d differs from the %s (%s: %dx%d)",
		    r->name, k, img->width, img->height, whose, lead,
		    ref->width, ref->height);
	if (img->id && ref->id && strcmp(img->id, ref->id) != 0)
		die("%s: image %d: id '%s' differs from the %s (%s: '%s')",
		    r->name, k, img->id, whose, lead, ref->id);
}

void
pamio_partner_end(struct pamio_reader *r, const char *lead, int k,
		  const char *what)
{
	struct image extra = {0};

	if (pamio_read(r, &extra))
		die("%s: image %d: no matching %s in %s, which ends after %d",
		    r->name, r->count, what, lead, k);
}

void
pamio_close(struct pamio_reader *r)
{
	if (!r)
		return;
	if (r->f != stdin)
		fclose(r->f);
	free(r->name);
	free(r->line);
	free(r->comments);
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
	{"RGB_LABEL", 4, PAMIO_SAMPLE},
	{"GRAYSCALE_LABEL", 2, PAMIO_SAMPLE},
	{"LABEL", 1, PAMIO_LABEL},
	{"FOREGROUND_NAME...", 0, PAMIO_OUTPUTS},
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

/* A header as read, before it is checked. Numbers too large for any
 * image are kept at NUMBER_CAP so that messages show a large number. */
#define NUMBER_CAP 99999999999UL

struct header {
	int format;            /* the magic's digit: 1 to 7 */
	unsigned long width, height, depth, maxval;
	char tuple_type[256];  /* PAM: TUPLTYPE lines joined by ' ' */
};

static void
check_header(const struct pamio_reader *r, const struct header *h)
{
	size_t i, n = sizeof tuple_kinds / sizeof tuple_kinds[0];
	char expected[256] = "";
	int outputs = image_output_count(h->tuple_type);
	unsigned long depth;

	for (i = 0; i < n; i++)
		if (strcmp(h->tuple_type, tuple_kinds[i].type) == 0 ||
		    (tuple_kinds[i].kind == PAMIO_OUTPUTS && outputs > 1))
			break;
	if (i == n || !(tuple_kinds[i].kind & r->accept)) {
		for (size_t j = 0; j < n; j++) {
			if (!(tuple_kinds[j].kind & r->accept))
				continue;
			if (expected[0])
				strcat(expected, ", ");
			strcat(expected, tuple_kinds[j].type);
		}
		bad_image(r, "tuple type '%.64s' not accepted (expected %s)",
			  h->tuple_type, expected);
	}
	depth = tuple_kinds[i].kind == PAMIO_OUTPUTS
			? (unsigned long)outputs
			: (unsigned long)tuple_kinds[i].depth;
	if (h->depth != depth)
		bad_image(r, "depth %lu does not match tuple type %.64s "
			  "(depth %lu)", h->depth, h->tuple_type, depth);
	if (h->maxval < 1 || h->maxval > 65535)
		bad_image(r, "maxval %lu out of range [1, 65535]", h->maxval);
	if (h->width < 1 || h->height < 1)
		bad_image(r, "size %lux%lu: a side is 0", h->width, h->height);
	if (h->width > IMAGE_MAX_SIDE || h->height > IMAGE_MAX_SIDE)
		bad_image(r, "size %lux%lu beyond the limit of %d per side",
			  h->width, h->height, IMAGE_MAX_SIDE);
	if ((size_t)h->width * h->height * h->depth > IMAGE_MAX_SAMPLES)
		bad_image(r, "size %lux%lux%lu beyond the limit of %zu samples",
			  h->width, h->height, h->depth,
			  (size_t)IMAGE_MAX_SAMPLES);
}

/* One positive decimal number of int range at *s, advancing *s; 0 for
 * anything else (no digit, a sign, an overflow). */
static int
parse_side(const char **s)
{
	long v = 0;

	if (!isdigit((unsigned char)**s))
		return 0;
	for (; isdigit((unsigned char)**s); ++*s) {
		v = 10 * v + (**s - '0');
		if (v > INT_MAX)
			return 0;
	}
	return (int)v;
}

/* Parse "WxH" (both positive decimal numbers of int range) filling the n
 * bytes at s, an optional '\n' after them. */
static int
parse_original_size(const char *s, size_t n, int *w, int *h)
{
	const char *p = s, *end = s + n;

	*w = parse_side(&p);
	if (!*w || p == end || *p++ != 'x')
		return 0;
	*h = parse_side(&p);
	return *h && (p == end || (*p == '\n' && p + 1 == end));
}

/* Split the header's comment lines (without '#', each ending in '\n')
 * into the id, the original size and the other lines. */
static void
parse_comments(struct image *img, const char *c)
{
	size_t cap = strlen(c) + 1, len = 0;
	char *other = xmalloc(cap);

	while (*c) {
		const char *end = strchr(c, '\n');
		size_t n = end ? (size_t)(end - c) : strlen(c);
		int w, h;

		if (n > 3 && strncmp(c, "id ", 3) == 0 && !img->id) {
			img->id = xmalloc(n - 2);
			memcpy(img->id, c + 3, n - 3);
			img->id[n - 3] = '\0';
		} else if (n > 14 && strncmp(c, "original-size ", 14) == 0 &&
			   !img->orig_width &&
			   parse_original_size(c + 14, n - 14 + (end != NULL),
					       &w, &h)) {
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

/* The next byte of the stream, or EOF at its end; a read error dies. */
static int
next_byte(const struct pamio_reader *r)
{
	int c = getc(r->f);

	if (c == EOF && ferror(r->f))
		bad_image(r, "read error: %s", strerror(errno));
	return c;
}

/* The next byte of a header: its size is bounded. */
static int
header_byte(struct pamio_reader *r)
{
	if (++r->header_bytes > PAMIO_MAX_HEADER)
		bad_image(r, "header longer than %d bytes", PAMIO_MAX_HEADER);
	return next_byte(r);
}

static void
grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = *cap ? *cap : 128;
	while (*cap < need)
		*cap *= 2;
	*buf = xreallocarray(*buf, *cap, 1);
}

/* Read one PAM header line into r->line without its '\n'; its length. */
static size_t
read_pam_line(struct pamio_reader *r)
{
	size_t len = 0;
	int c, nul = 0;

	while ((c = header_byte(r)) != '\n') {
		if (c == EOF)
			bad_image(r, "truncated header");
		nul |= c == '\0';
		grow(&r->line, &r->line_cap, len + 2);
		r->line[len++] = (char)c;
	}
	grow(&r->line, &r->line_cap, len + 1);
	r->line[len] = '\0';
	if (nul)
		bad_image(r, "a header %s holds a NUL byte",
			  r->line[0] == '#' ? "comment" : "line");
	return len;
}

/* A header number: decimal digits only, capped at NUMBER_CAP. */
static unsigned long
pam_number(const struct pamio_reader *r, const char *key, const char *value)
{
	unsigned long v = 0;

	if (!*value)
		bad_image(r, "no value for %s", key);
	for (const char *p = value; *p; p++) {
		if (!isdigit((unsigned char)*p))
			bad_image(r, "%s '%.32s' is not a number", key, value);
		v = v > NUMBER_CAP / 10 ? NUMBER_CAP : v * 10 + (unsigned)(*p - '0');
	}
	return v;
}

/* The rest of a PAM header, after "P7": lines "KEY value" up to ENDHDR,
 * '#' lines being comments. */
static void
read_pam_header(struct pamio_reader *r, struct header *h)
{
	static const char *keys[] = {"WIDTH", "HEIGHT", "DEPTH", "MAXVAL"};
	unsigned long *values[] = {&h->width, &h->height, &h->depth,
				   &h->maxval};
	int seen[4] = {0};
	int c;

	while ((c = header_byte(r)) != '\n')
		if (c == EOF)
			bad_image(r, "truncated header");
	for (;;) {
		size_t len = read_pam_line(r), i;
		char *key = r->line, *value, *end = r->line + len;

		if (key[0] == '#') {
			grow(&r->comments, &r->comments_cap,
			     r->comments_len + len + 1);
			memcpy(r->comments + r->comments_len, key + 1, len - 1);
			r->comments_len += len;
			r->comments[r->comments_len - 1] = '\n';
			r->comments[r->comments_len] = '\0';
			continue;
		}
		while (isspace((unsigned char)*key))
			key++;
		if (!*key)
			continue;
		value = key;
		while (*value && !isspace((unsigned char)*value))
			value++;
		if (*value)
			*value++ = '\0';
		while (isspace((unsigned char)*value))
			value++;
		while (end > value && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (strcmp(key, "ENDHDR") == 0)
			break;
		for (i = 0; i < 4; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i < 4) {
			*values[i] = pam_number(r, key, value);
			seen[i] = 1;
		} else if (strcmp(key, "TUPLTYPE") == 0) {
			size_t have = strlen(h->tuple_type);
			if (have + 1 + strlen(value) >= sizeof h->tuple_type)
				bad_image(r, "TUPLTYPE longer than %zu bytes",
					  sizeof h->tuple_type - 1);
			if (have)
				h->tuple_type[have++] = ' ';
			strcpy(h->tuple_type + have, value);
		} else {
			bad_image(r, "unknown header line '%.32s'", key);
		}
	}
	for (size_t i = 0; i < 4; i++)
		if (!seen[i])
			bad_image(r, "no %s line in the header", keys[i]);
}

/* The next byte of a PBM, PGM or PPM header or plain raster, a comment
 * ('#' to the end of the line) read as one '\n'. */
static int
pnm_byte(struct pamio_reader *r, int in_header)
{
	int c = in_header ? header_byte(r) : next_byte(r), nul = 0;

	if (c != '#')
		return c;
	while ((c = in_header ? header_byte(r) : next_byte(r)) != '\n' &&
	       c != '\r' && c != EOF)
		nul |= c == '\0';
	if (nul)
		bad_image(r, "a comment holds a NUL byte");
	return c == EOF ? EOF : '\n';
}

/* A decimal number of a PBM, PGM or PPM file after whitespace and
 * comments, capped at NUMBER_CAP, and the byte after it in *sep: read
 * when it is whitespace or a comment (then '\n'), left unread otherwise.
 * ULONG_MAX at the end of a raster; dies naming what on anything else. */
static unsigned long
pnm_number(struct pamio_reader *r, int in_header, const char *what, int *sep)
{
	unsigned long v = 0;
	int c;

	while ((c = pnm_byte(r, in_header)) != EOF &&
	       isspace((unsigned char)c))
		;
	if (c == EOF && in_header)
		bad_image(r, "truncated header");
	if (c == EOF)
		return ULONG_MAX;
	if (!isdigit((unsigned char)c))
		bad_image(r, "junk where %s should be", what);
	do {
		v = v > NUMBER_CAP / 10 ? NUMBER_CAP : v * 10 + (unsigned)(c - '0');
		c = pnm_byte(r, in_header);
	} while (isdigit((unsigned char)c));
	if (c != EOF && !isspace((unsigned char)c))
		ungetc(c, r->f);
	*sep = c;
	return v;
}

/* The rest of a PBM, PGM or PPM header, after the magic: width, height,
 * maxval (not for PBM) and the one whitespace byte (or comment) before
 * the raster. */
static void
read_pnm_header(struct pamio_reader *r, struct header *h)
{
	int type = h->format == 1 || h->format == 4   ? 1
		   : h->format == 2 || h->format == 5 ? 2
						      : 3;
	int sep;

	h->width = pnm_number(r, 1, "the width", &sep);
	h->height = pnm_number(r, 1, "the height", &sep);
	h->maxval = type == 1 ? 1 : pnm_number(r, 1, "the maxval", &sep);
	h->depth = type == 3 ? 3 : 1;
	strcpy(h->tuple_type, type == 1 ? "BLACKANDWHITE"
			      : type == 2 ? "GRAYSCALE" : "RGB");
	if (sep == EOF)
		bad_image(r, "truncated header");
	if (!isspace((unsigned char)sep))
		bad_image(r, "junk after the header");
}

static noreturn void
truncated(const struct pamio_reader *r, size_t got, size_t n)
{
	bad_image(r, "truncated raster (%zu of %zu samples)", got, n);
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
		truncated(r, got, n);
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

/* A raw PBM raster: rows of bits packed into bytes, 1 for black, which is
 * 0 in PAM's BLACKANDWHITE. */
static void
read_raw_pbm(const struct pamio_reader *r, struct image *img)
{
	size_t rowbytes = ((size_t)img->width + 7) / 8;
	unsigned char *row = xmalloc(rowbytes);
	uint16_t *d = img->data;

	for (int y = 0; y < img->height; y++) {
		size_t got = fread(row, 1, rowbytes, r->f);
		if (got != rowbytes) {
			if (ferror(r->f))
				bad_image(r, "read error: %s", strerror(errno));
			free(row);
			truncated(r, (size_t)y * img->width +
					     (got * 8 < (size_t)img->width
						      ? got * 8
						      : (size_t)img->width),
				  (size_t)img->width * img->height);
		}
		for (int x = 0; x < img->width; x++)
			*d++ = !(row[x / 8] >> (7 - x % 8) & 1);
	}
	free(row);
}

/* A plain raster: PBM digits 0 and 1 (1 for black, 0 in PAM), or PGM and
 * PPM decimal numbers, separated by whitespace and comments. */
static void
read_plain(struct pamio_reader *r, struct image *img, int pbm)
{
	size_t n = (size_t)img->width * img->height * img->depth;

	for (size_t i = 0; i < n; i++) {
		unsigned long v;
		if (pbm) {
			int c;
			while ((c = pnm_byte(r, 0)) != EOF &&
			       isspace((unsigned char)c))
				;
			if (c == EOF)
				truncated(r, i, n);
			if (c != '0' && c != '1')
				bad_image(r, "junk in a plain PBM raster");
			v = c == '0';
		} else {
			int sep;
			v = pnm_number(r, 0, "a sample", &sep);
			if (v == ULONG_MAX)
				truncated(r, i, n);
			if (v > img->maxval)
				bad_image(r, "sample value %lu exceeds maxval %u",
					  v, img->maxval);
		}
		img->data[i] = (uint16_t)v;
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

/* Skip the whitespace before the next image: 0 at the end of the
 * stream. */
static int
next_image(const struct pamio_reader *r)
{
	int c;

	while ((c = next_byte(r)) != EOF && isspace((unsigned char)c))
		;
	if (c == EOF)
		return 0;
	ungetc(c, r->f);
	return 1;
}

int
pamio_read(struct pamio_reader *r, struct image *img)
{
	struct header h;
	int c;

	if (!next_image(r))
		return 0;
	if (r->count == INT_MAX)
		die("%s: more than %d images in one stream", r->name, INT_MAX);
	memset(&h, 0, sizeof h);
	r->header_bytes = 0;
	r->comments_len = 0;
	c = header_byte(r);
	h.format = header_byte(r) - '0';
	if (c != 'P' || h.format < 1 || h.format > 7)
		bad_image(r, "bad magic number (not a PAM, PPM, PGM or PBM "
			  "image)");
	if (h.format == 7)
		read_pam_header(r, &h);
	else
		read_pnm_header(r, &h);
	check_header(r, &h);

	image_alloc(img, (int)h.width, (int)h.height, (int)h.depth,
		    (unsigned)h.maxval, h.tuple_type);
	if (r->comments_len)
		parse_comments(img, r->comments);
	if (h.format == 4)
		read_raw_pbm(r, img);
	else if (h.format >= 5)
		read_raw(r, img, h.maxval > 255 ? 2 : 1);
	else
		read_plain(r, img, h.format == 1);
	check_values(r, img);
	r->count++;
	return 1;
}

/* libnetpbm reads a header line of at most 255 characters: a longer
 * comment breaks the header for every reader, ours included. */
#define COMMENT_MAX 250
_Static_assert(PAMIO_ID_MAX == COMMENT_MAX - 3, "the line 'id ID'");

/* Append one comment line: prefix and the n bytes at s, control
 * characters made harmless (an id cannot break the header) and cut to
 * COMMENT_MAX bytes, not inside a UTF-8 character. */
static size_t
put_line(char *buf, size_t len, const char *prefix, const char *s, size_t n)
{
	n = utf8_cut(s, n, COMMENT_MAX - strlen(prefix));
	len += (size_t)sprintf(buf + len, "%s", prefix);
	for (size_t i = 0; i < n; i++)
		buf[len++] = iscntrl((unsigned char)s[i]) ? '_' : s[i];
	buf[len++] = '\n';
	buf[len] = '\0';
	return len;
}

char *
pamio_stream_id(const char *id)
{
	size_t n = strlen(id), len;
	char *line = xmalloc(n + 5);

	len = put_line(line, 0, "id ", id, n);
	memmove(line, line + 3, len - 4);
	line[len - 4] = '\0';
	return line;
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

	{
		/* P7, '#' and the line of each comment, the fields */
		size_t header = 3 + len, lines = 0;
		for (size_t i = 0; i < len; i++)
			lines += comments[i] == '\n';
		header += lines + (size_t)snprintf(NULL, 0,
			"WIDTH %d\nHEIGHT %d\nDEPTH %d\nMAXVAL %u\n"
			"TUPLTYPE %s\nENDHDR\n", img->width, img->height,
			img->depth, img->maxval, img->tuple_type);
		if (header > PAMIO_MAX_HEADER)
			die("write error: a header of %zu bytes, over the "
			    "limit of %d", header, PAMIO_MAX_HEADER);
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
	snprintf(pam.tuple_type, sizeof pam.tuple_type, "%s", img->tuple_type);
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
