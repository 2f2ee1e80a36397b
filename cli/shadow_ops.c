/*
 * shadow_ops.c: snapshadow's commands on snapshots that exist: delete, expose, unexpose, load
 * metadata, import, mask, revert, resync, break; and exec, reset, exit (shadow.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expose.h"
#include "revert.h"
#include "shadow.h"
#include "transport.h"

/* ---- delete, expose, unexpose ----------------------------------------------------------- */

/* Delete one snapshot (unexposing it first when asked); says so. */
int delete_one(const struct admin_shadow *s, bool unexpose_first)
{
	char msg[ADMIN_MSG];
	struct exposure ex;

	if (unexpose_first && expose_lookup(s->id, &ex) > 0 &&
	    unexpose(s->id, msg, sizeof(msg)) < 0)
		return fail("delete shadows: %s", msg);
	if (admin_delete(s, msg, sizeof(msg)) < 0)
		return fail("delete shadows: %s", msg);
	say("Deleted shadow copy %s of %s\n", s->id, s->detached ? s->origin : s->vol.mnt);
	return 0;
}

/*
 * Delete the first k snapshots of v (those of set only, when set is not NULL), none of them
 * when one is exposed: a command deletes all it names or nothing it can know it cannot.
 */
static int delete_chosen(const struct admin_shadow *v, size_t k, const char *set)
{
	char msg[ADMIN_MSG];

	for (size_t i = 0; i < k; i++) {
		if (set && strcmp(v[i].set_id, set) != 0)
			continue;
		if (admin_check_unexposed(v[i].id, msg, sizeof(msg)) < 0)
			return fail("delete shadows: %s", msg);
	}
	for (size_t i = 0; i < k; i++)
		if ((!set || strcmp(v[i].set_id, set) == 0) && delete_one(&v[i], false) < 0)
			return -1;
	return 0;
}

int sh_delete(int n, char **w)
{
	struct admin_shadow *v = NULL, one;
	struct control_volume vol;
	char msg[ADMIN_MSG];
	size_t k = 0, done = 0;
	int r = 0;

	if (n < 3 || !is(w[1], "shadows"))
		return fail("usage: delete shadows all | volume MNT | oldest MNT | set ID | id ID | "
			    "exposed DIR");
	if (n == 4 && is(w[2], "id")) {
		if (find_shadow("delete shadows", w[3], &one) < 0)
			return -1;
		return delete_one(&one, false);
	}
	if (n == 4 && is(w[2], "exposed")) {
		struct exposure ex;
		char real[PATH_MAX];
		struct exposure *ev;
		size_t ne;

		/* a directory whose daemon is gone cannot be resolved: then its spelling counts */
		if (!realpath(w[3], real))
			snprintf(real, sizeof(real), "%s", w[3]);
		if (expose_list(&ev, &ne, msg, sizeof(msg)) < 0)
			return fail("delete shadows exposed: %s", msg);
		ex.id[0] = '\0';
		for (size_t i = 0; i < ne; i++)
			if (strcmp(ev[i].dir, real) == 0)
				ex = ev[i];
		free(ev);
		if (!ex.id[0])
			return fail("delete shadows exposed: no snapshot is exposed at '%s'", w[3]);
		if (find_shadow("delete shadows", ex.id, &one) < 0)
			return -1;
		return delete_one(&one, true);
	}
	if (n == 4 && (is(w[2], "volume") || is(w[2], "oldest"))) {
		if (admin_volume(w[3], &vol, msg, sizeof(msg)) < 0 ||
		    admin_shadows(&vol, &v, &k, msg, sizeof(msg)) < 0)
			return fail("delete shadows: %s", msg);
		if (!k)
			r = fail("delete shadows: '%s' has no snapshots", w[3]);
		else
			r = delete_chosen(v, is(w[2], "oldest") ? 1 : k, NULL);
		free(v);
		return r;
	}
	if ((n == 3 && is(w[2], "all")) || (n == 4 && is(w[2], "set"))) {
		if (admin_shadows(NULL, &v, &k, msg, sizeof(msg)) < 0)
			return fail("delete shadows: %s", msg);
		if (msg[0])
			say("warning: %s; its snapshots are left\n", msg);
		for (size_t i = 0; i < k; i++)
			done += n == 3 || strcmp(v[i].set_id, w[3]) == 0;
		r = n == 4 && !done ? fail("delete shadows: no snapshot set '%s'", w[3])
				    : delete_chosen(v, k, n == 4 ? w[3] : NULL);
		free(v);
		return r;
	}
	return fail("usage: delete shadows all | volume MNT | oldest MNT | set ID | id ID | "
		    "exposed DIR");
}

