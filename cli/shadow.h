/*
 * shadow.h: what the parts of snapshadow share: the session (snapshadow.c owns it and the
 * reading of commands), the output, and the commands (shadow_set.c: set, begin, end, writer,
 * add, create, list; shadow_ops.c: delete, expose, import, revert, break, exec, reset).
 */
#ifndef SNAPFS_CLI_SHADOW_H
#define SNAPFS_CLI_SHADOW_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "admin.h"
#include "snapfs/requester.h"
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

/* A volatile snapshot, deleted at the end of the session: looked up on its own volume only. */
struct volatile_snap {
	char id[ADMIN_ID_MAX + 1];
	char mnt[PATH_MAX];
};

struct session {
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
	struct volatile_snap *volatiles;
	size_t n_volatile;
	struct snap_session *backup;        /* a created set whose backup has not ended */
	struct snap_session *restore;       /* between begin restore and end restore */
	struct xmldoc_bcd loaded;           /* load metadata */
	char loaded_path[PATH_MAX];
	bool has_loaded;
	bool exiting;
};

extern struct session S;

/* Print to stdout and the log. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Only with 'set verbose on'. */
#define verbose(...) do { if (S.verbose) say(__VA_ARGS__); } while (0)
/* An error of the current command, "FILE:LINE: " before it in a script. Returns -1. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int alias_set(const char *name, const char *value);
bool valid_alias_name(const char *s);
bool is(const char *word, const char *kw);
int arity(int n, int min, int max, const char *usage);
int find_shadow(const char *cmd, const char *w, struct admin_shadow *s);
void print_shadow(const struct admin_shadow *s);
bool is_volatile(const char *id);
int volatile_add(const char *id, const char *mnt);

/* shadow_set.c */
int end_backup(bool complete);
int restore_end(const char *cmd, struct snap_session *s);
void export_path(const char *metadata, const char *id, char *buf, size_t size);
void progress_none(uint64_t done, uint64_t total, void *ctx);
void clear_lists(void);

/* shadow_ops.c */
int delete_one(const struct admin_shadow *s, bool unexpose_first);
int drop_volatile(void);

/* The commands: n words in w (w[0] the command), 0 or -1 after fail(). */
int sh_set(int n, char **w);
int sh_begin(int n, char **w);
int sh_end(int n, char **w);
int sh_simulate(int n, char **w);
int sh_writer(int n, char **w);
int sh_add(int n, char **w);
int sh_create(int n, char **w);
int sh_list(int n, char **w);
int sh_delete(int n, char **w);
int sh_expose(int n, char **w);
int sh_unexpose(int n, char **w);
int sh_load(int n, char **w);
int sh_import(int n, char **w);
int sh_mask(int n, char **w);
int sh_revert(int n, char **w);
int sh_resync(int n, char **w);
int sh_break(int n, char **w);
int sh_exec(int n, char **w);
int sh_reset(int n, char **w);
int sh_exit(int n, char **w);

#endif
