/*
 * coord: the coordinator service, snapfsd's whole logic (cli/snapfsd.c only parses options).
 * Writers and requesters connect to its socket; a requester's create runs the shadow-copy
 * sequence over the writers and the volumes of the set (docs/coordinator.md). No FUSE here:
 * volumes are reached through their control sockets (control_client.h).
 *
 * Thread-safety: coord_run() owns the process's service; one call per process.
 */
#ifndef SNAPFS_COORD_H
#define SNAPFS_COORD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define COORD_MAX_VOLUMES 64
#define COORD_MAX_SESSIONS 64
#define COORD_MAX_WRITERS 256
#define COORD_MAX_ACL 64
#define COORD_HOLD_MAX_MS 600000   /* the longest write hold a volume's daemon accepts */

/* Who may take a role: user ids and group ids (primary or supplementary). */
struct coord_acl {
	uid_t uids[COORD_MAX_ACL];
	size_t n_uids;
	gid_t gids[COORD_MAX_ACL];
	size_t n_gids;
};

struct coord_config {
	unsigned freeze_ms;         /* the writers' limit per event, default 60000 */
	unsigned hold_ms;           /* the write hold's limit, default 10000 */
	unsigned idle_exit_s;       /* exit after this long without connections; 0: never */
	struct coord_acl writers;   /* who may register writers */
	struct coord_acl requesters;/* who may open backup sessions */
	char sets_dir[PATH_MAX];    /* records of the sets being created (coord_journal.h); "":
				       none are kept */
};

/*
 * The defaults, then the configuration file at path (NULL: $SNAPFS_CONFIG, else
 * /etc/snapfs/snapfsd.conf; a missing default file is no error). Lines are 'key = value',
 * '#' comments: freeze_timeout and hold_timeout (seconds, decimals allowed), idle_exit
 * (seconds), writers and requesters (user names, uids, @group names, space separated). Without
 * a list, root and the service's own user may take the role. Returns 0 or a negative errno
 * with a message naming the file, the line and the cause in err.
 */
int coord_config_load(const char *path, struct coord_config *cfg, char *err, size_t errlen);

/*
 * Serve on RUNTIME_DIR/snapfsd.sock until SIGTERM/SIGINT, or until idle for idle_exit_s.
 * ready_fd, when >= 0, gets one byte and is closed once the socket listens (for daemonizing).
 * Returns 0, -EALREADY when another coordinator serves this runtime directory, or another
 * negative errno with a message in err.
 */
int coord_run(const struct coord_config *cfg, int ready_fd, char *err, size_t errlen);

#endif
