/* image: allocation, metadata and the truth-mask helpers. */
#include <string.h>

#include "image.h"
#include "tap.h"
#include "util.h"

static void
test_alloc(void)
{
	struct image img;
	int zero = 1;

	memset(&img, 0x5a, sizeof img);
	image_alloc(&img, 3, 2, 4, 255, "RGB_MASK");
	for (size_t i = 0; i < 3 * 2 * 4; i++)
		zero &= img.data[i] == 0;
	tap_ok(img.width == 3 && img.height == 2 && img.depth == 4 &&
	       img.maxval == 255 && strcmp(img.tuple_type, "RGB_MASK") == 0,
	       "image_alloc: the shape asked for");
	tap_ok(zero && !img.id && !img.comments && img.orig_width == 0 &&
	       img.orig_height == 0, "image_alloc: zeroed, metadata empty");
	image_free(&img);
	tap_ok(!img.data && !img.id && img.width == 0,
	       "image_free: the struct zeroed");

	image_alloc(&img, 1, 1, 1, 1, "A_TUPLE_TYPE_NAME_LONGER_THAN_THE_"
		    "SIXTY_FOUR_BYTES_OF_THE_FIELD_IS_CUT_THERE");
	tap_ok(strlen(img.tuple_type) == sizeof img.tuple_type - 1 &&
	       strncmp(img.tuple_type, "A_TUPLE_TYPE_NAME", 17) == 0,
	       "image_alloc: a long tuple type cut to the field");
	image_free(&img);
}

static void
test_meta(void)
{
	struct image a, b;

	image_alloc(&a, 2, 2, 1, 255, "GRAYSCALE");
	image_alloc(&b, 1, 1, 3, 255, "RGB");
	image_set_id(&a, "sample-7");
	a.comments = xstrdup("made by hand\nsecond line");
	a.orig_width = 640;
	a.orig_height = 480;
	image_set_id(&b, "old");
	image_copy_meta(&b, &a);
	tap_ok(b.id && strcmp(b.id, "sample-7") == 0 && b.id != a.id &&
	       b.comments && strcmp(b.comments, a.comments) == 0 &&
	       b.comments != a.comments && b.orig_width == 640 &&
	       b.orig_height == 480, "image_copy_meta: copies, not shares");
	tap_ok(b.width == 1 && b.depth == 3 && strcmp(b.tuple_type, "RGB") == 0,
	       "image_copy_meta: the shape untouched");
	image_copy_meta(&a, &a);
	tap_ok(strcmp(a.id, "sample-7") == 0 && a.orig_width == 640,
	       "image_copy_meta: onto itself, a no-op");
	image_set_id(&a, a.id);
	tap_ok(strcmp(a.id, "sample-7") == 0, "image_set_id: its own id");
	image_set_id(&a, NULL);
	tap_ok(!a.id, "image_set_id: NULL clears");
	a.comments[0] = 'M';
	tap_ok(b.comments[0] == 'm', "image_copy_meta: the copy independent");
	image_free(&a);
	image_free(&b);
}

