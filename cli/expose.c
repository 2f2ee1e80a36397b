/*
 * expose.c: the registry of exposed snapshots and the commands expose, unexpose and list
 * exposed. The mount itself is fusefs/expose.c's daemon; this file decides whether a snapshot
 * may be exposed at a directory, starts and stops that daemon, and keeps the records.
 *
 * The registry is STATE/exposed/ (made 0700 on demand), one file per exposed snapshot, named
 * by its id, of "key=value" lines:
 *   dir=/canonical/path      where it is mounted (no newline in it: refused at expose)
 *   tree=/path               the directory its daemon serves (absent in older records)
 *   persistent=yes|no        whether the service mounts it again when it starts
 *   pid=N                    its daemon
 *   time=N                   when it was (last) mounted, seconds since the epoch
 * A record is written whole to a temporary file and renamed over the old one. Every reader
 * and writer holds STATE/exposed/.lock (flock), shared to read, exclusive to change.
 *
 * An exposure is "mounted" while the mount table shows fuse.snapfs-expose with the source
 * snapfs:ID at its dir and its daemon runs. A mount whose daemon is gone (killed, crashed)
 * answers nothing: it is detached before the exposure is mounted again or dropped.
 *
 * Refusals: a directory inside the snapshot's own volume (the exposure would serve a path
 * through that volume from beneath it, and the volume could not be unmounted), or inside the
 * volume's source directory (the volume's daemon would meet the exposure while it reads the
 * snapshot, which waits on that daemon). The daemon itself refuses a directory inside the
 * tree it serves (a detached snapshot's, say): it checks what it opened.
 *
 * The registry's lock is held while the daemon starts, so that start has a time limit
 * (SNAPFS_EXPOSE_TIMEOUT seconds, else EXPOSE_TIMEOUT_S): a snapshot tree that does not answer
 * fails its expose command instead of blocking every other one. A mount that cannot be
 * recorded is taken away again, detached and its daemon stopped if it is in use already, so
 * that no mount is left that the registry does not know.
 *
 * An exposure outlives nothing it serves: when its snapshot is deleted anyway (the diff
 * area's bound evicts the oldest snapshots), its reads fail with ENOENT or ESTALE, and
 * expose_list() says the snapshot is gone.
 */
#include "expose.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "fusefs/expose.h"
#include "log.h"
#include "mountinfo.h"

#define EXPOSED_DIR "exposed"
#define LOCK_NAME ".lock"
#define DAEMON_WAIT_MS 10000
#define STOP_WAIT_MS 2000          /* after SIGTERM, before SIGKILL */
#define EXPOSE_TIMEOUT_S 30        /* for a daemon's report that it has mounted */
#define EXPOSE_TIMEOUT_ENV "SNAPFS_EXPOSE_TIMEOUT"

/* ---- paths and records ------------------------------------------------------------------ */

