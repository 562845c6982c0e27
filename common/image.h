/* image: the pixel type of every stream, an image with its sample id, its
 * original size and its other comments (see unetpipe-formats(5)), and the
 * largest image any reader or filter accepts. */
#ifndef UNETPIPE_IMAGE_H
#define UNETPIPE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Largest width or height accepted, and largest width*height*depth: a
 * header beyond these is refused before anything is allocated. */
#define IMAGE_MAX_SIDE 32768
#define IMAGE_MAX_SAMPLES ((size_t)1 << 28)

/* One image of a stream. Samples are row-major, channels interleaved
 * (channels-last), each in [0, maxval]. A *_MASK tuple type carries the
 * truth mask as its last channel (foreground where value > maxval / 2), a
 * *_LABEL tuple type the instance truth (0 background, k > 0 object k). */
struct image {
	int width, height, depth;
	unsigned maxval;             /* 1 .. 65535 */
	char tuple_type[64];         /* RGB, GRAYSCALE, RGB_MASK, ... */
	char *id;                    /* sample id, or NULL when unknown */
	int orig_width, orig_height; /* size before resizing, 0 when unknown */
	char *comments;              /* other comment lines, '\n'-separated, or NULL */
	uint16_t *data;              /* height * width * depth samples */
};

/* Allocate a zeroed image of the given shape; metadata empty. */
void image_alloc(struct image *img, int width, int height, int depth,
		 unsigned maxval, const char *tuple_type);

/* Free what image_alloc/pamio_read allocated and zero the struct. */
void image_free(struct image *img);

/* Copy the id, original size and other comments of src into dst
 * (replacing dst's). */
void image_copy_meta(struct image *dst, const struct image *src);

/* Replace the image's id (NULL clears it). */
void image_set_id(struct image *img, const char *id);

/* Number of image channels, not counting a truth channel (depth minus one
 * for the *_MASK and *_LABEL tuple types). */
int image_channels(const struct image *img);

/* 1 when the image carries its truth as its last channel: RGB_MASK,
 * GRAYSCALE_MASK, RGB_LABEL or GRAYSCALE_LABEL. */
int image_has_mask(const struct image *img);

/* 1 when the truth channel holds instance labels: RGB_LABEL or
 * GRAYSCALE_LABEL. */
int image_has_labels(const struct image *img);

/* 1 for a label image: tuple type LABEL, depth 1 (0 background, k > 0
 * object k). */
int image_is_label(const struct image *img);

/* The sample of a file (PNG, TIFF) for raw sample s of img: a label
 * image's label as it is, any other sample (clamped to maxval) scaled to
 * 0..target and rounded; target is 65535 for a 16-bit file, 255 for an
 * 8-bit one. */
unsigned image_file_sample(const struct image *img, int label, unsigned s,
			   unsigned target);

/* 1 when the truth of pixel p (y * width + x) is foreground: a *_MASK
 * channel above maxval / 2, a *_LABEL channel (or a LABEL image) not 0.
 * Only for images with a mask or labels. */
int image_mask_at(const struct image *img, size_t p);

/* The first sample of img that is neither 0 nor maxval (an index into
 * img->data), or IMAGE_BINARY when every sample is one of them. */
#define IMAGE_BINARY ((size_t)-1)
size_t image_not_binary(const struct image *img);

/* The instance label of pixel p: the last channel of a *_LABEL sample or
 * the sample of a LABEL image. */
unsigned image_label_at(const struct image *img, size_t p);

/* Number of channels of a prediction: 1 for a GRAYSCALE image, the number
 * of '_'-separated names of a multi-output tuple type such as
 * FOREGROUND_DISTANCE (see unetpipe-formats(5)), 0 for any other tuple
 * type. */
int image_output_count(const char *tuple_type);

/* The name of output k (from 0) of a prediction's tuple type, in lower
 * case ("foreground", "distance"), into buf; 0, or -1 when the tuple type
 * has no output k (or buf is too short). */
int image_output_name(const char *tuple_type, int k, char *buf, size_t len);

#endif
