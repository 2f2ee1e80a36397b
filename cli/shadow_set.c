/*
 * shadow_set.c: snapshadow's commands that build and take a set: set, begin, end, simulate,
 * writer, add, create, and list (shadow.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expose.h"
#include "shadow.h"
#include "transport.h"

/* ---- set, begin, end, writer ------------------------------------------------------------ */

int sh_set(int n, char **w)
{
	if (n >= 2 && is(w[1], "context")) {
		if (n == 3 && is(w[2], "clientaccessible")) {
			S.context = CTX_CLIENTACCESSIBLE;
			S.nowriters = true;
		} else if ((n == 3 || (n == 4 && is(w[3], "nowriters"))) &&
			   (is(w[2], "persistent") || is(w[2], "volatile"))) {
			S.context = is(w[2], "persistent") ? CTX_PERSISTENT : CTX_VOLATILE;
			S.nowriters = n == 4;
		} else {
			return fail("usage: set context clientaccessible | persistent [nowriters] | "
				    "volatile [nowriters]");
		}
		return 0;
	}
	if (n >= 3 && is(w[1], "option")) {
		bool plex = false, diff = false, trans = false, noauto = false;

		for (int i = 2; i < n; i++) {
			if (is(w[i], "differential"))
				diff = true;
			else if (is(w[i], "plex"))
				plex = true;
			else if (is(w[i], "transportable"))
				trans = true;
			else if (is(w[i], "noautorecover"))
				noauto = true;
			else if (is(w[i], "rollbackrecover") || is(w[i], "txfrecover"))
				return fail("set option %s: there is nothing for it to do on a "
					    "directory volume: it asks NTFS writers to recover for a "
					    "rollback or TxF transactions; snapfs writers recover in "
					    "post-snapshot (see 'help set')", w[i]);
			else
				return fail("set option: unknown option '%s'", w[i]);
		}
		if (plex && diff)
			return fail("set option: differential and plex exclude each other");
		S.plex = plex;
		S.transportable = trans;
		S.noautorecover = noauto;
		return 0;
	}
	if (n == 3 && is(w[1], "verbose") && (is(w[2], "on") || is(w[2], "off"))) {
		S.verbose = is(w[2], "on");
		return 0;
	}
	if (n == 3 && is(w[1], "metadata")) {
		if (snprintf(S.metadata, sizeof(S.metadata), "%s", w[2]) >= (int)sizeof(S.metadata))
			return fail("set metadata: path too long");
		return 0;
	}
	return fail("usage: set context ... | set option ... | set verbose on|off | "
		    "set metadata FILE");
}

/* pre-restore to the writers, for the loaded metadata's set; the session in *ret. */
static int restore_begin(const char *cmd, struct snap_session **ret)
{
	struct snap_session *s;
	char *bcd;

	if (!S.has_loaded)
		return fail("%s: the writers restore from a backup's metadata: 'load metadata FILE' "
			    "first", cmd);
	bcd = xmldoc_bcd_write(&S.loaded);
	s = snap_session_new();
	if (!bcd || !s) {
		free(bcd);
		snap_session_free(s);
		return fail("out of memory");
	}
	if (snap_session_connect(s) < 0 || (S.nowriters && snap_session_exclude_writer(s, "*") < 0))
		goto failed;
	for (size_t i = 0; i < S.n_exclude; i++)
		if (snap_session_exclude_writer(s, S.exclude[i]) < 0)
			goto failed;
	if (snap_session_pre_restore(s, S.loaded.set_id, bcd) < 0)
		goto failed;
	free(bcd);
	*ret = s;
	return 0;
failed:
	fail("%s: %s", cmd, snap_session_error(s));
	free(bcd);
	snap_session_free(s);
	return -1;
}

/* post-restore to the writers of s, which is freed. */
int restore_end(const char *cmd, struct snap_session *s)
{
	int r = snap_session_post_restore(s) < 0 ? fail("%s: %s", cmd, snap_session_error(s)) : 0;

	snap_session_free(s);
	return r;
}

