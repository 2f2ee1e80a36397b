/*
 * coord_seq.c: a requester's backup session, and the shadow-copy sequence its create runs
 * (DESIGN.md, "Creating a shadow copy"; docs/coordinator.md):
 *
 *   prepare-backup, prepare-snapshot, freeze   to every writer of the session, each event sent
 *                                              to all at once, answers awaited until the
 *                                              freeze limit; before freeze, a wait into the
 *                                              second after the volumes' newest snapshots
 *   hold                                       each volume flushed (syncfs on its mount), then
 *                                              every write gate closed, all at once
 *   commit                                     every volume records its snapshot; the hold
 *                                              must not have passed its limit
 *   thaw, post-snapshot                        as the first three; then the snapshots left
 *                                              writable for auto-recovery are sealed
 *
 * Any failure before the end aborts: held volumes open their gates, committed snapshots are
 * deleted, every writer that took part gets abort, and the requester gets one line naming the
 * writer or volume and the cause. The requester going away counts as a failure until the reply
 * is sent. create_lock serializes the sequences, so that each set is held and committed alone.
 *
 * The service itself dying between two commits, or before the requester has its answer, is
 * settled by the next service to start: the set is recorded before any writer hears of it
 * (coord_journal.h), and a record left behind means its snapshots are deleted.
 */
#include "coord_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "control_client.h"
#include "coord_journal.h"
#include "log.h"
#include "xmldoc.h"

#define PREPARE_WAIT_MS 60000 /* a volume's flush of SRC before its gate closes */
#define WAIT_ASK_MS 2000      /* the volumes' answers to 'newest', all together */
#define MAX_SELECTED 1024
#define MAX_EXCLUDED 256

struct svolume {
	struct control_volume v;
	char provider[32];
	char snap_id[64];
	char browse[64];
	bool recoverable;        /* its provider offers auto-recovery */
	char *writable;          /* where its snapshot may be repaired until sealed, or NULL */
	int hold_fd;
	bool commit_sent;        /* the daemon may have committed, answer or not */
	bool committed;          /* it did: snap_id is the snapshot */
};

struct selected {
	char *writer;
	char *component;
};

struct session {
	struct coord *c;
	struct conn *k;
	unsigned freeze_ms, hold_ms;
	struct svolume vol[COORD_MAX_VOLUMES];
	size_t n_vol;
	char *excluded[MAX_EXCLUDED];
	size_t n_excluded;
	struct selected sel[MAX_SELECTED];
	size_t n_sel;
	/* the set, once created */
	char set_id[40];
	int64_t created_ns;
	struct coord_writer **part;   /* the writers that take part, referenced */
	bool *late;                   /* by the same index: it did not answer the last event */
	size_t n_part;
	char *bcd;
	bool created, ended;
	bool noautorecover;           /* no writable window in post-snapshot */
	bool restoring;               /* between 'restore pre' and 'restore post' */
	int journal_fd;               /* the set's record while it is created, or -1 */
};

