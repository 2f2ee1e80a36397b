/*
 * snapfs-writer-exec: a writer made of two shell commands, for applications that have a way to
 * freeze and thaw themselves (fsfreeze, a database's backup mode, a service's pause). It owns
 * the commands' processes and nothing of the application.
 *
 * freeze runs the freeze command, thaw the thaw command, each as '/bin/sh -c CMD' in a process
 * group of its own, with SNAPFS_EVENT (freeze or thaw), SNAPFS_SET_ID and SNAPFS_VOLUMES (the
 * set's mount points, one a line) in its environment, stdin from /dev/null, each line of its
 * stdout and stderr in the writer's log. A command that does not exit within --timeout has its
 * process group killed and fails the event ("freeze command timed out after S s"); a non-zero
 * exit fails it too ("freeze command exited with status N: LAST LINE OF ITS STDERR"). Failing
 * freeze or thaw aborts the set.
 *
 * The application is never left frozen: once a freeze command has started (it may have frozen
 * part of the application before failing or timing out), the thaw command runs at thaw, at
 * abort, at the next set, when the writer is stopped, or, should no thaw nor abort come within
 * 300 s (the coordinator died), from the watchdog; the set's thaw then fails, since the
 * snapshot may postdate the thaw. A thaw command that fails is run again at the abort that
 * follows. Thaw commands should therefore be harmless on a thawed application.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define DEFAULT_TIMEOUT_S 30
#define LINE_MAX_LEN 400        /* the part of a command's stderr line kept for a message */

extern char **environ;

struct exec_writer {
	const char *freeze_cmd;
	const char *thaw_cmd;
	double timeout_s;
	struct common_set set;
	char frozen_set[64];    /* a freeze command started for it and no thaw succeeded since */
	bool released_early;    /* the watchdog thawed frozen_set */
	char why[LINE_MAX_LEN + 128];
};

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfs-writer-exec [--name N] --freeze CMD --thaw CMD [--timeout S]\n"
		     "\n"
		     "The snapfs writer that runs a command to freeze an application before each\n"
		     "snapshot set and one to thaw it afterwards (also when the set is aborted).\n"
		     "The commands run as '/bin/sh -c CMD' with SNAPFS_EVENT, SNAPFS_SET_ID and\n"
		     "SNAPFS_VOLUMES (the set's mount points, one a line) in their environment.\n"
		     "\n"
		     "  --name N      the writer's name (default 'exec')\n"
		     "  --freeze CMD  the freeze command\n"
		     "  --thaw CMD    the thaw command\n"
		     "  --timeout S   how long each command may run, in seconds (default %d)\n",
		DEFAULT_TIMEOUT_S);
}

/* ---- running a command ------------------------------------------------------------------ */

/*
 * The environment of a command: ours without SNAPFS_EVENT, SNAPFS_SET_ID and SNAPFS_VOLUMES,
 * then those three. The caller frees the array and its last three strings (ret_own: their
 * index).
 */
static char **command_env(const char *event, const char *set_id, const struct common_set *set,
			  size_t *ret_own)
{
	size_t n = 0, len = 32, k = 0;
	char **env, *vols;

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SNAPFS_EVENT=", 13) != 0 &&
		    strncmp(environ[i], "SNAPFS_SET_ID=", 14) != 0 &&
		    strncmp(environ[i], "SNAPFS_VOLUMES=", 15) != 0)
			env[k++] = environ[i];
	*ret_own = k;
	for (size_t i = 0; i < set->n_volumes; i++)
		len += strlen(set->volumes[i]) + 1;
	vols = malloc(len);
	if (!vols)
		goto out_free_env;
	strcpy(vols, "SNAPFS_VOLUMES=");
	for (size_t i = 0; i < set->n_volumes; i++) {
		if (i)
			strcat(vols, "\n");
		strcat(vols, set->volumes[i]);
	}
	env[k++] = vols;
	if (asprintf(&env[k], "SNAPFS_SET_ID=%s", set_id) < 0)
		goto out_free_own;
	k++;
	if (asprintf(&env[k], "SNAPFS_EVENT=%s", event) < 0)
		goto out_free_own;
	return env;
out_free_own:
	for (size_t i = *ret_own; i < k; i++)
		free(env[i]);
out_free_env:
	free(env);
	return NULL;
}

static void free_env(char **env, size_t own)
{
	for (size_t i = own; env[i]; i++)
		free(env[i]);
	free(env);
}

/* One of a command's output pipes: what it wrote, line by line, goes to the log. */
struct stream {
	int fd;                 /* -1 once at its end */
	const char *what;       /* "stdout" or "stderr" */
	char buf[4096];
	size_t used;
	char last[LINE_MAX_LEN + 1];   /* its last non-empty line */
};

/* Log each whole line of s (all of it when flush), remembering the last non-empty one. */
static void take_lines(const char *event, struct stream *s, bool flush)
{
	char *start = s->buf, *nl;

	s->buf[s->used] = '\0';
	while ((nl = strchr(start, '\n')) || (flush && *start)) {
		if (nl)
			*nl = '\0';
		if (*start) {
			common_log("%s command (%s): %s", event, s->what, start);
			snprintf(s->last, sizeof(s->last), "%.*s", LINE_MAX_LEN, start);
		}
		start = nl ? nl + 1 : start + strlen(start);
	}
	s->used -= (size_t)(start - s->buf);
	memmove(s->buf, start, s->used);
}