/* An id as the registry names files: 1 to 36 letters, digits and dashes. */
static bool is_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ADMIN_ID_MAX)
		return false;
	for (; *s; s++)
		if (!(*s == '-' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

/* STATE/exposed, or STATE/exposed/NAME, in buf. */
static int registry_path(char *buf, size_t size, const char *name, char *msg, size_t msglen)
{
	char sub[64 + ADMIN_ID_MAX];
	int r;

	snprintf(sub, sizeof(sub), name ? "%s/%s" : "%s", EXPOSED_DIR, name);
	r = admin_state_path(buf, size, sub);
	if (r < 0)
		snprintf(msg, msglen, "the state directory's path is too long");
	return r;
}

/*
 * Lock the registry (exclusive to change it, shared to read it), making its directory when
 * create is set. Returns the lock's fd, which the caller closes to unlock; -ENOENT when the
 * registry does not exist and create is not set.
 */
static int registry_lock(bool exclusive, bool create, char *msg, size_t msglen)
{
	char dir[PATH_MAX], lock[PATH_MAX];
	int fd, r;

	r = registry_path(dir, sizeof(dir), NULL, msg, msglen);
	if (r < 0)
		return r;
	if (create) {
		char state[PATH_MAX];

		(void)admin_state_path(state, sizeof(state), NULL);
		if (mkdir(state, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(msg, msglen, "cannot make the state directory '%s': %s", state,
				 strerror(-r));
			return r;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			snprintf(msg, msglen, "cannot make '%s': %s", dir, strerror(-r));
			return r;
		}
	}
	r = registry_path(lock, sizeof(lock), LOCK_NAME, msg, msglen);
	if (r < 0)
		return r;
	fd = open(lock, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0 && errno == ENOENT && !create)
		return -ENOENT;
	if (fd < 0 && !create && (errno == EACCES || errno == EPERM))
		fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", lock, strerror(-r));
		return r;
	}
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
		if (errno != EINTR) {
			r = -errno;
			snprintf(msg, msglen, "cannot lock '%s': %s", lock, strerror(-r));
			(void)close(fd);
			return r;
		}
	}
	return fd;
}

/* Parse the record text of id into e (mounted left false). -EBADMSG when it is not one. */
static int parse_record(const char *id, char *text, struct exposure *e)
{
	char *save = NULL, *line;
	bool has_dir = false;

	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", id);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "dir=", 4) == 0 && line[4] == '/' &&
		    strlen(line + 4) < sizeof(e->dir)) {
			snprintf(e->dir, sizeof(e->dir), "%s", line + 4);
			has_dir = true;
		} else if (strncmp(line, "tree=", 5) == 0 && line[5] == '/' &&
			   strlen(line + 5) < sizeof(e->tree)) {
			snprintf(e->tree, sizeof(e->tree), "%s", line + 5);
		} else if (strcmp(line, "persistent=yes") == 0) {
			e->persistent = true;
		} else if (strncmp(line, "pid=", 4) == 0) {
			e->pid = (pid_t)strtol(line + 4, NULL, 10);
		}
	}
	return has_dir ? 0 : -EBADMSG;
}

/* Read the record of id into e: 0, -ENOENT when there is none, or another negative errno. */
static int read_record(const char *id, struct exposure *e, char *msg, size_t msglen)
{
	char path[PATH_MAX], text[2 * PATH_MAX + 256];
	ssize_t len;
	int fd, r;

	r = registry_path(path, sizeof(path), id, msg, msglen);
	if (r < 0)
		return r;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT)
			snprintf(msg, msglen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	len = read(fd, text, sizeof(text) - 1);
	r = len < 0 ? -errno : 0;
	(void)close(fd);
	if (r < 0) {
		snprintf(msg, msglen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	text[len] = '\0';
	r = parse_record(id, text, e);
	if (r < 0)
		snprintf(msg, msglen, "'%s' is not an exposure record", path);
	return r;
}

/* Write e's record: a temporary file, flushed, renamed over the old record. */
static int write_record(const struct exposure *e, char *msg, size_t msglen)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16], text[2 * PATH_MAX + 256];
	int fd, len, r;

	r = registry_path(path, sizeof(path), e->id, msg, msglen);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = snprintf(text, sizeof(text), "dir=%s\ntree=%s\npersistent=%s\npid=%ld\ntime=%lld\n",
		       e->dir, e->tree, e->persistent ? "yes" : "no", (long)e->pid,
		       (long long)time(NULL));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out_msg;
	}
	errno = EIO; /* a short write sets none */
	if (write(fd, text, (size_t)len) != len || fsync(fd) < 0) {
		r = -errno;
		(void)close(fd);
		goto out_unlink;
	}
	if (close(fd) < 0) {
		r = -errno;
		goto out_unlink;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot write the record '%s': renaming '%s' over it: %s",
			 path, tmp, strerror(-r));
		(void)unlink(tmp);
		return r;
	}
	return 0;
out_unlink:
	(void)unlink(tmp);
out_msg:
	snprintf(msg, msglen, "cannot write the record '%s' (through '%s'): %s", path, tmp,
		 strerror(-r));
	return r;
}

static void drop_record(const char *id)
{
	char path[PATH_MAX], msg[64];

	if (registry_path(path, sizeof(path), id, msg, sizeof(msg)) == 0)
		(void)unlink(path);
}

/* ---- mounts and daemons ------------------------------------------------------------------ */

