/*
 * snapfsd: the coordinator service (src/coord.c does the work; docs/coordinator.md describes
 * it). By hand: 'snapfsd -f' serves in the foreground, logging to stderr; 'snapfsd' detaches
 * and logs to syslog. Clients start it on demand with --on-demand: it detaches, and exits
 * after a minute without connections (unless the configuration sets idle_exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin.h"
#include "coord.h"
#include "expose.h"
#include "ipc.h"
#include "log.h"

#define ON_DEMAND_IDLE_S 60

static void usage(FILE *out)
{
	fprintf(out, "usage: snapfsd [-f] [-v] [--config FILE]\n"
		     "\n"
		     "The snapfs coordinator: writers register with it, requesters take snapshot\n"
		     "sets through it. Its socket is %s in the runtime directory\n"
		     "(%s, or $%s).\n"
		     "\n"
		     "  -f, --foreground   stay in the foreground and log to stderr\n"
		     "  -v, --verbose      log debug messages too\n"
		     "  --config FILE      the configuration (default $SNAPFS_CONFIG, else\n"
		     "                     /etc/snapfs/snapfsd.conf)\n"
		     "  --on-demand        as started by a client: exit when idle for %d s\n",
		IPC_SOCKET, IPC_RUNTIME_DEFAULT, IPC_RUNTIME_ENV, ON_DEMAND_IDLE_S);
}

/*
 * Detach: fork, the parent waits for the child's word that it listens (or that another
 * service does) and exits with its status; the child starts a session.
 */
static int detach(int *ret_ready)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		int st;

		(void)close(p[1]);
		if (read(p[0], &c, 1) == 1)
			_exit(0);
		/* no word: the child failed (its message is on stderr) or found another service */
		(void)waitpid(pid, &st, 0);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	(void)close(p[0]);
	(void)setsid();
	if (chdir("/") < 0)
		return -errno;
	*ret_ready = p[1];
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	bool foreground = false, on_demand = false;
	int level = LOG_INFO, ready = -1, r;
	struct coord_config cfg;
	char err[1024];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--foreground") == 0) {
			foreground = true;
		} else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			level = LOG_DEBUG;
		} else if (strcmp(argv[i], "--on-demand") == 0) {
			on_demand = true;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "snapfsd: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	log_setup(LOG_SINK_STDERR, level, "snapfsd");
	r = coord_config_load(config, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "snapfsd: %s\n", err);
		return 1;
	}
	if (on_demand && !cfg.idle_exit_s)
		cfg.idle_exit_s = ON_DEMAND_IDLE_S;
	if (admin_state_path(cfg.sets_dir, sizeof(cfg.sets_dir), "sets") < 0) {
		fprintf(stderr, "snapfsd: the state directory's path is too long\n");
		return 1;
	}
	if (!foreground) {
		r = detach(&ready);
		if (r < 0) {
			fprintf(stderr, "snapfsd: cannot detach: %s\n", strerror(-r));
			return 1;
		}
		log_setup(LOG_SINK_SYSLOG, level, "snapfsd");
	}
	/* the exposures a reboot (or a crash) took away: never a reason not to serve */
	r = expose_restore(err, sizeof(err));
	if (r != 0)
		snap_log(LOG_WARNING, "exposed snapshots not mounted again: %s", err);
	r = coord_run(&cfg, ready, err, sizeof(err));
	if (r == -EALREADY && on_demand) /* a racing client started one first: it serves */
		return 0;
	if (r < 0) {
		fprintf(stderr, "snapfsd: %s\n", err);
		return 1;
	}
	return 0;
}