int sh_begin(int n, char **w)
{
	if (arity(n, 2, 2, "begin backup | begin restore") < 0)
		return -1;
	if (S.mode != MODE_NONE)
		return fail("begin: a %s is under way; end it first",
			    S.mode == MODE_BACKUP ? "backup" : "restore");
	if (is(w[1], "backup")) {
		S.mode = MODE_BACKUP;
	} else if (is(w[1], "restore")) {
		if (restore_begin("begin restore", &S.restore) < 0)
			return -1;
		S.mode = MODE_RESTORE;
		say("The writers were told a restore of set %s begins.\n", S.loaded.set_id);
	} else {
		return fail("usage: begin backup | begin restore");
	}
	return 0;
}

int sh_end(int n, char **w)
{
	struct snap_session *s = S.restore;

	if (arity(n, 2, 2, "end backup | end restore") < 0)
		return -1;
	if (is(w[1], "restore")) {
		if (S.mode != MODE_RESTORE)
			return fail("end restore: no restore is under way ('begin restore' first)");
		S.mode = MODE_NONE;
		S.restore = NULL;
		if (restore_end("end restore", s) < 0)
			return -1;
		say("The writers were told the restore is complete.\n");
		return 0;
	}
	if (!is(w[1], "backup"))
		return fail("usage: end backup | end restore");
	if (S.mode != MODE_BACKUP)
		return fail("end backup: no backup is under way ('begin backup' first)");
	return end_backup(true);
}

int sh_simulate(int n, char **w)
{
	struct snap_session *s;

	if (n != 2 || !is(w[1], "restore"))
		return fail("usage: simulate restore");
	if (S.mode != MODE_NONE)
		return fail("simulate restore: a %s is under way; end it first",
			    S.mode == MODE_BACKUP ? "backup" : "restore");
	if (restore_begin("simulate restore", &s) < 0 || restore_end("simulate restore", s) < 0)
		return -1;
	say("The writers took part in a simulated restore of set %s.\n", S.loaded.set_id);
	return 0;
}

/* Unexpose the snapshots of set s that are exposed, before they are deleted. 0, or -1. */
static int unexpose_set(struct snap_session *s)
{
	char msg[ADMIN_MSG];
	int r = 0;

	for (size_t i = 0; i < snap_session_snapshots(s); i++) {
		const char *id = snap_session_snapshot(s, i)->id;
		struct exposure ex;

		if (expose_lookup(id, &ex) > 0 && unexpose(id, msg, sizeof(msg)) < 0)
			r = fail("the backup left open: %s", msg);
	}
	return r;
}

/* Finish the backup: backup-complete to the writers (complete), or abort. */
int end_backup(bool complete)
{
	struct snap_session *b = S.backup;
	int r = 0;

	S.mode = MODE_NONE;
	S.backup = NULL;
	if (!b)
		return 0;
	if (complete && snap_session_complete(b) < 0)
		r = fail("end backup: %s", snap_session_error(b));
	if (!complete && unexpose_set(b) < 0)
		r = -1;
	if (!complete && snap_session_abort(b) < 0)
		r = fail("the backup left open: %s", snap_session_error(b));
	snap_session_free(b);
	return r;
}

int sh_writer(int n, char **w)
{
	char **list = is(w[1], "verify") ? S.verify : S.exclude;
	size_t *count = is(w[1], "verify") ? &S.n_verify : &S.n_exclude;

	if (n != 3 || !(is(w[1], "verify") || is(w[1], "exclude")))
		return fail("usage: writer verify NAME | writer exclude NAME");
	if (*count == MAX_LIST)
		return fail("writer %s: at most %d writers", w[1], MAX_LIST);
	list[*count] = strdup(w[2]);
	if (!list[*count])
		return fail("out of memory");
	++*count;
	return 0;
}

/* ---- add --------------------------------------------------------------------------------- */

