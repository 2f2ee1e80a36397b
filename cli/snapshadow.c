/*
 * snapshadow: DiskShadow's sessions on snapfs, from a prompt or a script (-s FILE), with
 * everything said also written to a log (-l FILE).
 *
 * A session collects what the next 'create' takes (volumes with their aliases, the context,
 * the options, the writers to verify or exclude, the metadata file) and what it made
 * (aliases, volatile snapshots). Commands are DiskShadow's, with mount points for drive
 * letters; their implementations are the ones 'snapfs' uses (admin.h, expose.h, revert.h,
 * transport.h, the requester API), so the two never disagree. docs/snapshadow.md lists the
 * commands and what each DiskShadow word means here.
 *
 * Decisions:
 *  - Words are matched without regard to case, as DiskShadow does; aliases too.
 *  - %NAME% is expanded inside each word, after splitting (so a path with spaces that an
 *    alias holds stays one word): the session's aliases first, then the environment. An
 *    unknown name is an error, never left as it is. %% is a literal %.
 *  - In a script, the first error stops it: "FILE:LINE: reason" on stderr, exit status 1.
 *    At the prompt an error is reported and the session goes on.
 *  - A command either does all it says or nothing: 'create' aborts the set (the coordinator
 *    deletes its snapshots) and removes the exports it wrote when any later step fails;
 *    'import' removes what it imported of a set when one snapshot of it fails.
 *  - The session ends (exit, end of script, an error in a script, end of input) by ending a
 *    backup left open with abort, which tells the writers the backup failed, and by deleting
 *    the snapshots of a volatile context and unexposing them.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "expose.h"
#include "revert.h"
#include "snapfs/requester.h"
#include "snapfs/snapfs.h"
#include "transport.h"
#include "xmldoc.h"

#define MAX_WORDS 32
#define MAX_VOLUMES 64
#define MAX_LIST 64
#define LINE_MAX_LEN 8192
#define EXPORT_SUFFIX ".snapfs-export"

enum context { CTX_CLIENTACCESSIBLE, CTX_PERSISTENT, CTX_VOLATILE };
enum mode { MODE_NONE, MODE_BACKUP, MODE_RESTORE };

struct volume_entry {
	char mnt[PATH_MAX];
	char alias[64];
	char provider[32];
};

struct shadow_entry {
	char id[ADMIN_ID_MAX + 1];
	char dest[PATH_MAX];
};

struct alias {
	char *name;
	char *value;
};

static struct {
	/* where errors point */
	const char *file;
	unsigned line;
	bool script;
	FILE *log;
	/* what the next create takes */
	enum context context;
	bool nowriters;
	bool plex, transportable, noautorecover;
	bool verbose;
	char metadata[PATH_MAX];
	enum mode mode;
	char *verify[MAX_LIST];
	size_t n_verify;
	char *exclude[MAX_LIST];
	size_t n_exclude;
	struct volume_entry vols[MAX_VOLUMES];
	size_t n_vols;
	struct shadow_entry shadows[MAX_VOLUMES];
	size_t n_shadows;
	/* what the session made */
	struct alias *aliases;
	size_t n_aliases;
	unsigned next_shadow;               /* VSS_SHADOW_n */
	char *volatile_ids[MAX_LIST * 8];
	size_t n_volatile;
	struct snap_session *backup;        /* a created set whose backup has not ended */
	struct snap_session *restore;       /* between begin restore and end restore */
	struct xmldoc_bcd loaded;           /* load metadata */
	char loaded_path[PATH_MAX];
	bool has_loaded;
	bool exiting;
} S = { .context = CTX_PERSISTENT };

/* ---- output: stdout and the log ------------------------------------------------------ */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (S.log) {
		va_start(ap, fmt);
		vfprintf(S.log, fmt, ap);
		va_end(ap);
	}
}

/* Only with 'set verbose on'. */
#define verbose(...) do { if (S.verbose) say(__VA_ARGS__); } while (0)

/* An error of the current command: FILE:LINE: in a script. Returns -1. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	char msg[ADMIN_MSG * 2], where[PATH_MAX + 32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (S.script && S.line)
		snprintf(where, sizeof(where), "%s:%u: ", S.file, S.line);
	else if (S.script)
		snprintf(where, sizeof(where), "%s: ", S.file); /* the end of the session */
	fflush(stdout);
	fprintf(stderr, "%s%s\n", where, msg);
	if (S.log)
		fprintf(S.log, "%serror: %s\n", where, msg);
	return -1;
}

