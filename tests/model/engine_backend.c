/*
 * The engine backend: a volume in a temporary directory (SRC with SRC/.snapfs), its engine
 * opened directly, snapshots made with engine_snapshot_create and read back through the
 * engine's views (engine_snap_root, lookup, getattr, readdir, read, readlink, xattrs). No FUSE.
 *
 * Any provider: its name goes to engine_open at every open. For btrfs, SRC is made as a
 * subvolume (the provider snapshots SRC's subvolume) and destroyed with its snapshots at the
 * end; for clone, the journal of a finished copy is released the way the daemon does it, once
 * no reader is open.
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/btrfs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine.h"
#include "volume.h"

/* A subvolume's root directory has this inode number on btrfs (BTRFS_FIRST_FREE_OBJECTID). */
#define BTRFS_SUBVOL_ROOT_INO 256

struct engine_backend {
	int state_fd;
	char state[4096 + 16];
	uint32_t chunk;
	const char *provider;     /* NULL: the engine's default */
	bool is_subvol;           /* SRC is a btrfs subvolume made here */
	unsigned readers;         /* snapshot readers open */
};

/* ---- finished complete copies ---------------------------------------------------------------- */

/*
 * Snapshots whose complete copy is done (tree_ready, from the clone provider's copier thread).
 * A reader may still hold a node of such a snapshot's journal view, so its journal is released
 * only when no reader is open, as the daemon does it. tree_ready has no context argument; one
 * engine backend is open at a time, so the list is the file's.
 */
static struct {
	pthread_mutex_t lock;
	char (*ids)[CATALOG_ID_LEN + 1];
	size_t n, cap;
} ready = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void tree_ready(struct engine *e, const struct catalog_snapshot *s)
{
	pthread_mutex_lock(&ready.lock);
	if (ready.n == ready.cap) {
		size_t ncap = ready.cap ? ready.cap * 2 : 64;
		void *m = realloc(ready.ids, ncap * sizeof(*ready.ids));

		if (!m)
			abort();
		ready.ids = m;
		ready.cap = ncap;
	}
	snprintf(ready.ids[ready.n++], sizeof(ready.ids[0]), "%s", s->id);
	pthread_mutex_unlock(&ready.lock);
}

/*
 * Release the journals of the finished copies while no reader is open. A snapshot deleted
 * since its copy finished has no journal left (-ENOENT).
 */
static int release_ready(struct backend *b)
{
	struct engine_backend *eb = b->priv;
	int r = 0;

	if (eb->readers)
		return 0;
	pthread_mutex_lock(&ready.lock);
	while (ready.n && r == 0) {
		r = engine_journal_release(b->e, ready.ids[--ready.n]);
		if (r == -ENOENT)
			r = 0;
	}
	pthread_mutex_unlock(&ready.lock);
	return r;
}

/* Forget them: the next engine_open releases what its last run left (its copier is stopped). */
static void forget_ready(void)
{
	pthread_mutex_lock(&ready.lock);
	ready.n = 0;
	pthread_mutex_unlock(&ready.lock);
}

/* ---- the reader of one snapshot -------------------------------------------------------------- */

struct engine_reader {
	struct reader r;
	struct backend *b;
	struct engine *e;
	struct engine_node root;
};

/* The node of path, each name looked up from the snapshot's root. */
static int resolve(struct engine_reader *er, const char *path, struct engine_node *ret)
{
	struct engine_node cur = er->root, next;
	char comp[MODEL_PATH_MAX];
	struct stat st;
	int r;

	if (strcmp(path, ".") == 0) {
		*ret = cur;
		return 0;
	}
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);

		snprintf(comp, sizeof(comp), "%.*s", (int)len, path);
		r = engine_snap_lookup(er->e, &cur, comp, &next, &st);
		if (r < 0)
			return r;
		cur = next;
		path += len;
		if (*path == '/')
			path++;
	}
	*ret = cur;
	return 0;
}

static int er_getattr(struct reader *r, const char *path, struct stat *st)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_node n;
	int ret = resolve(er, path, &n);

	return ret < 0 ? ret : engine_snap_getattr(er->e, &n, st);
}

struct list_ctx {
	int (*fn)(const char *name, mode_t type, void *ctx);
	void *ctx;
};

static int er_list_one(const char *name, ino_t ino, mode_t type, void *ctx)
{
	struct list_ctx *lc = ctx;

	return lc->fn(name, type & S_IFMT, lc->ctx);
}

static int er_list(struct reader *r, const char *path,
		   int (*fn)(const char *name, mode_t type, void *ctx), void *ctx)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct list_ctx lc = { fn, ctx };
	struct engine_node n;
	int ret = resolve(er, path, &n);

	return ret < 0 ? ret : engine_snap_readdir(er->e, &n, er_list_one, &lc);
}

