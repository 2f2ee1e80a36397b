/*
 * admin.h: the administration operations that snapfs, snapshadow and snapfsd share. Each
 * takes its inputs as values and, on failure, returns a negative errno with a complete message
 * in msg (naming the thing and the cause, without a program prefix), so that snapfs can print
 * "snapfs CMD: MSG" and snapshadow "FILE:LINE: MSG". Nothing here prints.
 *
 * A snapshot is found by its id on any mounted snapfs volume, or in the detached store: the
 * snapshots imported from an export, or broken out of their volume (STATE/detached/ID).
 *
 * The state directory ($SNAPFS_STATE_DIR, else /var/lib/snapfs) holds what outlives a volume's
 * daemon and the coordinator: the detached snapshots and the exposures.
 */
#ifndef SNAPFS_CLI_ADMIN_H
#define SNAPFS_CLI_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control_client.h"

#define ADMIN_MSG (PATH_MAX + 1024) /* room for any message here, a path or two in it */
#define ADMIN_ID_MAX 36    /* ids and set ids are UUIDs */

/* The state directory, or its entry sub (NULL: the directory itself), in buf. */
int admin_state_path(char *buf, size_t size, const char *sub);

/* The detached store (STATE/detached), created (0700) when missing, in buf. */
int admin_detached_store(char *buf, size_t size, char *msg, size_t msglen);

struct admin_shadow {
	char id[ADMIN_ID_MAX + 1];
	char set_id[ADMIN_ID_MAX + 1];
	char browse[64];
	char kind[16];                  /* 'journal', 'tree' or 'detached' */
	uint64_t epoch;
	int64_t created_ns;             /* UTC, ns */
	uint64_t diff_bytes;
	bool detached;                  /* in the store: vol is empty */
	char origin[PATH_MAX];          /* the volume it was taken of (detached: as recorded) */
	struct control_volume vol;      /* its volume, when not detached */
};

/* The snapfs volume mounted at mnt; -ENOTCONN when mnt is not one. */
int admin_volume(const char *mnt, struct control_volume *v, char *msg, size_t msglen);

/*
 * Send line to the daemon of v: 0 for an 'ok' reply (in rep, which the caller releases),
 * else a negative errno and the daemon's words, or why there was no reply, in msg.
 */
int admin_request(const struct control_volume *v, const char *line, struct control_reply *rep,
		  char *msg, size_t msglen);

/*
 * The snapshots of v, or of every volume and then the detached store when v is NULL, oldest
 * first per volume. The caller frees *ret. With v, a daemon that does not answer fails it;
 * without, such a volume is left out and the first one's failure is in msg, which is ""
 * when every volume answered: callers that list warn with it.
 */
int admin_shadows(const struct control_volume *v, struct admin_shadow **ret, size_t *n,
		  char *msg, size_t msglen);

/* The detached snapshots only (imported, or broken off their volume). */
int admin_detached(struct admin_shadow **ret, size_t *n, char *msg, size_t msglen);

/*
 * The snapshot with this id, wherever it is: the detached one first (an import on the machine
 * that holds the original), then the volumes'. -ENOENT ("no snapshot 'ID' ...") if none.
 */
int admin_find_shadow(const char *id, struct admin_shadow *ret, char *msg, size_t msglen);

/*
 * The directory that shows s's tree, read-only: MNT/.snapshots/ID for a volume's snapshot
 * (the id reaches every snapshot there, listed or not), STATE/detached/ID/tree otherwise.
 */
int admin_shadow_tree(const struct admin_shadow *s, char *buf, size_t size);

/* Take one snapshot of v without writers; its id (and the rest) in *ret. */
int admin_create(const struct control_volume *v, struct admin_shadow *ret, char *msg,
		 size_t msglen);

/*
 * 0 when snapshot id is not exposed; -EBUSY ("... is exposed at 'DIR'; unexpose it first")
 * when it is, or another negative errno when the registry cannot say: deleting must stop then.
 */
int admin_check_unexposed(const char *id, char *msg, size_t msglen);

/*
 * Delete s (a volume's, or a detached one with its tree). Refused while s is exposed; the
 * registry is held meanwhile, so that no exposure of it can be made in between.
 */
int admin_delete(const struct admin_shadow *s, char *msg, size_t msglen);

/* "YYYY-MM-DD HH:MM:SS" in UTC. */
void admin_format_utc(int64_t ns, char *buf, size_t size);

#endif
