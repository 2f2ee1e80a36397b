/*
 * coord.c: the coordinator service. It owns the listening socket, one thread per connection,
 * the registry of writers and the backup sessions; coord_seq.c runs a session's create.
 *
 * Connections. Every connection starts with 'hello VERSION ROLE [NAME]' (docs/coordinator.md
 * has every message). A writer connection stays open and its thread only reads the writer's
 * answers to events, which a session's thread sends; a requester connection is a session,
 * served by its thread request by request. A malformed or oversized frame, or a peer whose
 * user may not take the role, ends that connection and nothing else.
 *
 * Locks: reg_lock guards the writer list, the counts and each writer's state strings; a
 * writer's own lock guards its socket's sending side and the answer being waited for;
 * create_lock serializes creations, so that each set is held and committed alone. Order:
 * create_lock, then a writer's lock, then reg_lock.
 */
#include "coord_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "coord_journal.h"
#include "log.h"

#define LOCK_FILE "snapfsd.lock"
#define HELLO_TIMEOUT_MS 5000
#define SEND_TIMEOUT_S 5
#define MAX_CONNECTIONS (COORD_MAX_SESSIONS + COORD_MAX_WRITERS + 16)
#define RESERVED_CONNECTIONS 32 /* the last ones: only for users the configuration names */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int coord_new_id(char *buf)
{
	int fd = open("/proc/sys/kernel/random/uuid", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, 36);
	(void)close(fd);
	if (n != 36)
		return -EIO;
	buf[36] = '\0';
	return 0;
}

/* ---- writers ---------------------------------------------------------------------------- */

void coord_writer_unref(struct coord *c, struct coord_writer *w)
{
	bool last;

	pthread_mutex_lock(&c->reg_lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&c->reg_lock);
	if (!last)
		return;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->wmd);
	free(w->answer_body);
	free(w);
}

void coord_writer_set_state(struct coord *c, struct coord_writer *w, const char *state,
			    const char *error)
{
	pthread_mutex_lock(&c->reg_lock);
	snprintf(w->state, sizeof(w->state), "%s", state);
	if (error)
		snprintf(w->last_error, sizeof(w->last_error), "%s", error);
	pthread_mutex_unlock(&c->reg_lock);
}

int coord_writer_send(struct coord_writer *w, const char *event, const char *set_id,
		      const char *body, size_t body_len)
{
	int r;

	pthread_mutex_lock(&w->lock);
	w->seq++;
	w->answered = false;
	free(w->answer_body);
	w->answer_body = NULL;
	r = w->gone ? -ECONNRESET
		    : ipc_sendf(w->fd, body, body_len, "event %lu %s %s", w->seq, event,
				set_id && *set_id ? set_id : "-");
	pthread_mutex_unlock(&w->lock);
	return r;
}