int sh_expose(int n, char **w)
{
	struct admin_shadow s;
	char msg[ADMIN_MSG];

	if (arity(n, 3, 3, "expose ID DIR") < 0 || find_shadow("expose", w[1], &s) < 0)
		return -1;
	if (expose_snapshot(s.id, w[2], S.context != CTX_VOLATILE || !is_volatile(s.id), msg,
			    sizeof(msg)) < 0)
		return fail("expose: %s", msg);
	say("The shadow copy %s was exposed at %s.\n", s.id, w[2]);
	return 0;
}

int sh_unexpose(int n, char **w)
{
	char msg[ADMIN_MSG];

	if (arity(n, 2, 2, "unexpose DIR") < 0)
		return -1;
	if (unexpose(w[1], msg, sizeof(msg)) < 0)
		return fail("unexpose: %s", msg);
	say("The shadow copy exposed at %s was unexposed.\n", w[1]);
	return 0;
}

/* ---- metadata and import ------------------------------------------------------------------ */

static int read_whole(const char *path, char **ret, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	if (!f)
		return -errno;
	errno = 0;
	do {
		if (n + 65536 > cap) {
			char *nb;

			cap = (n + 65536) * 2;
			if (cap > (64u << 20) || !(nb = realloc(buf, cap + 1))) {
				free(buf);
				fclose(f);
				return -EFBIG;
			}
			buf = nb;
		}
		k = fread(buf + n, 1, cap - n, f);
		n += k;
	} while (k > 0);
	if (ferror(f)) {
		int err = errno ? errno : EIO;

		free(buf);
		fclose(f);
		return -err;
	}
	fclose(f);
	buf[n] = '\0';
	*ret = buf;
	*len = n;
	return 0;
}

int sh_load(int n, char **w)
{
	char *xml = NULL, err[512];
	struct xmldoc_bcd bcd;
	size_t len = 0;
	int r;

	if (n != 3 || !is(w[1], "metadata"))
		return fail("usage: load metadata FILE");
	r = read_whole(w[2], &xml, &len);
	if (r < 0)
		return fail("load metadata: cannot read '%s': %s", w[2], strerror(-r));
	r = xmldoc_bcd_read(xml, len, &bcd, err, sizeof(err));
	free(xml);
	if (r < 0) /* what was loaded before stays */
		return fail("load metadata: '%s' is not a backup components document: %s", w[2],
			    err);
	if (S.has_loaded)
		xmldoc_bcd_release(&S.loaded);
	S.loaded = bcd;
	S.has_loaded = true;
	snprintf(S.loaded_path, sizeof(S.loaded_path), "%s", w[2]);
	say("Loaded the metadata of shadow copy set %s: %zu shadow cop%s\n", S.loaded.set_id,
	    S.loaded.n_snapshots, S.loaded.n_snapshots == 1 ? "y" : "ies");
	return 0;
}

