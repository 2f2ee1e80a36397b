/*
 * Checks of the namespace: readdir, mkdir and rmdir, unlink, rename and renameat2, link,
 * symlink and readlink, mknod with fifos and sockets, name and path length limits, and names
 * reused over and over for new files. Each group works in its own subdirectory.
 */
#include "conform.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* --- readdir -------------------------------------------------------------------------------- */

void check_readdir(void)
{
	char name[64], a[RING_SIZE], b[RING_SIZE];
	struct dirent *de;
	long pos = -1;
	int n = 0;
	DIR *d;

	mkdirm("rd", 0755);
	emit("readdir.empty", "%s", list_dir("rd"));
	mkfile("rd/f", 0644, "x");
	mkdirm("rd/d", 0755);
	slink("f", "rd/l");
	setup("rd/p", SYS(mkfifo("rd/p", 0644)));
	setup("rd/s", SYS(mknod("rd/s", S_IFSOCK | 0644, 0)));
	setup("rd/c", SYS(mknod("rd/c", S_IFCHR | 0644, makedev(1, 3))));
	setup("rd/b", SYS(mknod("rd/b", S_IFBLK | 0644, makedev(7, 0))));
	mkfile("rd/.hidden", 0644, NULL);
	emit("readdir.types", "%s", list_dir("rd"));
	emit("readdir.subdir", "%s", list_dir("rd/d"));
	emit("readdir.via_symlink", "%s", list_dir("rd/l"));
	slink("d", "rd/ld");
	emit("readdir.via_dir_symlink", "%s", list_dir("rd/ld"));
	emit("readdir.missing", "%s", list_dir("rd/missing"));
	setup("rd/f", SYS(unlink("rd/f")));
	setup("rd/l", SYS(unlink("rd/l")));
	setup("rd/ld", SYS(unlink("rd/ld")));
	emit("readdir.after_unlink", "%s", list_dir("rd"));

	mkdirm("rd/many", 0755);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "rd/many/entry-%03d-%s", i,
			 i % 3 == 0 ? "a-rather-long-name-to-fill-the-buffer" : "x");
		mkfile(name, 0644, NULL);
	}
	emit("readdir.many", "%s", list_dir("rd/many"));
	/* telldir/seekdir: the rest of the stream read twice is the same */
	d = opendir("rd/many");
	while (d && (de = readdir(d))) {
		if (++n == 100) {
			pos = telldir(d);
			break;
		}
	}
	if (d && pos >= 0) {
		int r1 = list_stream(d, a, sizeof(a)), r2;

		seekdir(d, pos);
		r2 = list_stream(d, b, sizeof(b));
		emit("readdir.seekdir", "%s %s", fmt_result(r1), r1 == r2 && strcmp(a, b) == 0 ?
		     "same" : "different");
		rewinddir(d);
		emit("readdir.rewind", "%s", fmt_result(list_stream(d, a, sizeof(a))));
	} else {
		emit("readdir.seekdir", "%s", fmt_result(-errno));
		emit("readdir.rewind", "%s", fmt_result(-errno));
	}
	if (d)
		closedir(d);
	for (int i = 0; i < 300; i += 2) {
		snprintf(name, sizeof(name), "rd/many/entry-%03d-%s", i,
			 i % 3 == 0 ? "a-rather-long-name-to-fill-the-buffer" : "x");
		setup(name, SYS(unlink(name)));
	}
	emit("readdir.many_after_unlink", "%s", list_dir("rd/many"));
	/* a stream opened before a change, rewound, sees the change */
	d = opendir("rd/d");
	mkfile("rd/d/new", 0644, NULL);
	if (d) {
		rewinddir(d);
		emit("readdir.rewind_sees_new", "%s",
		     list_stream(d, a, sizeof(a)) < 0 ? fmt_result(-errno) : a);
		closedir(d);
	} else {
		emit("readdir.rewind_sees_new", "%s", fmt_result(-errno));
	}
	mkfile("rd/file", 0644, NULL);
	emit("readdir.not_dir", "%s",
	     fmt_result(open("rd/file", O_RDONLY | O_DIRECTORY) < 0 ? -errno : 0));

	/* permissions */
	mkdirm("rd/x_only", 0711);
	mkfile("rd/x_only/f", 0644, "x");
	mkdirm("rd/r_only", 0744);
	mkfile("rd/r_only/f", 0644, "x");
	uck("readdir.nobody_x_only", &ID_NOBODY, u_readdir, A(.p = "rd/x_only"));
	uck("readdir.nobody_x_only_stat", &ID_NOBODY, u_stat, A(.p = "rd/x_only/f"));
	uck("readdir.nobody_r_only", &ID_NOBODY, u_readdir, A(.p = "rd/r_only"));
	uck("readdir.nobody_r_only_stat", &ID_NOBODY, u_stat, A(.p = "rd/r_only/f"));
	uck("readdir.nobody_types", &ID_NOBODY, u_readdir, A(.p = "rd"));
	emit("readdir.root_x_only", "%s", list_dir("rd/x_only"));
}

/* --- mkdir and rmdir ------------------------------------------------------------------------ */

