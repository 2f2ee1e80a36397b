/*
 * Checks of who may do what: access() for each identity and mode, setgid and sticky
 * directories, the umask applied to new files, and search, read and write permission for other
 * users. Each group works in its own subdirectory.
 */
#include "conform.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* --- access --------------------------------------------------------------------------------- */

void check_access(void)
{
	static const struct {
		const char *name;
		int mode;
	} modes[] = { { "F", F_OK }, { "R", R_OK }, { "W", W_OK }, { "X", X_OK },
		      { "RWX", R_OK | W_OK | X_OK } };
	static const struct {
		const char *name;
		const struct ident *id;
	} who[] = { { "root", NULL }, { "nobody", &ID_NOBODY }, { "u2", &ID_U2 },
		    { "u3", &ID_U3 } };
	static const char *const files[] = { "f644", "f755", "f000", "d000", "nb640", "grp640",
					     "u2_070", "d711" };
	char name[96], path[64];

	mkdirm("acc", 0755);
	mkfile("acc/f644", 0644, NULL);
	mkfile("acc/f755", 0755, NULL);
	mkfile("acc/f000", 0, NULL);
	mkdirm("acc/d000", 0);
	mkfile("acc/nb640", 0640, NULL);
	own("acc/nb640", ID_NOBODY.uid, ID_NOBODY.gid);
	mkfile("acc/grp640", 0640, NULL);
	own("acc/grp640", 0, GID_SHARED);
	mkfile("acc/u2_070", 0070, NULL);
	own("acc/u2_070", ID_U2.uid, GID_SHARED);
	mkdirm("acc/d711", 0711);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		snprintf(path, sizeof(path), "acc/%s", files[f]);
		for (size_t w = 0; w < sizeof(who) / sizeof(who[0]); w++) {
			for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
				snprintf(name, sizeof(name), "access.%s.%s.%s", files[f],
					 who[w].name, modes[m].name);
				uck(name, who[w].id, u_access, A(.p = path, .n = modes[m].mode));
			}
		}
	}
	ck("access.missing", SYS(access("acc/none", F_OK)));
	ck("access.bad_mode", SYS(access("acc/f644", 0100)));
	ck("access.through_file", SYS(access("acc/f644/x", F_OK)));
	slink("none", "acc/dangling");
	ck("access.dangling", SYS(faccessat(AT_FDCWD, "acc/dangling", F_OK, 0)));
	ck("access.dangling_nofollow", SYS(faccessat(AT_FDCWD, "acc/dangling", F_OK,
						     AT_SYMLINK_NOFOLLOW)));
	uck("access.nobody_eaccess", &ID_NOBODY, u_access,
	    A(.p = "acc/nb640", .n = R_OK | W_OK, .f = AT_EACCESS));
	mkdirm("acc/closed", 0700);
	mkfile("acc/closed/f", 0777, NULL);
	uck("access.nobody_no_search", &ID_NOBODY, u_access, A(.p = "acc/closed/f", .n = F_OK));
}

/* --- setgid directories --------------------------------------------------------------------- */

