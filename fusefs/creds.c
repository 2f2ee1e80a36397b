/*
 * creds.c makes the calling thread act as the requesting process for the calls whose outcome
 * depends on who makes them: creating files (ownership, setgid directories, group membership)
 * and truncating (which clears set-group-ID for non-members). fsuid, fsgid and (through the
 * raw system call, not the libc wrapper that changes every thread) the supplementary groups
 * are per-thread on Linux, so other workers are unaffected. Everything else runs as root: the
 * kernel has already checked permissions (default_permissions).
 *
 * With POSIX ACLs the kernel leaves the umask to us (FUSE_CAP_DONT_MASK), because only the
 * backing filesystem knows whether a default ACL replaces it. The umask lives in the fs_struct,
 * which threads share, so each worker thread unshares its own (CLONE_FS) before changing it.
 */
#include "sfs.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GROUPS_ON_STACK 64

static int set_thread_groups(size_t n, const gid_t *list)
{
	return syscall(SYS_setgroups, n, list) < 0 ? -errno : 0;
}

/* Give the calling thread an fs_struct (cwd, root, umask) of its own, once. */
static int unshare_fs(void)
{
	static __thread bool done;

	if (!done) {
		if (unshare(CLONE_FS) < 0)
			return -errno;
		done = true;
	}
	return 0;
}

/*
 * The supplementary groups of req's caller: in stack (GROUPS_ON_STACK entries) or in a list the
 * caller frees when *list != stack. Returns the count (0 when the caller is gone or /proc is
 * unreadable), or -ENOMEM.
 */
static int caller_groups(fuse_req_t req, gid_t *stack, gid_t **list)
{
	int n = fuse_req_getgroups(req, GROUPS_ON_STACK, stack), got;

	*list = stack;
	if (n <= GROUPS_ON_STACK)
		return n < 0 ? 0 : n;
	*list = malloc(n * sizeof(**list));
	if (!*list)
		return -ENOMEM;
	got = fuse_req_getgroups(req, n, *list);
	/* the caller may have changed its groups between the two reads */
	return got < 0 ? 0 : (got < n ? got : n);
}

bool creds_in_group(fuse_req_t req, gid_t gid)
{
	gid_t stack[GROUPS_ON_STACK], *list;
	bool found = fuse_req_ctx(req)->gid == gid;
	int n;

	if (found)
		return true;
	n = caller_groups(req, stack, &list);
	for (int i = 0; i < n && !found; i++)
		found = list[i] == gid;
	if (list != stack)
		free(list);
	return found;
}

int creds_enter(fuse_req_t req, struct sfs_creds *c, unsigned flags)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t stack[GROUPS_ON_STACK], *list;
	int n, r;

	c->switched = false;
	c->umask_set = false;
	if ((flags & CREDS_UMASK) && sfs.dont_mask) {
		r = unshare_fs();
		if (r < 0)
			return r;
		c->old_umask = umask(ctx->umask);
		c->umask_set = true;
	}
	if (!sfs.is_root || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	n = caller_groups(req, stack, &list);
	if (n < 0) {
		r = n;
		goto out_umask;
	}
	r = set_thread_groups(n, list);
	if (list != stack)
		free(list);
	if (r < 0)
		goto out_umask;
	(void)setfsgid(ctx->gid);
	(void)setfsuid(ctx->uid);
	c->switched = true;
	return 0;
out_umask:
	if (c->umask_set)
		(void)umask(c->old_umask);
	c->umask_set = false;
	return r;
}

void creds_leave(struct sfs_creds *c)
{
	if (c->switched) {
		(void)setfsuid(0);
		(void)setfsgid(0);
		(void)set_thread_groups(0, NULL);
		c->switched = false;
	}
	if (c->umask_set) {
		(void)umask(c->old_umask);
		c->umask_set = false;
	}
}