int sh_add(int n, char **w)
{
	char msg[ADMIN_MSG];

	if (n == 1) {
		say("Volumes in the set: %zu\n", S.n_vols);
		for (size_t i = 0; i < S.n_vols; i++)
			say("\t%s%s%s\n", S.vols[i].mnt, S.vols[i].alias[0] ? "  alias " : "",
			    S.vols[i].alias);
		if (S.n_shadows)
			say("Shadow copies added: %zu\n", S.n_shadows);
		for (size_t i = 0; i < S.n_shadows; i++)
			say("\t%s%s%s\n", S.shadows[i].id, S.shadows[i].dest[0] ? "  -> " : "",
			    S.shadows[i].dest);
		return 0;
	}
	if (is(w[1], "volume")) {
		struct volume_entry *e;
		struct control_volume v;
		struct control_reply rep;
		int i;

		if (n < 3)
			return fail("usage: add volume MNT [alias NAME] [provider NAME]");
		if (S.n_vols == MAX_VOLUMES)
			return fail("add volume: a set holds at most %d volumes", MAX_VOLUMES);
		if (admin_volume(w[2], &v, msg, sizeof(msg)) < 0)
			return fail("add volume: %s", msg);
		for (size_t k = 0; k < S.n_vols; k++)
			if (strcmp(S.vols[k].mnt, v.mnt) == 0)
				return fail("add volume: '%s' is in the set already", w[2]);
		e = &S.vols[S.n_vols];
		memset(e, 0, sizeof(*e));
		snprintf(e->mnt, sizeof(e->mnt), "%s", v.mnt);
		for (i = 3; i + 1 < n; i += 2) {
			if (is(w[i], "alias") && valid_alias_name(w[i + 1]))
				snprintf(e->alias, sizeof(e->alias), "%s", w[i + 1]);
			else if (is(w[i], "alias"))
				return fail("add volume: bad alias name '%s' (letters, digits, _ "
					    "and -)", w[i + 1]);
			else if (is(w[i], "provider"))
				snprintf(e->provider, sizeof(e->provider), "%s", w[i + 1]);
			else
				break;
		}
		if (i != n)
			return fail("usage: add volume MNT [alias NAME] [provider NAME]");
		if (e->provider[0]) {
			char want[64];

			if (admin_request(&v, "get provider", &rep, msg, sizeof(msg)) < 0)
				return fail("add volume: %s", msg);
			snprintf(want, sizeof(want), "prop provider %s", e->provider);
			i = rep.n == 1 && strcmp(rep.lines[0], want) == 0;
			if (!i) {
				fail("add volume: '%s' is served by another provider than '%s' "
				     "(%s; a volume's provider is chosen when it is first mounted)",
				     w[2], e->provider, rep.n ? rep.lines[0] + 5 : "?");
				control_reply_release(&rep);
				return -1;
			}
			control_reply_release(&rep);
		}
		S.n_vols++;
		verbose("Added volume %s to the set\n", e->mnt);
		return 0;
	}
	if (is(w[1], "alias")) {
		if (n != 4)
			return fail("usage: add alias NAME VALUE");
		if (!valid_alias_name(w[2]))
			return fail("add alias: bad alias name '%s' (letters, digits, _ and -)", w[2]);
		return alias_set(w[2], w[3]);
	}
	if (is(w[1], "shadow")) {
		struct admin_shadow s;

		if (n < 3 || n > 4)
			return fail("usage: add shadow ID [DEST]");
		if (S.n_shadows == MAX_VOLUMES)
			return fail("add shadow: at most %d", MAX_VOLUMES);
		if (n == 4 && strlen(w[3]) >= sizeof(S.shadows[0].dest))
			return fail("add shadow: the path is longer than %zu bytes",
				    sizeof(S.shadows[0].dest) - 1);
		if (find_shadow("add shadow", w[2], &s) < 0)
			return -1;
		snprintf(S.shadows[S.n_shadows].id, sizeof(S.shadows[0].id), "%s", s.id);
		snprintf(S.shadows[S.n_shadows].dest, sizeof(S.shadows[0].dest), "%s",
			 n == 4 ? w[3] : "");
		S.n_shadows++;
		return 0;
	}
	return fail("usage: add volume MNT [alias NAME] [provider NAME] | add alias NAME VALUE |"
		    " add shadow ID [DEST] | add");
}

/* ---- create ------------------------------------------------------------------------------- */

/* The export of snapshot id beside the metadata file. */
void export_path(const char *metadata, const char *id, char *buf, size_t size)
{
	const char *slash = strrchr(metadata, '/');
	int dirlen = slash ? (int)(slash - metadata) : 1;

	snprintf(buf, size, "%.*s/%s%s", dirlen, slash ? metadata : ".", id, EXPORT_SUFFIX);
}

