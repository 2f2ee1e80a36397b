/*
 * snapfs-writer-postgres: the writer of a PostgreSQL cluster. Its component is the cluster's
 * data directory (with pg_wal and the tablespaces when they live elsewhere). It owns one libpq
 * connection per freeze and nothing of the cluster's files.
 *
 * Why a CHECKPOINT and no more. A snapshot set is one point in time for every file of its
 * volumes, pg_wal included: to PostgreSQL it is what the disk held at a power cut, and a server
 * started on a copy of it recovers by replaying the WAL from the last checkpoint, as after a
 * crash. That is sound on its own (PostgreSQL's durability rests on it) as long as every file
 * of the cluster is in the set, which freeze checks. What the writer adds is a short recovery:
 * freeze runs CHECKPOINT, so little WAL lies past the checkpoint the copy starts from.
 *
 * Not pg_backup_start()/pg_backup_stop(): their backup_label would have to be inside the
 * snapshot to mean anything, snapshots are read-only, and writing it into the live data
 * directory would make the live server, should it crash, start from the backup's checkpoint.
 * A backup taken from the snapshot as a crash-consistent image needs no label.
 *
 * freeze: a cluster with no file on the set's volumes is left alone; one with only some of its
 * files there fails the freeze (its snapshot could not be recovered). Otherwise: connect (an
 * unreachable server fails the freeze: "cannot connect to PostgreSQL at ...: ..."), check that
 * the server serves --pgdata, CHECKPOINT, disconnect. Nothing is held, so thaw and abort have
 * nothing to undo.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common.h"

#define MAX_PATHS 64
#define CONNECT_TIMEOUT_S "10"

struct pg_writer {
	char pgdata[PATH_MAX];          /* canonical */
	const char *host;
	const char *port;
	const char *user;
	const char *dbname;
	char *paths[MAX_PATHS];         /* the cluster's directories; [0] is pgdata */
	size_t n_paths;
	struct common_set set;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfs-writer-postgres [--name N] --pgdata DIR [--port P] [--host H]\n"
		     "                              [--user U] [--dbname D]\n"
		     "\n"
		     "The snapfs writer of a PostgreSQL cluster: before each snapshot set of the\n"
		     "volumes that hold its data directory, it runs CHECKPOINT, so that a server\n"
		     "started on the snapshot recovers quickly.\n"
		     "\n"
		     "  --name N     the writer's name (default 'postgres')\n"
		     "  --pgdata DIR the cluster's data directory\n"
		     "  --port P     the server's port (default 5432)\n"
		     "  --host H     its socket directory or host (default /var/run/postgresql)\n"
		     "  --user U     the role to connect as, one allowed to CHECKPOINT (default\n"
		     "               postgres)\n"
		     "  --dbname D   the database to connect to (default postgres)\n");
}

/* ---- the cluster's files ---------------------------------------------------------------- */

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Add the canonical target of pgdata/rel to the paths if it lies outside pgdata. */
static int add_outside(struct pg_writer *pw, const char *rel)
{
	char link[PATH_MAX + 64], real[PATH_MAX];

	snprintf(link, sizeof(link), "%s/%s", pw->pgdata, rel);
	if (!realpath(link, real) || is_under(real, pw->pgdata))
		return 0;
	for (size_t i = 0; i < pw->n_paths; i++)
		if (strcmp(pw->paths[i], real) == 0)
			return 0;
	if (pw->n_paths == MAX_PATHS)
		return -E2BIG;
	pw->paths[pw->n_paths] = strdup(real);
	if (!pw->paths[pw->n_paths])
		return -ENOMEM;
	pw->n_paths++;
	return 0;
}

