/* pamio: multi-image PAM streams (PBM, PGM and PPM read too), with the
 * sample id and the original size carried in PAM comments (see
 * unetpipe-formats(5)). Headers are parsed here in linear time; libnetpbm
 * writes them. */
#ifndef UNETPIPE_PAMIO_H
#define UNETPIPE_PAMIO_H

#include <stdio.h>

#include "image.h"

/* Largest header (magic, comments and fields up to the raster) read. */
#define PAMIO_MAX_HEADER (1 << 20)

/* Kinds of image a reader accepts (or-ed together). */
enum {
	PAMIO_IMAGE = 1,  /* RGB, GRAYSCALE, BLACKANDWHITE (and plain PNM) */
	PAMIO_SAMPLE = 2, /* RGB_MASK, GRAYSCALE_MASK, RGB_LABEL,
			     GRAYSCALE_LABEL */
	PAMIO_LABEL = 4,  /* LABEL (depth 1): a label image */
	PAMIO_OUTPUTS = 8, /* FOREGROUND_NAME..., depth = number of names:
			      a multi-output probability map */
	PAMIO_ANY = 15     /* every kind: what a stream holds, passed on */
};

/* The most shards stream-shard cuts a stream into and stream-join joins:
 * worker counts, and streams kept open at once. */
#define PAMIO_MAX_SHARDS 1000

struct pamio_reader;

/* Open a stream for reading ("-" is stdin) accepting the given kinds.
 * Dies "prog: path: strerror" when it cannot be opened. */
struct pamio_reader *pamio_open(const char *path, int accept);

/* pamio_open on a stream already open, called name in messages; f is
 * closed by pamio_close unless it is stdin. */
struct pamio_reader *pamio_open_file(FILE *f, const char *name, int accept);

/* Read the next image into img (which is overwritten, not freed). Returns 1
 * for an image, 0 at the clean end of the stream (an empty stream gives 0 at
 * once). Bad data (truncated header or raster, wrong magic, a tuple type not
 * accepted, depth not matching the tuple type, maxval 0, a size over the
 * limits, a header over PAMIO_MAX_HEADER bytes, a NUL byte in a header) and
 * read errors die "prog: NAME: image K: what" with K counted from 1. */
int pamio_read(struct pamio_reader *r, struct image *img);

/* The stream's name for messages ("stdin" for "-"). */
const char *pamio_name(const struct pamio_reader *r);

/* Number of images read so far. */
int pamio_count(const struct pamio_reader *r);

/* Read into img (freed first) the image of r that goes with image k of
 * the stream named lead, ref: dies "R: image k: no matching image in R,
 * which ends after N" (R: lead) when r has ended, and "R: image k: size
 * WxH differs from the WHOSE (LEAD: WxH)" or "... id 'a' differs from the
 * WHOSE (LEAD: 'b')" (both ids present) when they disagree; whose names
 * the lead's images, possessive ("label image's"). */
void pamio_read_partner(struct pamio_reader *r, struct image *img,
			const char *lead, int k, const struct image *ref,
			const char *whose);

/* After the lead stream (named lead) ended with its k-th image: dies "R:
 * image k+1: no matching WHAT in LEAD, which ends after k" when r has an
 * image left. */
void pamio_partner_end(struct pamio_reader *r, const char *lead, int k,
		       const char *what);

/* Close the stream (stdin is left open). */
void pamio_close(struct pamio_reader *r);

/* Longest id a stream carries, in bytes: its comment line "id ID" is cut
 * to 250 bytes. */
#define PAMIO_ID_MAX 247

/* The id as pamio_write writes it, and so as a reader gets it back: its
 * control characters written as '_', cut to PAMIO_ID_MAX bytes, never
 * inside a UTF-8 character. Allocated. */
char *pamio_stream_id(const char *id);

/* Write one whole image, with its id, original size and comments, to f.
 * Dies "prog: write error: ..." when the write fails, and before writing
 * anything when the header would be over PAMIO_MAX_HEADER bytes. */
void pamio_write(FILE *f, const struct image *img);

#endif
