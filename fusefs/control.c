/*
 * control.c: the control socket of a volume, SRC/.snapfs/control, through which 'snapfs
 * create', 'list shadows', 'delete shadows', 'get' and 'set' reach the daemon. It owns the
 * listening socket and the one thread that serves it, and turns request lines into engine
 * calls; it never touches the live tree or FUSE.
 *
 * Who may connect: the state directory SRC/.snapfs is mode 0700 and owned by the daemon's
 * user, so only that user (and root) can reach the socket at all. The socket file is 0600 as
 * well, and a peer whose uid (SO_PEERCRED) is neither root nor the daemon's is refused.
 *
 * One thread accepts connections and serves them one at a time: snapshot creation closes the
 * volume's write gate and is serialized anyway. A connection carries one request line and gets
 * the whole reply, then closes. A peer that sends nothing, or does not read, is dropped after
 * CONTROL_TIMEOUT_S seconds, so one stuck client delays the others by that much at most.
 *
 * Protocol. A request is one line of text, '\n' terminated (or ended by the peer's EOF), at
 * most CONTROL_MAX_REQUEST bytes, its words separated by single spaces. The reply is zero or
 * more data lines, then one final line: 'ok ...' or 'err ERRNO MESSAGE', where ERRNO is a
 * positive errno number and MESSAGE one line naming the thing and the cause. A request that
 * fails gets only the 'err' line.
 *
 *   create [SET_ID]     take a snapshot, in the set SET_ID or in a new set; the client
 *                       flushes the kernel's dirty pages first (syncfs on MNT)
 *                         ok ID SET_ID BROWSE
 *   prepare SET_ID MS   the first step of a snapshot in a set over several volumes (the
 *                       coordinator's): close the write gate, reply 'ok held', then wait at most
 *                       MS milliseconds on the same connection for a second line, 'commit' or
 *                       'abort'. commit takes the snapshot and replies as create; abort, EOF or
 *                       the time running out open the gate with no snapshot taken (the last
 *                       two reply 'err ETIMEDOUT ...' or nothing). 'commit writable', where
 *                       the provider offers auto-recovery, leaves the snapshot writable until
 *                       'seal' and adds its tree's path: ok ID SET_ID BROWSE PATH
 *   seal ID             make a snapshot left writable read-only (a no-op for others)
 *                         ok
 *   list                every snapshot, oldest first
 *                         snap ID SET_ID EPOCH CREATED_NS BROWSE DIFF_BYTES KIND  (one each;
 *                         KIND: journal, or tree for a snapshot kept as a whole tree)
 *                         ok
 *   newest              when the newest snapshot was created (0 when there is none), without
 *                       the byte counts that make 'list' a pass over the diff area
 *                         ok CREATED_NS
 *   delete ID           delete one snapshot (err ENOENT for an unknown id)
 *                         ok 1
 *   delete-oldest       delete the oldest snapshot (err ENOENT when there is none)
 *                         ok 1 ID
 *   delete-all          delete every snapshot
 *                         ok N
 *   get [PROP]          one property, or all of them (engine.h, ENGINE_PROP_*)
 *                         prop NAME VALUE   (one each; VALUE is the rest of the line)
 *                         ok
 *   set PROP VALUE      VALUE is the rest of the line after 'set PROP ', possibly empty
 *                         ok
 *
 * CREATED_NS is the creation time in nanoseconds since the epoch (UTC); DIFF_BYTES what the
 * diff area would free if the snapshot were deleted. Ids, set ids and browse names never hold
 * spaces. Bytes below 0x20 and 0x7f make a request malformed; a value that holds a newline
 * cannot be sent and is answered with an error.
 */
#include "sfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define CONTROL_MAX_REQUEST 4096
#define CONTROL_TIMEOUT_S 5
#define CONTROL_HOLD_MAX_MS 600000
#define CONTROL_VALUE_MAX (PATH_MAX + 1)

struct sfs_control {
	struct engine *eng;     /* borrowed; outlives the control */
	int state_fd;           /* our own dup of SRC/.snapfs, to unlink the socket */
	int listen_fd;
	pthread_t thread;
	bool started;
	atomic_bool stopping;
};

