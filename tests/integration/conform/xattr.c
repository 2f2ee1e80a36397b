/*
 * Checks of extended attributes in the user, trusted and security namespaces on files,
 * directories, symbolic links and fifos, for root and for other users, and of POSIX ACLs stored
 * in them: access and default ACLs, their effect on permission checks and on new files.
 */
#include "conform.h"

#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* --- extended attributes -------------------------------------------------------------------- */

/* One entry of a POSIX ACL in the kernel's xattr format (version 2, little-endian here). */
struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

/*
 * Build an ACL into buf: owner rw, the group and others with the given permission bits;
 * with_user adds user 65534 rw and the mask rw that a named entry needs. Returns its size.
 */
static size_t make_acl(char *buf, bool with_user, uint16_t group, uint16_t other)
{
	struct acl_entry e[5];
	uint32_t version = 2;
	size_t n = 0;

	e[n++] = (struct acl_entry){ 0x01, 6, (uint32_t)-1 };         /* ACL_USER_OBJ */
	if (with_user)
		e[n++] = (struct acl_entry){ 0x02, 6, 65534 };        /* ACL_USER */
	e[n++] = (struct acl_entry){ 0x04, group, (uint32_t)-1 };     /* ACL_GROUP_OBJ */
	if (with_user)
		e[n++] = (struct acl_entry){ 0x10, 6, (uint32_t)-1 }; /* ACL_MASK */
	e[n++] = (struct acl_entry){ 0x20, other, (uint32_t)-1 };     /* ACL_OTHER */
	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, n * sizeof(e[0]));
	return 4 + n * sizeof(e[0]);
}