/* ---- aliases --------------------------------------------------------------------------- */

static struct alias *alias_find(const char *name)
{
	for (size_t i = 0; i < S.n_aliases; i++)
		if (strcasecmp(S.aliases[i].name, name) == 0)
			return &S.aliases[i];
	return NULL;
}

/* Define (or redefine) an alias, also as an environment variable for exec. */
static int alias_set(const char *name, const char *value)
{
	struct alias *a = alias_find(name), *na;
	char *v = strdup(value);

	if (!v)
		return fail("out of memory");
	if (!a) {
		na = realloc(S.aliases, (S.n_aliases + 1) * sizeof(*na));
		if (!na || !(na[S.n_aliases].name = strdup(name))) {
			if (na)
				S.aliases = na;
			free(v);
			return fail("out of memory");
		}
		S.aliases = na;
		a = &S.aliases[S.n_aliases++];
		a->value = NULL;
	}
	free(a->value);
	a->value = v;
	(void)setenv(a->name, value, 1);
	return 0;
}

static bool valid_alias_name(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* The value of %name%: an alias, else an environment variable, else NULL. */
static const char *lookup_name(const char *name)
{
	struct alias *a = alias_find(name);

	return a ? a->value : getenv(name);
}

/* Expand %NAME% and %% in word into a new string; NULL after fail(). */
static char *expand(const char *word)
{
	size_t cap = strlen(word) + 1, len = 0;
	char *out = malloc(cap), *grown;

	if (!out) {
		fail("out of memory");
		return NULL;
	}
	for (const char *p = word; *p;) {
		const char *piece = p, *end;
		char name[128];
		size_t n = 1;

		if (*p == '%' && p[1] == '%') {
			p += 2;
		} else if (*p == '%' && (end = strchr(p + 1, '%'))) {
			if ((size_t)(end - p - 1) >= sizeof(name) || end == p + 1) {
				free(out);
				fail("malformed alias reference in '%s'", word);
				return NULL;
			}
			memcpy(name, p + 1, (size_t)(end - p - 1));
			name[end - p - 1] = '\0';
			piece = lookup_name(name);
			if (!piece) {
				free(out);
				fail("unknown alias or environment variable '%%%s%%'", name);
				return NULL;
			}
			n = strlen(piece);
			p = end + 1;
		} else {
			p++;
		}
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			grown = realloc(out, cap);
			if (!grown) {
				free(out);
				fail("out of memory");
				return NULL;
			}
			out = grown;
		}
		memcpy(out + len, piece, n);
		len += n;
	}
	out[len] = '\0';
	return out;
}

/* ---- words ------------------------------------------------------------------------------- */

/*
 * Split line into words at blanks; "..." keeps blanks in a word; '#' outside quotes starts a
 * comment. Each word expanded. Returns the count, or -1 after fail().
 */
static int split(char *line, char **w)
{
	int n = 0;
	char *p = line;

	while (*p) {
		char *start, *dst;
		bool quoted = false;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		if (n == MAX_WORDS)
			return fail("too many words (at most %d)", MAX_WORDS);
		start = dst = p;
		while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
			if (*p == '"')
				quoted = !quoted;
			else
				*dst++ = *p;
			p++;
		}
		if (quoted)
			return fail("unterminated quotation mark");
		if (*p)
			p++;
		*dst = '\0';
		w[n] = expand(start);
		if (!w[n])
			return -1;
		n++;
	}
	return n;
}

static bool is(const char *word, const char *kw)
{
	return word && strcasecmp(word, kw) == 0;
}

/* ---- helpers of the commands ------------------------------------------------------------ */

/* The snapshot id or alias w names (an alias holding an id counts), into s. */
static int find_shadow(const char *cmd, const char *w, struct admin_shadow *s)
{
	char msg[ADMIN_MSG];

	if (admin_find_shadow(w, s, msg, sizeof(msg)) < 0)
		return fail("%s: %s", cmd, msg);
	return 0;
}