/* The properties 'get' without a name lists, in this order. */
static const char *const all_props[] = {
	ENGINE_PROP_CHUNKSIZE, ENGINE_PROP_MAXSIZE, ENGINE_PROP_MINDIFF,
	ENGINE_PROP_MAXSHADOW, ENGINE_PROP_NOSNAP,  ENGINE_PROP_DIFFAREA,
	ENGINE_PROP_PROVIDER,  ENGINE_PROP_METHOD,  ENGINE_PROP_AUTORECOVER,
	ENGINE_PROP_USED,
};

/* ---- the reply, built whole before it is sent ------------------------------------------ */

struct reply {
	char *buf;
	size_t len, cap;
	bool oom;
};

/* Grow rp's buffer to hold at least need more bytes; false (and rp->oom) when out of memory. */
static bool reply_reserve(struct reply *rp, size_t need)
{
	size_t cap = rp->cap ? rp->cap : 1024;
	char *nb;

	while (cap - rp->len <= need)
		cap *= 2;
	if (cap == rp->cap)
		return true;
	nb = realloc(rp->buf, cap);
	if (!nb) {
		rp->oom = true;
		return false;
	}
	rp->buf = nb;
	rp->cap = cap;
	return true;
}

/* Append printf-formatted text to the reply; on failure the reply is marked out of memory. */
__attribute__((format(printf, 2, 3)))
static void reply_add(struct reply *rp, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rp->oom = true;
		return;
	}
	if (rp->oom || !reply_reserve(rp, (size_t)n))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(rp->buf + rp->len, rp->cap - rp->len, fmt, ap);
	va_end(ap);
	rp->len += (size_t)n;
}

/*
 * Replace whatever the reply holds by one 'err' line. err is a negative errno; the message
 * must not hold a newline.
 */
__attribute__((format(printf, 3, 4)))
static void reply_err(struct reply *rp, int err, const char *fmt, ...)
{
	char msg[PATH_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rp->len = 0;
	rp->oom = false;
	reply_add(rp, "err %d %s\n", -err, msg);
}

/* Send all of buf; the peer's timeout (SO_SNDTIMEO) bounds the wait. */
static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- requests -------------------------------------------------------------------------- */

/* A word of a line: ids, set ids and property names hold no spaces (the caller split them). */
static bool is_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n > 0 && n <= max && !strchr(s, ' ');
}

/*
 * Every snapshot, oldest first, into a (which the caller frees, also on failure); with_bytes
 * also counts each one's diff-area bytes (a pass over the chunk rows).
 */
static int list_snapshots(struct engine *e, struct sfs_snap_array *a, bool with_bytes)
{
	a->n = 0;
	return with_bytes ? engine_snapshot_list(e, sfs_collect_snapshot, a)
			  : engine_snapshot_each(e, sfs_collect_snapshot, a);
}

static void reply_created(struct reply *rp, const struct catalog_snapshot *s, int r);
static ssize_t read_request(int fd, char *buf);

static void do_create(struct sfs_control *c, const char *set_id, struct reply *rp)
{
	struct catalog_snapshot s;
	int r;

	if (set_id && !is_word(set_id, CATALOG_ID_LEN)) {
		reply_err(rp, -EINVAL, "bad snapshot set id '%s'", set_id);
		return;
	}
	r = engine_snapshot_create(c->eng, set_id, &s);
	reply_created(rp, &s, r);
}

/* The reply to a creation that returned r (s filled when r is 0). */
static void reply_created(struct reply *rp, const struct catalog_snapshot *s, int r)
{
	if (r == -EMLINK) {
		reply_err(rp, r, "cannot create a snapshot: the volume holds %d already, the most "
				 "it can", ENGINE_MAX_SNAPSHOTS);
		return;
	}
	if (r < 0) {
		reply_err(rp, r, "cannot create a snapshot: %s", strerror(-r));
		return;
	}
	snap_log(LOG_INFO, "snapshot '%s' (%s) created in set '%s'", s->id, s->browse, s->set_id);
	reply_add(rp, "ok %s %s %s\n", s->id, s->set_id, s->browse);
}

/*
 * 'prepare SET_ID MS' on the connection fd: the gate closes, 'ok held' goes out, and the next
 * line decides (see the protocol atop this file). The final reply is left in rp.
 */
