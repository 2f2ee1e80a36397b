/*
 * main.c: the daemon of one volume. It parses the mount options, checks SRC and MNT before
 * touching anything, opens the volume (creating SRC/.snapfs), mounts, detaches unless -f, and
 * serves requests on a pool of threads until the mount goes away.
 *
 * snapfs options (everything else after -o goes to libfuse and the kernel):
 *   writeback / no_writeback   FUSE writeback cache, on by default
 *   timeout=SECS               entry and attribute cache timeout (default 1)
 *   max_fds=N                  bound on cached O_PATH descriptors (default: a quarter of the
 *                              hard open-file limit, at most 16384)
 *   max_threads=N              worker threads (default 16)
 *
 * --diff-area DIR places the diff area (the preserved pre-images of changed data) in DIR
 * instead of SRC/.snapfs, and --chunk-size N sets the unit of copy-on-write; both count at the
 * first mount of a volume, which records them (a later mount may repeat them, not change them).
 */
#include "fusefs.h"
#include "sfs.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "provider.h"
#include "volume.h"

struct sfs sfs;

struct mount_args {
	const char *src;
	const char *mnt;
	char *fuse_opts;   /* comma-separated options for libfuse, heap */
	char *diff_area;   /* --diff-area, canonical, heap */
};

void sfs_mount_usage(void)
{
	printf("usage: snapfs mount [-f] [-d] [-o OPTION[,OPTION...]] [--diff-area DIR]\n"
	       "                    [--chunk-size N] [--method M] [--provider NAME] SRC MNT\n"
	       "\n"
	       "Serve the directory SRC at the mount point MNT. snapfs keeps its own state in\n"
	       "SRC/.snapfs, which MNT never shows.\n"
	       "\n"
	       "  -f             stay in the foreground, log to stderr\n"
	       "  -d             log every request (implies -f)\n"
	       "  --diff-area DIR\n"
	       "                 keep the diff area (the data snapshots preserve) in the\n"
	       "                 directory DIR rather than in SRC/.snapfs; taken into account\n"
	       "                 at the first mount of SRC, which records it\n"
	       "  --chunk-size N bytes copied per changed chunk: a power of two from 4K to\n"
	       "                 1M (default 64K); fixed at the first mount of SRC\n"
	       "  --method M     how snapshots are made: cow (copy-on-write, the default),\n"
	       "                 row (redirect-on-write) or clone (complete copy); fixed at\n"
	       "                 the first mount of SRC\n"
	       "  --provider NAME\n"
	       "                 the provider that makes them (snapfs list providers SRC\n"
	       "                 tells which can); fixed at the first mount of SRC\n"
	       "  -o writeback   use the kernel's writeback cache (default)\n"
	       "  -o no_writeback\n"
	       "                 write through to SRC on every write(2)\n"
	       "  -o timeout=S   how long the kernel caches names and attributes (default 1)\n"
	       "  -o max_fds=N   descriptors kept open on SRC at most\n"
	       "  -o max_threads=N\n"
	       "                 request threads at most (default 16)\n"
	       "  -o allow_other, -o ...\n"
	       "                 other options go to FUSE (see mount.fuse3(8))\n");
}

static int append_opt(char **list, const char *opt)
{
	size_t old = *list ? strlen(*list) : 0;
	char *n = realloc(*list, old + strlen(opt) + 2);

	if (!n)
		return -ENOMEM;
	if (old)
		n[old++] = ',';
	strcpy(n + old, opt);
	*list = n;
	return 0;
}

/* Parse one option of -o; ours are consumed, others appended for libfuse. */
static int parse_opt(const char *opt, struct mount_args *a)
{
	char *end;

	if (strcmp(opt, "writeback") == 0 || strcmp(opt, "writeback_cache") == 0) {
		sfs.opt.writeback = true;
	} else if (strcmp(opt, "no_writeback") == 0) {
		sfs.opt.writeback = false;
	} else if (strncmp(opt, "timeout=", 8) == 0) {
		sfs.opt.timeout = strtod(opt + 8, &end);
		if (*end || end == opt + 8 || !isfinite(sfs.opt.timeout) || sfs.opt.timeout < 0 ||
		    sfs.opt.timeout > 86400)
			return -EINVAL;
	} else if (strncmp(opt, "max_fds=", 8) == 0) {
		unsigned long v = strtoul(opt + 8, &end, 10);

		if (*end || end == opt + 8 || v < 16 || v > 1000000)
			return -EINVAL;
		sfs.opt.max_fds = v;
	} else if (strncmp(opt, "max_threads=", 12) == 0) {
		unsigned long v = strtoul(opt + 12, &end, 10);

		if (*end || end == opt + 12 || v < 1 || v > 1024)
			return -EINVAL;
		sfs.opt.max_threads = v;
	} else if (strncmp(opt, "fsname=", 7) == 0 || strncmp(opt, "subtype=", 8) == 0) {
		/* 'snapfs umount' finds the volume by them: they are snapfs's to set */
		return -EPERM;
	} else {
		return append_opt(&a->fuse_opts, opt);
	}
	return 0;
}

