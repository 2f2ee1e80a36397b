/*
 * model: the model-based test of snapshots.
 *
 *   model [OPTIONS]                          engine backend: a volume in a temporary directory
 *   model --mount MNT --snapfs PATH [--src SRC] [OPTIONS]
 *                                            mount backend: a mounted snapfs at MNT
 *   model --prepare SRC [--chunk BYTES]      make SRC's volume state with that chunk size,
 *                                            before its first mount
 *
 * Each seed draws random operations (writes across chunk edges and beyond the end, truncates,
 * punched holes, renames and exchanges of files and directories, unlinks, rmdirs, hard links,
 * symlinks, fifos, chmod, chown, utimens, user.* xattrs, writes through descriptors held across
 * snapshots, restarts of the engine) on a small tree, takes snapshots at random points and
 * deletes some. An in-memory model follows every operation; each snapshot keeps a deep copy of
 * it, with the mtimes that lstat showed right after the snapshot (on the backing directory when
 * the mount backend knows it). After every deletion and at the end, every remaining snapshot is
 * read back through the backend and compared with its copy; at the end the live tree is
 * compared with the model too. A difference prints the seed, the snapshot, the path and what
 * differed, and the seed fails; the other seeds still run.
 *
 * The engine backend runs each change the way the daemon does: engine_gate_enter, the hook
 * (engine_before_write, _truncate, _attr, _create; for link also engine_before_attr on the
 * object; engine_unlink and engine_rename in place of the calls), the system call,
 * engine_after_create for a new object, engine_gate_leave.
 *
 * Options:
 *   --seed S          run seed S only (env SNAPFS_MODEL_SEED)
 *   --seeds N         run seeds FIRST .. FIRST+N-1 (env SNAPFS_MODEL_SEEDS; default 120)
 *   --first F         the first seed (default 1)
 *   --ops N           operations per seed (env SNAPFS_MODEL_OPS; default 300)
 *   --chunk BYTES     chunk size: the engine's at open, and where offsets cluster (default
 *                     4096; with --mount, the volume's, default 65536)
 *   --snap-every N    about one snapshot in N operations (default 15)
 *   --delete-every N  about one deletion in N operations (default 50)
 *   --reopen-every N  about one close and open of the engine in N operations (engine backend;
 *                     default 100, 0: never)
 *   --trace FILE      write each operation as a line to FILE ('-': stdout)
 *   --replay FILE     run the operations of FILE (as --trace writes them) instead of a seed;
 *                     operations that no longer fit the tree are skipped
 *   --check-each      compare every snapshot and the live tree after every operation
 *   --keep            keep the engine backend's directory of a failed seed
 *   --tmpdir DIR      where the engine backend's volumes go (default $TMPDIR or /tmp)
 *   --provider NAME   the provider of the snapshots (env SNAPFS_PROVIDER; default: the
 *                     engine's, copy-on-write): the engine backend opens its engine with it
 *                     (btrfs makes each volume a subvolume, so --tmpdir must be on btrfs),
 *                     --prepare records it in the volume, and the mount backend checks that
 *                     the mounted volume uses it (mount it with snapfs mount --provider NAME)
 *   --src SRC         the mount's backing directory: snapshots are held to the mtimes it
 *                     shows right after each snapshot (with the writeback cache, the kernel's
 *                     mtime of a written file may differ from the backing file's; such
 *                     differences are printed as notes), and at the end it must match the
 *                     model as the mount does
 *
 * SNAPFS_MODEL_DEBUG=1 in the environment shows the core's debug log.
 *
 * Exit status: 0 when every seed passed, 1 when one failed, 2 on bad usage, 77 (skipped) when
 * the engine backend cannot open files by handle.
 */
#include "model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine.h"
#include "log.h"
#include "provider.h"

#define MAX_FAILED_SEEDS 10

