/*
 * ipc: the framing of the coordinator's protocol (docs/coordinator.md) and the way to its
 * socket. Shared by snapfsd and by libsnapfs (writers and requesters); it knows frames, not
 * what they mean.
 *
 * A frame is a 4-byte big-endian length N (1 <= N <= IPC_MAX_MESSAGE), then N bytes: a head
 * line of at most IPC_MAX_HEAD bytes ended by '\n', then the body (possibly empty). Neither
 * holds a NUL byte; the head holds no control character. Anything else is malformed and the
 * receiver closes the connection.
 *
 * Thread-safety: the functions keep no state; one fd is used by one thread at a time per
 * direction.
 */
#ifndef SNAPFS_IPC_H
#define SNAPFS_IPC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define IPC_VERSION 1
#define IPC_MAX_MESSAGE (1u << 20)
#define IPC_MAX_HEAD 4096
#define IPC_SOCKET "snapfsd.sock"
#define IPC_RUNTIME_DEFAULT "/run/snapfs"
#define IPC_RUNTIME_ENV "SNAPFS_RUNTIME_DIR"

struct ipc_msg {
	char *head;          /* the head line, NUL-terminated, without '\n' */
	char *body;          /* the body, NUL-terminated (empty when none) */
	size_t body_len;
	char *buf;           /* owns both */
};

/*
 * Send one frame (body may be NULL). MSG_NOSIGNAL; a send timeout on fd bounds the wait.
 * -EMSGSIZE over the bounds; -EINVAL for a control character in the head or a NUL in the body.
 */
int ipc_send(int fd, const char *head, const char *body, size_t body_len);
int ipc_sendf(int fd, const char *body, size_t body_len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Receive one frame into ret (released with ipc_msg_release, also after a failure). Waits at
 * most timeout_ms (-1: no limit). Returns 0, -ETIMEDOUT, -ECONNRESET when the peer closed
 * (cleanly or not), -EMSGSIZE for a frame over the bounds, -EBADMSG for a malformed one, or
 * another negative errno.
 */
int ipc_recv(int fd, int timeout_ms, struct ipc_msg *ret);
void ipc_msg_release(struct ipc_msg *m);

/*
 * Split a head line in place into at most max words at single spaces; the last word takes the
 * rest of the line (so a message at the end keeps its spaces). Returns the count.
 */
int ipc_split(char *head, char **words, int max);

/* Whether s is 1..max bytes of [A-Za-z0-9._-]. */
bool ipc_is_name(const char *s, size_t max);

/* The runtime directory (SNAPFS_RUNTIME_DIR, else /run/snapfs) and the socket's path. */
const char *ipc_runtime_dir(void);
int ipc_socket_path(char *buf, size_t len);

/*
 * Connect to snapfsd; when nothing listens and start is true, start it (SNAPFSD names the
 * program, else the snapfsd beside this program, else the installed one) and wait for it up
 * to 10 s. Returns the connected fd or a negative errno with a message in err.
 */
int ipc_connect(bool start, char *err, size_t errlen);

/* Milliseconds of CLOCK_MONOTONIC. */
long long ipc_now_ms(void);

#endif
