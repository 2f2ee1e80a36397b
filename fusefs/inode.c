/*
 * inode.c alone ends an inode's life: it follows the kernel's lookup and forget counts and
 * frees an inode when its count reaches zero. It also owns the descriptor cache.
 *
 * Locking: one mutex (t->lock) guards the hash, the LRU and every inode's counters and fd.
 * Slow system calls (open_by_handle_at, close of evicted fds) run outside it.
 *
 * Descriptor rule: an inode's fd is evictable when nobody uses it (pins == 0), no file handle
 * is open on it (nopen == 0) and it has a file handle to reopen it with (!keep_fd). Exactly the
 * evictable inodes with an fd are in the LRU, and t->nfds counts them.
 */
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024

static size_t hash_key(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;

	return (size_t)(h >> 17) & (nbuckets - 1);
}

static void lru_unlink(struct inode_table *t, struct sfs_inode *in)
{
	if (!in->lru_next)
		return;
	in->lru_prev->lru_next = in->lru_next;
	in->lru_next->lru_prev = in->lru_prev;
	in->lru_prev = in->lru_next = NULL;
	t->nfds--;
}

static void lru_push(struct inode_table *t, struct sfs_inode *in)
{
	in->lru_next = t->lru.lru_next;
	in->lru_prev = &t->lru;
	t->lru.lru_next->lru_prev = in;
	t->lru.lru_next = in;
	t->nfds++;
}

static bool is_evictable(const struct sfs_inode *in)
{
	return in->fd >= 0 && in->pins == 0 && in->nopen == 0 && !in->keep_fd;
}

/* Put in into the LRU if it became evictable; collect fds beyond max_fds into victims. */
static unsigned settle(struct inode_table *t, struct sfs_inode *in, int *victims, unsigned max)
{
	unsigned n = 0;

	if (in && is_evictable(in) && !in->lru_next)
		lru_push(t, in);
	while (t->nfds > t->max_fds && n < max) {
		struct sfs_inode *old = t->lru.lru_prev;

		lru_unlink(t, old);
		victims[n++] = old->fd;
		old->fd = -1;
	}
	return n;
}

static void close_all(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		(void)close(fds[i]);
}

static void hash_insert(struct inode_table *t, struct sfs_inode *in)
{
	size_t b;

	if (t->count + 1 > t->nbuckets * 2) {
		size_t nb = t->nbuckets * 4;
		struct sfs_inode **nbk = calloc(nb, sizeof(*nbk));

		if (nbk) {
			for (size_t i = 0; i < t->nbuckets; i++) {
				struct sfs_inode *p = t->buckets[i], *next;

				for (; p; p = next) {
					next = p->hnext;
					b = hash_key(p->dev, p->ino, nb);
					p->hnext = nbk[b];
					nbk[b] = p;
				}
			}
			free(t->buckets);
			t->buckets = nbk;
			t->nbuckets = nb;
		}
	}
	b = hash_key(in->dev, in->ino, t->nbuckets);
	in->hnext = t->buckets[b];
	t->buckets[b] = in;
	in->hashed = true;
	t->count++;
}

static void hash_remove(struct inode_table *t, struct sfs_inode *in)
{
	struct sfs_inode **pp;

	if (!in->hashed)
		return;
	for (pp = &t->buckets[hash_key(in->dev, in->ino, t->nbuckets)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == in) {
			*pp = in->hnext;
			break;
		}
	}
	in->hashed = false;
	t->count--;
}

static struct sfs_inode *hash_find(struct inode_table *t, dev_t dev, ino_t ino)
{
	struct sfs_inode *p = t->buckets[hash_key(dev, ino, t->nbuckets)];

	for (; p; p = p->hnext) {
		if (p->dev == dev && p->ino == ino)
			return p;
	}
	return NULL;
}

/* Whether this process may reopen files by handle: try it on fd's own handle. */
static bool can_use_handles(int fd)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mount_id, probe;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mount_id, AT_EMPTY_PATH) < 0)
		return false;
	probe = open_by_handle_at(fd, &h.fh, O_PATH | O_CLOEXEC);
	if (probe < 0)
		return false;
	(void)close(probe);
	return true;
}

