/* imgfile: an image file of any format read (PNG, TIFF, JPEG, Netpbm),
 * the format told by the file's first byte, not by its name. */
#ifndef UNETPIPE_IMGFILE_H
#define UNETPIPE_IMGFILE_H

#include <stddef.h>
#include <stdio.h>

#include "image.h"

enum imgfile_format {
	IMGFILE_EMPTY,   /* no byte at all */
	IMGFILE_PNG,
	IMGFILE_TIFF,
	IMGFILE_JPEG,
	IMGFILE_NETPBM,  /* PAM, PPM, PGM or PBM: read with pamio */
	IMGFILE_UNKNOWN
};

/* The format of a file whose first byte is c (EOF for an empty file):
 * 0x89 PNG, 'I' or 'M' TIFF, 0xFF JPEG, 'P' (or white space, which
 * pamio skips) Netpbm. Each reader then checks the whole signature. */
enum imgfile_format imgfile_format(int c);

struct imgfile;

/* Start reading the PNG, TIFF or JPEG file f, positioned at its first
 * byte (a TIFF must be seekable: a regular file); f is closed by
 * imgfile_close. Returns NULL with a one-line message in err, f then
 * closed: the reader's, or "not a PNG, TIFF, JPEG or Netpbm file" for
 * another format (Netpbm files are pamio's). Prints nothing. */
struct imgfile *imgfile_open(FILE *f, char *err, size_t errsize);

/* Number of images of the file: a TIFF's pages, else 1. */
int imgfile_count(const struct imgfile *in);

/* Read the next image into img (as pngio_read, tifio_read or
 * jpegio_read_file: GRAYSCALE or RGB, alpha dropped, id empty). Returns
 * 1, 0 after the last image, or -1 with a one-line message in err
 * ("page K: " first for a TIFF of several pages). */
int imgfile_read(struct imgfile *in, struct image *img, char *err,
		 size_t errsize);

/* Close the file. */
void imgfile_close(struct imgfile *in);

/* Read the one image of the regular file at path (never blocking on a
 * FIFO): PNG, TIFF (of one page; several are refused), JPEG, or the first
 * image of a Netpbm file (through pamio, which dies "prog: PATH: ..." on
 * bad data). Returns 0, or -1 with img zeroed and a one-line message
 * without the path in err (as imgfile_open, or "empty file"). */
int imgfile_read_one(const char *path, struct image *img, char *err,
		     size_t errsize);

#endif
