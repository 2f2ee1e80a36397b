/*
 * testwriter: a writer for the integration tests, built on include/snapfs/writer.h. It registers
 * with the coordinator under --name, covers the --path components, and serves events until
 * SIGTERM or SIGINT. Each event received is appended to the --log file as one line,
 * 'EVENT SET_ID' ('-' when the event has no set id yet), before the event is acted on; so a
 * test reads there which events came, in which order, for which set.
 *
 *   testwriter --name N [--fail-in EVENT] [--hang-in EVENT SECONDS] [--log FILE] [--log-times]
 *              [--path P]...
 *
 * --fail-in EVENT fails that event with snap_writer_fail(w, -EIO, "told to fail in EVENT");
 * --hang-in EVENT SECONDS sleeps that long in it and then succeeds; a signal to stop ends the
 * sleep, and so does SIGUSR1, which releases this hang and every later one (a test hangs a
 * writer for long and releases it once it has seen what it waits for). EVENT is one of
 * identify, prepare-backup, prepare-snapshot, freeze, thaw, post-snapshot, backup-complete,
 * abort, pre-restore and post-restore. --log-times adds a third word to each log line: when the
 * event came, in nanoseconds since the epoch.
 *
 * Exit status: 0 after a stop, 1 when the coordinator refuses the writer or cannot be reached
 * (its message on stderr), 2 for bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "snapfs/writer.h"

#define MAX_PATHS 64

struct options {
	const char *name;
	const char *fail_in;
	const char *hang_in;
	double hang_s;
	const char *log;
	bool log_times;
	const char *paths[MAX_PATHS];
	size_t n_paths;
};

static const char *const event_names[] = {
	"identify", "prepare-backup",  "prepare-snapshot", "freeze",
	"thaw",     "post-snapshot",   "backup-complete",  "abort",
	"pre-restore", "post-restore",
};

static struct snap_writer *the_writer;
static volatile sig_atomic_t stopping, released;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	if (the_writer)
		snap_writer_stop(the_writer);
}

static void on_release(int sig)
{
	(void)sig;
	released = 1;
}

static bool is_event_name(const char *s)
{
	for (size_t i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strcmp(event_names[i], s) == 0)
			return true;
	return false;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: testwriter --name N [--fail-in EVENT] [--hang-in EVENT SECONDS] "
		     "[--log FILE] [--log-times] [--path P]...\n"
		     "EVENT: identify, prepare-backup, prepare-snapshot, freeze, thaw, "
		     "post-snapshot, backup-complete or abort\n");
}

/* Append 'EVENT SET_ID' to the log with one write, so that lines never interleave. */
static void log_event(const struct options *o, const struct snap_event *ev)
{
	char line[256], when[32] = "";
	struct timespec now;
	int fd, n;

	if (!o->log)
		return;
	if (o->log_times) {
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(when, sizeof(when), " %lld%09ld", (long long)now.tv_sec, now.tv_nsec);
	}
	n = snprintf(line, sizeof(line), "%s %s%s\n", ev->name,
		     ev->set_id && *ev->set_id ? ev->set_id : "-", when);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	fd = open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "testwriter: cannot open '%s': %s\n", o->log, strerror(errno));
		return;
	}
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "testwriter: cannot write '%s': %s\n", o->log, strerror(errno));
	(void)close(fd);
}

/*
 * Sleep s seconds, or less when told to stop or released. In steps of 10 ms: the signal may be
 * taken by another of the writer's threads, and so not interrupt this one's sleep.
 */
static void hang(double s)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };
	struct timespec now;
	double end;

	clock_gettime(CLOCK_MONOTONIC, &now);
	end = (double)now.tv_sec + (double)now.tv_nsec / 1e9 + s;
	while (!stopping && !released) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)now.tv_sec + (double)now.tv_nsec / 1e9 >= end)
			break;
		(void)nanosleep(&step, NULL);
	}
}

/* Every callback: log the event, then fail it, hang in it, or let it succeed. */
static int on_event(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	const struct options *o = ctx;

	log_event(o, ev);
	if (o->fail_in && strcmp(o->fail_in, ev->name) == 0)
		return snap_writer_fail(w, -EIO, "told to fail in %s", ev->name);
	if (o->hang_in && strcmp(o->hang_in, ev->name) == 0)
		hang(o->hang_s);
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has1 = i + 1 < argc, has2 = i + 2 < argc;

		if (strcmp(a, "--name") == 0 && has1) {
			o->name = argv[++i];
		} else if (strcmp(a, "--fail-in") == 0 && has1) {
			o->fail_in = argv[++i];
			if (!is_event_name(o->fail_in)) {
				fprintf(stderr, "testwriter: unknown event '%s'\n", o->fail_in);
				return -EINVAL;
			}
		} else if (strcmp(a, "--hang-in") == 0 && has2) {
			char *end;

			o->hang_in = argv[++i];
			o->hang_s = strtod(argv[++i], &end);
			if (!is_event_name(o->hang_in)) {
				fprintf(stderr, "testwriter: unknown event '%s'\n", o->hang_in);
				return -EINVAL;
			}
			if (end == argv[i] || *end || o->hang_s < 0 || o->hang_s > 86400) {
				fprintf(stderr, "testwriter: bad seconds '%s'\n", argv[i]);
				return -EINVAL;
			}
		} else if (strcmp(a, "--log") == 0 && has1) {
			o->log = argv[++i];
		} else if (strcmp(a, "--log-times") == 0) {
			o->log_times = true;
		} else if (strcmp(a, "--path") == 0 && has1) {
			if (o->n_paths == MAX_PATHS) {
				fprintf(stderr, "testwriter: at most %d paths\n", MAX_PATHS);
				return -E2BIG;
			}
			o->paths[o->n_paths++] = argv[++i];
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else {
			fprintf(stderr, "testwriter: unknown or incomplete argument '%s'\n", a);
			return -EINVAL;
		}
	}
	if (!o->name) {
		fprintf(stderr, "testwriter: --name is required\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct snap_writer_callbacks cb = {
		.identify = on_event,
		.prepare_backup = on_event,
		.prepare_snapshot = on_event,
		.freeze = on_event,
		.thaw = on_event,
		.post_snapshot = on_event,
		.abort = on_event,
		.backup_complete = on_event,
		.pre_restore = on_event,
		.post_restore = on_event,
	};
	struct sigaction sa = { .sa_handler = on_stop }; /* no SA_RESTART: a stop ends a hang */
	struct options o = { 0 };
	struct snap_writer *w;
	int r;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	w = snap_writer_new(o.name, &cb, &o);
	if (!w) {
		fprintf(stderr, "testwriter: cannot make writer '%s': %s\n", o.name,
			strerror(errno));
		return errno == EINVAL ? 2 : 1;
	}
	for (size_t i = 0; i < o.n_paths; i++) {
		char comp[32];

		snprintf(comp, sizeof(comp), "data%zu", i);
		r = snap_writer_add_component(w, comp, "test data", o.paths[i]);
		if (r < 0) {
			fprintf(stderr, "testwriter: bad path '%s': %s\n", o.paths[i],
				strerror(-r));
			snap_writer_free(w);
			return 2;
		}
	}
	the_writer = w;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_release;
	(void)sigaction(SIGUSR1, &sa, NULL);
	r = snap_writer_run(w);
	the_writer = NULL;
	if (r < 0)
		fprintf(stderr, "testwriter: %s\n", snap_writer_error(w));
	snap_writer_free(w);
	return r < 0 ? 1 : 0;
}