/* Find the cluster's directories again: pgdata, pg_wal, pg_tblspc's links. */
static int find_paths(struct pg_writer *pw)
{
	struct dirent *de;
	char dir[PATH_MAX + 16];
	DIR *d;
	int r;

	for (size_t i = 1; i < pw->n_paths; i++)
		free(pw->paths[i]);
	pw->n_paths = 1;
	r = add_outside(pw, "pg_wal");
	snprintf(dir, sizeof(dir), "%s/pg_tblspc", pw->pgdata);
	d = opendir(dir);
	while (r == 0 && d && (de = readdir(d))) {
		char rel[NAME_MAX + 16];

		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "pg_tblspc/%s", de->d_name);
		r = add_outside(pw, rel);
	}
	if (d)
		(void)closedir(d);
	return r;
}

static int describe(struct snap_writer *w, struct pg_writer *pw)
{
	int r = find_paths(pw);

	snap_writer_clear_components(w);
	for (size_t i = 0; i < pw->n_paths && r == 0; i++)
		r = snap_writer_add_component(w, "cluster", "PostgreSQL cluster", pw->paths[i]);
	return r;
}

/* ---- the server ------------------------------------------------------------------------- */

/* libpq's message (lines, maybe indented) on one line: each run of white space one space. */
static const char *pq_message(const char *msg, char *buf, size_t len)
{
	size_t n = 0;

	for (const char *p = msg ? msg : ""; *p && n + 1 < len; p++) {
		bool space = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';

		if (!space)
			buf[n++] = *p;
		else if (n && buf[n - 1] != ' ')
			buf[n++] = ' ';
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* Run sql; 0 and the first value of its first row (if any) in val, or a failure. */
static int query(struct snap_writer *w, PGconn *conn, const char *sql, char *val, size_t len)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	char msg[512];
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = snap_writer_fail(w, -EIO, "%s failed: %s", sql,
				     pq_message(PQresultErrorMessage(res), msg, sizeof(msg)));
	else if (val)
		snprintf(val, len, "%s", st == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
						 PQnfields(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return r;
}

/* Connect, check the data directory, CHECKPOINT. 0, or a failure. */
static int checkpoint(struct snap_writer *w, struct pg_writer *pw, const char *set_id)
{
	static const char *const keys[] = { "host", "port", "user", "dbname", "connect_timeout",
					     "application_name", NULL };
	const char *values[] = { pw->host, pw->port, pw->user, pw->dbname, CONNECT_TIMEOUT_S,
				 "snapfs-writer", NULL };
	char msg[512], dir[PATH_MAX], real[PATH_MAX];
	long long start = common_now_ms();
	PGconn *conn;
	int r;

	conn = PQconnectdbParams(keys, values, 0);
	if (!conn)
		return snap_writer_fail(w, -ENOMEM, "cannot connect to PostgreSQL: out of memory");
	if (PQstatus(conn) != CONNECTION_OK) {
		r = snap_writer_fail(w, -ECONNREFUSED, "cannot connect to PostgreSQL at '%s' port "
				     "%s as '%s': %s", pw->host, pw->port, pw->user,
				     pq_message(PQerrorMessage(conn), msg, sizeof(msg)));
		goto out_finish;
	}
	r = query(w, conn, "SHOW data_directory", dir, sizeof(dir));
	if (r < 0)
		goto out_finish;
	if (!realpath(dir, real))
		snprintf(real, sizeof(real), "%s", dir);
	if (strcmp(real, pw->pgdata) != 0) {
		r = snap_writer_fail(w, -EINVAL, "the server at '%s' port %s serves '%s', not "
				     "--pgdata '%s'", pw->host, pw->port, real, pw->pgdata);
		goto out_finish;
	}
	r = query(w, conn, "CHECKPOINT", NULL, 0);
	if (r < 0)
		goto out_finish;
	common_log("set '%s': CHECKPOINT of '%s' (server %d) done in %lld ms", set_id, pw->pgdata,
		   PQserverVersion(conn), common_now_ms() - start);
out_finish:
	PQfinish(conn);
	return r;
}

/* ---- events ----------------------------------------------------------------------------- */

static int on_identify(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	int r = describe(w, ctx);

	if (r < 0)
		return snap_writer_fail(w, r, "cannot describe the cluster: %s", strerror(-r));
	return 0;
}

static int on_volumes(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct pg_writer *pw = ctx;
	int r = common_set_note(&pw->set, ev);

	if (r == 0 && ev->kind == SNAP_EVENT_PREPARE_SNAPSHOT)
		r = find_paths(pw);
	if (r < 0)
		return snap_writer_fail(w, r, "%s: %s", ev->name, strerror(-r));
	return 0;
}

static int on_freeze(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct pg_writer *pw = ctx;
	const char *const *vols = (const char *const *)pw->set.volumes;
	const char *outside = NULL;
	size_t in = 0;
	int r;

	if (common_set_note(&pw->set, ev) == 0 && common_set_is(&pw->set, ev)) {
		for (size_t i = 0; i < pw->n_paths; i++) {
			if (common_volume_of(vols, pw->set.n_volumes, pw->paths[i], NULL) >= 0)
				in++;
			else
				outside = pw->paths[i];
		}
		if (!in) {
			common_log("set '%s': the cluster is on none of its volumes", ev->set_id);
			return 0;
		}
		if (outside)
			return snap_writer_fail(w, -EXDEV, "the cluster's '%s' is on no volume "
						"of the set, so its snapshot could not be "
						"recovered", outside);
	}
	r = checkpoint(w, pw, ev->set_id);
	if (r < 0)
		common_log("set '%s': freeze failed: %s", ev->set_id, snap_writer_error(w));
	return r;
}

static int on_abort(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct pg_writer *pw = ctx;

	common_set_release(&pw->set);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "pgdata", required_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'U' },
		{ "dbname", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct snap_writer_callbacks cb = {
		.identify = on_identify,
		.prepare_backup = on_volumes,
		.prepare_snapshot = on_volumes,
		.freeze = on_freeze,
		.post_snapshot = on_volumes,
		.abort = on_abort,
	};
	struct pg_writer pw = { .host = "/var/run/postgresql", .port = "5432",
				.user = "postgres", .dbname = "postgres" };
	const char *name = "postgres", *pgdata = NULL;
	struct snap_writer *w;
	char *end;
	int c, r, status;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'D':
			pgdata = optarg;
			break;
		case 'p':
			if (strtoul(optarg, &end, 10) - 1 > 65534 || *end || !*optarg) {
				fprintf(stderr, "snapfs-writer-postgres: bad --port '%s'\n",
					optarg);
				return EXIT_FAILURE;
			}
			pw.port = optarg;
			break;
		case 'H':
			pw.host = optarg;
			break;
		case 'U':
			pw.user = optarg;
			break;
		case 'd':
			pw.dbname = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "snapfs-writer-postgres: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (!pgdata) {
		fprintf(stderr, "snapfs-writer-postgres: --pgdata DIR is needed\n");
		usage(stderr);
		return EXIT_FAILURE;
	}
	common_log_name(name);
	if (!realpath(pgdata, pw.pgdata)) {
		common_log("data directory '%s': %s", pgdata, strerror(errno));
		return EXIT_FAILURE;
	}
	pw.paths[0] = pw.pgdata;
	pw.n_paths = 1;
	w = common_writer_new(name, &cb, &pw);
	if (!w)
		return EXIT_FAILURE;
	r = describe(w, &pw);
	if (r < 0) {
		common_log("cannot describe the cluster: %s", strerror(-r));
		snap_writer_free(w);
		return EXIT_FAILURE;
	}
	common_stop_on_signals(w);
	common_log("serving the cluster in '%s' (server at '%s' port %s, %zu directories)",
		   pw.pgdata, pw.host, pw.port, pw.n_paths);
	status = common_run(w);
	common_set_release(&pw.set);
	for (size_t i = 1; i < pw.n_paths; i++)
		free(pw.paths[i]);
	snap_writer_free(w);
	return status;
}
