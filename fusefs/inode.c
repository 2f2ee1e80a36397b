/*
 * inode.c alone ends an inode's life: it follows the kernel's lookup and forget counts and
 * frees an inode when its count reaches zero. It also owns the descriptor cache and the anchors
 * of the filesystems met under SRC.
 *
 * Locking: one mutex (t->lock) guards the hash, the LRU, the mount list and every inode's
 * counters and fd. Slow system calls (open_by_handle_at, close of evicted fds) run outside it.
 *
 * Descriptor rule: an inode's fd is evictable when nobody uses it (pins == 0), no file handle
 * is open on it (nopen == 0) and it can be reopened by handle (!keep_fd). Exactly the evictable
 * inodes with an fd are in the LRU, and t->nfds counts them.
 *
 * Identity: the hash key is (dev, ino), but a lookup also compares the file handle, which
 * carries the inode's generation, so a file that reuses the number of a deleted one is a new
 * inode. Handles are resolved against an anchor: a directory descriptor on the same mount
 * (open_by_handle_at refuses O_PATH anchors). Anchors are found by mount id, so filesystems
 * and btrfs subvolumes mounted under SRC work; they are held until the daemon exits.
 */
#include "inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024
#define MAX_VICTIMS 8

struct handle {
	struct file_handle fh;
	unsigned char bytes[MAX_HANDLE_SZ];
};

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
static unsigned settle(struct inode_table *t, struct sfs_inode *in, int *victims)
{
	unsigned n = 0;

	if (in && is_evictable(in) && !in->lru_next)
		lru_push(t, in);
	while (t->nfds > t->max_fds && n < MAX_VICTIMS) {
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

static void all_add(struct inode_table *t, struct sfs_inode *in)
{
	in->all_next = t->all.all_next;
	in->all_prev = &t->all;
	t->all.all_next->all_prev = in;
	t->all.all_next = in;
}

static void all_remove(struct sfs_inode *in)
{
	in->all_prev->all_next = in->all_next;
	in->all_next->all_prev = in->all_prev;
}

/* The anchor registered for mount_id, or -1. Lock held. */
static int find_anchor(struct inode_table *t, int mount_id)
{
	for (unsigned i = 0; i < t->nmounts; i++) {
		if (t->mounts[i].mount_id == mount_id)
			return t->mounts[i].fd;
	}
	return -1;
}

/* Register fd (taken) as the anchor of mount_id, unless one exists; returns the anchor. */
static int add_anchor(struct inode_table *t, int mount_id, int fd)
{
	int old;

	pthread_mutex_lock(&t->lock);
	old = find_anchor(t, mount_id);
	if (old < 0 && t->nmounts == t->cap_mounts) {
		unsigned cap = t->cap_mounts ? t->cap_mounts * 2 : 8;
		struct inode_mount *m = realloc(t->mounts, cap * sizeof(*m));

		if (!m) {
			pthread_mutex_unlock(&t->lock);
			(void)close(fd);
			return -ENOMEM;
		}
		t->mounts = m;
		t->cap_mounts = cap;
	}
	if (old < 0) {
		t->mounts[t->nmounts].mount_id = mount_id;
		t->mounts[t->nmounts].fd = fd;
		t->nmounts++;
	}
	pthread_mutex_unlock(&t->lock);
	if (old >= 0) {
		(void)close(fd);
		return old;
	}
	return fd;
}

/* The handle of name under dir_fd (or of dir_fd itself when name is ""). 0, or -errno. */
static int get_handle(int dir_fd, const char *name, struct handle *h, int *ret_mount_id)
{
	h->fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dir_fd, name, &h->fh, ret_mount_id, *name ? 0 : AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static bool same_handle(const struct sfs_inode *in, const struct handle *h)
{
	return in->handle_bytes == h->fh.handle_bytes && in->handle_type == h->fh.handle_type &&
	       memcmp(in->handle, h->fh.f_handle, h->fh.handle_bytes) == 0;
}

/* Whether this process may reopen files by handle: try it on fd's own handle. */
static bool can_use_handles(int fd, int *ret_mount_id)
{
	struct handle h;
	int probe;

	if (get_handle(fd, "", &h, ret_mount_id) < 0)
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
	int mount_id = 0, r;

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
	t->all.all_next = t->all.all_prev = &t->all;
	t->max_fds = max_fds ? max_fds : 1;
	t->use_handles = can_use_handles(root_fd, &mount_id);
	t->root->dev = st.st_dev;
	t->root->ino = st.st_ino;
	t->root->type = S_IFDIR;
	t->root->fd = root_fd;
	t->root->mount_fd = root_fd;
	t->root->keep_fd = true;
	t->root->nlookup = 1;
	hash_insert(t, t->root);
	if (t->use_handles && add_anchor(t, mount_id, root_fd) < 0) {
		r = -ENOMEM;
		goto out_mutex;
	}
	return 0;
out_mutex:
	(void)pthread_mutex_destroy(&t->lock);
out_free:
	free(t->buckets);
	free(t->root);
	return r;
}

void inode_table_release(struct inode_table *t)
{
	struct sfs_inode *p, *next;

	for (p = t->all.all_next; p != &t->all; p = next) {
		next = p->all_next;
		if (p->fd >= 0)
			(void)close(p->fd);
		free(p);
	}
	/* the root's fd is also the first anchor */
	for (unsigned i = 0; i < t->nmounts; i++) {
		if (t->mounts[i].fd != t->root->fd)
			(void)close(t->mounts[i].fd);
	}
	(void)close(t->root->fd);
	free(t->mounts);
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

/*
 * Build a new inode for name under parent_fd, whose attributes are st and handle h (NULL: none
 * to be had). Without a handle, or on a mount whose anchor cannot be a directory, the inode
 * holds an O_PATH descriptor for its whole life. Lock not held.
 */
static int make_inode(struct inode_table *t, int parent_fd, const char *name,
		      const struct stat *st, const struct handle *h, int mount_id,
		      struct sfs_inode **ret_in)
{
	struct sfs_inode *in;
	int anchor = -1, r;

	if (h) {
		pthread_mutex_lock(&t->lock);
		anchor = find_anchor(t, mount_id);
		pthread_mutex_unlock(&t->lock);
		if (anchor < 0 && S_ISDIR(st->st_mode)) {
			int fd = openat(parent_fd, name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd < 0)
				return -errno;
			anchor = add_anchor(t, mount_id, fd);
			if (anchor < 0)
				return anchor;
		}
		if (anchor < 0)
			h = NULL; /* a file mounted on its own: keep its descriptor */
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->dev = st->st_dev;
	in->ino = st->st_ino;
	in->type = st->st_mode & S_IFMT;
	in->fd = -1;
	in->mount_fd = anchor;
	if (h) {
		in->handle_type = h->fh.handle_type;
		in->handle_bytes = h->fh.handle_bytes;
		memcpy(in->handle, h->fh.f_handle, h->fh.handle_bytes);
	} else {
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

/* The hashed inode for (st, h), unhashing one whose handle shows it is another file. */
static struct sfs_inode *find_current(struct inode_table *t, const struct stat *st,
				      const struct handle *h)
{
	struct sfs_inode *in = hash_find(t, st->st_dev, st->st_ino);

	if (in && h && in->handle_bytes && !same_handle(in, h)) {
		hash_remove(t, in); /* still alive until the kernel forgets it */
		in = NULL;
	}
	return in;
}

int inode_lookup(struct inode_table *t, int parent_fd, const char *name, struct stat *st,
		 struct sfs_inode **ret_in)
{
	struct sfs_inode *in, *fresh = NULL;
	struct handle h;
	bool has_handle = false;
	int mount_id = 0, r;

	if (fstatat(parent_fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (t->use_handles) {
		r = get_handle(parent_fd, name, &h, &mount_id);
		if (r < 0 && r != -EOPNOTSUPP && r != -EOVERFLOW)
			return r;
		has_handle = r == 0 && h.fh.handle_bytes <= INODE_HANDLE_MAX;
	}
	pthread_mutex_lock(&t->lock);
	in = find_current(t, st, has_handle ? &h : NULL);
	if (!in) {
		pthread_mutex_unlock(&t->lock);
		r = make_inode(t, parent_fd, name, st, has_handle ? &h : NULL, mount_id, &fresh);
		if (r < 0)
			return r;
		pthread_mutex_lock(&t->lock);
		/* another thread may have inserted the same file meanwhile */
		in = find_current(t, st, has_handle ? &h : NULL);
		if (!in) {
			in = fresh;
			fresh = NULL;
			hash_insert(t, in);
			all_add(t, in);
		}
	}
	in->nlookup++;
	pthread_mutex_unlock(&t->lock);
	if (fresh) {
		if (fresh->fd >= 0)
			(void)close(fresh->fd);
		free(fresh);
	}
	*ret_in = in;
	return 0;
}

void inode_forget(struct inode_table *t, struct sfs_inode *in, uint64_t n)
{
	int fd;

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
	all_remove(in);
	fd = in->fd;
	pthread_mutex_unlock(&t->lock);
	if (fd >= 0)
		(void)close(fd);
	free(in);
}

int inode_fd_get(struct inode_table *t, struct sfs_inode *in)
{
	int victims[MAX_VICTIMS];
	struct handle h;
	unsigned nv;
	int fd;

	pthread_mutex_lock(&t->lock);
	if (in->fd >= 0) {
		lru_unlink(t, in);
		in->pins++;
		fd = in->fd;
		pthread_mutex_unlock(&t->lock);
		return fd;
	}
	pthread_mutex_unlock(&t->lock);
	h.fh.handle_bytes = in->handle_bytes;
	h.fh.handle_type = in->handle_type;
	memcpy(h.fh.f_handle, in->handle, in->handle_bytes);
	fd = open_by_handle_at(in->mount_fd, &h.fh, O_PATH | O_CLOEXEC);
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
	nv = settle(t, NULL, victims);
	pthread_mutex_unlock(&t->lock);
	close_all(victims, nv);
	return fd;
}

void inode_fd_put(struct inode_table *t, struct sfs_inode *in)
{
	int victims[MAX_VICTIMS];
	unsigned nv;

	pthread_mutex_lock(&t->lock);
	in->pins--;
	nv = settle(t, in, victims);
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
	int victims[MAX_VICTIMS];
	unsigned nv;

	pthread_mutex_lock(&t->lock);
	in->nopen--;
	nv = settle(t, in, victims);
	pthread_mutex_unlock(&t->lock);
	close_all(victims, nv);
}

struct sfs_inode *inode_find_pinned(struct inode_table *t, dev_t dev, ino_t ino)
{
	struct sfs_inode *in;

	pthread_mutex_lock(&t->lock);
	in = hash_find(t, dev, ino);
	pthread_mutex_unlock(&t->lock);
	if (!in || in == t->root)
		return NULL;
	/* the kernel holds the entry being removed, so in cannot be forgotten meanwhile */
	return inode_fd_get(t, in) < 0 ? NULL : in;
}

void inode_orphan(struct inode_table *t, struct sfs_inode *in)
{
	pthread_mutex_lock(&t->lock);
	hash_remove(t, in);
	in->keep_fd = true;
	pthread_mutex_unlock(&t->lock);
}