/* N, NK or NM: a power of two from 4K to 1M. */
static int parse_chunk_size(const char *v, uint32_t *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || v[0] == '-')
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	if (*end || n < 4096 || n > 1024 * 1024 || (n & (n - 1)))
		return -EINVAL;
	*ret = (uint32_t)n;
	return 0;
}

static int parse_args(int argc, char **argv, struct mount_args *a)
{
	int i, npos = 0;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "-f") == 0) {
			sfs.opt.foreground = true;
		} else if (strcmp(arg, "-d") == 0) {
			sfs.opt.debug = sfs.opt.foreground = true;
		} else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			sfs_mount_usage();
			exit(EXIT_SUCCESS);
		} else if (strcmp(arg, "--diff-area") == 0 ||
			   strncmp(arg, "--diff-area=", 12) == 0) {
			const char *dir = arg[11] == '=' ? arg + 12 :
					  i + 1 < argc ? argv[++i] : "";

			if (!*dir) {
				fprintf(stderr, "snapfs mount: --diff-area needs a directory\n");
				return -EINVAL;
			}
			free(a->diff_area);
			/* the daemon leaves its working directory: the path must be absolute */
			a->diff_area = realpath(dir, NULL);
			if (!a->diff_area) {
				fprintf(stderr, "snapfs mount: diff area '%s': %s\n", dir,
					strerror(errno));
				return -EINVAL;
			}
			sfs.opt.diff_area = a->diff_area;
		} else if (strcmp(arg, "--chunk-size") == 0 ||
			   strncmp(arg, "--chunk-size=", 13) == 0) {
			const char *v = arg[12] == '=' ? arg + 13 : i + 1 < argc ? argv[++i] : "";

			if (parse_chunk_size(v, &sfs.opt.chunk_size) < 0) {
				fprintf(stderr, "snapfs mount: --chunk-size '%s': a power of two from "
					"4K to 1M is needed\n", v);
				return -EINVAL;
			}
		} else if (strcmp(arg, "--method") == 0 || strncmp(arg, "--method=", 9) == 0 ||
			   strcmp(arg, "--provider") == 0 || strncmp(arg, "--provider=", 11) == 0) {
			bool method = arg[3] == 'e';
			size_t n = method ? 8 : 10;
			const char *v = arg[n] == '=' ? arg + n + 1 : i + 1 < argc ? argv[++i] : "";

			if (!*v) {
				fprintf(stderr, "snapfs mount: %s needs a value\n", method ? "--method" :
					"--provider");
				return -EINVAL;
			}
			if (method && !provider_method_name(v)) {
				fprintf(stderr, "snapfs mount: --method '%s': cow, row or clone\n", v);
				return -EINVAL;
			}
			if (method)
				sfs.opt.method = v;
			else
				sfs.opt.provider = v;
		} else if (strncmp(arg, "-o", 2) == 0) {
			char *list = strdup(arg[2] ? arg + 2 : (i + 1 < argc ? argv[++i] : ""));
			char *save = NULL, *opt;

			if (!list)
				return -ENOMEM;
			if (!*list) {
				free(list);
				fprintf(stderr, "snapfs mount: -o needs a list of options\n");
				return -EINVAL;
			}
			for (opt = strtok_r(list, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
				int r = parse_opt(opt, a);

				if (r == -EPERM) {
					fprintf(stderr, "snapfs mount: option '%s' is set by snapfs itself\n",
						opt);
					free(list);
					return r;
				}
				if (r < 0) {
					fprintf(stderr, "snapfs mount: bad option '%s'\n", opt);
					free(list);
					return r;
				}
			}
			free(list);
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "snapfs mount: unknown option '%s'\n", arg);
			return -EINVAL;
		} else if (npos == 0) {
			a->src = arg;
			npos++;
		} else if (npos == 1) {
			a->mnt = arg;
			npos++;
		} else {
			fprintf(stderr, "snapfs mount: unexpected argument '%s'\n", arg);
			return -EINVAL;
		}
	}
	if (npos != 2) {
		fprintf(stderr, "snapfs mount: expected SRC and MNT (see 'snapfs mount --help')\n");
		return -EINVAL;
	}
	return 0;
}

