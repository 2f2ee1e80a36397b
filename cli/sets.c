/*
 * sets.c: 'snapfs create' and 'snapfs list writers', a requester built on libsnapfs
 * (include/snapfs/requester.h): the coordinator runs the sequence with the writers and the
 * volumes; this prints what came of it.
 */
#include "sets.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapfs/requester.h"

#define MAX_ARGS 64
#define HOLD_MAX_S 600      /* the coordinator's bound on the write hold */

static const char create_usage[] =
	"usage: snapfs create [-H] [--bcd FILE] [--freeze-timeout S] [--hold-timeout S]\n"
	"                     [--exclude-writer NAME]... [--nowriters] MNT...\n"
	"       snapfs create [-H] --set SET_ID MNT\n"
	"\n"
	"Take a snapshot set of the snapfs volumes at MNT... (at most 64): through the\n"
	"coordinator, snapfsd (started when it is not running), every registered writer\n"
	"is asked to freeze its application's data, the writes of every volume are held\n"
	"while each records its snapshot, then the writers thaw. Either every volume has\n"
	"its snapshot or none has. Prints each snapshot's id, its set id, its browse name\n"
	"and its volume.\n"
	"\n"
	"  -H                    one line per snapshot: ID, SET, BROWSE and MNT, tab-separated\n"
	"  --bcd FILE            save the set's Backup Components Document (XML) in FILE\n"
	"  --freeze-timeout S    how long writers may take for each step (default: the\n"
	"                        service's, 60 s)\n"
	"  --hold-timeout S      how long the writes may be held (default: the service's, 10 s)\n"
	"  --exclude-writer NAME leave the writer NAME (or id) out; repeatable\n"
	"  --nowriters           leave every writer out\n"
	"  --set SET_ID          add a snapshot of one volume to the existing set SET_ID,\n"
	"                        directly and without writers\n";

static const char writers_usage[] =
	"usage: snapfs list writers [-H]\n"
	"\n"
	"List the writers registered with the coordinator: id, name, state, and the last\n"
	"error (the event that failed and why). With -H: tab-separated, no header.\n";

/* "2.5" seconds into milliseconds (1 ms .. 1 day); -1 when malformed. */
static long parse_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0.001) || v > 86400)
		return -1;
	return lround(v * 1000);
}

static int save_bcd(const char *path, const char *bcd)
{
	FILE *f = fopen(path, "we");
	int err = 0;

	if (!f)
		err = errno;
	else if (fputs(bcd, f) < 0)
		err = errno ? errno : EIO;
	if (f && fclose(f) != 0 && !err)
		err = errno;
	if (err) {
		fprintf(stderr, "snapfs create: cannot write the backup components document '%s': "
			"%s\n", path, strerror(err));
		return -1;
	}
	return 0;
}