void check_mkdir(void)
{
	struct tsnap s;

	mkdirm("mk", 0777);
	ck_show("mkdir.new", SYS(mkdir("mk/a", 0777)), "mk/a");
	show("mkdir.parent_nlink", "mk");
	ck_show("mkdir.mode_0", SYS(mkdir("mk/m0", 0)), "mk/m0");
	ck_show("mkdir.mode_sticky", SYS(mkdir("mk/m1", 01777)), "mk/m1");
	ck_show("mkdir.mode_setid", SYS(mkdir("mk/m2", 07777)), "mk/m2");
	ck_show("mkdir.trailing_slash", SYS(mkdir("mk/b/", 0755)), "mk/b");
	ck("mkdir.existing", SYS(mkdir("mk/a", 0755)));
	mkfile("mk/f", 0644, NULL);
	ck("mkdir.over_file", SYS(mkdir("mk/f", 0755)));
	slink("a", "mk/l");
	slink("nowhere", "mk/dangling");
	ck("mkdir.over_symlink", SYS(mkdir("mk/l", 0755)));
	ck("mkdir.over_dangling", SYS(mkdir("mk/dangling", 0755)));
	show("mkdir.over_dangling_result", "mk/nowhere");
	ck("mkdir.missing_parent", SYS(mkdir("mk/missing/x", 0755)));
	ck("mkdir.through_file", SYS(mkdir("mk/f/x", 0755)));
	ck("mkdir.dot", SYS(mkdir("mk/a/.", 0755)));
	ck("mkdir.dotdot", SYS(mkdir("mk/a/..", 0755)));
	ck("mkdir.empty", SYS(mkdir("", 0755)));
	ck_show("mkdir.nested", SYS(mkdir("mk/a/sub", 0750)), "mk/a");
	set_times("mk/a", OLD_SEC, OLD_SEC);
	s = snap("mk/a");
	setup("mk/a/sub2", SYS(mkdir("mk/a/sub2", 0755)));
	emit("mkdir.parent_times", "%s", compare_times("mk/a", &s));

	ck("rmdir.not_empty", SYS(rmdir("mk/a")));
	ck("rmdir.file", SYS(rmdir("mk/f")));
	ck("rmdir.symlink_to_dir", SYS(rmdir("mk/l")));
	ck("rmdir.dot", SYS(rmdir("mk/a/sub/.")));
	ck("rmdir.dotdot", SYS(rmdir("mk/a/sub/..")));
	ck("rmdir.cwd_dot", SYS(rmdir(".")));
	ck("rmdir.missing", SYS(rmdir("mk/missing")));
	ck("rmdir.through_file", SYS(rmdir("mk/f/x")));
	set_times("mk/a", OLD_SEC, OLD_SEC);
	s = snap("mk/a");
	ck_show("rmdir.empty", SYS(rmdir("mk/a/sub")), "mk/a/sub");
	emit("rmdir.parent_times", "%s", compare_times("mk/a", &s));
	show("rmdir.parent_nlink", "mk/a");
	ck_show("rmdir.trailing_slash", SYS(rmdir("mk/a/sub2/")), "mk/a");
	ck("rmdir.again", SYS(rmdir("mk/a/sub2")));
	emit("rmdir.listing", "%s", list_dir("mk/a"));

	/* as other users */
	mkdirm("mk/rootdir", 0755);
	mkdirm("mk/rootdir/sub", 0777);
	mkdirm("mk/pub", 0777);
	uck("mkdir.nobody_no_write", &ID_NOBODY, u_mkdir, A(.p = "mk/rootdir/x", .n = 0755));
	uck("rmdir.nobody_no_write", &ID_NOBODY, u_rmdir, A(.p = "mk/rootdir/sub"));
	uck_show("mkdir.nobody", &ID_NOBODY, u_mkdir, A(.p = "mk/pub/nb", .n = 0777),
		 "mk/pub/nb");
	uck_show("mkdir.u2", &ID_U2, u_mkdir, A(.p = "mk/pub/u2", .n = 0751), "mk/pub/u2");
	uck("rmdir.u2_others_dir", &ID_U2, u_rmdir, A(.p = "mk/pub/nb"));
	show("rmdir.u2_others_dir_result", "mk/pub/nb");
	mkdirm("mk/closed", 0700);
	mkdirm("mk/closed/sub", 0777);
	uck("mkdir.nobody_no_search", &ID_NOBODY, u_mkdir, A(.p = "mk/closed/sub/x", .n = 0755));
	uck("rmdir.nobody_no_search", &ID_NOBODY, u_rmdir, A(.p = "mk/closed/sub"));
}

/* --- unlink --------------------------------------------------------------------------------- */