static void
test_mask(void)
{
	static const struct {
		const char *type;
		int depth, channels, mask;
	} t[] = {
		{"RGB", 3, 3, 0},
		{"GRAYSCALE", 1, 1, 0},
		{"BLACKANDWHITE", 1, 1, 0},
		{"RGB_MASK", 4, 3, 1},
		{"GRAYSCALE_MASK", 2, 1, 1},
		{"RGB_LABEL", 4, 3, 1},
		{"GRAYSCALE_LABEL", 2, 1, 1},
		{"LABEL", 1, 1, 0},
	};
	struct image img;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		image_alloc(&img, 1, 1, t[i].depth, 255, t[i].type);
		tap_ok(image_channels(&img) == t[i].channels &&
		       image_has_mask(&img) == t[i].mask,
		       "%s: %d channels, mask %d", t[i].type, t[i].channels,
		       t[i].mask);
		image_free(&img);
	}

	/* foreground where the last channel is above maxval / 2 */
	image_alloc(&img, 4, 1, 2, 255, "GRAYSCALE_MASK");
	img.data[1] = 0;
	img.data[3] = 127;
	img.data[5] = 128;
	img.data[7] = 255;
	img.data[0] = img.data[2] = img.data[4] = img.data[6] = 255;
	tap_ok(!image_mask_at(&img, 0) && !image_mask_at(&img, 1) &&
	       image_mask_at(&img, 2) && image_mask_at(&img, 3),
	       "image_mask_at: 0, 127 background; 128, 255 foreground");
	image_free(&img);
	image_alloc(&img, 2, 1, 4, 1, "RGB_MASK");
	img.data[3] = 1;
	tap_ok(image_mask_at(&img, 0) && !image_mask_at(&img, 1),
	       "image_mask_at: maxval 1, the fourth channel");
	image_free(&img);

	/* labels: foreground wherever the label is not 0, whatever maxval */
	image_alloc(&img, 3, 1, 2, 255, "GRAYSCALE_LABEL");
	img.data[1] = 1;
	img.data[3] = 200;
	img.data[4] = 255;
	tap_ok(image_mask_at(&img, 0) && image_mask_at(&img, 1) &&
	       !image_mask_at(&img, 2) && image_label_at(&img, 0) == 1 &&
	       image_label_at(&img, 1) == 200,
	       "*_LABEL: foreground where the label is not 0 (label 1 of 255; "
	       "image value 255 on the background)");
	tap_ok(image_has_labels(&img) && !image_is_label(&img),
	       "GRAYSCALE_LABEL has labels, is not a LABEL image");
	image_free(&img);
	image_alloc(&img, 2, 1, 1, 65535, "LABEL");
	img.data[1] = 3;
	tap_ok(image_is_label(&img) && !image_mask_at(&img, 0) &&
	       image_mask_at(&img, 1) && image_label_at(&img, 1) == 3,
	       "LABEL: foreground and label of the one channel");
	image_free(&img);
}

static void
test_binary(void)
{
	struct image img;

	image_alloc(&img, 3, 1, 1, 255, "GRAYSCALE");
	img.data[0] = 255;
	tap_ok(image_not_binary(&img) == IMAGE_BINARY,
	       "image_not_binary: only 0 and maxval");
	img.data[2] = 128;
	tap_ok(image_not_binary(&img) == 2,
	       "image_not_binary: the index of the first other sample");
	image_free(&img);
}

static void
test_outputs(void)
{
	static const struct {
		const char *type;
		int n;
	} t[] = {
		{"GRAYSCALE", 1}, {"FOREGROUND_DISTANCE", 2},
		{"FOREGROUND_BORDER_DISTANCE", 3}, {"FOREGROUND", 0},
		{"FOREGROUND_", 0}, {"FOREGROUND__DISTANCE", 0},
		{"FOREGROUND_distance", 0}, {"RGB", 0}, {"LABEL", 0},
		{"FOREGROUND_DISTANCE_", 0},
	};

	char name[16];

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		tap_ok(image_output_count(t[i].type) == t[i].n,
		       "image_output_count(%s) = %d", t[i].type, t[i].n);
	tap_ok(image_output_name("FOREGROUND_BORDER_DISTANCE", 2, name,
				 sizeof name) == 0 &&
	       strcmp(name, "distance") == 0, "image_output_name: the third");
	tap_ok(image_output_name("GRAYSCALE", 0, name, sizeof name) == 0 &&
	       strcmp(name, "foreground") == 0,
	       "image_output_name: GRAYSCALE is the foreground");
	tap_ok(image_output_name("FOREGROUND_DISTANCE", 2, name,
				 sizeof name) == -1 &&
	       image_output_name("RGB", 0, name, sizeof name) == -1 &&
	       image_output_name("FOREGROUND_DISTANCE", 1, name, 8) == -1,
	       "image_output_name: no such output, not a prediction, buffer "
	       "too short");
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_alloc();
	test_meta();
	test_mask();
	test_outputs();
	test_binary();
	return tap_done();
}