int sh_import(int n, char **w)
{
	char store[PATH_MAX], path[PATH_MAX + 64], msg[ADMIN_MSG], name[80];
	struct transport_meta m[MAX_VOLUMES];
	size_t done = 0;
	int r = 0;

	(void)w;
	if (arity(n, 1, 1, "import") < 0)
		return -1;
	if (!S.has_loaded)
		return fail("import: no metadata loaded ('load metadata FILE' first)");
	if (S.loaded.n_snapshots > MAX_VOLUMES)
		return fail("import: too many snapshots in the set");
	if (admin_detached_store(store, sizeof(store), msg, sizeof(msg)) < 0)
		return fail("import: %s", msg);
	for (; done < S.loaded.n_snapshots && r == 0; done++) {
		const struct xmldoc_snapshot *x = &S.loaded.snapshots[done];

		export_path(S.loaded_path, x->id, path, sizeof(path));
		r = transport_import(path, store, &m[done], progress_none, NULL, msg, sizeof(msg));
		if (r < 0)
			break;
		if (strcmp(m[done].id, x->id) != 0 || strcmp(m[done].set_id, S.loaded.set_id) != 0) {
			snprintf(msg, sizeof(msg), "'%s' holds snapshot %.36s of set %.36s, not the "
				 "%.36s the metadata names", path, m[done].id, m[done].set_id, x->id);
			r = -EINVAL;
		}
	}
	if (r < 0) {
		fail("import: %s", msg);
		/* undo: remove what this import added */
		for (size_t i = 0; i < done; i++) {
			struct admin_shadow s = { .detached = true };

			memcpy(s.id, m[i].id, sizeof(s.id));
			s.id[sizeof(s.id) - 1] = '\0';
			if (admin_delete(&s, msg, sizeof(msg)) < 0)
				fail("import: the snapshot %s it imported is left: %s", s.id, msg);
		}
		return -1;
	}
	for (size_t i = 0; i < done; i++) {
		snprintf(name, sizeof(name), "VSS_SHADOW_%u", ++S.next_shadow);
		if (alias_set(name, m[i].id) < 0)
			return -1;
		say("Imported shadow copy %s of %s (from %s) as %%%s%%\n", m[i].id, m[i].origin,
		    m[i].host[0] ? m[i].host : "?", name);
	}
	return alias_set("VSS_SHADOW_SET", S.loaded.set_id);
}

int sh_mask(int n, char **w)
{
	struct admin_shadow *v;
	char msg[ADMIN_MSG];
	size_t k, done = 0;
	int r = 0;

	if (arity(n, 2, 2, "mask SETID") < 0)
		return -1;
	if (admin_shadows(NULL, &v, &k, msg, sizeof(msg)) < 0)
		return fail("mask: %s", msg);
	for (size_t i = 0; r == 0 && i < k; i++)
		if (v[i].detached && strcmp(v[i].set_id, w[1]) == 0) {
			r = delete_one(&v[i], true);
			done++;
		}
	free(v);
	if (r == 0 && !done)
		return fail("mask: no imported shadow copy of set '%s'", w[1]);
	return r;
}

/* ---- revert, resync, break ---------------------------------------------------------------- */

static int do_revert(const char *id, const char *path, const char *cmd)
{
	struct revert_result res;
	char msg[ADMIN_MSG];

	if (revert_snapshot(id, path, true, &res, msg, sizeof(msg)) < 0)
		return fail("%s: %s", cmd, msg);
	say("Reverted %s to shadow copy %s; the state before is kept as shadow copy %s.\n",
	    res.target, id, res.kept);
	verbose("\t%" PRIu64 " created, %" PRIu64 " removed, %" PRIu64 " updated, %" PRIu64
		" bytes written\n", res.st.created, res.st.removed, res.st.updated,
		res.st.bytes_written);
	if (res.st.skipped)
		say("\t%" PRIu64 " mount point(s) inside the volume left alone\n", res.st.skipped);
	return 0;
}

int sh_revert(int n, char **w)
{
	if (arity(n, 2, 2, "revert ID") < 0)
		return -1;
	return do_revert(w[1], NULL, "revert");
}

int sh_resync(int n, char **w)
{
	(void)w;
	if (arity(n, 1, 1, "resync") < 0)
		return -1;
	if (!S.n_shadows)
		return fail("resync: no shadow copy added ('add shadow ID [PATH]' first)");
	for (size_t i = 0; i < S.n_shadows; i++)
		if (do_revert(S.shadows[i].id, S.shadows[i].dest[0] ? S.shadows[i].dest : NULL,
			      "resync") < 0)
			return -1;
	return 0;
}

