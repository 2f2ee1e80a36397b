/*
 * volume.c owns a volume's backing directory and its state directory SRC/.snapfs/: the
 * checks made before a mount, the creation of the state directory, and the lock that keeps a
 * second daemon off the same SRC. It knows nothing of FUSE.
 *
 * The lock is an flock() on SRC/.snapfs/lock held for the daemon's lifetime; the file also
 * records "pid mountpoint" so that 'snapfs umount' can wait for the daemon to finish.
 */
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mountinfo.h"

#define LOCK_NAME "lock"

/* True when path equals dir or lies below it (both canonical). */
static bool path_is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int check_dir(const char *role, const char *path, char *real, char *msg, size_t msglen)
{
	struct stat st;

	if (!realpath(path, real) || stat(real, &st) < 0) {
		int r = -errno;

		snprintf(msg, msglen, "%s '%s': %s", role, path, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, msglen, "%s '%s': %s", role, path, strerror(ENOTDIR));
		return -ENOTDIR;
	}
	return 0;
}

int volume_check_mount_paths(const char *src, const char *mnt, char *msg, size_t msglen)
{
	char rsrc[PATH_MAX], rmnt[PATH_MAX];
	struct mountinfo_entry me;
	int r;

	r = check_dir("source", src, rsrc, msg, msglen);
	if (r < 0)
		return r;
	r = check_dir("mount point", mnt, rmnt, msg, msglen);
	if (r < 0)
		return r;
	if (path_is_within(rsrc, rmnt)) {
		snprintf(msg, msglen, "source '%s' lies inside mount point '%s'", src, mnt);
		return -EINVAL;
	}
	if (path_is_within(rmnt, rsrc)) {
		snprintf(msg, msglen, "mount point '%s' lies inside source '%s'", mnt, src);
		return -EINVAL;
	}
	r = mountinfo_find(rmnt, &me);
	if (r == 0) {
		snprintf(msg, msglen, "mount point '%s' is already mounted (%s from '%s')", mnt,
			 me.fstype, me.source);
		return -EBUSY;
	}
	if (r != -ENOENT) {
		snprintf(msg, msglen, "cannot read the mount table: %s", strerror(-r));
		return r;
	}
	return 0;
}

/*
 * The state directory and the lock file must be ours alone: of the expected type, owned by
 * this process's user, not writable by group or others, and (the lock file) with no other
 * link, since the daemon truncates and rewrites it. -EPERM otherwise.
 */
static int check_owned(int fd, mode_t type)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((st.st_mode & S_IFMT) != type)
		return type == S_IFDIR ? -ENOTDIR : -EINVAL;
	if (st.st_uid != geteuid() || (st.st_mode & 022) || (type == S_IFREG && st.st_nlink != 1))
		return -EPERM;
	return 0;
}

int volume_open(const char *src, struct volume **ret_vol, char *msg, size_t msglen)
{
	struct volume *vol = calloc(1, sizeof(*vol));
	char real[PATH_MAX];
	int r;

	if (!vol)
		return -ENOMEM;
	vol->src_fd = vol->state_fd = vol->lock_fd = -1;
	if (!realpath(src, real)) {
		r = -errno;
		snprintf(msg, msglen, "source '%s': %s", src, strerror(-r));
		goto out_free_vol;
	}
	vol->src = strdup(real);
	if (!vol->src) {
		r = -ENOMEM;
		goto out_free_vol;
	}
	vol->src_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (vol->src_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "source '%s': %s", src, strerror(-r));
		goto out_free_src;
	}
	vol->created = mkdirat(vol->src_fd, VOLUME_STATE_DIR, 0700) == 0;
	if (!vol->created && errno != EEXIST) {
		r = -errno;
		snprintf(msg, msglen, "cannot create state directory '%s/%s': %s", real,
			 VOLUME_STATE_DIR, strerror(-r));
		goto out_close_src;
	}
	vol->state_fd = openat(vol->src_fd, VOLUME_STATE_DIR,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (vol->state_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open state directory '%s/%s': %s", real,
			 VOLUME_STATE_DIR, strerror(-r));
		goto out_close_src;
	}
	r = check_owned(vol->state_fd, S_IFDIR);
	if (r < 0) {
		snprintf(msg, msglen, "state directory '%s/%s' is not snapfs's: %s", real,
			 VOLUME_STATE_DIR, r == -EPERM ? "it is writable by others or owned by "
			 "another user" : strerror(-r));
		goto out_close_state;
	}
	vol->lock_fd = openat(vol->state_fd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
			      0600);
	if (vol->lock_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open lock file '%s/%s/%s': %s", real, VOLUME_STATE_DIR,
			 LOCK_NAME, strerror(-r));
		goto out_close_state;
	}
	r = check_owned(vol->lock_fd, S_IFREG);
	if (r < 0) {
		snprintf(msg, msglen, "lock file '%s/%s/%s' is not snapfs's: %s", real,
			 VOLUME_STATE_DIR, LOCK_NAME, r == -EPERM ? "it has other links, is writable "
			 "by others or is owned by another user" : strerror(-r));
		goto out_close_lock;
	}
	if (flock(vol->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char owner[PATH_MAX + 32] = "";
		ssize_t n;

		r = -errno;
		n = pread(vol->lock_fd, owner, sizeof(owner) - 1, 0);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		if (r == -EWOULDBLOCK) {
			r = -EBUSY;
			snprintf(msg, msglen, "source '%s' is already served by snapfs (pid and mount "
				 "point: %s)", src, owner[0] ? owner : "unknown");
		} else {
			snprintf(msg, msglen, "cannot lock '%s/%s/%s': %s", real, VOLUME_STATE_DIR,
				 LOCK_NAME, strerror(-r));
		}
		goto out_close_lock;
	}
	*ret_vol = vol;
	return 0;
out_close_lock:
	(void)close(vol->lock_fd);
out_close_state:
	(void)close(vol->state_fd);
out_close_src:
	(void)close(vol->src_fd);
out_free_src:
	free(vol->src);
out_free_vol:
	free(vol);
	return r;
}

int volume_record_owner(struct volume *vol, const char *mnt)
{
	char line[PATH_MAX + 32];
	int n = snprintf(line, sizeof(line), "%ld %s\n", (long)getpid(), mnt);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	if (ftruncate(vol->lock_fd, 0) < 0)
		return -errno;
	if (pwrite(vol->lock_fd, line, n, 0) != n)
		return -EIO;
	return 0;
}

void volume_close(struct volume *vol)
{
	if (!vol)
		return;
	if (vol->lock_fd >= 0) {
		(void)ftruncate(vol->lock_fd, 0);
		(void)close(vol->lock_fd);
	}
	if (vol->state_fd >= 0)
		(void)close(vol->state_fd);
	if (vol->src_fd >= 0)
		(void)close(vol->src_fd);
	free(vol->src);
	free(vol);
}

void volume_abandon(struct volume *vol)
{
	if (vol && vol->created) {
		(void)unlinkat(vol->state_fd, LOCK_NAME, 0);
		(void)unlinkat(vol->src_fd, VOLUME_STATE_DIR, AT_REMOVEDIR);
	}
	volume_close(vol);
}

int volume_wait_unlocked(const char *src, int timeout_ms)
{
	char path[PATH_MAX];
	int fd, waited;

	if (snprintf(path, sizeof(path), "%s/%s/%s", src, VOLUME_STATE_DIR, LOCK_NAME) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (waited = 0;; waited += 10) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0)
			break;
		if (waited >= timeout_ms) {
			(void)close(fd);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	(void)close(fd);
	return 0;
}
