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
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "expose.h"
#include "shadow.h"
#include "snapfs/snapfs.h"

struct session S = { .context = CTX_PERSISTENT };

/* ---- output: stdout and the log ------------------------------------------------------ */

void say(const char *fmt, ...)
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


/* An error of the current command: FILE:LINE: in a script. Returns -1. */
int fail(const char *fmt, ...)
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
int alias_set(const char *name, const char *value)
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

bool valid_alias_name(const char *s)
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

/* split()'s work; w[] is NULL-terminated after each word, so that a failure can free it. */
static int split_words(char *line, char **w)
{
	int n = 0;
	char *p = line;

	w[0] = NULL;

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
		w[++n] = NULL;
	}
	return n;
}

/*
 * Split line into words at blanks; "..." keeps blanks in a word; '#' outside quotes starts a
 * comment. Each word expanded. Returns the count, or -1 after fail() with nothing to free.
 */
static int split(char *line, char **w)
{
	int n = split_words(line, w);

	if (n < 0)
		for (int i = 0; w[i]; i++)
			free(w[i]);
	return n;
}

bool is(const char *word, const char *kw)
{
	return word && strcasecmp(word, kw) == 0;
}

/* ---- helpers of the commands ------------------------------------------------------------ */

/* The snapshot id or alias w names (an alias holding an id counts), into s. */
int find_shadow(const char *cmd, const char *w, struct admin_shadow *s)
{
	char msg[ADMIN_MSG];

	if (admin_find_shadow(w, s, msg, sizeof(msg)) < 0)
		return fail("%s: %s", cmd, msg);
	return 0;
}

/* Whether n words fit usage, whose first word names the command; else fail(). */
int arity(int n, int min, int max, const char *usage)
{
	if (n < min || n > max)
		return fail("%.*s: wrong number of arguments; usage: %s",
			    (int)strcspn(usage, " "), usage, usage);
	return 0;
}

void print_shadow(const struct admin_shadow *s)
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

bool is_volatile(const char *id)
{
	for (size_t i = 0; i < S.n_volatile; i++)
		if (strcmp(S.volatiles[i].id, id) == 0)
			return true;
	return false;
}

/* Record a volatile snapshot of the volume at mnt. 0, or -1 after fail(). */
int volatile_add(const char *id, const char *mnt)
{
	struct volatile_snap *nv = realloc(S.volatiles, (S.n_volatile + 1) * sizeof(*nv));

	if (!nv)
		return fail("out of memory");
	S.volatiles = nv;
	snprintf(nv[S.n_volatile].id, sizeof(nv->id), "%s", id);
	snprintf(nv[S.n_volatile].mnt, sizeof(nv->mnt), "%s", mnt);
	S.n_volatile++;
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

/*
 * SIGINT, SIGTERM and SIGHUP end the session as 'exit' would, after the command under way:
 * the handler only notes the signal; without SA_RESTART, the read of the next line (or a
 * wait in the command) returns, and the session's end runs (an open backup aborted,
 * volatile snapshots deleted).
 */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
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
	catch_stop_signals();
	for (;;) {
		ssize_t len;

		if (stop_signal)
			break;
		if (prompt) {
			printf("SNAPSHADOW> ");
			fflush(stdout);
		}
		errno = 0;
		len = getline(&line, &cap, in);
		if (len < 0 && ferror(in)) {
			S.line = 0;
			rc = fail("cannot read %s: %s", script ? "the script" : "the commands",
				  strerror(errno ? errno : EIO));
			break;
		}
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
	if (stop_signal) {
		rc = fail("interrupted by signal %d (%s)", (int)stop_signal,
			  strsignal((int)stop_signal));
		signal((int)stop_signal, SIG_IGN); /* a second one does not cut the cleanup short */
	}
	if (end_session() < 0)
		rc = -1;
	/* what was said must have reached its readers */
	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "snapshadow: cannot write the output: %s\n",
			strerror(errno ? errno : EIO));
		errno = 0;
		rc = -1;
	}
	if (S.log && (ferror(S.log) | fclose(S.log)) != 0) {
		fprintf(stderr, "snapshadow: cannot write the log file '%s': %s\n", logfile,
			strerror(errno ? errno : EIO));
		rc = -1;
	}
	return rc < 0 ? 1 : 0;
}