void check_unlink(void)
{
	struct tsnap s;

	mkdirm("ul", 0777);
	mkfile("ul/f", 0644, "x");
	mkdirm("ul/d", 0755);
	slink("f", "ul/l");
	setup("ul/p", SYS(mkfifo("ul/p", 0644)));
	set_times("ul", OLD_SEC, OLD_SEC);
	s = snap("ul");
	ck_show("unlink.file", SYS(unlink("ul/f")), "ul/f");
	emit("unlink.parent_times", "%s", compare_times("ul", &s));
	ck("unlink.missing", SYS(unlink("ul/f")));
	ck("unlink.dir", SYS(unlink("ul/d")));
	ck("unlink.dir_slash", SYS(unlink("ul/d/")));
	ck("unlink.unlinkat_removedir_file", SYS(unlinkat(AT_FDCWD, "ul/p", AT_REMOVEDIR)));
	ck("unlink.dot", SYS(unlink("ul/d/.")));
	ck("unlink.dotdot", SYS(unlink("ul/d/..")));
	ck("unlink.bad_flags", SYS(unlinkat(AT_FDCWD, "ul/p", 0x1)));
	ck_show("unlink.dangling_symlink", SYS(unlink("ul/l")), "ul/l");
	ck_show("unlink.fifo", SYS(unlink("ul/p")), "ul/p");
	mkfile("ul/t", 0644, "x");
	slink("t", "ul/lt");
	ck_show("unlink.symlink_keeps_target", SYS(unlink("ul/lt")), "ul/t");
	ck("unlink.file_slash", SYS(unlink("ul/t/")));
	ck("unlink.through_file", SYS(unlink("ul/t/x")));
	ck_show("unlink.unlinkat_removedir_dir", SYS(unlinkat(AT_FDCWD, "ul/d", AT_REMOVEDIR)),
		"ul/d");
	emit("unlink.listing", "%s", list_dir("ul"));

	/* as other users */
	mkdirm("ul/rootdir", 0755);
	mkfile("ul/rootdir/f", 0666, "x");
	mkdirm("ul/pub", 0777);
	mkfile("ul/pub/rootfile", 0600, "x");
	uck("unlink.nobody_no_write", &ID_NOBODY, u_unlink, A(.p = "ul/rootdir/f"));
	uck_show("unlink.nobody_others_file_writable_dir", &ID_NOBODY, u_unlink,
		 A(.p = "ul/pub/rootfile"), "ul/pub/rootfile");
	mkdirm("ul/closed", 0700);
	mkfile("ul/closed/f", 0666, "x");
	uck("unlink.nobody_no_search", &ID_NOBODY, u_unlink, A(.p = "ul/closed/f"));
}

/* --- rename --------------------------------------------------------------------------------- */

