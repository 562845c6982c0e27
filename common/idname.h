/* idname: the id of an image file or folder, and the file name of an id
 * (see unetpipe-formats(5), "Files"): the one rule of every program that
 * takes an id from a name or names a file by an id. */
#ifndef UNETPIPE_IDNAME_H
#define UNETPIPE_IDNAME_H

#include <limits.h>
#include <stddef.h>

/* The longest name of a file named by an id: NAME_MAX (255) less the 7
 * bytes of the temporary file NAME.XXXXXX it is written to first
 * (outfile). */
#define IDNAME_NAME_MAX (NAME_MAX - 7)

/* The id of the file or folder at path: its last component (a trailing
 * '/' ignored), for a file without its extension (from its last '.',
 * unless that '.' is the name's first byte). Every other byte is kept as
 * it is. Allocated. */
char *idname_of_path(const char *path, int folder);

/* The name of the file of image index (from 1) whose id is id (NULL when
 * it has none), at most max bytes (max at least 20): id itself when it is
 * a usable name, that is not empty, not "." or "..", free of '/' and of
 * control characters (bytes 1 to 31 and 127), and at most max bytes.
 * Otherwise '/' and control characters become '_', a longer id is cut to
 * max bytes, never inside a UTF-8 character, and an empty, "." or ".."
 * id becomes "image-INDEX"; no id gives "INDEX". Allocated. */
char *idname_file(const char *id, int index, size_t max);

#endif
