/*
 * Checks of file data and open descriptors: open and creat flags, read and write, fsync,
 * fallocate, copy_file_range, SEEK_DATA and SEEK_HOLE, POSIX and BSD locks, and files that stay
 * open after their name is gone. Each group works in its own subdirectory.
 */
#include "conform.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

/* --- open and creat ------------------------------------------------------------------------- */

void check_open(void)
{
	char buf[16];
	int fd, fd2;

	mkdirm("open", 0777);
	ck_show("open.creat_new", try_open("open/a", O_CREAT | O_WRONLY, 0666, "hello"), "open/a");
	ck_show("open.creat_existing", try_open("open/a", O_CREAT | O_RDONLY, 0600, NULL),
		"open/a");
	emit("open.creat_existing_content", "%s", read_content("open/a"));
	ck("open.excl_existing", try_open("open/a", O_CREAT | O_EXCL | O_RDWR, 0644, NULL));
	ck_show("open.excl_new", try_open("open/b", O_CREAT | O_EXCL | O_RDWR, 0640, NULL),
		"open/b");
	ck_show("open.excl_without_creat", try_open("open/a", O_EXCL | O_RDONLY, 0, NULL),
		"open/a");
	ck_show("open.trunc", try_open("open/a", O_TRUNC | O_WRONLY, 0, "xy"), "open/a");
	emit("open.trunc_content", "%s", read_content("open/a"));
	ck_show("open.trunc_rdonly", try_open("open/a", O_TRUNC | O_RDONLY, 0, NULL), "open/a");
	ck_show("open.creat_trunc", try_open("open/a", O_CREAT | O_TRUNC | O_WRONLY, 0600, "abc"),
		"open/a");
	ck_show("open.append", try_open("open/a", O_APPEND | O_WRONLY, 0, "def"), "open/a");
	emit("open.append_content", "%s", read_content("open/a"));
	fd = open("open/a", O_APPEND | O_RDWR | O_CLOEXEC);
	ck("open.append_pwrite", neg_errno(pwrite(fd, "G", 1, 0)));
	ck("open.append_lseek_write", lseek(fd, 1, SEEK_SET) < 0 ? -errno :
	   neg_errno(write(fd, "H", 1)));
	ck("open.append_pos", neg_errno(lseek(fd, 0, SEEK_CUR)));
	if (fd >= 0)
		close(fd);
	emit("open.append_pwrite_content", "%s", read_content("open/a"));
	fd = creat("open/c", 0755);
	ck_show("open.creat_call", fd < 0 ? -errno : neg_errno(write(fd, "c", 1)), "open/c");
	ck("open.creat_call_read", fd < 0 ? -EBADF : neg_errno(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	ck_show("open.creat_mode_setid", try_open("open/s", O_CREAT | O_WRONLY, 07777, NULL),
		"open/s");
	ck_show("open.creat_mode_0", try_open("open/z", O_CREAT | O_RDWR, 0, "w"), "open/z");

	mkdirm("open/d", 0755);
	slink("a", "open/l");
	slink("d", "open/ld");
	slink("target", "open/dangling");
	ck("open.dir_rdonly", try_open("open/d", O_RDONLY, 0, NULL));
	ck("open.dir_wronly", try_open("open/d", O_WRONLY, 0, NULL));
	ck("open.dir_rdwr", try_open("open/d", O_RDWR, 0, NULL));
	ck("open.dir_creat", try_open("open/d", O_CREAT | O_RDONLY, 0644, NULL));
	ck("open.dir_creat_excl", try_open("open/d", O_CREAT | O_EXCL | O_RDONLY, 0644, NULL));
	ck("open.dir_trunc", try_open("open/d", O_TRUNC | O_RDONLY, 0, NULL));
	ck("open.directory_on_dir", try_open("open/d", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_on_file", try_open("open/a", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_on_dir_symlink", try_open("open/ld", O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.directory_creat", try_open("open/dc", O_DIRECTORY | O_CREAT | O_RDONLY, 0644,
					    NULL));
	show("open.directory_creat_result", "open/dc");
	ck("open.nofollow_symlink", try_open("open/l", O_NOFOLLOW | O_RDONLY, 0, NULL));
	ck("open.nofollow_file", try_open("open/a", O_NOFOLLOW | O_RDONLY, 0, NULL));
	ck("open.nofollow_dir", try_open("open/d", O_NOFOLLOW | O_DIRECTORY | O_RDONLY, 0, NULL));
	ck("open.nofollow_creat_existing", try_open("open/a", O_NOFOLLOW | O_CREAT | O_RDWR, 0644,
						    NULL));
	ck("open.nofollow_creat_new", try_open("open/nf", O_NOFOLLOW | O_CREAT | O_RDWR, 0644,
					       NULL));
	ck("open.nofollow_write", try_open("open/a", O_NOFOLLOW | O_WRONLY | O_APPEND, 0, "N"));
	ck("open.nofollow_creat_symlink",
	   try_open("open/l", O_NOFOLLOW | O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.follow_symlink", try_open("open/l", O_RDONLY, 0, NULL));
	fd = open("open/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	emit("open.path_nofollow", "%s %s", fmt_result(fd < 0 ? -errno : 0),
	     fd < 0 ? "-" : fmt_fstat(fd));
	ck("open.path_read", fd < 0 ? -EBADF : neg_errno(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	ck("open.excl_dangling", try_open("open/dangling", O_CREAT | O_EXCL | O_WRONLY, 0644,
					  NULL));
	ck("open.excl_symlink", try_open("open/l", O_CREAT | O_EXCL | O_WRONLY, 0644, NULL));
	ck_show("open.creat_dangling", try_open("open/dangling", O_CREAT | O_WRONLY, 0644, "t"),
		"open/target");
	ck("open.missing", try_open("open/missing", O_RDONLY, 0, NULL));
	ck("open.missing_dir_creat", try_open("open/missing/x", O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.through_file", try_open("open/a/x", O_RDONLY, 0, NULL));
	ck("open.through_file_creat", try_open("open/a/x", O_CREAT | O_WRONLY, 0644, NULL));
	ck("open.file_slash", try_open("open/a/", O_RDONLY, 0, NULL));
	ck("open.creat_slash", try_open("open/new/", O_CREAT | O_WRONLY, 0644, NULL));
	show("open.creat_slash_result", "open/new");
	ck("open.empty_path", try_open("", O_RDONLY, 0, NULL));
	ck("open.bad_accmode", try_open("open/a", O_ACCMODE, 0, NULL));

	fd = open("open/a", O_RDONLY | O_CLOEXEC);
	ck("open.write_on_rdonly", fd < 0 ? -EBADF : neg_errno(write(fd, "x", 1)));
	if (fd >= 0)
		close(fd);
	fd = open("open/a", O_WRONLY | O_CLOEXEC);
	ck("open.read_on_wronly", fd < 0 ? -EBADF : neg_errno(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	fd = open("open/d", O_RDONLY | O_CLOEXEC);
	ck("open.read_dir", fd < 0 ? -EBADF : neg_errno(read(fd, buf, 1)));
	if (fd >= 0)
		close(fd);
	/* a new file opened read-write although its mode forbids it */
	fd = open("open/ro_new", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0444);
	ck_show("open.creat_readonly_mode", fd < 0 ? -errno : neg_errno(write(fd, "ok", 2)),
		"open/ro_new");
	if (fd >= 0)
		close(fd);
	ck("open.readonly_mode_again", try_open("open/ro_new", O_RDWR, 0, NULL));
	/* two descriptors on one file see each other's writes */
	fd = open("open/shared", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	fd2 = open("open/shared", O_RDWR | O_CLOEXEC);
	ck("open.second_fd_write", fd2 < 0 ? -errno : neg_errno(write(fd2, "second", 6)));
	memset(buf, 0, sizeof(buf));
	ck("open.first_fd_read", fd < 0 ? -EBADF : neg_errno(pread(fd, buf, sizeof(buf), 0)));
	emit("open.first_fd_read_data", "%s", escape(buf, strlen(buf)));
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);

	/* O_TMPFILE: an unnamed file, named later by linkat */
	fd = open("open/d", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	fd2 = fd < 0 ? -errno : 0;
	ck("open.tmpfile", fd < 0 ? fd2 : neg_errno(write(fd, "tmp", 3)));
	emit("open.tmpfile_stat", "%s", fd < 0 ? "-" : fmt_fstat(fd));
	emit("open.tmpfile_listing", "%s", list_dir("open/d"));
	if (fd >= 0) {
		char pp[64];

		snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
		ck_show("open.tmpfile_link", SYS(linkat(AT_FDCWD, pp, AT_FDCWD, "open/d/named",
						 AT_SYMLINK_FOLLOW)), "open/d/named");
		close(fd);
	} else {
		ck_show("open.tmpfile_link", fd2, "open/d/named");
	}

	/* as other users */
	mkdirm("open/rootdir", 0755);
	mkfile("open/rootdir/f", 0644, "data");
	mkfile("open/rootdir/secret", 0600, "data");
	mkfile("open/rootdir/wo", 0622, "data");
	mkdirm("open/closed", 0700);
	mkfile("open/closed/f", 0666, "data");
	mkdirm("open/pub", 0777);
	uck("open.nobody_read", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_RDONLY));
	uck("open.nobody_write", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_WRONLY));
	uck("open.nobody_rdwr", &ID_NOBODY, u_open, A(.p = "open/rootdir/f", .n = O_RDWR));
	uck("open.nobody_trunc", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/f", .n = O_RDONLY | O_TRUNC));
	uck("open.nobody_secret", &ID_NOBODY, u_open, A(.p = "open/rootdir/secret", .n = O_RDONLY));
	uck("open.nobody_write_only_perm", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/wo", .n = O_WRONLY, .buf = "W"));
	emit("open.nobody_write_only_perm_content", "%s", read_content("open/rootdir/wo"));
	uck("open.nobody_write_only_perm_read", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/wo", .n = O_RDONLY));
	uck("open.nobody_creat_in_rootdir", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/new", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("open.nobody_creat_existing_in_rootdir", &ID_NOBODY, u_open,
	    A(.p = "open/rootdir/f", .n = O_CREAT | O_RDONLY, .m = 0644));
	uck("open.nobody_no_search", &ID_NOBODY, u_open, A(.p = "open/closed/f", .n = O_RDONLY));
	uck("open.nobody_no_search_creat", &ID_NOBODY, u_open,
	    A(.p = "open/closed/g", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck_show("open.nobody_creat", &ID_NOBODY, u_open,
		 A(.p = "open/pub/nb", .n = O_CREAT | O_EXCL | O_WRONLY, .m = 0664, .buf = "n"),
		 "open/pub/nb");
	uck_show("open.u2_creat", &ID_U2, u_open,
		 A(.p = "open/pub/u2", .n = O_CREAT | O_RDWR, .m = 0600, .buf = "u"),
		 "open/pub/u2");
	uck_show("open.u2_creat_write_only_mode", &ID_U2, u_open,
		 A(.p = "open/pub/u2w", .n = O_CREAT | O_WRONLY, .m = 0200, .buf = "w"),
		 "open/pub/u2w");
	uck("open.u2_others_file", &ID_U2, u_open, A(.p = "open/pub/nb", .n = O_RDONLY));
	uck("open.u2_others_file_write", &ID_U2, u_open, A(.p = "open/pub/nb", .n = O_WRONLY));
	uck("open.nobody_own_file_rdwr", &ID_NOBODY, u_open, A(.p = "open/pub/nb", .n = O_RDWR));
	setup("open/pub/nb", SYS(chmod("open/pub/nb", 0)));
	uck("open.nobody_own_file_mode_0", &ID_NOBODY, u_open,
	    A(.p = "open/pub/nb", .n = O_RDONLY));
	ck("open.root_mode_0", try_open("open/pub/nb", O_RDWR, 0, NULL));
}

/* --- read, write, pread, pwrite ------------------------------------------------------------- */

void check_rw(void)
{
	static char big[300000], back[300000];
	struct iovec iov[3];
	char buf[64], *map;
	struct tsnap s;
	ssize_t n;
	int fd;

	mkdirm("rw", 0777);
	fd = open("rw/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("rw.write", neg_errno(write(fd, "hello world", 11)));
	ck("rw.pos_after_write", neg_errno(lseek(fd, 0, SEEK_CUR)));
	ck("rw.read_at_eof", neg_errno(read(fd, buf, sizeof(buf))));
	ck("rw.lseek_set", neg_errno(lseek(fd, 6, SEEK_SET)));
	memset(buf, 0, sizeof(buf));
	ck("rw.read_tail", neg_errno(read(fd, buf, sizeof(buf))));
	emit("rw.read_tail_data", "%s", escape(buf, strlen(buf)));
	ck("rw.pwrite_middle", neg_errno(pwrite(fd, "WORLD", 5, 6)));
	ck("rw.pos_after_pwrite", neg_errno(lseek(fd, 0, SEEK_CUR)));
	memset(buf, 0, sizeof(buf));
	ck("rw.pread_all", neg_errno(pread(fd, buf, sizeof(buf), 0)));
	emit("rw.pread_all_data", "%s", escape(buf, strlen(buf)));
	ck("rw.pread_past_eof", neg_errno(pread(fd, buf, sizeof(buf), 1000)));
	ck("rw.pwrite_hole", neg_errno(pwrite(fd, "end", 3, 20)));
	emit("rw.pwrite_hole_stat", "%s", fmt_fstat(fd));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("rw.pwrite_hole_data", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	ck("rw.write_zero", neg_errno(write(fd, "", 0)));
	ck("rw.pwrite_negative", neg_errno(pwrite(fd, "x", 1, -1)));
	ck("rw.pread_negative", neg_errno(pread(fd, buf, 1, -1)));
	ck("rw.lseek_end", neg_errno(lseek(fd, -3, SEEK_END)));
	ck("rw.lseek_negative", neg_errno(lseek(fd, -100, SEEK_SET)));
	ck("rw.lseek_bad_whence", neg_errno(lseek(fd, 0, 42)));
	iov[0] = (struct iovec){ (void *)"ab", 2 };
	iov[1] = (struct iovec){ (void *)"", 0 };
	iov[2] = (struct iovec){ (void *)"cde", 3 };
	ck("rw.pwritev", neg_errno(pwritev(fd, iov, 3, 2)));
	memset(buf, 0, sizeof(buf));
	iov[0] = (struct iovec){ buf, 4 };
	iov[1] = (struct iovec){ buf + 10, 4 };
	ck("rw.preadv", neg_errno(preadv(fd, iov, 2, 0)));
	emit("rw.preadv_data", "%s %s", escape(buf, 4), escape(buf + 10, 4));
	if (fd >= 0)
		close(fd);
	emit("rw.content_after_close", "%s", read_content("rw/f"));

	/* a large write, read back after reopening */
	fill(big, sizeof(big), 1);
	fd = open("rw/big", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	ck("rw.big_write", neg_errno(write(fd, big, sizeof(big))));
	ck("rw.big_pwrite_unaligned", neg_errno(pwrite(fd, big + 5000, 10007, 123457)));
	if (fd >= 0)
		close(fd);
	memcpy(back, big, sizeof(back));
	memcpy(back + 123457, big + 5000, 10007);
	fd = open("rw/big", O_RDONLY | O_CLOEXEC);
	n = 0;
	while (fd >= 0 && n < (ssize_t)sizeof(big)) {
		ssize_t k = read(fd, big + n, sizeof(big) - (size_t)n);

		if (k <= 0)
			break;
		n += k;
	}
	emit("rw.big_read", "%zd %s", n, memcmp(big, back, sizeof(big)) == 0 ? "equal" :
	     "different");
	if (fd >= 0)
		close(fd);
	show("rw.big_stat", "rw/big");

	/* timestamps of a write */
	set_times("rw/f", OLD_SEC, OLD_SEC);
	s = snap("rw/f");
	fd = open("rw/f", O_WRONLY | O_CLOEXEC);
	ck("rw.write_for_times", neg_errno(write(fd, "t", 1)));
	if (fd >= 0)
		close(fd);
	emit("rw.write_times", "%s", compare_times("rw/f", &s));
	set_times("rw/f", OLD_SEC, OLD_SEC);
	s = snap("rw/f");
	fd = open("rw/f", O_RDONLY | O_CLOEXEC);
	ck("rw.read_for_times", neg_errno(read(fd, buf, 4)));
	if (fd >= 0)
		close(fd);
	emit("rw.read_times", "%s", compare_times("rw/f", &s));
	/* a write then an explicit mtime before close: the explicit time stays */
	fd = open("rw/f", O_WRONLY | O_CLOEXEC);
	ck("rw.write_then_utime", neg_errno(write(fd, "u", 1)));
	setup("rw/f", SYS(futimens(fd, (struct timespec[2]){ { OLD_SEC, 0 },
							  { OLD_SEC + 1, 0 } })));
	if (fd >= 0)
		close(fd);
	emit("rw.write_then_utime_times", "%s",
	     fmt_times("rw/f", make_ts(OLD_SEC, 0), make_ts(OLD_SEC + 1, 0)));

	/* shared mapping */
	fd = open("rw/map", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("rw/map", fd < 0 ? -errno : SYS(ftruncate(fd, 8192)));
	map = fd < 0 ? MAP_FAILED : mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED) {
		memcpy(map + 4090, "mapped!", 7);
		ck("rw.msync", SYS(msync(map, 8192, MS_SYNC)));
		munmap(map, 8192);
	} else {
		ck("rw.msync", -errno);
	}
	if (fd >= 0)
		close(fd);
	fd = open("rw/map", O_RDONLY | O_CLOEXEC);
	memset(buf, 0, sizeof(buf));
	ck("rw.mmap_read_back", fd < 0 ? -errno : neg_errno(pread(fd, buf, 9, 4089)));
	emit("rw.mmap_read_back_data", "%s", escape(buf, 9));
	if (fd >= 0)
		close(fd);

	/* O_APPEND from two descriptors interleaves at the end */
	mkfile("rw/log", 0666, "");
	uck("rw.append_nobody", &ID_NOBODY, u_open, A(.p = "rw/log", .n = O_WRONLY | O_APPEND,
						       .buf = "one;"));
	uck("rw.append_root_child", &ID_ROOT, u_open, A(.p = "rw/log", .n = O_WRONLY | O_APPEND,
							 .buf = "two;"));
	ck("rw.append_root", try_open("rw/log", O_RDWR | O_APPEND, 0, "three;"));
	emit("rw.append_content", "%s", read_content("rw/log"));

	/* writes by others clear set-id bits; writes by root do not */
	mkfile("rw/suid", 06777, "abc");
	mkfile("rw/sgid_nox", 02767, "abc");
	mkfile("rw/suid_root", 06777, "abc");
	uck_show("rw.nobody_write_clears_setid", &ID_NOBODY, u_append,
		 A(.p = "rw/suid", .n = O_WRONLY, .buf = "d"), "rw/suid");
	uck_show("rw.nobody_write_sgid_no_group_x", &ID_NOBODY, u_append,
		 A(.p = "rw/sgid_nox", .n = O_WRONLY, .buf = "d"), "rw/sgid_nox");
	uck_show("rw.root_write_keeps_setid", &ID_ROOT, u_append,
		 A(.p = "rw/suid_root", .n = O_WRONLY, .buf = "d"), "rw/suid_root");
	uck("rw.nobody_read_back", &ID_NOBODY, u_read, A(.p = "rw/suid"));
}

/* --- fsync ---------------------------------------------------------------------------------- */

void check_fsync(void)
{
	int fd;

	mkdirm("sync", 0755);
	fd = open("sync/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("sync/f", fd < 0 ? -errno : neg_errno(write(fd, "data", 4)));
	ck("fsync.file", SYS(fsync(fd)));
	ck("fdatasync.file", SYS(fdatasync(fd)));
	ck("sync_file_range.file", SYS(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE |
						SYNC_FILE_RANGE_WAIT_AFTER)));
	ck("syncfs.file", SYS(syncfs(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sync/f", O_RDONLY | O_CLOEXEC);
	ck("fsync.rdonly", SYS(fsync(fd)));
	ck("fdatasync.rdonly", SYS(fdatasync(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sync", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("fsync.dir", SYS(fsync(fd)));
	ck("fdatasync.dir", SYS(fdatasync(fd)));
	if (fd >= 0)
		close(fd);
	ck("fsync.bad_fd", SYS(fsync(-1)));
	emit("fsync.content", "%s", read_content("sync/f"));
}

/* --- fallocate ------------------------------------------------------------------------------ */

/* Whether bytes [off, off+len) of fd are all zero. */
static const char *zeros(int fd, off_t off, size_t len)
{
	char buf[8192];
	ssize_t n;

	if (len > sizeof(buf))
		len = sizeof(buf);
	n = pread(fd, buf, len, off);
	if (n < 0)
		return fmt_result(-errno);
	if ((size_t)n != len)
		return "short";
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i])
			return "data";
	}
	return "zeros";
}

/* Hash of the whole content of fd. */
static const char *fd_content(int fd)
{
	static char buf[1 << 20];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0)
		return fmt_result(-errno);
	return escape(buf, (size_t)n);
}

void check_fallocate(void)
{
	char data[12288];
	int fd, ro;

	mkdirm("fa", 0755);
	fd = open("fa/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("fallocate.mode_0", SYS(fallocate(fd, 0, 0, 8192)));
	emit("fallocate.mode_0_result", "%s %s", fmt_fstat(fd), zeros(fd, 0, 8192));
	ck("fallocate.keep_size", SYS(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192)));
	emit("fallocate.keep_size_result", "%s", fmt_fstat(fd));
	ck("fallocate.beyond_eof", SYS(fallocate(fd, 0, 20000, 100)));
	emit("fallocate.beyond_eof_result", "%s %s", fmt_fstat(fd), zeros(fd, 8192, 8192));
	fill(data, sizeof(data), 7);
	setup("fa/f", neg_errno(pwrite(fd, data, sizeof(data), 0)) == (int)sizeof(data) ? 0 : -EIO);
	ck("fallocate.punch", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
					     4096)));
	emit("fallocate.punch_result", "%s %s %s %s", fmt_fstat(fd), zeros(fd, 4096, 4096),
	     zeros(fd, 0, 4096), zeros(fd, 8192, 4096));
	ck("fallocate.punch_unaligned", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						       FALLOC_FL_KEEP_SIZE, 100, 200)));
	emit("fallocate.punch_unaligned_result", "%s %s %s", zeros(fd, 100, 200),
	     zeros(fd, 99, 1), zeros(fd, 300, 1));
	emit("fallocate.content", "%s", fd_content(fd));
	ck("fallocate.punch_without_keep_size", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10)));
	ck("fallocate.punch_past_eof", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE |
						      FALLOC_FL_KEEP_SIZE, 100000, 4096)));
	emit("fallocate.punch_past_eof_result", "%s", fmt_fstat(fd));
	ck("fallocate.zero_range", SYS(fallocate(fd, FALLOC_FL_ZERO_RANGE, 8192, 100)));
	emit("fallocate.zero_range_result", "%s %s %s", fmt_fstat(fd), zeros(fd, 8192, 100),
	     zeros(fd, 8292, 1));
	ck("fallocate.negative_len", SYS(fallocate(fd, 0, 0, -1)));
	ck("fallocate.zero_len", SYS(fallocate(fd, 0, 0, 0)));
	ck("fallocate.negative_offset", SYS(fallocate(fd, 0, -1, 10)));
	ck("fallocate.bad_mode", SYS(fallocate(fd, 0x1000, 0, 10)));
	if (fd >= 0)
		close(fd);
	ro = open("fa/f", O_RDONLY | O_CLOEXEC);
	ck("fallocate.rdonly", SYS(fallocate(ro, 0, 0, 10)));
	if (ro >= 0)
		close(ro);
	fd = open("fa/ap", O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
	ck("fallocate.append_fd", SYS(fallocate(fd, 0, 0, 4096)));
	emit("fallocate.append_fd_result", "%s", fmt_fstat(fd));
	if (fd >= 0)
		close(fd);
	setup("fa/p", SYS(mkfifo("fa/p", 0644)));
	fd = open("fa/p", O_RDWR | O_CLOEXEC);
	ck("fallocate.fifo", SYS(fallocate(fd, 0, 0, 10)));
	if (fd >= 0)
		close(fd);
}

/* --- copy_file_range ------------------------------------------------------------------------ */

/* Copy len bytes, retrying short copies; returns the total or -errno. */
static int copy_all(int in, off_t *off_in, int out, off_t *off_out, size_t len,
		    unsigned flags)
{
	size_t total = 0;

	while (total < len) {
		ssize_t n = copy_file_range(in, off_in, out, off_out, len - total, flags);

		if (n < 0)
			return total ? (int)total : -errno;
		if (n == 0)
			break;
		total += (size_t)n;
	}
	return (int)total;
}

void check_copy(void)
{
	static char data[200000];
	off_t oi, oo;
	int src, dst, wo, ap, ro;

	mkdirm("cp", 0755);
	fill(data, sizeof(data), 3);
	src = open("cp/src", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("cp/src", neg_errno(write(src, data, sizeof(data))) == (int)sizeof(data) ? 0 : -EIO);
	dst = open("cp/dst", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	oi = 0;
	oo = 0;
	ck("copy.whole", copy_all(src, &oi, dst, &oo, sizeof(data), 0));
	emit("copy.whole_result", "%s %s offsets=%lld,%lld", fmt_fstat(dst), fd_content(dst),
	     (long long)oi, (long long)oo);
	oi = 50;
	oo = 250000;
	ck("copy.offsets", copy_all(src, &oi, dst, &oo, 100, 0));
	emit("copy.offsets_result", "%s %s %s", fmt_fstat(dst), zeros(dst, 200000, 8192),
	     fd_content(dst));
	oi = 300000;
	oo = 0;
	ck("copy.past_eof", copy_all(src, &oi, dst, &oo, 100, 0));
	oi = 199990;
	oo = 0;
	ck("copy.short_at_eof", copy_all(src, &oi, dst, &oo, 100, 0));
	oi = 0;
	oo = 10;
	ck("copy.overlap_same_file", copy_all(src, &oi, src, &oo, 100, 0));
	oi = 0;
	oo = 100000;
	ck("copy.same_file", copy_all(src, &oi, src, &oo, 100, 0));
	emit("copy.same_file_result", "%s %s", fmt_fstat(src), fd_content(src));
	ck("copy.bad_flags", copy_all(src, &oi, dst, &oo, 10, 1));
	ck("copy.zero_len", copy_all(src, &oi, dst, &oo, 0, 0));
	if (lseek(src, 0, SEEK_SET) == 0 && lseek(dst, 5, SEEK_SET) == 5) {
		ck("copy.file_positions", copy_all(src, NULL, dst, NULL, 20, 0));
		emit("copy.file_positions_after", "%lld %lld", (long long)lseek(src, 0, SEEK_CUR),
		     (long long)lseek(dst, 0, SEEK_CUR));
	} else {
		ck("copy.file_positions", -errno);
		emit("copy.file_positions_after", "%s", fmt_result(-errno));
	}
	wo = open("cp/src", O_WRONLY | O_CLOEXEC);
	oi = 0;
	oo = 0;
	ck("copy.from_wronly", copy_all(wo, &oi, dst, &oo, 10, 0));
	ap = open("cp/ap", O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
	oi = 0;
	oo = 0;
	ck("copy.to_append", copy_all(src, &oi, ap, &oo, 10, 0));
	ro = open("cp/src", O_RDONLY | O_CLOEXEC);
	oi = 0;
	ck("copy.to_rdonly", copy_all(dst, &oi, ro, &oo, 10, 0));
	if (ro >= 0)
		close(ro);
	mkdirm("cp/d", 0755);
	{
		int dfd = open("cp/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		oi = 0;
		oo = 0;
		ck("copy.from_dir", copy_all(dfd, &oi, dst, &oo, 10, 0));
		if (dfd >= 0)
			close(dfd);
	}
	if (wo >= 0)
		close(wo);
	if (ap >= 0)
		close(ap);
	if (src >= 0)
		close(src);
	if (dst >= 0)
		close(dst);
	emit("copy.content_after_close", "%s", read_content("cp/dst"));
}

/* --- lseek SEEK_DATA / SEEK_HOLE ------------------------------------------------------------ */

static void seek_report(const char *prefix, int fd)
{
	static const off_t offs[] = { 0, 4095, 4096, 100000, 1048576, 1050000, 1052671, 1052672,
				      2000000 };
	char name[96];

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		snprintf(name, sizeof(name), "%s.data_%lld", prefix, (long long)offs[i]);
		ck(name, neg_errno(lseek(fd, offs[i], SEEK_DATA)));
		snprintf(name, sizeof(name), "%s.hole_%lld", prefix, (long long)offs[i]);
		ck(name, neg_errno(lseek(fd, offs[i], SEEK_HOLE)));
	}
}

void check_seek(void)
{
	char block[4096];
	int fd;

	mkdirm("sk", 0755);
	fill(block, sizeof(block), 5);
	fd = open("sk/sparse", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	setup("sk/sparse", neg_errno(pwrite(fd, block, 4096, 0)) == 4096 ? 0 : -EIO);
	setup("sk/sparse", neg_errno(pwrite(fd, block, 4096, 1048576)) == 4096 ? 0 : -EIO);
	seek_report("seek.unsynced", fd);
	ck("seek.fsync", SYS(fsync(fd)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/sparse", O_RDONLY | O_CLOEXEC);
	seek_report("seek.synced", fd);
	emit("seek.stat", "%s %s", fmt_fstat(fd), zeros(fd, 4096, 8192));
	ck("seek.after_data_pos", neg_errno(lseek(fd, 0, SEEK_CUR)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/empty", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("seek.empty_data", neg_errno(lseek(fd, 0, SEEK_DATA)));
	ck("seek.empty_hole", neg_errno(lseek(fd, 0, SEEK_HOLE)));
	ck("seek.empty_end", neg_errno(lseek(fd, 0, SEEK_END)));
	ck("seek.empty_far", neg_errno(lseek(fd, 1L << 40, SEEK_SET)));
	if (fd >= 0)
		close(fd);
	mkfile("sk/dense", 0644, "0123456789");
	fd = open("sk/dense", O_RDONLY | O_CLOEXEC);
	ck("seek.dense_data", neg_errno(lseek(fd, 3, SEEK_DATA)));
	ck("seek.dense_hole", neg_errno(lseek(fd, 3, SEEK_HOLE)));
	ck("seek.dense_data_at_eof", neg_errno(lseek(fd, 10, SEEK_DATA)));
	ck("seek.dense_negative", neg_errno(lseek(fd, -1, SEEK_DATA)));
	if (fd >= 0)
		close(fd);
	fd = open("sk/punched", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	for (int i = 0; i < 4; i++)
		setup("sk/punched",
		      neg_errno(pwrite(fd, block, 4096, i * 4096)) == 4096 ? 0 : -EIO);
	setup("sk/punched", SYS(fsync(fd)));
	setup("sk/punched", SYS(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096,
					  8192)));
	ck("seek.punched_hole", neg_errno(lseek(fd, 0, SEEK_HOLE)));
	ck("seek.punched_data", neg_errno(lseek(fd, 4096, SEEK_DATA)));
	if (fd >= 0)
		close(fd);
}

/* --- file locks ----------------------------------------------------------------------------- */

static int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start,
			    .l_len = len };

	return SYS(fcntl(fd, cmd, &fl));
}

void check_locks(void)
{
	struct flock fl;
	int fd, fd2, ro;

	mkdirm("lk", 0755);
	mkfile("lk/f", 0666, "0123456789");
	fd = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("lock.posix_write", setlk(fd, F_SETLK, F_WRLCK, 0, 10));
	uck("lock.other_write_conflict", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 10));
	uck("lock.other_read_conflict", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 5, .f = 1));
	uck("lock.other_disjoint", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 10, .f = 10));
	uck("lock.other_getlk", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 3, .f = 1));
	uck("lock.other_getlk_disjoint", &ID_ROOT, u_getlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 20, .f = 0));
	uck("lock.nobody_conflict", &ID_NOBODY, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 0));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
	ck("lock.own_getlk", SYS(fcntl(fd, F_GETLK, &fl)));
	emit("lock.own_getlk_type", "%s", fmt_lock_type(fl.l_type));
	ck("lock.downgrade", setlk(fd, F_SETLK, F_RDLCK, 0, 10));
	uck("lock.other_read_shared", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 10));
	uck("lock.other_write_vs_read", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 2, .f = 2));
	uck("lock.other_getlk_read", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 0,
							  .f = 0));
	ck("lock.unlock_middle", setlk(fd, F_SETLK, F_UNLCK, 4, 2));
	uck("lock.other_in_gap", &ID_ROOT, u_setlk, A(.p = "lk/f", .n = F_WRLCK, .m = 4, .f = 2));
	uck("lock.other_getlk_split", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_WRLCK, .m = 5,
							   .f = 0));
	ck("lock.unlock", setlk(fd, F_SETLK, F_UNLCK, 0, 0));
	uck("lock.other_after_unlock", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 0, .f = 0));
	ck("lock.bad_type", setlk(fd, F_SETLK, 42, 0, 0));
	ck("lock.negative_start", setlk(fd, F_SETLK, F_WRLCK, -5, 1));
	ck("lock.beyond_eof", setlk(fd, F_SETLK, F_WRLCK, 1000, 10));
	uck("lock.other_beyond_eof", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_RDLCK, .m = 1005, .f = 1));
	/* closing any descriptor of the file drops the process's POSIX locks */
	fd2 = open("lk/f", O_RDONLY | O_CLOEXEC);
	if (fd2 >= 0)
		close(fd2);
	uck("lock.other_after_close_other_fd", &ID_ROOT, u_setlk,
	    A(.p = "lk/f", .n = F_WRLCK, .m = 1005, .f = 1));
	ro = open("lk/f", O_RDONLY | O_CLOEXEC);
	ck("lock.write_on_rdonly", setlk(ro, F_SETLK, F_WRLCK, 0, 1));
	ck("lock.read_on_rdonly", setlk(ro, F_SETLK, F_RDLCK, 0, 1));
	if (ro >= 0)
		close(ro);
	if (fd >= 0)
		close(fd);

	/* flock */
	fd = open("lk/f", O_RDONLY | O_CLOEXEC);
	fd2 = open("lk/f", O_RDONLY | O_CLOEXEC);
	ck("flock.ex", SYS(flock(fd, LOCK_EX | LOCK_NB)));
	uck("flock.other_ex", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	uck("flock.other_sh", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_SH | LOCK_NB));
	uck("flock.nobody_ex", &ID_NOBODY, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.same_process_other_open", SYS(flock(fd2, LOCK_EX | LOCK_NB)));
	ck("flock.to_shared", SYS(flock(fd, LOCK_SH | LOCK_NB)));
	uck("flock.other_sh_shared", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_SH | LOCK_NB));
	uck("flock.other_ex_shared", &ID_ROOT, u_flock, A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.unlock", SYS(flock(fd, LOCK_UN)));
	uck("flock.other_ex_after_unlock", &ID_ROOT, u_flock,
	    A(.p = "lk/f", .n = LOCK_EX | LOCK_NB));
	ck("flock.bad_op", SYS(flock(fd, 0)));
	ro = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("flock.posix_independent", setlk(ro, F_SETLK, F_WRLCK, 0, 0));
	if (ro >= 0)
		close(ro);
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);

	/* open file description locks */
	fd = open("lk/f", O_RDWR | O_CLOEXEC);
	fd2 = open("lk/f", O_RDWR | O_CLOEXEC);
	ck("ofd.write", setlk(fd, F_OFD_SETLK, F_WRLCK, 0, 0));
	ck("ofd.same_process_conflict", setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 1));
	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET };
	ck("ofd.getlk", SYS(fcntl(fd2, F_OFD_GETLK, &fl)));
	emit("ofd.getlk_result", "type=%s start=%lld len=%lld pid=%d", fmt_lock_type(fl.l_type),
	     (long long)fl.l_start, (long long)fl.l_len, fl.l_pid);
	ck("ofd.posix_same_process_conflict", setlk(fd2, F_SETLK, F_RDLCK, 0, 1));
	uck("ofd.other_process", &ID_ROOT, u_setlk, A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 1));
	uck("ofd.other_getlk", &ID_ROOT, u_getlk, A(.p = "lk/f", .n = F_RDLCK, .m = 0, .f = 0));
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1 };
	ck("ofd.nonzero_pid", SYS(fcntl(fd2, F_OFD_SETLK, &fl)));
	if (fd >= 0)
		close(fd);
	ck("ofd.after_close", setlk(fd2, F_OFD_SETLK, F_WRLCK, 0, 0));
	if (fd2 >= 0)
		close(fd2);
}

/* --- open but unlinked ---------------------------------------------------------------------- */

void check_unlinked(void)
{
	char buf[64], pp[64];
	struct stat st;
	int fd, fd2, dfd;
	ssize_t n;

	mkdirm("un", 0755);
	fd = open("un/f", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	ck("unlinked.write_before", fd < 0 ? -errno : neg_errno(write(fd, "before", 6)));
	ck("unlinked.unlink", SYS(unlink("un/f")));
	emit("unlinked.fstat", "%s", fmt_fstat(fd));
	show("unlinked.stat_name", "un/f");
	emit("unlinked.listing", "%s", list_dir("un"));
	ck("unlinked.write_after", neg_errno(write(fd, " after", 6)));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.read", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	ck("unlinked.fsync", SYS(fsync(fd)));
	ck("unlinked.ftruncate", SYS(ftruncate(fd, 3)));
	emit("unlinked.ftruncate_stat", "%s", fmt_fstat(fd));
	n = pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.ftruncate_read", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	ck("unlinked.fchmod", SYS(fchmod(fd, 0600)));
	emit("unlinked.fchmod_stat", "%s", fmt_fstat(fd));
	ck("unlinked.fchown", SYS(fchown(fd, 65534, 65532)));
	emit("unlinked.fchown_stat", "%s", fmt_fstat(fd));
	ck("unlinked.futimens", SYS(futimens(fd, (struct timespec[2]){ { OLD_SEC, 5 },
								      { OLD_SEC + 2, 6 } })));
	if (fstat(fd, &st) == 0)
		emit("unlinked.futimens_times", "a=%s m=%s",
		     is_same_time(st.st_atim, make_ts(OLD_SEC, 5)) ? "set" : "other",
		     is_same_time(st.st_mtim, make_ts(OLD_SEC + 2, 6)) ? "set" : "other");
	else
		emit("unlinked.futimens_times", "%s", fmt_result(-errno));
	ck("unlinked.fsetxattr", SYS(fsetxattr(fd, "user.u", "gone", 4, 0)));
	n = fgetxattr(fd, "user.u", buf, sizeof(buf));
	emit("unlinked.fgetxattr", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	ck("unlinked.fallocate", SYS(fallocate(fd, 0, 0, 8192)));
	emit("unlinked.fallocate_stat", "%s", fmt_fstat(fd));
	snprintf(pp, sizeof(pp), "/proc/self/fd/%d", fd);
	fd2 = open(pp, O_RDONLY | O_CLOEXEC);
	n = fd2 < 0 ? -1 : pread(fd2, buf, 3, 0);
	emit("unlinked.reopen_proc", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	if (fd2 >= 0)
		close(fd2);
	ck("unlinked.linkat", SYS(linkat(fd, "", AT_FDCWD, "un/back", AT_EMPTY_PATH)));
	ck("unlinked.linkat_proc", SYS(linkat(AT_FDCWD, pp, AT_FDCWD, "un/back",
					      AT_SYMLINK_FOLLOW)));
	if (fd >= 0)
		close(fd);

	/* a new file under the old name is a different file */
	mkfile("un/g", 0644, "old");
	fd = open("un/g", O_RDONLY | O_CLOEXEC);
	setup("un/g", SYS(unlink("un/g")));
	mkfile("un/g", 0640, "new");
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.name_reused_old", "%s %s",
	     n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n), fmt_fstat(fd));
	emit("unlinked.name_reused_new", "%s %s", read_content("un/g"), fmt_lstat("un/g"));
	if (fd >= 0)
		close(fd);

	/* rename over an open file */
	mkfile("un/h", 0644, "h-old");
	mkfile("un/h2", 0644, "h-new");
	fd = open("un/h", O_RDWR | O_CLOEXEC);
	ck("unlinked.rename_over", SYS(rename("un/h2", "un/h")));
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	emit("unlinked.rename_over_old", "%s %s",
	     n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n), fmt_fstat(fd));
	ck("unlinked.rename_over_write_old", fd < 0 ? -EBADF : neg_errno(pwrite(fd, "X", 1, 0)));
	emit("unlinked.rename_over_new", "%s", read_content("un/h"));
	if (fd >= 0)
		close(fd);

	/* the last of two links goes while open */
	mkfile("un/k", 0644, "k");
	setup("un/k2", SYS(link("un/k", "un/k2")));
	fd = open("un/k", O_RDWR | O_CLOEXEC);
	setup("un/k", SYS(unlink("un/k")));
	emit("unlinked.one_of_two", "%s", fmt_fstat(fd));
	setup("un/k2", SYS(unlink("un/k2")));
	emit("unlinked.none_of_two", "%s", fmt_fstat(fd));
	ck("unlinked.none_of_two_write", fd < 0 ? -EBADF : neg_errno(pwrite(fd, "kk", 2, 1)));
	emit("unlinked.none_of_two_stat", "%s", fmt_fstat(fd));
	if (fd >= 0)
		close(fd);
	emit("unlinked.final_listing", "%s", list_dir("un"));

	/* a removed directory still open */
	mkdirm("un/d", 0755);
	dfd = open("un/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("unlinked.rmdir_open", SYS(rmdir("un/d")));
	emit("unlinked.dir_fstat", "%s", fmt_fstat(dfd));
	fd = dfd < 0 ? -1 : openat(dfd, "x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	ck("unlinked.dir_create", fd < 0 ? -errno : 0);
	if (fd >= 0)
		close(fd);
	ck("unlinked.dir_mkdir", SYS(mkdirat(dfd, "x", 0755)));
	{
		DIR *d = dfd < 0 ? NULL : fdopendir(dup(dfd));
		char out[256];

		emit("unlinked.dir_readdir", "%s",
		     d ? fmt_result(list_stream(d, out, sizeof(out))) : fmt_result(-errno));
		if (d)
			closedir(d);
	}
	if (dfd >= 0)
		close(dfd);
}

