/* test_idname: the id of a file name, and the file name of an id. */
#include <string.h>

#include "idname.h"
#include "tap.h"
#include "util.h"

static void
of_path(const char *path, int folder, const char *want)
{
	char *id = idname_of_path(path, folder);

	tap_ok(strcmp(id, want) == 0, "id of '%s'%s is '%s' (got '%s')", path,
	       folder ? " (folder)" : "", want, id);
	free(id);
}

static void
file(const char *id, int index, size_t max, const char *want)
{
	char *name = idname_file(id, index, max);

	tap_ok(strcmp(name, want) == 0, "file of '%s' (%d, %zu) is '%s' "
	       "(got '%s')", id ? id : "(none)", index, max, want, name);
	free(name);
}

static void
test_of_path(void)
{
	of_path("DAPI well A1 (z3).png", 0, "DAPI well A1 (z3)");
	of_path("p1/\xc2\xb5m.tif", 0, "\xc2\xb5m");
	of_path("./-x.png", 0, "-x");
	of_path("a/b.c.png", 0, "b.c");
	of_path(".hidden", 0, ".hidden");
	of_path(".hidden.png", 0, ".hidden");
	of_path("noext", 0, "noext");
	of_path("dir.d/noext", 0, "noext");
	of_path("a\nb.png", 0, "a\nb");
	of_path("set/S1.x/", 1, "S1.x");
	of_path("S1//", 1, "S1");
}

static void
test_file(void)
{
	char long_id[400], want[300];

	file("DAPI well A1 (z3)", 1, 251, "DAPI well A1 (z3)");
	file("\xc2\xb5m", 1, 251, "\xc2\xb5m");
	file("-x", 1, 251, "-x");
	file(".hidden", 1, 251, ".hidden");
	file("...", 1, 251, "...");
	file("a/b", 1, 251, "a_b");
	file("../x", 1, 251, ".._x");
	file("a\nb\tc\x7f" "d", 1, 251, "a_b_c_d");
	file(".", 3, 251, "image-3");
	file("..", 4, 251, "image-4");
	file("", 5, 251, "image-5");
	file(NULL, 7, 251, "7");
	/* The cut: at max bytes, back to the start of a UTF-8 character. */
	memset(long_id, 'x', 300);
	long_id[300] = '\0';
	memset(want, 'x', 251);
	want[251] = '\0';
	file(long_id, 1, 251, want);
	for (int i = 0; i < 150; i++)
		memcpy(long_id + 2 * i, "\xc2\xb5", 2);
	memcpy(want, long_id, 250);
	want[250] = '\0';
	file(long_id, 1, 251, want);
	file(long_id, 1, 300, long_id);
	file("..abc", 2, 20, "..abc");
	memcpy(long_id, "..", 2);
	memset(long_id + 2, 'y', 30);
	long_id[32] = '\0';
	file(long_id, 2, 20, "..yyyyyyyyyyyyyyyyyy");
}

int
main(int argc, char **argv)
{
	prog_init(argc, argv);
	test_of_path();
	test_file();
	return tap_done();
}