int sets_create(int argc, char **argv)
{
	const char *mnts[MAX_ARGS + 1], *excluded[MAX_ARGS], *bcd = NULL;
	size_t n_mnts = 0, n_excl = 0;
	long freeze_ms = 0, hold_ms = 0;
	bool tabs = false, nowriters = false;
	struct snap_session *s;
	int rc = EXIT_FAILURE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(create_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(a, "-H") == 0) {
			tabs = true;
		} else if (strcmp(a, "--nowriters") == 0) {
			nowriters = true;
		} else if (strcmp(a, "--bcd") == 0 || strcmp(a, "--freeze-timeout") == 0 ||
			   strcmp(a, "--hold-timeout") == 0 || strcmp(a, "--exclude-writer") == 0) {
			if (!val) {
				fprintf(stderr, "snapfs create: %s needs a value\n", a);
				return EXIT_FAILURE;
			}
			i++;
			if (a[2] == 'b') {
				bcd = val;
			} else if (a[2] == 'e') {
				if (n_excl == MAX_ARGS) {
					fprintf(stderr, "snapfs create: at most %d writers excluded\n",
						MAX_ARGS);
					return EXIT_FAILURE;
				}
				excluded[n_excl++] = val;
			} else {
				long ms = parse_seconds(val);

				if (ms < 0) {
					fprintf(stderr, "snapfs create: bad %s '%s' (seconds)\n", a, val);
					return EXIT_FAILURE;
				}
				if (a[2] == 'h' && ms > HOLD_MAX_S * 1000) {
					fprintf(stderr, "snapfs create: bad %s '%s' (at most %d "
						"seconds)\n", a, val, HOLD_MAX_S);
					return EXIT_FAILURE;
				}
				*(a[2] == 'f' ? &freeze_ms : &hold_ms) = ms;
			}
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "snapfs create: unknown option '%s'\n", a);
			return EXIT_FAILURE;
		} else if (n_mnts == MAX_ARGS) {
			fprintf(stderr, "snapfs create: a snapshot set holds at most %d volumes\n",
				MAX_ARGS);
			return EXIT_FAILURE;
		} else {
			mnts[n_mnts++] = a;
		}
	}
	if (!n_mnts) {
		fprintf(stderr, "snapfs create: expected a mount point (see 'snapfs create "
				"--help')\n");
		return EXIT_FAILURE;
	}
	s = snap_session_new();
	if (!s) {
		fprintf(stderr, "snapfs create: out of memory\n");
		return EXIT_FAILURE;
	}
	if (snap_session_connect(s) < 0 ||
	    ((freeze_ms || hold_ms) &&
	     snap_session_set_timeouts(s, (unsigned)freeze_ms, (unsigned)hold_ms) < 0) ||
	    (nowriters && snap_session_exclude_writer(s, "*") < 0))
		goto fail;
	for (size_t i = 0; i < n_excl; i++)
		if (snap_session_exclude_writer(s, excluded[i]) < 0)
			goto fail;
	for (size_t i = 0; i < n_mnts; i++)
		if (snap_session_add_volume(s, mnts[i]) < 0)
			goto fail;
	if (snap_session_create(s) < 0)
		goto fail;
	if (bcd && save_bcd(bcd, snap_session_bcd(s)) < 0) {
		(void)snap_session_abort(s);
		goto out;
	}
	if (snap_session_complete(s) < 0)
		fprintf(stderr, "snapfs create: warning: %s\n", snap_session_error(s));
	for (size_t i = 0; i < snap_session_snapshots(s); i++) {
		const struct snap_snapshot_info *si = snap_session_snapshot(s, i);

		if (tabs)
			printf("%s\t%s\t%s\t%s\n", si->id, snap_session_set_id(s), si->browse,
			       si->volume);
		else
			printf("Snapshot ID: %s\n  Set ID:      %s\n  Volume:      %s\n"
			       "  Browse name: %s\n", si->id, snap_session_set_id(s), si->volume,
			       si->browse);
	}
	rc = EXIT_SUCCESS;
	goto out;
fail:
	fprintf(stderr, "snapfs create: %s\n", snap_session_error(s));
out:
	snap_session_free(s);
	return rc;
}

/* A field for the table: "-" when empty. */
static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

int sets_list_writers(int argc, char **argv)
{
	bool tabs = false;
	struct snap_session *s;
	int n, rc = EXIT_FAILURE;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(writers_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else {
			fprintf(stderr, "snapfs list writers: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	s = snap_session_new();
	if (!s) {
		fprintf(stderr, "snapfs list writers: out of memory\n");
		return EXIT_FAILURE;
	}
	if (snap_session_connect(s) < 0 || (n = snap_session_list_writers(s)) < 0) {
		fprintf(stderr, "snapfs list writers: %s\n", snap_session_error(s));
		goto out;
	}
	if (!tabs)
		printf("%-36s  %-16s  %-28s  %s\n", "ID", "NAME", "STATE", "LAST ERROR");
	for (int i = 0; i < n; i++) {
		const struct snap_writer_info *w = snap_session_writer(s, (size_t)i);

		if (tabs)
			printf("%s\t%s\t%s\t%s\n", w->id, w->name, w->state, w->last_error);
		else
			printf("%-36s  %-16s  %-28s  %s\n", w->id, w->name, w->state,
			       or_dash(w->last_error));
	}
	rc = EXIT_SUCCESS;
out:
	snap_session_free(s);
	return rc;
}