/* Write text to path atomically (a temporary name, then rename). */
static int write_file(const char *path, const char *text, char *msg, size_t msglen)
{
	char tmp[PATH_MAX + 16];
	size_t len = strlen(text);
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		err = errno;
	for (size_t off = 0; !err && off < len;) {
		ssize_t k = write(fd, text + off, len - off);

		if (k < 0)
			err = errno;
		else
			off += (size_t)k;
	}
	if (fd >= 0 && !err && fsync(fd) < 0)
		err = errno;
	if (fd >= 0 && close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) < 0)
		err = errno;
	if (err) {
		if (fd >= 0)
			unlink(tmp);
		snprintf(msg, msglen, "cannot write '%s': %s", path, strerror(err));
		return -err;
	}
	return 0;
}

void progress_none(uint64_t done, uint64_t total, void *ctx)
{
	(void)done;
	(void)total;
	(void)ctx;
}

/* Check the writers to verify are registered and not excluded. */
static int verify_writers(struct snap_session *s)
{
	int n = snap_session_list_writers(s);

	if (n < 0)
		return fail("create: %s", snap_session_error(s));
	for (size_t v = 0; v < S.n_verify; v++) {
		bool found = false;

		for (int i = 0; i < n; i++) {
			const struct snap_writer_info *wi = snap_session_writer(s, (size_t)i);

			if (strcmp(wi->name, S.verify[v]) == 0 || strcmp(wi->id, S.verify[v]) == 0)
				found = true;
		}
		if (!found)
			return fail("create: writer '%s' (writer verify) is not registered with the "
				    "coordinator", S.verify[v]);
		for (size_t x = 0; x < S.n_exclude; x++)
			if (strcmp(S.exclude[x], S.verify[v]) == 0 || S.nowriters)
				return fail("create: writer '%s' is both verified and excluded",
					    S.verify[v]);
		if (S.nowriters)
			return fail("create: writer '%s' is verified, but the context has no "
				    "writers", S.verify[v]);
	}
	return 0;
}