int inode_table_init(struct inode_table *t, int root_fd, unsigned max_fds)
{
	struct stat st;
	int r;

	memset(t, 0, sizeof(*t));
	if (fstat(root_fd, &st) < 0)
		return -errno;
	t->root = calloc(1, sizeof(*t->root));
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->root || !t->buckets) {
		r = -ENOMEM;
		goto out_free;
	}
	r = -pthread_mutex_init(&t->lock, NULL);
	if (r < 0)
		goto out_free;
	t->nbuckets = INITIAL_BUCKETS;
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	t->max_fds = max_fds ? max_fds : 1;
	t->use_handles = can_use_handles(root_fd);
	t->root->dev = st.st_dev;
	t->root->ino = st.st_ino;
	t->root->type = S_IFDIR;
	t->root->fd = root_fd;
	t->root->keep_fd = true;
	t->root->nlookup = 1;
	hash_insert(t, t->root);
	t->mounts[0].dev = st.st_dev;
	t->mounts[0].fd = root_fd;
	t->nmounts = 1;
	return 0;
out_free:
	free(t->buckets);
	free(t->root);
	return r;
}

void inode_table_release(struct inode_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct sfs_inode *p = t->buckets[i], *next;

		for (; p; p = next) {
			next = p->hnext;
			if (p != t->root && p->fd >= 0)
				(void)close(p->fd);
			if (p != t->root)
				free(p);
		}
	}
	/* mounts[0] is the root's fd; the others are ours */
	for (unsigned i = 1; i < t->nmounts; i++)
		(void)close(t->mounts[i].fd);
	(void)close(t->root->fd);
	free(t->root);
	free(t->buckets);
	(void)pthread_mutex_destroy(&t->lock);
}

struct sfs_inode *inode_get(struct inode_table *t, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return t->root;
	return (struct sfs_inode *)(uintptr_t)ino;
}