struct config {
	uint64_t first, nseeds, nops;
	uint32_t chunk;
	unsigned snap_every, delete_every, reopen_every;
	const char *mnt, *snapfs, *src, *tmpdir, *prepare, *provider;
	FILE *trace;
	struct op *replay;
	size_t nreplay;
	bool check_each, keep;
};

struct run {
	const struct config *cfg;
	struct backend *b;
	struct report rep;
	struct model live;
	struct hold holds[MODEL_HOLDS];
	struct snap_rec *snaps;
	bool *alive;
	unsigned nsnaps, nalive, ndeleted;
	unsigned opno;            /* the number of the current operation, from 1 */
	char opline[256];         /* the operation being run */
	unsigned fail_op;         /* the operation at which the first difference showed */
	char fail_line[256];
	unsigned mtime_notes;     /* mtimes that differed between the mount and its backing */
};

/* ---- snapshots ------------------------------------------------------------------------------- */

struct record_ctx {
	struct run *run;
	struct snap_rec *s;
	bool *done;               /* by object: recorded already (through another name) */
};

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/*
 * The mtime of one object as lstat shows it on the live tree now: on the backing directory when
 * the mount backend knows it (what the daemon holds, and so what the snapshot must hold), else
 * on the live tree itself. An mtime that utimens set must show on both.
 */