/* Whether pid is a live exposure daemon: by its name, so that a reused pid does not count. */
static bool is_daemon(pid_t pid)
{
	char path[64], line[256], *end;
	ssize_t len;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	len = read(fd, line, sizeof(line) - 1);
	(void)close(fd);
	if (len <= 0)
		return false;
	line[len] = '\0';
	/* "PID (COMM) STATE ...": a zombie has ended, whoever reaps it */
	end = strrchr(line, ')');
	if (!end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X')
		return false;
	*end = '\0';
	return strcmp(strchr(line, '(') ? strchr(line, '(') + 1 : "", EXPOSE_COMM) == 0;
}

/* Whether the mount table shows e's exposure at e->dir (live or not). */
static bool has_mount(const struct exposure *e)
{
	struct mountinfo_entry me;
	char source[64];

	snprintf(source, sizeof(source), EXPOSE_FSNAME_PREFIX "%s", e->id);
	return mountinfo_find(e->dir, &me) == 0 && strcmp(me.fstype, EXPOSE_FSTYPE) == 0 &&
	       strcmp(me.source, source) == 0;
}

/* Set e->mounted: its mount is there and its daemon runs. */
static void check_mounted(struct exposure *e)
{
	e->mounted = has_mount(e) && is_daemon(e->pid);
}

/* Wait until pid is no exposure daemon any more; -ETIMEDOUT after DAEMON_WAIT_MS. */
static int wait_daemon(pid_t pid)
{
	for (int ms = 0; ms < DAEMON_WAIT_MS; ms += 20) {
		if (!is_daemon(pid))
			return 0;
		(void)usleep(20 * 1000);
	}
	return -ETIMEDOUT;
}

/* Stop the daemon pid (if it still is one): SIGTERM, then SIGKILL; -ETIMEDOUT if it lingers. */
static int stop_daemon(pid_t pid)
{
	if (!is_daemon(pid) || kill(pid, SIGTERM) < 0)
		return 0;
	for (int ms = 0; ms < STOP_WAIT_MS; ms += 20) {
		if (!is_daemon(pid))
			return 0;
		(void)usleep(20 * 1000);
	}
	if (is_daemon(pid))
		(void)kill(pid, SIGKILL);
	return wait_daemon(pid);
}

/* Unmount dir (flags for umount2): umount2 as root, fusermount3 otherwise. */
static int unmount_dir(const char *dir, int flags)
{
	pid_t pid;
	int st;

	if (geteuid() == 0)
		return umount2(dir, flags | UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (flags & MNT_DETACH)
			execlp("fusermount3", "fusermount3", "-u", "-q", "-z", dir, (char *)NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "-q", dir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EBUSY;
}

/* Detach the mount of e left without a daemon, if there is one. */
static void clear_dead_mount(const struct exposure *e)
{
	if (has_mount(e) && !is_daemon(e->pid))
		(void)unmount_dir(e->dir, MNT_DETACH);
}

static int compare_ids(const void *a, const void *b)
{
	return strcmp(((const struct exposure *)a)->id, ((const struct exposure *)b)->id);
}

/*
 * Every record, in *ret (sorted by id; the caller frees it), each with mounted set. With the
 * registry locked exclusively (drop set), the records of non-persistent exposures whose mount
 * is gone are dropped (their dead mounts detached) and left out. A missing registry is empty.
 */
static int read_records(bool drop, struct exposure **ret, size_t *n, char *msg, size_t msglen)
{
	struct exposure *v = NULL;
	size_t count = 0, cap = 0;
	char dir[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	int r;

	*ret = NULL;
	*n = 0;
	r = registry_path(dir, sizeof(dir), NULL, msg, msglen);
	if (r < 0)
		return r;
	dp = opendir(dir);
	if (!dp && errno == ENOENT)
		return 0;
	if (!dp) {
		r = -errno;
		snprintf(msg, msglen, "cannot read '%s': %s", dir, strerror(-r));
		return r;
	}
	while ((d = readdir(dp))) {
		struct exposure e;

		if (!is_id(d->d_name))
			continue;
		r = read_record(d->d_name, &e, msg, msglen);
		if (r == -ENOENT || r == -EBADMSG)
			continue;
		if (r < 0)
			goto out_free;
		check_mounted(&e);
		if (drop && !e.persistent && !e.mounted) {
			clear_dead_mount(&e);
			drop_record(e.id);
			continue;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct exposure *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				r = -ENOMEM;
				snprintf(msg, msglen, "out of memory");
				goto out_free;
			}
			v = nv;
			cap = ncap;
		}
		v[count++] = e;
	}
	(void)closedir(dp);
	if (count)
		qsort(v, count, sizeof(*v), compare_ids);
	*ret = v;
	*n = count;
	return 0;
out_free:
	(void)closedir(dp);
	free(v);
	return r;
}

/* ---- the operations ---------------------------------------------------------------------- */

/* Whether path is dir or beneath it (both canonical). */
static bool is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Check that dir is an existing empty directory, not a mount point; its canonical path in real. */
static int check_dir(const char *dir, char *real, char *msg, size_t msglen)
{
	struct mountinfo_entry me;
	struct stat st;
	struct dirent *d;
	DIR *dp;
	int r = 0;

	if (!realpath(dir, real) || stat(real, &st) < 0) {
		r = -errno;
		if (r == -ENOENT)
			snprintf(msg, msglen, "directory '%s' does not exist", dir);
		else
			snprintf(msg, msglen, "directory '%s': %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, msglen, "'%s' is not a directory", dir);
		return -ENOTDIR;
	}
	if (strchr(real, '\n')) {
		snprintf(msg, msglen, "directory '%s': a newline in its path is not supported", dir);
		return -EINVAL;
	}
	if (mountinfo_find(real, &me) == 0) {
		snprintf(msg, msglen, "'%s' is already a mount point (of %s '%s')", dir, me.fstype,
			 me.source);
		return -EBUSY;
	}
	dp = opendir(real);
	if (!dp) {
		r = -errno;
		snprintf(msg, msglen, "directory '%s': %s", dir, strerror(-r));
		return r;
	}
	while ((d = readdir(dp))) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
			snprintf(msg, msglen, "directory '%s' is not empty", dir);
			r = -ENOTEMPTY;
			break;
		}
	}
	(void)closedir(dp);
	return r;
}

/* Refuse a dir within the volume of s, or within the directory that volume serves. */
static int check_outside_volume(const struct admin_shadow *s, const char *real, const char *dir,
				char *msg, size_t msglen)
{
	char src[PATH_MAX];

	if (s->detached)
		return 0;
	if (is_within(real, s->vol.mnt)) {
		snprintf(msg, msglen, "directory '%s' is inside the volume '%s' of snapshot '%s'",
			 dir, s->vol.mnt, s->id);
		return -EINVAL;
	}
	if (realpath(s->vol.src, src) && is_within(real, src)) {
		snprintf(msg, msglen, "directory '%s' is inside '%s', the source of the volume of "
			 "snapshot '%s'", dir, src, s->id);
		return -EINVAL;
	}
	return 0;
}

/* How long a daemon may take to report that it has mounted: $SNAPFS_EXPOSE_TIMEOUT s. */
static int start_timeout_ms(void)
{
	const char *env = getenv(EXPOSE_TIMEOUT_ENV);
	char *end;
	long sec;

	if (!env || !*env)
		return EXPOSE_TIMEOUT_S * 1000;
	errno = 0;
	sec = strtol(env, &end, 10);
	if (errno || *end || sec <= 0 || sec > 3600)
		return EXPOSE_TIMEOUT_S * 1000;
	return (int)sec * 1000;
}

/*
 * Mount s at the canonical dir real and fill e (not yet recorded). When the daemon does not
 * report in time, it is killed (by expose_start) and what it may have mounted is detached.
 */
static int mount_shadow(const struct admin_shadow *s, const char *real, bool persistent,
			struct exposure *e, char *msg, size_t msglen)
{
	struct exposure n = { 0 };
	pid_t pid;
	int r;

	snprintf(n.id, sizeof(n.id), "%s", s->id);
	snprintf(n.dir, sizeof(n.dir), "%s", real);
	r = admin_shadow_tree(s, n.tree, sizeof(n.tree));
	if (r < 0) {
		snprintf(msg, msglen, "the tree of snapshot '%s': %s", s->id, strerror(-r));
		return r;
	}
	r = expose_start(n.tree, real, s->id, start_timeout_ms(), &pid, msg, msglen);
	if (r < 0 && has_mount(&n)) /* a daemon that mounted, then failed */
		(void)unmount_dir(real, MNT_DETACH);
	if (r < 0)
		return r;
	n.persistent = persistent;
	n.mounted = true;
	n.pid = pid;
	*e = n;
	return 0;
}

/* Unmount e's mount and wait for its daemon (a mount without a daemon is detached). */
static int unmount_exposure(const struct exposure *e, char *msg, size_t msglen)
{
	int r;

	if (has_mount(e)) {
		r = unmount_dir(e->dir, is_daemon(e->pid) ? 0 : MNT_DETACH);
		if (r < 0) {
			snprintf(msg, msglen, "cannot unmount '%s': %s", e->dir, strerror(-r));
			return r;
		}
	}
	if (wait_daemon(e->pid) < 0) {
		snprintf(msg, msglen, "the daemon of '%s' (pid %ld) has not ended after %d s", e->dir,
			 (long)e->pid, DAEMON_WAIT_MS / 1000);
		return -ETIMEDOUT;
	}
	return 0;
}

/*
 * Take away the mount of e, which could not be recorded: unmount it, or, when that fails (it
 * is in use already), detach it and stop its daemon. Appends what went wrong to msg.
 */
static void undo_mount(const struct exposure *e, char *msg, size_t msglen)
{
	char why[ADMIN_MSG];

	if (unmount_exposure(e, why, sizeof(why)) == 0) {
		snap_msg_append(msg, msglen, "; the mount was taken away");
		return;
	}
	(void)unmount_dir(e->dir, MNT_DETACH);
	if (stop_daemon(e->pid) < 0)
		snap_msg_append(msg, msglen, "; then %s, so it was detached, but its daemon (pid "
				"%ld) does not end", why, (long)e->pid);
	else
		snap_msg_append(msg, msglen, "; then %s, so it was detached and its daemon stopped",
				why);
}

/* Refuse id when dir (canonical) or the snapshot is in a record of v already. */
static int check_not_exposed(const struct exposure *v, size_t n, const char *id,
			     const char *real, const char *dir, char *msg, size_t msglen)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].id, id) == 0) {
			snprintf(msg, msglen, "snapshot '%s' is already exposed at '%s'", id,
				 v[i].dir);
			return -EBUSY;
		}
		if (strcmp(v[i].dir, real) == 0) {
			snprintf(msg, msglen, "directory '%s' is where snapshot '%s' is exposed", dir,
				 v[i].id);
			return -EBUSY;
		}
	}
	return 0;
}