void check_xattr(void)
{
	static char bigval[70000];
	char buf[256], acl[64];
	struct tsnap s;
	ssize_t n;
	size_t len;

	mkdirm("xa", 0777);
	mkfile("xa/f", 0644, "x");
	mkdirm("xa/d", 0755);
	slink("f", "xa/l");
	setup("xa/p", SYS(mkfifo("xa/p", 0666)));
	emit("xattr.list_empty", "%s", list_xattrs("xa/f", true));
	ck("xattr.set", SYS(setxattr("xa/f", "user.one", "1", 1, 0)));
	ck("xattr.set_binary", SYS(setxattr("xa/f", "user.bin", "a\0b\xff", 4, 0)));
	ck("xattr.set_empty", SYS(setxattr("xa/f", "user.empty", "", 0, 0)));
	emit("xattr.get", "%s", get_xattr("xa/f", "user.one"));
	emit("xattr.get_binary", "%s", get_xattr("xa/f", "user.bin"));
	emit("xattr.get_empty", "%s", get_xattr("xa/f", "user.empty"));
	emit("xattr.get_missing", "%s", get_xattr("xa/f", "user.none"));
	emit("xattr.list", "%s", list_xattrs("xa/f", false));
	ck("xattr.get_size_query", neg_errno(getxattr("xa/f", "user.bin", NULL, 0)));
	ck("xattr.get_small_buffer", neg_errno(getxattr("xa/f", "user.bin", buf, 2)));
	ck("xattr.list_size_query", neg_errno(listxattr("xa/f", NULL, 0)));
	ck("xattr.list_small_buffer", neg_errno(listxattr("xa/f", buf, 5)));
	ck("xattr.create_existing", SYS(setxattr("xa/f", "user.one", "2", 1, XATTR_CREATE)));
	ck("xattr.replace_missing", SYS(setxattr("xa/f", "user.two", "2", 1, XATTR_REPLACE)));
	ck("xattr.replace_existing", SYS(setxattr("xa/f", "user.one", "11", 2, XATTR_REPLACE)));
	emit("xattr.replace_existing_value", "%s", get_xattr("xa/f", "user.one"));
	ck("xattr.create_new", SYS(setxattr("xa/f", "user.two", "2", 1, XATTR_CREATE)));
	ck("xattr.bad_flags", SYS(setxattr("xa/f", "user.two", "2", 1, 4)));
	ck("xattr.both_flags", SYS(setxattr("xa/f", "user.two", "2", 1,
					    XATTR_CREATE | XATTR_REPLACE)));
	ck("xattr.remove", SYS(removexattr("xa/f", "user.two")));
	ck("xattr.remove_missing", SYS(removexattr("xa/f", "user.two")));
	emit("xattr.list_after_remove", "%s", list_xattrs("xa/f", false));
	memset(bigval, 'v', sizeof(bigval));
	ck("xattr.value_1000", SYS(setxattr("xa/f", "user.big", bigval, 1000, 0)));
	ck("xattr.value_1000_size", neg_errno(getxattr("xa/f", "user.big", NULL, 0)));
	ck("xattr.value_too_big", SYS(setxattr("xa/f", "user.huge", bigval, 70000, 0)));
	memset(buf, 'n', 255);
	memcpy(buf, "user.", 5);
	buf[255] = '\0';
	ck("xattr.name_255", SYS(setxattr("xa/f", buf, "n", 1, 0)));
	{
		char longname[300];

		memset(longname, 'n', 299);
		memcpy(longname, "user.", 5);
		longname[299] = '\0';
		ck("xattr.name_too_long", SYS(setxattr("xa/f", longname, "n", 1, 0)));
	}
	ck("xattr.name_empty", SYS(setxattr("xa/f", "", "n", 1, 0)));
	ck("xattr.name_user_only", SYS(setxattr("xa/f", "user.", "n", 1, 0)));
	ck("xattr.bad_namespace", SYS(setxattr("xa/f", "bogus.x", "n", 1, 0)));
	ck("xattr.get_bad_namespace", neg_errno(getxattr("xa/f", "bogus.x", buf, sizeof(buf))));
	ck("xattr.missing_file", SYS(setxattr("xa/none", "user.x", "n", 1, 0)));
	ck("xattr.dir_set", SYS(setxattr("xa/d", "user.d", "dir", 3, 0)));
	emit("xattr.dir_get", "%s", get_xattr("xa/d", "user.d"));
	ck("xattr.follow_symlink_set", SYS(setxattr("xa/l", "user.via", "link", 4, 0)));
	emit("xattr.follow_symlink_target", "%s", get_xattr("xa/f", "user.via"));
	ck("xattr.symlink_user", SYS(lsetxattr("xa/l", "user.x", "n", 1, 0)));
	emit("xattr.symlink_user_get", "%s", get_xattr("xa/l", "user.x"));
	ck("xattr.symlink_trusted", SYS(lsetxattr("xa/l", "trusted.t", "lt", 2, 0)));
	emit("xattr.symlink_trusted_get", "%s", get_xattr("xa/l", "trusted.t"));
	emit("xattr.symlink_list", "%s", list_xattrs("xa/l", true));
	ck("xattr.symlink_trusted_remove", SYS(lremovexattr("xa/l", "trusted.t")));
	ck("xattr.fifo_user", SYS(setxattr("xa/p", "user.x", "n", 1, 0)));
	ck("xattr.fifo_trusted", SYS(setxattr("xa/p", "trusted.x", "fifo", 4, 0)));
	emit("xattr.fifo_trusted_get", "%s", get_xattr("xa/p", "trusted.x"));
	ck("xattr.trusted_set", SYS(setxattr("xa/f", "trusted.t", "root", 4, 0)));
	emit("xattr.trusted_get", "%s", get_xattr("xa/f", "trusted.t"));
	ck("xattr.security_set", SYS(setxattr("xa/f", "security.test", "sec", 3, 0)));
	emit("xattr.security_get", "%s", get_xattr("xa/f", "security.test"));
	emit("xattr.list_all", "%s", list_xattrs("xa/f", false));
	s = snap("xa/f");
	setup("xa/f", SYS(setxattr("xa/f", "user.t", "t", 1, 0)));
	emit("xattr.set_times", "%s", compare_times("xa/f", &s));
	s = snap("xa/f");
	n = getxattr("xa/f", "user.t", buf, sizeof(buf));
	emit("xattr.get_times", "%s %s", fmt_result(neg_errno(n)), compare_times("xa/f", &s));
	{
		int fd = open("xa/f", O_RDONLY | O_CLOEXEC);

		ck("xattr.fsetxattr", SYS(fsetxattr(fd, "user.fd", "fd", 2, 0)));
		n = fgetxattr(fd, "user.fd", buf, sizeof(buf));
		emit("xattr.fgetxattr", "%s", n < 0 ? fmt_result(-errno) : escape(buf, (size_t)n));
		ck("xattr.fremovexattr", SYS(fremovexattr(fd, "user.fd")));
		if (fd >= 0)
			close(fd);
	}

	/* as other users */
	mkfile("xa/ro", 0644, "x");
	setup("xa/ro", SYS(setxattr("xa/ro", "user.r", "r", 1, 0)));
	mkfile("xa/secret", 0600, "x");
	setup("xa/secret", SYS(setxattr("xa/secret", "user.s", "s", 1, 0)));
	mkfile("xa/rw", 0666, "x");
	uck("xattr.nobody_get_readable", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/ro", .q = "user.r", .n = 64));
	uck("xattr.nobody_set_readonly", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/ro", .q = "user.n", .buf = "n", .len = 1));
	uck("xattr.nobody_remove_readonly", &ID_NOBODY, u_removexattr,
	    A(.p = "xa/ro", .q = "user.r"));
	uck("xattr.nobody_get_unreadable", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/secret", .q = "user.s", .n = 64));
	uck("xattr.nobody_list_unreadable", &ID_NOBODY, u_listxattr, A(.p = "xa/secret"));
	uck("xattr.nobody_set_writable", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "user.n", .buf = "nb", .len = 2));
	emit("xattr.nobody_set_writable_value", "%s", get_xattr("xa/rw", "user.n"));
	uck("xattr.nobody_set_trusted", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "trusted.n", .buf = "n", .len = 1));
	uck("xattr.nobody_get_trusted", &ID_NOBODY, u_getxattr,
	    A(.p = "xa/f", .q = "trusted.t", .n = 64));
	uck("xattr.nobody_list_with_trusted", &ID_NOBODY, u_listxattr, A(.p = "xa/f"));
	uck("xattr.nobody_set_security", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/rw", .q = "security.n", .buf = "n", .len = 1));
	mkdirm("xa/sticky", 01777);
	uck("xattr.nobody_sticky_dir_others", &ID_NOBODY, u_setxattr,
	    A(.p = "xa/sticky", .q = "user.n", .buf = "n", .len = 1));

	/* POSIX ACLs, as system.posix_acl_access and _default */
	mkfile("xa/acl", 0600, "acl");
	len = make_acl(acl, true, 4, 0);
	ck("acl.set_access", SYS(setxattr("xa/acl", "system.posix_acl_access", acl, len, 0)));
	show("acl.set_access_mode", "xa/acl");
	emit("acl.get_access", "%s", get_xattr("xa/acl", "system.posix_acl_access"));
	uck("acl.nobody_read_granted", &ID_NOBODY, u_read, A(.p = "xa/acl"));
	uck("acl.u3_read_denied", &ID_U3, u_read, A(.p = "xa/acl"));
	uck("acl.nobody_access_w", &ID_NOBODY, u_access, A(.p = "xa/acl", .n = W_OK));
	setup("xa/acl", SYS(chmod("xa/acl", 0600)));
	uck("acl.nobody_after_chmod", &ID_NOBODY, u_read, A(.p = "xa/acl"));
	mkdirm("xa/acldir", 0755);
	len = make_acl(acl, false, 4, 0);
	ck("acl.set_default", SYS(setxattr("xa/acldir", "system.posix_acl_default", acl, len, 0)));
	ck_show("acl.default_inherited_file", try_open("xa/acldir/f", O_CREAT | O_WRONLY, 0666,
						      NULL), "xa/acldir/f");
	ck_show("acl.default_inherited_dir", SYS(mkdir("xa/acldir/d", 0777)), "xa/acldir/d");
	emit("acl.default_inherited_dir_acl", "%s",
	     get_xattr("xa/acldir/d", "system.posix_acl_default"));
	/* a default ACL replaces the umask: group write survives umask 022 */
	mkdirm("xa/acldir2", 0777);
	len = make_acl(acl, false, 6, 4);
	ck("acl.set_default_group_rw", SYS(setxattr("xa/acldir2", "system.posix_acl_default", acl,
						    len, 0)));
	ck_show("acl.default_no_umask_file", try_open("xa/acldir2/f", O_CREAT | O_WRONLY, 0666,
						      NULL), "xa/acldir2/f");
	ck_show("acl.default_no_umask_dir", SYS(mkdir("xa/acldir2/d", 0777)), "xa/acldir2/d");
	uck_show("acl.default_no_umask_nobody", &ID_NOBODY, u_open,
		 A(.p = "xa/acldir2/nb", .n = O_CREAT | O_WRONLY, .m = 0666), "xa/acldir2/nb");
	ck("acl.remove_access", SYS(removexattr("xa/acl", "system.posix_acl_access")));
	ck("acl.bad_value", SYS(setxattr("xa/acl", "system.posix_acl_access", "bad", 3, 0)));
}