static int record_mtime(const char *path, int obj, void *ctx)
{
	struct record_ctx *rc = ctx;
	struct backend *b = rc->run->b;
	struct mobj *o = &rc->s->model.objs[obj];
	struct stat st, src;

	if (rc->done[obj])
		return 0;
	rc->done[obj] = true;
	if (fstatat(b->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		report_diff(&rc->run->rep, "live tree after a snapshot", path, "lstat failed: %s",
			    strerror(errno));
		return 0;
	}
	if (o->has_mtime && !same_time(&st.st_mtim, &o->mtime))
		report_diff(&rc->run->rep, "live tree after a snapshot", path,
			    "mtime %jd.%09ld, utimens set %jd.%09ld", (intmax_t)st.st_mtim.tv_sec,
			    st.st_mtim.tv_nsec, (intmax_t)o->mtime.tv_sec, o->mtime.tv_nsec);
	if (b->src_fd >= 0) {
		if (fstatat(b->src_fd, path, &src, AT_SYMLINK_NOFOLLOW) < 0) {
			report_diff(&rc->run->rep, "backing tree after a snapshot", path,
				    "lstat failed: %s", strerror(errno));
			return 0;
		}
		if (o->has_mtime && !same_time(&src.st_mtim, &o->mtime))
			report_diff(&rc->run->rep, "backing tree after a snapshot", path,
				    "mtime %jd.%09ld, utimens set %jd.%09ld",
				    (intmax_t)src.st_mtim.tv_sec, src.st_mtim.tv_nsec,
				    (intmax_t)o->mtime.tv_sec, o->mtime.tv_nsec);
		if (!o->has_mtime && !same_time(&src.st_mtim, &st.st_mtim)) {
			if (rc->run->mtime_notes++ < 3)
				printf("note seed %" PRIu64 ": '%s': mtime %jd.%09ld through the "
				       "mount, %jd.%09ld in the backing directory, after the "
				       "snapshot at op %u\n",
				       rc->run->rep.seed, path, (intmax_t)st.st_mtim.tv_sec,
				       st.st_mtim.tv_nsec, (intmax_t)src.st_mtim.tv_sec,
				       src.st_mtim.tv_nsec, rc->run->opno);
		}
		st = src;
	}
	o->has_mtime = true;
	o->mtime = st.st_mtim;
	return 0;
}

static int take_snapshot(struct run *run)
{
	struct snap_rec *s = &run->snaps[run->nsnaps];
	struct record_ctx rc = { run, s, NULL };
	int r;

	memset(s, 0, sizeof(*s));
	r = run->b->snap_create(run->b, s);
	if (r < 0) {
		report_diff(&run->rep, "snapshot create", ".", "failed: %s", strerror(-r));
		return r;
	}
	r = model_copy(&run->live, &s->model);
	if (r < 0)
		return r;
	s->is_alive = true;
	s->at_op = run->opno;
	run->alive[run->nsnaps] = true;
	run->nsnaps++;
	run->nalive++;
	rc.done = calloc(s->model.nobjs, sizeof(*rc.done));
	if (!rc.done)
		return -ENOMEM;
	(void)record_mtime(".", 0, &rc);
	(void)model_walk(&s->model, record_mtime, &rc);
	free(rc.done);
	return 0;
}

static void check_snapshots(struct run *run)
{
	char what[256];
	unsigned i;

	for (i = 0; i < run->nsnaps; i++) {
		struct snap_rec *s = &run->snaps[i];
		struct reader *r;
		int ret;

		if (!s->is_alive)
			continue;
		snprintf(what, sizeof(what), "snapshot %u ('%s' %s, taken at op %u), at op %u", i,
			 s->id, s->browse, s->at_op, run->opno);
		ret = run->b->snap_reader(run->b, s, &r);
		if (ret < 0) {
			report_diff(&run->rep, what, ".", "cannot open: %s", strerror(-ret));
			continue;
		}
		(void)compare_tree(&run->rep, what, &s->model, r);
		r->ops->free(r);
	}
	if (run->b->snap_list_check)
		(void)run->b->snap_list_check(run->b, &run->rep, run->snaps, run->nsnaps);
}

static void check_live(struct run *run)
{
	char what[64];
	struct reader *r;
	int ret;

	snprintf(what, sizeof(what), "live tree, at op %u", run->opno);
	ret = path_reader_new(run->b->root, run->b->e ? ".snapfs" : ".snapshots", &r);
	if (ret < 0) {
		report_diff(&run->rep, what, run->b->root, "cannot open: %s", strerror(-ret));
		return;
	}
	if (run->b->e)
		path_reader_through(r, run->b->e);
	(void)compare_tree(&run->rep, what, &run->live, r);
	r->ops->free(r);
	/* redirect-on-write keeps live bytes in the diff area: SRC is not the live tree then */
	if (run->b->src_fd < 0 || (run->cfg->provider && provider_find(run->cfg->provider) &&
				    provider_find(run->cfg->provider)->redirect))
		return;
	snprintf(what, sizeof(what), "backing tree, at op %u", run->opno);
	ret = path_reader_new(run->b->src, ".snapfs", &r);
	if (ret < 0) {
		report_diff(&run->rep, what, run->b->src, "cannot open: %s", strerror(-ret));
		return;
	}
	(void)compare_tree(&run->rep, what, &run->live, r);
	r->ops->free(r);
}

static int delete_snapshot(struct run *run, uint64_t n)
{
	struct snap_rec *s;
	int r;

	if (n >= run->nsnaps || !run->snaps[n].is_alive)
		return 0;
	s = &run->snaps[n];
	r = run->b->snap_delete(run->b, s);
	if (r < 0) {
		report_diff(&run->rep, "snapshot delete", s->id, "failed: %s", strerror(-r));
		return r;
	}
	s->is_alive = false;
	run->alive[n] = false;
	run->nalive--;
	run->ndeleted++;
	model_release(&s->model);
	check_snapshots(run);
	return 0;
}

/* ---- one operation, one seed ----------------------------------------------------------------- */

static void run_op(struct run *run, const struct op *op)
{
	int r;

	run->opno++;
	op_format(op, run->opline, sizeof(run->opline));
	if (run->cfg->trace) {
		fprintf(run->cfg->trace, "%s\n", run->opline);
		fflush(run->cfg->trace);
	}
	switch (op->kind) {
	case OP_SNAP:
		(void)take_snapshot(run);
		break;
	case OP_DELETE:
		(void)delete_snapshot(run, op->n[0]);
		break;
	case OP_REOPEN:
		if (run->b->reopen) {
			r = run->b->reopen(run->b);
			if (r < 0)
				report_diff(&run->rep, "engine reopen", ".", "failed: %s",
					    strerror(-r));
		}
		break;
	default:
		if (!op_check(&run->live, run->holds, op)) {
			/* a replayed operation may no longer fit; a drawn one always does */
			if (!run->cfg->replay)
				report_diff(&run->rep, "model", op->path,
					    "drew '%s', which does not fit the model", run->opline);
			break;
		}
		r = backend_apply(run->b, run->holds, op);
		if (r < 0) {
			report_diff(&run->rep, "live operation", op->path, "'%s' failed: %s",
				    run->opline, strerror(-r));
			break;
		}
		r = op_apply_model(&run->live, run->holds, op);
		if (r < 0)
			report_diff(&run->rep, "model", op->path, "out of memory");
		break;
	}
	if (run->cfg->check_each && !run->rep.errors) {
		check_snapshots(run);
		check_live(run);
	}
	if (run->rep.errors && !run->fail_op) {
		run->fail_op = run->opno;
		snprintf(run->fail_line, sizeof(run->fail_line), "%s", run->opline);
	}
}

/* Remove everything in dirfd (but skip at its top), as plain system calls. */
static int remove_all(int dirfd, const char *skip)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		(void)close(fd);
		return ret;
	}
	while ((de = readdir(d))) {
		int sub;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (skip && strcmp(de->d_name, skip) == 0))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			ret = -errno;
			continue;
		}
		sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			(void)remove_all(sub, NULL);
			(void)close(sub);
		}
		if (unlinkat(fd, de->d_name, AT_REMOVEDIR) < 0)
			ret = -errno;
	}
	(void)closedir(d);
	return ret;
}

