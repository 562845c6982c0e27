#include "imgfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jpegio.h"
#include "outfile.h"
#include "pamio.h"
#include "pngio.h"
#include "tifio.h"
#include "util.h"

struct imgfile {
	FILE *f;
	enum imgfile_format format;
	struct tifio *tiff; /* a TIFF's pages */
	int count, next;    /* images, and the index of the next one */
};

enum imgfile_format
imgfile_format(int c)
{
	switch (c) {
	case EOF: return IMGFILE_EMPTY;
	case 0x89: return IMGFILE_PNG;
	case 'I':
	case 'M': return IMGFILE_TIFF;
	case 0xff: return IMGFILE_JPEG;
	case 'P':
	case ' ':
	case '\t':
	case '\n':
	case '\r': return IMGFILE_NETPBM;
	default: return IMGFILE_UNKNOWN;
	}
}

struct imgfile *
imgfile_open(FILE *f, char *err, size_t errsize)
{
	struct imgfile *in = xcalloc(1, sizeof *in);
	int c = getc(f);

	if (c == EOF && ferror(f)) {
		snprintf(err, errsize, "%s", strerror(errno));
		goto fail;
	}
	ungetc(c, f);
	in->f = f;
	in->format = imgfile_format(c);
	in->count = 1;
	switch (in->format) {
	case IMGFILE_PNG:
	case IMGFILE_JPEG:
		return in;
	case IMGFILE_TIFF:
		in->tiff = tifio_open(f, err, errsize);
		if (!in->tiff)
			goto fail;
		in->count = tifio_pages(in->tiff);
		return in;
	default:
		snprintf(err, errsize, "%s", c == EOF ? "empty file"
			 : "not a PNG, TIFF, JPEG or Netpbm file");
		goto fail;
	}
fail:
	fclose(f);
	free(in);
	return NULL;
}

int
imgfile_count(const struct imgfile *in)
{
	return in->count;
}

int
imgfile_read(struct imgfile *in, struct image *img, char *err,
	     size_t errsize)
{
	int k = in->next, status;
	char msg[300];

	if (k >= in->count)
		return 0;
	in->next++;
	switch (in->format) {
	case IMGFILE_PNG:
		status = pngio_read_file(in->f, img, 0, msg, sizeof msg);
		break;
	case IMGFILE_JPEG:
		status = jpegio_read_file(in->f, img, msg, sizeof msg);
		break;
	default:
		status = tifio_read(in->tiff, k, img, msg, sizeof msg);
		break;
	}
	if (status == 0)
		return 1;
	if (in->count > 1)
		snprintf(err, errsize, "page %d: %s", k + 1, msg);
	else
		snprintf(err, errsize, "%s", msg);
	return -1;
}

void
imgfile_close(struct imgfile *in)
{
	if (!in)
		return;
	tifio_close(in->tiff);
	fclose(in->f);
	free(in);
}

int
imgfile_read_one(const char *path, struct image *img, char *err,
		 size_t errsize)
{
	FILE *f = fopen_regular(path, err, errsize);
	struct imgfile *in;
	int c, status = -1;

	memset(img, 0, sizeof *img);
	if (!f)
		return -1;
	c = getc(f);
	ungetc(c, f);
	if (imgfile_format(c) == IMGFILE_NETPBM) {
		struct pamio_reader *r = pamio_open_file(f, path, PAMIO_IMAGE);
		if (pamio_read(r, img))
			status = 0;
		else
			snprintf(err, errsize, "empty file");
		pamio_close(r);
		return status;
	}
	in = imgfile_open(f, err, errsize);
	if (!in)
		return -1;
	if (in->count > 1)
		snprintf(err, errsize, "a TIFF of %d pages, not one image",
			 in->count);
	else
		status = imgfile_read(in, img, err, errsize) > 0 ? 0 : -1;
	imgfile_close(in);
	return status;
}
