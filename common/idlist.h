/* idlist: a list of sample ids read from a text file, one per line, for
 * the filters that select images by id (sample-split --ids, stream-shard
 * --ids). */
#ifndef UNETPIPE_IDLIST_H
#define UNETPIPE_IDLIST_H

#include <stddef.h>

/* The ids of a file, sorted for lookup. */
struct idlist {
	char **ids;
	size_t count;
};

/* Longest line of an id file, in bytes. */
#define IDLIST_MAX_LINE 4096

/* Read path into list: one id per line, a trailing '\r' dropped, empty
 * lines skipped. Dies "prog: PATH: strerror" when it cannot be opened and
 * as read_line does on a line over IDLIST_MAX_LINE bytes, a NUL byte or a
 * read error. */
void idlist_read(const char *path, struct idlist *list);

/* 1 when id is in the list; an image without id (NULL) is never listed. */
int idlist_has(const struct idlist *list, const char *id);

/* Free the ids and empty the list. */
void idlist_free(struct idlist *list);

#endif