/* Whether n words fit usage, whose first word names the command; else fail(). */
static int arity(int n, int min, int max, const char *usage)
{
	if (n < min || n > max)
		return fail("%.*s: wrong number of arguments; usage: %s",
			    (int)strcspn(usage, " "), usage, usage);
	return 0;
}

static void print_shadow(const struct admin_shadow *s)
{
	char created[32], tree[PATH_MAX];
	struct exposure ex;

	admin_format_utc(s->created_ns, created, sizeof(created));
	if (admin_shadow_tree(s, tree, sizeof(tree)) < 0)
		snprintf(tree, sizeof(tree), "?");
	say("\t* Shadow copy ID = %s\n", s->id);
	for (size_t i = 0; i < S.n_aliases; i++)
		if (strcmp(S.aliases[i].value, s->id) == 0)
			say("\t\t- Alias: %%%s%%\n", S.aliases[i].name);
	say("\t\t- Shadow copy set: %s\n", s->set_id);
	say("\t\t- Original volume: %s\n", s->detached ? s->origin : s->vol.mnt);
	say("\t\t- Creation time (UTC): %s\n", created);
	say("\t\t- Shadow copy path: %s\n", tree);
	say("\t\t- Stored as: %s\n", s->kind);
	if (expose_lookup(s->id, &ex) > 0)
		say("\t\t- Exposed at: %s\n", ex.dir);
}

static bool is_volatile(const char *id)
{
	for (size_t i = 0; i < S.n_volatile; i++)
		if (strcmp(S.volatile_ids[i], id) == 0)
			return true;
	return false;
}

/* ---- set, begin, end, writer ------------------------------------------------------------ */

static int sh_set(int n, char **w)
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

static int end_backup(bool complete);

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
static int restore_end(const char *cmd, struct snap_session *s)
{
	int r = snap_session_post_restore(s) < 0 ? fail("%s: %s", cmd, snap_session_error(s)) : 0;

	snap_session_free(s);
	return r;
}

static int sh_begin(int n, char **w)
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

static int sh_end(int n, char **w)
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

static int sh_simulate(int n, char **w)
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

/* Finish the backup: backup-complete to the writers (complete), or abort. */
static int end_backup(bool complete)
{
	struct snap_session *b = S.backup;
	int r = 0;

	S.mode = MODE_NONE;
	S.backup = NULL;
	if (!b)
		return 0;
	if (complete && snap_session_complete(b) < 0)
		r = fail("end backup: %s", snap_session_error(b));
	if (!complete && snap_session_abort(b) < 0)
		r = fail("the backup left open: %s", snap_session_error(b));
	snap_session_free(b);
	return r;
}

static int sh_writer(int n, char **w)
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

static int sh_add(int n, char **w)
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
static void export_path(const char *metadata, const char *id, char *buf, size_t size)
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

static void progress_none(uint64_t done, uint64_t total, void *ctx)
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

static int sh_create(int n, char **w)
{
	char msg[ADMIN_MSG], path[PATH_MAX + 64], name[80];
	char written[MAX_VOLUMES][PATH_MAX + 64];
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
		if (alias_set(alias, si->id) < 0)
			goto abort;
		say("Alias %s for shadow ID %s set as environment variable.\n", alias, si->id);
		if (S.context == CTX_VOLATILE && S.n_volatile < sizeof(S.volatile_ids) /
		    sizeof(S.volatile_ids[0]))
			S.volatile_ids[S.n_volatile++] = strdup(si->id);
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
	(void)snap_session_abort(s);
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

static int sh_list(int n, char **w)
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

/* ---- delete, expose, unexpose ----------------------------------------------------------- */

/* Delete one snapshot (unexposing it first when asked); says so. */
static int delete_one(const struct admin_shadow *s, bool unexpose_first)
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

static int sh_delete(int n, char **w)
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

		if (!realpath(w[3], real))
			return fail("delete shadows exposed: '%s': %s", w[3], strerror(errno));
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
		for (size_t i = 0; r == 0 && i < (is(w[2], "oldest") ? 1 : k); i++, done++)
			r = delete_one(&v[i], false);
		free(v);
		return r;
	}
	if ((n == 3 && is(w[2], "all")) || (n == 4 && is(w[2], "set"))) {
		if (admin_shadows(NULL, &v, &k, msg, sizeof(msg)) < 0)
			return fail("delete shadows: %s", msg);
		for (size_t i = 0; r == 0 && i < k; i++)
			if (n == 3 || strcmp(v[i].set_id, w[3]) == 0) {
				r = delete_one(&v[i], false);
				done++;
			}
		free(v);
		if (r == 0 && n == 4 && !done)
			return fail("delete shadows: no snapshot set '%s'", w[3]);
		return r;
	}
	return fail("usage: delete shadows all | volume MNT | oldest MNT | set ID | id ID | "
		    "exposed DIR");
}