/*
 * The mount backend's tree is shared by the seeds: delete the seed's snapshots, empty the
 * tree and drop its root's xattrs.
 */
static void clean_mount(struct backend *b, struct run *run)
{
	char list[1024], *p;
	unsigned i;
	ssize_t n;

	for (i = 0; i < run->nsnaps; i++) {
		if (run->snaps[i].is_alive && b->snap_delete(b, &run->snaps[i]) < 0)
			printf("model: cannot delete snapshot '%s'\n", run->snaps[i].id);
	}
	if (remove_all(b->root_fd, ".snapshots") < 0)
		printf("model: cannot empty '%s'\n", b->root);
	n = llistxattr(b->root, list, sizeof(list));
	for (p = list; n > 0 && p < list + n; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5) == 0)
			(void)lremovexattr(b->root, p);
	}
}

static int run_seed(const struct config *cfg, struct backend *b, uint64_t seed)
{
	struct run run = { 0 };
	struct gen_params gp = { 0 };
	struct stat st;
	struct rng rng;
	size_t nops = cfg->replay ? cfg->nreplay : cfg->nops;
	unsigned i;
	struct op op;

	run.cfg = cfg;
	run.b = b;
	run.rep.seed = seed;
	run.rep.max_errors = 30;
	for (i = 0; i < MODEL_HOLDS; i++)
		run.holds[i].fd = -1;
	run.snaps = calloc(nops + 1, sizeof(*run.snaps));
	run.alive = calloc(nops + 1, sizeof(*run.alive));
	if (!run.snaps || !run.alive || fstatat(b->root_fd, ".", &st, 0) < 0 ||
	    model_init(&run.live, &st) < 0) {
		fprintf(stderr, "model: cannot start seed %" PRIu64 ": %s\n", seed,
			strerror(errno));
		free(run.snaps);
		free(run.alive);
		return -1;
	}
	/* a filesystem that counts subdirectories shows 2 or more for every directory */
	run.rep.dirs_one_link = st.st_nlink == 1;
	rng_seed(&rng, seed);
	gp.chunk = cfg->chunk;
	gp.is_root = geteuid() == 0;
	gp.snap_every = cfg->snap_every;
	gp.delete_every = cfg->delete_every;
	gp.max_alive = cfg->mnt ? 48 : ENGINE_MAX_SNAPSHOTS - 1;
	gp.reopen_every = b->reopen ? cfg->reopen_every : 0;
	gp.snap_alive = run.alive;
	for (i = 0; i < nops && !run.rep.errors; i++) {
		if (cfg->replay) {
			op = cfg->replay[i];
		} else {
			gp.nsnaps = run.nsnaps;
			gp.nsnaps_alive = run.nalive;
			op_generate(&rng, &run.live, run.holds, &gp, &op);
		}
		run_op(&run, &op);
	}
	for (i = 0; i < MODEL_HOLDS; i++) {
		if (run.holds[i].is_open) {
			op = (struct op){ .kind = OP_CLOSE, .n = { i } };
			run_op(&run, &op);
		}
	}
	if (!run.rep.errors) {
		check_snapshots(&run);
		check_live(&run);
		if (run.rep.errors) {
			run.fail_op = run.opno;
			snprintf(run.fail_line, sizeof(run.fail_line), "(the checks at the end)");
		}
	}
	if (run.rep.errors) {
		printf("FAIL seed %" PRIu64 ": %u difference(s), at op %u: %s\n", seed,
		       run.rep.errors, run.fail_op, run.fail_line);
		if (!cfg->replay)
			printf("  reproduce: model%s%s%s%s --seed %" PRIu64 " --ops %" PRIu64
			       " --chunk %u --snap-every %u --delete-every %u --reopen-every %u"
			       " --trace FILE --check-each\n",
			       cfg->mnt ? " --mount MNT --snapfs " : "",
			       cfg->mnt ? cfg->snapfs : "",
			       cfg->provider ? " --provider " : "",
			       cfg->provider ? cfg->provider : "",
			       seed, cfg->nops, cfg->chunk, cfg->snap_every, cfg->delete_every,
			       cfg->reopen_every);
	} else {
		printf("ok seed %" PRIu64 ": %zu ops, %u snapshots, %u deleted\n", seed, nops,
		       run.nsnaps, run.ndeleted);
	}
	if (run.mtime_notes)
		printf("note seed %" PRIu64 ": %u mtime(s) differed between the mount and its "
		       "backing directory right after a snapshot; snapshots were checked against "
		       "the backing directory's\n",
		       seed, run.mtime_notes);
	fflush(stdout);
	if (cfg->mnt)
		clean_mount(b, &run);
	for (i = 0; i < run.nsnaps; i++)
		model_release(&run.snaps[i].model);
	model_release(&run.live);
	free(run.snaps);
	free(run.alive);
	return run.rep.errors ? 1 : 0;
}