fuse_ino_t inode_nodeid(struct inode_table *t, struct sfs_inode *in)
{
	return in == t->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

/* The mount fd for dev, remembering fd (borrowed, O_PATH) as its fd if dev is new. */
static int mount_fd_for(struct inode_table *t, dev_t dev, int parent_fd, const char *name)
{
	int fd;

	for (unsigned i = 0; i < t->nmounts; i++) {
		if (t->mounts[i].dev == dev)
			return t->mounts[i].fd;
	}
	if (t->nmounts == sizeof(t->mounts) / sizeof(t->mounts[0]))
		return -EMFILE;
	fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	t->mounts[t->nmounts].dev = dev;
	t->mounts[t->nmounts].fd = fd;
	t->nmounts++;
	return fd;
}

/* Build a new inode for name under parent_fd, whose attributes are st. Lock not held. */
static int make_inode(struct inode_table *t, int parent_fd, const char *name,
		      const struct stat *st, struct sfs_inode **ret_in)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	struct sfs_inode *in;
	int mount_id, r;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (t->use_handles) {
		r = name_to_handle_at(parent_fd, name, &h.fh, &mount_id, 0);
		if (r < 0 && errno != EOPNOTSUPP && errno != EOVERFLOW)
			return -errno;
	} else {
		r = -1;
	}
	in = calloc(1, sizeof(*in) + (r == 0 ? h.fh.handle_bytes : 0));
	if (!in)
		return -ENOMEM;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	in->fd = -1;
	if (r == 0) {
		in->handle_type = h.fh.handle_type;
		in->handle_bytes = h.fh.handle_bytes;
		memcpy(in->handle, h.fh.f_handle, h.fh.handle_bytes);
	} else {
		/* no file handles on this filesystem: hold a descriptor instead */
		in->keep_fd = true;
		in->fd = openat(parent_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (in->fd < 0) {
			r = -errno;
			free(in);
			return r;
		}
	}
	*ret_in = in;
	return 0;
}

int inode_lookup(struct inode_table *t, int parent_fd, const char *name, struct stat *st,
		 struct sfs_inode **ret_in)
{
	struct sfs_inode *in, *fresh = NULL;
	int r;

	if (fstatat(parent_fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	for (;;) {
		pthread_mutex_lock(&t->lock);
		in = hash_find(t, st->st_dev, st->st_ino);
		if (in || fresh)
			break;
		pthread_mutex_unlock(&t->lock);
		r = make_inode(t, parent_fd, name, st, &fresh);
		if (r < 0)
			return r;
	}
	if (!in) {
		r = mount_fd_for(t, fresh->dev, parent_fd, name);
		if (r < 0) {
			pthread_mutex_unlock(&t->lock);
			if (fresh->fd >= 0)
				(void)close(fresh->fd);
			free(fresh);
			return r;
		}
		in = fresh;
		fresh = NULL;
		hash_insert(t, in);
	}
	in->nlookup++;
	pthread_mutex_unlock(&t->lock);
	if (fresh) {
		/* another thread inserted the same inode meanwhile */
		if (fresh->fd >= 0)
			(void)close(fresh->fd);
		free(fresh);
	}
	*ret_in = in;
	return 0;
}

void inode_forget(struct inode_table *t, struct sfs_inode *in, uint64_t n)
{
	int fd = -1;

	if (in == t->root)
		return;
	pthread_mutex_lock(&t->lock);
	in->nlookup = n > in->nlookup ? 0 : in->nlookup - n;
	if (in->nlookup > 0) {
		pthread_mutex_unlock(&t->lock);
		return;
	}
	hash_remove(t, in);
	lru_unlink(t, in);
	fd = in->fd;
	pthread_mutex_unlock(&t->lock);
	if (fd >= 0)
		(void)close(fd);
	free(in);
}

static int mount_fd_of(struct inode_table *t, dev_t dev)
{
	for (unsigned i = 0; i < t->nmounts; i++) {
		if (t->mounts[i].dev == dev)
			return t->mounts[i].fd;
	}
	return -1;
}

int inode_fd_get(struct inode_table *t, struct sfs_inode *in)
{
	int victims[8];
	unsigned nv;
	int fd, mfd;
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;

	pthread_mutex_lock(&t->lock);
	if (in->fd >= 0) {
		lru_unlink(t, in);
		in->pins++;
		fd = in->fd;
		pthread_mutex_unlock(&t->lock);
		return fd;
	}
	mfd = mount_fd_of(t, in->dev);
	pthread_mutex_unlock(&t->lock);
	if (mfd < 0)
		return -ESTALE;
	h.fh.handle_bytes = in->handle_bytes;
	h.fh.handle_type = in->handle_type;
	memcpy(h.fh.f_handle, in->handle, in->handle_bytes);
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&t->lock);
	if (in->fd >= 0) {
		/* raced with another opener: use theirs */
		(void)close(fd);
		lru_unlink(t, in);
	} else {
		in->fd = fd;
	}
	in->pins++;
	fd = in->fd;
	nv = settle(t, NULL, victims, 8);
	pthread_mutex_unlock(&t->lock);
	close_all(victims, nv);
	return fd;
}

void inode_fd_put(struct inode_table *t, struct sfs_inode *in)
{
	int victims[8];
	unsigned nv;

	pthread_mutex_lock(&t->lock);
	in->pins--;
	nv = settle(t, in, victims, 8);
	pthread_mutex_unlock(&t->lock);
	close_all(victims, nv);
}

void inode_open_inc(struct inode_table *t, struct sfs_inode *in, int fd)
{
	pthread_mutex_lock(&t->lock);
	in->nopen++;
	lru_unlink(t, in);
	if (in->fd < 0)
		in->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* -1 on failure: reopened by handle then */
	pthread_mutex_unlock(&t->lock);
}

void inode_open_dec(struct inode_table *t, struct sfs_inode *in)
{
	int victims[8];
	unsigned nv;

	pthread_mutex_lock(&t->lock);
	in->nopen--;
	nv = settle(t, in, victims, 8);
	pthread_mutex_unlock(&t->lock);
	close_all(victims, nv);
}

void inode_unhash(struct inode_table *t, dev_t dev, ino_t ino)
{
	struct sfs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = hash_find(t, dev, ino);
	if (in && in != t->root)
		hash_remove(t, in);
	pthread_mutex_unlock(&t->lock);
}
