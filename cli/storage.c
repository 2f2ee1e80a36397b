/*
 * storage.c: VssAdmin's shadow storage commands and 'list volumes'. A snapfs volume's shadow
 * storage is its diff area (SRC/.snapfs, or the directory named at its first mount); it always
 * exists, so what these commands manage is its bound, the volume's 'maxsize' property:
 *   add shadowstorage      bound a volume whose diff area is unbounded
 *   resize shadowstorage   change the bound (or lift it: unbounded)
 *   delete shadowstorage   delete every snapshot of the volume and lift the bound
 * A size is bytes with an optional K, M, G or T (also KB, MB, ...: powers of 1024), a
 * percentage of the filesystem that holds the diff area (20%), or 'unbounded'.
 * '--on DIR' is accepted when DIR is where the diff area already is: its place is chosen when
 * the volume is first mounted (--diff-area) and never moves.
 */
#include "storage.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

#include "admin.h"

static const char storage_usage[] =
	"usage: snapfs add shadowstorage --for MNT [--on DIR] --maxsize SIZE\n"
	"       snapfs resize shadowstorage --for MNT [--on DIR] --maxsize SIZE\n"
	"       snapfs delete shadowstorage --for MNT [--on DIR]\n"
	"       snapfs list shadowstorage [-H] [MNT]\n"
	"\n"
	"A volume's shadow storage is its diff area, where snapshots keep the data the\n"
	"volume has changed since. 'add' bounds an unbounded one, 'resize' changes the\n"
	"bound, 'delete' deletes every snapshot of the volume and lifts the bound. When a\n"
	"bound is reached the oldest snapshots are deleted, never a live write refused.\n"
	"\n"
	"  --for MNT       the snapfs volume\n"
	"  --on DIR        where the diff area is (it cannot move: its place is chosen at\n"
	"                  the first mount with --diff-area)\n"
	"  --maxsize SIZE  bytes, with K, M, G or T (10G); a percentage of the filesystem\n"
	"                  holding the diff area (20%); or unbounded\n"
	"  -H              one volume per line, tab-separated: volume, diff area, used\n"
	"                  bytes, the bound as set (0: unbounded)\n";

static const char volumes_usage[] =
	"usage: snapfs list volumes [-H]\n"
	"\n"
	"List the mounted snapfs volumes: mount point, the directory served, provider,\n"
	"and how many snapshots each holds. -H: tab-separated, no headings.\n";

/* Whether a maxsize value means no bound. */
static bool unbounded(const char *v)
{
	return strcmp(v, "0") == 0 || strcasecmp(v, "unbounded") == 0 || !*v;
}

