/*
 * fsprobe: small file operations for the integration scripts, with exact results.
 *
 *   fsprobe try OP PATH [PATH2]   run one call, print OK or the errno name (EPERM, ...)
 *                                 OP: stat mkdir rmdir create unlink rename link symlink
 *                                     open opendir
 *   fsprobe direct FILE BLOCKS    write BLOCKS 4 KiB blocks with O_DIRECT, read them back
 *                                 with O_DIRECT and compare
 *   fsprobe unlinked FILE         open FILE, unlink it, keep writing and reading through the
 *                                 open descriptor, check fstat and ftruncate
 *   fsprobe mmap FILE             write FILE through a shared writable mapping, msync, and
 *                                 read it back with read(2)
 *   fsprobe mktree DIR N          create N files in DIR/dNNN/ (1000 a directory), each holding
 *                                 its own relative path
 *   fsprobe checktree DIR N       stat and read every file mktree made, compare contents
 *
 * Exit status 0 on success; on failure a one-line reason on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096

static const char *errname(int e)
{
	const char *name = strerrorname_np(e);

	return name ? name : "E?";
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "fsprobe: %s '%s': %s\n", what, path, strerror(errno));
	return 1;
}

static int cmd_try(const char *op, const char *p, const char *p2)
{
	struct stat st;
	int r, fd;

	if (strcmp(op, "stat") == 0) {
		r = lstat(p, &st);
	} else if (strcmp(op, "mkdir") == 0) {
		r = mkdir(p, 0755);
	} else if (strcmp(op, "rmdir") == 0) {
		r = rmdir(p);
	} else if (strcmp(op, "unlink") == 0) {
		r = unlink(p);
	} else if (strcmp(op, "create") == 0 || strcmp(op, "open") == 0 ||
		   strcmp(op, "opendir") == 0) {
		int flags = strcmp(op, "create") == 0 ? O_CREAT | O_WRONLY :
			    strcmp(op, "open") == 0 ? O_RDONLY : O_RDONLY | O_DIRECTORY;

		fd = open(p, flags, 0644);
		r = fd < 0 ? -1 : close(fd);
	} else if (p2 && strcmp(op, "rename") == 0) {
		r = rename(p, p2);
	} else if (p2 && strcmp(op, "link") == 0) {
		r = link(p, p2);
	} else if (p2 && strcmp(op, "symlink") == 0) {
		r = symlink(p, p2);
	} else {
		fprintf(stderr, "fsprobe: unknown operation '%s'\n", op);
		return 2;
	}
	puts(r == 0 ? "OK" : errname(errno));
	return 0;
}

static void fill(unsigned char *buf, unsigned blk)
{
	for (unsigned i = 0; i < BLOCK; i++)
		buf[i] = (unsigned char)(blk * 31 + i * 7);
}

static int cmd_direct(const char *path, unsigned blocks)
{
	unsigned char *buf, *want;
	int fd;

	if (posix_memalign((void **)&buf, BLOCK, BLOCK) || !(want = malloc(BLOCK)))
		return die("allocate buffer for", path);
	fd = open(path, O_CREAT | O_RDWR | O_DIRECT | O_TRUNC, 0644);
	if (fd < 0)
		return die("open O_DIRECT", path);
	/* write the blocks in a scattered order */
	for (unsigned i = 0; i < blocks; i++) {
		unsigned blk = (i * 7919u) % blocks;

		fill(buf, blk);
		if (pwrite(fd, buf, BLOCK, (off_t)blk * BLOCK) != BLOCK)
			return die("O_DIRECT write to", path);
	}
	for (unsigned blk = 0; blk < blocks; blk++) {
		if (pread(fd, buf, BLOCK, (off_t)blk * BLOCK) != BLOCK)
			return die("O_DIRECT read from", path);
		fill(want, blk);
		if (memcmp(buf, want, BLOCK) != 0) {
			fprintf(stderr, "fsprobe: '%s': block %u reads back wrong\n", path, blk);
			return 1;
		}
	}
	close(fd);
	free(buf);
	free(want);
	return 0;
}