/*
 * The snapshot is looked up (and dir checked) first without the lock, so that a plain mistake
 * fails without waiting for it; then again under it, so that a snapshot deleted meanwhile is
 * not mounted (a delete checks for exposures under the same lock, expose_hold()).
 */
int expose_snapshot(const char *id, const char *dir, bool persistent, char *msg, size_t msglen)
{
	struct admin_shadow s;
	struct exposure *v, e;
	char real[PATH_MAX];
	size_t n;
	int lock, r;

	if (!is_id(id)) {
		snprintf(msg, msglen, "bad snapshot id '%s'", id);
		return -EINVAL;
	}
	r = admin_find_shadow(id, &s, msg, msglen);
	if (r < 0)
		return r;
	r = check_dir(dir, real, msg, msglen);
	if (r < 0)
		return r;
	r = check_outside_volume(&s, real, dir, msg, msglen);
	if (r < 0)
		return r;
	lock = registry_lock(true, true, msg, msglen);
	if (lock < 0)
		return lock;
	r = read_records(true, &v, &n, msg, msglen);
	if (r < 0)
		goto out_unlock;
	r = check_not_exposed(v, n, s.id, real, dir, msg, msglen);
	free(v);
	if (r < 0)
		goto out_unlock;
	r = admin_find_shadow(id, &s, msg, msglen);
	if (r == -ENOENT)
		snprintf(msg, msglen, "snapshot '%s' was deleted while it was being exposed", id);
	if (r < 0)
		goto out_unlock;
	r = check_outside_volume(&s, real, dir, msg, msglen);
	if (r < 0)
		goto out_unlock;
	r = mount_shadow(&s, real, persistent, &e, msg, msglen);
	if (r < 0)
		goto out_unlock;
	r = write_record(&e, msg, msglen);
	if (r < 0)
		undo_mount(&e, msg, msglen);
out_unlock:
	(void)close(lock);
	return r;
}