int coord_writer_wait(struct coord_writer *w, long long deadline, char *msg, size_t msglen,
		      char **ret_body)
{
	int r;

	pthread_mutex_lock(&w->lock);
	while (!w->answered && !w->gone) {
		long long left = deadline - ipc_now_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	}
	if (w->answered) {
		r = w->answer_err;
		snprintf(msg, msglen, "%s", w->answer_msg);
		if (ret_body) {
			*ret_body = w->answer_body;
			w->answer_body = NULL;
		}
	} else if (w->gone) {
		r = -ECONNRESET;
		snprintf(msg, msglen, "the writer went away");
	} else {
		r = COORD_LATE;
		snprintf(msg, msglen, "no answer in time");
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

/* An answer from the writer: 'done SEQ' or 'fail SEQ ERRNO MESSAGE'. False: malformed. */
static bool take_answer(struct coord_writer *w, struct ipc_msg *m)
{
	char *word[4], *end;
	int n = ipc_split(m->head, word, 4);
	unsigned long seq;
	long err = 0;

	if (n < 2)
		return false;
	seq = strtoul(word[1], &end, 10);
	if (*end)
		return false;
	if (strcmp(word[0], "done") == 0 && n == 2) {
		err = 0;
	} else if (strcmp(word[0], "fail") == 0 && n == 4) {
		err = strtol(word[2], &end, 10);
		if (*end || err <= 0 || err > 4095)
			return false;
	} else {
		return false;
	}
	pthread_mutex_lock(&w->lock);
	if (seq == w->seq && !w->answered) { /* an answer to an event given up on is dropped */
		w->answered = true;
		w->answer_err = (int)-err;
		snprintf(w->answer_msg, sizeof(w->answer_msg), "%s", err ? word[3] : "");
		free(w->answer_body);
		w->answer_body = m->body_len ? strdup(m->body) : NULL;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return true;
}

static void serve_writer(struct coord *c, struct conn *k, const char *name, struct ipc_msg *hello)
{
	struct coord_writer *w = calloc(1, sizeof(*w));
	char msg[COORD_MSG_MAX];
	int r;

	if (!w || coord_new_id(w->id) < 0) {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d cannot register the writer: out of memory",
				ENOMEM);
		free(w);
		return;
	}
	snprintf(w->name, sizeof(w->name), "%s", name);
	snprintf(w->state, sizeof(w->state), "stable");
	w->fd = k->fd;
	w->uid = k->uid;
	w->refs = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	r = coord_wmd_check(hello->body, hello->body_len, w->id, name, &w->wmd, msg, sizeof(msg));
	if (r < 0) {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d writer '%s': bad metadata: %s", -r, name,
				msg);
		coord_writer_unref(c, w);
		return;
	}
	/* the answer goes out before the writer is listed: no event may overtake it */
	pthread_mutex_lock(&c->reg_lock);
	r = c->n_writers < COORD_MAX_WRITERS ? 0 : -EMFILE;
	if (r == 0)
		r = ipc_sendf(k->fd, NULL, 0, "ok %d %s", IPC_VERSION, w->id);
	else
		(void)ipc_sendf(k->fd, NULL, 0, "err %d writer '%s': the service has %d writers "
				"already, the most it takes", EMFILE, name, COORD_MAX_WRITERS);
	if (r == 0) {
		w->next = c->writers;
		c->writers = w;
		c->n_writers++;
	}
	pthread_mutex_unlock(&c->reg_lock);
	if (r < 0) {
		coord_writer_unref(c, w);
		return;
	}
	snap_log(LOG_INFO, "writer '%s' (%s) registered by uid %u", name, w->id, (unsigned)k->uid);
	while (r == 0) {
		struct ipc_msg m;

		r = ipc_recv(k->fd, -1, &m);
		if (r == 0 && !take_answer(w, &m))
			r = -EBADMSG;
		ipc_msg_release(&m);
	}
	if (r != -ECONNRESET)
		snap_log(LOG_WARNING, "writer '%s' (%s): connection closed: %s", name, w->id,
			 r == -EBADMSG ? "malformed message" : strerror(-r));
	else
		snap_log(LOG_INFO, "writer '%s' (%s) went away", name, w->id);
	pthread_mutex_lock(&w->lock);
	w->gone = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_lock(&c->reg_lock);
	for (struct coord_writer **p = &c->writers; *p; p = &(*p)->next) {
		if (*p == w) {
			*p = w->next;
			break;
		}
	}
	c->n_writers--;
	pthread_mutex_unlock(&c->reg_lock);
	coord_writer_unref(c, w);
}

int coord_writers_take(struct coord *c, struct coord_writer ***ret)
{
	struct coord_writer **v;
	size_t n = 0;

	pthread_mutex_lock(&c->reg_lock);
	v = calloc(c->n_writers + 1, sizeof(*v));
	if (v) {
		for (struct coord_writer *w = c->writers; w; w = w->next) {
			w->refs++;
			v[n++] = w;
		}
	}
	pthread_mutex_unlock(&c->reg_lock);
	if (!v)
		return -ENOMEM;
	/* oldest first: the list is newest first */
	for (size_t i = 0; i < n / 2; i++) {
		struct coord_writer *t = v[i];

		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	*ret = v;
	return (int)n;
}

void coord_writers_drop(struct coord *c, struct coord_writer **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		coord_writer_unref(c, v[i]);
	free(v);
}

/* ---- access ----------------------------------------------------------------------------- */

/* Whether the user uid (primary group gid) is in a: by uid, or by one of its groups. */
static bool acl_allows(const struct coord_acl *a, uid_t uid, gid_t gid)
{
	struct passwd pw, *pp = NULL;
	gid_t groups[256];
	int ng = 256;
	char buf[4096];

	for (size_t i = 0; i < a->n_uids; i++)
		if (a->uids[i] == uid)
			return true;
	if (!a->n_gids)
		return false;
	groups[0] = gid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pp) == 0 && pp) {
		if (getgrouplist(pp->pw_name, gid, groups, &ng) < 0)
			ng = 256;
	} else {
		ng = 1;
	}
	for (int j = 0; j < ng; j++)
		for (size_t i = 0; i < a->n_gids; i++)
			if (a->gids[i] == groups[j])
				return true;
	return false;
}