/* One property of v into buf; 0 or -1 after saying why. */
static int get_prop(const char *cmd, const struct control_volume *v, const char *name,
		    char *buf, size_t size)
{
	struct control_reply rep;
	char line[64], msg[ADMIN_MSG];
	size_t n = strlen(name);

	snprintf(line, sizeof(line), "get %s", name);
	if (admin_request(v, line, &rep, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs %s: %s\n", cmd, msg);
		return -1;
	}
	if (rep.n != 1 || strncmp(rep.lines[0], "prop ", 5) != 0 ||
	    strncmp(rep.lines[0] + 5, name, n) != 0 || rep.lines[0][5 + n] != ' ') {
		fprintf(stderr, "snapfs %s: the daemon of '%s' sent a malformed reply\n", cmd,
			v->mnt);
		control_reply_release(&rep);
		return -1;
	}
	snprintf(buf, size, "%s", rep.lines[0] + 6 + n);
	control_reply_release(&rep);
	return 0;
}

static int set_prop(const char *cmd, const struct control_volume *v, const char *name,
		    const char *value)
{
	struct control_reply rep;
	char line[128], msg[ADMIN_MSG];

	snprintf(line, sizeof(line), "set %s %s", name, value);
	if (admin_request(v, line, &rep, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs %s: %s\n", cmd, msg);
		return -1;
	}
	control_reply_release(&rep);
	return 0;
}

/*
 * SIZE in bytes (0 for unbounded) for the diff area in dir; -1 after saying why. A bound
 * below one MiB would leave no room for one chunk and its catalog, and is refused.
 */
static int64_t parse_maxsize(const char *cmd, const char *s, const char *dir)
{
	static const char units[] = "KMGT";
	unsigned long long v, mult = 1;
	const char *u;
	char *end;

	if (strcasecmp(s, "unbounded") == 0)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		goto bad;
	if (*end == '%' && end[1] == '\0') {
		struct statvfs sv;

		if (v < 1 || v > 100) {
			fprintf(stderr, "snapfs %s: a percentage is from 1%% to 100%%, not '%s'\n",
				cmd, s);
			return -1;
		}
		if (statvfs(dir, &sv) < 0) {
			fprintf(stderr, "snapfs %s: cannot measure the filesystem of '%s': %s\n",
				cmd, dir, strerror(errno));
			return -1;
		}
		mult = (unsigned long long)sv.f_blocks * sv.f_frsize / 100 * v;
		if (mult < (1u << 20)) {
			fprintf(stderr, "snapfs %s: %s of the filesystem of '%s' is below 1M and "
					"leaves no room for one snapshot's data\n", cmd, s, dir);
			return -1;
		}
		return (int64_t)mult;
	}
	if (*end) {
		u = strchr(units, end[0] & ~0x20);
		if (!u || !(end[1] == '\0' || ((end[1] & ~0x20) == 'B' && end[2] == '\0')))
			goto bad;
		for (const char *k = units; k <= u; k++)
			mult *= 1024;
	}
	if (v > (unsigned long long)INT64_MAX / mult)
		goto bad;
	if (v * mult < (1u << 20)) {
		fprintf(stderr, "snapfs %s: a bound below 1M ('%s') leaves no room for one "
				"snapshot's data\n", cmd, s);
		return -1;
	}
	return (int64_t)(v * mult);
bad:
	fprintf(stderr, "snapfs %s: bad size '%s' (bytes with K, M, G or T, a percentage such "
			"as 20%%, or unbounded)\n", cmd, s);
	return -1;
}

static int shadowstorage_list(int argc, char **argv)
{
	struct control_volume *vols = NULL, one;
	char used[32], max[32], dir[PATH_MAX], msg[ADMIN_MSG];
	bool tabs = false;
	const char *mnt = NULL;
	int n, rc = EXIT_SUCCESS;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(storage_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0)
			tabs = true;
		else if (argv[i][0] != '-' && !mnt)
			mnt = argv[i];
		else {
			fprintf(stderr, "snapfs list shadowstorage: unexpected argument '%s'\n",
				argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (mnt) {
		if (admin_volume(mnt, &one, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs list shadowstorage: %s\n", msg);
			return EXIT_FAILURE;
		}
		vols = &one;
		n = 1;
	} else if ((n = control_volume_list(&vols)) < 0) {
		fprintf(stderr, "snapfs list shadowstorage: cannot read the mount table: %s\n",
			strerror(-n));
		return EXIT_FAILURE;
	}
	for (int i = 0; i < n; i++) {
		if (get_prop("list shadowstorage", &vols[i], "diffareaused", used, sizeof(used)) < 0 ||
		    get_prop("list shadowstorage", &vols[i], "maxsize", max, sizeof(max)) < 0 ||
		    get_prop("list shadowstorage", &vols[i], "diffarea", dir, sizeof(dir)) < 0) {
			rc = EXIT_FAILURE;
			continue;
		}
		if (tabs)
			printf("%s\t%s\t%s\t%s\n", vols[i].mnt, dir, used, unbounded(max) ? "0" : max);
		else
			printf("%sShadow storage of %s\n  Diff area:  %s\n  Used:       %s bytes\n"
			       "  Maximum:    %s\n", i ? "\n" : "", vols[i].mnt, dir, used,
			       unbounded(max) ? "unbounded" : max);
	}
	if (vols != &one)
		free(vols);
	return rc;
}

int cmd_shadowstorage(int argc, char **argv)
{
	const char *verb = argv[0], *mnt = NULL, *on = NULL, *size = NULL;
	char cmd[64], dir[PATH_MAX], cur[32], value[32], msg[ADMIN_MSG];
	struct control_volume v;
	bool del = strcmp(verb, "delete") == 0;
	int64_t bytes = 0;

	snprintf(cmd, sizeof(cmd), "%.16s shadowstorage", verb ? verb : "");
	if (strcmp(verb, "list") == 0)
		return shadowstorage_list(argc, argv);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = strcmp(a, "--for") == 0 ? &mnt : strcmp(a, "--on") == 0 ? &on :
				   strcmp(a, "--maxsize") == 0 && !del ? &size : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(storage_usage, stdout);
			return EXIT_SUCCESS;
		}
		if (!dst || i + 1 == argc) {
			fprintf(stderr, "snapfs %s: %s '%s' (see 'snapfs %s --help')\n", cmd,
				dst ? "a value is missing after" : "unexpected argument", a, cmd);
			return EXIT_FAILURE;
		}
		*dst = argv[++i];
	}
	if (!mnt || (!del && !size)) {
		fprintf(stderr, "snapfs %s: expected --for MNT%s (see 'snapfs %s --help')\n", cmd,
			del ? "" : " and --maxsize SIZE", cmd);
		return EXIT_FAILURE;
	}
	if (admin_volume(mnt, &v, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs %s: %s\n", cmd, msg);
		return EXIT_FAILURE;
	}
	if (get_prop(cmd, &v, "diffarea", dir, sizeof(dir)) < 0 ||
	    get_prop(cmd, &v, "maxsize", cur, sizeof(cur)) < 0)
		return EXIT_FAILURE;
	if (on) {
		char real[PATH_MAX];

		if (!realpath(on, real) || strcmp(real, dir) != 0) {
			fprintf(stderr, "snapfs %s: the diff area of '%s' is in '%s' and cannot move "
					"to '%s' (it is chosen at the first mount: --diff-area)\n",
				cmd, v.mnt, dir, on);
			return EXIT_FAILURE;
		}
	}
	if (size && (bytes = parse_maxsize(cmd, size, dir)) < 0)
		return EXIT_FAILURE;
	if (strcmp(verb, "add") == 0 && !unbounded(cur)) {
		fprintf(stderr, "snapfs %s: the shadow storage of '%s' is bounded already (at %s); "
				"'snapfs resize shadowstorage' changes it\n", cmd, v.mnt, cur);
		return EXIT_FAILURE;
	}
	if (del) {
		struct admin_shadow *s;
		size_t n;

		if (admin_shadows(&v, &s, &n, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs %s: %s\n", cmd, msg);
			return EXIT_FAILURE;
		}
		for (size_t i = 0; i < n; i++) {
			if (admin_delete(&s[i], msg, sizeof(msg)) < 0) {
				fprintf(stderr, "snapfs %s: %s (%zu of %zu snapshots deleted)\n", cmd,
					msg, i, n);
				free(s);
				return EXIT_FAILURE;
			}
		}
		free(s);
		printf("deleted %zu snapshot%s of '%s'\n", n, n == 1 ? "" : "s", v.mnt);
	}
	snprintf(value, sizeof(value), "%" PRId64, bytes);
	if (set_prop(cmd, &v, "maxsize", value) < 0)
		return EXIT_FAILURE;
	if (bytes)
		printf("the shadow storage of '%s' is bounded at %" PRId64 " bytes\n", v.mnt, bytes);
	else
		printf("the shadow storage of '%s' is unbounded\n", v.mnt);
	return EXIT_SUCCESS;
}

int cmd_list_volumes(int argc, char **argv)
{
	struct control_volume *vols = NULL;
	char prov[64], msg[ADMIN_MSG];
	bool tabs = argc == 3 && strcmp(argv[2], "-H") == 0;
	int n, rc = EXIT_SUCCESS;

	if (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
		fputs(volumes_usage, stdout);
		return EXIT_SUCCESS;
	}
	if (argc > 3 || (argc == 3 && !tabs)) {
		fprintf(stderr, "snapfs list volumes: unexpected argument '%s'\n", argv[argc - 1]);
		return EXIT_FAILURE;
	}
	n = control_volume_list(&vols);
	if (n < 0) {
		fprintf(stderr, "snapfs list volumes: cannot read the mount table: %s\n",
			strerror(-n));
		return EXIT_FAILURE;
	}
	if (!tabs)
		printf("%-30s %-30s %-8s %s\n", "VOLUME", "SERVES", "PROVIDER", "SNAPSHOTS");
	for (int i = 0; i < n; i++) {
		struct admin_shadow *s;
		size_t k;

		if (get_prop("list volumes", &vols[i], "provider", prov, sizeof(prov)) < 0) {
			rc = EXIT_FAILURE;
			continue;
		}
		if (admin_shadows(&vols[i], &s, &k, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs list volumes: %s\n", msg);
			rc = EXIT_FAILURE;
			continue;
		}
		free(s);
		if (tabs)
			printf("%s\t%s\t%s\t%zu\n", vols[i].mnt, vols[i].src, prov, k);
		else
			printf("%-30s %-30s %-8s %zu\n", vols[i].mnt, vols[i].src, prov, k);
	}
	free(vols);
	return rc;
}
