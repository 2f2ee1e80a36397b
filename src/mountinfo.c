/*
 * mountinfo.c parses /proc/self/mountinfo. Fields are space-separated with spaces, tabs,
 * newlines and backslashes in paths escaped as \ooo octal (see proc(5)).
 */
#include "mountinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decode one \ooo-escaped field in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static void copy_field(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

int mountinfo_find(const char *path, struct mountinfo_entry *ret)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	struct mountinfo_entry e;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *tok, *fields[5], *sep;
		int i;

		/* id parent major:minor root mountpoint options [optional...] - fstype source */
		tok = strtok_r(line, " \n", &save);
		for (i = 0; i < 5 && tok; i++) {
			fields[i] = tok;
			tok = strtok_r(NULL, " \n", &save);
		}
		if (i < 5)
			continue;
		unescape(fields[4]);
		if (strcmp(fields[4], path) != 0)
			continue;
		sep = tok;
		while (sep && strcmp(sep, "-") != 0)
			sep = strtok_r(NULL, " \n", &save);
		if (!sep)
			continue;
		tok = strtok_r(NULL, " \n", &save);
		copy_field(e.fstype, sizeof(e.fstype), tok ? tok : "");
		tok = strtok_r(NULL, " \n", &save);
		if (tok)
			unescape(tok);
		copy_field(e.source, sizeof(e.source), tok ? tok : "");
		found = true; /* keep going: the last match is the topmost mount */
	}
	free(line);
	(void)fclose(f);
	if (!found)
		return -ENOENT;
	*ret = e;
	return 0;
}
