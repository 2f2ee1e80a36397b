/*
 * control_client.c: how the snapfs command and the coordinator reach the daemon of a volume. It maps a mount
 * point to the directory it serves (the kernel's mount table, cross-checked with the lock file
 * in which the daemon records its mount point) and exchanges one request and its reply over
 * SRC/.snapfs/control. It knows the framing of the protocol (lines, the final 'ok'/'err'),
 * not the meaning of requests; it prints nothing.
 */
#include "control_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mountinfo.h"
#include "volume.h"

#define LOCK_FILE "lock"
#define REPLY_MAX (16u << 20) /* far above what 512 snapshots take */

/*
 * Whether the lock file of the volume at src names another mount point than mnt: then src is
 * no longer the directory the mount serves (renamed since, say). An empty or unreadable lock
 * file says nothing (the daemon records its mount point after mounting; others may not read).
 */
static bool lock_names_other_mount(const char *src, const char *mnt)
{
	char path[PATH_MAX + 32], buf[PATH_MAX + 32], *sp;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s/%s", src, VOLUME_STATE_DIR, LOCK_FILE) >=
	    (int)sizeof(path))
		return false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	sp = strchr(buf, ' '); /* "pid mountpoint" */
	return sp && strcmp(sp + 1, mnt) != 0;
}

int control_volume_find(const char *mnt, struct control_volume *ret)
{
	struct mountinfo_entry me;
	char real[PATH_MAX];

	if (!realpath(mnt, real))
		return -errno;
	if (mountinfo_find(real, &me) < 0 || strcmp(me.fstype, SNAPFS_FSTYPE) != 0)
		return -ENOTCONN;
	if (me.source[0] != '/' || strlen(me.source) >= sizeof(ret->src))
		return -ENOTCONN;
	if (lock_names_other_mount(me.source, real))
		return -ENOTCONN;
	snprintf(ret->mnt, sizeof(ret->mnt), "%s", real);
	snprintf(ret->src, sizeof(ret->src), "%s", me.source);
	return 0;
}

/* The volumes found so far: a heap array. */
struct volume_list {
	struct control_volume *v;
	size_t n;
};

/* Append v to l unless its mount point is there already. */
static int add_volume(struct volume_list *l, const struct control_volume *v)
{
	struct control_volume *nv;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].mnt, v->mnt) == 0)
			return 0;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv[l->n++] = *v;
	l->v = nv;
	return 0;
}

/*
 * A snapfs entry of the mount table, checked again through control_volume_find(), which keeps
 * only the topmost mount of a mount point (one mounted over is out of reach anyway).
 */
static int add_mounted(const struct mountinfo_mount *m, void *ctx)
{
	struct volume_list *l = ctx;
	struct control_volume v;

	if (control_volume_find(m->mountpoint, &v) < 0)
		return 0;
	return add_volume(l, &v);
}

int control_volume_list(struct control_volume **ret)
{
	struct volume_list l = { 0 };
	int r = mountinfo_each(SNAPFS_FSTYPE, add_mounted, &l);

	if (r < 0) {
		free(l.v);
		return r;
	}
	*ret = l.v;
	return (int)l.n;
}

int control_volume_flush(const struct control_volume *v, int *wb_err)
{
	int fd = open(v->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*wb_err = 0;
	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		*wb_err = errno;
	(void)close(fd);
	return 0;
}

/*
 * Connect to the control socket of v: by its path when it fits into sun_path, otherwise
 * through a descriptor on the state directory (/proc/self/fd/N/control). Returns the
 * connected socket or a negative errno.
 */
static int connect_volume(const struct control_volume *v, unsigned timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, dirfd = -1, r, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s", v->src, VOLUME_STATE_DIR,
		     SNAP_CONTROL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		char dir[PATH_MAX + 16];

		snprintf(dir, sizeof(dir), "%s/%s", v->src, VOLUME_STATE_DIR);
		dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -errno;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
			 SNAP_CONTROL_SOCKET);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out_close_dir;
	}
	if (timeout_ms) { /* for connect (a full backlog), sends and reads alike */
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		(void)close(fd);
		goto out_close_dir;
	}
	r = fd;
out_close_dir:
	if (dirfd >= 0)
		(void)close(dirfd);
	return r;
}

static int send_line(int fd, const char *line)
{
	size_t len = strlen(line);
	char *buf = malloc(len + 1);
	size_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(buf);
	return r;
}