int sh_create(int n, char **w)
{
	char msg[ADMIN_MSG], path[PATH_MAX + 64], name[80];
	char written[MAX_VOLUMES + 1][PATH_MAX + 64];   /* the exports, the metadata file */
	size_t n_written = 0, count;
	struct snap_session *s;
	int r = -1;

	if (arity(n, 1, 1, "create") < 0)
		return -1;
	if (!S.n_vols)
		return fail("create: no volume in the set ('add volume MNT' first)");
	if (S.backup)
		return fail("create: the set of this backup was created already; 'end backup' "
			    "first");
	if (S.mode == MODE_RESTORE)
		return fail("create: a restore is under way; 'end restore' first");
	if (S.transportable && !S.metadata[0])
		return fail("create: a transportable set is written beside its metadata file: "
			    "'set metadata FILE' first");
	if (S.plex)
		for (size_t i = 0; i < S.n_vols; i++) {
			struct control_volume v;
			struct control_reply rep;

			if (admin_volume(S.vols[i].mnt, &v, msg, sizeof(msg)) < 0 ||
			    admin_request(&v, "get method", &rep, msg, sizeof(msg)) < 0)
				return fail("create: %s", msg);
			r = rep.n == 1 && strcmp(rep.lines[0], "prop method clone") == 0;
			control_reply_release(&rep);
			if (!r)
				return fail("create: 'plex' needs full copies, and '%s' does not make "
					    "them (mount it with --method clone)", S.vols[i].mnt);
			r = -1;
		}
	s = snap_session_new();
	if (!s)
		return fail("out of memory");
	if (snap_session_connect(s) < 0 || (S.nowriters && snap_session_exclude_writer(s, "*") < 0) ||
	    (S.noautorecover && snap_session_no_autorecover(s) < 0))
		goto session_failed;
	if (S.n_verify && verify_writers(s) < 0)
		goto out;
	for (size_t i = 0; i < S.n_exclude; i++)
		if (snap_session_exclude_writer(s, S.exclude[i]) < 0)
			goto session_failed;
	for (size_t i = 0; i < S.n_vols; i++)
		if (snap_session_add_volume(s, S.vols[i].mnt) < 0)
			goto session_failed;
	verbose("Creating the snapshot set of %zu volume(s)...\n", S.n_vols);
	if (snap_session_create(s) < 0)
		goto session_failed;
	count = snap_session_snapshots(s);
	/* from here a failure aborts the set: the coordinator deletes its snapshots */
	if (S.transportable) {
		for (size_t i = 0; i < count; i++) {
			const struct snap_snapshot_info *si = snap_session_snapshot(s, i);
			struct transport_meta m = { 0 };
			struct admin_shadow as;
			char tree[PATH_MAX];

			snprintf(m.id, sizeof(m.id), "%s", si->id);
			snprintf(m.set_id, sizeof(m.set_id), "%s", snap_session_set_id(s));
			snprintf(m.browse, sizeof(m.browse), "%s", si->browse);
			snprintf(m.origin, sizeof(m.origin), "%s", si->volume);
			(void)gethostname(m.host, sizeof(m.host) - 1);
			if (admin_find_shadow(si->id, &as, msg, sizeof(msg)) < 0) {
				fail("create: %s", msg);
				goto abort;
			}
			m.created_ns = as.created_ns;
			snprintf(tree, sizeof(tree), "%s/.snapshots/%s", si->volume, si->id);
			export_path(S.metadata, si->id, path, sizeof(path));
			verbose("Exporting %s to %s\n", si->id, path);
			if (transport_export(tree, &m, path, progress_none, NULL, msg,
					     sizeof(msg)) < 0) {
				fail("create: transportable export of %s: %s", si->volume, msg);
				goto abort;
			}
			snprintf(written[n_written++], sizeof(written[0]), "%s", path);
		}
	}
	if (S.metadata[0] && write_file(S.metadata, snap_session_bcd(s), msg, sizeof(msg)) < 0) {
		fail("create: the metadata file: %s", msg);
		goto abort;
	}
	if (S.metadata[0])
		snprintf(written[n_written++], sizeof(written[0]), "%s", S.metadata);
	/* the aliases, and a volatile set's snapshots for the end of the session */
	if (alias_set("VSS_SHADOW_SET", snap_session_set_id(s)) < 0)
		goto abort;
	for (size_t i = 0; i < count; i++) {
		const struct snap_snapshot_info *si = snap_session_snapshot(s, i);
		const char *alias = NULL;

		for (size_t k = 0; k < S.n_vols; k++)
			if (strcmp(S.vols[k].mnt, si->volume) == 0 && S.vols[k].alias[0])
				alias = S.vols[k].alias;
		if (!alias) {
			snprintf(name, sizeof(name), "VSS_SHADOW_%u", ++S.next_shadow);
			alias = name;
		}
		if (alias_set(alias, si->id) < 0 ||
		    (S.context == CTX_VOLATILE && volatile_add(si->id, si->volume) < 0))
			goto abort;
		say("Alias %s for shadow ID %s set as environment variable.\n", alias, si->id);
	}
	say("Alias VSS_SHADOW_SET for shadow set ID %s set as environment variable.\n",
	    snap_session_set_id(s));
	say("\nThe shadow copy set %s was created: %zu shadow cop%s%s.\n", snap_session_set_id(s),
	    count, count == 1 ? "y" : "ies",
	    S.transportable ? ", exported beside the metadata file" : "");
	for (size_t i = 0; i < count; i++) {
		const struct snap_snapshot_info *si = snap_session_snapshot(s, i);

		say("\t* %s  %s  %s\n", si->id, si->volume, si->browse);
	}
	if (S.mode == MODE_BACKUP) {
		S.backup = s;   /* completed by 'end backup' */
		return 0;
	}
	if (snap_session_complete(s) < 0)
		say("warning: %s\n", snap_session_error(s));
	r = 0;
	goto out;
session_failed:
	fail("create: %s", snap_session_error(s));
	goto out;
abort:
	for (size_t i = 0; i < n_written; i++)
		(void)unlink(written[i]);
	if (snap_session_abort(s) < 0)
		fail("create: the set could not be deleted, some of its snapshots may be left: %s",
		     snap_session_error(s));
out:
	snap_session_free(s);
	return r;
}