static void sfs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (sfs.opt.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		sfs.writeback = true;
	}
	/* replies may be spliced; requests are read whole, so that wire.c sees each of them */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	/*
	 * POSIX ACLs: the kernel enforces them and leaves the umask to us, since only the backing
	 * filesystem knows whether a default ACL replaces it.
	 */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		sfs.dont_mask = true;
	}
	/* locks stay with the kernel, which keeps them for every user of the mount */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

/* libfuse writes one line in several calls: gather them and log whole lines. */
__attribute__((format(printf, 2, 0)))
static void fuse_log_to_snap_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	int n;

	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	if (n < 0)
		return;
	/* a line too long for the buffer is cut, and still ends where its last piece ends */
	if ((size_t)n >= sizeof(line) - used) {
		used = sizeof(line) - 1;
		if (fmt[strlen(fmt) - 1] == '\n')
			line[used - 1] = '\n';
	} else {
		used += (size_t)n;
	}
	if (used == 0 || line[used - 1] != '\n')
		return;
	line[used - 1] = '\0';
	used = 0;
	snap_log((int)level, "%s", line);
}

/* Raise the soft open-file limit to the hard one; returns the limit now in force. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur;
}

static struct fuse_session *new_session(const struct mount_args *a, const char *src_real)
{
	struct fuse_lowlevel_ops ops = { .init = sfs_init };
	char *argv[8], fsname[2 * PATH_MAX + 64], *w;
	struct fuse_args args;
	struct fuse_session *se;
	int argc = 0;

	sfs_entry_ops(&ops);
	sfs_file_ops(&ops);
	sfs_dir_ops(&ops);
	sfs_xattr_ops(&ops);
	/* fuse_opt splits at commas: escape them (and backslashes) in the path */
	w = fsname + sprintf(fsname, "-ofsname=");
	for (const char *c = src_real; *c; c++) {
		if (*c == ',' || *c == '\\')
			*w++ = '\\';
		*w++ = *c;
	}
	/* as root, a volume keeps device files and set-user-ID programs working, as SRC does */
	strcpy(w, sfs.is_root ? ",subtype=snapfs,default_permissions,dev,suid" :
				",subtype=snapfs,default_permissions");
	argv[argc++] = (char *)"snapfs";
	argv[argc++] = fsname;
	if (a->fuse_opts) {
		argv[argc++] = (char *)"-o";
		argv[argc++] = a->fuse_opts;
	}
	if (sfs.opt.debug)
		argv[argc++] = (char *)"-d";
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	fuse_opt_free_args(&args); /* libfuse may have made its own copy */
	return se;
}

static int serve(struct fuse_session *se)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(cfg, sfs.opt.max_threads);
	/* a few idle workers: more of them waiting on /dev/fuse slowed cold reads (measured) */
	fuse_loop_cfg_set_idle_threads(cfg, 4);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

static void log_evicted(const struct catalog_snapshot *s, uint64_t maxsize)
{
	if (maxsize)
		snap_log(LOG_WARNING, "diff area of '%s' reached its maxsize (%llu bytes): deleted "
			 "the oldest snapshot '%s' (%s) so that writes go on", sfs.vol->src,
			 (unsigned long long)maxsize, s->id, s->browse);
	else
		snap_log(LOG_WARNING, "diff area of '%s' is on a full filesystem: deleted the "
			 "oldest snapshot '%s' (%s) so that writes go on", sfs.vol->src, s->id,
			 s->browse);
}

static int open_engine(const struct mount_args *a)
{
	char path[PATH_MAX], msg[PATH_MAX * 2 + 128];
	struct engine_params p = {
		.src_fd = sfs.vol->src_fd,
		.state_fd = sfs.vol->state_fd,
		.state_path = path,
		.diff_dir = sfs.opt.diff_area,
		.chunk_size = sfs.opt.chunk_size,
		.evicted = log_evicted,
		.provider = sfs.opt.provider,
		.method = sfs.opt.method,
		.tree_ready = sfs_snap_tree_ready,
		.defer_start = true, /* threads do not survive fuse_daemonize's fork */
	};
	int r;

	snprintf(path, sizeof(path), "%s/%s", sfs.vol->src, VOLUME_STATE_DIR);
	r = engine_open(&p, &sfs.eng, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "snapfs mount: %s\n", msg);
	else
		sfs.redirect = engine_provider(sfs.eng)->redirect;
	return r;
}

