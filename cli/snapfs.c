/*
 * snapfs: the administration command. Each subcommand is a function taking its own argv
 * (argv[0] is the subcommand's name); it prints results to stdout, errors to stderr, and
 * returns an exit status. The snapshot commands talk to the daemon of a volume through
 * control_client.h; the daemon does the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "control_client.h"
#include "expose.h"
#include "fusefs.h"
#include "mountinfo.h"
#include "provider.h"
#include "revert.h"
#include "sets.h"
#include "storage.h"
#include "transfer.h"
#include "snapfs/snapfs.h"
#include "volume.h"

#define UMOUNT_WAIT_MS 30000

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfs COMMAND [ARGS]\n"
		     "\n"
		     "commands:\n"
		     "  mount [-f] [-o OPTIONS] SRC MNT   serve the directory SRC at MNT\n"
		     "  umount MNT                        unmount a snapfs volume\n"
		     "  create [shadow] MNT...            take a snapshot set of volumes, with\n"
		     "                                    their writers\n"
		     "  list shadows [MNT]                list the snapshots\n"
		     "  list providers [SRC]              list the ways snapshots can be made\n"
		     "  list writers                      list the writers and their states\n"
		     "  list volumes                      list the snapfs volumes\n"
		     "  list shadowstorage [MNT]          show the diff areas and their bounds\n"
		     "  add|resize shadowstorage --for MNT --maxsize SIZE\n"
		     "                                    bound a volume's diff area\n"
		     "  delete shadowstorage --for MNT    delete its snapshots, lift the bound\n"
		     "  delete shadows --id ID [MNT] | --set SET | --oldest MNT | --all MNT\n"
		     "                                    delete snapshots\n"
		     "  export ID FILE                    write a snapshot to a transportable file\n"
		     "  import FILE                       make an export a detached snapshot\n"
		     "  get [PROP] MNT                    show a volume's properties\n"
		     "  set PROP=VALUE MNT                change a volume's property\n"
		     "  expose [--temporary] ID DIR       mount a snapshot read-only at DIR\n"
		     "  unexpose DIR|ID                   unmount an exposed snapshot\n"
		     "  list exposed                      list the exposed snapshots\n"
		     "  revert [--no-keep] ID [PATH]      make a volume (or PATH) what it was in\n"
		     "                                    snapshot ID\n"
		     "  break [--writable] ID DIR         turn a snapshot into a directory of its\n"
		     "                                    own, off its volume\n"
		     "  version                           print the version\n"
		     "\n"
		     "'snapfs COMMAND --help' describes a command.\n");
}

/* Unmount mnt: umount2 as root, fusermount3 otherwise. Returns 0 or a negative errno. */
static int unmount_path(const char *mnt)
{
	pid_t pid;
	int st;

	if (geteuid() == 0)
		return umount2(mnt, UMOUNT_NOFOLLOW) < 0 ? -errno : 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-q", mnt, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EBUSY;
}