/* ---- connections ------------------------------------------------------------------------ */

static void *conn_thread(void *arg)
{
	struct conn *k = arg;
	struct coord *c = k->c;
	struct ipc_msg m;
	char *word[4];
	int n, r;

	r = ipc_recv(k->fd, HELLO_TIMEOUT_MS, &m);
	if (r < 0) {
		if (r == -EMSGSIZE || r == -EBADMSG)
			snap_log(LOG_WARNING, "connection from uid %u: %s; closed", (unsigned)k->uid,
				 r == -EMSGSIZE ? "oversized message" : "malformed message");
		goto out;
	}
	n = ipc_split(m.head, word, 4);
	if (n < 3 || strcmp(word[0], "hello") != 0) {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d expected 'hello VERSION ROLE'", EPROTO);
		snap_log(LOG_WARNING, "connection from uid %u: no hello; closed", (unsigned)k->uid);
	} else if (strcmp(word[1], "1") != 0) {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d protocol version '%.16s' is not spoken "
				"here (this service speaks %d)", EPROTO, word[1], IPC_VERSION);
	} else if (strcmp(word[2], "writer") == 0) {
		if (n != 4 || !ipc_is_name(word[3], 64))
			(void)ipc_sendf(k->fd, NULL, 0, "err %d a writer's name is 1 to 64 of "
					"[A-Za-z0-9._-]", EINVAL);
		else if (!acl_allows(&c->cfg.writers, k->uid, k->gid))
			(void)ipc_sendf(k->fd, NULL, 0, "err %d user %u may not register writers "
					"with this service (see 'writers' in its configuration)",
					EACCES, (unsigned)k->uid);
		else
			serve_writer(c, k, word[3], &m);
	} else if (strcmp(word[2], "requester") == 0 && n != 3) {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d a requester's hello is 'hello 1 requester', "
				"with nothing after", EPROTO);
	} else if (strcmp(word[2], "requester") == 0) {
		if (!acl_allows(&c->cfg.requesters, k->uid, k->gid)) {
			(void)ipc_sendf(k->fd, NULL, 0, "err %d user %u may not act as a requester "
					"with this service (see 'requesters' in its "
					"configuration)", EACCES, (unsigned)k->uid);
		} else {
			pthread_mutex_lock(&c->reg_lock);
			r = c->n_sessions < COORD_MAX_SESSIONS ? 0 : -EMFILE;
			if (r == 0)
				c->n_sessions++;
			pthread_mutex_unlock(&c->reg_lock);
			if (r < 0) {
				(void)ipc_sendf(k->fd, NULL, 0, "err %d the service has %d backup "
						"sessions open, the most it takes", EMFILE,
						COORD_MAX_SESSIONS);
			} else {
				coord_session_serve(c, k);
				pthread_mutex_lock(&c->reg_lock);
				c->n_sessions--;
				pthread_mutex_unlock(&c->reg_lock);
			}
		}
	} else {
		(void)ipc_sendf(k->fd, NULL, 0, "err %d unknown role '%.32s' (writer or requester)",
				EPROTO, word[2]);
	}
out:
	ipc_msg_release(&m);
	(void)close(k->fd);
	pthread_mutex_lock(&c->reg_lock);
	c->n_conns--;
	c->last_activity_ms = ipc_now_ms();
	pthread_mutex_unlock(&c->reg_lock);
	free(k);
	return NULL;
}

static void accept_one(struct coord *c)
{
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pthread_attr_t attr;
	struct conn *k;
	pthread_t t;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		(void)close(fd);
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&c->reg_lock);
	/* a user who may take no role cannot fill the last slots, whatever it opens */
	if (c->n_conns >= MAX_CONNECTIONS ||
	    (c->n_conns >= MAX_CONNECTIONS - RESERVED_CONNECTIONS &&
	     !acl_allows(&c->cfg.writers, cred.uid, cred.gid) &&
	     !acl_allows(&c->cfg.requesters, cred.uid, cred.gid))) {
		pthread_mutex_unlock(&c->reg_lock);
		(void)ipc_sendf(fd, NULL, 0, "err %d too many connections", EMFILE);
		(void)close(fd);
		return;
	}
	c->n_conns++;
	pthread_mutex_unlock(&c->reg_lock);
	k = calloc(1, sizeof(*k));
	if (k) {
		*k = (struct conn){ .c = c, .fd = fd, .uid = cred.uid, .gid = cred.gid,
				    .pid = cred.pid };
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, conn_thread, k) == 0) {
			pthread_attr_destroy(&attr);
			return;
		}
		pthread_attr_destroy(&attr);
		free(k);
	}
	(void)close(fd);
	pthread_mutex_lock(&c->reg_lock);
	c->n_conns--;
	pthread_mutex_unlock(&c->reg_lock);
}