/* Reads of an odd size, so that most cross a chunk edge. */
#define READ_STEP 3001

static ssize_t er_read_all(struct reader *r, const char *path, void *buf, size_t cap)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_node n;
	size_t total = 0;
	int ret = resolve(er, path, &n);

	if (ret < 0)
		return ret;
	while (total < cap) {
		size_t want = cap - total < READ_STEP ? cap - total : READ_STEP;
		ssize_t got = engine_snap_read(er->e, &n, (char *)buf + total, want, total);

		if (got < 0)
			return got;
		if (got == 0)
			break;
		total += (size_t)got;
	}
	return (ssize_t)total;
}

static ssize_t er_readlink(struct reader *r, const char *path, char *buf, size_t size)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_node n;
	int ret = resolve(er, path, &n);

	return ret < 0 ? ret : engine_snap_readlink(er->e, &n, buf, size);
}

static ssize_t er_listxattr(struct reader *r, const char *path, char *buf, size_t size)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_node n;
	int ret = resolve(er, path, &n);

	return ret < 0 ? ret : engine_snap_listxattr(er->e, &n, buf, size);
}

static ssize_t er_getxattr(struct reader *r, const char *path, const char *name, void *buf,
			   size_t size)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_node n;
	int ret = resolve(er, path, &n);

	return ret < 0 ? ret : engine_snap_getxattr(er->e, &n, name, buf, size);
}

static void er_free(struct reader *r)
{
	struct engine_reader *er = (struct engine_reader *)r;
	struct engine_backend *eb = er->b->priv;

	eb->readers--;
	free(r);
}

static const struct reader_ops engine_reader_ops = {
	.getattr = er_getattr,
	.list = er_list,
	.read_all = er_read_all,
	.readlink = er_readlink,
	.listxattr = er_listxattr,
	.getxattr = er_getxattr,
	.free = er_free,
};

static int eb_snap_reader(struct backend *b, const struct snap_rec *s, struct reader **ret)
{
	struct engine_reader *er = calloc(1, sizeof(*er));
	int r;

	if (!er)
		return -ENOMEM;
	r = engine_snap_root(b->e, s->id, &er->root);
	if (r < 0) {
		free(er);
		return r;
	}
	er->r.ops = &engine_reader_ops;
	er->r.hide = NULL;        /* the state directory is no part of a snapshot */
	er->b = b;
	er->e = b->e;
	((struct engine_backend *)b->priv)->readers++;
	*ret = &er->r;
	return 0;
}

/* ---- snapshots ------------------------------------------------------------------------------- */

static int eb_snap_create(struct backend *b, struct snap_rec *ret)
{
	struct catalog_snapshot cs;
	int r = release_ready(b);

	if (r == 0)
		r = engine_snapshot_create(b->e, NULL, &cs);
	if (r < 0)
		return r;
	snprintf(ret->id, sizeof(ret->id), "%s", cs.id);
	snprintf(ret->browse, sizeof(ret->browse), "%s", cs.browse);
	ret->epoch = cs.epoch;
	return 0;
}

static int eb_snap_delete(struct backend *b, const struct snap_rec *s)
{
	int r = release_ready(b);

	return r < 0 ? r : engine_snapshot_delete(b->e, s->id);
}

struct list_check {
	struct report *rep;
	const struct snap_rec *snaps;
	unsigned n, next;         /* the next alive record expected */
	unsigned found;
};

static int check_one(const struct catalog_snapshot *s, void *ctx)
{
	struct list_check *lc = ctx;

	while (lc->next < lc->n && !lc->snaps[lc->next].is_alive)
		lc->next++;
	if (lc->next == lc->n) {
		report_diff(lc->rep, "engine_snapshot_list", s->id, "listed, but not expected");
		return 0;
	}
	if (strcmp(s->id, lc->snaps[lc->next].id) != 0 ||
	    strcmp(s->browse, lc->snaps[lc->next].browse) != 0 ||
	    s->epoch != lc->snaps[lc->next].epoch)
		report_diff(lc->rep, "engine_snapshot_list", s->id,
			    "listed as %s at epoch %ju, expected '%s' %s at epoch %ju", s->browse,
			    (uintmax_t)s->epoch, lc->snaps[lc->next].id, lc->snaps[lc->next].browse,
			    (uintmax_t)lc->snaps[lc->next].epoch);
	lc->next++;
	return 0;
}

