/*
 * coord_journal: the snapshot sets being created, written down so that a coordinator that
 * dies in the middle of one (between two volumes' commits, or before its requester has the
 * answer) leaves no part of a set behind: the next coordinator to start deletes the set's
 * snapshots. A requester that was never told a set exists must not find half of one.
 *
 * DIR/SET_ID (DIR: STATE/sets) names the set's volumes, one 'SRC<TAB>MNT' line each: a
 * volume is reached through its source directory's control socket, which neither a hung mount
 * nor a remount elsewhere affects. The record is written and synced before any writer hears of
 * the set, locked (flock) by its coordinator while the set is under way, and removed (the
 * removal synced) before the requester gets its answer, or once the set's snapshots are
 * deleted. A record that no process holds locked is a dead coordinator's; one whose volume's
 * daemon does not answer stays for a later start.
 */
#ifndef SNAPFS_COORD_JOURNAL_H
#define SNAPFS_COORD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "control_client.h"

/*
 * Record the set set_id of the n volumes vols in dir (created, with its parent, when missing).
 * Returns the locked record's descriptor, for coord_journal_end(), or a negative errno with
 * msg naming the file and the cause.
 */
int coord_journal_begin(const char *dir, const char *set_id, const struct control_volume *vols,
			size_t n, char *msg, size_t msglen);

/*
 * Close the record fd of set_id: removed (and the removal synced) when remove, else left for
 * the next start. 0, or the negative errno of a removal that failed (logged).
 */
int coord_journal_end(const char *dir, const char *set_id, int fd, bool remove);

/*
 * Delete the snapshots of every set recorded in dir that no coordinator holds, and their
 * records (and the temporary files of records never finished); logs what it does. Each
 * volume's daemon gets a few seconds to answer. Returns how many sets it settled.
 */
int coord_journal_recover(const char *dir);

#endif
