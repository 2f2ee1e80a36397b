/*
 * A writer as a third party writes one, built against the installed libsnapfs through
 * pkg-config (tests/integration/libsnapfs.sh): it names one file as its component and notes
 * each event it gets in a log file, the log's path being its first argument.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <snapfs/writer.h>

static struct snap_writer *writer;

static int note(struct snap_writer *w, const struct snap_event *ev, void *log)
{
	if (fprintf(log, "%s %s\n", ev->name, ev->set_id) < 0 || fflush(log) != 0)
		return snap_writer_fail(w, -EIO, "cannot write the log");
	return 0;
}

static void stop(int sig)
{
	snap_writer_stop(writer);
}

int main(int argc, char **argv)
{
	struct snap_writer_callbacks cb = { .prepare_backup = note, .freeze = note, .thaw = note,
					    .post_snapshot = note, .backup_complete = note };
	FILE *log = argc == 3 ? fopen(argv[1], "a") : NULL;

	if (!log || !(writer = snap_writer_new("example", &cb, log)) ||
	    snap_writer_add_component(writer, "data", "The data file", argv[2]) < 0)
		return 2;
	signal(SIGTERM, stop);
	if (snap_writer_run(writer) < 0) {
		fprintf(stderr, "%s\n", snap_writer_error(writer));
		return 1;
	}
	snap_writer_free(writer);
	return 0;
}