/* Find the record named by id_or_dir (an id, or its directory in any spelling). */
static int find_exposure(const char *id_or_dir, struct exposure *ret, char *msg, size_t msglen)
{
	struct exposure *v;
	char real[PATH_MAX];
	size_t n;
	int r = read_records(false, &v, &n, msg, msglen);

	if (r < 0)
		return r;
	/* a directory whose daemon is gone cannot be resolved: then its spelling counts */
	if (!realpath(id_or_dir, real))
		snprintf(real, sizeof(real), "%s", id_or_dir);
	r = -ENOENT;
	for (size_t i = 0; i < n && r < 0; i++) {
		if (strcmp(v[i].id, id_or_dir) == 0 || strcmp(v[i].dir, real) == 0) {
			*ret = v[i];
			r = 0;
		}
	}
	free(v);
	if (r < 0)
		snprintf(msg, msglen, "'%s' is neither an exposed snapshot nor the directory of one",
			 id_or_dir);
	return r;
}

int unexpose(const char *id_or_dir, char *msg, size_t msglen)
{
	struct exposure e;
	int lock, r;

	lock = registry_lock(true, false, msg, msglen);
	if (lock == -ENOENT) {
		snprintf(msg, msglen, "'%s' is neither an exposed snapshot nor the directory of one",
			 id_or_dir);
		return -ENOENT;
	}
	if (lock < 0)
		return lock;
	r = find_exposure(id_or_dir, &e, msg, msglen);
	if (r < 0)
		goto out_unlock;
	r = unmount_exposure(&e, msg, msglen);
	if (r < 0)
		goto out_unlock;
	drop_record(e.id);
out_unlock:
	(void)close(lock);
	return r;
}

