/*
 * Checks of a file's attributes: lookup and stat, chmod, chown, truncate, utimensat and
 * statvfs, for root and for other users, including which changes clear the set-ID bits and
 * which touch ctime and mtime. Each group works in its own subdirectory.
 */
#include "conform.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* --- lookup and stat ----------------------------------------------------------------------- */

void check_stat(void)
{
	struct stat st;
	int fd;

	mkdirm("stat", 0755);
	mkfile("stat/f", 0644, "hello");
	mkdirm("stat/d", 0755);
	slink("f", "stat/l");
	slink("d", "stat/ld");
	slink("nowhere", "stat/dangling");
	slink("loop2", "stat/loop1");
	slink("loop1", "stat/loop2");
	setup("stat/p", SYS(mkfifo("stat/p", 0644)));
	setup("stat/p", SYS(chmod("stat/p", 0640)));

	show("stat.file", "stat/f");
	show("stat.dir", "stat/d");
	show("stat.symlink", "stat/l");
	emit("stat.symlink_follow", "%s", fmt_stat_follow("stat/l"));
	emit("stat.symlink_dir_follow", "%s", fmt_stat_follow("stat/ld"));
	show("stat.symlink_dir_slash", "stat/ld/");
	show("stat.symlink_file_slash", "stat/l/");
	show("stat.fifo", "stat/p");
	show("stat.dangling", "stat/dangling");
	emit("stat.dangling_follow", "%s", fmt_stat_follow("stat/dangling"));
	emit("stat.loop_follow", "%s", fmt_stat_follow("stat/loop1"));
	show("stat.loop_nofollow", "stat/loop1");
	show("stat.missing", "stat/missing");
	show("stat.missing_in_missing", "stat/missing/x");
	show("stat.file_slash", "stat/f/");
	show("stat.through_file", "stat/f/x");
	show("stat.dotdot", "stat/d/../f");
	show("stat.dot", "stat/d/.");
	show("stat.empty_path", "");
	show("stat.dir_slashes", "stat//d//");
	emit("stat.dotdot_is_parent", "%s", compare_files("stat/d/..", "stat"));
	emit("stat.dir_link_dotdot", "%s", compare_files("stat/ld/..", "stat"));
	fd = open("stat/f", O_RDONLY | O_CLOEXEC);
	emit("stat.fstat", "%s", fmt_fstat(fd));
	emit("stat.fstatat_empty", "%s",
	     fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ? fmt_result(-errno) : fmt_stat(&st));
	emit("stat.fstatat_empty_noflag", "%s",
	     fstatat(fd, "", &st, 0) < 0 ? fmt_result(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	fd = open("stat/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	emit("stat.opath_symlink", "%s",
	     fstatat(fd, "", &st, AT_EMPTY_PATH) < 0 ? fmt_result(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	fd = open("stat/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	emit("stat.fstatat_dirfd", "%s",
	     fstatat(fd, "../f", &st, 0) < 0 ? fmt_result(-errno) : fmt_stat(&st));
	if (fd >= 0)
		close(fd);
	uck("stat.nobody_file", &ID_NOBODY, u_stat, A(.p = "stat/f"));
	uck("stat.nobody_dir", &ID_NOBODY, u_stat, A(.p = "stat/d"));
}

/* --- chmod ---------------------------------------------------------------------------------- */

void check_chmod(void)
{
	static const mode_t modes[] = { 0, 0400, 0644, 0755, 0777, 01755, 02755, 04755, 06755,
					07777 };
	char name[64];
	struct tsnap s;
	int fd;

	mkdirm("chmod", 0777);
	mkfile("chmod/f", 0644, "x");
	mkdirm("chmod/d", 0755);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(name, sizeof(name), "chmod.file_%04o", (unsigned)modes[i]);
		ck_show(name, SYS(chmod("chmod/f", modes[i])), "chmod/f");
		snprintf(name, sizeof(name), "chmod.dir_%04o", (unsigned)modes[i]);
		ck_show(name, SYS(chmod("chmod/d", modes[i])), "chmod/d");
	}
	setup("chmod/d", SYS(chmod("chmod/d", 0755)));
	slink("f", "chmod/l");
	ck_show("chmod.via_symlink", SYS(chmod("chmod/l", 0600)), "chmod/f");
	show("chmod.via_symlink_link", "chmod/l");
	ck_show("chmod.symlink_nofollow",
		SYS(fchmodat(AT_FDCWD, "chmod/l", 0644, AT_SYMLINK_NOFOLLOW)), "chmod/l");
	ck("chmod.missing", SYS(chmod("chmod/missing", 0644)));
	ck("chmod.through_file", SYS(chmod("chmod/f/x", 0644)));
	fd = open("chmod/f", O_RDONLY | O_CLOEXEC);
	ck_show("chmod.fchmod", SYS(fchmod(fd, 0604)), "chmod/f");
	if (fd >= 0)
		close(fd);
	s = snap("chmod/f");
	setup("chmod/f", SYS(chmod("chmod/f", 0640)));
	emit("chmod.times", "%s", compare_times("chmod/f", &s));

	/* as other users */
	mkfile("chmod/nb", 0644, "x");
	own("chmod/nb", ID_NOBODY.uid, 0);
	mkfile("chmod/u2", 0644, "x");
	own("chmod/u2", ID_U2.uid, GID_SHARED);
	uck_show("chmod.nonowner", &ID_NOBODY, u_chmod, A(.p = "chmod/f", .n = 0777), "chmod/f");
	uck_show("chmod.nonowner_u2", &ID_U2, u_chmod, A(.p = "chmod/nb", .n = 0777), "chmod/nb");
	uck_show("chmod.owner", &ID_NOBODY, u_chmod, A(.p = "chmod/nb", .n = 0600), "chmod/nb");
	uck_show("chmod.owner_setuid", &ID_NOBODY, u_chmod, A(.p = "chmod/nb", .n = 04755),
		 "chmod/nb");
	uck_show("chmod.owner_sgid_nonmember", &ID_NOBODY, u_chmod,
		 A(.p = "chmod/nb", .n = 02755), "chmod/nb");
	uck_show("chmod.owner_sgid_member", &ID_U2, u_chmod, A(.p = "chmod/u2", .n = 02755),
		 "chmod/u2");
	uck_show("chmod.owner_sticky_file", &ID_U2, u_chmod, A(.p = "chmod/u2", .n = 01644),
		 "chmod/u2");
	own("chmod/u2", ID_U2.uid, 0);
	uck_show("chmod.owner_sgid_after_chgrp", &ID_U2, u_chmod,
		 A(.p = "chmod/u2", .n = 02770), "chmod/u2");
	setup("chmod/f", SYS(chmod("chmod/f", 0644)));
	ck_show("chmod.root_others_file", SYS(chmod("chmod/nb", 0640)), "chmod/nb");
}

/* --- chown ---------------------------------------------------------------------------------- */

void check_chown(void)
{
	struct tsnap s;
	int fd;

	mkdirm("chown", 0777);
	mkfile("chown/f", 0644, "x");
	ck_show("chown.root", SYS(chown("chown/f", 65534, 65534)), "chown/f");
	ck_show("chown.uid_only", SYS(chown("chown/f", 65533, (gid_t)-1)), "chown/f");
	ck_show("chown.gid_only", SYS(chown("chown/f", (uid_t)-1, 65532)), "chown/f");
	ck_show("chown.noop", SYS(chown("chown/f", (uid_t)-1, (gid_t)-1)), "chown/f");
	ck_show("chown.back_to_root", SYS(chown("chown/f", 0, 0)), "chown/f");
	ck("chown.missing", SYS(chown("chown/missing", 0, 0)));
	slink("f", "chown/l");
	ck_show("chown.follow", SYS(chown("chown/l", 65534, 65534)), "chown/f");
	show("chown.follow_link", "chown/l");
	ck_show("chown.lchown", SYS(lchown("chown/l", 65533, 65533)), "chown/l");
	show("chown.lchown_target", "chown/f");
	fd = open("chown/f", O_RDONLY | O_CLOEXEC);
	ck_show("chown.fchown", SYS(fchown(fd, 0, 65532)), "chown/f");
	if (fd >= 0)
		close(fd);
	mkdirm("chown/d", 0755);
	ck_show("chown.dir", SYS(chown("chown/d", 65534, 65532)), "chown/d");
	s = snap("chown/f");
	setup("chown/f", SYS(chown("chown/f", 65534, 0)));
	emit("chown.times", "%s", compare_times("chown/f", &s));

	/* set-id bits */
	mkfile("chown/suid", 06755, "x");
	ck_show("chown.root_clears_setid", SYS(chown("chown/suid", 65534, 65534)), "chown/suid");
	setup("chown/suid", SYS(chmod("chown/suid", 06755)));
	ck_show("chown.root_noop_setid", SYS(chown("chown/suid", (uid_t)-1, (gid_t)-1)),
		"chown/suid");
	mkfile("chown/sgid_nox", 02644, "x");
	ck_show("chown.root_sgid_no_group_x", SYS(chown("chown/sgid_nox", 65533, 65533)),
		"chown/sgid_nox");
	mkfile("chown/sgid_x", 02755, "x");
	ck_show("chown.root_sgid_group_x", SYS(chown("chown/sgid_x", 65533, 65533)),
		"chown/sgid_x");
	mkdirm("chown/sd", 06755);
	ck_show("chown.root_dir_keeps_setid", SYS(chown("chown/sd", 65533, 65533)), "chown/sd");

	/* as other users */
	mkfile("chown/u2", 06755, "x");
	own("chown/u2", ID_U2.uid, ID_U2.gid);
	setup("chown/u2", SYS(chmod("chown/u2", 06755)));
	uck_show("chown.owner_chgrp_member", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = GID_SHARED), "chown/u2");
	setup("chown/u2", SYS(chmod("chown/u2", 0644)));
	uck_show("chown.owner_chgrp_nonmember", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = 65534), "chown/u2");
	uck_show("chown.owner_give_away", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = 65534, .m = -1), "chown/u2");
	uck_show("chown.owner_same_uid", &ID_U2, u_chown,
		 A(.p = "chown/u2", .n = ID_U2.uid, .m = -1), "chown/u2");
	uck_show("chown.owner_noop", &ID_U2, u_chown, A(.p = "chown/u2", .n = -1, .m = -1),
		 "chown/u2");
	uck_show("chown.nonowner", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = 65534, .m = 65534), "chown/u2");
	uck_show("chown.nonowner_noop", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = -1), "chown/u2");
	uck_show("chown.nonowner_chgrp", &ID_NOBODY, u_chown,
		 A(.p = "chown/u2", .n = -1, .m = 65534), "chown/u2");
	slink("u2", "chown/lu2");
	own("chown/lu2", ID_U2.uid, ID_U2.gid);
	uck_show("chown.owner_lchown_member", &ID_U2, u_chown,
		 A(.p = "chown/lu2", .n = -1, .m = GID_SHARED, .f = AT_SYMLINK_NOFOLLOW),
		 "chown/lu2");
	uck_show("chown.nonowner_lchown", &ID_NOBODY, u_chown,
		 A(.p = "chown/lu2", .n = -1, .m = 65534, .f = AT_SYMLINK_NOFOLLOW), "chown/lu2");
}