int sh_break(int n, char **w)
{
	bool writable = n == 4 && is(w[1], "writable");
	char msg[ADMIN_MSG];

	if (n != 3 && !writable)
		return fail("usage: break [writable] ID DIR");
	if (break_snapshot(w[n - 2], w[n - 1], writable, msg, sizeof(msg)) < 0)
		return fail("break: %s", msg);
	/* no longer the session's to delete at its end */
	for (size_t i = 0; i < S.n_volatile; i++)
		if (strcmp(S.volatiles[i].id, w[n - 2]) == 0)
			S.volatiles[i--] = S.volatiles[--S.n_volatile];
	say("The shadow copy %s is now %s at %s.\n", w[n - 2],
	    writable ? "an independent read-write directory" : "a detached read-only copy",
	    w[n - 1]);
	return 0;
}

/* ---- exec, reset, exit ---------------------------------------------------------------------- */

int sh_exec(int n, char **w)
{
	int p[2], st;
	pid_t pid;
	char buf[4096];
	ssize_t k;

	if (n < 2)
		return fail("usage: exec FILE [ARGS]");
	if (access(w[1], X_OK) < 0)
		return fail("exec: '%s': %s", w[1], errno == EACCES ? "not executable" :
			    strerror(errno));
	if (pipe2(p, O_CLOEXEC) < 0)
		return fail("exec: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(p[0]);
		close(p[1]);
		return fail("exec: %s", strerror(err));
	}
	if (pid == 0) {
		/* not the script's input, which may be this process's stdin */
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null == STDIN_FILENO)
			(void)fcntl(null, F_SETFD, 0);
		else if (null >= 0)
			dup2(null, STDIN_FILENO);   /* the copy is not close-on-exec */
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		w[n] = NULL;
		execv(w[1], w + 1);
		fprintf(stderr, "cannot run '%s': %s\n", w[1], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	while ((k = read(p[0], buf, sizeof(buf))) > 0 || (k < 0 && errno == EINTR))
		if (k > 0)
			say("%.*s", (int)k, buf);
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return fail("exec: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return fail("exec: '%s' failed with exit status %d", w[1], WEXITSTATUS(st));
	return fail("exec: '%s' was killed by signal %d", w[1], WTERMSIG(st));
}

/*
 * Delete the volatile snapshots made so far, unexposing them first. Each is looked up on its
 * own volume (an import of it may sit in the detached store); one deleted meanwhile is skipped,
 * one that cannot be reached is an error naming it.
 */
int drop_volatile(void)
{
	int r = 0;

	for (size_t i = 0; i < S.n_volatile; i++) {
		const struct volatile_snap *vs = &S.volatiles[i];
		struct control_volume vol;
		struct admin_shadow *v = NULL;
		char msg[ADMIN_MSG];
		size_t k = 0, j;

		if (admin_volume(vs->mnt, &vol, msg, sizeof(msg)) < 0 ||
		    admin_shadows(&vol, &v, &k, msg, sizeof(msg)) < 0) {
			r = fail("the volatile snapshot %s of '%s' cannot be deleted: %s", vs->id,
				 vs->mnt, msg);
			continue;
		}
		for (j = 0; j < k && strcmp(v[j].id, vs->id) != 0; j++)
			;
		if (j < k && delete_one(&v[j], true) < 0)
			r = -1;
		free(v);
	}
	free(S.volatiles);
	S.volatiles = NULL;
	S.n_volatile = 0;
	return r;
}

void clear_lists(void)
{
	for (size_t i = 0; i < S.n_verify; i++)
		free(S.verify[i]);
	for (size_t i = 0; i < S.n_exclude; i++)
		free(S.exclude[i]);
	S.n_verify = S.n_exclude = S.n_vols = S.n_shadows = 0;
}

int sh_reset(int n, char **w)
{
	int r;

	(void)w;
	if (arity(n, 1, 1, "reset") < 0)
		return -1;
	r = S.backup ? end_backup(false) : 0;
	if (S.restore && restore_end("reset", S.restore) < 0)
		r = -1;
	S.restore = NULL;
	if (drop_volatile() < 0)
		r = -1;
	clear_lists();
	S.context = CTX_PERSISTENT;
	S.nowriters = S.plex = S.transportable = S.noautorecover = false;
	S.metadata[0] = '\0';
	S.mode = MODE_NONE;
	return r;
}

int sh_exit(int n, char **w)
{
	(void)w;
	if (arity(n, 1, 1, "exit") < 0)
		return -1;
	S.exiting = true;
	return 0;
}