void check_rename(void)
{
	struct tsnap s;

	mkdirm("rn", 0777);
	mkfile("rn/a", 0644, "A");
	mkfile("rn/b", 0600, "B");
	ck_show("rename.file_over_file", SYS(rename("rn/a", "rn/b")), "rn/b");
	emit("rename.file_over_file_content", "%s %s", read_content("rn/b"), fmt_lstat("rn/a"));
	ck_show("rename.to_new_name", SYS(rename("rn/b", "rn/c")), "rn/c");
	ck("rename.missing", SYS(rename("rn/b", "rn/x")));
	ck_show("rename.same_name", SYS(rename("rn/c", "rn/c")), "rn/c");
	setup("rn/c2", SYS(link("rn/c", "rn/c2")));
	ck_show("rename.onto_own_link", SYS(rename("rn/c", "rn/c2")), "rn/c");
	show("rename.onto_own_link_other", "rn/c2");
	setup("rn/c2", SYS(unlink("rn/c2")));

	mkdirm("rn/d1", 0755);
	mkdirm("rn/d2", 0755);
	mkdirm("rn/full", 0755);
	mkfile("rn/full/x", 0644, NULL);
	mkfile("rn/d1/inner", 0644, "I");
	ck_show("rename.dir_over_empty_dir", SYS(rename("rn/d1", "rn/d2")), "rn/d2");
	emit("rename.dir_over_empty_dir_listing", "%s %s", list_dir("rn/d2"), fmt_lstat("rn/d1"));
	ck("rename.dir_over_nonempty_dir", SYS(rename("rn/d2", "rn/full")));
	ck("rename.file_over_dir", SYS(rename("rn/c", "rn/full")));
	ck("rename.dir_over_file", SYS(rename("rn/full", "rn/c")));
	ck("rename.dir_into_itself", SYS(rename("rn/full", "rn/full/sub")));
	mkdirm("rn/full/deep", 0755);
	ck("rename.dir_into_descendant", SYS(rename("rn/full", "rn/full/deep/x")));
	ck("rename.parent_onto_child", SYS(rename("rn/full", "rn/full/deep")));
	ck("rename.child_onto_parent", SYS(rename("rn/full/deep", "rn/full")));
	ck("rename.dot", SYS(rename("rn/full/.", "rn/y")));
	ck("rename.onto_dot", SYS(rename("rn/c", "rn/full/.")));
	ck("rename.dotdot", SYS(rename("rn/full/deep/..", "rn/y")));
	ck("rename.into_missing_dir", SYS(rename("rn/c", "rn/missing/c")));
	ck("rename.through_file", SYS(rename("rn/c", "rn/c/x")));
	ck("rename.file_trailing_slash", SYS(rename("rn/c", "rn/c9/")));
	ck_show("rename.dir_trailing_slash", SYS(rename("rn/full/deep/", "rn/deep2/")),
		"rn/deep2");
	ck("rename.empty_target", SYS(rename("rn/c", "")));

	/* across directories: link counts of the parents, and '..' of a moved directory */
	mkdirm("rn/p1", 0755);
	mkdirm("rn/p2", 0755);
	mkdirm("rn/p1/mv", 0755);
	mkfile("rn/p1/file", 0644, "F");
	ck("rename.dir_across", SYS(rename("rn/p1/mv", "rn/p2/mv")));
	emit("rename.dir_across_nlinks", "%s %s", fmt_lstat("rn/p1"), fmt_lstat("rn/p2"));
	emit("rename.dir_across_dotdot", "%s", compare_files("rn/p2/mv/..", "rn/p2"));
	ck_show("rename.file_across", SYS(rename("rn/p1/file", "rn/p2/mv/file")),
		"rn/p2/mv/file");
	emit("rename.file_across_content", "%s", read_content("rn/p2/mv/file"));
	mkdirm("rn/p1/victim", 0755);
	ck("rename.dir_across_over_empty", SYS(rename("rn/p2/mv", "rn/p1/victim")));
	emit("rename.dir_across_over_empty_nlinks", "%s %s %s", fmt_lstat("rn/p1"),
	     fmt_lstat("rn/p2"), list_dir("rn/p1/victim"));
	slink("victim", "rn/p1/lnk");
	ck_show("rename.symlink", SYS(rename("rn/p1/lnk", "rn/p2/lnk")), "rn/p2/lnk");
	emit("rename.symlink_resolves", "%s", fmt_stat_follow("rn/p2/lnk"));

	/* timestamps: both parents change, the moved file's ctime changes */
	mkfile("rn/p1/t", 0644, NULL);
	set_times("rn/p1", OLD_SEC, OLD_SEC);
	set_times("rn/p2", OLD_SEC, OLD_SEC);
	set_times("rn/p1/t", OLD_SEC, OLD_SEC);
	s = snap("rn/p1/t");
	setup("rn/p2/t", SYS(rename("rn/p1/t", "rn/p2/t")));
	emit("rename.times_file", "%s", compare_times("rn/p2/t", &s));
	emit("rename.times_parents", "%s %s",
	     fmt_times("rn/p1", make_ts(OLD_SEC, 0), make_ts(OLD_SEC, 0)),
	     fmt_times("rn/p2", make_ts(OLD_SEC, 0), make_ts(OLD_SEC, 0)));

	/* renameat2 */
	mkfile("rn/x1", 0644, "1");
	mkfile("rn/x2", 0644, "2");
	mkdirm("rn/xd", 0755);
	mkfile("rn/xd/in", 0644, NULL);
	ck("rename2.noreplace_existing", SYS(renameat2(AT_FDCWD, "rn/x1", AT_FDCWD, "rn/x2",
						      RENAME_NOREPLACE)));
	ck_show("rename2.noreplace_new", SYS(renameat2(AT_FDCWD, "rn/x1", AT_FDCWD, "rn/x3",
						       RENAME_NOREPLACE)), "rn/x3");
	ck("rename2.exchange_files", SYS(renameat2(AT_FDCWD, "rn/x2", AT_FDCWD, "rn/x3",
						   RENAME_EXCHANGE)));
	emit("rename2.exchange_files_content", "%s %s", read_content("rn/x2"),
	     read_content("rn/x3"));
	ck("rename2.exchange_file_dir", SYS(renameat2(AT_FDCWD, "rn/x2", AT_FDCWD, "rn/xd",
						      RENAME_EXCHANGE)));
	emit("rename2.exchange_file_dir_result", "%s %s %s", fmt_lstat("rn/x2"), fmt_lstat("rn/xd"),
	     list_dir("rn/x2"));
	ck("rename2.exchange_missing", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/none",
						     RENAME_EXCHANGE)));
	ck("rename2.exchange_noreplace", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/xd",
						       RENAME_EXCHANGE | RENAME_NOREPLACE)));
	ck("rename2.bad_flags", SYS(renameat2(AT_FDCWD, "rn/x3", AT_FDCWD, "rn/x9", 1u << 9)));
	mkdirm("rn/xa", 0755);
	mkfile("rn/xa/a", 0644, NULL);
	mkdirm("rn/xb", 0755);
	mkdirm("rn/xb/b", 0755);
	ck("rename2.exchange_across", SYS(renameat2(AT_FDCWD, "rn/xa/a", AT_FDCWD, "rn/xb/b",
						    RENAME_EXCHANGE)));
	emit("rename2.exchange_across_result", "%s %s %s %s", fmt_lstat("rn/xa/a"),
	     fmt_lstat("rn/xb/b"), fmt_lstat("rn/xa"), fmt_lstat("rn/xb"));
	emit("rename2.exchange_across_dotdot", "%s", compare_files("rn/xa/a/..", "rn/xa"));
	ck("rename2.exchange_into_descendant", SYS(renameat2(AT_FDCWD, "rn/xa", AT_FDCWD,
							     "rn/xa/a", RENAME_EXCHANGE)));
	mkfile("rn/w", 0644, "W");
	ck("rename2.whiteout", SYS(renameat2(AT_FDCWD, "rn/w", AT_FDCWD, "rn/w2",
					     RENAME_WHITEOUT)));
	emit("rename2.whiteout_result", "%s %s", fmt_lstat("rn/w"), fmt_lstat("rn/w2"));

	/* as other users */
	mkdirm("rn/rootdir", 0755);
	mkfile("rn/rootdir/f", 0666, NULL);
	mkdirm("rn/pub", 0777);
	mkdirm("rn/pub2", 0777);
	mkfile("rn/pub/rootfile", 0644, NULL);
	mkdirm("rn/pub/rootsub", 0755);
	uck("rename.nobody_no_write_src", &ID_NOBODY, u_rename,
	    A(.p = "rn/rootdir/f", .q = "rn/pub/f"));
	uck("rename.nobody_no_write_dst", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub/rootfile", .q = "rn/rootdir/g"));
	uck_show("rename.nobody_others_file", &ID_NOBODY, u_rename,
		 A(.p = "rn/pub/rootfile", .q = "rn/pub2/rootfile"), "rn/pub2/rootfile");
	uck("rename.nobody_others_dir_across", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub/rootsub", .q = "rn/pub2/rootsub"));
	uck_show("rename.nobody_others_dir_same_parent", &ID_NOBODY, u_rename,
		 A(.p = "rn/pub/rootsub", .q = "rn/pub/rootsub2"), "rn/pub/rootsub2");
	uck("rename.nobody_noreplace", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub2/rootfile", .q = "rn/pub/rootsub2", .n = RENAME_NOREPLACE));
	uck("rename.nobody_whiteout", &ID_NOBODY, u_rename,
	    A(.p = "rn/pub2/rootfile", .q = "rn/pub2/wh", .n = RENAME_WHITEOUT));
}

/* --- link ----------------------------------------------------------------------------------- */

void check_link(void)
{
	struct tsnap s;

	mkdirm("ln", 0777);
	mkdirm("ln/a", 0755);
	mkdirm("ln/b", 0755);
	mkfile("ln/a/f", 0644, "orig");
	ck_show("link.same_dir", SYS(link("ln/a/f", "ln/a/g")), "ln/a/f");
	ck_show("link.other_dir", SYS(link("ln/a/f", "ln/b/h")), "ln/b/h");
	emit("link.same_file", "%s %s", compare_files("ln/a/f", "ln/b/h"),
	     compare_files("ln/a/g", "ln/b/h"));
	setup("ln/b/h", try_open("ln/b/h", O_WRONLY | O_APPEND, 0, "+h"));
	emit("link.write_through_other", "%s", read_content("ln/a/f"));
	setup("ln/a/g", SYS(chmod("ln/a/g", 0600)));
	show("link.chmod_through_other", "ln/b/h");
	ck("link.existing", SYS(link("ln/a/f", "ln/a/g")));
	ck("link.missing", SYS(link("ln/a/none", "ln/a/x")));
	ck("link.into_missing_dir", SYS(link("ln/a/f", "ln/none/x")));
	ck("link.dir", SYS(link("ln/a", "ln/a2")));
	ck("link.through_file", SYS(link("ln/a/f", "ln/a/f/x")));
	ck("link.trailing_slash", SYS(link("ln/a/f", "ln/a/new/")));
	set_times("ln/a/f", OLD_SEC, OLD_SEC);
	s = snap("ln/a/f");
	ck_show("unlink.one_link", SYS(unlink("ln/a/g")), "ln/a/f");
	emit("unlink.one_link_times", "%s", compare_times("ln/a/f", &s));
	s = snap("ln/a/f");
	setup("ln/b/k", SYS(link("ln/a/f", "ln/b/k")));
	emit("link.times", "%s", compare_times("ln/a/f", &s));
	ck_show("unlink.other_dir_link", SYS(unlink("ln/b/h")), "ln/a/f");
	slink("f", "ln/a/sl");
	ck_show("link.symlink_itself", SYS(linkat(AT_FDCWD, "ln/a/sl", AT_FDCWD, "ln/a/sl2", 0)),
		"ln/a/sl2");
	ck_show("link.symlink_follow", SYS(linkat(AT_FDCWD, "ln/a/sl", AT_FDCWD, "ln/a/sl3",
						  AT_SYMLINK_FOLLOW)), "ln/a/sl3");
	slink("none", "ln/a/dangling");
	ck("link.dangling_follow", SYS(linkat(AT_FDCWD, "ln/a/dangling", AT_FDCWD, "ln/a/d2",
					      AT_SYMLINK_FOLLOW)));
	setup("ln/a/p", SYS(mkfifo("ln/a/p", 0644)));
	ck_show("link.fifo", SYS(link("ln/a/p", "ln/b/p")), "ln/b/p");
	ck("link.bad_flags", SYS(linkat(AT_FDCWD, "ln/a/f", AT_FDCWD, "ln/a/z", 0x1)));

	/* as other users: protected hard links allow only owners and readers-writers */
	mkdirm("ln/pub", 0777);
	mkfile("ln/pub/rootro", 0644, NULL);
	mkfile("ln/pub/rootrw", 0666, NULL);
	mkfile("ln/pub/rootsuid", 04777, NULL);
	mkfile("ln/pub/nb", 0600, NULL);
	own("ln/pub/nb", ID_NOBODY.uid, ID_NOBODY.gid);
	uck("link.nobody_others_readonly", &ID_NOBODY, u_link,
	    A(.p = "ln/pub/rootro", .q = "ln/pub/l1"));
	uck_show("link.nobody_others_readwrite", &ID_NOBODY, u_link,
		 A(.p = "ln/pub/rootrw", .q = "ln/pub/l2"), "ln/pub/l2");
	uck("link.nobody_others_setuid", &ID_NOBODY, u_link,
	    A(.p = "ln/pub/rootsuid", .q = "ln/pub/l3"));
	uck_show("link.nobody_own", &ID_NOBODY, u_link, A(.p = "ln/pub/nb", .q = "ln/pub/l4"),
		 "ln/pub/l4");
	uck("link.nobody_into_rootdir", &ID_NOBODY, u_link, A(.p = "ln/pub/nb", .q = "ln/a/l5"));
}

/* --- symlink and readlink ------------------------------------------------------------------- */

void check_symlink(void)
{
	static char target[5000];
	char buf[PATH_MAX + 1];
	ssize_t n;
	int fd;

	mkdirm("sl", 0777);
	mkfile("sl/f", 0644, "file");
	ck_show("symlink.new", SYS(symlink("f", "sl/l")), "sl/l");
	n = readlink("sl/l", buf, sizeof(buf));
	emit("readlink.new", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	n = readlink("sl/l", buf, 0);
	ck("readlink.zero_buffer", neg_errno(n));
	ck_show("symlink.absolute", SYS(symlink("/nonexistent/abs/target", "sl/abs")), "sl/abs");
	n = readlink("sl/abs", buf, 5);
	emit("readlink.short_buffer", "%s %s", fmt_result(neg_errno(n)),
	     n < 0 ? "-" : escape(buf, (size_t)n));
	ck("readlink.file", neg_errno(readlink("sl/f", buf, sizeof(buf))));
	ck("readlink.dir", neg_errno(readlink("sl", buf, sizeof(buf))));
	ck("readlink.missing", neg_errno(readlink("sl/none", buf, sizeof(buf))));
	ck("readlink.slash", neg_errno(readlink("sl/l/", buf, sizeof(buf))));
	ck("symlink.existing", SYS(symlink("x", "sl/l")));
	ck("symlink.over_file", SYS(symlink("x", "sl/f")));
	ck("symlink.empty_target", SYS(symlink("", "sl/e")));
	ck("symlink.missing_dir", SYS(symlink("x", "sl/none/l")));
	ck("symlink.through_file", SYS(symlink("x", "sl/f/l")));
	ck("symlink.trailing_slash", SYS(symlink("x", "sl/ts/")));
	ck_show("symlink.dangling", SYS(symlink("none", "sl/dang")), "sl/dang");
	emit("symlink.dangling_follow", "%s", fmt_stat_follow("sl/dang"));
	ck_show("symlink.weird_target", SYS(symlink("a b\tc\\d//..//", "sl/weird")), "sl/weird");
	n = readlink("sl/weird", buf, sizeof(buf));
	emit("readlink.weird", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	memset(target, 'x', 4095);
	target[4095] = '\0';
	ck_show("symlink.target_4095", SYS(symlink(target, "sl/long")), "sl/long");
	n = readlink("sl/long", buf, sizeof(buf));
	emit("readlink.target_4095", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	target[4095] = 'x';
	target[4096] = '\0';
	ck("symlink.target_4096", SYS(symlink(target, "sl/toolong")));
	memset(target, 'y', 255);
	target[255] = '\0';
	ck_show("symlink.target_255", SYS(symlink(target, "sl/t255")), "sl/t255");
	slink("l", "sl/chain");
	emit("symlink.chain_follow", "%s", fmt_stat_follow("sl/chain"));
	emit("symlink.chain_content", "%s", read_content("sl/chain"));
	slink("self", "sl/self");
	ck("symlink.self_loop", try_open("sl/self", O_RDONLY, 0, NULL));
	mkdirm("sl/d", 0755);
	slink("../f", "sl/d/up");
	emit("symlink.relative_up", "%s", read_content("sl/d/up"));
	slink("d", "sl/ld");
	ck_show("symlink.create_via_dir_link", SYS(symlink("../f", "sl/ld/up2")), "sl/d/up2");
	fd = open("sl/l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	n = fd < 0 ? -1 : readlinkat(fd, "", buf, sizeof(buf));
	emit("readlink.opath_empty", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
	if (fd >= 0)
		close(fd);
	uck_show("symlink.nobody", &ID_NOBODY, u_symlink, A(.p = "f", .q = "sl/nb"), "sl/nb");
	uck_show("symlink.u2", &ID_U2, u_symlink, A(.p = "nowhere", .q = "sl/u2"), "sl/u2");
	mkdirm("sl/rootdir", 0755);
	uck("symlink.nobody_no_write", &ID_NOBODY, u_symlink, A(.p = "f", .q = "sl/rootdir/l"));
}

/* --- mknod, fifos and sockets --------------------------------------------------------------- */

static const char *rdev_of(const char *p, dev_t want)
{
	struct stat st;

	if (lstat(p, &st) < 0)
		return fmt_result(-errno);
	return st.st_rdev == want ? "rdev=requested" : "rdev=other";
}

void check_mknod(void)
{
	char buf[8];
	int rfd, wfd;

	mkdirm("mn", 0777);
	ck_show("mknod.fifo", SYS(mknod("mn/p", S_IFIFO | 0644, 0)), "mn/p");
	ck_show("mkfifo", SYS(mkfifo("mn/p2", 0600)), "mn/p2");
	ck("mknod.fifo_existing", SYS(mknod("mn/p", S_IFIFO | 0644, 0)));
	ck_show("mknod.regular", SYS(mknod("mn/r", S_IFREG | 0640, 0)), "mn/r");
	ck_show("mknod.type_0", SYS(mknod("mn/r0", 0644, 0)), "mn/r0");
	ck_show("mknod.socket", SYS(mknod("mn/s", S_IFSOCK | 0644, 0)), "mn/s");
	ck_show("mknod.chr", SYS(mknod("mn/c", S_IFCHR | 0644, makedev(1, 3))), "mn/c");
	emit("mknod.chr_rdev", "%s", rdev_of("mn/c", makedev(1, 3)));
	ck_show("mknod.blk", SYS(mknod("mn/b", S_IFBLK | 0600, makedev(7, 200))), "mn/b");
	emit("mknod.blk_rdev", "%s", rdev_of("mn/b", makedev(7, 200)));
	ck_show("mknod.chr_big", SYS(mknod("mn/cb", S_IFCHR | 0600, makedev(300, 70000))),
		"mn/cb");
	emit("mknod.chr_big_rdev", "%s", rdev_of("mn/cb", makedev(300, 70000)));
	ck("mknod.dir_type", SYS(mknod("mn/d", S_IFDIR | 0755, 0)));
	ck("mknod.bad_type", SYS(mknod("mn/x", 0170000 | 0644, 0)));
	ck("mknod.missing_dir", SYS(mknod("mn/none/p", S_IFIFO | 0644, 0)));
	ck("mknod.trailing_slash", SYS(mknod("mn/ts/", S_IFIFO | 0644, 0)));
	ck_show("mknod.setid_mode", SYS(mknod("mn/ps", S_IFIFO | 07777, 0)), "mn/ps");
	ck("mknod.chr_open", try_open("mn/c", O_RDWR, 0, NULL));

	/* a fifo carries data between two descriptors */
	rfd = open("mn/p", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck("fifo.open_reader", rfd < 0 ? -errno : 0);
	wfd = open("mn/p", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	ck("fifo.open_writer", wfd < 0 ? -errno : 0);
	ck("fifo.write", wfd < 0 ? -EBADF : neg_errno(write(wfd, "pipe", 4)));
	memset(buf, 0, sizeof(buf));
	ck("fifo.read", rfd < 0 ? -EBADF : neg_errno(read(rfd, buf, sizeof(buf))));
	emit("fifo.read_data", "%s", escape(buf, strlen(buf)));
	show("fifo.stat_after_io", "mn/p");
	if (wfd >= 0)
		close(wfd);
	if (rfd >= 0)
		close(rfd);
	ck("fifo.writer_without_reader", try_open("mn/p", O_WRONLY | O_NONBLOCK, 0, NULL));
	ck("fifo.lseek", neg_errno(lseek(rfd = open("mn/p", O_RDONLY | O_NONBLOCK | O_CLOEXEC), 0,
					 SEEK_SET)));
	if (rfd >= 0)
		close(rfd);

	/* unix sockets bound into the directory */
	uck_show("socket.bind", &ID_ROOT, u_bind, A(.p = "mn/sock", .n = 1), "mn/sock");
	uck("socket.bind_existing", &ID_ROOT, u_bind, A(.p = "mn/sock"));
	uck("socket.connect_stale", &ID_ROOT, u_bind, A(.p = "mn/none/sock"));
	uck_show("socket.bind_nobody", &ID_NOBODY, u_bind, A(.p = "mn/nbsock", .n = 1),
		 "mn/nbsock");
	ck("socket.open", try_open("mn/sock", O_RDONLY, 0, NULL));

	/* as other users */
	uck("mknod.nobody_chr", &ID_NOBODY, u_mknod,
	    A(.p = "mn/nc", .n = S_IFCHR | 0644, .m = (long)makedev(1, 3)));
	uck("mknod.nobody_blk", &ID_NOBODY, u_mknod,
	    A(.p = "mn/nblk", .n = S_IFBLK | 0644, .m = (long)makedev(7, 0)));
	uck_show("mknod.nobody_fifo", &ID_NOBODY, u_mknod, A(.p = "mn/np", .n = S_IFIFO | 0666),
		 "mn/np");
	uck_show("mknod.u2_socket", &ID_U2, u_mknod, A(.p = "mn/us", .n = S_IFSOCK | 0640),
		 "mn/us");
	uck_show("mknod.nobody_regular", &ID_NOBODY, u_mknod, A(.p = "mn/nr", .n = S_IFREG | 0604),
		 "mn/nr");
	uck("mknod.nobody_chr_open", &ID_NOBODY, u_open, A(.p = "mn/c", .n = O_RDONLY));
}

/* --- name and path length ------------------------------------------------------------------- */

void check_names(void)
{
	char n255[300], n256[300], p[5000];
	struct stat st;
	size_t k;

	mkdirm("nm", 0755);
	memcpy(n255, "nm/", 3);
	memset(n255 + 3, 'a', 255);
	n255[258] = '\0';
	memcpy(n256, "nm/", 3);
	memset(n256 + 3, 'b', 256);
	n256[259] = '\0';
	ck_show("name.255_create", try_open(n255, O_CREAT | O_WRONLY, 0644, "max"), n255);
	emit("name.255_listing", "%s", list_dir("nm"));
	emit("name.255_content", "%s", read_content(n255));
	ck("name.255_mkdir", SYS(mkdir(n255, 0755)));
	mkfile("nm/short", 0644, NULL);
	ck("name.256_stat", SYS(lstat(n256, &st)));
	ck("name.256_open", try_open(n256, O_RDONLY, 0, NULL));
	ck("name.256_create", try_open(n256, O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.256_mkdir", SYS(mkdir(n256, 0755)));
	ck("name.256_rmdir", SYS(rmdir(n256)));
	ck("name.256_unlink", SYS(unlink(n256)));
	ck("name.256_symlink", SYS(symlink("short", n256)));
	ck("name.256_symlink_target_ok", SYS(symlink(n256 + 3, "nm/lnk256")));
	ck("name.256_link", SYS(link("nm/short", n256)));
	ck("name.256_rename_to", SYS(rename("nm/short", n256)));
	ck("name.256_rename_from", SYS(rename(n256, "nm/x")));
	ck("name.256_mknod", SYS(mknod(n256, S_IFIFO | 0644, 0)));
	ck("name.256_chmod", SYS(chmod(n256, 0644)));
	ck("name.256_truncate", SYS(truncate(n256, 0)));
	ck("name.256_setxattr", SYS(setxattr(n256, "user.x", "x", 1, 0)));
	ck("name.256_readlink", neg_errno(readlink(n256, p, sizeof(p))));
	ck("name.256_utimens", SYS(utimensat(AT_FDCWD, n256, NULL, 0)));
	ck("name.256_access", SYS(access(n256, F_OK)));
	emit("name.listing_after", "%s", list_dir("nm"));
	memcpy(p, "nm/", 3);
	k = 3;
	while (k < 4200) {
		memcpy(p + k, "./", 2);
		k += 2;
	}
	memcpy(p + k, "short", 6);
	ck("name.path_too_long", SYS(lstat(p, &st)));
	k = 0;
	while (k < 4000) {
		memcpy(p + k, "./", 2);
		k += 2;
	}
	memcpy(p + k, "nm/short", 9);
	ck("name.path_long_ok", SYS(lstat(p, &st)));
	ck("name.dots", SYS(mkdir("nm/...", 0755)));
	ck("name.dash", try_open("nm/-", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.utf8", try_open("nm/\xc3\xa9t\xc3\xa9", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.control_chars", try_open("nm/a\tb\nc", O_CREAT | O_WRONLY, 0644, NULL));
	ck("name.high_bytes", try_open("nm/\xff\xfe", O_CREAT | O_WRONLY, 0644, NULL));
	emit("name.listing_odd", "%s", list_dir("nm"));
}

/* --- names reused for new files ------------------------------------------------------------ */

/* Whether p is a regular file holding exactly want, with one link. */
static bool holds(const char *p, const char *want)
{
	char buf[64];
	struct stat st;
	ssize_t n;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf));
	if (fstat(fd, &st) < 0)
		n = -1;
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0 &&
	       S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/*
 * One name, and the inode numbers the filesystem hands out again, cycle through files,
 * directories, symbolic links and hard links; each round must see the object it just made.
 */
void check_reuse(void)
{
	char want[32], target[PATH_MAX];
	unsigned good[5] = { 0 };
	struct stat st;
	ssize_t n;

	mkdirm("re", 0755);
	for (int i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "round %d", i);
		mkfile("re/a", 0644, want);
		good[0] += holds("re/a", want);
		setup("re/a", SYS(link("re/a", "re/b")));
		setup("re/a", SYS(unlink("re/a")));
		good[1] += holds("re/b", want);
		setup("re/b", SYS(rename("re/b", "re/a")));
		good[2] += holds("re/a", want);
		setup("re/a", SYS(unlink("re/a")));
		good[3] += mkdir("re/a", 0700) == 0 && lstat("re/a", &st) == 0 &&
			   S_ISDIR(st.st_mode) && rmdir("re/a") == 0;
		n = symlink(want, "re/a") == 0 ? readlink("re/a", target, sizeof(target)) : -1;
		good[4] += n == (ssize_t)strlen(want) && memcmp(target, want, (size_t)n) == 0 &&
			   unlink("re/a") == 0;
	}
	emit("reuse.file", "%u/100", good[0]);
	emit("reuse.hard_link", "%u/100", good[1]);
	emit("reuse.rename_back", "%u/100", good[2]);
	emit("reuse.dir", "%u/100", good[3]);
	emit("reuse.symlink", "%u/100", good[4]);
	emit("reuse.listing", "%s", list_dir("re"));
}