void check_setgid(void)
{
	mkdirm("sg", 0777);
	mkdirm("sg/d", 0777);
	own("sg/d", 0, GID_SHARED);
	setup("sg/d", SYS(chmod("sg/d", 02777)));
	show("setgid.dir", "sg/d");
	ck_show("setgid.root_file", try_open("sg/d/rootf", O_CREAT | O_WRONLY, 0644, NULL),
		"sg/d/rootf");
	ck_show("setgid.root_dir", SYS(mkdir("sg/d/rootd", 0755)), "sg/d/rootd");
	ck_show("setgid.root_fifo", SYS(mkfifo("sg/d/rootp", 0644)), "sg/d/rootp");
	ck_show("setgid.root_symlink", SYS(symlink("rootf", "sg/d/rootl")), "sg/d/rootl");
	ck_show("setgid.root_nested_file", try_open("sg/d/rootd/f", O_CREAT | O_WRONLY, 0644,
						    NULL), "sg/d/rootd/f");
	ck_show("setgid.root_nested_dir", SYS(mkdir("sg/d/rootd/sub", 0700)), "sg/d/rootd/sub");
	uck_show("setgid.member_file", &ID_U2, u_open,
		 A(.p = "sg/d/u2f", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/d/u2f");
	uck_show("setgid.member_dir", &ID_U2, u_mkdir, A(.p = "sg/d/u2d", .n = 0775), "sg/d/u2d");
	uck_show("setgid.nonmember_file_group_x", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/d/nbf");
	uck_show("setgid.nonmember_file_no_group_x", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf2", .n = O_CREAT | O_WRONLY, .m = 02644), "sg/d/nbf2");
	uck_show("setgid.nonmember_plain_file", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbf3", .n = O_CREAT | O_WRONLY, .m = 0640), "sg/d/nbf3");
	uck_show("setgid.nonmember_dir", &ID_NOBODY, u_mkdir, A(.p = "sg/d/nbd", .n = 0777),
		 "sg/d/nbd");
	uck_show("setgid.nonmember_dir_setid_mode", &ID_NOBODY, u_mkdir,
		 A(.p = "sg/d/nbd2", .n = 07777), "sg/d/nbd2");
	uck_show("setgid.nonmember_fifo", &ID_NOBODY, u_mknod,
		 A(.p = "sg/d/nbp", .n = S_IFIFO | 02755), "sg/d/nbp");
	uck_show("setgid.nonmember_symlink", &ID_NOBODY, u_symlink, A(.p = "x", .q = "sg/d/nbl"),
		 "sg/d/nbl");
	uck_show("setgid.nonmember_nested", &ID_NOBODY, u_open,
		 A(.p = "sg/d/nbd/f", .n = O_CREAT | O_WRONLY, .m = 0644), "sg/d/nbd/f");
	uck_show("setgid.nonmember_socket", &ID_NOBODY, u_bind, A(.p = "sg/d/nbs"), "sg/d/nbs");

	/* outside a setgid directory the creator's primary group applies */
	uck_show("setgid.plain_member_file", &ID_U2, u_open,
		 A(.p = "sg/u2f", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/u2f");
	uck_show("setgid.plain_nobody_file", &ID_NOBODY, u_open,
		 A(.p = "sg/nbf", .n = O_CREAT | O_WRONLY, .m = 02755), "sg/nbf");
	uck_show("setgid.plain_dir", &ID_U2, u_mkdir, A(.p = "sg/u2d", .n = 02777), "sg/u2d");

	/* moving or linking into a setgid directory keeps the group */
	ck_show("setgid.rename_in", SYS(rename("sg/nbf", "sg/d/moved")), "sg/d/moved");
	ck_show("setgid.link_in", SYS(link("sg/u2f", "sg/d/linked")), "sg/d/linked");
	setup("sg/d", SYS(chmod("sg/d", 0777)));
	ck_show("setgid.cleared_dir_file", try_open("sg/d/after", O_CREAT | O_WRONLY, 0644, NULL),
		"sg/d/after");
	uck_show("setgid.cleared_dir_u2", &ID_U2, u_mkdir, A(.p = "sg/d/after_d", .n = 0755),
		 "sg/d/after_d");
}

/* --- sticky directories --------------------------------------------------------------------- */

void check_sticky(void)
{
	mkdirm("st", 01777);
	uck("sticky.nobody_create", &ID_NOBODY, u_open,
	    A(.p = "st/nb", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("sticky.nobody_create_writable", &ID_NOBODY, u_open,
	    A(.p = "st/nbw", .n = O_CREAT | O_WRONLY, .m = 0666));
	uck("sticky.nobody_mkdir", &ID_NOBODY, u_mkdir, A(.p = "st/nbd", .n = 0777));
	uck("sticky.u2_create", &ID_U2, u_open, A(.p = "st/u2", .n = O_CREAT | O_WRONLY,
						  .m = 0644));
	uck("sticky.u2_unlink_others", &ID_U2, u_unlink, A(.p = "st/nb"));
	uck("sticky.u2_unlink_others_writable", &ID_U2, u_unlink, A(.p = "st/nbw"));
	uck("sticky.u2_rename_others", &ID_U2, u_rename, A(.p = "st/nb", .q = "st/x"));
	uck("sticky.u2_rename_over_others", &ID_U2, u_rename, A(.p = "st/u2", .q = "st/nb"));
	uck("sticky.u2_rmdir_others", &ID_U2, u_rmdir, A(.p = "st/nbd"));
	uck("sticky.u2_rename_others_dir", &ID_U2, u_rename, A(.p = "st/nbd", .q = "st/y"));
	uck("sticky.u2_exchange_with_others", &ID_U2, u_rename,
	    A(.p = "st/u2", .q = "st/nb", .n = RENAME_EXCHANGE));
	uck("sticky.u2_write_others_writable", &ID_U2, u_open,
	    A(.p = "st/nbw", .n = O_WRONLY, .buf = "w"));
	uck_show("sticky.u2_rename_own", &ID_U2, u_rename, A(.p = "st/u2", .q = "st/u2b"),
		 "st/u2b");
	uck("sticky.nobody_unlink_own", &ID_NOBODY, u_unlink, A(.p = "st/nb"));
	uck("sticky.nobody_rmdir_own", &ID_NOBODY, u_rmdir, A(.p = "st/nbd"));
	ck("sticky.root_unlink_others", SYS(unlink("st/u2b")));
	emit("sticky.listing", "%s", list_dir("st"));

	/* the owner of the directory may remove anything in it */
	mkdirm("st/u3d", 01777);
	own("st/u3d", ID_U3.uid, ID_U3.gid);
	uck("sticky.nobody_create_in_u3d", &ID_NOBODY, u_open,
	    A(.p = "st/u3d/f", .n = O_CREAT | O_WRONLY, .m = 0600));
	uck("sticky.nobody_create2_in_u3d", &ID_NOBODY, u_open,
	    A(.p = "st/u3d/g", .n = O_CREAT | O_WRONLY, .m = 0600));
	uck("sticky.dir_owner_unlink", &ID_U3, u_unlink, A(.p = "st/u3d/f"));
	uck("sticky.dir_owner_rename", &ID_U3, u_rename, A(.p = "st/u3d/g", .q = "st/u3d/h"));
	uck("sticky.u2_unlink_in_u3d", &ID_U2, u_unlink, A(.p = "st/u3d/h"));
	emit("sticky.u3d_listing", "%s", list_dir("st/u3d"));
	/* a sticky directory not writable by others: plain EACCES first */
	mkdirm("st/closed", 01755);
	mkfile("st/closed/f", 0666, NULL);
	uck("sticky.no_write_unlink", &ID_NOBODY, u_unlink, A(.p = "st/closed/f"));
}

/* --- umask ---------------------------------------------------------------------------------- */

void check_umask(void)
{
	mode_t old;

	mkdirm("um", 0777);
	old = umask(077);
	ck_show("umask.077_file", try_open("um/f1", O_CREAT | O_WRONLY, 0666, NULL), "um/f1");
	ck_show("umask.077_dir", SYS(mkdir("um/d1", 0777)), "um/d1");
	ck_show("umask.077_fifo", SYS(mkfifo("um/p1", 0666)), "um/p1");
	ck_show("umask.077_socket_node", SYS(mknod("um/s1", S_IFSOCK | 0777, 0)), "um/s1");
	ck_show("umask.077_symlink", SYS(symlink("f1", "um/l1")), "um/l1");
	uck_show("umask.077_bind", &ID_ROOT, u_bind, A(.p = "um/b1"), "um/b1");
	uck_show("umask.077_nobody_file", &ID_NOBODY, u_open,
		 A(.p = "um/nb1", .n = O_CREAT | O_WRONLY, .m = 0666), "um/nb1");
	umask(0);
	ck_show("umask.000_file", try_open("um/f2", O_CREAT | O_WRONLY, 0666, NULL), "um/f2");
	ck_show("umask.000_dir", SYS(mkdir("um/d2", 0777)), "um/d2");
	ck_show("umask.000_setid_file", try_open("um/f3", O_CREAT | O_WRONLY, 07777, NULL),
		"um/f3");
	umask(027);
	ck_show("umask.027_file", try_open("um/f4", O_CREAT | O_WRONLY, 0777, NULL), "um/f4");
	ck_show("umask.027_dir", SYS(mkdir("um/d4", 03777)), "um/d4");
	uck_show("umask.027_u2_dir", &ID_U2, u_mkdir, A(.p = "um/u2d", .n = 0777), "um/u2d");
	umask(old);
	ck_show("umask.restored", try_open("um/f5", O_CREAT | O_WRONLY, 0666, NULL), "um/f5");
	ck_show("umask.creat_existing_keeps_mode", try_open("um/f1", O_CREAT | O_WRONLY, 0777,
							    NULL), "um/f1");
}

/* --- permission checks for other users ------------------------------------------------------ */

void check_perm(void)
{
	mkdirm("pm", 0755);
	mkdirm("pm/noexec", 0644);
	mkfile("pm/noexec/f", 0644, "x");
	mkdirm("pm/noread", 0311);
	mkfile("pm/noread/f", 0644, "x");
	mkdirm("pm/nowrite", 0555);
	mkfile("pm/nowrite/f", 0666, "x");
	mkdirm("pm/none", 0);
	mkfile("pm/none/f", 0644, "x");
	mkdirm("pm/grp", 0070);
	own("pm/grp", 0, GID_SHARED);
	mkfile("pm/grp/f", 0644, "x");
	mkdirm("pm/own0", 0070);
	own("pm/own0", ID_U2.uid, GID_SHARED);
	mkfile("pm/own0/f", 0644, "x");

	uck("perm.noexec_stat", &ID_NOBODY, u_stat, A(.p = "pm/noexec/f"));
	uck("perm.noexec_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/noexec"));
	uck("perm.noexec_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/noexec"));
	uck("perm.noexec_open", &ID_NOBODY, u_read, A(.p = "pm/noexec/f"));
	uck("perm.noread_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/noread"));
	uck("perm.noread_stat", &ID_NOBODY, u_stat, A(.p = "pm/noread/f"));
	uck("perm.noread_open", &ID_NOBODY, u_read, A(.p = "pm/noread/f"));
	uck("perm.noread_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/noread"));
	uck("perm.nowrite_create", &ID_NOBODY, u_open,
	    A(.p = "pm/nowrite/x", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.nowrite_unlink", &ID_NOBODY, u_unlink, A(.p = "pm/nowrite/f"));
	uck("perm.nowrite_rename", &ID_NOBODY, u_rename, A(.p = "pm/nowrite/f",
							   .q = "pm/nowrite/g"));
	uck("perm.nowrite_write_file", &ID_NOBODY, u_open,
	    A(.p = "pm/nowrite/f", .n = O_WRONLY, .buf = "y"));
	uck("perm.nowrite_mkdir", &ID_NOBODY, u_mkdir, A(.p = "pm/nowrite/d", .n = 0755));
	uck("perm.nowrite_symlink", &ID_NOBODY, u_symlink, A(.p = "x", .q = "pm/nowrite/l"));
	uck("perm.nowrite_mknod", &ID_NOBODY, u_mknod, A(.p = "pm/nowrite/p",
							 .n = S_IFIFO | 0644));
	uck("perm.none_stat", &ID_NOBODY, u_stat, A(.p = "pm/none/f"));
	uck("perm.none_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/none"));
	uck("perm.none_chdir", &ID_NOBODY, u_chdir, A(.p = "pm/none"));
	uck("perm.none_stat_dir_itself", &ID_NOBODY, u_stat, A(.p = "pm/none"));
	uck("perm.root_none_stat", NULL, u_stat, A(.p = "pm/none/f"));
	uck("perm.root_none_readdir", NULL, u_readdir, A(.p = "pm/none"));
	uck("perm.root_none_create", NULL, u_open,
	    A(.p = "pm/none/new", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.group_member_readdir", &ID_U2, u_readdir, A(.p = "pm/grp"));
	uck("perm.group_member_create", &ID_U2, u_open,
	    A(.p = "pm/grp/u2", .n = O_CREAT | O_WRONLY, .m = 0644));
	uck("perm.group_other_readdir", &ID_NOBODY, u_readdir, A(.p = "pm/grp"));
	uck("perm.owner_denied_despite_group", &ID_U2, u_readdir, A(.p = "pm/own0"));
	uck("perm.owner_denied_stat", &ID_U2, u_stat, A(.p = "pm/own0/f"));
	uck("perm.owner_can_chmod", &ID_U2, u_chmod, A(.p = "pm/own0", .n = 0700));
	uck("perm.owner_after_chmod", &ID_U2, u_readdir, A(.p = "pm/own0"));
}