static void do_prepare(struct sfs_control *c, int fd, char *args, struct reply *rp)
{
	char *ms_s = args ? strchr(args, ' ') : NULL, *end, line[CONTROL_MAX_REQUEST + 1];
	struct catalog_snapshot s;
	long ms;
	ssize_t n;
	int r;

	if (!ms_s) {
		reply_err(rp, -EINVAL, "malformed request: expected 'prepare SET_ID MS'");
		return;
	}
	*ms_s++ = '\0';
	ms = strtol(ms_s, &end, 10);
	if (!is_word(args, CATALOG_ID_LEN) || *end || ms <= 0 || ms > CONTROL_HOLD_MAX_MS) {
		reply_err(rp, -EINVAL, "malformed request: bad set id or hold time in 'prepare'");
		return;
	}
	r = engine_snapshot_prepare(c->eng);
	if (r < 0) {
		reply_created(rp, NULL, r);
		return;
	}
	r = send_all(fd, "ok held\n", 8);
	if (r == 0) {
		struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = read_request(fd, line);
		r = n < 0 ? (int)n : n == 0 ? -EPIPE : 0;
	}
	if (r == 0 && (strcmp(line, "commit") == 0 || strcmp(line, "commit writable") == 0)) {
		bool writable = line[6] && engine_can_recover(c->eng);
		char path[PATH_MAX];

		r = engine_snapshot_commit(c->eng, args, writable, &s);
		if (r == 0 && writable && engine_snapshot_writable(c->eng, s.id, path,
								    sizeof(path)) == 0 &&
		    !strchr(path, '\n')) {
			snap_log(LOG_INFO, "snapshot '%s' (%s) created in set '%s', writable at '%s' "
				 "until sealed", s.id, s.browse, s.set_id, path);
			reply_add(rp, "ok %s %s %s %s\n", s.id, s.set_id, s.browse, path);
			return;
		}
		if (r == 0 && writable) /* no path to give: sealed at once */
			(void)engine_snapshot_seal(c->eng, s.id);
		reply_created(rp, &s, r);
		return;
	}
	engine_snapshot_abort(c->eng);
	if (r == 0 && strcmp(line, "abort") == 0) {
		reply_add(rp, "ok aborted\n");
	} else if (r == 0) {
		reply_err(rp, -EINVAL, "malformed request: expected 'commit' or 'abort'");
	} else if (r == -EAGAIN || r == -EWOULDBLOCK) {
		snap_log(LOG_WARNING, "snapshot of set '%s' not taken: the write hold passed its "
			 "limit of %ld ms", args, ms);
		reply_err(rp, -ETIMEDOUT, "the write hold passed its limit of %ld ms; no snapshot "
			  "taken", ms);
	} else {
		snap_log(LOG_WARNING, "snapshot of set '%s' not taken: the coordinator went away",
			 args);
	}
}

static void do_seal(struct sfs_control *c, const char *id, struct reply *rp)
{
	int r;

	if (!is_word(id, CATALOG_ID_LEN)) {
		reply_err(rp, -EINVAL, "bad snapshot id '%s'", id);
		return;
	}
	r = engine_snapshot_seal(c->eng, id);
	if (r < 0) {
		reply_err(rp, r, "cannot seal snapshot '%s': %s", id, strerror(-r));
		return;
	}
	snap_log(LOG_INFO, "snapshot '%s' sealed", id);
	reply_add(rp, "ok\n");
}

static void do_list(struct sfs_control *c, struct reply *rp)
{
	struct sfs_snap_array a = { 0 };
	int r = list_snapshots(c->eng, &a, true);

	if (r < 0) {
		reply_err(rp, r, "cannot list the snapshots: %s", strerror(-r));
	} else {
		for (size_t i = 0; i < a.n; i++) {
			const struct catalog_snapshot *s = &a.v[i];

			reply_add(rp, "snap %s %s %llu %lld %s %llu %s\n", s->id, s->set_id,
				  (unsigned long long)s->epoch, (long long)s->created_ns, s->browse,
				  (unsigned long long)s->diff_bytes, s->tree ? "tree" : "journal");
		}
		reply_add(rp, "ok\n");
	}
	free(a.v);
}

static void do_newest(struct sfs_control *c, struct reply *rp)
{
	struct sfs_snap_array a = { 0 };
	long long newest = 0;
	int r = list_snapshots(c->eng, &a, false);

	if (r < 0) {
		reply_err(rp, r, "cannot list the snapshots: %s", strerror(-r));
	} else {
		for (size_t i = 0; i < a.n; i++)
			if (a.v[i].created_ns > newest)
				newest = a.v[i].created_ns;
		reply_add(rp, "ok %lld\n", newest);
	}
	free(a.v);
}