static int cmd_umount(int argc, char **argv)
{
	struct mountinfo_entry me;
	char real[PATH_MAX];
	int r;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: snapfs umount MNT\n\nUnmount the snapfs volume at MNT and wait for "
		       "its daemon to finish.\n");
		return EXIT_SUCCESS;
	}
	if (argc != 2) {
		fprintf(stderr, "snapfs umount: expected one mount point (see 'snapfs umount "
				"--help')\n");
		return EXIT_FAILURE;
	}
	if (!realpath(argv[1], real)) {
		fprintf(stderr, "snapfs umount: '%s': %s\n", argv[1], strerror(errno));
		return EXIT_FAILURE;
	}
	r = mountinfo_find(real, &me);
	if (r < 0 || strcmp(me.fstype, SNAPFS_FSTYPE) != 0) {
		fprintf(stderr, "snapfs umount: '%s' is not a snapfs mount\n", argv[1]);
		return EXIT_FAILURE;
	}
	r = unmount_path(real);
	if (r < 0) {
		fprintf(stderr, "snapfs umount: cannot unmount '%s': %s\n", argv[1], strerror(-r));
		return EXIT_FAILURE;
	}
	r = volume_wait_unlocked(me.source, UMOUNT_WAIT_MS);
	if (r < 0) {
		fprintf(stderr, "snapfs umount: the daemon of '%s' has not finished after %d s\n",
			me.source, UMOUNT_WAIT_MS / 1000);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* ---- snapshot commands: requests to the daemon of a volume ---------------------------- */

#define SNAP_ID_MAX 36       /* ids and set ids are UUIDs */
#define VALUE_MAX 4000       /* a request line stays under the daemon's 4 KiB bound */

static const char list_usage[] =
	"usage: snapfs list shadows [-H] [MNT]\n"
	"\n"
	"List the snapshots of the snapfs volume at MNT, or of every snapfs volume: id,\n"
	"set id, volume, creation time (UTC), browse name, the bytes that deleting the\n"
	"snapshot would free, and how it is stored: 'journal' (served by the\n"
	"copy-on-write journal, or a complete copy still being made) or 'tree' (a\n"
	"directory tree of its own: a finished complete copy, a btrfs snapshot).\n"
	"\n"
	"  -H   one snapshot per line, fields separated by tabs, no headings\n";

static const char delete_usage[] =
	"usage: snapfs delete shadows --id ID [MNT] | --set SET | --oldest MNT | --all MNT\n"
	"\n"
	"Delete snapshots and give back the diff-area space only they need. An exposed\n"
	"snapshot is not deleted: 'snapfs unexpose' it first.\n"
	"\n"
	"  --id ID    the snapshot ID, of the volume at MNT, or of whichever snapfs\n"
	"             volume has it (or the detached one) when MNT is left out\n"
	"  --set SET  every snapshot of the set SET, on every volume and detached\n"
	"  --oldest   the oldest snapshot of the volume at MNT\n"
	"  --all      every snapshot of the volume at MNT\n";

static const char get_usage[] =
	"usage: snapfs get [-H] [PROP] MNT\n"
	"\n"
	"Show the property PROP of the snapfs volume at MNT, or all of them:\n"
	"  chunksize             bytes preserved at once (fixed at the first mount)\n"
	"  maxsize               bound of the diff area in bytes, 0 for none\n"
	"  mindiffareafilesize   bytes allocated for the diff area at first\n"
	"  maxshadowcopies       snapshots shown under .snapshots/\n"
	"  filesnottosnapshot    ':'-separated patterns of files left out\n"
	"  diffarea              directory of the diff area\n"
	"  provider, method      how snapshots are made (fixed at the first mount)\n"
	"  autorecover           yes when writers may repair a set's snapshots before\n"
	"                        they are sealed (the provider's; see docs/coordinator.md)\n"
	"\n"
	"  -H   NAME and VALUE separated by a tab, one property per line\n";

static const char set_usage[] =
	"usage: snapfs set PROP=VALUE MNT\n"
	"\n"
	"Change the property PROP of the snapfs volume at MNT ('snapfs get --help' lists\n"
	"them). The daemon checks the value and keeps it across mounts.\n";

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* An id, set id or property name as the protocol carries it: one word of printable bytes. */
static bool is_word(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

/* The value of --opt VALUE or --opt=VALUE at argv[*i] (advancing *i), or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *opt)
{
	size_t n = strlen(opt);

	if (strncmp(argv[*i], opt, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* Find the volume at mnt, or say why not. */
static int find_volume(const char *cmd, const char *mnt, struct control_volume *v)
{
	int r = control_volume_find(mnt, v);

	if (r == -ENOTCONN)
		fprintf(stderr, "snapfs %s: '%s' is not a snapfs mount\n", cmd, mnt);
	else if (r < 0)
		fprintf(stderr, "snapfs %s: '%s': %s\n", cmd, mnt, strerror(-r));
	return r;
}

/*
 * Send line to the daemon of v. Returns 0 with the reply in rep (which the caller releases),
 * whether 'ok' or 'err'; or a negative errno once it has said why the daemon gave no reply.
 */
static int request(const char *cmd, const struct control_volume *v, const char *line,
		   struct control_reply *rep)
{
	int r = control_request(v, line, rep);

	if (r == -EBADMSG)
		fprintf(stderr, "snapfs %s: the daemon of '%s' sent a malformed reply\n", cmd,
			v->mnt);
	else if (r < 0)
		fprintf(stderr, "snapfs %s: cannot reach the daemon of '%s' (socket in '%s/%s'): "
				"%s\n", cmd, v->mnt, v->src, VOLUME_STATE_DIR, strerror(-r));
	if (r < 0)
		control_reply_release(rep);
	return r;
}

/* Say what the daemon of v refused, in its words. */
static void report_refusal(const char *cmd, const struct control_volume *v,
			   const struct control_reply *rep)
{
	fprintf(stderr, "snapfs %s: '%s': %s\n", cmd, v->mnt,
		rep->rest[0] ? rep->rest : strerror(rep->err));
}

/* request(), and report_refusal() for an 'err' reply: 0 only for 'ok'. */
static int request_ok(const char *cmd, const struct control_volume *v, const char *line,
		      struct control_reply *rep)
{
	int r = request(cmd, v, line, rep);

	if (r < 0)
		return r;
	if (rep->err) {
		report_refusal(cmd, v, rep);
		r = -rep->err;
		control_reply_release(rep);
	}
	return r;
}

/* 'create --set SET_ID MNT': one snapshot, directly from the daemon, into an existing set. */
static int create_in_set(int argc, char **argv)
{
	const char *mnt = NULL, *set_id = NULL;
	char line[64], id[SNAP_ID_MAX + 1], set[SNAP_ID_MAX + 1], browse[64];
	struct control_volume v;
	struct control_reply rep;
	bool tabs = false;
	int r, wb_err, n, i;

	for (i = 1; i < argc; i++) {
		const char *val;

		if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else if ((val = option_value(argc, argv, &i, "--set"))) {
			set_id = val;
		} else if (strcmp(argv[i], "--set") == 0) {
			fprintf(stderr, "snapfs create: --set needs a snapshot set id\n");
			return EXIT_FAILURE;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs create: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			fprintf(stderr, "snapfs create: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (!mnt) {
		fprintf(stderr, "snapfs create: expected a mount point (see 'snapfs create "
				"--help')\n");
		return EXIT_FAILURE;
	}
	if (set_id && !is_word(set_id, SNAP_ID_MAX)) {
		fprintf(stderr, "snapfs create: bad snapshot set id '%s'\n", set_id);
		return EXIT_FAILURE;
	}
	if (find_volume("create", mnt, &v) < 0)
		return EXIT_FAILURE;
	/* the kernel's writeback cache holds writes the daemon has not seen yet */
	r = control_volume_flush(&v, &wb_err);
	if (r < 0) {
		fprintf(stderr, "snapfs create: cannot flush '%s': %s\n", mnt, strerror(-r));
		return EXIT_FAILURE;
	}
	if (wb_err)
		fprintf(stderr, "snapfs create: warning: a write-back to '%s' failed while "
			"flushing: %s\n", mnt, strerror(wb_err));
	if (set_id)
		snprintf(line, sizeof(line), "create %s", set_id);
	else
		snprintf(line, sizeof(line), "create");
	if (request_ok("create", &v, line, &rep) < 0)
		return EXIT_FAILURE;
	if (sscanf(rep.rest, "%36s %36s %63s%n", id, set, browse, &n) != 3 || rep.rest[n]) {
		fprintf(stderr, "snapfs create: the daemon of '%s' sent a malformed reply\n", mnt);
		control_reply_release(&rep);
		return EXIT_FAILURE;
	}
	control_reply_release(&rep);
	if (tabs)
		printf("%s\t%s\t%s\t%s\n", id, set, browse, v.mnt);
	else
		printf("Snapshot ID: %s\n  Set ID:      %s\n  Volume:      %s\n"
		       "  Browse name: %s\n", id, set, v.mnt, browse);
	return EXIT_SUCCESS;
}

static int cmd_create(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i]))
			break;
		if (strcmp(argv[i], "--set") == 0 || strncmp(argv[i], "--set=", 6) == 0)
			return create_in_set(argc, argv);
	}
	return sets_create(argc, argv);
}