/* ---- list --------------------------------------------------------------------------------- */

static int list_writers(int n, char **w)
{
	bool meta = n == 3 && is(w[2], "metadata"), detailed = n == 3 && is(w[2], "detailed");
	struct snap_session *s;
	int k, r = 0;

	if (n > 3 || (n == 3 && !meta && !detailed && !is(w[2], "status")))
		return fail("usage: list writers [metadata | detailed | status]");
	s = snap_session_new();
	if (!s)
		return fail("out of memory");
	if (snap_session_connect(s) < 0 ||
	    (k = (meta || detailed) ? snap_session_gather(s) : snap_session_list_writers(s)) < 0) {
		r = fail("list writers: %s", snap_session_error(s));
		snap_session_free(s);
		return r;
	}
	say("Listing writers: %d\n", k);
	for (int i = 0; i < k; i++) {
		const struct snap_writer_info *wi = snap_session_writer(s, (size_t)i);

		say("\t* WRITER \"%s\"\n\t\t- Writer ID: %s\n\t\t- State: %s\n\t\t- Last error: %s\n",
		    wi->name, wi->id, wi->state, wi->last_error[0] ? wi->last_error : "none");
		if (detailed && wi->metadata[0]) {
			struct xmldoc_wmd wmd;
			char err[256];

			if (xmldoc_wmd_read(wi->metadata, strlen(wi->metadata), &wmd, err,
					    sizeof(err)) == 0) {
				for (size_t c = 0; c < wmd.n_components; c++)
					say("\t\t- Component \"%s\"\n", wmd.components[c].name);
				xmldoc_wmd_release(&wmd);
			}
		}
		if (meta && wi->metadata[0])
			say("%s\n", wi->metadata);
	}
	snap_session_free(s);
	return r;
}

static int list_shadows(int n, char **w)
{
	struct admin_shadow *v;
	const char *set = NULL, *id = NULL;
	char msg[ADMIN_MSG];
	size_t k, shown = 0;

	if (n == 3 && is(w[2], "all"))
		;
	else if (n == 4 && is(w[2], "set"))
		set = w[3];
	else if (n == 4 && is(w[2], "id"))
		id = w[3];
	else if (n != 2)
		return fail("usage: list shadows [all | set ID | id ID]");
	if (admin_shadows(NULL, &v, &k, msg, sizeof(msg)) < 0)
		return fail("list shadows: %s", msg);
	if (msg[0])
		say("warning: %s; its snapshots are not listed\n", msg);
	for (size_t i = 0; i < k; i++) {
		if ((set && strcmp(v[i].set_id, set) != 0) || (id && strcmp(v[i].id, id) != 0))
			continue;
		print_shadow(&v[i]);
		shown++;
	}
	free(v);
	if (id && !shown)
		return fail("list shadows: no snapshot '%s'", id);
	if (set && !shown)
		return fail("list shadows: no snapshot set '%s'", set);
	say("Number of shadow copies listed: %zu\n", shown);
	return 0;
}

static int list_providers(void)
{
	static const struct {
		const char *name, *what;
	} p[] = {
		{ "cow", "copy-on-write: the old data moves to the diff area when overwritten" },
		{ "row", "redirect-on-write: new data goes to the diff area, old stays in place" },
		{ "clone", "full copies (plex): the volume's files cloned into a tree of its own" },
		{ "btrfs", "the filesystem's own snapshot (offloaded), on btrfs subvolumes" },
	};

	say("Listing providers: %zu\n", sizeof(p) / sizeof(p[0]));
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
		say("\t* %s: %s\n", p[i].name, p[i].what);
	return 0;
}

int sh_list(int n, char **w)
{
	if (n >= 2 && is(w[1], "writers"))
		return list_writers(n, w);
	if (n >= 2 && is(w[1], "shadows"))
		return list_shadows(n, w);
	if (n == 2 && is(w[1], "providers"))
		return list_providers();
	return fail("usage: list writers [metadata | detailed | status] | list shadows [all | set "
		    "ID | id ID] | list providers");
}
