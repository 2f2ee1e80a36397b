/*
 * requester.c: libsnapfs's requester side (include/snapfs/requester.h). A session is one
 * connection to snapfsd, 'hello 1 requester', then one request frame and one reply frame at a
 * time. docs/coordinator.md has the messages.
 */
#include "snapfs/requester.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

#define SNAP_EXPORT __attribute__((visibility("default")))
#define ERR_MAX 1024
#define MAX_VOLUMES 64

struct snap_session {
	int fd;
	char error[ERR_MAX];
	struct ipc_msg writers_msg;          /* owns the strings of writers[] */
	struct snap_writer_info *writers;
	size_t n_writers;
	struct ipc_msg set_msg;              /* owns the strings of snaps[] and bcd */
	char *set_id;
	struct snap_snapshot_info snaps[MAX_VOLUMES];
	size_t n_snaps;
	const char *bcd;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct snap_session *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->error, sizeof(s->error), fmt, ap);
	va_end(ap);
	return err;
}

SNAP_EXPORT struct snap_session *snap_session_new(void)
{
	struct snap_session *s = calloc(1, sizeof(*s));

	if (s)
		s->fd = -1;
	return s;
}

SNAP_EXPORT void snap_session_free(struct snap_session *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		(void)close(s->fd);
	free(s->writers);
	ipc_msg_release(&s->writers_msg);
	ipc_msg_release(&s->set_msg);
	for (size_t i = 0; i < s->n_snaps; i++)
		free((char *)s->snaps[i].path);
	free(s);
}

SNAP_EXPORT const char *snap_session_error(const struct snap_session *s)
{
	return s->error;
}

/*
 * Send a request and read its reply into m: 0 for 'ok ...' (m->head then holds what follows
 * 'ok'), or the negative errno of 'err ERRNO MESSAGE' with the message in s->error.
 */
static int request(struct snap_session *s, const char *what, struct ipc_msg *m, const char *body,
		   size_t len, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int request(struct snap_session *s, const char *what, struct ipc_msg *m, const char *body,
		   size_t len, const char *fmt, ...)
{
	char head[IPC_MAX_HEAD + 1], *word[3];
	va_list ap;
	int r, n;


	*m = (struct ipc_msg){ 0 };
	if (s->fd < 0)
		return fail(s, -ENOTCONN, "%s: the session is not connected", what);
	va_start(ap, fmt);
	n = vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(head))
		return fail(s, -ENAMETOOLONG, "%s: request too long", what);
	r = ipc_send(s->fd, head, body, len);
	if (r == 0)
		r = ipc_recv(s->fd, -1, m);
	if (r < 0) {
		ipc_msg_release(m);
		(void)close(s->fd);
		s->fd = -1;
		return fail(s, r, "%s: connection to the coordinator lost: %s", what,
			    strerror(-r));
	}
	if (strncmp(m->head, "ok", 2) == 0 && (!m->head[2] || m->head[2] == ' ')) {
		const char *rest = m->head[2] ? m->head + 3 : "";

		memmove(m->head, rest, strlen(rest) + 1);
		return 0;
	}
	if (ipc_split(m->head, word, 3) == 3 && strcmp(word[0], "err") == 0 && atoi(word[1]) > 0) {
		r = -atoi(word[1]);
		fail(s, r, "%s", word[2]);
		ipc_msg_release(m);
		return r;
	}
	ipc_msg_release(m);
	return fail(s, -EPROTO, "%s: malformed reply from the coordinator", what);
}

SNAP_EXPORT int snap_session_connect(struct snap_session *s)
{
	struct ipc_msg m;
	int r;

	if (s->fd >= 0)
		return 0;
	s->fd = ipc_connect(true, s->error, sizeof(s->error));
	if (s->fd < 0) {
		r = s->fd;
		s->fd = -1;
		return r;
	}
	r = request(s, "connect", &m, NULL, 0, "hello %d requester", IPC_VERSION);
	ipc_msg_release(&m);
	if (r < 0 && s->fd >= 0) {
		(void)close(s->fd);
		s->fd = -1;
	}
	return r;
}

/* A request whose reply carries nothing: head is the whole request line. */
static int simple(struct snap_session *s, const char *what, const char *head)
{
	struct ipc_msg m;
	int r = request(s, what, &m, NULL, 0, "%s", head);

	ipc_msg_release(&m);
	return r;
}