static unsigned eb_snap_list_check(struct backend *b, struct report *rep,
				   const struct snap_rec *snaps, unsigned n)
{
	struct list_check lc = { rep, snaps, n, 0, 0 };
	unsigned before = rep->errors;
	int r = engine_snapshot_list(b->e, check_one, &lc);

	if (r < 0)
		report_diff(rep, "engine_snapshot_list", ".", "failed: %s", strerror(-r));
	while (lc.next < n && !snaps[lc.next].is_alive)
		lc.next++;
	if (lc.next < n)
		report_diff(rep, "engine_snapshot_list", snaps[lc.next].id,
			    "missing from the list");
	return rep->errors - before;
}

/* ---- opening and closing --------------------------------------------------------------------- */

/*
 * The engine's clock: a second later at each call, so that snapshots (whose browse names have
 * whole seconds) never wait for the wall clock.
 */
static int64_t fast_clock(void)
{
	static int64_t now;
	struct timespec ts;

	if (!now) {
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (int64_t)ts.tv_sec * 1000000000LL;
	}
	now += 1000000000LL;
	return now;
}

static int open_engine(struct backend *b, char *msg, size_t msglen)
{
	struct engine_backend *eb = b->priv;
	struct engine_params p = { 0 };

	p.src_fd = b->root_fd;
	p.state_fd = eb->state_fd;
	p.state_path = eb->state;
	p.chunk_size = eb->chunk;
	p.clock = fast_clock;
	p.provider = eb->provider;
	p.tree_ready = tree_ready;
	return engine_open(&p, &b->e, msg, msglen);
}

/* Close the engine and open it again, as a restart of the daemon would (held files stay open). */
static int eb_reopen(struct backend *b)
{
	char msg[8192];
	int r;

	engine_close(b->e);
	b->e = NULL;
	forget_ready();
	r = open_engine(b, msg, sizeof(msg));
	if (r < 0)
		printf("model: cannot open the engine again: %s\n", msg);
	return r;
}

/* ---- SRC as a btrfs subvolume ----------------------------------------------------------------- */

/* Split path into the directory fd (opened) and its last name; -errno. */
static int open_dir_of(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	*name = slash ? slash + 1 : path;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * mkdtemp(), with a btrfs subvolume for the directory: the trailing XXXXXX of path drawn
 * again while the name is taken (the ioctl fails with EEXIST, as mkdir would).
 */
static int subvol_mkdtemp(char *path)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	struct btrfs_ioctl_vol_args args;
	size_t len = strlen(path);
	const char *name;
	int dirfd, r = -EEXIST;

	if (len < 6 || strcmp(path + len - 6, "XXXXXX") != 0)
		return -EINVAL;
	dirfd = open_dir_of(path, &name);
	if (dirfd < 0)
		return dirfd;
	for (int tries = 0; r == -EEXIST && tries < 100; tries++) {
		unsigned char rnd[6];

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			r = -errno;
			break;
		}
		for (size_t i = 0; i < 6; i++)
			path[len - 6 + i] = chars[rnd[i] % (sizeof(chars) - 1)];
		memset(&args, 0, sizeof(args));
		snprintf(args.name, sizeof(args.name), "%s", name);
		r = ioctl(dirfd, BTRFS_IOC_SUBVOL_CREATE, &args) < 0 ? -errno : 0;
	}
	(void)close(dirfd);
	return r;
}

static int subvol_destroy(int dirfd, const char *name);

/*
 * Destroy the subvolumes below the directory fd (closed here): a subvolume holding another
 * cannot be destroyed, and the snapshots of the btrfs provider live in SRC/.snapfs/trees.
 */
static int subvols_below(int fd)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (st.st_ino == BTRFS_SUBVOL_ROOT_INO) {
			r = subvol_destroy(fd, de->d_name);
			continue;
		}
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		r = sub < 0 ? -errno : subvols_below(sub);
	}
	(void)closedir(d);
	return r;
}

/* Destroy the subvolume name in dirfd with everything in it, subvolumes first. */
static int subvol_destroy(int dirfd, const char *name)
{
	struct btrfs_ioctl_vol_args args;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = fd < 0 ? -errno : subvols_below(fd);

	if (r < 0)
		return r;
	memset(&args, 0, sizeof(args));
	snprintf(args.name, sizeof(args.name), "%s", name);
	return ioctl(dirfd, BTRFS_IOC_SNAP_DESTROY, &args) < 0 ? -errno : 0;
}

/* Destroy the subvolume at path; -errno. */
static int subvol_remove(const char *path)
{
	const char *name;
	int dirfd = open_dir_of(path, &name), r;

	if (dirfd < 0)
		return dirfd;
	r = subvol_destroy(dirfd, name);
	(void)close(dirfd);
	return r;
}

