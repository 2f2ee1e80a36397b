/*
 * The mount backend: changes are plain system calls on a mounted snapfs (backend.c without an
 * engine), snapshots are made and deleted with the snapfs CLI, and read back as ordinary trees
 * under MNT/.snapshots/BROWSE.
 */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SNAPSHOTS_DIR ".snapshots"
#define LIST_MAX 1024

struct mount_backend {
	const char *snapfs;
};

/*
 * Run argv, its stdout into out (NUL terminated, the rest dropped), its stderr passed on.
 * Returns the exit status, or a negative errno when it could not run.
 */
static int run(char *const argv[], char *out, size_t size)
{
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		(void)dup2(pfd[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	(void)close(pfd[1]);
	for (;;) {
		char drop[256];
		ssize_t n = len + 1 < size ? read(pfd[0], out + len, size - 1 - len) :
					     read(pfd[0], drop, sizeof(drop));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	out[len] = '\0';
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void show_argv(char *const argv[])
{
	int i;

	for (i = 0; argv[i]; i++)
		fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
}

/* run() for a snapfs command that must succeed: 0, or -EIO after saying which one failed. */
static int run_cli(char *const argv[], char *out, size_t size)
{
	int r = run(argv, out, size);

	if (r != 0) {
		fprintf(stderr, "model: '");
		show_argv(argv);
		fprintf(stderr, "' failed (%d)\n", r);
		return -EIO;
	}
	return 0;
}

static int mb_snap_create(struct backend *b, struct snap_rec *ret)
{
	struct mount_backend *mb = b->priv;
	char *argv[] = { (char *)mb->snapfs, (char *)"create", (char *)"-H", b->root, NULL };
	char out[4096], *line, *save = NULL;
	int r = run_cli(argv, out, sizeof(out));

	if (r < 0)
		return r;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *id = line, *set = strchr(id, '\t'), *browse;

		if (!set)
			continue;
		*set++ = '\0';
		browse = strchr(set, '\t');
		if (!browse)
			continue;
		*browse++ = '\0';
		browse[strcspn(browse, "\t\r")] = '\0';
		if (strlen(id) > CATALOG_ID_LEN || strlen(browse) > CATALOG_BROWSE_LEN)
			continue;
		snprintf(ret->id, sizeof(ret->id), "%s", id);
		snprintf(ret->browse, sizeof(ret->browse), "%s", browse);
		return 0;
	}
	fprintf(stderr, "model: no 'ID<tab>SET<tab>BROWSE' line in the output of '");
	show_argv(argv);
	fprintf(stderr, "'\n");
	return -EBADMSG;
}

static int mb_snap_delete(struct backend *b, const struct snap_rec *s)
{
	struct mount_backend *mb = b->priv;
	char *argv[] = { (char *)mb->snapfs, (char *)"delete", (char *)"shadows", (char *)"--id",
			 (char *)s->id, b->root, NULL };
	char out[4096];

	return run_cli(argv, out, sizeof(out));
}

static int mb_snap_reader(struct backend *b, const struct snap_rec *s, struct reader **ret)
{
	char path[sizeof(b->root) + 64];

	snprintf(path, sizeof(path), "%s/%s/%s", b->root, SNAPSHOTS_DIR, s->browse);
	return path_reader_new(path, NULL, ret);
}

struct names {
	char (*v)[CATALOG_BROWSE_LEN + 8];
	size_t n;
	bool is_overflow;
};

static int add_browse(const char *name, mode_t type, void *ctx)
{
	struct names *ns = ctx;

	if (ns->n == LIST_MAX) {
		ns->is_overflow = true;
		return 0;
	}
	snprintf(ns->v[ns->n++], sizeof(ns->v[0]), "%s", name);
	return 0;
}

/* MNT/.snapshots lists the alive snapshots' browse names, and no other. */
static unsigned mb_snap_list_check(struct backend *b, struct report *rep,
				   const struct snap_rec *snaps, unsigned n)
{
	struct names ns = { calloc(LIST_MAX, sizeof(*ns.v)), 0, false };
	unsigned before = rep->errors, i, alive = 0;
	char path[sizeof(b->root) + 64];
	struct reader *r;
	size_t j;
	int ret;

	if (!ns.v)
		abort();
	snprintf(path, sizeof(path), "%s/%s", b->root, SNAPSHOTS_DIR);
	ret = path_reader_new(path, NULL, &r);
	if (ret >= 0) {
		ret = r->ops->list(r, ".", add_browse, &ns);
		r->ops->free(r);
	}
	if (ret < 0) {
		report_diff(rep, "listing of " SNAPSHOTS_DIR, path, "failed: %s", strerror(-ret));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!snaps[i].is_alive)
			continue;
		alive++;
		for (j = 0; j < ns.n; j++) {
			if (strcmp(ns.v[j], snaps[i].browse) == 0)
				break;
		}
		if (j == ns.n)
			report_diff(rep, "listing of " SNAPSHOTS_DIR, snaps[i].browse,
				    "missing (snapshot %u, '%s')", i, snaps[i].id);
	}
	for (j = 0; j < ns.n; j++) {
		for (i = 0; i < n; i++) {
			if (snaps[i].is_alive && strcmp(ns.v[j], snaps[i].browse) == 0)
				break;
		}
		if (i == n)
			report_diff(rep, "listing of " SNAPSHOTS_DIR, ns.v[j],
				    "listed, but no such snapshot is alive");
	}
	if (ns.n != alive)
		report_diff(rep, "listing of " SNAPSHOTS_DIR, path, "%zu names for %u snapshots",
			    ns.n, alive);
out:
	free(ns.v);
	return rep->errors - before;
}

/*
 * The mount backend does not mount: whoever did passed snapfs mount --provider (or model
 * --prepare recorded it). Check that the volume uses it, so that a run says what it tested.
 */
static int check_provider(struct backend *b, const char *snapfs, const char *provider,
			  char *msg, size_t msglen)
{
	char *argv[] = { (char *)snapfs, (char *)"get", (char *)"-H", (char *)"provider", b->root,
			 NULL };
	char out[512], *value;
	int r = run_cli(argv, out, sizeof(out));

	if (r < 0) {
		snprintf(msg, msglen, "cannot get the provider of '%s'", b->root);
		return r;
	}
	value = strncmp(out, "provider\t", 9) == 0 ? out + 9 : NULL;
	if (value)
		value[strcspn(value, "\n")] = '\0';
	if (!value || strcmp(value, provider) != 0) {
		snprintf(msg, msglen, "the volume at '%s' uses provider '%s', not '%s' (mount it "
			 "with snapfs mount --provider %s)", b->root, value ? value : "?",
			 provider, provider);
		return -EINVAL;
	}
	return 0;
}

int mount_backend_open(struct backend *b, const char *mnt, const char *snapfs, const char *src,
		       const char *provider, char *msg, size_t msglen)
{
	struct mount_backend *mb = calloc(1, sizeof(*mb));
	int r;

	memset(b, 0, sizeof(*b));
	b->src_fd = -1;
	if (!mb)
		return -ENOMEM;
	if (src) {
		snprintf(b->src, sizeof(b->src), "%s", src);
		b->src_fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (b->src_fd < 0) {
			r = -errno;
			snprintf(msg, msglen, "cannot open '%s': %s", src, strerror(-r));
			free(mb);
			return r;
		}
	}
	snprintf(b->root, sizeof(b->root), "%s", mnt);
	b->root_fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->root_fd < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot open '%s': %s", mnt, strerror(-r));
		goto out_close_src;
	}
	if (access(snapfs, X_OK) < 0) {
		r = -errno;
		snprintf(msg, msglen, "cannot run '%s': %s", snapfs, strerror(-r));
		goto out_close_root;
	}
	if (provider && (r = check_provider(b, snapfs, provider, msg, msglen)) < 0)
		goto out_close_root;
	mb->snapfs = snapfs;
	b->priv = mb;
	b->snap_create = mb_snap_create;
	b->snap_delete = mb_snap_delete;
	b->snap_reader = mb_snap_reader;
	b->snap_list_check = mb_snap_list_check;
	return 0;
out_close_root:
	(void)close(b->root_fd);
out_close_src:
	if (b->src_fd >= 0)
		(void)close(b->src_fd);
	free(mb);
	return r;
}

void mount_backend_close(struct backend *b)
{
	free(b->priv);
	b->priv = NULL;
	if (b->root_fd >= 0)
		(void)close(b->root_fd);
	b->root_fd = -1;
	if (b->src_fd >= 0)
		(void)close(b->src_fd);
	b->src_fd = -1;
}