/* --- truncate ------------------------------------------------------------------------------- */

void check_truncate(void)
{
	struct tsnap s;
	int fd;

	mkdirm("trunc", 0777);
	mkfile("trunc/f", 0644, "abcdef");
	ck_show("truncate.shrink", SYS(truncate("trunc/f", 3)), "trunc/f");
	emit("truncate.shrink_content", "%s", read_content("trunc/f"));
	ck_show("truncate.grow", SYS(truncate("trunc/f", 10)), "trunc/f");
	emit("truncate.grow_content", "%s", read_content("trunc/f"));
	ck_show("truncate.big", SYS(truncate("trunc/f", 1L << 32)), "trunc/f");
	ck_show("truncate.zero", SYS(truncate("trunc/f", 0)), "trunc/f");
	ck("truncate.negative", SYS(truncate("trunc/f", -1)));
	mkdirm("trunc/d", 0755);
	ck("truncate.dir", SYS(truncate("trunc/d", 0)));
	ck("truncate.missing", SYS(truncate("trunc/missing", 0)));
	ck("truncate.through_file", SYS(truncate("trunc/f/x", 0)));
	slink("f", "trunc/l");
	ck_show("truncate.via_symlink", SYS(truncate("trunc/l", 5)), "trunc/f");
	setup("trunc/p", SYS(mkfifo("trunc/p", 0666)));
	ck("truncate.fifo", SYS(truncate("trunc/p", 0)));

	fd = open("trunc/f", O_RDONLY | O_CLOEXEC);
	ck("ftruncate.rdonly", SYS(ftruncate(fd, 0)));
	if (fd >= 0)
		close(fd);
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	ck_show("ftruncate.wronly", SYS(ftruncate(fd, 7)), "trunc/f");
	ck("ftruncate.negative", SYS(ftruncate(fd, -5)));
	if (fd >= 0)
		close(fd);
	fd = open("trunc/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck("ftruncate.dir", SYS(ftruncate(fd, 0)));
	if (fd >= 0)
		close(fd);

	/* timestamps: a size change updates both; the same size is the interesting edge */
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	setup("trunc/f", SYS(truncate("trunc/f", 2)));
	emit("truncate.times_shrink", "%s", compare_times("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	setup("trunc/f", SYS(truncate("trunc/f", 2)));
	emit("truncate.times_same_size", "%s", compare_times("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	setup("trunc/f", SYS(ftruncate(fd, 2)));
	if (fd >= 0)
		close(fd);
	emit("ftruncate.times_same_size", "%s", compare_times("trunc/f", &s));
	set_times("trunc/f", OLD_SEC, OLD_SEC);
	s = snap("trunc/f");
	fd = open("trunc/f", O_WRONLY | O_CLOEXEC);
	setup("trunc/f", SYS(ftruncate(fd, 9)));
	if (fd >= 0)
		close(fd);
	emit("ftruncate.times_grow", "%s", compare_times("trunc/f", &s));

	/* as other users */
	mkfile("trunc/ro", 0644, "abcdef");
	mkfile("trunc/rw", 0666, "abcdef");
	mkfile("trunc/suid", 06777, "abcdef");
	mkfile("trunc/sgid_nox", 02666, "abcdef");
	uck_show("truncate.nonowner_nowrite", &ID_NOBODY, u_truncate, A(.p = "trunc/ro", .n = 1),
		 "trunc/ro");
	uck_show("truncate.nonowner_write", &ID_NOBODY, u_truncate, A(.p = "trunc/rw", .n = 1),
		 "trunc/rw");
	uck_show("ftruncate.nonowner_rdonly_fd", &ID_NOBODY, u_ftruncate,
		 A(.p = "trunc/ro", .n = 1, .m = O_RDONLY), "trunc/ro");
	uck_show("truncate.nonowner_clears_setid", &ID_NOBODY, u_truncate,
		 A(.p = "trunc/suid", .n = 2), "trunc/suid");
	setup("trunc/suid", SYS(chmod("trunc/suid", 06777)));
	uck_show("ftruncate.nonowner_clears_setid", &ID_NOBODY, u_ftruncate,
		 A(.p = "trunc/suid", .n = 1, .m = O_WRONLY), "trunc/suid");
	uck_show("truncate.nonowner_sgid_no_group_x", &ID_NOBODY, u_truncate,
		 A(.p = "trunc/sgid_nox", .n = 1), "trunc/sgid_nox");
	setup("trunc/suid", SYS(chmod("trunc/suid", 06777)));
	ck_show("truncate.root_keeps_setid", SYS(truncate("trunc/suid", 0)), "trunc/suid");
	mkdirm("trunc/closed", 0700);
	mkfile("trunc/closed/f", 0666, "abc");
	uck("truncate.no_search", &ID_NOBODY, u_truncate, A(.p = "trunc/closed/f", .n = 0));
}

/* --- utimensat ------------------------------------------------------------------------------ */

void check_utimens(void)
{
	struct timespec at = make_ts(OLD_SEC, 123456789), mt = make_ts(OLD_SEC + 1000, 500000000);
	struct timespec t2[2];
	struct tsnap s;
	int fd;

	mkdirm("utime", 0777);
	mkfile("utime/f", 0644, "x");
	t2[0] = at;
	t2[1] = mt;
	ck("utimens.explicit", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.explicit_times", "%s", fmt_times("utime/f", at, mt));
	s = snap("utime/f");
	t2[0] = make_ts(0, UTIME_OMIT);
	t2[1] = make_ts(0, UTIME_OMIT);
	ck("utimens.omit_both", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.omit_both_times", "%s %s", fmt_times("utime/f", at, mt),
	     compare_times("utime/f", &s));
	t2[0] = make_ts(0, UTIME_OMIT);
	t2[1] = make_ts(OLD_SEC + 5, 0);
	ck("utimens.omit_atime", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.omit_atime_times", "%s", fmt_times("utime/f", at, t2[1]));
	t2[0] = make_ts(0, UTIME_NOW);
	t2[1] = make_ts(0, UTIME_OMIT);
	ck("utimens.now_atime", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.now_atime_times", "%s", fmt_times("utime/f", at, make_ts(OLD_SEC + 5, 0)));
	t2[0] = make_ts(0, UTIME_NOW);
	t2[1] = make_ts(0, UTIME_NOW);
	ck("utimens.now_both", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.now_both_times", "%s", fmt_times("utime/f", at, mt));
	set_times("utime/f", OLD_SEC, OLD_SEC);
	ck("utimens.null", SYS(utimensat(AT_FDCWD, "utime/f", NULL, 0)));
	emit("utimens.null_times", "%s", fmt_times("utime/f", at, mt));
	t2[0] = make_ts(0, 0);
	t2[1] = make_ts(-1000, 1);
	ck("utimens.epoch_and_before", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.epoch_and_before_times", "%s", fmt_times("utime/f", t2[0], t2[1]));
	t2[0] = make_ts(8589934592L, 999999999);
	t2[1] = make_ts(4000000000L, 0);
	ck("utimens.far_future", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	emit("utimens.far_future_times", "%s", fmt_times("utime/f", t2[0], t2[1]));
	t2[0] = make_ts(OLD_SEC, 1000000000);
	t2[1] = make_ts(OLD_SEC, 0);
	ck("utimens.bad_nsec", SYS(utimensat(AT_FDCWD, "utime/f", t2, 0)));
	ck("utimens.missing", SYS(utimensat(AT_FDCWD, "utime/missing", NULL, 0)));
	ck("utimens.bad_flags", SYS(utimensat(AT_FDCWD, "utime/f", NULL, 0x4000)));

	slink("f", "utime/l");
	t2[0] = at;
	t2[1] = mt;
	set_times("utime/f", OLD_SEC, OLD_SEC);
	ck("utimens.symlink_nofollow",
	   SYS(utimensat(AT_FDCWD, "utime/l", t2, AT_SYMLINK_NOFOLLOW)));
	emit("utimens.symlink_nofollow_link", "%s", fmt_times("utime/l", at, mt));
	emit("utimens.symlink_nofollow_target", "%s",
	     fmt_times("utime/f", make_ts(OLD_SEC, 0), make_ts(OLD_SEC, 0)));
	ck("utimens.symlink_follow", SYS(utimensat(AT_FDCWD, "utime/l", t2, 0)));
	emit("utimens.symlink_follow_target", "%s", fmt_times("utime/f", at, mt));
	mkdirm("utime/d", 0755);
	ck("utimens.dir", SYS(utimensat(AT_FDCWD, "utime/d", t2, 0)));
	emit("utimens.dir_times", "%s", fmt_times("utime/d", at, mt));
	fd = open("utime/f", O_RDONLY | O_CLOEXEC);
	t2[1] = make_ts(OLD_SEC + 7, 7);
	ck("utimens.futimens", SYS(futimens(fd, t2)));
	emit("utimens.futimens_times", "%s", fmt_times("utime/f", at, t2[1]));
	if (fd >= 0)
		close(fd);

	/* as other users: writers may touch, only owners may set */
	mkfile("utime/rw", 0666, "x");
	mkfile("utime/ro", 0644, "x");
	mkfile("utime/nb", 0600, "x");
	own("utime/nb", ID_NOBODY.uid, ID_NOBODY.gid);
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_null", &ID_NOBODY, u_utimens, A(.p = "utime/rw", .n = 1));
	emit("utimens.writer_null_times", "%s", fmt_times("utime/rw", at, mt));
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_now", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_NOW }, { 0, UTIME_NOW } }));
	emit("utimens.writer_now_times", "%s", fmt_times("utime/rw", at, mt));
	set_times("utime/rw", OLD_SEC, OLD_SEC);
	uck("utimens.writer_now_omit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_NOW }, { 0, UTIME_OMIT } }));
	emit("utimens.writer_now_omit_times", "%s",
	     fmt_times("utime/rw", make_ts(OLD_SEC, 0), make_ts(OLD_SEC, 0)));
	uck("utimens.writer_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { OLD_SEC + 3, 0 }, { OLD_SEC + 3, 0 } }));
	emit("utimens.writer_explicit_times", "%s",
	     fmt_times("utime/rw", make_ts(OLD_SEC, 0), make_ts(OLD_SEC, 0)));
	uck("utimens.writer_omit_both", &ID_NOBODY, u_utimens,
	    A(.p = "utime/rw", .ts = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } }));
	uck("utimens.reader_null", &ID_NOBODY, u_utimens, A(.p = "utime/ro", .n = 1));
	uck("utimens.reader_now", &ID_NOBODY, u_utimens,
	    A(.p = "utime/ro", .ts = { { 0, UTIME_NOW }, { 0, UTIME_NOW } }));
	uck("utimens.reader_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/ro", .ts = { { OLD_SEC, 0 }, { OLD_SEC, 0 } }));
	uck("utimens.owner_explicit", &ID_NOBODY, u_utimens,
	    A(.p = "utime/nb", .ts = { { OLD_SEC + 9, 0 }, { OLD_SEC + 8, 0 } }));
	emit("utimens.owner_explicit_times", "%s",
	     fmt_times("utime/nb", make_ts(OLD_SEC + 9, 0), make_ts(OLD_SEC + 8, 0)));
	set_times("utime/nb", OLD_SEC, OLD_SEC);
	uck("utimens.owner_null_noperm", &ID_NOBODY, u_utimens, A(.p = "utime/nb", .n = 1));
	emit("utimens.owner_null_noperm_times", "%s", fmt_times("utime/nb", at, mt));
	t2[0] = make_ts(OLD_SEC + 11, 0);
	t2[1] = make_ts(OLD_SEC + 12, 0);
	ck("utimens.root_others", SYS(utimensat(AT_FDCWD, "utime/nb", t2, 0)));
	emit("utimens.root_others_times", "%s", fmt_times("utime/nb", t2[0], t2[1]));
}

/* --- statvfs -------------------------------------------------------------------------------- */

static const char *fmt_statvfs(int r, const struct statvfs *sv)
{
	char *b = take_buf();

	if (r < 0)
		return fmt_result(r);
	snprintf(b, RING_SIZE, "bsize=%lu frsize=%lu namemax=%lu blocks=%s files=%s "
		 "bavail<=bfree=%s favail<=ffree=%s rdonly=%s", sv->f_bsize, sv->f_frsize,
		 sv->f_namemax, sv->f_blocks > 0 ? "some" : "none",
		 sv->f_files > 0 ? "some" : "none", sv->f_bavail <= sv->f_bfree ? "yes" : "no",
		 sv->f_favail <= sv->f_ffree ? "yes" : "no",
		 (sv->f_flag & ST_RDONLY) ? "yes" : "no");
	return b;
}

void check_statvfs(void)
{
	struct statvfs sv;
	int fd;

	mkdirm("sv", 0755);
	mkfile("sv/f", 0644, NULL);
	emit("statvfs.dir", "%s", fmt_statvfs(SYS(statvfs("sv", &sv)), &sv));
	emit("statvfs.file", "%s", fmt_statvfs(SYS(statvfs("sv/f", &sv)), &sv));
	fd = open("sv/f", O_RDONLY | O_CLOEXEC);
	emit("statvfs.fstatvfs", "%s", fmt_statvfs(SYS(fstatvfs(fd, &sv)), &sv));
	if (fd >= 0)
		close(fd);
	ck("statvfs.missing", SYS(statvfs("sv/none", &sv)));
	ck("statvfs.through_file", SYS(statvfs("sv/f/x", &sv)));
}