/* Read what s has now (non-blocking); at its end, close it. */
static void drain(const char *event, struct stream *s)
{
	ssize_t n;

	while (s->fd >= 0 && (n = read(s->fd, s->buf + s->used, sizeof(s->buf) - 1 - s->used))) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			break;
		}
		s->used += (size_t)n;
		take_lines(event, s, s->used == sizeof(s->buf) - 1);
	}
	if (s->fd >= 0) {
		(void)close(s->fd);
		s->fd = -1;
	}
}

/* Child side of run(): never returns. Only async-signal-safe calls (we may have threads). */
static void exec_child(const char *cmd, char **env, int out_fd, int err_fd)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)setpgid(0, 0);
	(void)sigaction(SIGPIPE, &dfl, NULL);
	if (null_fd >= 0)
		(void)dup2(null_fd, STDIN_FILENO);
	(void)dup2(out_fd, STDOUT_FILENO);
	(void)dup2(err_fd, STDERR_FILENO);
	execve("/bin/sh", (char *const[]){ (char *)"sh", (char *)"-c", (char *)cmd, NULL }, env);
	_exit(127);
}

/*
 * Run the command of event ("freeze" or "thaw") for set_id and wait for it until the timeout,
 * logging its output. Returns 0, or a negative errno with ew->why saying what happened.
 */
static int run(struct exec_writer *ew, const char *event, const char *cmd, const char *set_id)
{
	long long start = common_now_ms(), deadline = start + (long long)(ew->timeout_s * 1000);
	struct stream out = { .fd = -1, .what = "stdout" }, err = { .fd = -1, .what = "stderr" };
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, st = 0, r = 0;
	size_t own;
	char **env;
	pid_t pid;

	env = command_env(event, set_id, &ew->set, &own);
	if (!env) {
		snprintf(ew->why, sizeof(ew->why), "%s command: out of memory", event);
		return -ENOMEM;
	}
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		r = -errno;
		snprintf(ew->why, sizeof(ew->why), "%s command: pipe: %s", event, strerror(errno));
		goto out_close_pipes;
	}
	common_log("set '%s': running the %s command", set_id, event);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		snprintf(ew->why, sizeof(ew->why), "%s command: fork: %s", event, strerror(errno));
		goto out_close_pipes;
	}
	if (pid == 0)
		exec_child(cmd, env, po[1], pe[1]);
	(void)setpgid(pid, pid); /* also here: the kill below must find the group */
	out.fd = po[0];
	err.fd = pe[0];
	po[0] = pe[0] = -1;
	(void)fcntl(out.fd, F_SETFL, O_NONBLOCK);
	(void)fcntl(err.fd, F_SETFL, O_NONBLOCK);
	(void)close(po[1]);
	(void)close(pe[1]);
	po[1] = pe[1] = -1;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = out.fd, .events = POLLIN },
					 { .fd = err.fd, .events = POLLIN } };
		long long left = deadline - common_now_ms();

		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (left <= 0) {
			(void)kill(-pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			r = -ETIME; /* not ETIMEDOUT: snapfsd reads that as "no answer" */
			snprintf(ew->why, sizeof(ew->why), "%s command timed out after %g s", event,
				 ew->timeout_s);
			break;
		}
		/* a pipe may stay open in a process the command left behind: poll briefly */
		if (poll(pfd, 2, left < 50 ? (int)left : 50) <= 0)
			continue;
		drain(event, &out);
		drain(event, &err);
	}
	drain(event, &out);
	drain(event, &err);
	take_lines(event, &out, true);
	take_lines(event, &err, true);
	if (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		r = -EIO;
		snprintf(ew->why, sizeof(ew->why), "%s command exited with status %d%s%s", event,
			 WEXITSTATUS(st), err.last[0] ? ": " : "", err.last);
	} else if (r == 0 && WIFSIGNALED(st)) {
		r = -EINTR;
		snprintf(ew->why, sizeof(ew->why), "%s command killed by signal %d (%s)%s%s", event,
			 WTERMSIG(st), strsignal(WTERMSIG(st)), err.last[0] ? ": " : "", err.last);
	}
	if (r < 0)
		common_log("set '%s': %s", set_id, ew->why);
	else
		common_log("set '%s': the %s command succeeded in %lld ms", set_id, event,
			   common_now_ms() - start);
out_close_pipes:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			(void)close(po[i]);
		if (pe[i] >= 0)
			(void)close(pe[i]);
	}
	if (out.fd >= 0)
		(void)close(out.fd);
	if (err.fd >= 0)
		(void)close(err.fd);
	free_env(env, own);
	return r;
}

/* Run the thaw command for the frozen set, if any; forget it when the command succeeds. */
static int thaw_frozen(struct exec_writer *ew)
{
	int r;

	if (!ew->frozen_set[0])
		return 0;
	r = run(ew, "thaw", ew->thaw_cmd, ew->frozen_set);
	if (r == 0)
		ew->frozen_set[0] = '\0';
	return r;
}