static void do_delete(struct sfs_control *c, const char *id, struct reply *rp)
{
	int r;

	if (!is_word(id, CATALOG_ID_LEN)) {
		reply_err(rp, -EINVAL, "bad snapshot id '%s'", id);
		return;
	}
	r = engine_snapshot_delete(c->eng, id);
	if (r == -ENOENT) {
		reply_err(rp, r, "no snapshot '%s'", id);
		return;
	}
	if (r < 0) {
		reply_err(rp, r, "cannot delete snapshot '%s': %s", id, strerror(-r));
		return;
	}
	snap_log(LOG_INFO, "snapshot '%s' deleted", id);
	reply_add(rp, "ok 1\n");
}

/*
 * Delete the oldest snapshot. Another deletion (the engine reclaiming space) may take it
 * first: then the next oldest is the oldest, and we try again.
 */
static void do_delete_oldest(struct sfs_control *c, struct reply *rp)
{
	struct sfs_snap_array a = { 0 };
	int r, tries;

	for (tries = 0; tries < 8; tries++) {
		r = list_snapshots(c->eng, &a, false);
		if (r < 0) {
			reply_err(rp, r, "cannot list the snapshots: %s", strerror(-r));
			goto out;
		}
		if (a.n == 0) {
			reply_err(rp, -ENOENT, "the volume has no snapshots");
			goto out;
		}
		r = engine_snapshot_delete(c->eng, a.v[0].id);
		if (r != -ENOENT)
			break;
	}
	if (r < 0) {
		reply_err(rp, r, "cannot delete snapshot '%s': %s", a.v[0].id, strerror(-r));
		goto out;
	}
	snap_log(LOG_INFO, "snapshot '%s' deleted (the oldest)", a.v[0].id);
	reply_add(rp, "ok 1 %s\n", a.v[0].id);
out:
	free(a.v);
}

/* Delete every snapshot, oldest first; ones already gone (reclaimed meanwhile) are skipped. */
static void do_delete_all(struct sfs_control *c, struct reply *rp)
{
	struct sfs_snap_array a = { 0 };
	size_t done = 0;
	int r = list_snapshots(c->eng, &a, false);

	if (r < 0) {
		reply_err(rp, r, "cannot list the snapshots: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < a.n; i++) {
		r = engine_snapshot_delete(c->eng, a.v[i].id);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			reply_err(rp, r, "cannot delete snapshot '%s' (after deleting %zu): %s",
				  a.v[i].id, done, strerror(-r));
			goto out;
		}
		done++;
	}
	if (done)
		snap_log(LOG_INFO, "deleted every snapshot (%zu)", done);
	reply_add(rp, "ok %zu\n", done);
out:
	free(a.v);
}

static bool is_known_prop(const char *name)
{
	for (size_t i = 0; i < sizeof(all_props) / sizeof(all_props[0]); i++)
		if (strcmp(all_props[i], name) == 0)
			return true;
	return false;
}

/* Add one 'prop' line; false (and an 'err' reply) on failure. */
static bool add_prop(struct sfs_control *c, const char *name, struct reply *rp)
{
	char value[CONTROL_VALUE_MAX];
	int r = engine_prop_get(c->eng, name, value, sizeof(value));

	if (r < 0 && !is_known_prop(name)) {
		reply_err(rp, r, "unknown property '%s'", name);
		return false;
	}
	if (r < 0) {
		reply_err(rp, r, "cannot read property '%s': %s", name, strerror(-r));
		return false;
	}
	if (strchr(value, '\n')) {
		reply_err(rp, -EOVERFLOW, "the value of property '%s' holds a newline", name);
		return false;
	}
	reply_add(rp, "prop %s %s\n", name, value);
	return true;
}

static void do_get(struct sfs_control *c, const char *name, struct reply *rp)
{
	if (name) {
		if (!is_word(name, 255)) {
			reply_err(rp, -EINVAL, "unknown property '%s'", name);
			return;
		}
		if (!add_prop(c, name, rp))
			return;
	} else {
		for (size_t i = 0; i < sizeof(all_props) / sizeof(all_props[0]); i++)
			if (!add_prop(c, all_props[i], rp))
				return;
	}
	reply_add(rp, "ok\n");
}