static int cmd_unlinked(const char *path)
{
	char buf[64];
	struct stat st;
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);

	if (fd < 0)
		return die("create", path);
	if (write(fd, "before ", 7) != 7)
		return die("write", path);
	if (unlink(path) < 0)
		return die("unlink", path);
	if (write(fd, "after", 5) != 5)
		return die("write after unlink to", path);
	if (fsync(fd) < 0)
		return die("fsync after unlink", path);
	if (pread(fd, buf, sizeof(buf), 0) != 12 || memcmp(buf, "before after", 12) != 0)
		return die("read back after unlink", path);
	if (fstat(fd, &st) < 0 || st.st_nlink != 0 || st.st_size != 12) {
		fprintf(stderr, "fsprobe: '%s': fstat after unlink: nlink %lu size %lld\n", path,
			(unsigned long)st.st_nlink, (long long)st.st_size);
		return 1;
	}
	if (ftruncate(fd, 6) < 0 || fchmod(fd, 0640) < 0 || fstat(fd, &st) < 0 ||
	    st.st_size != 6 || (st.st_mode & 07777) != 0640)
		return die("ftruncate/fchmod after unlink", path);
	/* dirty data and times written back after the last name is gone */
	if (pwrite(fd, "again", 5, 6) != 5 || futimens(fd, NULL) < 0 || fchown(fd, -1, -1) < 0 ||
	    syncfs(fd) < 0 || fstat(fd, &st) < 0 || st.st_size != 11)
		return die("write, futimens, fchown or syncfs after unlink of", path);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "fsprobe: '%s' still has a name\n", path);
		return 1;
	}
	close(fd);
	return 0;
}

static int cmd_mmap(const char *path)
{
	const size_t size = 1 << 20;
	unsigned char *map, buf[BLOCK];
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);

	if (fd < 0)
		return die("create", path);
	if (ftruncate(fd, size) < 0)
		return die("ftruncate", path);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return die("mmap", path);
	for (size_t blk = 0; blk < size / BLOCK; blk++)
		fill(map + blk * BLOCK, blk);
	if (msync(map, size, MS_SYNC) < 0)
		return die("msync", path);
	munmap(map, size);
	close(fd);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return die("reopen", path);
	for (size_t blk = 0; blk < size / BLOCK; blk++) {
		unsigned char want[BLOCK];

		fill(want, blk);
		if (read(fd, buf, BLOCK) != BLOCK || memcmp(buf, want, BLOCK) != 0) {
			fprintf(stderr, "fsprobe: '%s': mapped block %zu reads back wrong\n", path,
				blk);
			return 1;
		}
	}
	close(fd);
	return 0;
}

static void tree_path(char *out, size_t size, const char *dir, unsigned i, bool dir_only)
{
	if (dir_only)
		snprintf(out, size, "%s/d%03u", dir, i / 1000);
	else
		snprintf(out, size, "%s/d%03u/f%06u", dir, i / 1000, i);
}

static int cmd_mktree(const char *dir, unsigned n)
{
	char p[PATH_MAX];

	for (unsigned i = 0; i < n; i++) {
		int fd, len;

		if (i % 1000 == 0) {
			tree_path(p, sizeof(p), dir, i, true);
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return die("mkdir", p);
		}
		tree_path(p, sizeof(p), dir, i, false);
		fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0)
			return die("create", p);
		len = (int)strlen(p + strlen(dir));
		if (write(fd, p + strlen(dir), len) != len)
			return die("write", p);
		close(fd);
	}
	return 0;
}

static int cmd_checktree(const char *dir, unsigned n)
{
	char p[PATH_MAX], buf[64];

	for (unsigned i = 0; i < n; i++) {
		struct stat st;
		ssize_t got;
		int fd;

		tree_path(p, sizeof(p), dir, i, false);
		if (lstat(p, &st) < 0)
			return die("stat", p);
		fd = open(p, O_RDONLY);
		if (fd < 0)
			return die("open", p);
		got = read(fd, buf, sizeof(buf));
		if (got != (ssize_t)strlen(p + strlen(dir)) ||
		    memcmp(buf, p + strlen(dir), got) != 0 || got != st.st_size) {
			fprintf(stderr, "fsprobe: '%s' holds the wrong bytes\n", p);
			return 1;
		}
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "try") == 0)
		return cmd_try(argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	if (argc == 4 && strcmp(argv[1], "direct") == 0)
		return cmd_direct(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "unlinked") == 0)
		return cmd_unlinked(argv[2]);
	if (argc == 3 && strcmp(argv[1], "mmap") == 0)
		return cmd_mmap(argv[2]);
	if (argc == 4 && strcmp(argv[1], "mktree") == 0)
		return cmd_mktree(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "checktree") == 0)
		return cmd_checktree(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
	fprintf(stderr, "usage: fsprobe try|direct|unlinked|mmap|mktree|checktree ARGS\n");
	return 2;
}