/* One snapshot as 'list shadows' shows it; a detached one has no diff bytes of a volume. */
static void print_shadow(const struct admin_shadow *s, bool tabs, size_t *count)
{
	char created[32];

	admin_format_utc(s->created_ns, created, sizeof(created));
	if (tabs)
		printf("%s\t%s\t%s\t%s\t%s\t%" PRIu64 "\t%s\n", s->id, s->set_id, s->origin,
		       created, s->browse, s->diff_bytes, s->kind);
	else if (s->detached)
		printf("%sSnapshot ID: %s\n  Set ID:        %s\n  Volume:        %s "
		       "(detached)\n  Created (UTC): %s\n  Browse name:   %s\n"
		       "  Stored as:     detached\n", *count ? "\n" : "", s->id, s->set_id, s->origin,
		       created, s->browse);
	else
		printf("%sSnapshot ID: %s\n  Set ID:        %s\n  Volume:        %s\n"
		       "  Created (UTC): %s\n  Browse name:   %s\n  Diff bytes:    %" PRIu64
		       "\n  Stored as:     %s\n", *count ? "\n" : "", s->id, s->set_id, s->origin,
		       created, s->browse, s->diff_bytes, s->kind);
	++*count;
}

/*
 * List the snapshots of v, or the detached ones when v is NULL; *count grows by how many.
 * Returns 0, or -1 once it has said why not.
 */
