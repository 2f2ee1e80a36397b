/*
 * coord_journal.c: the records of the snapshot sets being created (coord_journal.h). A record
 * is written as .SET_ID.tmp, locked, synced, and renamed into place, so that a reader never
 * sees half of one; the lock follows the open file through the rename.
 */
#include "coord_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_client.h"
#include "log.h"

#define ASK_MS 5000 /* a volume's daemon that does not answer within this keeps its record */

/* dir, and its parent, created when missing. */
static int make_dir(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || snprintf(parent, sizeof(parent), "%s", dir) >= (int)sizeof(parent))
		return -errno;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -ENOENT;
	*slash = '\0';
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -errno;
	return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int coord_journal_begin(const char *dir, const char *set_id, const char *const *mnts, size_t n,
			char *msg, size_t msglen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, dfd, r;
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, set_id) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, set_id) >= (int)sizeof(tmp)) {
		snprintf(msg, msglen, "cannot record the set in '%s': the path is too long", dir);
		return -ENAMETOOLONG;
	}
	r = make_dir(dir);
	if (r < 0) {
		snprintf(msg, msglen, "cannot record the set: cannot create '%s': %s", dir,
			 strerror(-r));
		return r;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto fail;
	f = fdopen(dup(fd), "w");
	if (!f)
		goto fail;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", mnts[i]);
	if (fclose(f) != 0 || fsync(fd) < 0 || rename(tmp, path) < 0)
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		r = -errno;
		if (dfd >= 0)
			(void)close(dfd);
		(void)unlink(path);
		(void)close(fd);
		snprintf(msg, msglen, "cannot record the set: cannot sync '%s': %s", dir,
			 strerror(-r));
		return r;
	}
	(void)close(dfd);
	return fd;
fail:
	r = errno ? -errno : -EIO;
	snprintf(msg, msglen, "cannot record the set in '%s': %s", tmp, strerror(-r));
	(void)unlink(tmp);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

void coord_journal_end(const char *dir, const char *set_id, int fd, bool remove)
{
	char path[PATH_MAX];

	if (fd < 0)
		return;
	if (remove && snprintf(path, sizeof(path), "%s/%s", dir, set_id) < (int)sizeof(path) &&
	    unlink(path) < 0)
		snap_log(LOG_WARNING, "set '%s': cannot remove its record '%s': %s", set_id, path,
			 strerror(errno));
	(void)close(fd);
}

/*
 * Delete the snapshots of set on the volume mounted at mnt. 0 when none is left there (also
 * when the volume has none of the set), -1 when the volume cannot be reached or a delete fails.
 */
static int settle_volume(const char *set, const char *mnt, int *deleted)
{
	struct control_volume v;
	struct control_reply rep, del;
	char id[64], sid[64], line[96];
	int r = control_volume_find(mnt, &v);

	if (r < 0) {
		snap_log(LOG_WARNING, "set '%s' was left unfinished; '%s' is not a mounted volume "
			 "now (%s): its snapshots of the set stay until a later start", set, mnt,
			 strerror(-r));
		return -1;
	}
	r = control_request_within(&v, "list", ASK_MS, &rep);
	if (r < 0 || rep.err) {
		snap_log(LOG_WARNING, "set '%s' was left unfinished; cannot list the snapshots of "
			 "'%s': %s", set, mnt, r < 0 ? strerror(-r) : rep.rest);
		control_reply_release(&rep);
		return -1;
	}
	for (size_t i = 0; i < rep.n; i++) {
		if (sscanf(rep.lines[i], "snap %63s %63s", id, sid) != 2 || strcmp(sid, set) != 0)
			continue;
		snprintf(line, sizeof(line), "delete %s", id);
		if (control_request_within(&v, line, ASK_MS, &del) < 0 || del.err) {
			snap_log(LOG_ERR, "set '%s' was left unfinished; cannot delete its snapshot "
				 "'%s' of '%s': %s", set, id, mnt, del.rest ? del.rest :
				 "its daemon does not answer");
			r = -1;
		} else {
			snap_log(LOG_NOTICE, "set '%s' was left unfinished: deleted its snapshot "
				 "'%s' of '%s'", set, id, mnt);
			++*deleted;
		}
		control_reply_release(&del);
	}
	control_reply_release(&rep);
	return r < 0 ? -1 : 0;
}

/* Settle the record name in dir (open as fd, locked): 0 when it can go. */
static int settle(const char *name, int fd)
{
	char line[PATH_MAX + 2];
	int deleted = 0, r = 0;
	FILE *f = fdopen(dup(fd), "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] && settle_volume(name, line, &deleted) < 0)
			r = -1;
	}
	fclose(f);
	if (r == 0)
		snap_log(LOG_NOTICE, "set '%s' was left unfinished by a coordinator that stopped: "
			 "%d snapshot(s) deleted", name, deleted);
	return r;
}

int coord_journal_recover(const char *dir)
{
	struct dirent *de;
	int settled = 0;
	DIR *d = opendir(dir);

	if (!d) {
		if (errno != ENOENT)
			snap_log(LOG_WARNING, "cannot read the records of unfinished sets in '%s': "
				 "%s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (de->d_name[0] == '.')
			continue;  /* '.', '..', and a record being written */
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/*
		 * Held: a coordinator (for another runtime directory) is creating the set. Unlinked
		 * by the time the lock is had: that coordinator finished the set meanwhile.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 && st.st_nlink > 0 &&
		    settle(de->d_name, fd) == 0) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0)
				snap_log(LOG_WARNING, "cannot remove the record '%s/%s': %s", dir,
					 de->d_name, strerror(errno));
			settled++;
		}
		(void)close(fd);
	}
	closedir(d);
	return settled;
}
