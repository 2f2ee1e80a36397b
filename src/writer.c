/*
 * writer.c: libsnapfs's writer side (include/snapfs/writer.h). A writer is one connection to
 * snapfsd: 'hello 1 writer NAME' with its metadata document, then events to answer, one at a
 * time, on the thread in snap_writer_run(). docs/coordinator.md has the messages.
 */
#include "snapfs/writer.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ipc.h"
#include "xmldoc.h"

#define SNAP_EXPORT __attribute__((visibility("default")))
#define ERR_MAX 512
#define MAX_COMPONENTS 1024
#define MAX_VOLUMES 64

struct snap_writer {
	char name[65];
	char id[40];
	struct snap_writer_callbacks cb;
	void *ctx;
	struct xmldoc_component *comps;
	size_t n_comps;
	int fd;
	int stop_fd;            /* eventfd: snap_writer_stop() */
	bool frozen;            /* between a freeze that succeeded and its thaw or abort */
	char frozen_set[40];    /* that freeze's set */
	char error[ERR_MAX];
};

static const struct {
	const char *name;
	enum snap_event_kind kind;
	size_t cb;              /* offset of the callback in struct snap_writer_callbacks */
} events[] = {
	{ "identify", SNAP_EVENT_IDENTIFY, offsetof(struct snap_writer_callbacks, identify) },
	{ "prepare-backup", SNAP_EVENT_PREPARE_BACKUP,
	  offsetof(struct snap_writer_callbacks, prepare_backup) },
	{ "prepare-snapshot", SNAP_EVENT_PREPARE_SNAPSHOT,
	  offsetof(struct snap_writer_callbacks, prepare_snapshot) },
	{ "freeze", SNAP_EVENT_FREEZE, offsetof(struct snap_writer_callbacks, freeze) },
	{ "thaw", SNAP_EVENT_THAW, offsetof(struct snap_writer_callbacks, thaw) },
	{ "post-snapshot", SNAP_EVENT_POST_SNAPSHOT,
	  offsetof(struct snap_writer_callbacks, post_snapshot) },
	{ "abort", SNAP_EVENT_ABORT, offsetof(struct snap_writer_callbacks, abort) },
	{ "backup-complete", SNAP_EVENT_BACKUP_COMPLETE,
	  offsetof(struct snap_writer_callbacks, backup_complete) },
	{ "pre-restore", SNAP_EVENT_PRE_RESTORE,
	  offsetof(struct snap_writer_callbacks, pre_restore) },
	{ "post-restore", SNAP_EVENT_POST_RESTORE,
	  offsetof(struct snap_writer_callbacks, post_restore) },
};

SNAP_EXPORT struct snap_writer *snap_writer_new(const char *name,
						const struct snap_writer_callbacks *cb, void *ctx)
{
	struct snap_writer *w;

	if (!name || !ipc_is_name(name, 64)) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0) {
		free(w);
		return NULL;
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
	if (cb)
		w->cb = *cb;
	w->ctx = ctx;
	w->fd = -1;
	return w;
}

SNAP_EXPORT void snap_writer_clear_components(struct snap_writer *w)
{
	for (size_t i = 0; i < w->n_comps; i++) {
		struct xmldoc_component *c = &w->comps[i];

		free(c->name);
		free(c->caption);
		for (size_t j = 0; j < c->n_paths; j++)
			free(c->paths[j]);
		free(c->paths);
	}
	free(w->comps);
	w->comps = NULL;
	w->n_comps = 0;
}

SNAP_EXPORT void snap_writer_free(struct snap_writer *w)
{
	if (!w)
		return;
	snap_writer_clear_components(w);
	if (w->fd >= 0)
		(void)close(w->fd);
	(void)close(w->stop_fd);
	free(w);
}

/* What the metadata schema takes: at most max characters (UTF-8), no control character. */
static bool is_text(const char *s, size_t max)
{
	size_t chars = 0;

	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
		if (((unsigned char)*s & 0xc0) != 0x80)
			chars++;
	}
	return chars <= max;
}

