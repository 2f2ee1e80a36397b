/*
 * coord_config.c: snapfsd's configuration file and who may take which role. The format is in
 * coord.h; docs/coordinator.md has an example.
 */
#include "coord.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/snapfs/snapfsd.conf"

static void acl_default(struct coord_acl *a)
{
	*a = (struct coord_acl){ 0 };
	a->uids[a->n_uids++] = 0;
	if (geteuid() != 0)
		a->uids[a->n_uids++] = geteuid();
}

/* 'root @backup 1000' into a; returns 0 or -EINVAL with the bad word in err. */
static int acl_parse(char *list, struct coord_acl *a, char *err, size_t errlen)
{
	char *save = NULL;

	*a = (struct coord_acl){ 0 };
	for (char *w = strtok_r(list, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		char *end;

		if (w[0] == '@') {
			struct group *g = getgrnam(w + 1);
			long v = strtol(w + 1, &end, 10);

			if (a->n_gids == COORD_MAX_ACL)
				goto too_many;
			if (g)
				a->gids[a->n_gids++] = g->gr_gid;
			else if (w[1] && !*end && v >= 0)
				a->gids[a->n_gids++] = (gid_t)v;
			else
				goto unknown_group;
		} else {
			struct passwd *p = getpwnam(w);
			long v = strtol(w, &end, 10);

			if (a->n_uids == COORD_MAX_ACL)
				goto too_many;
			if (p)
				a->uids[a->n_uids++] = p->pw_uid;
			else if (!*end && v >= 0)
				a->uids[a->n_uids++] = (uid_t)v;
			else
				goto unknown_user;
		}
		continue;
unknown_group:
		snprintf(err, errlen, "unknown group '%.64s'", w + 1);
		return -EINVAL;
unknown_user:
		snprintf(err, errlen, "unknown user '%.64s'", w);
		return -EINVAL;
	}
	return 0;
too_many:
	snprintf(err, errlen, "more than %d users or groups", COORD_MAX_ACL);
	return -E2BIG;
}

/* Seconds (decimals allowed) into milliseconds, 1 ms .. 1 day. */
static int parse_seconds(const char *v, unsigned *ret, bool zero_ok)
{
	char *end;
	double s = strtod(v, &end);

	if (end == v || *end || !(s >= 0 && s <= 86400) || (!zero_ok && s * 1000 < 1))
		return -EINVAL;
	*ret = (unsigned)(s * 1000 + 0.5);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int coord_config_load(const char *path, struct coord_config *cfg, char *err, size_t errlen)
{
	const char *env = getenv("SNAPFS_CONFIG");
	bool must = path || (env && *env);
	char line[4096], why[256];
	unsigned lineno = 0, ms;
	FILE *f;
	int r = 0;

	*cfg = (struct coord_config){ .freeze_ms = 60000, .hold_ms = 10000 };
	acl_default(&cfg->writers);
	acl_default(&cfg->requesters);
	if (!path)
		path = env && *env ? env : DEFAULT_CONFIG;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must)
			return 0;
		r = -errno;
		snprintf(err, errlen, "configuration '%s': %s", path, strerror(-r));
		return r;
	}
	while (r == 0 && fgets(line, sizeof(line), f)) {
		char *key, *val, *eq;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(why, sizeof(why), "line longer than %zu bytes", sizeof(line) - 2);
			r = -EINVAL;
			break;
		}
		if (strchr(line, '#'))
			*strchr(line, '#') = '\0';
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(why, sizeof(why), "expected 'key = value'");
			r = -EINVAL;
			break;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		why[0] = '\0';
		if (strcmp(key, "freeze_timeout") == 0) {
			r = parse_seconds(val, &cfg->freeze_ms, false);
		} else if (strcmp(key, "hold_timeout") == 0) {
			r = parse_seconds(val, &cfg->hold_ms, false);
			if (r == 0 && cfg->hold_ms > COORD_HOLD_MAX_MS) {
				snprintf(why, sizeof(why), "hold_timeout is at most %d s",
					 COORD_HOLD_MAX_MS / 1000);
				r = -EINVAL;
			}
		} else if (strcmp(key, "idle_exit") == 0) {
			r = parse_seconds(val, &ms, true);
			if (r == 0)
				cfg->idle_exit_s = (ms + 999) / 1000;
		} else if (strcmp(key, "writers") == 0) {
			r = acl_parse(val, &cfg->writers, why, sizeof(why));
		} else if (strcmp(key, "requesters") == 0) {
			r = acl_parse(val, &cfg->requesters, why, sizeof(why));
		} else {
			snprintf(why, sizeof(why), "unknown key '%.64s'", key);
			r = -EINVAL;
		}
		if (r < 0 && !why[0])
			snprintf(why, sizeof(why), "bad value '%.64s' for '%s'", val, key);
	}
	if (r == 0 && ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "configuration '%s': cannot read it", path);
	} else if (r < 0) {
		snprintf(err, errlen, "configuration '%s', line %u: %s", path, lineno, why);
	}
	fclose(f);
	return r;
}