__attribute__((format(printf, 3, 4)))
static int reply_err(struct session *s, int err, const char *fmt, ...)
{
	char msg[COORD_MSG_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return ipc_sendf(s->k->fd, NULL, 0, "err %d %s", -err, msg);
}

/* Whether the requester hung up (its socket says so without reading). */
static bool requester_gone(struct session *s)
{
	struct pollfd pfd = { .fd = s->k->fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* ---- writers ---------------------------------------------------------------------------- */

static bool is_excluded(const struct session *s, const struct coord_writer *w)
{
	for (size_t i = 0; i < s->n_excluded; i++)
		if (strcmp(s->excluded[i], "*") == 0 || strcmp(s->excluded[i], w->name) == 0 ||
		    strcmp(s->excluded[i], w->id) == 0)
			return true;
	return false;
}

/*
 * The volume list for the writers: one 'volume MNT' line each, with tab-separated fields:
 * 'recovery=yes' where the snapshot will be writable during post-snapshot, and after the
 * commit 'snapshot=PATH' and 'writable=PATH'.
 */
static char *volumes_body(const struct session *s, bool committed, size_t *ret_len)
{
	size_t cap = 1, len = 0;
	char *b;

	for (size_t i = 0; i < s->n_vol; i++)
		cap += 2 * strlen(s->vol[i].v.mnt) + 128 +
		       (s->vol[i].writable ? strlen(s->vol[i].writable) : 0);
	b = malloc(cap);
	if (!b)
		return NULL;
	b[0] = '\0';
	for (size_t i = 0; i < s->n_vol; i++) {
		const struct svolume *v = &s->vol[i];

		len += (size_t)snprintf(b + len, cap - len, "volume %s", v->v.mnt);
		if (v->recoverable)
			len += (size_t)snprintf(b + len, cap - len, "\trecovery=yes");
		if (committed)
			len += (size_t)snprintf(b + len, cap - len, "\tsnapshot=%s/.snapshots/%s",
						v->v.mnt, v->browse);
		if (committed && v->writable)
			len += (size_t)snprintf(b + len, cap - len, "\twritable=%s", v->writable);
		len += (size_t)snprintf(b + len, cap - len, "\n");
	}
	*ret_len = len;
	return b;
}

/*
 * Send event to every writer taking part and wait for all answers until the freeze limit.
 * Returns 0, or the first failure with msg naming the writer; every writer's state follows.
 */
static int writers_event(struct session *s, const char *event, const char *body, size_t len,
			 const char *state_after, char *msg, size_t msglen)
{
	long long deadline = ipc_now_ms() + s->freeze_ms;
	char why[COORD_MSG_MAX], err[COORD_MSG_MAX + 128];
	int first = 0;

	for (size_t i = 0; i < s->n_part; i++)
		(void)coord_writer_send(s->part[i], event, s->set_id, body, len);
	for (size_t i = 0; i < s->n_part; i++) {
		struct coord_writer *w = s->part[i];
		int r = coord_writer_wait(w, deadline, why, sizeof(why), NULL);

		s->late[i] = r == COORD_LATE;
		if (r == 0) {
			/* a new backup clears the last one's error */
			coord_writer_set_state(s->c, w, state_after,
					       strcmp(event, "prepare-backup") == 0 ? "" : NULL);
			continue;
		}
		if (r == COORD_LATE)
			snprintf(err, sizeof(err), "%s: no answer within %u ms", event, s->freeze_ms);
		else
			snprintf(err, sizeof(err), "%s: %s", event, why);
		coord_writer_set_state(s->c, w, "stable", err);
		snap_log(LOG_WARNING, "writer '%s' (%s) failed in %s: %s", w->name, w->id, event,
			 r == COORD_LATE ? "no answer in time" : why);
		if (first == 0) {
			first = r == COORD_LATE ? -ETIMEDOUT : r;
			snprintf(msg, msglen, "writer '%s' (%s) failed in %s", w->name, w->id, err);
		}
	}
	return first;
}

/*
 * Abort to every writer taking part, each back to stable. The answers of those that answered
 * the last event are awaited (within the freeze limit), so that they have undone their freeze
 * when the requester hears of the failure; one that did not answer is still busy with it.
 */
static void writers_abort(struct session *s)
{
	long long deadline = ipc_now_ms() + s->freeze_ms;
	char why[COORD_MSG_MAX];

	for (size_t i = 0; i < s->n_part; i++)
		(void)coord_writer_send(s->part[i], "abort", s->set_id, NULL, 0);
	for (size_t i = 0; i < s->n_part; i++) {
		if (!s->late[i])
			(void)coord_writer_wait(s->part[i], deadline, why, sizeof(why), NULL);
		coord_writer_set_state(s->c, s->part[i], "stable", NULL);
	}
}

static void writers_release(struct session *s)
{
	for (size_t i = 0; i < s->n_part; i++)
		coord_writer_set_state(s->c, s->part[i], "stable", NULL);
	coord_writers_drop(s->c, s->part, s->n_part);
	free(s->late);
	s->part = NULL;
	s->late = NULL;
	s->n_part = 0;
}

/* ---- volumes ---------------------------------------------------------------------------- */

/* Whether the volume v holds a snapshot of the session's set: then it is v's, committed. */
static int find_in_set(struct session *s, struct svolume *v)
{
	struct control_reply rep;
	char id[64], set[64];
	int r = control_request(&v->v, "list", &rep);

	if (r == 0 && rep.err)
		r = -rep.err;
	for (size_t i = 0; r == 0 && i < rep.n; i++) {
		if (sscanf(rep.lines[i], "snap %63s %63s", id, set) == 2 &&
		    strcmp(set, s->set_id) == 0) {
			snprintf(v->snap_id, sizeof(v->snap_id), "%s", id);
			v->committed = true;
		}
	}
	control_reply_release(&rep);
	return r;
}

/* What the undoing of set s leaves behind: logged, and added to msg when not NULL. -EIO. */
__attribute__((format(printf, 4, 5)))
static int undo_left(const struct session *s, char *msg, size_t msglen, const char *fmt, ...)
{
	char note[COORD_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	snap_log(LOG_ERR, "set '%s': %s", s->set_id, note);
	if (msg)
		snap_msg_append(msg, msglen, "%s%s", msg[0] ? "; " : "", note);
	return -EIO;
}

/*
 * Undo what the volumes did: abort the holds, delete the snapshots committed. What cannot be
 * deleted, or looked up, is logged and, when msg is not NULL, named at the end of msg; -EIO.
 */
static int volumes_undo(struct session *s, char *msg, size_t msglen)
{
	int r = 0;

	for (size_t i = 0; i < s->n_vol; i++) {
		struct svolume *v = &s->vol[i];
		struct control_reply rep;
		char line[64];

		free(v->writable);
		v->writable = NULL;
		if (v->hold_fd >= 0) {
			(void)control_hold_end(v->hold_fd, "abort", &rep);
			control_reply_release(&rep);
			v->hold_fd = -1;
		}
		/* the commit's answer was lost: look for what it did */
		if (v->commit_sent && !v->committed && find_in_set(s, v) < 0)
			r = undo_left(s, msg, msglen, "'%s' may hold a snapshot of the set: its daemon "
				      "does not say", v->v.mnt);
		v->commit_sent = false;
		if (v->committed) {
			snprintf(line, sizeof(line), "delete %s", v->snap_id);
			if (control_request(&v->v, line, &rep) < 0 || rep.err)
				r = undo_left(s, msg, msglen, "snapshot '%s' of '%s' is left, it cannot "
					      "be deleted: %s", v->snap_id, v->v.mnt,
					      rep.rest ? rep.rest : "its daemon does not answer");
			control_reply_release(&rep);
			v->committed = false;
		}
	}
	return r;
}

/*
 * Record the set (coord_journal.h) before any writer hears of it, or again before a set the
 * requester had is deleted; without a directory for records, none.
 */
static int journal_begin(struct session *s, char *msg, size_t msglen)
{
	struct control_volume vols[COORD_MAX_VOLUMES];
	int fd;

	if (!s->c->cfg.sets_dir[0])
		return 0;
	for (size_t i = 0; i < s->n_vol; i++)
		vols[i] = s->vol[i].v;
	fd = coord_journal_begin(s->c->cfg.sets_dir, s->set_id, vols, s->n_vol, msg, msglen);
	if (fd < 0)
		return fd;
	s->journal_fd = fd;
	return 0;
}

/*
 * The set is settled: its record goes (remove), or stays for the next service to start (a
 * snapshot the undoing could not delete). 0, or the failure to remove it.
 */
static int journal_end(struct session *s, bool remove)
{
	int r = coord_journal_end(s->c->cfg.sets_dir, s->set_id, s->journal_fd, remove);

	s->journal_fd = -1;
	return r;
}

/*
 * Undo the volumes and settle the set's record. A set the requester had (its record gone) is
 * recorded again first, so that a service dying halfway through leaves none of it.
 */
static int volumes_undo_settle(struct session *s, char *msg, size_t msglen)
{
	char why[COORD_MSG_MAX];
	int r;

	if (s->journal_fd < 0 && journal_begin(s, why, sizeof(why)) < 0)
		snap_log(LOG_WARNING, "set '%s': deleted without a record: %s", s->set_id, why);
	r = volumes_undo(s, msg, msglen);
	(void)journal_end(s, r == 0);
	return r;
}

/* Seal the snapshots left writable for the writers' repairs. */
static int volumes_seal(struct session *s, char *msg, size_t msglen)
{
	for (size_t i = 0; i < s->n_vol; i++) {
		struct svolume *v = &s->vol[i];
		struct control_reply rep;
		char line[96];
		int r;

		if (!v->writable)
			continue;
		snprintf(line, sizeof(line), "seal %s", v->snap_id);
		r = control_request(&v->v, line, &rep);
		if (r == 0 && rep.err)
			r = -rep.err;
		if (r < 0) {
			snprintf(msg, msglen, "volume '%s': cannot seal its snapshot: %s", v->v.mnt,
				 rep.err && rep.rest ? rep.rest : strerror(-r));
			control_reply_release(&rep);
			return r;
		}
		control_reply_release(&rep);
		free(v->writable);
		v->writable = NULL;
	}
	return 0;
}

/* One volume's hold, on a thread of its own. */
struct hold_job {
	struct session *s;
	struct svolume *v;
	int r;
	char why[COORD_MSG_MAX];
	long long held_at;
	pthread_t thread;
	bool started;
};

static void *hold_one(void *arg)
{
	struct hold_job *j = arg;
	struct control_reply rep;

	j->r = control_hold(&j->v->v, j->s->set_id, j->s->hold_ms, PREPARE_WAIT_MS, &rep);
	j->held_at = ipc_now_ms();
	if (j->r >= 0)
		j->v->hold_fd = j->r;
	else
		snprintf(j->why, sizeof(j->why), "%s", rep.rest && *rep.rest ? rep.rest
			 : j->r == -ENOENT || j->r == -ECONNREFUSED ? "it is no longer mounted"
								      : strerror(-j->r));
	control_reply_release(&rep);
	return NULL;
}

/*
 * Close every volume's gate, all at once: each daemon flushes SRC before its gate closes, and
 * volumes held one after the other would keep the first held while the others flush. Returns
 * 0 with the earliest moment a gate closed in *ret_held_at, or the first failure in msg (the
 * holds taken stay in hold_fd, for volumes_undo).
 */
static int volumes_hold(struct session *s, long long *ret_held_at, char *msg, size_t msglen)
{
	struct hold_job *jobs = calloc(s->n_vol, sizeof(*jobs));
	int r = 0;

	if (!jobs) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_vol; i++) {
		jobs[i] = (struct hold_job){ .s = s, .v = &s->vol[i] };
		jobs[i].started = pthread_create(&jobs[i].thread, NULL, hold_one, &jobs[i]) == 0;
		if (!jobs[i].started)
			hold_one(&jobs[i]);
	}
	*ret_held_at = -1;
	for (size_t i = 0; i < s->n_vol; i++) {
		if (jobs[i].started)
			(void)pthread_join(jobs[i].thread, NULL);
		if (jobs[i].r < 0 && r == 0) {
			r = jobs[i].r;
			snprintf(msg, msglen, "volume '%s': cannot hold its writes: %s",
				 s->vol[i].v.mnt, jobs[i].why);
		} else if (jobs[i].r >= 0 && (*ret_held_at < 0 || jobs[i].held_at < *ret_held_at)) {
			*ret_held_at = jobs[i].held_at;
		}
	}
	free(jobs);
	return r;
}

/*
 * Sleep, before the writers freeze, into the second after every volume's newest snapshot. A
 * volume takes at most one snapshot a second (browse names are per second) and its daemon
 * waits for a fresh second before its gate closes; in a set, that wait would come while the
 * other volumes are held already, holding them up to a second. The volumes get WAIT_ASK_MS in
 * all to answer; one that does not is left to the hold, which reports it.
 */
static void volumes_wait_second(struct session *s)
{
	long long deadline = ipc_now_ms() + WAIT_ASK_MS, newest = 0, created;
	struct timespec now, at;

	for (size_t i = 0; i < s->n_vol; i++) {
		long long left = deadline - ipc_now_ms();
		struct control_reply rep;

		if (left <= 0)
			break;
		if (control_request_within(&s->vol[i].v, "newest", (unsigned)left, &rep) == 0 &&
		    !rep.err && sscanf(rep.rest, "%lld", &created) == 1 && created > newest)
			newest = created;
		control_reply_release(&rep);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (newest <= 0 || (long long)now.tv_sec != newest / 1000000000LL)
		return; /* a second of its own already; or a clock set back, left to the daemons */
	at = (struct timespec){ .tv_sec = now.tv_sec + 1 };
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
		;
}

/* Hold every volume, then commit each. 0, or a failure with msg naming the volume. */
static int volumes_snapshot(struct session *s, char *msg, size_t msglen)
{
	long long held_at = -1;
	int r;

	for (size_t i = 0; i < s->n_vol; i++) {
		struct svolume *v = &s->vol[i];

		int wb_err;

		r = control_volume_flush(&v->v, &wb_err);
		if (r < 0) {
			snprintf(msg, msglen, "volume '%s': cannot flush: %s", v->v.mnt,
				 strerror(-r));
			return r;
		}
		if (wb_err)
			snap_log(LOG_WARNING, "volume '%s': a write-back failed while flushing: %s",
				 v->v.mnt, strerror(wb_err));
	}
	r = volumes_hold(s, &held_at, msg, msglen);
	if (r < 0)
		return r;
	if (ipc_now_ms() - held_at > s->hold_ms) {
		snprintf(msg, msglen, "the write hold passed its limit of %u ms while %zu volumes "
			 "were held", s->hold_ms, s->n_vol);
		return -ETIMEDOUT;
	}
	if (requester_gone(s)) {
		snprintf(msg, msglen, "the requester went away");
		return -ECONNRESET;
	}
	for (size_t i = 0; i < s->n_vol; i++) {
		struct svolume *v = &s->vol[i];
		struct control_reply rep;
		char id[64], set[64], browse[64];
		int end = 0;

		r = control_hold_end(v->hold_fd, v->recoverable && !s->noautorecover ?
					     "commit writable" : "commit",
				     &rep);
		v->hold_fd = -1;
		v->commit_sent = true;
		if (r == 0 && rep.err)
			r = -rep.err;
		if (r == 0 && sscanf(rep.rest, "%63s %63s %63s%n", id, set, browse, &end) != 3)
			r = -EBADMSG;
		if (r == 0) { /* recorded at once: from here on, undoing deletes it */
			snprintf(v->snap_id, sizeof(v->snap_id), "%s", id);
			snprintf(v->browse, sizeof(v->browse), "%s", browse);
			v->committed = true;
		}
		if (r == 0 && rep.rest[end] == ' ') {
			v->writable = strdup(rep.rest + end + 1);
			if (!v->writable || strpbrk(v->writable, "\t\n"))
				r = v->writable ? -EINVAL : -ENOMEM;
		}
		if (r < 0) {
			snprintf(msg, msglen, "volume '%s': cannot commit its snapshot: %s", v->v.mnt,
				 rep.err && rep.rest ? rep.rest : strerror(-r));
			control_reply_release(&rep);
			return r;
		}
		control_reply_release(&rep);
	}
	return 0;
}

/* ---- the Backup Components Document ---------------------------------------------------- */

static bool is_selected(const struct session *s, const struct coord_writer *w, const char *comp)
{
	for (size_t i = 0; i < s->n_sel; i++)
		if ((strcmp(s->sel[i].writer, w->name) == 0 || strcmp(s->sel[i].writer, w->id) == 0) &&
		    strcmp(s->sel[i].component, comp) == 0)
			return true;
	return false;
}

static int make_bcd(struct session *s)
{
	struct xmldoc_snapshot snaps[COORD_MAX_VOLUMES];
	struct xmldoc_wmd *writers = calloc(s->n_part + 1, sizeof(*writers));
	struct xmldoc_bcd b = { .set_id = s->set_id, .created_ns = s->created_ns,
				.snapshots = snaps, .n_snapshots = s->n_vol, .writers = writers };
	char why[XMLDOC_ERR_MAX];
	int r = 0;

	if (!writers)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_vol; i++)
		snaps[i] = (struct xmldoc_snapshot){ .volume = s->vol[i].v.mnt,
						     .source = s->vol[i].v.src,
						     .id = s->vol[i].snap_id,
						     .browse = s->vol[i].browse,
						     .provider = s->vol[i].provider };
	for (size_t i = 0; i < s->n_part && r == 0; i++) {
		struct coord_writer *w = s->part[i];
		char *wmd;

		pthread_mutex_lock(&s->c->reg_lock);
		wmd = strdup(w->wmd ? w->wmd : "");
		pthread_mutex_unlock(&s->c->reg_lock);
		if (!wmd)
			r = -ENOMEM;
		else
			r = xmldoc_wmd_read(wmd, strlen(wmd), &writers[b.n_writers], why,
					    sizeof(why));
		free(wmd);
		if (r < 0)
			break;
		for (size_t j = 0; j < writers[b.n_writers].n_components; j++) {
			struct xmldoc_component *comp = &writers[b.n_writers].components[j];

			comp->selected = is_selected(s, w, comp->name);
		}
		b.n_writers++;
	}
	if (r == 0) {
		s->bcd = xmldoc_bcd_write(&b);
		if (!s->bcd)
			r = -ENOMEM;
	}
	for (size_t i = 0; i < b.n_writers; i++)
		xmldoc_wmd_release(&writers[i]);
	free(writers);
	return r;
}

/* ---- requests --------------------------------------------------------------------------- */

/* 'writers' and 'gather': one 'writer ID\tNAME\tSTATE\tERROR\tLEN' line each, LEN bytes of
 * metadata after it (0 for 'writers'). */
static int do_writers(struct session *s, bool gather)
{
	struct coord_writer **v;
	char *body = NULL, why[COORD_MSG_MAX];
	size_t len = 0, cap = 0;
	int n = coord_writers_take(s->c, &v), r = 0;

	if (n < 0)
		return reply_err(s, n, "cannot list the writers: %s", strerror(-n));
	if (gather) {
		/* under create_lock: capped by the service's limit, not the session's own */
		long long deadline = ipc_now_ms() + s->c->cfg.freeze_ms;

		pthread_mutex_lock(&s->c->create_lock);
		for (int i = 0; i < n; i++)
			(void)coord_writer_send(v[i], "identify", NULL, NULL, 0);
		for (int i = 0; i < n; i++) {
			char *doc = NULL, *wmd = NULL;
			int e = coord_writer_wait(v[i], deadline, why, sizeof(why), &doc);

			if (e == COORD_LATE)
				e = -ETIMEDOUT;
			if (e == 0 && doc)
				e = coord_wmd_check(doc, strlen(doc), v[i]->id, v[i]->name, &wmd, why,
						    sizeof(why));
			if (e == 0 && wmd) {
				pthread_mutex_lock(&s->c->reg_lock);
				free(v[i]->wmd);
				v[i]->wmd = wmd;
				pthread_mutex_unlock(&s->c->reg_lock);
			} else if (e < 0) {
				char err[COORD_MSG_MAX + 32];

				snprintf(err, sizeof(err), "identify: %s", why);
				coord_writer_set_state(s->c, v[i], "stable", err);
			}
			free(doc);
		}
		pthread_mutex_unlock(&s->c->create_lock);
	}
	pthread_mutex_lock(&s->c->reg_lock);
	for (int i = 0; i < n && r == 0; i++) {
		const char *wmd = gather && v[i]->wmd ? v[i]->wmd : "";
		size_t need = strlen(v[i]->id) + strlen(v[i]->name) + strlen(v[i]->state) +
			      strlen(v[i]->last_error) + strlen(wmd) + 64;

		if (len + need > cap) {
			char *nb = realloc(body, (len + need) * 2);

			if (!nb) {
				r = -ENOMEM;
				break;
			}
			body = nb;
			cap = (len + need) * 2;
		}
		len += (size_t)snprintf(body + len, cap - len, "writer %s\t%s\t%s\t%s\t%zu\n%s",
					v[i]->id, v[i]->name, v[i]->state, v[i]->last_error,
					strlen(wmd), wmd);
	}
	pthread_mutex_unlock(&s->c->reg_lock);
	coord_writers_drop(s->c, v, (size_t)n);
	if (r == 0 && len > IPC_MAX_MESSAGE - 64)
		r = -EMSGSIZE;
	if (r < 0) {
		free(body);
		return reply_err(s, r, "cannot list the writers: %s", strerror(-r));
	}
	r = ipc_sendf(s->k->fd, body, len, "ok %d", n);
	free(body);
	return r;
}

static int do_volume(struct session *s, const char *mnt)
{
	struct svolume *v = &s->vol[s->n_vol];
	struct control_reply rep;
	int r;

	if (s->created)
		return reply_err(s, -EALREADY, "the session's set is created already");
	if (s->n_vol == COORD_MAX_VOLUMES)
		return reply_err(s, -E2BIG, "a snapshot set holds at most %d volumes",
				 COORD_MAX_VOLUMES);
	*v = (struct svolume){ .hold_fd = -1 };
	r = control_volume_find(mnt, &v->v);
	if (r == -ENOTCONN)
		return reply_err(s, r, "'%s' is not a snapfs mount", mnt);
	if (r < 0)
		return reply_err(s, r, "'%s': %s", mnt, strerror(-r));
	if (strpbrk(v->v.mnt, "\t\n"))
		return reply_err(s, -EINVAL, "volume '%s': a tab or newline in its path", mnt);
	for (size_t i = 0; i < s->n_vol; i++)
		if (strcmp(s->vol[i].v.mnt, v->v.mnt) == 0)
			return reply_err(s, -EEXIST, "volume '%s' is in the set already", v->v.mnt);
	r = control_request(&v->v, "get", &rep);
	for (size_t i = 0; r == 0 && !rep.err && i < rep.n; i++) {
		(void)sscanf(rep.lines[i], "prop provider %31s", v->provider);
		if (strcmp(rep.lines[i], "prop autorecover yes") == 0)
			v->recoverable = true;
	}
	if (r < 0) {
		control_reply_release(&rep);
		return reply_err(s, r, "cannot reach the daemon of '%s' (socket in '%s/%s'): %s",
				 v->v.mnt, v->v.src, SNAP_STATE_DIR, strerror(-r));
	}
	if (rep.err || !v->provider[0]) {
		r = reply_err(s, rep.err ? -rep.err : -EBADMSG, "the daemon of '%s' does not tell its "
			      "provider: %s", v->v.mnt,
			      rep.err && rep.rest ? rep.rest : "no such property");
		control_reply_release(&rep);
		return r;
	}
	control_reply_release(&rep);
	s->n_vol++;
	return ipc_sendf(s->k->fd, NULL, 0, "ok %s", v->v.mnt);
}

static int out_of_memory(char *msg, size_t msglen)
{
	snprintf(msg, msglen, "out of memory");
	return -ENOMEM;
}

/* The registered writers that are not excluded take part: s->part, s->late. */
static int writers_join(struct session *s, char *msg, size_t msglen)
{
	struct coord_writer **all;
	int n = coord_writers_take(s->c, &all);

	if (n < 0)
		return out_of_memory(msg, msglen);
	s->late = calloc((size_t)n + 1, sizeof(*s->late));
	if (!s->late) {
		coord_writers_drop(s->c, all, (size_t)n);
		return out_of_memory(msg, msglen);
	}
	s->part = all;
	s->n_part = 0;
	for (int i = 0; i < n; i++) {
		if (is_excluded(s, all[i]))
			coord_writer_unref(s->c, all[i]);
		else
			s->part[s->n_part++] = all[i];
	}
	return 0;
}

/* The sequence; on failure everything is undone and msg says why. */
static int run_create(struct session *s, char *msg, size_t msglen)
{
	char *body;
	size_t len;
	struct timespec now;
	int r;

	r = writers_join(s, msg, msglen);
	if (r < 0)
		return r;
	r = coord_new_id(s->set_id);
	if (r < 0) {
		snprintf(msg, msglen, "cannot make a set id: %s", strerror(-r));
		return r;
	}
	r = journal_begin(s, msg, msglen);   /* before any writer hears of the set */
	if (r < 0)
		return r;
	body = volumes_body(s, false, &len);
	if (!body) {
		(void)journal_end(s, true);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	r = writers_event(s, "prepare-backup", body, len, "waiting-for-prepare", msg, msglen);
	if (r == 0)
		r = writers_event(s, "prepare-snapshot", body, len, "waiting-for-freeze", msg,
				  msglen);
	free(body);
	if (r == 0 && requester_gone(s)) {
		snprintf(msg, msglen, "the requester went away");
		r = -ECONNRESET;
	}
	if (r == 0) {
		volumes_wait_second(s);
		body = volumes_body(s, false, &len);
		r = body ? writers_event(s, "freeze", body, len, "waiting-for-thaw", msg, msglen)
			 : out_of_memory(msg, msglen);
		free(body);
	}
	if (r == 0 && requester_gone(s)) {
		snprintf(msg, msglen, "the requester went away");
		r = -ECONNRESET;
	}
	if (r == 0)
		r = volumes_snapshot(s, msg, msglen);
	if (r < 0) {
		(void)volumes_undo_settle(s, msg, msglen);
		writers_abort(s);
		return r;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	s->created_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	r = writers_event(s, "thaw", NULL, 0, "waiting-for-post-snapshot", msg, msglen);
	if (r == 0) {
		body = volumes_body(s, true, &len);
		r = body ? writers_event(s, "post-snapshot", body, len,
					 "waiting-for-backup-complete", msg, msglen)
			 : out_of_memory(msg, msglen);
		free(body);
	}
	if (r == 0)
		r = volumes_seal(s, msg, msglen);
	if (r == 0) {
		r = make_bcd(s);
		if (r < 0)
			snprintf(msg, msglen, "cannot write the backup components document: %s",
				 strerror(-r));
	}
	if (r < 0) {
		(void)volumes_undo_settle(s, msg, msglen);
		writers_abort(s);
	}
	return r;
}

/* A set made, then given up before its requester had it: undone, and create_lock let go. */
static void create_undone(struct session *s)
{
	(void)volumes_undo_settle(s, NULL, 0);
	writers_abort(s);
	writers_release(s);
	pthread_mutex_unlock(&s->c->create_lock);
}

static int do_create(struct session *s)
{
	char msg[COORD_MSG_MAX * 2], *body = NULL;
	size_t len = 0, cap;
	int r;

	if (s->created)
		return reply_err(s, -EALREADY, "the session's set is created already");
	if (!s->n_vol)
		return reply_err(s, -EINVAL, "no volume in the set: add one first");
	/* held until the requester has its answer: a service stopping meanwhile waits for it */
	pthread_mutex_lock(&s->c->create_lock);
	r = run_create(s, msg, sizeof(msg));
	if (r < 0) {
		writers_release(s);
		pthread_mutex_unlock(&s->c->create_lock);
		snap_log(LOG_WARNING, "snapshot set not created: %s", msg);
		return reply_err(s, r, "snapshot set not created: %s", msg);
	}
	cap = strlen(s->bcd) + 2;
	for (size_t i = 0; i < s->n_vol; i++)
		cap += strlen(s->vol[i].v.mnt) + 128;
	body = malloc(cap);
	if (!body)
		r = -ENOMEM;
	for (size_t i = 0; body && i < s->n_vol; i++)
		len += (size_t)snprintf(body + len, cap - len, "snapshot %s\t%s\t%s\n",
					s->vol[i].v.mnt, s->vol[i].snap_id, s->vol[i].browse);
	if (body)
		len += (size_t)snprintf(body + len, cap - len, "\n%s", s->bcd);
	if (r == 0 && len + IPC_MAX_HEAD > IPC_MAX_MESSAGE)
		r = -EMSGSIZE;
	if (r < 0) { /* no answer can say it: the set goes */
		free(body);
		create_undone(s);
		return reply_err(s, r, "snapshot set not created: its answer (%zu bytes with the "
				 "writers' metadata) %s", len,
				 r == -EMSGSIZE ? "is over 1 MiB" : "cannot be made: out of memory");
	}
	/* the set is the requester's from here: a service dying now leaves it whole */
	r = journal_end(s, true);
	if (r < 0) { /* the next service would delete it: it goes now, and the requester knows */
		free(body);
		create_undone(s);
		return reply_err(s, r, "snapshot set not created: its record in '%s' cannot be "
				 "removed: %s", s->c->cfg.sets_dir, strerror(-r));
	}
	r = ipc_sendf(s->k->fd, body, len, "ok %s %zu", s->set_id, s->n_vol);
	free(body);
	if (r < 0) { /* the requester is gone: the set it asked for goes too */
		snap_log(LOG_WARNING, "set '%s': the requester went away before it was told; the "
			 "set is deleted", s->set_id);
		create_undone(s);
		return r;
	}
	pthread_mutex_unlock(&s->c->create_lock);
	snap_log(LOG_INFO, "snapshot set '%s' created on %zu volumes with %zu writers", s->set_id,
		 s->n_vol, s->n_part);
	s->created = true;
	return 0;
}

/* 'complete' or 'abort' after create. */
static int do_end(struct session *s, bool complete)
{
	char msg[COORD_MSG_MAX * 2] = "";
	int r = 0;

	if (!s->created || s->ended)
		return reply_err(s, -EINVAL, "no created set to %s in this session",
				 complete ? "complete" : "abort");
	s->ended = true;
	pthread_mutex_lock(&s->c->create_lock);
	if (complete) {
		r = writers_event(s, "backup-complete", s->bcd, strlen(s->bcd), "stable", msg,
				  sizeof(msg));
	} else {
		r = volumes_undo_settle(s, msg, sizeof(msg));
		writers_abort(s);
	}
	writers_release(s);
	pthread_mutex_unlock(&s->c->create_lock);
	if (r < 0)
		return reply_err(s, r, "%s", msg);
	return ipc_sendf(s->k->fd, NULL, 0, "ok");
}

/*
 * 'restore pre SET_ID' (the body: the backup's BCD) sends pre-restore to every writer not
 * excluded, which then wait for 'restore post', which sends them post-restore. The writers
 * that took part in pre-restore get post-restore, even when one failed pre-restore: each
 * learns the restore is over. A session restores or creates, not both.
 */
static int do_restore(struct session *s, const char *phase, const char *set_id,
		      const struct ipc_msg *m)
{
	char msg[COORD_MSG_MAX * 2] = "";
	bool pre = strcmp(phase, "pre") == 0;
	int r;

	if (!pre && strcmp(phase, "post") != 0)
		return reply_err(s, -EINVAL, "unknown restore phase '%s' (pre or post)", phase);
	if (s->created)
		return reply_err(s, -EALREADY, "the session created a set; it cannot restore");
	if (pre == s->restoring)
		return reply_err(s, -EINVAL, pre ? "a restore is under way in this session"
					       : "no restore under way in this session");
	free(s->bcd);
	s->bcd = strndup(m->body, m->body_len);
	if (!s->bcd)
		return reply_err(s, -ENOMEM, "out of memory");
	pthread_mutex_lock(&s->c->create_lock);
	if (pre) {
		snprintf(s->set_id, sizeof(s->set_id), "%s", set_id);
		r = writers_join(s, msg, sizeof(msg));
		if (r == 0)
			r = writers_event(s, "pre-restore", s->bcd, strlen(s->bcd),
					  "waiting-for-post-restore", msg, sizeof(msg));
		s->restoring = r == 0;
		if (r < 0 && s->part) {
			/* those that prepared hear that the restore will not happen */
			char ignored[COORD_MSG_MAX * 2];

			(void)writers_event(s, "post-restore", s->bcd, strlen(s->bcd), "stable",
					    ignored, sizeof(ignored));
		}
	} else {
		r = writers_event(s, "post-restore", s->bcd, strlen(s->bcd), "stable", msg,
				  sizeof(msg));
		s->restoring = false;
	}
	if (!s->restoring)
		writers_release(s);
	pthread_mutex_unlock(&s->c->create_lock);
	if (r < 0)
		return reply_err(s, r, "%s", msg);
	snap_log(LOG_INFO, "%s-restore of set '%s' sent to %zu writers", phase, s->set_id,
		 s->n_part);
	return ipc_sendf(s->k->fd, NULL, 0, "ok");
}

static int serve_request(struct session *s, struct ipc_msg *m)
{
	char *word[3];
	int n = ipc_split(m->head, word, 3);
	char *end;

	if (n == 1 && strcmp(word[0], "writers") == 0)
		return do_writers(s, false);
	if (n == 1 && strcmp(word[0], "gather") == 0)
		return do_writers(s, true);
	if (n >= 2 && strcmp(word[0], "volume") == 0) {
		if (n == 3)
			word[1][strlen(word[1])] = ' '; /* the path is the rest of the line */
		return do_volume(s, word[1]);
	}
	if (n == 2 && strcmp(word[0], "exclude") == 0) {
		if (s->n_excluded == MAX_EXCLUDED)
			return reply_err(s, -E2BIG, "at most %d writers excluded", MAX_EXCLUDED);
		s->excluded[s->n_excluded] = strdup(word[1]);
		if (!s->excluded[s->n_excluded])
			return reply_err(s, -ENOMEM, "out of memory");
		s->n_excluded++;
		return ipc_sendf(s->k->fd, NULL, 0, "ok");
	}
	if (n == 3 && strcmp(word[0], "select") == 0) {
		if (s->n_sel == MAX_SELECTED)
			return reply_err(s, -E2BIG, "at most %d components selected", MAX_SELECTED);
		s->sel[s->n_sel].writer = strdup(word[1]);
		s->sel[s->n_sel].component = strdup(word[2]);
		if (!s->sel[s->n_sel].writer || !s->sel[s->n_sel].component) {
			free(s->sel[s->n_sel].writer);
			free(s->sel[s->n_sel].component);
			return reply_err(s, -ENOMEM, "out of memory");
		}
		s->n_sel++;
		return ipc_sendf(s->k->fd, NULL, 0, "ok");
	}
	if (n == 3 && strcmp(word[0], "timeouts") == 0) {
		unsigned long f = strtoul(word[1], &end, 10), h;

		if (*end || f > 86400000UL)
			return reply_err(s, -EINVAL, "bad freeze limit '%s'", word[1]);
		h = strtoul(word[2], &end, 10);
		if (*end || h > COORD_HOLD_MAX_MS)
			return reply_err(s, -EINVAL, "bad hold limit '%s' (at most %d ms)", word[2],
					 COORD_HOLD_MAX_MS);
		s->freeze_ms = f ? (unsigned)f : s->c->cfg.freeze_ms;
		s->hold_ms = h ? (unsigned)h : s->c->cfg.hold_ms;
		return ipc_sendf(s->k->fd, NULL, 0, "ok");
	}
	if (n == 1 && strcmp(word[0], "noautorecover") == 0) {
		s->noautorecover = true;
		return ipc_sendf(s->k->fd, NULL, 0, "ok");
	}
	if (n == 3 && strcmp(word[0], "restore") == 0)
		return do_restore(s, word[1], word[2], m);
	if (n == 1 && strcmp(word[0], "create") == 0) {
		if (s->restoring)
			return reply_err(s, -EINVAL, "a restore is under way in this session");
		return do_create(s);
	}
	if (n == 1 && (strcmp(word[0], "complete") == 0 || strcmp(word[0], "abort") == 0))
		return do_end(s, word[0][0] == 'c');
	return reply_err(s, -EPROTO, "unknown request '%.64s'", word[0]);
}

void coord_session_serve(struct coord *c, struct conn *k)
{
	struct session *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return;
	s->c = c;
	s->k = k;
	s->freeze_ms = c->cfg.freeze_ms;
	s->hold_ms = c->cfg.hold_ms;
	s->journal_fd = -1;
	r = ipc_sendf(k->fd, NULL, 0, "ok %d", IPC_VERSION);
	while (r == 0) {
		struct ipc_msg m;

		r = ipc_recv(k->fd, -1, &m);
		if (r == 0)
			r = serve_request(s, &m);
		else if (r == -EMSGSIZE || r == -EBADMSG)
			snap_log(LOG_WARNING, "requester (uid %u, pid %d): %s; closed",
				 (unsigned)k->uid, (int)k->pid,
				 r == -EMSGSIZE ? "oversized message" : "malformed message");
		ipc_msg_release(&m);
	}
	if (s->journal_fd >= 0) /* not reached: every end of a create settles its record */
		journal_end(s, false);
	if (s->part) { /* a set created and never completed: its writers are free again */
		pthread_mutex_lock(&c->create_lock);
		if (s->restoring) { /* a restore left open: it is over for the writers */
			char ignored[COORD_MSG_MAX * 2];

			(void)writers_event(s, "post-restore", s->bcd, strlen(s->bcd), "stable",
					    ignored, sizeof(ignored));
		}
		writers_release(s);
		pthread_mutex_unlock(&c->create_lock);
	}
	for (size_t i = 0; i < s->n_vol; i++)
		free(s->vol[i].writable);
	for (size_t i = 0; i < s->n_excluded; i++)
		free(s->excluded[i]);
	for (size_t i = 0; i < s->n_sel; i++) {
		free(s->sel[i].writer);
		free(s->sel[i].component);
	}
	free(s->bcd);
	free(s);
}

int coord_wmd_check(const char *xml, size_t len, const char *id, const char *name, char **ret,
		    char *msg, size_t msglen)
{
	struct xmldoc_wmd w = { 0 };
	int r;

	if (!len) {
		snprintf(msg, msglen, "no metadata document");
		return -EBADMSG;
	}
	r = xmldoc_wmd_read(xml, len, &w, msg, msglen);
	if (r < 0)
		return r;
	if (strcmp(w.writer_name, name) != 0) {
		snprintf(msg, msglen, "the document names writer '%.64s', not '%s'", w.writer_name,
			 name);
		r = -EINVAL;
	} else {
		free(w.writer_id);
		w.writer_id = strdup(id);
		*ret = w.writer_id ? xmldoc_wmd_write(&w) : NULL;
		if (!*ret) {
			snprintf(msg, msglen, "out of memory");
			r = -ENOMEM;
		}
	}
	xmldoc_wmd_release(&w);
	return r;
}
