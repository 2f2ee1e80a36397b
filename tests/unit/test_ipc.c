/*
 * Unit tests of ipc.c over a socketpair: frame round trips up to the size limit, the refusals
 * of ipc_send and ipc_recv (sizes, malformed frames, a peer that goes away, timeouts), frames
 * that arrive a byte at a time, and the helpers (ipc_split, ipc_is_name, the runtime
 * directory and socket path).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"

#define RECV_TIMEOUT_MS 10000

/* fd[0] is the side under test, fd[1] the peer; a test that closes one sets it to -1. */
struct pair {
	int fd[2];
};

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd), 0);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	for (int i = 0; i < 2; i++) {
		if (p->fd[i] >= 0)
			(void)close(p->fd[i]);
	}
	free(p);
	return 0;
}

static void close_peer(struct pair *p)
{
	assert_int_equal(close(p->fd[1]), 0);
	p->fd[1] = -1;
}

static void *xmalloc(size_t size)
{
	void *m = malloc(size);

	assert_non_null(m);
	return m;
}

static void write_raw(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len > 0) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		assert_true(n > 0);
		b += n;
		len -= (size_t)n;
	}
}

/* The 4-byte big-endian length of a frame. */
static void write_len(int fd, uint32_t n)
{
	unsigned char len[4] = { n >> 24, n >> 16, n >> 8, n };

	write_raw(fd, len, sizeof(len));
}

/* A whole frame whose length is that of payload (which may hold NUL bytes). */
static void write_frame(int fd, const char *payload, size_t len)
{
	write_len(fd, (uint32_t)len);
	write_raw(fd, payload, len);
}

/* Nothing is waiting to be read on fd. */
static void assert_nothing_sent(int fd)
{
	char c;

	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

/* ipc_recv on fd fails with the given error; the released message is empty. */
static void expect_recv_error(int fd, int timeout_ms, int error)
{
	struct ipc_msg m;

	assert_int_equal(ipc_recv(fd, timeout_ms, &m), error);
	ipc_msg_release(&m);
	assert_null(m.buf);
	assert_null(m.head);
}

static void expect_frame_refused(struct pair *p, const char *payload, size_t len)
{
	write_frame(p->fd[1], payload, len);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -EBADMSG);
}

static void test_ipc_round_trips_empty_body(void **state)
{
	struct pair *p = *state;
	struct ipc_msg m;

	assert_int_equal(ipc_send(p->fd[1], "hello 1 sqlite", NULL, 0), 0);
	assert_int_equal(ipc_send(p->fd[1], "ok", "", 0), 0);

	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_string_equal(m.head, "hello 1 sqlite");
	assert_non_null(m.body);
	assert_int_equal(m.body_len, 0);
	assert_string_equal(m.body, "");
	ipc_msg_release(&m);

	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_string_equal(m.head, "ok");
	assert_int_equal(m.body_len, 0);
	assert_string_equal(m.body, "");
	ipc_msg_release(&m);
	assert_nothing_sent(p->fd[0]);
}

static void test_ipc_round_trips_binary_body(void **state)
{
	struct pair *p = *state;
	char body[255 + 4];
	struct ipc_msg m;

	/* Every byte but NUL, then newlines and a CR that must stay in the body. */
	for (int i = 0; i < 255; i++)
		body[i] = (char)(i + 1);
	memcpy(body + 255, "\n\r\n\n", 4);

	assert_int_equal(ipc_send(p->fd[1], "metadata w-1", body, sizeof(body)), 0);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_string_equal(m.head, "metadata w-1");
	assert_int_equal(m.body_len, sizeof(body));
	assert_memory_equal(m.body, body, sizeof(body));
	assert_int_equal(m.body[m.body_len], '\0');
	ipc_msg_release(&m);
}

static void test_ipc_sendf_formats_the_head(void **state)
{
	struct pair *p = *state;
	char head[IPC_MAX_HEAD + 2];
	struct ipc_msg m;

	assert_int_equal(ipc_sendf(p->fd[1], "xyz", 3, "event %s %d", "freeze", 42), 0);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_string_equal(m.head, "event freeze 42");
	assert_int_equal(m.body_len, 3);
	assert_string_equal(m.body, "xyz");
	ipc_msg_release(&m);

	memset(head, 'h', IPC_MAX_HEAD + 1);
	head[IPC_MAX_HEAD + 1] = '\0';
	assert_int_equal(ipc_sendf(p->fd[1], NULL, 0, "%s", head), -EMSGSIZE);
	assert_nothing_sent(p->fd[0]);
}

