/*
 * What a check prints: the result of a call as a count or errno name, and normalized
 * descriptions of what can be observed afterwards (type, mode, owner, link count, size, file
 * contents, sorted listings, extended attributes, timestamps as relations). Descriptions never
 * carry inode or device numbers, paths outside the test directory or absolute times, so two
 * correct filesystems print the same text. This file counts the checks; it makes no changes to
 * the filesystem and switches no identities.
 */
#include "conform.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

static char ring[RING_SLOTS][RING_SIZE];
static unsigned ring_next;
static unsigned nchecks;

/* A scratch buffer valid until RING_SLOTS more have been taken. */
char *take_buf(void)
{
	return ring[ring_next++ % RING_SLOTS];
}

/* A result as text: the count, or the errno name. */
const char *fmt_result(int r)
{
	char *b = take_buf();
	const char *name;

	if (r >= 0) {
		snprintf(b, RING_SIZE, "%d", r);
		return b;
	}
	name = strerrorname_np(-r);
	if (name)
		return name;
	snprintf(b, RING_SIZE, "errno%d", -r);
	return b;
}

__attribute__((format(printf, 2, 3)))
void emit(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	nchecks++;
}

void ck(const char *name, int r)
{
	emit(name, "%s", fmt_result(r));
}

/* The number of lines emit() has printed so far. */
unsigned count_checks(void)
{
	return nchecks;
}


static uint32_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* Fill b with bytes that depend on seed only. */
void fill(char *b, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)(x >> 16);
	}
}

/* Bytes as a quoted string with escapes, or as length and hash when long. */
const char *escape(const char *b, size_t n)
{
	char *o = take_buf();
	size_t k = 0;

	if (n > 64) {
		snprintf(o, RING_SIZE, "len=%zu fnv=%08x", n, fnv(b, n));
		return o;
	}
	o[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			o[k++] = (char)c;
		else
			k += (size_t)snprintf(o + k, RING_SIZE - k, "\\x%02x", c);
	}
	o[k++] = '"';
	o[k] = '\0';
	return o;
}

/*
 * A file or attribute name for a listing into out: non-printable bytes, commas and
 * backslashes escaped, names longer than 40 bytes shortened to their start and length.
 */
static void name_text(const char *name, char *out, size_t size)
{
	size_t len = strlen(name), k = 0;

	for (size_t i = 0; i < len && i < 40 && k + 5 < size; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x20 && c < 0x7f && c != ',' && c != '\\')
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, size - k, "\\x%02x", c);
	}
	out[k] = '\0';
	if (len > 40)
		snprintf(out + k, size - k, "...(%zu)", len);
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "reg";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "lnk";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "sock";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	default:
		return "?";
	}
}

/* Type, mode, owner, link count and (except for directories) size. */
const char *fmt_stat(const struct stat *st)
{
	char *b = take_buf();
	int n;

	n = snprintf(b, RING_SIZE, "%s %04o %u:%u n=%lu", type_name(st->st_mode),
		     (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid, (unsigned)st->st_gid,
		     (unsigned long)st->st_nlink);
	if (!S_ISDIR(st->st_mode))
		snprintf(b + n, RING_SIZE - n, " s=%lld", (long long)st->st_size);
	return b;
}

/* lstat of p, described, or the errno name. */
const char *fmt_lstat(const char *p)
{
	struct stat st;

	if (lstat(p, &st) < 0)
		return fmt_result(-errno);
	return fmt_stat(&st);
}

/* stat (following links) of p, described. */
const char *fmt_stat_follow(const char *p)
{
	struct stat st;

	if (stat(p, &st) < 0)
		return fmt_result(-errno);
	return fmt_stat(&st);
}

const char *fmt_fstat(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return fmt_result(-errno);
	return fmt_stat(&st);
}

void show(const char *name, const char *p)
{
	emit(name, "%s", fmt_lstat(p));
}

/* Result of a call, then what p looks like afterwards. */
void ck_show(const char *name, int r, const char *p)
{
	emit(name, "%s | %s", fmt_result(r), fmt_lstat(p));
}

/* Whether two names lead to the same file (lstat). */
const char *compare_files(const char *a, const char *b)
{
	struct stat sa, sb;

	if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0)
		return fmt_result(-errno);
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "same" : "different";
}