/* Bind the volume's control socket (served once the daemon runs; see control.c). */
static int open_control(struct sfs_control **ret)
{
	char path[PATH_MAX], msg[PATH_MAX * 2 + 128];
	int r;

	snprintf(path, sizeof(path), "%s/%s", sfs.vol->src, VOLUME_STATE_DIR);
	r = sfs_control_open(sfs.eng, sfs.vol->state_fd, path, ret, msg, sizeof(msg));
	if (r < 0)
		fprintf(stderr, "snapfs mount: %s\n", msg);
	return r;
}

int sfs_mount_main(int argc, char **argv)
{
	struct mount_args a = { 0 };
	struct sfs_control *ctl = NULL;
	struct fuse_session *se;
	char msg[PATH_MAX * 2 + 128];
	char mnt_real[PATH_MAX], src_real[PATH_MAX];
	rlim_t nofile;
	bool mounted = false;
	int r, status = EXIT_FAILURE;

	sfs.opt = (struct sfs_options){
		.writeback = true,
		.timeout = 1.0,
		.max_threads = 16,
	};
	if (parse_args(argc, argv, &a) < 0)
		goto out_free_opts;
	log_setup(LOG_SINK_STDERR, sfs.opt.debug ? LOG_DEBUG : LOG_INFO, "snapfs mount");
	fuse_set_log_func(fuse_log_to_snap_log);
	r = volume_check_mount_paths(a.src, a.mnt, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "snapfs mount: %s\n", msg);
		goto out_free_opts;
	}
	if (!realpath(a.mnt, mnt_real)) {
		fprintf(stderr, "snapfs mount: mount point '%s': %s\n", a.mnt, strerror(errno));
		goto out_free_opts;
	}
	if (!realpath(a.src, src_real)) {
		fprintf(stderr, "snapfs mount: source '%s': %s\n", a.src, strerror(errno));
		goto out_free_opts;
	}
	sfs.is_root = geteuid() == 0;
	/* the session checks the FUSE options (libfuse says what is wrong) before SRC changes */
	se = new_session(&a, src_real);
	if (!se)
		goto out_free_opts;
	r = volume_open(a.src, &sfs.vol, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "snapfs mount: %s\n", msg);
		goto out_destroy;
	}
	r = open_engine(&a);
	if (r < 0)
		goto out_abandon;
	r = open_control(&ctl);
	if (r < 0)
		goto out_close_engine;
	umask(0);
	nofile = raise_nofile();
	if (!sfs.opt.max_fds)
		sfs.opt.max_fds = nofile / 4 > 16384 ? 16384 : (nofile / 4 < 64 ? 64 : nofile / 4);
	r = inode_table_init(&sfs.itab, dup(sfs.vol->src_fd), sfs.opt.max_fds);
	if (r < 0) {
		fprintf(stderr, "snapfs mount: '%s': %s\n", a.src, strerror(-r));
		goto out_close_control;
	}
	if (fuse_set_signal_handlers(se) != 0)
		goto out_release_table;
	if (fuse_session_mount(se, mnt_real) != 0) {
		fprintf(stderr, "snapfs mount: cannot mount '%s' on '%s'\n", a.src, a.mnt);
		goto out_signals;
	}
	mounted = true;
	if (sfs_wire_attach(se) != 0) {
		fprintf(stderr, "snapfs mount: cannot attach to the FUSE channel of '%s'\n", a.mnt);
		goto out_unmount;
	}
	if (!sfs.opt.foreground)
		log_setup(LOG_SINK_SYSLOG, LOG_INFO, "snapfs");
	if (fuse_daemonize(sfs.opt.foreground) != 0)
		goto out_unmount;
	r = sfs_control_start(ctl);
	if (r < 0) {
		snap_log(LOG_ERR, "cannot serve the control socket of '%s': %s", sfs.vol->src,
			 strerror(-r));
		goto out_unmount;
	}
	r = engine_start(sfs.eng, msg, sizeof(msg));
	if (r < 0) {
		snap_log(LOG_ERR, "'%s': %s", sfs.vol->src, msg);
		goto out_unmount;
	}
	(void)volume_record_owner(sfs.vol, mnt_real);
	snap_log(LOG_INFO, "serving '%s' at '%s'", sfs.vol->src, mnt_real);
	r = serve(se);
	status = r == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	snap_log(LOG_INFO, "'%s' unmounted", mnt_real);
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_release_table:
	inode_table_release(&sfs.itab);
out_close_control:
	sfs_control_close(ctl);
out_close_engine:
	engine_close(sfs.eng);
out_abandon:
	if (mounted)
		volume_close(sfs.vol);
	else
		volume_abandon(sfs.vol);
out_destroy:
	fuse_session_destroy(se);
out_free_opts:
	free(a.fuse_opts);
	free(a.diff_area);
	return status;
}
