/*
 * common.c: the parts every in-box writer has alike: a log line with a timestamp and the
 * writer's name on stderr, stopping on SIGTERM, a watchdog that undoes a freeze whose thaw never
 * comes, and remembering the set's volumes between the events that carry them (prepare-*,
 * post-snapshot, freeze from newer coordinators) and those that do not (thaw, abort). It knows
 * nothing of any application; each writer's own file does.
 */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMMON_THAW_WAIT_S 300

static const char *log_name = "writer";
static struct snap_writer *signal_writer;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t dog_once = PTHREAD_ONCE_INIT;
static pthread_cond_t dog_cond;             /* CLOCK_MONOTONIC */
static unsigned long dog_generation;        /* protected by lock */
static bool dog_armed;                      /* protected by lock */

struct dog {
	unsigned long generation;
	struct timespec deadline;
	void (*fn)(void *ctx);
	void *ctx;
};

void common_log_name(const char *name)
{
	log_name = name;
}

void common_log(const char *fmt, ...)
{
	char stamp[32], line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ld %s: ", stamp, ts.tv_nsec / 1000000, log_name);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = m < 0 ? n : n + m < (int)sizeof(line) - 1 ? n + m : (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* one write per line, so that the lines of processes sharing a log stay whole */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

struct snap_writer *common_writer_new(const char *name, const struct snap_writer_callbacks *cb,
				      void *ctx)
{
	struct snap_writer *w = snap_writer_new(name, cb, ctx);

	if (!w && errno == EINVAL)
		common_log("bad writer name '%s': 1 to 64 of A-Z a-z 0-9 . _ -", name);
	else if (!w)
		common_log("cannot make the writer: %s", strerror(errno));
	return w;
}

void common_lock(void)
{
	pthread_mutex_lock(&lock);
}

void common_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

static void init_dog(void)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&dog_cond, &attr);
	pthread_condattr_destroy(&attr);
}

/* The helper thread of one arming: it ends when disarmed or re-armed, or after firing. */
static void *watch(void *arg)
{
	struct dog d = *(struct dog *)arg;

	free(arg);
	pthread_mutex_lock(&lock);
	while (dog_armed && dog_generation == d.generation) {
		if (pthread_cond_timedwait(&dog_cond, &lock, &d.deadline) != ETIMEDOUT)
			continue;
		if (dog_armed && dog_generation == d.generation) {
			dog_armed = false;
			d.fn(d.ctx);
		}
		break;
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int common_watchdog_arm(unsigned s, void (*fn)(void *ctx), void *ctx)
{
	struct dog *d = calloc(1, sizeof(*d));
	pthread_attr_t attr;
	pthread_t t;
	int r;

	if (!d)
		return -ENOMEM;
	pthread_once(&dog_once, init_dog);
	common_watchdog_disarm();
	clock_gettime(CLOCK_MONOTONIC, &d->deadline);
	d->deadline.tv_sec += s;
	d->generation = dog_generation;
	d->fn = fn;
	d->ctx = ctx;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&t, &attr, watch, d);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		free(d);
		return r;
	}
	dog_armed = true;
	return 0;
}

void common_watchdog_disarm(void)
{
	pthread_once(&dog_once, init_dog);
	dog_armed = false;
	dog_generation++;
	pthread_cond_broadcast(&dog_cond);
}

unsigned common_thaw_wait_s(void)
{
	const char *env = getenv("SNAPFS_WRITER_THAW_WAIT");
	unsigned long s;
	char *end;

	if (!env || !*env)
		return COMMON_THAW_WAIT_S;
	s = strtoul(env, &end, 10);
	return *end || s < 1 || s > 86400 ? COMMON_THAW_WAIT_S : (unsigned)s;
}

static void on_signal(int sig)
{
	(void)sig;
	if (signal_writer)
		snap_writer_stop(signal_writer);
}

void common_stop_on_signals(struct snap_writer *w)
{
	struct sigaction sa = { .sa_handler = on_signal };

	signal_writer = w;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
}

int common_run(struct snap_writer *w)
{
	int r = snap_writer_run(w);

	if (r < 0) {
		common_log("%s", snap_writer_error(w)[0] ? snap_writer_error(w) : strerror(-r));
		return EXIT_FAILURE;
	}
	common_log("stopped");
	return EXIT_SUCCESS;
}

void common_set_release(struct common_set *s)
{
	for (size_t i = 0; i < s->n_volumes; i++)
		free(s->volumes[i]);
	s->n_volumes = 0;
	s->set_id[0] = '\0';
}

int common_set_note(struct common_set *s, const struct snap_event *ev)
{
	size_t n = ev->n_volumes < COMMON_MAX_VOLUMES ? ev->n_volumes : COMMON_MAX_VOLUMES;

	if (!ev->n_volumes) {
		if (!common_set_is(s, ev))
			common_set_release(s);
		return 0;
	}
	common_set_release(s);
	for (size_t i = 0; i < n; i++) {
		s->volumes[i] = strdup(ev->volumes[i]);
		if (!s->volumes[i]) {
			common_set_release(s);
			return -ENOMEM;
		}
		s->n_volumes++;
	}
	snprintf(s->set_id, sizeof(s->set_id), "%s", ev->set_id);
	return 0;
}

bool common_set_is(const struct common_set *s, const struct snap_event *ev)
{
	return s->n_volumes && strcmp(s->set_id, ev->set_id) == 0;
}

int common_volume_of(const char *const *vols, size_t n, const char *path, const char **ret_rel)
{
	size_t best_len = 0;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(vols[i]);

		while (len > 1 && vols[i][len - 1] == '/')
			len--;
		if (len == 1 && vols[i][0] == '/')
			len = 0; /* a volume at / holds every path */
		if (strncmp(path, vols[i], len) != 0 || (path[len] != '/' && path[len] != '\0'))
			continue;
		if (best < 0 || len > best_len) {
			best = (int)i;
			best_len = len;
		}
	}
	if (best >= 0 && ret_rel)
		*ret_rel = path + best_len;
	return best;
}

long long common_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