static void test_ipc_accepts_head_of_max_length(void **state)
{
	struct pair *p = *state;
	char *head = xmalloc(IPC_MAX_HEAD + 1);
	struct ipc_msg m;

	memset(head, 'h', IPC_MAX_HEAD);
	head[IPC_MAX_HEAD] = '\0';
	assert_int_equal(ipc_send(p->fd[1], head, "b", 1), 0);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_int_equal(strlen(m.head), IPC_MAX_HEAD);
	assert_string_equal(m.head, head);
	assert_string_equal(m.body, "b");
	ipc_msg_release(&m);
	free(head);
}

/* A frame sent from another thread: a large one does not fit the socket's buffer. */
struct sender {
	int fd;
	const char *head;
	const char *body;
	size_t body_len;
	int result;
};

static void *send_frame(void *arg)
{
	struct sender *s = arg;

	s->result = ipc_send(s->fd, s->head, s->body, s->body_len);
	return NULL;
}

static void test_ipc_round_trips_body_of_max_length(void **state)
{
	struct pair *p = *state;
	const char *head = "bcd set-1";
	size_t body_len = IPC_MAX_MESSAGE - strlen(head) - 1;
	char *body = xmalloc(body_len);
	struct sender s = { .fd = p->fd[1], .head = head, .body = body, .body_len = body_len };
	struct ipc_msg m;
	pthread_t t;

	for (size_t i = 0; i < body_len; i++)
		body[i] = (char)(1 + i % 251);
	assert_int_equal(pthread_create(&t, NULL, send_frame, &s), 0);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.result, 0);
	assert_string_equal(m.head, head);
	assert_int_equal(m.body_len, body_len);
	assert_memory_equal(m.body, body, body_len);
	assert_int_equal(m.body[body_len], '\0');
	ipc_msg_release(&m);
	free(body);
}

static void test_ipc_send_refuses_oversized_or_multiline_head(void **state)
{
	struct pair *p = *state;
	char *head = xmalloc(IPC_MAX_HEAD + 2);

	memset(head, 'h', IPC_MAX_HEAD + 1);
	head[IPC_MAX_HEAD + 1] = '\0';
	assert_int_equal(ipc_send(p->fd[1], head, NULL, 0), -EMSGSIZE);
	assert_int_equal(ipc_send(p->fd[1], "two\nlines", NULL, 0), -EMSGSIZE);
	assert_int_equal(ipc_send(p->fd[1], "trailing\n", "body", 4), -EMSGSIZE);
	assert_nothing_sent(p->fd[0]);
	free(head);
}

static void test_ipc_send_refuses_oversized_message(void **state)
{
	struct pair *p = *state;
	const char *head = "bcd set-1";
	size_t body_len = IPC_MAX_MESSAGE - strlen(head);   /* one byte over with the '\n' */
	char *body = xmalloc(body_len);

	memset(body, 'b', body_len);
	assert_int_equal(ipc_send(p->fd[1], head, body, body_len), -EMSGSIZE);
	assert_nothing_sent(p->fd[0]);
	free(body);
}

static void test_ipc_recv_refuses_bad_lengths(void **state)
{
	struct pair *p = *state;

	write_len(p->fd[1], 0);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -EMSGSIZE);

	write_len(p->fd[1], IPC_MAX_MESSAGE + 1);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -EMSGSIZE);

	write_len(p->fd[1], UINT32_MAX);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -EMSGSIZE);
}

static void test_ipc_recv_refuses_frame_without_newline(void **state)
{
	struct pair *p = *state;

	expect_frame_refused(p, "hello", 5);
}

static void test_ipc_recv_refuses_control_characters_in_head(void **state)
{
	struct pair *p = *state;

	expect_frame_refused(p, "a\x01" "b\n", 4);
	expect_frame_refused(p, "a\x7f\n", 3);
	expect_frame_refused(p, "a\tb\nbody", 8);
	expect_frame_refused(p, "a\rb\n", 4);
}

static void test_ipc_recv_refuses_nul_bytes(void **state)
{
	struct pair *p = *state;

	expect_frame_refused(p, "head\nab\0c", 9);
	expect_frame_refused(p, "head\n\0", 6);
	expect_frame_refused(p, "he\0ad\nbody", 10);
}

