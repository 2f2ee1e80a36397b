/*
 * Shared parts of the conform battery: the limits and identities every group uses, the
 * arguments of a call made as another user, and the helpers that print one normalized line
 * per check (report.c), build fixtures (fixture.c) and run calls as other users (users.c).
 * Each check_*() group lives in the file of its family; main.c runs them in a fixed order.
 *
 * Strings returned by the fmt_*(), compare_*(), list_*(), get_xattr() and read_content()
 * helpers live in a ring of RING_SLOTS scratch buffers (or a static buffer): they stay valid
 * until RING_SLOTS more have been taken, and nobody frees them.
 */
#ifndef CONFORM_H
#define CONFORM_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define RING_SLOTS 16
#define RING_SIZE 4096
#define EXTRA_MAX 2048
#define OLD_SEC 1000000000L     /* a time well in the past, for "changed" relations */
#define TICK_NS 20000000L       /* longer than any timestamp granularity of the kernel */

struct ident {
	uid_t uid;
	gid_t gid;
	int ngroups;
	gid_t groups[2];
};

/* The identities of the children. ID_U2 is the only member of the shared group 65532. */
extern const struct ident ID_ROOT;
extern const struct ident ID_NOBODY;
extern const struct ident ID_U2;
extern const struct ident ID_U3;
#define GID_SHARED 65532

/* Arguments of one call made by a user function; each function documents its fields. */
struct uarg {
	const char *p, *q;
	long n, m, f;
	const char *buf;
	size_t len;
	struct timespec ts[2];
};

/* A user function: one call with a, returning a count or -errno; may describe more in extra. */
typedef int (*user_fn)(const struct uarg *a, char *extra, size_t size);

#define A(...) (&(const struct uarg){ __VA_ARGS__ })
#define SYS(call) ((call) < 0 ? -errno : 0)

/* Timestamps of a file before an operation; see snap(). */
struct tsnap {
	struct timespec a, m, c;
	int err;
};

/* A count returned by libc, or -errno when it failed. */
static inline int neg_errno(long r)
{
	return r < 0 ? -errno : (int)r;
}

static inline struct timespec make_ts(long sec, long nsec)
{
	return (struct timespec){ sec, nsec };
}

/* --- report.c: results and normalized descriptions ------------------------------------------ */

char *take_buf(void);
const char *fmt_result(int r);
__attribute__((format(printf, 2, 3)))
void emit(const char *name, const char *fmt, ...);
void ck(const char *name, int r);
unsigned count_checks(void);
void fill(char *b, size_t n, unsigned seed);
const char *escape(const char *b, size_t n);
const char *fmt_stat(const struct stat *st);
const char *fmt_lstat(const char *p);
const char *fmt_stat_follow(const char *p);
const char *fmt_fstat(int fd);
void show(const char *name, const char *p);
void ck_show(const char *name, int r, const char *p);
const char *compare_files(const char *a, const char *b);
const char *read_content(const char *p);
int list_stream(DIR *d, char *out, size_t size);
const char *list_dir(const char *p);
const char *list_xattrs(const char *p, bool nofollow);
const char *get_xattr(const char *p, const char *name);
struct tsnap snap(const char *p);
bool is_same_time(struct timespec x, struct timespec y);
const char *compare_times(const char *p, const struct tsnap *s);
const char *fmt_times(const char *p, struct timespec at, struct timespec mt);
const char *fmt_lock_type(short t);

/* --- fixture.c: setup steps, silent unless they fail ---------------------------------------- */

void setup(const char *what, int r);
void mkfile(const char *p, mode_t mode, const char *data);
void mkdirm(const char *p, mode_t mode);
void own(const char *p, uid_t uid, gid_t gid);
void slink(const char *target, const char *p);
void set_times(const char *p, long asec, long msec);

/* --- users.c: calls made as other users ----------------------------------------------------- */

int map_result_page(void);
void uck(const char *name, const struct ident *id, user_fn fn, const struct uarg *a);
void uck_show(const char *name, const struct ident *id, user_fn fn, const struct uarg *a,
	      const char *path);
int try_open(const char *p, int flags, mode_t mode, const char *buf);
int u_open(const struct uarg *a, char *extra, size_t size);
int u_read(const struct uarg *a, char *extra, size_t size);
int u_mkdir(const struct uarg *a, char *extra, size_t size);
int u_rmdir(const struct uarg *a, char *extra, size_t size);
int u_unlink(const struct uarg *a, char *extra, size_t size);
int u_rename(const struct uarg *a, char *extra, size_t size);
int u_link(const struct uarg *a, char *extra, size_t size);
int u_symlink(const struct uarg *a, char *extra, size_t size);
int u_chmod(const struct uarg *a, char *extra, size_t size);
int u_chown(const struct uarg *a, char *extra, size_t size);
int u_truncate(const struct uarg *a, char *extra, size_t size);
int u_ftruncate(const struct uarg *a, char *extra, size_t size);
int u_utimens(const struct uarg *a, char *extra, size_t size);
int u_access(const struct uarg *a, char *extra, size_t size);
int u_stat(const struct uarg *a, char *extra, size_t size);
int u_readdir(const struct uarg *a, char *extra, size_t size);
int u_mknod(const struct uarg *a, char *extra, size_t size);
int u_setxattr(const struct uarg *a, char *extra, size_t size);
int u_getxattr(const struct uarg *a, char *extra, size_t size);
int u_listxattr(const struct uarg *a, char *extra, size_t size);
int u_removexattr(const struct uarg *a, char *extra, size_t size);
int u_setlk(const struct uarg *a, char *extra, size_t size);
int u_getlk(const struct uarg *a, char *extra, size_t size);
int u_flock(const struct uarg *a, char *extra, size_t size);
int u_append(const struct uarg *a, char *extra, size_t size);
int u_bind(const struct uarg *a, char *extra, size_t size);
int u_chdir(const struct uarg *a, char *extra, size_t size);

/* --- groups of checks, by family; main.c sets the order ------------------------------------- */

/* attrs.c */
void check_stat(void);
void check_chmod(void);
void check_chown(void);
void check_truncate(void);
void check_utimens(void);
void check_statvfs(void);
/* names.c */
void check_readdir(void);
void check_mkdir(void);
void check_unlink(void);
void check_rename(void);
void check_link(void);
void check_symlink(void);
void check_mknod(void);
void check_names(void);
void check_reuse(void);
/* files.c */
void check_open(void);
void check_rw(void);
void check_fsync(void);
void check_fallocate(void);
void check_copy(void);
void check_seek(void);
void check_locks(void);
void check_unlinked(void);
/* xattr.c */
void check_xattr(void);
/* perms.c */
void check_access(void);
void check_setgid(void);
void check_sticky(void);
void check_umask(void);
void check_perm(void);

#endif