/* The watchdog: no thaw nor abort came; the application must not stay frozen. */
static void let_go(void *ctx)
{
	struct exec_writer *ew = ctx;

	common_log("set '%s': no thaw within %u s; thawing", ew->frozen_set,
		   common_thaw_wait_s());
	ew->released_early = true;
	(void)thaw_frozen(ew);
}

/* ---- events ----------------------------------------------------------------------------- */

/* prepare-backup, prepare-snapshot, post-snapshot: the set's volumes; a stale freeze thaws. */
static int on_volumes(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct exec_writer *ew = ctx;
	int r;

	common_lock();
	if (ew->frozen_set[0] && strcmp(ew->frozen_set, ev->set_id) != 0) {
		common_log("set '%s' never thawed: thawing before set '%s'", ew->frozen_set,
			   ev->set_id);
		common_watchdog_disarm();
		(void)thaw_frozen(ew);
		ew->frozen_set[0] = '\0';
	}
	r = common_set_note(&ew->set, ev);
	common_unlock();
	if (r < 0)
		return snap_writer_fail(w, r, "%s: %s", ev->name, strerror(-r));
	return 0;
}

static int on_freeze(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct exec_writer *ew = ctx;
	int r, a;

	common_lock();
	common_watchdog_disarm();
	if (common_set_note(&ew->set, ev) < 0 || !common_set_is(&ew->set, ev))
		common_set_release(&ew->set);
	snprintf(ew->frozen_set, sizeof(ew->frozen_set), "%s", ev->set_id);
	ew->released_early = false;
	r = run(ew, "freeze", ew->freeze_cmd, ev->set_id);
	a = common_watchdog_arm(common_thaw_wait_s(), let_go, ew);
	if (r == 0 && a < 0)
		snprintf(ew->why, sizeof(ew->why), "cannot start the thaw watchdog: %s",
			 strerror(-a));
	common_unlock();
	if (r < 0 || a < 0)
		return snap_writer_fail(w, r < 0 ? r : a, "%s", ew->why);
	return 0;
}

static int on_thaw(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct exec_writer *ew = ctx;
	int r = 0;

	common_lock();
	common_watchdog_disarm();
	if (ew->released_early) {
		ew->released_early = false;
		snprintf(ew->why, sizeof(ew->why), "the thaw command ran after %u s without thaw, "
			 "before the snapshot", common_thaw_wait_s());
		r = -ETIME;
	}
	if (r == 0)
		r = thaw_frozen(ew);
	common_unlock();
	if (r < 0)
		return snap_writer_fail(w, r, "%s", ew->why);
	return 0;
}

static int on_abort(struct snap_writer *w, const struct snap_event *ev, void *ctx)
{
	struct exec_writer *ew = ctx;

	common_lock();
	common_watchdog_disarm();
	common_log("set '%s' aborted%s", ev->set_id,
		   ew->frozen_set[0] ? ": thawing" : "");
	(void)thaw_frozen(ew);
	ew->frozen_set[0] = '\0';
	ew->released_early = false;
	common_set_release(&ew->set);
	common_unlock();
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "freeze", required_argument, NULL, 'f' },
		{ "thaw", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct snap_writer_callbacks cb = {
		.prepare_backup = on_volumes,
		.prepare_snapshot = on_volumes,
		.freeze = on_freeze,
		.thaw = on_thaw,
		.post_snapshot = on_volumes,
		.abort = on_abort,
	};
	struct exec_writer ew = { .timeout_s = DEFAULT_TIMEOUT_S };
	const char *name = "exec";
	struct snap_writer *w;
	char *end;
	int c, status;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'f':
			ew.freeze_cmd = optarg;
			break;
		case 't':
			ew.thaw_cmd = optarg;
			break;
		case 'T':
			ew.timeout_s = strtod(optarg, &end);
			if (*end || end == optarg || !isfinite(ew.timeout_s) || ew.timeout_s <= 0 ||
			    ew.timeout_s > 86400) {
				fprintf(stderr, "snapfs-writer-exec: bad --timeout '%s': seconds, "
					"more than 0 and at most 86400\n", optarg);
				return EXIT_FAILURE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "snapfs-writer-exec: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (!ew.freeze_cmd || !ew.thaw_cmd) {
		fprintf(stderr, "snapfs-writer-exec: --freeze CMD and --thaw CMD are both needed"
			"\n");
		usage(stderr);
		return EXIT_FAILURE;
	}
	common_log_name(name);
	w = common_writer_new(name, &cb, &ew);
	if (!w)
		return EXIT_FAILURE;
	common_stop_on_signals(w);
	common_log("serving (commands time out after %g s)", ew.timeout_s);
	status = common_run(w);
	common_lock();
	common_watchdog_disarm();
	if (ew.frozen_set[0]) {
		common_log("stopping while set '%s' is frozen: thawing", ew.frozen_set);
		(void)thaw_frozen(&ew);
	}
	common_set_release(&ew.set);
	common_unlock();
	snap_writer_free(w);
	return status;
}