static void test_ipc_recv_refuses_head_over_max_length(void **state)
{
	struct pair *p = *state;
	char *payload = xmalloc(IPC_MAX_HEAD + 2);

	memset(payload, 'h', IPC_MAX_HEAD + 1);
	payload[IPC_MAX_HEAD + 1] = '\n';
	expect_frame_refused(p, payload, IPC_MAX_HEAD + 2);
	free(payload);
}

static void test_ipc_recv_reports_close_mid_frame(void **state)
{
	struct pair *p = *state;

	write_len(p->fd[1], 10);
	write_raw(p->fd[1], "abc", 3);
	close_peer(p);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -ECONNRESET);
}

static void test_ipc_recv_reports_close_mid_length(void **state)
{
	struct pair *p = *state;

	write_raw(p->fd[1], "\0\0", 2);
	close_peer(p);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -ECONNRESET);
}

static void test_ipc_recv_reports_close_at_frame_boundary(void **state)
{
	struct pair *p = *state;
	struct ipc_msg m;

	assert_int_equal(ipc_send(p->fd[1], "bye", NULL, 0), 0);
	close_peer(p);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_string_equal(m.head, "bye");
	ipc_msg_release(&m);
	expect_recv_error(p->fd[0], RECV_TIMEOUT_MS, -ECONNRESET);
	expect_recv_error(p->fd[0], -1, -ECONNRESET);
}

static void test_ipc_recv_times_out(void **state)
{
	struct pair *p = *state;
	long long start = ipc_now_ms();

	expect_recv_error(p->fd[0], 100, -ETIMEDOUT);
	assert_true(ipc_now_ms() - start >= 99);
}

static void test_ipc_recv_times_out_mid_frame(void **state)
{
	struct pair *p = *state;
	long long start = ipc_now_ms();

	write_len(p->fd[1], 10);
	write_raw(p->fd[1], "abc\n", 4);
	expect_recv_error(p->fd[0], 100, -ETIMEDOUT);
	assert_true(ipc_now_ms() - start >= 99);
}

/* A frame written one byte per send, a millisecond apart. */
struct trickle {
	int fd;
	const char *frame;
	size_t len;
	int result;
};

static void *send_bytewise(void *arg)
{
	struct trickle *t = arg;
	struct timespec ts = { 0, 1000 * 1000 };

	t->result = 0;
	for (size_t i = 0; i < t->len; i++) {
		if (send(t->fd, t->frame + i, 1, MSG_NOSIGNAL) != 1) {
			t->result = -errno;
			break;
		}
		(void)nanosleep(&ts, NULL);
	}
	return NULL;
}

