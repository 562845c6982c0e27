#include "idname.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

char *
idname_of_path(const char *path, int folder)
{
	size_t end = strlen(path), start;
	char *id, *dot;

	while (end > 1 && path[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	id = xmalloc(end - start + 1);
	memcpy(id, path + start, end - start);
	id[end - start] = '\0';
	dot = strrchr(id, '.');
	if (!folder && dot && dot != id)
		*dot = '\0';
	return id;
}

char *
idname_file(const char *id, int index, size_t max)
{
	size_t n;
	char *name;

	if (!id) {
		name = xmalloc(16);
		snprintf(name, 16, "%d", index);
		return name;
	}
	n = utf8_cut(id, strlen(id), max);
	if (n == 0 || (id[0] == '.' && (n == 1 || (n == 2 && id[1] == '.')))) {
		name = xmalloc(24);
		snprintf(name, 24, "image-%d", index);
		return name;
	}
	name = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		name[i] = c == '/' || c < 0x20 || c == 0x7f ? '_' : (char)c;
	}
	name[n] = '\0';
	return name;
}
