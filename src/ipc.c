/*
 * ipc.c: frames on a stream socket, and reaching snapfsd (starting it on demand). The frame
 * format is in ipc.h; docs/coordinator.md has the messages.
 *
 * On-demand start: a client that finds no listener forks snapfsd with --on-demand, which
 * detaches, takes the runtime directory's lock (a second one started by a racing client
 * finds it taken and exits), listens, and exits again after a while without connections.
 */
#include "ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#define START_WAIT_MS 10000

long long ipc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ipc_send(int fd, const char *head, const char *body, size_t body_len)
{
	size_t hlen = strlen(head), total;
	unsigned char len[4];
	char *buf;
	int r;

	if (!body)
		body_len = 0;
	if (hlen > IPC_MAX_HEAD || body_len > IPC_MAX_MESSAGE || strchr(head, '\n'))
		return -EMSGSIZE;
	total = hlen + 1 + body_len;
	if (total > IPC_MAX_MESSAGE)
		return -EMSGSIZE;
	/* what the receiver would refuse is refused here */
	for (const char *p = head; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	if (body_len && memchr(body, '\0', body_len))
		return -EINVAL;
	buf = malloc(4 + total);
	if (!buf)
		return -ENOMEM;
	len[0] = (unsigned char)(total >> 24);
	len[1] = (unsigned char)(total >> 16);
	len[2] = (unsigned char)(total >> 8);
	len[3] = (unsigned char)total;
	memcpy(buf, len, 4);
	memcpy(buf + 4, head, hlen);
	buf[4 + hlen] = '\n';
	if (body && body_len)
		memcpy(buf + 5 + hlen, body, body_len);
	r = send_all(fd, buf, 4 + total);
	free(buf);
	return r;
}

int ipc_sendf(int fd, const char *body, size_t body_len, const char *fmt, ...)
{
	char head[IPC_MAX_HEAD + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -EMSGSIZE;
	return ipc_send(fd, head, body, body_len);
}

/* Read exactly len bytes before the deadline (ms of ipc_now_ms, or -1). */
static int recv_all(int fd, void *buf, size_t len, long long deadline)
{
	char *p = buf;

	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = -1;
		ssize_t n;

		if (deadline >= 0) { /* a deadline passed still takes what has arrived */
			long long left = deadline - ipc_now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		n = poll(&pfd, 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		n = recv(fd, p, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ipc_recv(int fd, int timeout_ms, struct ipc_msg *ret)
{
	long long deadline = timeout_ms < 0 ? -1 : ipc_now_ms() + timeout_ms;
	unsigned char len[4];
	uint32_t n;
	char *nl;
	int r;

	*ret = (struct ipc_msg){ 0 };
	r = recv_all(fd, len, 4, deadline);
	if (r < 0)
		return r;
	n = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
	if (n == 0 || n > IPC_MAX_MESSAGE)
		return -EMSGSIZE;
	ret->buf = malloc((size_t)n + 1);
	if (!ret->buf)
		return -ENOMEM;
	r = recv_all(fd, ret->buf, n, deadline);
	if (r < 0)
		return r;
	ret->buf[n] = '\0';
	nl = memchr(ret->buf, '\n', n);
	if (!nl || (size_t)(nl - ret->buf) > IPC_MAX_HEAD || memchr(ret->buf, '\0', n))
		return -EBADMSG;
	*nl = '\0';
	for (const char *p = ret->buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EBADMSG;
	ret->head = ret->buf;
	ret->body = nl + 1;
	ret->body_len = n - (size_t)(nl + 1 - ret->buf);
	return 0;
}

void ipc_msg_release(struct ipc_msg *m)
{
	free(m->buf);
	*m = (struct ipc_msg){ 0 };
}

int ipc_split(char *head, char **words, int max)
{
	int n = 0;
	char *p = head;

	if (!*p)
		return 0;
	while (n < max) {
		char *sp = n + 1 < max ? strchr(p, ' ') : NULL;

		words[n++] = p;
		if (!sp)
			break;
		*sp = '\0';
		p = sp + 1;
	}
	return n;
}

bool ipc_is_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

const char *ipc_runtime_dir(void)
{
	const char *d = getenv(IPC_RUNTIME_ENV);

	return d && *d ? d : IPC_RUNTIME_DEFAULT;
}

int ipc_socket_path(char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", ipc_runtime_dir(), IPC_SOCKET);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int try_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	r = ipc_socket_path(sa.sun_path, sizeof(sa.sun_path));
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	return fd;
}

/* The snapfsd to start: $SNAPFSD, the one beside this program, or the installed one. */
static void find_snapfsd(char *buf, size_t len)
{
	const char *env = getenv("SNAPFSD");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/snapfsd", self) < (int)len &&
			    access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/snapfsd", SNAPFS_BINDIR);
}

/* Start snapfsd --on-demand; it detaches itself, so this waits for the first fork only. */
static int start_snapfsd(char *err, size_t errlen)
{
	char prog[PATH_MAX];
	pid_t pid;
	int st;

	find_snapfsd(prog, sizeof(prog));
	if (access(prog, X_OK) < 0) {
		snprintf(err, errlen, "cannot start the coordinator '%s': %s", prog,
			 strerror(errno));
		return -ENOENT;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot start the coordinator: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			(void)dup2(devnull, 0);
			(void)dup2(devnull, 1);
		}
		execl(prog, "snapfsd", "--on-demand", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "the coordinator '%s' did not start (exit status %d); see "
			 "its messages above", prog, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -ECHILD;
	}
	return 0;
}

int ipc_connect(bool start, char *err, size_t errlen)
{
	long long deadline;
	int fd = try_connect(), r;

	if (fd >= 0)
		return fd;
	if ((fd != -ENOENT && fd != -ECONNREFUSED) || !start) {
		snprintf(err, errlen, "cannot reach the coordinator at '%s/%s': %s",
			 ipc_runtime_dir(), IPC_SOCKET, strerror(-fd));
		return fd;
	}
	r = start_snapfsd(err, errlen);
	if (r < 0)
		return r;
	deadline = ipc_now_ms() + START_WAIT_MS;
	while (ipc_now_ms() < deadline) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		fd = try_connect();
		if (fd >= 0)
			return fd;
		nanosleep(&ts, NULL);
	}
	snprintf(err, errlen, "the coordinator started but does not answer at '%s/%s': %s",
		 ipc_runtime_dir(), IPC_SOCKET, strerror(-fd));
	return -ETIMEDOUT;
}