/* The whole content of p (up to 1 MiB), escaped. */
const char *read_content(const char *p)
{
	static char buf[1 << 20];
	ssize_t n, total = 0;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fmt_result(-errno);
	while ((n = read(fd, buf + total, sizeof(buf) - (size_t)total)) > 0)
		total += n;
	if (n < 0) {
		int e = -errno;

		close(fd);
		return fmt_result(e);
	}
	close(fd);
	return escape(buf, (size_t)total);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char dtype_char(unsigned char t)
{
	switch (t) {
	case DT_REG:
		return 'f';
	case DT_DIR:
		return 'd';
	case DT_LNK:
		return 'l';
	case DT_FIFO:
		return 'p';
	case DT_SOCK:
		return 's';
	case DT_CHR:
		return 'c';
	case DT_BLK:
		return 'b';
	default:
		return 'u';
	}
}

/*
 * The entries of an open directory stream, as "name/t" sorted and comma-separated (or count
 * and hash when long) into out. Returns the number of entries or -errno.
 */
int list_stream(DIR *d, char *out, size_t size)
{
	char **names = NULL;
	size_t n = 0, cap = 0, k = 0, total = 0;
	char text[256];
	struct dirent *de;
	int r = 0;

	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (!nn) {
				r = -ENOMEM;
				break;
			}
			names = nn;
		}
		name_text(de->d_name, text, sizeof(text));
		names[n] = malloc(strlen(text) + 3);
		if (!names[n]) {
			r = -ENOMEM;
			break;
		}
		sprintf(names[n], "%s/%c", text, dtype_char(de->d_type));
		total += strlen(names[n]) + 1;
		n++;
	}
	if (r == 0) {
		if (n > 0)
			qsort(names, n, sizeof(*names), cmp_str);
		out[0] = '\0';
		if (total < size && total < 512) {
			for (size_t i = 0; i < n; i++)
				k += (size_t)snprintf(out + k, size - k, "%s%s", i ? "," : "",
						      names[i]);
		} else {
			uint32_t h = 2166136261u;

			for (size_t i = 0; i < n; i++)
				h = h * 31 + fnv(names[i], strlen(names[i]));
			snprintf(out, size, "entries=%zu hash=%08x", n, h);
		}
		r = (int)n;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

const char *list_dir(const char *p)
{
	char *b = take_buf();
	DIR *d = opendir(p);
	int r;

	if (!d)
		return fmt_result(-errno);
	r = list_stream(d, b, RING_SIZE);
	closedir(d);
	return r < 0 ? fmt_result(r) : b;
}

/* Extended attribute names of p, sorted. */
const char *list_xattrs(const char *p, bool nofollow)
{
	char raw[4096], *names[128], *b = take_buf();
	ssize_t n = nofollow ? llistxattr(p, raw, sizeof(raw)) : listxattr(p, raw, sizeof(raw));
	size_t cnt = 0, k = 0;

	if (n < 0)
		return fmt_result(-errno);
	for (ssize_t i = 0; i < n && cnt < 128; i += (ssize_t)strlen(raw + i) + 1)
		names[cnt++] = raw + i;
	qsort(names, cnt, sizeof(*names), cmp_str);
	b[0] = '[';
	k = 1;
	for (size_t i = 0; i < cnt; i++) {
		char text[256];

		name_text(names[i], text, sizeof(text));
		k += (size_t)snprintf(b + k, RING_SIZE - k, "%s%s", i ? "," : "", text);
	}
	snprintf(b + k, RING_SIZE - k, "]");
	return b;
}

const char *get_xattr(const char *p, const char *name)
{
	char v[4096];
	ssize_t n = lgetxattr(p, name, v, sizeof(v));

	if (n < 0)
		return fmt_result(-errno);
	return escape(v, (size_t)n);
}

/* --- timestamps, as relations --------------------------------------------------------------- */

static void tick(void)
{
	struct timespec t = { 0, TICK_NS };

	nanosleep(&t, NULL);
}

/* Timestamps of p before an operation; the wait makes a later change visible. */
struct tsnap snap(const char *p)
{
	struct tsnap s = { .err = 0 };
	struct stat st;

	if (lstat(p, &st) < 0) {
		s.err = -errno;
		return s;
	}
	s.a = st.st_atim;
	s.m = st.st_mtim;
	s.c = st.st_ctim;
	tick();
	return s;
}

bool is_same_time(struct timespec x, struct timespec y)
{
	return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec;
}

/* How mtime and ctime of p changed since s: "m=same c=new". */
const char *compare_times(const char *p, const struct tsnap *s)
{
	char *b = take_buf();
	struct stat st;

	if (s->err)
		return fmt_result(s->err);
	if (lstat(p, &st) < 0)
		return fmt_result(-errno);
	snprintf(b, RING_SIZE, "m=%s c=%s", is_same_time(st.st_mtim, s->m) ? "same" : "new",
		 is_same_time(st.st_ctim, s->c) ? "same" : "new");
	return b;
}

/* Whether p's atime and mtime equal the given times, and whether they are recent. */
const char *fmt_times(const char *p, struct timespec at, struct timespec mt)
{
	char *b = take_buf();
	struct stat st;
	time_t now = time(NULL);

	if (lstat(p, &st) < 0)
		return fmt_result(-errno);
	snprintf(b, RING_SIZE, "a=%s m=%s", is_same_time(st.st_atim, at) ? "set" :
		 (st.st_atim.tv_sec > now - 60 && st.st_atim.tv_sec <= now + 1) ? "now" : "other",
		 is_same_time(st.st_mtim, mt) ? "set" :
		 (st.st_mtim.tv_sec > now - 60 && st.st_mtim.tv_sec <= now + 1) ? "now" : "other");
	return b;
}

/* A lock type of struct flock as text. */
const char *fmt_lock_type(short t)
{
	return t == F_WRLCK ? "wr" : t == F_RDLCK ? "rd" : t == F_UNLCK ? "un" : "?";
}
