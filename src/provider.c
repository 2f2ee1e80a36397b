/*
 * provider.c: the list of providers, the choice of one for a new volume, and what providers
 * share (removing a tree). The copy-on-write provider is the engine itself with no tree: its
 * struct is here.
 */
#include "provider.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern const struct provider provider_btrfs, provider_clone, provider_row;

static int cow_probe(int src_fd, char *why, size_t len)
{
	return 0;
}

static const struct provider provider_cow = {
	.name = "cow",
	.method = "cow",
	.summary = "copy-on-write in software: before a change, the old data goes to the diff area",
	.journal = true,
	.probe = cow_probe,
};

const struct provider *const providers[] = {
	&provider_btrfs,
	&provider_cow,
	&provider_row,
	&provider_clone,
	NULL,
};

const struct provider *provider_find(const char *name)
{
	for (size_t i = 0; providers[i]; i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

const char *provider_method_name(const char *method)
{
	if (strcmp(method, "cow") == 0)
		return "copy-on-write";
	if (strcmp(method, "row") == 0)
		return "redirect-on-write";
	if (strcmp(method, "clone") == 0)
		return "complete copy";
	return NULL;
}

const struct provider *provider_choose(const char *name, const char *method, int src_fd,
				       char *why, size_t len)
{
	const struct provider *p;
	size_t off = 0;
	char reason[256];

	if (method && !provider_method_name(method)) {
		snprintf(why, len, "unknown method '%s' (cow, row or clone)", method);
		return NULL;
	}
	if (name) {
		p = provider_find(name);
		if (!p) {
			snprintf(why, len, "unknown provider '%s' (see snapfs list providers)", name);
			return NULL;
		}
		if (method && strcmp(method, p->method) != 0) {
			snprintf(why, len, "provider '%s' makes %s snapshots, not %s", name,
				 provider_method_name(p->method), provider_method_name(method));
			return NULL;
		}
		if (p->probe(src_fd, reason, sizeof(reason)) < 0) {
			snprintf(why, len, "provider '%s' cannot serve this volume: %s", name, reason);
			return NULL;
		}
		return p;
	}
	if (!method)
		method = "cow";
	off = (size_t)snprintf(why, len, "no provider can make %s snapshots of this volume",
			       provider_method_name(method));
	for (size_t i = 0; providers[i]; i++) {
		p = providers[i];
		if (strcmp(p->method, method) != 0)
			continue;
		if (p->probe(src_fd, reason, sizeof(reason)) == 0)
			return p;
		if (off < len)
			off += (size_t)snprintf(why + off, len - off, "; %s: %s", p->name, reason);
	}
	return NULL;
}

/* Remove everything in the directory fd (closed here); 0 or a negative errno. */
static int empty_dir(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			r = -errno;
			break;
		}
		r = tree_remove_all(fd, de->d_name);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int tree_remove_all(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP)
			return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
		return -errno;
	}
	r = empty_dir(fd);
	if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -errno;
	return r;
}
