/*
 * coord_int.h: what coord.c (the service, connections, writers) and coord_seq.c (sessions and
 * the shadow-copy sequence) share.
 */
#ifndef SNAPFS_COORD_INT_H
#define SNAPFS_COORD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "coord.h"
#include "ipc.h"

#define COORD_MSG_MAX 512

struct coord_writer {
	struct coord_writer *next;    /* the registry's list; reg_lock */
	int refs;                     /* reg_lock */
	char id[40];
	char name[65];
	uid_t uid;
	char state[40];               /* reg_lock */
	char last_error[COORD_MSG_MAX]; /* reg_lock */
	char *wmd;                    /* its metadata document; replaced under reg_lock */
	int fd;
	pthread_mutex_t lock;         /* the fields below */
	pthread_cond_t cond;
	unsigned long seq;            /* the event waited for */
	bool answered, gone;
	int answer_err;
	char answer_msg[COORD_MSG_MAX];
	char *answer_body;
};

struct coord {
	struct coord_config cfg;
	int listen_fd;
	pthread_mutex_t reg_lock;
	struct coord_writer *writers; /* newest first */
	unsigned n_writers, n_sessions, n_conns;
	long long last_activity_ms;
	pthread_mutex_t create_lock;
};

struct conn {
	struct coord *c;
	int fd;
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* A new random id (36 characters and a NUL). */
int coord_new_id(char *buf);

/*
 * Send an event; then wait for its answer until deadline (ipc_now_ms). Wait returns 0, the
 * writer's negative errno with its message in msg (also -ECONNRESET when it went away), or
 * COORD_LATE when no answer came in time; ret_body takes the answer's body.
 */
#define COORD_LATE 1
int coord_writer_send(struct coord_writer *w, const char *event, const char *set_id,
		      const char *body, size_t body_len);
int coord_writer_wait(struct coord_writer *w, long long deadline, char *msg, size_t msglen,
		      char **ret_body);
void coord_writer_set_state(struct coord *c, struct coord_writer *w, const char *state,
			    const char *error);
void coord_writer_unref(struct coord *c, struct coord_writer *w);

/* The registered writers, oldest first, each with a reference; drop them with _drop. */
int coord_writers_take(struct coord *c, struct coord_writer ***ret);
void coord_writers_drop(struct coord *c, struct coord_writer **v, size_t n);

/* Serve a requester's session on k until it closes. */
void coord_session_serve(struct coord *c, struct conn *k);

/*
 * Check a writer's metadata document (body of its hello or of its identify answer): valid, and
 * naming the writer as id and name; *ret gets it rewritten with the id (heap).
 */
int coord_wmd_check(const char *xml, size_t len, const char *id, const char *name, char **ret,
		    char *msg, size_t msglen);

#endif