/* Read until the daemon closes; the reply, NUL terminated, in *ret (heap). */
static int read_all(int fd, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *nb = cap >= REPLY_MAX ? NULL : realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return cap >= REPLY_MAX ? -EMSGSIZE : -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* the daemon closed before reading all we sent: what it replied is all there is */
		if (n < 0 && errno == ECONNRESET && len > 0)
			break;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Take the reply text apart into ret: data lines, then exactly one final line at the end. */
static int parse_reply(char *buf, size_t len, struct control_reply *ret)
{
	char *p = buf, *end = buf + len, *nl, **nlines;

	if (memchr(buf, '\0', len))
		return -EBADMSG;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -EBADMSG; /* cut short */
		*nl = '\0';
		if (nl + 1 == end) {
			/* the final line */
			if (strcmp(p, "ok") == 0 || strncmp(p, "ok ", 3) == 0) {
				ret->err = 0;
				ret->rest = strdup(p[2] ? p + 3 : "");
			} else if (strncmp(p, "err ", 4) == 0) {
				char *e;
				long v = strtol(p + 4, &e, 10);

				if (e == p + 4 || v <= 0 || v > 4095 || (*e && *e != ' '))
					return -EBADMSG;
				ret->err = (int)v;
				ret->rest = strdup(*e ? e + 1 : "");
			} else {
				return -EBADMSG;
			}
			return ret->rest ? 0 : -ENOMEM;
		}
		nlines = realloc(ret->lines, (ret->n + 1) * sizeof(*nlines));
		if (!nlines)
			return -ENOMEM;
		ret->lines = nlines;
		ret->lines[ret->n] = strdup(p);
		if (!ret->lines[ret->n])
			return -ENOMEM;
		ret->n++;
		p = nl + 1;
	}
	return -EBADMSG; /* no final line */
}

/*
 * Send line on fd, then read the reply until the daemon closes, into ret. A daemon that
 * refuses or gives up early replies and closes before reading: its reply is read all the same.
 * Closes fd.
 */
static int exchange(int fd, const char *line, struct control_reply *ret)
{
	char *buf = NULL;
	size_t len = 0;
	int r, sent;

	sent = send_line(fd, line);
	(void)shutdown(fd, SHUT_WR);
	r = read_all(fd, &buf, &len);
	if (r == 0) {
		r = parse_reply(buf, len, ret);
		free(buf);
	}
	if (r < 0 && sent < 0)
		r = sent;
	(void)close(fd);
	return r;
}

int control_request_within(const struct control_volume *v, const char *line, unsigned ms,
			   struct control_reply *ret)
{
	int fd, r;

	*ret = (struct control_reply){ 0 };
	fd = connect_volume(v, ms);
	r = fd < 0 ? fd : exchange(fd, line, ret);
	return r == -EAGAIN || r == -EWOULDBLOCK ? -ETIMEDOUT : r;
}

int control_request(const struct control_volume *v, const char *line,
		    struct control_reply *ret)
{
	return control_request_within(v, line, 0, ret);
}

void control_reply_release(struct control_reply *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->lines[i]);
	free(r->lines);
	free(r->rest);
	*r = (struct control_reply){ 0 };
}

/* Read one line (up to '\n') of at most cap - 1 bytes into buf, byte by byte. */
static int read_line(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		len++;
	}
	return -EBADMSG;
}

int control_hold(const struct control_volume *v, const char *set_id, unsigned ms,
		 unsigned wait_ms, struct control_reply *ret)
{
	struct timeval tv = { .tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000 };
	char line[512];
	int fd, r;

	*ret = (struct control_reply){ 0 };
	fd = connect_volume(v, 0);
	if (fd < 0)
		return fd;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(line, sizeof(line), "prepare %s %u", set_id, ms);
	r = send_line(fd, line);
	if (r == 0)
		r = read_line(fd, line, sizeof(line));
	if (r == 0 && strcmp(line, "ok held") == 0)
		return fd;
	if (r == 0) { /* a refusal: the err line is the whole reply */
		size_t len = strlen(line);

		line[len] = '\n';
		r = parse_reply(line, len + 1, ret);
		if (r == 0)
			r = ret->err ? -ret->err : -EBADMSG;
	}
	(void)close(fd);
	return r;
}

int control_hold_end(int fd, const char *line, struct control_reply *ret)
{
	*ret = (struct control_reply){ 0 };
	return exchange(fd, line, ret);
}