static int sh_expose(int n, char **w)
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

static int sh_unexpose(int n, char **w)
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
	fclose(f);
	buf[n] = '\0';
	*ret = buf;
	*len = n;
	return 0;
}

static int sh_load(int n, char **w)
{
	char *xml = NULL, err[512];
	size_t len = 0;
	int r;

	if (n != 3 || !is(w[1], "metadata"))
		return fail("usage: load metadata FILE");
	r = read_whole(w[2], &xml, &len);
	if (r < 0)
		return fail("load metadata: cannot read '%s': %s", w[2], strerror(-r));
	if (S.has_loaded) {
		xmldoc_bcd_release(&S.loaded);
		S.has_loaded = false;
	}
	r = xmldoc_bcd_read(xml, len, &S.loaded, err, sizeof(err));
	free(xml);
	if (r < 0)
		return fail("load metadata: '%s' is not a backup components document: %s", w[2],
			    err);
	S.has_loaded = true;
	snprintf(S.loaded_path, sizeof(S.loaded_path), "%s", w[2]);
	say("Loaded the metadata of shadow copy set %s: %zu shadow cop%s\n", S.loaded.set_id,
	    S.loaded.n_snapshots, S.loaded.n_snapshots == 1 ? "y" : "ies");
	return 0;
}

