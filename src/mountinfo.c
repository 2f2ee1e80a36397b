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

/*
 * Take one line apart in place; false when it is not a whole mount line:
 * id parent major:minor root mountpoint options [optional...] - fstype source superoptions
 */
static bool parse_line(char *line, struct mountinfo_mount *ret)
{
	char *save = NULL, *tok, *fields[5];
	int i;

	tok = strtok_r(line, " \n", &save);
	for (i = 0; i < 5 && tok; i++) {
		fields[i] = tok;
		tok = strtok_r(NULL, " \n", &save);
	}
	if (i < 5)
		return false;
	while (tok && strcmp(tok, "-") != 0)
		tok = strtok_r(NULL, " \n", &save);
	if (!tok)
		return false;
	unescape(fields[4]);
	ret->mountpoint = fields[4];
	tok = strtok_r(NULL, " \n", &save);
	ret->fstype = tok ? tok : "";
	tok = strtok_r(NULL, " \n", &save);
	if (tok)
		unescape(tok);
	ret->source = tok ? tok : "";
	return true;
}

int mountinfo_each(const char *fstype, int (*fn)(const struct mountinfo_mount *m, void *ctx),
		   void *ctx)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	struct mountinfo_mount m;
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		if (!parse_line(line, &m) || (fstype && strcmp(m.fstype, fstype) != 0))
			continue;
		r = fn(&m, ctx);
	}
	free(line);
	(void)fclose(f);
	return r;
}

struct find_ctx {
	const char *path;
	struct mountinfo_entry e;
	bool found;
};

static int match_path(const struct mountinfo_mount *m, void *ctx)
{
	struct find_ctx *fc = ctx;

	if (strcmp(m->mountpoint, fc->path) != 0)
		return 0;
	copy_field(fc->e.fstype, sizeof(fc->e.fstype), m->fstype);
	copy_field(fc->e.source, sizeof(fc->e.source), m->source);
	fc->found = true; /* keep going: the last match is the topmost mount */
	return 0;
}

int mountinfo_find(const char *path, struct mountinfo_entry *ret)
{
	struct find_ctx fc = { .path = path };
	int r = mountinfo_each(NULL, match_path, &fc);

	if (r < 0)
		return r;
	if (!fc.found)
		return -ENOENT;
	*ret = fc.e;
	return 0;
}