static int list_some(const struct control_volume *v, bool tabs, size_t *count)
{
	struct admin_shadow *sv;
	char msg[ADMIN_MSG];
	size_t n;

	if ((v ? admin_shadows(v, &sv, &n, msg, sizeof(msg))
	       : admin_detached(&sv, &n, msg, sizeof(msg))) < 0) {
		fprintf(stderr, "snapfs list shadows: %s\n", msg);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		print_shadow(&sv[i], tabs, count);
	free(sv);
	return 0;
}

static const char providers_usage[] =
	"usage: snapfs list providers [-H] [SRC]\n"
	"\n"
	"List the providers, the ways snapfs can make snapshots: name, method, whether\n"
	"the filesystem makes the snapshot (offload), and what it does. With SRC (a\n"
	"directory to serve, or the mount point of a snapfs volume), also whether each\n"
	"can serve that volume, why not when not, and which one a mounted volume uses.\n"
	"'snapfs mount --method M' takes the first that can serve SRC for method M;\n"
	"'--provider NAME' names one.\n"
	"\n"
	"  -H   one provider per line, fields separated by tabs, no headings: name,\n"
	"       method, offload (yes/no), serves SRC (yes/no/-), reason\n";

/* The provider the volume v uses, into buf ("" when its daemon cannot say). */
static void volume_provider(const struct control_volume *v, char *buf, size_t size)
{
	struct control_reply rep;

	buf[0] = '\0';
	if (request_ok("list providers", v, "get provider", &rep) < 0)
		return;
	if (rep.n == 1 && strncmp(rep.lines[0], "prop provider ", 14) == 0)
		snprintf(buf, size, "%s", rep.lines[0] + 14);
	control_reply_release(&rep);
}

static int list_providers(int argc, char **argv)
{
	const char *path = NULL;
	char used[64] = "";
	struct control_volume v;
	bool tabs = false;
	int src_fd = -1;

	for (int i = 2; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(providers_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs list providers: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!path) {
			path = argv[i];
		} else {
			fprintf(stderr, "snapfs list providers: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (path) {
		const char *src = path;

		if (control_volume_find(path, &v) == 0) {
			src = v.src;
			volume_provider(&v, used, sizeof(used));
		}
		src_fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src_fd < 0) {
			fprintf(stderr, "snapfs list providers: '%s': %s\n", src, strerror(errno));
			return EXIT_FAILURE;
		}
	}
	for (size_t i = 0; providers[i]; i++) {
		const struct provider *p = providers[i];
		char why[512] = "";
		int r = src_fd >= 0 ? p->probe(src_fd, why, sizeof(why)) : 0;
		const char *serves = src_fd < 0 ? "-" : r == 0 ? "yes" : "no";

		if (tabs) {
			printf("%s\t%s\t%s\t%s\t%s\n", p->name, p->method, p->offload ? "yes" : "no",
			       serves, why);
			continue;
		}
		printf("%sProvider: %s%s\n  Method:   %s (%s)%s\n  What:     %s\n", i ? "\n" : "",
		       p->name, strcmp(used, p->name) == 0 ? "   (this volume's)" : "", p->method,
		       provider_method_name(p->method), p->offload ? ", offloaded" : "",
		       p->summary);
		if (src_fd >= 0)
			printf("  Serves:   %s%s%s\n", serves, r ? ": " : "", why);
	}
	if (src_fd >= 0)
		(void)close(src_fd);
	return EXIT_SUCCESS;
}

static int cmd_list(int argc, char **argv)
{
	struct control_volume *vols = NULL, one;
	const char *mnt = NULL;
	bool tabs = false, failed = false;
	size_t count = 0;
	int i, n;

	if (argc >= 2 && strcmp(argv[1], "providers") == 0)
		return list_providers(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "exposed") == 0)
		return cmd_list_exposed(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "writers") == 0)
		return sets_list_writers(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "volumes") == 0)
		return cmd_list_volumes(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "shadowstorage") == 0)
		return cmd_shadowstorage(argc, argv);
	if (argc < 2 || strcmp(argv[1], "shadows") != 0) {
		if (argc >= 2 && is_help(argv[1]))
			fputs(list_usage, stdout);
		else
			fprintf(stderr, "snapfs list: expected 'shadows', 'writers', 'providers', "
					"'volumes', 'shadowstorage' or 'exposed' (see 'snapfs --help')\n");
		return argc >= 2 && is_help(argv[1]) ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	for (i = 2; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(list_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs list shadows: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			fprintf(stderr, "snapfs list shadows: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (mnt) {
		if (find_volume("list shadows", mnt, &one) < 0)
			return EXIT_FAILURE;
		vols = &one;
		n = 1;
	} else {
		n = control_volume_list(&vols);
		if (n < 0) {
			fprintf(stderr, "snapfs list shadows: cannot read the mount table: %s\n",
				strerror(-n));
			return EXIT_FAILURE;
		}
	}
	for (i = 0; i < n; i++)
		if (list_some(&vols[i], tabs, &count) < 0)
			failed = true;
	if (!mnt && list_some(NULL, tabs, &count) < 0)
		failed = true;
	if (!tabs && count == 0 && !failed) {
		if (mnt)
			printf("no snapshots of '%s'\n", one.mnt);
		else
			printf(n ? "no snapshots\n" : "no snapfs volumes are mounted\n");
	}
	if (vols != &one)
		free(vols);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* delete --id ID wherever it is: a volume's, or a detached one. */
static int delete_id_anywhere(const char *id)
{
	struct admin_shadow sh;
	char msg[ADMIN_MSG];

	if (admin_find_shadow(id, &sh, msg, sizeof(msg)) < 0 ||
	    admin_delete(&sh, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs delete shadows: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (sh.detached)
		printf("deleted detached snapshot %s\n", id);
	else
		printf("deleted snapshot %s from '%s'\n", id, sh.vol.mnt);
	return EXIT_SUCCESS;
}

/*
 * delete --set SET: every snapshot of the set, on every volume and detached; none when one of
 * them is exposed.
 */
static int delete_set(const char *set)
{
	struct admin_shadow *v;
	char msg[ADMIN_MSG];
	size_t n, done = 0;

	if (admin_shadows(NULL, &v, &n, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "snapfs delete shadows: %s\n", msg);
		return EXIT_FAILURE;
	}
	if (msg[0])
		fprintf(stderr, "snapfs delete shadows: warning: %s; its snapshots are left\n", msg);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].set_id, set) == 0 &&
		    admin_check_unexposed(v[i].id, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs delete shadows: %s\n", msg);
			free(v);
			return EXIT_FAILURE;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].set_id, set) != 0)
			continue;
		if (admin_delete(&v[i], msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs delete shadows: %s (after deleting %zu)\n", msg,
				done);
			free(v);
			return EXIT_FAILURE;
		}
		done++;
	}
	free(v);
	if (!done) {
		fprintf(stderr, "snapfs delete shadows: no snapshot of set '%s'\n", set);
		return EXIT_FAILURE;
	}
	printf("deleted %zu snapshot%s of set %s\n", done, done == 1 ? "" : "s", set);
	return EXIT_SUCCESS;
}