static int simple2(struct snap_session *s, const char *verb, const char *a, const char *b)
{
	char head[IPC_MAX_HEAD + 1];
	int n = snprintf(head, sizeof(head), b ? "%s %s %s" : "%s %s", verb, a, b);

	if (n < 0 || (size_t)n >= sizeof(head))
		return fail(s, -ENAMETOOLONG, "%s: '%.64s...' is too long", verb, a);
	return simple(s, verb, head);
}

SNAP_EXPORT int snap_session_set_timeouts(struct snap_session *s, unsigned freeze_ms,
					  unsigned hold_ms)
{
	struct ipc_msg m;
	int r = request(s, "timeouts", &m, NULL, 0, "timeouts %u %u", freeze_ms, hold_ms);

	ipc_msg_release(&m);
	return r;
}

/* Whether s is non-empty text a request head may carry (no control character). */
static bool is_text(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

SNAP_EXPORT int snap_session_exclude_writer(struct snap_session *s, const char *writer)
{
	if (!is_text(writer) || strchr(writer, ' '))
		return fail(s, -EINVAL, "bad writer name '%s'", writer ? writer : "");
	return simple2(s, "exclude", writer, NULL);
}

SNAP_EXPORT int snap_session_select_component(struct snap_session *s, const char *writer,
					      const char *component)
{
	if (!is_text(writer) || strchr(writer, ' ') || !is_text(component))
		return fail(s, -EINVAL, "bad writer or component name");
	return simple2(s, "select", writer, component);
}

SNAP_EXPORT int snap_session_add_volume(struct snap_session *s, const char *mnt)
{
	if (!is_text(mnt))
		return fail(s, -EINVAL, "bad volume path '%s': empty, or a control character in it",
			    mnt ? mnt : "");
	return simple2(s, "volume", mnt, NULL);
}

/* The reply of 'writers' and 'gather' into s->writers. */
static int take_writers(struct snap_session *s, const char *what)
{
	struct ipc_msg m;
	char *p;
	long count;
	int r;

	free(s->writers);
	s->writers = NULL;
	s->n_writers = 0;
	ipc_msg_release(&s->writers_msg);
	r = request(s, what, &m, NULL, 0, "%s", what);
	if (r < 0)
		return r;
	count = strtol(m.head, NULL, 10);
	s->writers = calloc((size_t)(count > 0 ? count : 0) + 1, sizeof(*s->writers));
	if (!s->writers) {
		ipc_msg_release(&m);
		return fail(s, -ENOMEM, "%s: out of memory", what);
	}
	p = m.body;
	while (*p && (long)s->n_writers < count) {
		struct snap_writer_info *w = &s->writers[s->n_writers];
		char *f[5], *nl = strchr(p, '\n'), *end;
		size_t wlen;

		if (!nl || strncmp(p, "writer ", 7) != 0)
			break;
		*nl = '\0';
		p += 7;
		for (int i = 0; i < 5; i++) {
			f[i] = p;
			p = i < 4 ? strchr(p, '\t') : NULL;
			if (i < 4 && !p)
				goto malformed;
			if (p)
				*p++ = '\0';
		}
		wlen = strtoul(f[4], &end, 10);
		if (*end || wlen > (size_t)(m.body + m.body_len - (nl + 1)))
			goto malformed;
		*w = (struct snap_writer_info){ .id = f[0], .name = f[1], .state = f[2],
						.last_error = f[3], .metadata = "" };
		/* the metadata follows its line; move it one byte back to end it with a NUL */
		if (wlen) {
			memmove(nl, nl + 1, wlen);
			nl[wlen] = '\0';
			w->metadata = nl;
		}
		p = nl + 1 + wlen;
		s->n_writers++;
	}
	if ((long)s->n_writers != count)
		goto malformed;
	s->writers_msg = m;
	return (int)s->n_writers;
malformed:
	ipc_msg_release(&m);
	s->n_writers = 0;
	return fail(s, -EPROTO, "%s: malformed reply from the coordinator", what);
}

SNAP_EXPORT int snap_session_list_writers(struct snap_session *s)
{
	return take_writers(s, "writers");
}

SNAP_EXPORT int snap_session_gather(struct snap_session *s)
{
	return take_writers(s, "gather");
}

SNAP_EXPORT const struct snap_writer_info *snap_session_writer(const struct snap_session *s,
							       size_t i)
{
	return i < s->n_writers ? &s->writers[i] : NULL;
}

SNAP_EXPORT int snap_session_create(struct snap_session *s)
{
	struct ipc_msg m;
	char *p, *sp;
	int r;

	if (s->set_id)
		return fail(s, -EALREADY, "create: this session created its set already");
	r = request(s, "create", &m, NULL, 0, "create");
	if (r < 0)
		return r;
	sp = strchr(m.head, ' ');
	if (!sp)
		goto malformed;
	*sp = '\0';
	p = m.body;
	while (*p && *p != '\n') {
		struct snap_snapshot_info *si = &s->snaps[s->n_snaps];
		char *nl = strchr(p, '\n'), *t1, *t2;

		if (!nl || strncmp(p, "snapshot ", 9) != 0 || s->n_snaps == MAX_VOLUMES)
			goto malformed;
		*nl = '\0';
		t1 = strchr(p + 9, '\t');
		t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (!t2)
			goto malformed;
		*t1 = *t2 = '\0';
		si->volume = p + 9;
		si->id = t1 + 1;
		si->browse = t2 + 1;
		si->path = NULL;
		s->n_snaps++;
		p = nl + 1;
	}
	if (*p != '\n')
		goto malformed;
	/* the paths, in one more allocation each */
	for (size_t i = 0; i < s->n_snaps; i++) {
		char *path;

		if (asprintf(&path, "%s/.snapshots/%s", s->snaps[i].volume, s->snaps[i].browse) < 0) {
			r = fail(s, -ENOMEM, "create: out of memory");
			goto undo;
		}
		s->snaps[i].path = path;
	}
	s->bcd = p + 1;
	s->set_id = m.head;
	s->set_msg = m;
	return 0;
malformed:
	r = fail(s, -EPROTO, "create: malformed reply from the coordinator");
undo:
	/* the service made the set, which this session cannot use: it goes */
	for (size_t i = 0; i < s->n_snaps; i++) {
		free((char *)s->snaps[i].path);
		s->snaps[i].path = NULL;
	}
	ipc_msg_release(&m);
	s->n_snaps = 0;
	(void)simple(s, "abort", "abort");
	snprintf(s->error, sizeof(s->error), "%s", r == -ENOMEM ? "create: out of memory"
				  : "create: malformed reply from the coordinator; the set is deleted");
	return r;
}

SNAP_EXPORT const char *snap_session_set_id(const struct snap_session *s)
{
	return s->set_id ? s->set_id : "";
}

SNAP_EXPORT size_t snap_session_snapshots(const struct snap_session *s)
{
	return s->n_snaps;
}

SNAP_EXPORT const struct snap_snapshot_info *snap_session_snapshot(const struct snap_session *s,
								   size_t i)
{
	return i < s->n_snaps ? &s->snaps[i] : NULL;
}

SNAP_EXPORT const char *snap_session_bcd(const struct snap_session *s)
{
	return s->bcd ? s->bcd : "";
}

SNAP_EXPORT int snap_session_complete(struct snap_session *s)
{
	return simple(s, "complete", "complete");
}

SNAP_EXPORT int snap_session_no_autorecover(struct snap_session *s)
{
	return simple(s, "noautorecover", "noautorecover");
}

SNAP_EXPORT int snap_session_pre_restore(struct snap_session *s, const char *set_id,
					 const char *bcd)
{
	struct ipc_msg m;
	int r;

	if (!is_text(set_id) || strchr(set_id, ' '))
		return fail(s, -EINVAL, "bad snapshot set id '%s'", set_id ? set_id : "");
	r = request(s, "pre-restore", &m, bcd, bcd ? strlen(bcd) : 0, "restore pre %s", set_id);
	ipc_msg_release(&m);
	return r;
}

SNAP_EXPORT int snap_session_post_restore(struct snap_session *s)
{
	return simple(s, "post-restore", "restore post -");
}

SNAP_EXPORT int snap_session_abort(struct snap_session *s)
{
	return simple(s, "abort", "abort");
}
