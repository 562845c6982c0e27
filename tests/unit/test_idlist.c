/* idlist: the id files of --ids, read line by line (CR dropped, empty
 * lines skipped), looked up exactly, and one line (exit 1) for a file
 * that cannot be read. */
#include <string.h>

#include "idlist.h"
#include "tap.h"
#include "util.h"

/* A file of the scratch folder holding n bytes of text; its path. */
static const char *
file(const char *name, const char *text, size_t n)
{
	const char *path = tap_path(name);
	FILE *f = fopen(path, "w");

	fwrite(text, 1, n, f);
	fclose(f);
	return path;
}

static void
read_list(const void *path)
{
	struct idlist list;

	idlist_read(path, &list);
}

int
main(int argc, char **argv)
{
	static const char text[] = "b\r\n\na\nc d\n\r\nb\nlast";
	static char longline[IDLIST_MAX_LINE + 2];
	struct idlist list;
	const char *path;
	char err[1024], want[1024];

	prog_init(argc, argv);
	idlist_read(file("ids", text, sizeof text - 1), &list);
	tap_ok(list.count == 5, "5 ids (empty lines skipped, '\\r' alone "
	       "is an empty line): %zu", list.count);
	tap_ok(list.count == 5 && strcmp(list.ids[0], "a") == 0 &&
		       strcmp(list.ids[1], "b") == 0 &&
		       strcmp(list.ids[2], "b") == 0 &&
		       strcmp(list.ids[3], "c d") == 0 &&
		       strcmp(list.ids[4], "last") == 0,
	       "sorted, CR dropped, spaces kept, a last line without '\\n'");
	tap_ok(idlist_has(&list, "a") && idlist_has(&list, "b") &&
		       idlist_has(&list, "c d") && idlist_has(&list, "last"),
	       "listed ids are found");
	tap_ok(!idlist_has(&list, "c") && !idlist_has(&list, "b\r") &&
		       !idlist_has(&list, "") && !idlist_has(&list, NULL),
	       "others, a prefix, an empty id and no id are not");
	idlist_free(&list);
	tap_ok(list.count == 0 && list.ids == NULL, "freed and emptied");

	idlist_read(file("empty", "", 0), &list);
	tap_ok(list.count == 0 && !idlist_has(&list, "a"),
	       "an empty file: an empty list");
	idlist_free(&list);

	memset(longline, 'x', sizeof longline - 1);
	path = file("long", longline, sizeof longline - 1);
	snprintf(want, sizeof want, "test_idlist: %s: line 1: longer than "
		 "%d bytes\n", path, IDLIST_MAX_LINE);
	tap_ok(tap_child(read_list, path, err, sizeof err) == 1 &&
		       strcmp(err, want) == 0,
	       "a line over %d bytes: exit 1, one line", IDLIST_MAX_LINE);
	if (strcmp(err, want) != 0)
		tap_diag("got %s", err);
	path = file("nul", "a\0b\n", 4);
	tap_ok(tap_child(read_list, path, err, sizeof err) == 1 &&
		       strchr(err, '\n') == err + strlen(err) - 1,
	       "a NUL byte: exit 1, one line");
	path = tap_path("none");
	snprintf(want, sizeof want, "test_idlist: %s: No such file or "
		 "directory\n", path);
	tap_ok(tap_child(read_list, path, err, sizeof err) == 1 &&
		       strcmp(err, want) == 0,
	       "a missing file: exit 1, one line");
	if (strcmp(err, want) != 0)
		tap_diag("got %s", err);

	tap_scratch_remove();
	return tap_done();
}