/* ---- arguments ------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out, "usage: model [--seed S | --seeds N [--first F]] [--ops N] [--chunk BYTES]\n"
		     "             [--snap-every N] [--delete-every N] [--reopen-every N]\n"
		     "             [--trace FILE]\n"
		     "             [--replay FILE] [--check-each] [--keep] [--tmpdir DIR]\n"
		     "             [--provider NAME]\n"
		     "             [--mount MNT --snapfs PATH [--src SRC]]\n"
		     "       model --prepare SRC [--chunk BYTES] [--provider NAME]\n"
		     "env: SNAPFS_MODEL_SEED, SNAPFS_MODEL_SEEDS, SNAPFS_MODEL_OPS, "
		     "SNAPFS_PROVIDER\n");
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	return s[0] && !errno && !*end;
}

static int read_replay(const char *path, struct config *cfg)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char line[512];
	size_t cap = 0, lineno = 0;

	if (!f) {
		fprintf(stderr, "model: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct op *ops;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!line[strspn(line, " \t")] || line[0] == '#')
			continue;
		if (cfg->nreplay == cap) {
			cap = cap ? cap * 2 : 256;
			ops = realloc(cfg->replay, cap * sizeof(*ops));
			if (!ops)
				abort();
			cfg->replay = ops;
		}
		if (op_parse(line, &cfg->replay[cfg->nreplay]) < 0) {
			fprintf(stderr, "model: '%s' line %zu: not an operation: %s\n", path,
				lineno, line);
			return -1;
		}
		cfg->nreplay++;
	}
	if (f != stdin)
		(void)fclose(f);
	return 0;
}

static bool env_u64(const char *name, uint64_t *ret)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return true;
	if (parse_u64(v, ret))
		return true;
	fprintf(stderr, "model: %s='%s' is not a number\n", name, v);
	return false;
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	uint64_t seed = 0, v = 0;
	bool has_seed = false, has_chunk = false;
	int i;

	cfg->first = 1;
	cfg->nseeds = 120;
	cfg->nops = 300;
	cfg->snap_every = 15;
	cfg->delete_every = 50;
	cfg->reopen_every = 100;
	cfg->tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	cfg->provider = getenv("SNAPFS_PROVIDER") && *getenv("SNAPFS_PROVIDER") ?
			getenv("SNAPFS_PROVIDER") : NULL;
	if (!env_u64("SNAPFS_MODEL_SEEDS", &cfg->nseeds) ||
	    !env_u64("SNAPFS_MODEL_OPS", &cfg->nops))
		return -1;
	if (getenv("SNAPFS_MODEL_SEED") && *getenv("SNAPFS_MODEL_SEED")) {
		if (!env_u64("SNAPFS_MODEL_SEED", &seed))
			return -1;
		has_seed = true;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool num = val && parse_u64(val, &v);

		if (strcmp(a, "--check-each") == 0) {
			cfg->check_each = true;
			continue;
		}
		if (strcmp(a, "--keep") == 0) {
			cfg->keep = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(EXIT_SUCCESS);
		}
		if (!val) {
			fprintf(stderr, "model: '%s' wants a value\n", a);
			return -1;
		}
		i++;
		if (strcmp(a, "--mount") == 0) {
			cfg->mnt = val;
		} else if (strcmp(a, "--src") == 0) {
			cfg->src = val;
		} else if (strcmp(a, "--prepare") == 0) {
			cfg->prepare = val;
		} else if (strcmp(a, "--snapfs") == 0) {
			cfg->snapfs = val;
		} else if (strcmp(a, "--tmpdir") == 0) {
			cfg->tmpdir = val;
		} else if (strcmp(a, "--provider") == 0) {
			cfg->provider = val;
		} else if (strcmp(a, "--trace") == 0) {
			cfg->trace = strcmp(val, "-") == 0 ? stdout : fopen(val, "we");
			if (!cfg->trace) {
				fprintf(stderr, "model: cannot open '%s': %s\n", val,
					strerror(errno));
				return -1;
			}
		} else if (strcmp(a, "--replay") == 0) {
			if (read_replay(val, cfg) < 0)
				return -1;
		} else if (!num) {
			fprintf(stderr, "model: '%s %s': unknown option or not a number\n", a, val);
			return -1;
		} else if (strcmp(a, "--seed") == 0) {
			seed = v;
			has_seed = true;
		} else if (strcmp(a, "--seeds") == 0) {
			cfg->nseeds = v;
			has_seed = false;
		} else if (strcmp(a, "--first") == 0) {
			cfg->first = v;
		} else if (strcmp(a, "--ops") == 0) {
			cfg->nops = v;
		} else if (strcmp(a, "--chunk") == 0 && v >= 512 && v <= (1u << 20)) {
			cfg->chunk = (uint32_t)v;
			has_chunk = true;
		} else if (strcmp(a, "--snap-every") == 0 && v < UINT32_MAX) {
			cfg->snap_every = (unsigned)v;
		} else if (strcmp(a, "--delete-every") == 0 && v < UINT32_MAX) {
			cfg->delete_every = (unsigned)v;
		} else if (strcmp(a, "--reopen-every") == 0 && v < UINT32_MAX) {
			cfg->reopen_every = (unsigned)v;
		} else {
			fprintf(stderr, "model: '%s %s': unknown option or bad value\n", a, val);
			return -1;
		}
	}
	if (has_seed) {
		cfg->first = seed;
		cfg->nseeds = 1;
	}
	if (cfg->replay)
		cfg->nseeds = 1;
	if (!has_chunk)
		cfg->chunk = cfg->mnt ? ENGINE_DEFAULT_CHUNK : 4096;
	if (!cfg->mnt != !cfg->snapfs) {
		fprintf(stderr, "model: --mount and --snapfs go together\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg = { 0 };
	uint64_t failed[MAX_FAILED_SEEDS], seed;
	unsigned nfailed = 0, i;
	struct backend b;
	char msg[8192];
	time_t start = time(NULL);
	int r;

	if (parse_args(argc, argv, &cfg) < 0) {
		usage(stderr);
		return 2;
	}
	if (cfg.prepare) {
		r = engine_prepare(cfg.prepare, cfg.chunk, cfg.provider, msg, sizeof(msg));
		if (r < 0)
			fprintf(stderr, "model: %s\n", msg);
		return r < 0 ? 1 : 0;
	}
	umask(0);
	log_setup(LOG_SINK_STDERR, getenv("SNAPFS_MODEL_DEBUG") ? LOG_DEBUG : LOG_WARNING, "model");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("model: %s backend, provider %s, seeds %" PRIu64 "..%" PRIu64 ", %" PRIu64
	       " ops each, chunk %u\n",
	       cfg.mnt ? "mount" : "engine", cfg.provider ? cfg.provider : "default",
	       cfg.first, cfg.first + cfg.nseeds - 1,
	       cfg.replay ? (uint64_t)cfg.nreplay : cfg.nops, cfg.chunk);
	if (!cfg.mnt && !engine_handles_usable(cfg.tmpdir)) {
		printf("model: skipped: files cannot be opened by handle in '%s' (the engine needs "
		       "CAP_DAC_READ_SEARCH to read snapshots)\n",
		       cfg.tmpdir);
		return 77;
	}
	if (cfg.mnt) {
		r = mount_backend_open(&b, cfg.mnt, cfg.snapfs, cfg.src, cfg.provider, msg,
				       sizeof(msg));
		if (r < 0) {
			fprintf(stderr, "model: %s\n", msg);
			return 1;
		}
	}
	for (seed = cfg.first; seed < cfg.first + cfg.nseeds; seed++) {
		if (!cfg.mnt) {
			r = engine_backend_open(&b, cfg.tmpdir, cfg.chunk, cfg.provider, msg,
						sizeof(msg));
			if (r < 0) {
				fprintf(stderr, "model: cannot open the engine: %s\n", msg);
				return 1;
			}
		}
		r = run_seed(&cfg, &b, seed);
		if (!cfg.mnt)
			engine_backend_close(&b, r != 0 && cfg.keep);
		if (r != 0) {
			if (nfailed < MAX_FAILED_SEEDS)
				failed[nfailed] = seed;
			nfailed++;
		}
	}
	if (cfg.mnt)
		mount_backend_close(&b);
	if (cfg.trace && cfg.trace != stdout)
		(void)fclose(cfg.trace);
	free(cfg.replay);
	printf("model: %" PRIu64 " seed(s) in %ld s, %u failed", cfg.nseeds,
	       (long)(time(NULL) - start), nfailed);
	for (i = 0; i < nfailed && i < MAX_FAILED_SEEDS; i++)
		printf("%s%" PRIu64, i ? " " : ": ", failed[i]);
	printf("%s\n", nfailed > MAX_FAILED_SEEDS ? " ..." : "");
	return nfailed ? 1 : 0;
}