/* Whether the snapshot id is among the n of v. */
static bool has_shadow(const struct admin_shadow *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return true;
	return false;
}

/*
 * Set e->snapshot: whether the snapshot it serves still exists. A detached one is looked for
 * in the store; a volume's (its tree is MNT/.snapshots/ID) asks that volume, and is unknown
 * when the volume is not mounted or does not answer. A record without a tree is present when
 * the snapshot is found anywhere, unknown otherwise.
 */
static void check_snapshot(struct exposure *e)
{
	struct admin_shadow d = { 0 }, *v = NULL, one;
	struct control_volume vol;
	char msg[ADMIN_MSG], detached[PATH_MAX], mnt[PATH_MAX], suffix[64 + ADMIN_ID_MAX];
	size_t n = 0, len, slen;
	int r;

	e->snapshot = EXPOSURE_SNAPSHOT_UNKNOWN;
	if (!e->tree[0]) {
		if (admin_find_shadow(e->id, &one, msg, sizeof(msg)) == 0)
			e->snapshot = EXPOSURE_SNAPSHOT_PRESENT;
		return;
	}
	snprintf(d.id, sizeof(d.id), "%s", e->id);
	d.detached = true;
	if (admin_shadow_tree(&d, detached, sizeof(detached)) == 0 &&
	    strcmp(detached, e->tree) == 0) {
		r = admin_detached(&v, &n, msg, sizeof(msg));
	} else {
		snprintf(suffix, sizeof(suffix), "/.snapshots/%s", e->id);
		len = strlen(e->tree);
		slen = strlen(suffix);
		if (len <= slen || strcmp(e->tree + len - slen, suffix) != 0)
			return;
		snprintf(mnt, sizeof(mnt), "%.*s", (int)(len - slen), e->tree);
		r = admin_volume(mnt, &vol, msg, sizeof(msg));
		if (r == 0)
			r = admin_shadows(&vol, &v, &n, msg, sizeof(msg));
	}
	if (r == 0)
		e->snapshot = has_shadow(v, n, e->id) ? EXPOSURE_SNAPSHOT_PRESENT :
							EXPOSURE_SNAPSHOT_GONE;
	free(v);
}

int expose_list(struct exposure **ret, size_t *n, char *msg, size_t msglen)
{
	int lock, r;

	lock = registry_lock(true, false, msg, msglen);
	if (lock == -ENOENT) {
		*ret = NULL;
		*n = 0;
		return 0;
	}
	if (lock < 0)
		return lock;
	r = read_records(true, ret, n, msg, msglen);
	(void)close(lock);
	/* the volumes are asked without the lock: one that does not answer holds up no other */
	for (size_t i = 0; r == 0 && i < *n; i++)
		check_snapshot(&(*ret)[i]);
	return r;
}