/* ---- opening and closing the backend ---------------------------------------------------------- */

/* A new directory for SRC under tmpdir (b->root): a subvolume for the btrfs provider. */
static int make_root(struct backend *b, const char *tmpdir, char *msg, size_t msglen)
{
	struct engine_backend *eb = b->priv;
	int r = 0;

	snprintf(b->root, sizeof(b->root), "%s/snapfs-model.XXXXXX", tmpdir);
	eb->is_subvol = eb->provider && strcmp(eb->provider, "btrfs") == 0;
	if (eb->is_subvol)
		r = subvol_mkdtemp(b->root);
	else if (!mkdtemp(b->root))
		r = -errno;
	if (r < 0)
		snprintf(msg, msglen, "cannot create a %s in '%s': %s",
			 eb->is_subvol ? "btrfs subvolume" : "directory", tmpdir, strerror(-r));
	return r;
}

int engine_backend_open(struct backend *b, const char *tmpdir, uint32_t chunk,
			const char *provider, char *msg, size_t msglen)
{
	struct engine_backend *eb = calloc(1, sizeof(*eb));
	int r;

	memset(b, 0, sizeof(*b));
	b->root_fd = -1;
	b->src_fd = -1;
	if (!eb)
		return -ENOMEM;
	eb->state_fd = -1;
	eb->chunk = chunk;
	eb->provider = provider;
	b->priv = eb;
	r = make_root(b, tmpdir, msg, msglen);
	if (r < 0) {
		free(eb);
		b->priv = NULL;
		return r;
	}
	b->root_fd = open(b->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(eb->state, sizeof(eb->state), "%s/%s", b->root, VOLUME_STATE_DIR);
	if (b->root_fd < 0 || mkdir(eb->state, 0700) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot create '%s': %s", eb->state, strerror(-r));
		goto out_remove;
	}
	eb->state_fd = open(eb->state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (eb->state_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", eb->state, strerror(-r));
		goto out_remove;
	}
	r = open_engine(b, msg, msglen);
	if (r < 0)
		goto out_remove;
	b->snap_create = eb_snap_create;
	b->snap_delete = eb_snap_delete;
	b->snap_reader = eb_snap_reader;
	b->snap_list_check = eb_snap_list_check;
	b->reopen = eb_reopen;
	return 0;
out_remove:
	engine_backend_close(b, false);
	return r;
}

int engine_prepare(const char *src, uint32_t chunk, const char *provider, char *msg,
		   size_t msglen)
{
	struct engine_params p = { 0 };
	char state[4096 + 16];
	struct engine *e;
	int r;

	snprintf(state, sizeof(state), "%s/%s", src, VOLUME_STATE_DIR);
	p.src_fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p.src_fd < 0 || (mkdir(state, 0700) < 0 && errno != EEXIST)) {
		r = -errno;
		snprintf(msg, msglen, "cannot make '%s': %s", state, strerror(-r));
		goto out_close_src;
	}
	p.state_fd = open(state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p.state_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", state, strerror(-r));
		goto out_close_src;
	}
	p.state_path = state;
	p.chunk_size = chunk;
	p.provider = provider;
	r = engine_open(&p, &e, msg, msglen);
	if (r == 0)
		engine_close(e);
	(void)close(p.state_fd);
out_close_src:
	if (p.src_fd >= 0)
		(void)close(p.src_fd);
	return r;
}

bool engine_handles_usable(const char *dir)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	int mount_id, dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd = -1;

	/* the handle is opened on dir's filesystem: the working directory may be on another */
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (dirfd >= 0 && name_to_handle_at(dirfd, "", &h.fh, &mount_id, AT_EMPTY_PATH) == 0)
		fd = open_by_handle_at(dirfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd >= 0)
		(void)close(fd);
	if (dirfd >= 0)
		(void)close(dirfd);
	return fd >= 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

void engine_backend_close(struct backend *b, bool keep)
{
	struct engine_backend *eb = b->priv;
	bool is_subvol = eb && eb->is_subvol;
	int r = 0;

	if (b->e)
		engine_close(b->e);
	b->e = NULL;
	forget_ready();
	if (eb && eb->state_fd >= 0)
		(void)close(eb->state_fd);
	free(eb);
	b->priv = NULL;
	if (b->root_fd >= 0)
		(void)close(b->root_fd);
	b->root_fd = -1;
	if (keep) {
		printf("kept '%s'\n", b->root);
		return;
	}
	if (is_subvol)
		r = subvol_remove(b->root);
	else if (nftw(b->root, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		r = -errno;
	if (r < 0)
		fprintf(stderr, "model: cannot remove '%s': %s\n", b->root, strerror(-r));
}
