#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void
image_alloc(struct image *img, int width, int height, int depth,
	    unsigned maxval, const char *tuple_type)
{
	memset(img, 0, sizeof *img);
	img->width = width;
	img->height = height;
	img->depth = depth;
	img->maxval = maxval;
	snprintf(img->tuple_type, sizeof img->tuple_type, "%s", tuple_type);
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
	       strcmp(img->tuple_type, "GRAYSCALE_MASK") == 0 ||
	       image_has_labels(img);
}

int
image_has_labels(const struct image *img)
{
	return strcmp(img->tuple_type, "RGB_LABEL") == 0 ||
	       strcmp(img->tuple_type, "GRAYSCALE_LABEL") == 0;
}

int
image_is_label(const struct image *img)
{
	return strcmp(img->tuple_type, "LABEL") == 0;
}

int
image_mask_at(const struct image *img, size_t p)
{
	unsigned v = img->data[p * img->depth + img->depth - 1];

	if (image_has_labels(img) || image_is_label(img))
		return v != 0;
	return v > img->maxval / 2;
}

size_t
image_not_binary(const struct image *img)
{
	size_t n = (size_t)img->width * img->height * img->depth;

	for (size_t i = 0; i < n; i++)
		if (img->data[i] != 0 && img->data[i] != img->maxval)
			return i;
	return IMAGE_BINARY;
}

unsigned
image_label_at(const struct image *img, size_t p)
{
	return img->data[p * img->depth + img->depth - 1];
}

int
image_output_count(const char *tuple_type)
{
	const char *prefix = "FOREGROUND_";
	int n = 1;

	if (strcmp(tuple_type, "GRAYSCALE") == 0)
		return 1;
	if (strncmp(tuple_type, prefix, strlen(prefix)) != 0)
		return 0;
	for (const char *c = tuple_type; *c; c++) {
		if (*c == '_') {
			if (c[1] == '_' || c[1] == '\0')
				return 0;
			n++;
		} else if (!(*c >= 'A' && *c <= 'Z')) {
			return 0;
		}
	}
	return n;
}

int
image_output_name(const char *tuple_type, int k, char *buf, size_t len)
{
	const char *s = tuple_type;
	size_t n;

	if (k < 0 || k >= image_output_count(tuple_type))
		return -1;
	if (strcmp(tuple_type, "GRAYSCALE") == 0)
		s = "FOREGROUND";
	for (; k > 0; k--)
		s += strcspn(s, "_") + 1;
	n = strcspn(s, "_");
	if (n >= len)
		return -1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(s[i] - 'A' + 'a');
	buf[n] = '\0';
	return 0;
}

unsigned
image_file_sample(const struct image *img, int label, unsigned s,
		  unsigned target)
{
	uint32_t v = s < img->maxval ? s : img->maxval;

	if (label)
		return v;
	return (unsigned)((v * target + img->maxval / 2) / img->maxval);
}