SNAP_EXPORT int snap_writer_add_component(struct snap_writer *w, const char *name,
					  const char *caption, const char *path)
{
	struct xmldoc_component *c = NULL;
	char **paths;

	if (!is_text(name, 128) || !*name || (caption && !is_text(caption, 1024)) || !path ||
	    path[0] != '/' || !is_text(path, 4096))
		return -EINVAL;
	for (size_t i = 0; i < w->n_comps; i++)
		if (strcmp(w->comps[i].name, name) == 0)
			c = &w->comps[i];
	if (!c) {
		struct xmldoc_component *nc;

		if (w->n_comps == MAX_COMPONENTS)
			return -E2BIG;
		nc = realloc(w->comps, (w->n_comps + 1) * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		w->comps = nc;
		c = &w->comps[w->n_comps];
		*c = (struct xmldoc_component){ .name = strdup(name),
						.caption = strdup(caption ? caption : "") };
		if (!c->name || !c->caption) {
			free(c->name);
			free(c->caption);
			return -ENOMEM;
		}
		w->n_comps++;
	}
	if (c->n_paths == MAX_COMPONENTS)
		return -E2BIG;
	paths = realloc(c->paths, (c->n_paths + 1) * sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	c->paths = paths;
	c->paths[c->n_paths] = strdup(path);
	if (!c->paths[c->n_paths])
		return -ENOMEM;
	c->n_paths++;
	return 0;
}

SNAP_EXPORT int snap_writer_fail(struct snap_writer *w, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	for (char *p = w->error; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return err < 0 && err > -4096 ? err : -EIO;
}

SNAP_EXPORT const char *snap_writer_id(const struct snap_writer *w)
{
	return w->id;
}

SNAP_EXPORT const char *snap_writer_error(const struct snap_writer *w)
{
	return w->error;
}

SNAP_EXPORT void snap_writer_stop(struct snap_writer *w)
{
	uint64_t one = 1;

	(void)!write(w->stop_fd, &one, sizeof(one));
}

static bool stopped(struct snap_writer *w)
{
	struct pollfd pfd = { .fd = w->stop_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

static char *metadata(struct snap_writer *w)
{
	struct xmldoc_wmd d = { .writer_id = w->id[0] ? w->id : (char *)"unregistered",
				.writer_name = w->name, .components = w->comps,
				.n_components = w->n_comps };

	return xmldoc_wmd_write(&d);
}

/*
 * Connect and register; 0, or a negative errno with w->error set. Only the first registration
 * starts the coordinator: one stopped later by its administrator stays stopped.
 */
static int do_register(struct snap_writer *w, bool start)
{
	char *wmd = metadata(w), *word[3];
	struct ipc_msg m;
	int fd, r, n;

	if (!wmd) {
		snprintf(w->error, sizeof(w->error), "writer '%s': out of memory", w->name);
		return -ENOMEM;
	}
	fd = ipc_connect(start, w->error, sizeof(w->error));
	if (fd < 0) {
		free(wmd);
		return fd;
	}
	r = ipc_sendf(fd, wmd, strlen(wmd), "hello %d writer %s", IPC_VERSION, w->name);
	free(wmd);
	if (r == 0)
		r = ipc_recv(fd, 30000, &m);
	if (r < 0) {
		snprintf(w->error, sizeof(w->error), "writer '%s': no answer from the coordinator: %s",
			 w->name, strerror(-r));
		(void)close(fd);
		return r;
	}
	n = ipc_split(m.head, word, 3);
	if (n == 3 && strcmp(word[0], "ok") == 0 && strlen(word[2]) < sizeof(w->id)) {
		snprintf(w->id, sizeof(w->id), "%s", word[2]);
		w->fd = fd;
		w->error[0] = '\0';
		ipc_msg_release(&m);
		return 0;
	}
	r = n == 3 && strcmp(word[0], "err") == 0 ? -atoi(word[1]) : -EPROTO;
	if (r >= 0)
		r = -EPROTO;
	snprintf(w->error, sizeof(w->error), "writer '%s' refused by the coordinator: %s",
		 w->name, n == 3 ? word[2] : "malformed answer");
	ipc_msg_release(&m);
	(void)close(fd);
	return r;
}

/*
 * Take an event's body apart: 'volume MNT' lines with tab-separated fields (recovery=yes,
 * snapshot=PATH, writable=PATH), or a BCD.
 */
static int parse_body(char *body, struct snap_event *ev, const char **vols, const char **snaps,
		      const char **recovery)
{
	const char *writable[MAX_VOLUMES];
	char *p = body;

	if (*p == '<') {
		ev->bcd = p;
		return 0;
	}
	while (*p) {
		char *nl = strchr(p, '\n'), *field;
		size_t i = ev->n_volumes;

		if (!nl || strncmp(p, "volume ", 7) != 0 || i == MAX_VOLUMES)
			return -EBADMSG;
		*nl = '\0';
		vols[i] = p + 7;
		recovery[i] = writable[i] = snaps[i] = NULL;
		field = strchr(p + 7, '\t');
		if (field)
			*field++ = '\0';
		for (char *save = NULL, *f = field ? strtok_r(field, "\t", &save) : NULL; f;
		     f = strtok_r(NULL, "\t", &save)) {
			if (strncmp(f, "snapshot=", 9) == 0) {
				snaps[i] = f + 9;
				ev->snapshots = snaps;
			} else if (strncmp(f, "writable=", 9) == 0) {
				writable[i] = f + 9;
			} else if (strcmp(f, "recovery=yes") == 0) {
				recovery[i] = "yes";
			}
		}
		/* after the commit, what recovery holds is where to write, if anywhere */
		if (ev->kind == SNAP_EVENT_POST_SNAPSHOT)
			recovery[i] = writable[i];
		ev->n_volumes++;
		p = nl + 1;
	}
	ev->volumes = vols;
	ev->recovery = recovery;
	return 0;
}

/* Serve one event frame; the answer goes back at once. */
static int serve_event(struct snap_writer *w, struct ipc_msg *m)
{
	const char *vols[MAX_VOLUMES], *snaps[MAX_VOLUMES] = { 0 }, *recovery[MAX_VOLUMES];
	struct snap_event ev = { 0 };
	char *word[4], *doc = NULL;
	snap_writer_fn fn = NULL;
	int n = ipc_split(m->head, word, 4), r;

	if (n != 4 || strcmp(word[0], "event") != 0)
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		if (strcmp(events[i].name, word[2]) == 0) {
			ev.kind = events[i].kind;
			ev.name = events[i].name;
			fn = *(snap_writer_fn *)((char *)&w->cb + events[i].cb);
			break;
		}
	}
	if (!ev.name)
		return ipc_sendf(w->fd, NULL, 0, "fail %s %d unknown event '%.32s'", word[1],
				 EPROTO, word[2]);
	ev.set_id = strcmp(word[3], "-") == 0 ? "" : word[3];
	if (parse_body(m->body, &ev, vols, snaps, recovery) < 0)
		return -EBADMSG;
	w->error[0] = '\0';
	r = fn ? fn(w, &ev, w->ctx) : 0;
	if (ev.kind == SNAP_EVENT_FREEZE) {
		w->frozen = r == 0;
		snprintf(w->frozen_set, sizeof(w->frozen_set), "%s", ev.set_id);
	}
	else if (ev.kind == SNAP_EVENT_THAW || ev.kind == SNAP_EVENT_ABORT)
		w->frozen = false;
	if (r < 0)
		return ipc_sendf(w->fd, NULL, 0, "fail %s %d %s", word[1], -r,
				 w->error[0] ? w->error : strerror(-r));
	if (ev.kind == SNAP_EVENT_IDENTIFY) {
		doc = metadata(w);
		if (!doc)
			return ipc_sendf(w->fd, NULL, 0, "fail %s %d out of memory", word[1],
					 ENOMEM);
	}
	r = ipc_sendf(w->fd, doc, doc ? strlen(doc) : 0, "done %s", word[1]);
	free(doc);
	return r;
}

/* The coordinator went away between freeze and thaw: no thaw will come, so abort. */
static void abort_frozen(struct snap_writer *w)
{
	struct snap_event ev = { .kind = SNAP_EVENT_ABORT, .name = "abort",
				 .set_id = w->frozen_set };

	if (!w->frozen)
		return;
	w->frozen = false;
	if (w->cb.abort)
		(void)w->cb.abort(w, &ev, w->ctx);
}

/* Wait a second for a stop; true when one came. */
static bool wait_stop(struct snap_writer *w, int ms)
{
	struct pollfd pfd = { .fd = w->stop_fd, .events = POLLIN };

	return poll(&pfd, 1, ms) > 0;
}

SNAP_EXPORT int snap_writer_run(struct snap_writer *w)
{
	int r = do_register(w, true);

	if (r < 0)
		return r;
	while (!stopped(w)) {
		struct pollfd pfd[2] = { { .fd = w->fd, .events = POLLIN },
					 { .fd = w->stop_fd, .events = POLLIN } };
		struct ipc_msg m;

		if (w->fd < 0) { /* the coordinator went away: register again, once a second */
			if (wait_stop(w, 1000))
				break;
			r = do_register(w, false);
			if (r == -EACCES)
				return r;
			continue;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			snprintf(w->error, sizeof(w->error), "writer '%s': poll: %s", w->name,
				 strerror(errno));
			return r;
		}
		if (pfd[1].revents)
			break;
		r = ipc_recv(w->fd, 30000, &m);
		if (r == 0)
			r = serve_event(w, &m);
		ipc_msg_release(&m);
		if (r < 0) {
			snprintf(w->error, sizeof(w->error), "writer '%s': connection to the "
				 "coordinator lost: %s", w->name, strerror(-r));
			(void)close(w->fd);
			w->fd = -1;
			abort_frozen(w);
		}
	}
	if (w->fd >= 0) {
		(void)close(w->fd);
		w->fd = -1;
	}
	abort_frozen(w);
	return 0;
}
