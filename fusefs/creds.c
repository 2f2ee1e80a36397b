/*
 * creds.c makes the calling thread act as the requesting process for the calls that create
 * files, so that ownership, setgid directories and group membership come out as the backing
 * filesystem decides them for that user. fsuid, fsgid and (through the raw system call, not
 * the libc wrapper that changes every thread) the supplementary groups are per-thread on
 * Linux, so other workers are unaffected. Everything else runs as root: the kernel has
 * already checked permissions (default_permissions).
 */
#include "sfs.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GROUPS_ON_STACK 64

static int set_thread_groups(size_t n, const gid_t *list)
{
	return syscall(SYS_setgroups, n, list) < 0 ? -errno : 0;
}

int creds_enter(fuse_req_t req, struct sfs_creds *c)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t stack[GROUPS_ON_STACK], *list = stack;
	int n, r;

	c->switched = false;
	if (!sfs.is_root || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	n = fuse_req_getgroups(req, GROUPS_ON_STACK, stack);
	if (n > GROUPS_ON_STACK) {
		list = malloc(n * sizeof(*list));
		if (!list)
			return -ENOMEM;
		n = fuse_req_getgroups(req, n, list);
	}
	if (n < 0)
		n = 0; /* the caller is gone or /proc is unreadable: primary group only */
	r = set_thread_groups(n, list);
	if (list != stack)
		free(list);
	if (r < 0)
		return r;
	(void)setfsgid(ctx->gid);
	(void)setfsuid(ctx->uid);
	c->switched = true;
	return 0;
}

void creds_leave(struct sfs_creds *c)
{
	if (!c->switched)
		return;
	(void)setfsuid(0);
	(void)setfsgid(0);
	(void)set_thread_groups(0, NULL);
	c->switched = false;
}