/* args is 'PROP VALUE', VALUE the rest of the line. */
static void do_set(struct sfs_control *c, char *args, struct reply *rp)
{
	char *value = args ? strchr(args, ' ') : NULL;
	char msg[PATH_MAX + 256] = "";
	int r;

	if (!value) {
		reply_err(rp, -EINVAL, "malformed request: expected 'set PROP VALUE'");
		return;
	}
	*value++ = '\0';
	if (!is_word(args, 255)) {
		reply_err(rp, -EINVAL, "unknown property '%s'", args);
		return;
	}
	r = engine_prop_set(c->eng, args, value, msg, sizeof(msg));
	if (r < 0) {
		if (msg[0])
			reply_err(rp, r, "%s", msg);
		else if (!is_known_prop(args))
			reply_err(rp, r, "unknown property '%s'", args);
		else
			reply_err(rp, r, "cannot set property '%s' to '%s': %s", args, value,
				  strerror(-r));
		return;
	}
	snap_log(LOG_INFO, "set property '%s' to '%s'", args, value);
	reply_add(rp, "ok\n");
}

/*
 * Serve one request line (NUL-terminated, without its newline, modified in place) into rp.
 * Words are separated by single spaces; see the protocol atop this file.
 */
static void serve_line(struct sfs_control *c, char *line, struct reply *rp)
{
	char *args;

	if (!line[0]) {
		reply_err(rp, -EINVAL, "malformed request: empty line");
		return;
	}
	args = strchr(line, ' ');
	if (args)
		*args++ = '\0';
	if (strcmp(line, "create") == 0) {
		do_create(c, args, rp);
	} else if (strcmp(line, "list") == 0 && !args) {
		do_list(c, rp);
	} else if (strcmp(line, "newest") == 0 && !args) {
		do_newest(c, rp);
	} else if (strcmp(line, "delete") == 0 && args) {
		do_delete(c, args, rp);
	} else if (strcmp(line, "delete-oldest") == 0 && !args) {
		do_delete_oldest(c, rp);
	} else if (strcmp(line, "delete-all") == 0 && !args) {
		do_delete_all(c, rp);
	} else if (strcmp(line, "seal") == 0 && args) {
		do_seal(c, args, rp);
	} else if (strcmp(line, "get") == 0) {
		do_get(c, args, rp);
	} else if (strcmp(line, "set") == 0) {
		do_set(c, args, rp);
	} else if (strcmp(line, "list") == 0 || strcmp(line, "newest") == 0 ||
		   strcmp(line, "delete") == 0 ||
		   strcmp(line, "delete-oldest") == 0 || strcmp(line, "delete-all") == 0) {
		reply_err(rp, -EINVAL, "malformed request: wrong arguments to '%s'", line);
	} else {
		reply_err(rp, -EINVAL, "unknown request '%.64s'", line);
	}
}

/*
 * Read the request line of fd into buf (CONTROL_MAX_REQUEST + 1 bytes): up to its '\n' or the
 * peer's EOF. Returns its length, -EMSGSIZE when longer than the bound, -EBADMSG for a NUL
 * byte, or the read error (-EAGAIN after the timeout).
 */
static ssize_t read_request(int fd, char *buf)
{
	size_t len = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + len, CONTROL_MAX_REQUEST - len, 0);
		char *nl;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		if (memchr(buf + len, '\0', (size_t)n))
			return -EBADMSG;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			len = (size_t)(nl - buf);
			break;
		}
		if (len == CONTROL_MAX_REQUEST)
			return -EMSGSIZE;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