static void test_ipc_recv_assembles_frame_sent_bytewise(void **state)
{
	struct pair *p = *state;
	static const char frame[] = "\0\0\0\x1a" "status w-1 ready\nbody\nmore";
	struct trickle tr = { .fd = p->fd[1], .frame = frame, .len = sizeof(frame) - 1 };
	struct ipc_msg m;
	pthread_t t;

	assert_int_equal(tr.len, 4 + 0x1a);
	assert_int_equal(pthread_create(&t, NULL, send_bytewise, &tr), 0);
	assert_int_equal(ipc_recv(p->fd[0], RECV_TIMEOUT_MS, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(tr.result, 0);
	assert_string_equal(m.head, "status w-1 ready");
	assert_int_equal(m.body_len, 9);
	assert_string_equal(m.body, "body\nmore");
	ipc_msg_release(&m);
}

static void test_ipc_split_keeps_the_rest_in_the_last_word(void **state)
{
	char head[] = "a b c";
	char *words[3] = { NULL, NULL, NULL };

	assert_int_equal(ipc_split(head, words, 2), 2);
	assert_string_equal(words[0], "a");
	assert_string_equal(words[1], "b c");
	assert_null(words[2]);
}

static void test_ipc_split_counts_words(void **state)
{
	char empty[] = "";
	char whole[] = "a b c";
	char three[] = "a b c";
	char *words[4] = { NULL, NULL, NULL, NULL };

	assert_int_equal(ipc_split(empty, words, 4), 0);
	assert_null(words[0]);

	assert_int_equal(ipc_split(whole, words, 1), 1);
	assert_string_equal(words[0], "a b c");
	assert_null(words[1]);

	assert_int_equal(ipc_split(three, words, 4), 3);
	assert_string_equal(words[0], "a");
	assert_string_equal(words[1], "b");
	assert_string_equal(words[2], "c");
	assert_null(words[3]);
}

static void test_ipc_is_name(void **state)
{
	char name[66];

	assert_true(ipc_is_name("sqlite", 64));
	assert_true(ipc_is_name("a.b-c_1", 64));
	memset(name, 'n', 64);
	name[64] = '\0';
	assert_true(ipc_is_name(name, 64));

	name[64] = 'n';
	name[65] = '\0';
	assert_false(ipc_is_name(name, 64));
	assert_false(ipc_is_name("", 64));
	assert_false(ipc_is_name("a b", 64));
	assert_false(ipc_is_name("a/b", 64));
	assert_false(ipc_is_name("\xc3\xa9", 64));   /* é */
	assert_false(ipc_is_name("a\n", 64));
}

/* Runs with SNAPFS_RUNTIME_DIR as the test sets it, then restores it. */
static int save_runtime_env(void **state)
{
	const char *v = getenv(IPC_RUNTIME_ENV);

	*state = v ? strdup(v) : NULL;
	assert_true(!v || *state);
	return 0;
}

static int restore_runtime_env(void **state)
{
	char *v = *state;

	if (v)
		assert_int_equal(setenv(IPC_RUNTIME_ENV, v, 1), 0);
	else
		assert_int_equal(unsetenv(IPC_RUNTIME_ENV), 0);
	free(v);
	return 0;
}

static void test_ipc_runtime_dir_honours_environment(void **state)
{
	assert_int_equal(setenv(IPC_RUNTIME_ENV, "/tmp/snapfs-runtime", 1), 0);
	assert_string_equal(ipc_runtime_dir(), "/tmp/snapfs-runtime");

	assert_int_equal(unsetenv(IPC_RUNTIME_ENV), 0);
	assert_string_equal(ipc_runtime_dir(), "/run/snapfs");

	assert_int_equal(setenv(IPC_RUNTIME_ENV, "", 1), 0);
	assert_string_equal(ipc_runtime_dir(), "/run/snapfs");
}

static void test_ipc_socket_path(void **state)
{
	char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
	char dir[sizeof(path) + 1];
	size_t fit = sizeof(path) - 1 - strlen("/" IPC_SOCKET);

	assert_int_equal(unsetenv(IPC_RUNTIME_ENV), 0);
	assert_int_equal(ipc_socket_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/run/snapfs/snapfsd.sock");

	assert_int_equal(setenv(IPC_RUNTIME_ENV, "/tmp/snapfs-runtime", 1), 0);
	assert_int_equal(ipc_socket_path(path, sizeof(path)), 0);
	assert_string_equal(path, "/tmp/snapfs-runtime/snapfsd.sock");

	/* A directory whose socket path just fits, then one byte longer. */
	dir[0] = '/';
	memset(dir + 1, 'd', fit - 1);
	dir[fit] = '\0';
	assert_int_equal(setenv(IPC_RUNTIME_ENV, dir, 1), 0);
	assert_int_equal(ipc_socket_path(path, sizeof(path)), 0);
	assert_int_equal(strlen(path), sizeof(path) - 1);

	dir[fit] = 'd';
	dir[fit + 1] = '\0';
	assert_int_equal(setenv(IPC_RUNTIME_ENV, dir, 1), 0);
	assert_int_equal(ipc_socket_path(path, sizeof(path)), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ipc_round_trips_empty_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_round_trips_binary_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_sendf_formats_the_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_accepts_head_of_max_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_round_trips_body_of_max_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_send_refuses_oversized_or_multiline_head,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_send_refuses_oversized_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_refuses_bad_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_refuses_frame_without_newline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_refuses_control_characters_in_head,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_refuses_nul_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_refuses_head_over_max_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_reports_close_mid_frame, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_reports_close_mid_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_reports_close_at_frame_boundary,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_times_out_mid_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipc_recv_assembles_frame_sent_bytewise, setup,
						teardown),
		cmocka_unit_test(test_ipc_split_keeps_the_rest_in_the_last_word),
		cmocka_unit_test(test_ipc_split_counts_words),
		cmocka_unit_test(test_ipc_is_name),
		cmocka_unit_test_setup_teardown(test_ipc_runtime_dir_honours_environment,
						save_runtime_env, restore_runtime_env),
		cmocka_unit_test_setup_teardown(test_ipc_socket_path, save_runtime_env,
						restore_runtime_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
