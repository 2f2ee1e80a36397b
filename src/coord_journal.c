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

#include "log.h"

#define ASK_MS 5000 /* a volume's daemon that does not answer within this keeps its record */

/* fsync the directory at path. */
static int sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

/* The directory that holds path's entry, in buf. */
static void parent_of(const char *path, char *buf, size_t size)
{
	char *slash;

	snprintf(buf, size, "%s", path);
	slash = strrchr(buf, '/');
	if (slash && slash != buf)
		*slash = '\0';
	else
		snprintf(buf, size, "%s", slash ? "/" : ".");
}

/*
 * dir, and its parent (the state directory), created when missing. A new entry is synced in
 * the directory that holds it, so that a record made next survives a power cut.
 */
static int make_dir(const char *dir)
{
	char parent[PATH_MAX], grand[PATH_MAX];
	int r;

	if (strlen(dir) >= sizeof(parent))
		return -ENAMETOOLONG;
	parent_of(dir, parent, sizeof(parent));
	if (mkdir(dir, 0700) == 0)
		return sync_dir(parent);
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	if (mkdir(parent, 0755) == 0) {
		parent_of(parent, grand, sizeof(grand));
		r = sync_dir(grand);
		if (r < 0)
			return r;
	} else if (errno != EEXIST) {
		return -errno;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return sync_dir(parent);
}

int coord_journal_begin(const char *dir, const char *set_id, const struct control_volume *vols,
			size_t n, char *msg, size_t msglen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, copy = -1, r;
	FILE *f = NULL;

	if (snprintf(path, sizeof(path), "%s/%s", dir, set_id) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, set_id) >= (int)sizeof(tmp)) {
		snprintf(msg, msglen, "cannot record the set in '%s': the path is too long", dir);
		return -ENAMETOOLONG;
	}
	r = make_dir(dir);
	if (r < 0) {
		snprintf(msg, msglen, "cannot record the set: cannot create '%s' (the state "
			 "directory is $SNAPFS_STATE_DIR, else /var/lib/snapfs): %s", dir,
			 strerror(-r));
		return r;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || (copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
	    !(f = fdopen(copy, "w")))
		goto fail;
	copy = -1;   /* f's now */
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\t%s\n", vols[i].src, vols[i].mnt);
	r = fclose(f);
	f = NULL;
	if (r != 0 || fsync(fd) < 0 || rename(tmp, path) < 0)
		goto fail;
	r = sync_dir(dir);
	if (r < 0) {
		(void)unlink(path);
		(void)close(fd);
		snprintf(msg, msglen, "cannot record the set: cannot sync '%s': %s", dir,
			 strerror(-r));
		return r;
	}
	return fd;
fail:
	r = errno ? -errno : -EIO;
	snprintf(msg, msglen, "cannot record the set in '%s': %s", tmp, strerror(-r));
	if (f)
		(void)fclose(f);
	if (copy >= 0)
		(void)close(copy);
	(void)unlink(tmp);
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int coord_journal_end(const char *dir, const char *set_id, int fd, bool remove)
{
	char path[PATH_MAX];
	int r = 0;

	if (fd < 0)
		return 0;
	/* removed and synced before the lock goes: see the nlink check in the recovery */
	if (remove) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, set_id) >= (int)sizeof(path))
			r = -ENAMETOOLONG;
		else if (unlink(path) < 0)
			r = -errno;
		else
			r = sync_dir(dir);
		if (r < 0)
			snap_log(LOG_ERR, "set '%s': cannot remove its record '%s/%s': %s", set_id,
				 dir, set_id, strerror(-r));
	}
	(void)close(fd);
	return r;
}

/*
 * Delete the snapshots of set on the volume v. 0 when none is left there (also when the volume
 * has none of the set), -1 when its daemon cannot be reached or a delete fails.
 */
static int settle_volume(const char *set, const struct control_volume *v, int *deleted)
{
	struct control_reply rep, del;
	char id[64], sid[64], line[96];
	int r = control_request_within(v, "list", ASK_MS, &rep);

	if (r < 0 || rep.err) {
		snap_log(LOG_WARNING, "set '%s' was left unfinished; the daemon of '%s' (serving "
			 "'%s') does not answer (%s): its snapshots of the set stay until a later "
			 "start", set, v->mnt, v->src, r < 0 ? strerror(-r) : rep.rest);
		control_reply_release(&rep);
		return -1;
	}
	for (size_t i = 0; i < rep.n; i++) {
		if (sscanf(rep.lines[i], "snap %63s %63s", id, sid) != 2 || strcmp(sid, set) != 0)
			continue;
		snprintf(line, sizeof(line), "delete %s", id);
		if (control_request_within(v, line, ASK_MS, &del) < 0 || del.err) {
			snap_log(LOG_ERR, "set '%s' was left unfinished; cannot delete its snapshot "
				 "'%s' of '%s': %s", set, id, v->mnt, del.rest ? del.rest :
				 "its daemon does not answer");
			r = -1;
		} else {
			snap_log(LOG_NOTICE, "set '%s' was left unfinished: deleted its snapshot "
				 "'%s' of '%s'", set, id, v->mnt);
			++*deleted;
		}
		control_reply_release(&del);
	}
	control_reply_release(&rep);
	return r < 0 ? -1 : 0;
}

/* Settle the record name (open as fd, locked): 0 when it can go. */
static int settle(const char *name, int fd)
{
	char line[2 * PATH_MAX + 2];
	int deleted = 0, r = 0, copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	FILE *f = copy < 0 ? NULL : fdopen(copy, "r");

	if (!f) {
		if (copy >= 0)
			(void)close(copy);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct control_volume v = { 0 };
		char *tab = strchr(line, '\t');

		line[strcspn(line, "\n")] = '\0';
		if (!tab || (size_t)(tab - line) >= sizeof(v.src) ||
		    strlen(tab + 1) >= sizeof(v.mnt)) {
			snap_log(LOG_WARNING, "set '%s': a malformed line in its record: '%.200s'",
				 name, line);
			r = -1;
			continue;
		}
		memcpy(v.src, line, (size_t)(tab - line));   /* lengths checked above */
		memcpy(v.mnt, tab + 1, strlen(tab + 1));
		if (settle_volume(name, &v, &deleted) < 0)
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

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (de->d_name[0] == '.') {
			/* a record a dead coordinator did not finish: no writer heard of its set */
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				(void)unlinkat(dirfd(d), de->d_name, 0);
			(void)close(fd);
			continue;
		}
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