static bool has_control_char(const char *line)
{
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* Whether the peer of fd may use the socket: root or the daemon's own user. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void serve_conn(struct sfs_control *c, int fd)
{
	struct timeval tv = { .tv_sec = CONTROL_TIMEOUT_S };
	struct reply rp = { 0 };
	char line[CONTROL_MAX_REQUEST + 1];
	ssize_t n;
	int r;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!peer_allowed(fd)) {
		reply_err(&rp, -EPERM, "only the volume's owner may use its control socket");
	} else {
		n = read_request(fd, line);
		if (n == -EMSGSIZE)
			reply_err(&rp, -EMSGSIZE, "malformed request: longer than %d bytes",
				  CONTROL_MAX_REQUEST);
		else if (n == -EBADMSG)
			reply_err(&rp, -EBADMSG, "malformed request: NUL byte in the line");
		else if (n < 0)
			goto out; /* the peer went away or sent nothing in time */
		else if (has_control_char(line))
			reply_err(&rp, -EINVAL, "malformed request: control character in the line");
		else if (strncmp(line, "prepare ", 8) == 0)
			do_prepare(c, fd, line + 8, &rp);
		else
			serve_line(c, line, &rp);
	}
	if (rp.oom)
		reply_err(&rp, -ENOMEM, "out of memory");
	r = send_all(fd, rp.buf, rp.len);
	if (r < 0)
		snap_log(LOG_DEBUG, "control socket: reply not sent: %s", strerror(-r));
out:
	free(rp.buf);
}

static void *control_thread(void *arg)
{
	struct sfs_control *c = arg;

	while (!atomic_load(&c->stopping)) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (atomic_load(&c->stopping))
				break;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS) {
				/* wait for resources rather than spin */
				struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };

				(void)nanosleep(&ts, NULL);
				continue;
			}
			snap_log(LOG_ERR, "control socket: accept: %s; no longer serving it",
				 strerror(errno));
			break;
		}
		serve_conn(c, fd);
		(void)close(fd);
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

/*
 * The address of SRC/.snapfs/control: the path itself when it fits into sun_path, otherwise
 * the same directory reached through our descriptor on it (/proc/self/fd/N/control).
 */
static int control_address(int state_fd, const char *state_path, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", state_path, SNAP_CONTROL_SOCKET);
	if (n > 0 && (size_t)n < sizeof(sa->sun_path))
		return 0;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", state_fd,
		     SNAP_CONTROL_SOCKET);
	return n > 0 && (size_t)n < sizeof(sa->sun_path) ? 0 : -ENAMETOOLONG;
}

int sfs_control_open(struct engine *e, int state_fd, const char *state_path,
		     struct sfs_control **ret, char *msg, size_t msglen)
{
	struct sfs_control *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa;
	int r;

	if (!c) {
		snprintf(msg, msglen, "control socket: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	c->eng = e;
	c->listen_fd = -1;
	atomic_init(&c->stopping, false);
	c->state_fd = fcntl(state_fd, F_DUPFD_CLOEXEC, 3);
	if (c->state_fd < 0) {
		r = -errno;
		goto out_free;
	}
	r = control_address(c->state_fd, state_path, &sa);
	if (r < 0)
		goto out_close_state;
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0) {
		r = -errno;
		goto out_close_state;
	}
	/* a socket left by a daemon that crashed: the volume lock says no one else serves SRC */
	if (unlinkat(c->state_fd, SNAP_CONTROL_SOCKET, 0) < 0 && errno != ENOENT) {
		r = -errno;
		goto out_close_sock;
	}
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out_close_sock;
	}
	if (fchmodat(c->state_fd, SNAP_CONTROL_SOCKET, 0600, 0) < 0 || listen(c->listen_fd, 16) < 0) {
		r = -errno;
		goto out_unlink;
	}
	*ret = c;
	return 0;
out_unlink:
	(void)unlinkat(c->state_fd, SNAP_CONTROL_SOCKET, 0);
out_close_sock:
	(void)close(c->listen_fd);
out_close_state:
	if (c->state_fd >= 0)
		(void)close(c->state_fd);
out_free:
	snprintf(msg, msglen, "control socket '%s/%s': %s", state_path, SNAP_CONTROL_SOCKET,
		 strerror(-r));
	free(c);
	return r;
}

int sfs_control_start(struct sfs_control *c)
{
	sigset_t all, old;
	int r;

	/* the thread takes no signals: they belong to the FUSE loop */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&c->thread, NULL, control_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	c->started = true;
	return 0;
}

void sfs_control_close(struct sfs_control *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stopping, true);
		/* wakes accept() up (EINVAL); a request being served finishes first */
		(void)shutdown(c->listen_fd, SHUT_RDWR);
		(void)pthread_join(c->thread, NULL);
	}
	(void)unlinkat(c->state_fd, SNAP_CONTROL_SOCKET, 0);
	(void)close(c->listen_fd);
	(void)close(c->state_fd);
	free(c);
}