int expose_lookup(const char *id, struct exposure *ret)
{
	char msg[ADMIN_MSG];
	struct exposure e;
	int lock, r;

	if (!is_id(id))
		return 0;
	lock = registry_lock(false, false, msg, sizeof(msg));
	if (lock == -ENOENT)
		return 0;
	if (lock < 0)
		return lock;
	r = read_record(id, &e, msg, sizeof(msg));
	(void)close(lock);
	/* a record that does not parse is none, here as in every listing */
	if (r == -ENOENT || r == -EBADMSG)
		return 0;
	if (r < 0)
		return r;
	check_mounted(&e);
	/* a temporary exposure whose mount is gone is none (expose_list drops its record) */
	if (!e.persistent && !e.mounted)
		return 0;
	*ret = e;
	return 1;
}

int expose_hold(int *ret_hold, char *msg, size_t msglen)
{
	int lock = registry_lock(false, true, msg, msglen);

	/* who cannot make the registry finds it, if it is there, or there is none to hold */
	if (lock == -EACCES || lock == -EPERM || lock == -EROFS)
		lock = registry_lock(false, false, msg, msglen);
	if (lock == -ENOENT)
		lock = -1;
	else if (lock < 0)
		return lock;
	*ret_hold = lock;
	return 0;
}

void expose_release(int hold)
{
	if (hold >= 0)
		(void)close(hold);
}

/* Append "ID at 'DIR': why" to the restore's message. */
static void add_failure(char *msg, size_t msglen, const struct exposure *e, const char *why)
{
	snap_msg_append(msg, msglen, "%s'%s' at '%s': %s", msg[0] ? "; " : "", e->id, e->dir,
			why);
}

/* Mount the persistent exposure e again, and record its new daemon. */
static int restore_one(struct exposure *e, char *why, size_t whylen)
{
	struct admin_shadow s;
	char real[PATH_MAX];
	int r;

	clear_dead_mount(e);
	r = admin_find_shadow(e->id, &s, why, whylen);
	if (r < 0)
		return r;
	r = check_dir(e->dir, real, why, whylen);
	if (r < 0)
		return r;
	r = check_outside_volume(&s, real, e->dir, why, whylen);
	if (r < 0)
		return r;
	r = mount_shadow(&s, real, true, e, why, whylen);
	if (r < 0)
		return r;
	r = write_record(e, why, whylen);
	if (r < 0)
		undo_mount(e, why, whylen);
	return r;
}

int expose_restore(char *msg, size_t msglen)
{
	struct exposure *v;
	char why[ADMIN_MSG];
	size_t n;
	int lock, r, failed = 0;

	lock = registry_lock(true, false, msg, msglen);
	if (lock == -ENOENT)
		return 0;
	if (lock < 0)
		return lock;
	/* this drops the temporary exposures whose mount is gone */
	r = read_records(true, &v, &n, msg, msglen);
	if (r < 0)
		goto out_unlock;
	msg[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (v[i].mounted)
			continue;
		if (restore_one(&v[i], why, sizeof(why)) < 0) {
			add_failure(msg, msglen, &v[i], why);
			failed++;
		}
	}
	free(v);
	r = failed;
out_unlock:
	(void)close(lock);
	return r;
}

/* ---- the commands ------------------------------------------------------------------------ */

static const char expose_usage[] =
	"usage: snapfs expose [--temporary] ID DIR\n"
	"\n"
	"Mount the snapshot ID read-only at the directory DIR, which must exist, be\n"
	"empty, not be a mount point and not lie inside the snapshot's volume or its\n"
	"tree. The snapshot may be one that .snapshots no longer lists, or a detached\n"
	"one. It stays exposed until 'snapfs unexpose'. The delete commands refuse it\n"
	"meanwhile, but when the volume's diff area reaches its bound (maxsize), the\n"
	"oldest snapshots are deleted anyway: an exposed one too. Its exposure then\n"
	"fails reads with ENOENT or ESTALE, and 'snapfs list exposed' shows it gone.\n"
	"\n"
	"  --temporary   do not mount it again when the service starts (after a\n"
	"                reboot); by default an exposure is persistent\n"
	"\n"
	"If the snapshot's tree does not answer within $SNAPFS_EXPOSE_TIMEOUT seconds\n"
	"(30 by default), the command fails and leaves nothing mounted.\n";