/* Whether a snapshot of v that 'mode' (--oldest, --all) would delete is exposed: says so. */
static bool volume_exposed(const struct control_volume *v, const char *mode)
{
	struct admin_shadow *sv;
	char msg[ADMIN_MSG];
	size_t n;
	bool found = false;

	if (admin_shadows(v, &sv, &n, msg, sizeof(msg)) < 0)
		return false; /* the request that follows reports it */
	for (size_t i = 0; !found && i < (strcmp(mode, "--oldest") == 0 && n ? 1 : n); i++) {
		if (admin_check_unexposed(sv[i].id, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs delete shadows: %s\n", msg);
			found = true;
		}
	}
	free(sv);
	return found;
}

static int cmd_delete(int argc, char **argv)
{
	const char *mnt = NULL, *id = NULL, *mode = NULL;
	struct control_volume v;
	struct control_reply rep;
	char line[64];
	int i, r;

	if (argc < 2 || strcmp(argv[1], "shadows") != 0) {
		if (argc >= 2 && is_help(argv[1]))
			fputs(delete_usage, stdout);
		else
			fprintf(stderr, "snapfs delete: expected 'shadows' (see 'snapfs delete "
					"shadows --help')\n");
		return argc >= 2 && is_help(argv[1]) ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	for (i = 2; i < argc; i++) {
		const char *val;

		if (is_help(argv[i])) {
			fputs(delete_usage, stdout);
			return EXIT_SUCCESS;
		} else if ((val = option_value(argc, argv, &i, "--id"))) {
			if (mode) {
				fprintf(stderr, "snapfs delete shadows: give one of --id, --oldest "
						"and --all\n");
				return EXIT_FAILURE;
			}
			mode = "--id";
			id = val;
		} else if ((val = option_value(argc, argv, &i, "--set"))) {
			if (mode) {
				fprintf(stderr, "snapfs delete shadows: give one of --id, --set, "
						"--oldest and --all\n");
				return EXIT_FAILURE;
			}
			mode = "--set";
			id = val;
		} else if (strcmp(argv[i], "--oldest") == 0 || strcmp(argv[i], "--all") == 0) {
			if (mode) {
				fprintf(stderr, "snapfs delete shadows: give one of --id, --oldest "
						"and --all\n");
				return EXIT_FAILURE;
			}
			mode = argv[i];
		} else if (strcmp(argv[i], "--id") == 0) {
			fprintf(stderr, "snapfs delete shadows: --id needs a snapshot id\n");
			return EXIT_FAILURE;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs delete shadows: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			fprintf(stderr, "snapfs delete shadows: unexpected argument '%s'\n",
				argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (!mode) {
		fprintf(stderr, "snapfs delete shadows: expected --id ID, --oldest or --all (see "
				"'snapfs delete shadows --help')\n");
		return EXIT_FAILURE;
	}
	if (id && !is_word(id, SNAP_ID_MAX)) {
		fprintf(stderr, "snapfs delete shadows: bad snapshot id '%s'\n", id);
		return EXIT_FAILURE;
	}
	if (strcmp(mode, "--set") == 0 && mnt) {
		fprintf(stderr, "snapfs delete shadows: --set takes no mount point\n");
		return EXIT_FAILURE;
	}
	if (strcmp(mode, "--set") == 0)
		return delete_set(id);
	if (!mnt && id)
		return delete_id_anywhere(id);
	if (!mnt) {
		fprintf(stderr, "snapfs delete shadows: %s needs a mount point\n", mode);
		return EXIT_FAILURE;
	}
	if (find_volume("delete shadows", mnt, &v) < 0)
		return EXIT_FAILURE;
	if (id) {
		char msg[ADMIN_MSG];

		if (admin_check_unexposed(id, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "snapfs delete shadows: %s\n", msg);
			return EXIT_FAILURE;
		}
	} else if (volume_exposed(&v, mode)) {
		return EXIT_FAILURE;
	}
	if (id)
		snprintf(line, sizeof(line), "delete %s", id);
	else if (strcmp(mode, "--all") == 0)
		snprintf(line, sizeof(line), "delete-all");
	else
		snprintf(line, sizeof(line), "delete-oldest");
	r = request("delete shadows", &v, line, &rep);
	if (r < 0)
		return EXIT_FAILURE;
	if (rep.err == ENOENT && id)
		fprintf(stderr, "snapfs delete shadows: no snapshot '%s' on '%s'\n", id, v.mnt);
	else if (rep.err == ENOENT && !id)
		fprintf(stderr, "snapfs delete shadows: '%s' has no snapshots\n", v.mnt);
	else if (rep.err)
		report_refusal("delete shadows", &v, &rep);
	else if (id)
		printf("deleted snapshot %s from '%s'\n", id, v.mnt);
	else if (strcmp(mode, "--oldest") == 0 && strncmp(rep.rest, "1 ", 2) == 0)
		printf("deleted snapshot %s from '%s'\n", rep.rest + 2, v.mnt);
	else if (strcmp(mode, "--oldest") == 0)
		printf("deleted the oldest snapshot from '%s'\n", v.mnt);
	else
		printf("deleted %s snapshot%s from '%s'\n", rep.rest,
		       strcmp(rep.rest, "1") == 0 ? "" : "s", v.mnt);
	r = rep.err ? EXIT_FAILURE : EXIT_SUCCESS;
	control_reply_release(&rep);
	return r;
}

static int cmd_get(int argc, char **argv)
{
	const char *pos[2], *prop = NULL;
	struct control_volume v;
	struct control_reply rep;
	char line[300];
	bool tabs = false;
	int i, npos = 0, r = EXIT_SUCCESS;

	for (i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(get_usage, stdout);
			return EXIT_SUCCESS;
		} else if (strcmp(argv[i], "-H") == 0) {
			tabs = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "snapfs get: unknown option '%s'\n", argv[i]);
			return EXIT_FAILURE;
		} else if (npos < 2) {
			pos[npos++] = argv[i];
		} else {
			fprintf(stderr, "snapfs get: unexpected argument '%s'\n", argv[i]);
			return EXIT_FAILURE;
		}
	}
	if (npos == 0) {
		fprintf(stderr, "snapfs get: expected a mount point (see 'snapfs get --help')\n");
		return EXIT_FAILURE;
	}
	if (npos == 2)
		prop = pos[0];
	if (prop && !is_word(prop, 255)) {
		fprintf(stderr, "snapfs get: unknown property '%s'\n", prop);
		return EXIT_FAILURE;
	}
	if (find_volume("get", pos[npos - 1], &v) < 0)
		return EXIT_FAILURE;
	if (prop)
		snprintf(line, sizeof(line), "get %s", prop);
	else
		snprintf(line, sizeof(line), "get");
	if (request_ok("get", &v, line, &rep) < 0)
		return EXIT_FAILURE;
	for (size_t k = 0; k < rep.n; k++) {
		char *name = rep.lines[k] + 5, *value;

		if (strncmp(rep.lines[k], "prop ", 5) != 0 || !(value = strchr(name, ' '))) {
			fprintf(stderr, "snapfs get: the daemon of '%s' sent a malformed reply\n",
				v.mnt);
			r = EXIT_FAILURE;
			break;
		}
		*value++ = '\0';
		if (tabs)
			printf("%s\t%s\n", name, value);
		else if (value[0])
			printf("%-20s  %s\n", name, value);
		else
			printf("%s\n", name);
	}
	control_reply_release(&rep);
	return r;
}

static int cmd_set(int argc, char **argv)
{
	struct control_volume v;
	struct control_reply rep;
	char line[VALUE_MAX + 300];
	const char *value;
	char *eq;

	if (argc == 2 && is_help(argv[1])) {
		fputs(set_usage, stdout);
		return EXIT_SUCCESS;
	}
	if (argc != 3) {
		fprintf(stderr, "snapfs set: expected PROP=VALUE and a mount point (see "
				"'snapfs set --help')\n");
		return EXIT_FAILURE;
	}
	eq = strchr(argv[1], '=');
	if (!eq || eq == argv[1]) {
		fprintf(stderr, "snapfs set: expected PROP=VALUE, got '%s'\n", argv[1]);
		return EXIT_FAILURE;
	}
	*eq = '\0';
	value = eq + 1;
	if (!is_word(argv[1], 255)) {
		fprintf(stderr, "snapfs set: unknown property '%s'\n", argv[1]);
		return EXIT_FAILURE;
	}
	for (const char *c = value; *c; c++) {
		if ((unsigned char)*c < ' ' || *c == 0x7f) {
			fprintf(stderr, "snapfs set: the value of '%s' holds a control character\n",
				argv[1]);
			return EXIT_FAILURE;
		}
	}
	if (strlen(value) > VALUE_MAX) {
		fprintf(stderr, "snapfs set: the value of '%s' is longer than %d bytes\n", argv[1],
			VALUE_MAX);
		return EXIT_FAILURE;
	}
	if (find_volume("set", argv[2], &v) < 0)
		return EXIT_FAILURE;
	snprintf(line, sizeof(line), "set %s %s", argv[1], value);
	if (request_ok("set", &v, line, &rep) < 0)
		return EXIT_FAILURE;
	control_reply_release(&rep);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(cmd ? stdout : stderr);
		return cmd ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (strcmp(cmd, "mount") == 0)
		return sfs_mount_main(argc - 1, argv + 1);
	if (strcmp(cmd, "umount") == 0 || strcmp(cmd, "unmount") == 0)
		return cmd_umount(argc - 1, argv + 1);
	if (strcmp(cmd, "create") == 0 && argc > 2 && strcmp(argv[2], "shadow") == 0)
		return cmd_create(argc - 2, argv + 2);   /* VssAdmin's 'create shadow' */
	if (strcmp(cmd, "create") == 0)
		return cmd_create(argc - 1, argv + 1);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if ((strcmp(cmd, "add") == 0 || strcmp(cmd, "resize") == 0 || strcmp(cmd, "delete") == 0) &&
	    argc > 2 && strcmp(argv[2], "shadowstorage") == 0)
		return cmd_shadowstorage(argc - 1, argv + 1);
	if (strcmp(cmd, "delete") == 0)
		return cmd_delete(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(cmd, "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(cmd, "get") == 0)
		return cmd_get(argc - 1, argv + 1);
	if (strcmp(cmd, "expose") == 0)
		return cmd_expose(argc - 1, argv + 1);
	if (strcmp(cmd, "unexpose") == 0)
		return cmd_unexpose(argc - 1, argv + 1);
	if (strcmp(cmd, "revert") == 0)
		return cmd_revert(argc - 1, argv + 1);
	if (strcmp(cmd, "break") == 0)
		return cmd_break(argc - 1, argv + 1);
	if (strcmp(cmd, "set") == 0)
		return cmd_set(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("snapfs %s\n", snap_version());
		return EXIT_SUCCESS;
	}
	fprintf(stderr, "snapfs: unknown command '%s' (see 'snapfs --help')\n", cmd);
	return EXIT_FAILURE;
}
