/* idlist: a list of sample ids read from a text file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idlist.h"
#include "util.h"

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
idlist_read(const char *path, struct idlist *list)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long len, lineno = 0;

	if (!f)
		die("%s:", path);
	memset(list, 0, sizeof *list);
	while ((len = read_line(f, path, &line, &cap, IDLIST_MAX_LINE,
				&lineno)) >= 0) {
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0)
			continue;
		list->ids = xreallocarray(list->ids, list->count + 1,
					  sizeof *list->ids);
		list->ids[list->count++] = xstrdup(line);
	}
	fclose(f);
	free(line);
	if (list->count) /* qsort's array may not be NULL, even empty */
		qsort(list->ids, list->count, sizeof *list->ids,
		      compare_strings);
}

int
idlist_has(const struct idlist *list, const char *id)
{
	return id && list->count &&
	       bsearch(&id, list->ids, list->count, sizeof *list->ids,
		       compare_strings);
}

void
idlist_free(struct idlist *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->ids[i]);
	free(list->ids);
	memset(list, 0, sizeof *list);
}