static const char unexpose_usage[] =
	"usage: snapfs unexpose DIR|ID\n"
	"\n"
	"Unmount the exposed snapshot ID, or the one exposed at DIR, and forget it.\n";

static const char list_exposed_usage[] =
	"usage: snapfs list exposed [-H]\n"
	"\n"
	"List the exposed snapshots: id, directory, whether the exposure is persistent\n"
	"(mounted again when the service starts), whether it is mounted now, and\n"
	"whether its snapshot is still there: 'present', 'gone' (deleted meanwhile,\n"
	"by the diff area's bound; the exposure fails its reads) or 'unknown' (its\n"
	"volume is not mounted or does not answer).\n"
	"\n"
	"  -H   one exposure per line, fields separated by tabs, no headings\n";

static bool is_help_arg(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cmd_expose(int argc, char **argv)
{
	const char *id = NULL, *dir = NULL;
	char msg[ADMIN_MSG];
	bool persistent = true;

	for (int i = 1; i < argc; i++) {
		if (is_help_arg(argv[i])) {
			fputs(expose_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "--temporary") == 0) {
			persistent = false;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs expose: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!id) {
			id = argv[i];
		} else if (!dir) {
			dir = argv[i];
		} else {
			fprintf(stderr, "snapfs expose: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (!dir) {
		fprintf(stderr, "snapfs expose: expected a snapshot id and a directory (see "
				"'snapfs expose --help')\n");
		return EXIT_FAILURE;
	}
	/* what goes to stdout before the daemon forks must not be written twice */
	(void)fflush(stdout);
	if (expose_snapshot(id, dir, persistent, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs expose: %s\n", msg);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int cmd_unexpose(int argc, char **argv)
{
	const char *what = NULL;
	char msg[ADMIN_MSG];

	for (int i = 1; i < argc; i++) {
		if (is_help_arg(argv[i])) {
			fputs(unexpose_usage, stdout);
			return EXIT_SUCCESS;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs unexpose: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!what) {
			what = argv[i];
		} else {
			fprintf(stderr, "snapfs unexpose: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (!what) {
		fprintf(stderr, "snapfs unexpose: expected a directory or a snapshot id (see "
				"'snapfs unexpose --help')\n");
		return EXIT_FAILURE;
	}
	if (unexpose(what, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs unexpose: %s\n", msg);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* How list exposed shows whether an exposure's snapshot is still there. */
static const char *snapshot_word(enum exposure_snapshot state)
{
	switch (state) {
	case EXPOSURE_SNAPSHOT_PRESENT:
		return "present";
	case EXPOSURE_SNAPSHOT_GONE:
		return "gone";
	case EXPOSURE_SNAPSHOT_UNKNOWN:
		break;
	}
	return "unknown";
}

int cmd_list_exposed(int argc, char **argv)
{
	struct exposure *v;
	char msg[ADMIN_MSG];
	bool tabs = false;
	size_t n;

	for (int i = 2; i < argc; i++) {
		if (is_help_arg(argv[i])) {
			fputs(list_exposed_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs list exposed: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else {
			fprintf(stderr, "snapfs list exposed: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (expose_list(&v, &n, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs list exposed: %s\n", msg);
		return EXIT_FAILURE;
	}
	for (size_t i = 0; i < n; i++) {
		const char *pers = v[i].persistent ? "yes" : "no";
		const char *mnt = v[i].mounted ? "yes" : "no";
		const char *snap = snapshot_word(v[i].snapshot);

		if (tabs)
			printf("%s\t%s\t%s\t%s\t%s\n", v[i].id, v[i].dir, pers, mnt, snap);
		else
			printf("%sSnapshot ID: %s\n  Directory:   %s\n  Persistent:  %s\n"
			       "  Mounted:     %s\n  Snapshot:    %s%s\n", i ? "\n" : "", v[i].id,
			       v[i].dir, pers, mnt, snap,
			       v[i].snapshot == EXPOSURE_SNAPSHOT_GONE ?
			       " (deleted since it was exposed: unexpose it)" : "");
	}
	if (!tabs && n == 0)
		printf("no exposed snapshots\n");
	free(v);
	return EXIT_SUCCESS;
}