static int sh_import(int n, char **w)
{
	char store[PATH_MAX], path[PATH_MAX + 64], msg[ADMIN_MSG], name[80];
	struct transport_meta m[MAX_VOLUMES];
	size_t done = 0;

	(void)w;
	if (arity(n, 1, 1, "import") < 0)
		return -1;
	if (!S.has_loaded)
		return fail("import: no metadata loaded ('load metadata FILE' first)");
	if (S.loaded.n_snapshots > MAX_VOLUMES)
		return fail("import: too many snapshots in the set");
	if (admin_detached_store(store, sizeof(store), msg, sizeof(msg)) < 0)
		return fail("import: %s", msg);
	msg[0] = '\0';
	for (; done < S.loaded.n_snapshots && !msg[0]; done++) {
		const struct xmldoc_snapshot *x = &S.loaded.snapshots[done];

		export_path(S.loaded_path, x->id, path, sizeof(path));
		if (transport_import(path, store, &m[done], progress_none, NULL, msg,
				     sizeof(msg)) < 0)
			break;
		if (strcmp(m[done].id, x->id) != 0 || strcmp(m[done].set_id, S.loaded.set_id) != 0)
			snprintf(msg, sizeof(msg), "'%s' holds snapshot %.36s of set %.36s, not the "
				 "%.36s the metadata names", path, m[done].id, m[done].set_id, x->id);
	}
	if (msg[0]) {
		/* undo: remove what this import added */
		for (size_t i = 0; i < done; i++) {
			struct admin_shadow s = { .detached = true };
			char ignored[ADMIN_MSG];

			memcpy(s.id, m[i].id, sizeof(s.id));
			s.id[sizeof(s.id) - 1] = '\0';
			(void)admin_delete(&s, ignored, sizeof(ignored));
		}
		return fail("import: %s", msg);
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

static int sh_mask(int n, char **w)
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
	return 0;
}

static int sh_revert(int n, char **w)
{
	if (arity(n, 2, 2, "revert ID") < 0)
		return -1;
	return do_revert(w[1], NULL, "revert");
}

static int sh_resync(int n, char **w)
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

static int sh_break(int n, char **w)
{
	bool writable = n == 4 && is(w[1], "writable");
	char msg[ADMIN_MSG];

	if (n != 3 && !writable)
		return fail("usage: break [writable] ID DIR");
	if (break_snapshot(w[n - 2], w[n - 1], writable, msg, sizeof(msg)) < 0)
		return fail("break: %s", msg);
	say("The shadow copy %s is now %s at %s.\n", w[n - 2],
	    writable ? "an independent read-write directory" : "a detached read-only copy",
	    w[n - 1]);
	return 0;
}

/* ---- exec, reset, exit ---------------------------------------------------------------------- */

static int sh_exec(int n, char **w)
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
	if (pid < 0)
		return fail("exec: %s", strerror(errno));
	if (pid == 0) {
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

/* Delete the volatile snapshots made so far, unexposing them first. */
static int drop_volatile(void)
{
	int r = 0;

	for (size_t i = 0; i < S.n_volatile; i++) {
		struct admin_shadow s;
		char msg[ADMIN_MSG];

		if (S.volatile_ids[i] && admin_find_shadow(S.volatile_ids[i], &s, msg,
							   sizeof(msg)) == 0 &&
		    delete_one(&s, true) < 0)
			r = -1;
		free(S.volatile_ids[i]);
	}
	S.n_volatile = 0;
	return r;
}

static void clear_lists(void)
{
	for (size_t i = 0; i < S.n_verify; i++)
		free(S.verify[i]);
	for (size_t i = 0; i < S.n_exclude; i++)
		free(S.exclude[i]);
	S.n_verify = S.n_exclude = S.n_vols = S.n_shadows = 0;
}

static int sh_reset(int n, char **w)
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

static int sh_exit(int n, char **w)
{
	(void)w;
	if (arity(n, 1, 1, "exit") < 0)
		return -1;
	S.exiting = true;
	return 0;
}

/* ---- dispatch and help ----------------------------------------------------------------------- */

static int sh_help(int n, char **w);

static const struct command {
	const char *name;
	int (*fn)(int n, char **w);
	const char *help;
} commands[] = {
	{ "add", sh_add,
	  "add volume MNT [alias NAME] [provider NAME]   add a snapfs volume to the set\n"
	  "add alias NAME VALUE                          define %NAME%\n"
	  "add shadow ID [PATH]                          a snapshot for resync (PATH: part of\n"
	  "                                              its volume, the whole by default)\n"
	  "add                                           show the set\n" },
	{ "begin", sh_begin,
	  "begin backup    start a backup: 'end backup' tells the writers it is complete\n"
	  "begin restore   tell the writers a restore of the loaded set begins (pre-restore);\n"
	  "                restore with revert, resync or exec, then 'end restore'\n" },
	{ "break", sh_break,
	  "break [writable] ID DIR   turn a snapshot into an independent directory at DIR and\n"
	  "                          take it off its volume: a detached read-only copy exposed\n"
	  "                          at DIR, or with writable a plain read-write directory\n" },
	{ "create", sh_create,
	  "create   take the snapshot set of the volumes added, with the writers; defines an\n"
	  "         alias per snapshot (the volume's, or VSS_SHADOW_n) and VSS_SHADOW_SET\n" },
	{ "delete", sh_delete,
	  "delete shadows all | volume MNT | oldest MNT | set ID | id ID | exposed DIR\n" },
	{ "end", sh_end, "end backup    tell the writers the backup is complete\n"
			 "end restore   tell the writers the restore is complete (post-restore)\n" },
	{ "exec", sh_exec,
	  "exec FILE [ARGS]   run FILE (executable); a failure stops the script\n" },
	{ "exit", sh_exit, "exit   end the session (volatile snapshots are deleted)\n" },
	{ "expose", sh_expose,
	  "expose ID DIR   mount the snapshot read-only at the empty directory DIR\n" },
	{ "help", sh_help, "help [COMMAND]\n" },
	{ "import", sh_import,
	  "import   import the transportable set whose metadata was loaded\n" },
	{ "list", sh_list,
	  "list writers [metadata | detailed | status]\n"
	  "list shadows [all | set ID | id ID]\n"
	  "list providers\n" },
	{ "load", sh_load, "load metadata FILE   read a set's metadata (for import)\n" },
	{ "mask", sh_mask, "mask SETID   remove the imported shadow copies of a set\n" },
	{ "reset", sh_reset,
	  "reset   back to the defaults: the set, options and volatile snapshots go\n" },
	{ "resync", sh_resync,
	  "resync   revert each volume (or PATH) to the snapshot added with 'add shadow'\n" },
	{ "revert", sh_revert,
	  "revert ID   make the snapshot's volume its state again; the state left is kept\n"
	  "            as a new snapshot, and newer snapshots stay\n" },
	{ "set", sh_set,
	  "set context clientaccessible | persistent [nowriters] | volatile [nowriters]\n"
	  "set option [differential | plex] [transportable] [noautorecover]\n"
	  "           (rollbackrecover and txfrecover are NTFS writers' and refused here)\n"
	  "set verbose on | off\n"
	  "set metadata FILE   where create saves the set's backup components document\n" },
	{ "simulate", sh_simulate,
	  "simulate restore   pre-restore then post-restore to the writers, nothing restored\n" },
	{ "unexpose", sh_unexpose, "unexpose DIR   unmount a snapshot exposed at DIR\n" },
	{ "writer", sh_writer,
	  "writer verify NAME    create fails unless the writer takes part\n"
	  "writer exclude NAME   leave the writer out of the set\n" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static int sh_help(int n, char **w)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (n == 1 || is(w[1], commands[i].name))
			say("%s", commands[i].help);
	return 0;
}

/* Run one line. Returns 0, or -1 after fail(). */
static int run_line(char *line)
{
	const struct command *c = NULL;
	char *w[MAX_WORDS + 1];
	int n = split(line, w), r;

	if (n <= 0)
		return n;
	w[n] = NULL;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (is(w[0], commands[i].name))
			c = &commands[i];
	r = c ? c->fn(n, w) : fail("unknown command '%s' (see 'help')", w[0]);
	for (int i = 0; i < n; i++)
		free(w[i]);
	return r;
}

/* End of session: the open backup aborted, volatile snapshots deleted. */
static int end_session(void)
{
	int r = 0;

	S.line = 0;
	if (S.backup) {
		fail("the backup was not ended: the writers are told it failed, and its set is "
		     "deleted");
		(void)end_backup(false);
		r = -1;
	}
	if (S.restore) {
		fail("the restore was not ended: the writers are told it is over");
		(void)restore_end("end restore", S.restore);
		S.restore = NULL;
		r = -1;
	}
	if (drop_volatile() < 0)
		r = -1;
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: snapshadow [-s SCRIPT] [-l LOGFILE]\n"
		   "\n"
		   "DiskShadow's sessions for snapfs volumes: without -s, commands are read at a\n"
		   "prompt; with -s, from SCRIPT, which stops at the first error (FILE:LINE: and\n"
		   "why, exit status 1). -l also writes everything said to LOGFILE. 'help' lists\n"
		   "the commands; docs/snapshadow.md describes them.\n");
}

int main(int argc, char **argv)
{
	const char *script = NULL, *logfile = NULL;
	char *line = NULL;
	size_t cap = 0;
	FILE *in = stdin;
	bool prompt;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "s:l:hV")) != -1) {
		if (opt == 's') {
			script = optarg;
		} else if (opt == 'l') {
			logfile = optarg;
		} else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else if (opt == 'V') {
			printf("snapshadow %s\n", snap_version());
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (logfile && !(S.log = fopen(logfile, "ae"))) {
		fprintf(stderr, "snapshadow: cannot open the log file '%s': %s\n", logfile,
			strerror(errno));
		return 1;
	}
	if (script && !(in = fopen(script, "re"))) {
		fprintf(stderr, "snapshadow: cannot read the script '%s': %s\n", script,
			strerror(errno));
		return 1;
	}
	/* input that is not a terminal is a script too: the first error stops it */
	prompt = !script && isatty(STDIN_FILENO);
	S.script = !prompt;
	S.file = script ? script : "stdin";
	xmldoc_init();
	for (;;) {
		ssize_t len;

		if (prompt) {
			printf("SNAPSHADOW> ");
			fflush(stdout);
		}
		len = getline(&line, &cap, in);
		if (len < 0)
			break;
		S.line++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((size_t)len > LINE_MAX_LEN) {
			rc = fail("line longer than %d bytes", LINE_MAX_LEN);
		} else {
			if (S.log && S.script)
				fprintf(S.log, "-> %s\n", line);
			rc = run_line(line);
		}
		if ((rc < 0 && S.script) || S.exiting)
			break;
		rc = S.script ? rc : 0;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (end_session() < 0)
		rc = -1;
	if (S.log)
		fclose(S.log);
	return rc < 0 ? 1 : 0;
}
