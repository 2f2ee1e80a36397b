/*
 * transfer.c: 'snapfs export ID FILE' and 'snapfs import FILE', a snapshot carried to another
 * machine (or another state directory) as one checksummed file (src/transport.h,
 * docs/transport.md). On a terminal, stderr shows the progress; elsewhere nothing but the
 * result is printed.
 */
#include "transfer.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "transport.h"

static const char export_usage[] =
	"usage: snapfs export ID FILE\n"
	"\n"
	"Write snapshot ID (of any snapfs volume, or a detached one) to FILE, which must\n"
	"not exist: its whole tree (data, owners, modes, times, xattrs, hard links) and\n"
	"its metadata, with a SHA-256 checksum of the whole. 'snapfs import FILE' makes it\n"
	"a read-only detached snapshot, on this machine or another.\n";

static const char import_usage[] =
	"usage: snapfs import FILE\n"
	"\n"
	"Check the export FILE against its checksum and make it a read-only detached\n"
	"snapshot, kept in the state directory ($SNAPFS_STATE_DIR, else /var/lib/snapfs):\n"
	"'snapfs list shadows' lists it and 'snapfs expose' mounts it. A damaged or altered\n"
	"file is refused, and nothing is kept of it.\n";

struct progress {
	const char *what;
	struct timespec last;
	bool shown;
};

/* At most 5 times a second: "exporting: 12.0 MiB of 40.0 MiB (30%)". */
static void show_progress(uint64_t done, uint64_t total, void *ctx)
{
	struct progress *p = ctx;
	struct timespec now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	if (done < total && p->shown && (now.tv_sec - p->last.tv_sec) * 1000 +
	    (now.tv_nsec - p->last.tv_nsec) / 1000000 < 200)
		return;
	p->last = now;
	p->shown = true;
	fprintf(stderr, "\r%s: %.1f MiB of %.1f MiB (%" PRIu64 "%%)", p->what,
		(double)done / 1048576, (double)total / 1048576,
		total ? done * 100 / total : 100);
}

static void no_progress(uint64_t done, uint64_t total, void *ctx)
{
	(void)done;
	(void)total;
	(void)ctx;
}

static bool is_help(int argc, char **argv)
{
	return argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
}

int cmd_export(int argc, char **argv)
{
	struct progress p = { .what = "exporting" };
	bool tty = isatty(STDERR_FILENO);
	struct transport_meta m = { 0 };
	struct admin_shadow s;
	char msg[ADMIN_MSG], tree[PATH_MAX];
	int r;

	if (is_help(argc, argv)) {
		fputs(export_usage, stdout);
		return EXIT_SUCCESS;
	}
	if (argc != 3) {
		fprintf(stderr, "snapfs export: expected ID and FILE (see 'snapfs export --help')\n");
		return EXIT_FAILURE;
	}
	if (admin_find_shadow(argv[1], &s, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs export: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (admin_shadow_tree(&s, tree, sizeof(tree)) < 0) {
		fprintf(stderr, "snapfs export: the path of snapshot '%s' is too long\n", s.id);
		return EXIT_FAILURE;
	}
	snprintf(m.id, sizeof(m.id), "%s", s.id);
	snprintf(m.set_id, sizeof(m.set_id), "%s", s.set_id);
	snprintf(m.browse, sizeof(m.browse), "%s", s.browse);
	snprintf(m.origin, sizeof(m.origin), "%s", s.origin);
	m.created_ns = s.created_ns;
	(void)gethostname(m.host, sizeof(m.host) - 1);
	r = transport_export(tree, &m, argv[2], tty ? show_progress : no_progress, &p, msg,
			     sizeof(msg));
	if (p.shown)
		fputc('\n', stderr);
	if (r < 0) {
		fprintf(stderr, "snapfs export: %s\n", msg);
		return EXIT_FAILURE;
	}
	printf("exported snapshot %s of '%s' to '%s'\n", s.id, s.origin, argv[2]);
	return EXIT_SUCCESS;
}

int cmd_import(int argc, char **argv)
{
	struct progress p = { .what = "importing" };
	bool tty = isatty(STDERR_FILENO);
	struct transport_meta m;
	char msg[ADMIN_MSG], store[PATH_MAX];
	int r;

	if (is_help(argc, argv)) {
		fputs(import_usage, stdout);
		return EXIT_SUCCESS;
	}
	if (argc != 2) {
		fprintf(stderr, "snapfs import: expected FILE (see 'snapfs import --help')\n");
		return EXIT_FAILURE;
	}
	if (admin_detached_store(store, sizeof(store), msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs import: %s\n", msg);
		return EXIT_FAILURE;
	}
	r = transport_import(argv[1], store, &m, tty ? show_progress : no_progress, &p, msg,
			     sizeof(msg));
	if (p.shown)
		fputc('\n', stderr);
	if (r < 0) {
		fprintf(stderr, "snapfs import: %s\n", msg);
		return EXIT_FAILURE;
	}
	printf("imported snapshot %s of '%s' (set %s, from %s)\n", m.id, m.origin, m.set_id,
	       m.host[0] ? m.host : "an unnamed machine");
	return EXIT_SUCCESS;
}