/* ---- the service ------------------------------------------------------------------------ */

/* Make the runtime directory and take its lock; -EALREADY when another service holds it. */
static int take_runtime(int *ret_lock, char *err, size_t errlen)
{
	const char *dir = ipc_runtime_dir();
	char path[4200];
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot make the runtime directory '%s': %s", dir,
			 strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EALREADY : -errno;

		snprintf(err, errlen, "another coordinator serves '%s'", dir);
		(void)close(fd);
		return r;
	}
	if (ftruncate(fd, 0) == 0)
		(void)dprintf(fd, "%ld\n", (long)getpid());
	*ret_lock = fd;
	return 0;
}

static int listen_socket(char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	r = ipc_socket_path(sa.sun_path, sizeof(sa.sun_path));
	if (r < 0) {
		snprintf(err, errlen, "the runtime directory's path is too long");
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)unlink(sa.sun_path); /* left by a service that died: we hold the lock now */
	/* anyone may connect; the service refuses those its configuration does not name */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0 ||
	    listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot listen on '%s': %s", sa.sun_path, strerror(errno));
		(void)close(fd);
		return r;
	}
	return fd;
}

/*
 * The sets a dead service left half made are deleted once this one serves (a volume's daemon
 * may take seconds to answer); a create waits for it on create_lock.
 */
static void *recover_sets(void *arg)
{
	struct coord *c = arg;

	pthread_mutex_lock(&c->create_lock);
	(void)coord_journal_recover(c->cfg.sets_dir);
	pthread_mutex_unlock(&c->create_lock);
	return NULL;
}

int coord_run(const struct coord_config *cfg, int ready_fd, char *err, size_t errlen)
{
	/* static: detached connection threads may still use it while the process exits */
	static struct coord c;
	struct sigaction sa = { .sa_handler = on_signal };
	char path[4200];
	int lock_fd = -1, r;

	c = (struct coord){ .cfg = *cfg, .listen_fd = -1 };
	r = take_runtime(&lock_fd, err, errlen);
	if (r < 0)
		return r;
	c.listen_fd = listen_socket(err, errlen);
	if (c.listen_fd < 0) {
		(void)close(lock_fd);
		return c.listen_fd;
	}
	pthread_mutex_init(&c.reg_lock, NULL);
	pthread_mutex_init(&c.create_lock, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	c.last_activity_ms = ipc_now_ms();
	snap_log(LOG_INFO, "serving on '%s/%s' (freeze limit %u ms, hold limit %u ms)",
		 ipc_runtime_dir(), IPC_SOCKET, cfg->freeze_ms, cfg->hold_ms);
	if (ready_fd >= 0) { /* detached: tell the parent, and let go of its stderr */
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		(void)!write(ready_fd, "", 1);
		(void)close(ready_fd);
		if (devnull >= 0) {
			(void)dup2(devnull, 2);
			(void)close(devnull);
		}
	}
	if (cfg->sets_dir[0]) {
		pthread_t t;

		if (pthread_create(&t, NULL, recover_sets, &c) == 0)
			pthread_detach(t);
		else
			(void)recover_sets(&c);
	}
	while (!stop_flag) {
		struct pollfd pfd = { .fd = c.listen_fd, .events = POLLIN };
		bool idle;

		if (poll(&pfd, 1, 500) > 0)
			accept_one(&c);
		pthread_mutex_lock(&c.reg_lock);
		idle = cfg->idle_exit_s && c.n_conns == 0 &&
		       ipc_now_ms() - c.last_activity_ms > (long long)cfg->idle_exit_s * 1000;
		pthread_mutex_unlock(&c.reg_lock);
		if (idle) {
			snap_log(LOG_INFO, "idle for %u s: exiting", cfg->idle_exit_s);
			break;
		}
	}
	/* the socket goes first, so that clients start a new service rather than wait */
	if (ipc_socket_path(path, sizeof(path)) == 0)
		(void)unlink(path);
	(void)close(c.listen_fd);
	/* a creation under way ends (its holds and writers' events have their limits) */
	pthread_mutex_lock(&c.create_lock);
	snap_log(LOG_INFO, "stopped");
	(void)close(lock_fd);
	return 0;
}
