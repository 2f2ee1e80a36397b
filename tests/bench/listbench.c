/*
 * listbench: how long 'list shadows' takes at the snapshot limit. It makes a volume in a
 * temporary directory, takes ENGINE_MAX_SNAPSHOTS snapshots with CHANGES chunk overwrites
 * between each two (spread over FILES files), then times engine_snapshot_list, which computes
 * every snapshot's diff-area bytes from the catalog. The baseline, measured in the same run,
 * is a plain 'SELECT count(*)'-like pass: listing the snapshots of an empty volume.
 *
 *   listbench [CHANGES [FILES]]      defaults: 200 changes, 64 files
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"

#define CHUNK 4096

static int64_t fake_now = 1700000000LL * 1000000000LL;

static int64_t fast_clock(void)
{
	return fake_now += 1000000000LL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count(const struct catalog_snapshot *s, void *ctx)
{
	(*(uint64_t *)ctx) += s->diff_bytes + 1;
	return 0;
}

static struct engine *open_volume(char *dir, int *src_fd, int *state_fd)
{
	char state[128], msg[512];
	struct engine *e;

	if (!mkdtemp(dir))
		exit(1);
	snprintf(state, sizeof(state), "%s/.snapfs", dir);
	mkdir(state, 0700);
	*src_fd = open(dir, O_RDONLY | O_DIRECTORY);
	*state_fd = open(state, O_RDONLY | O_DIRECTORY);
	struct engine_params p = { .src_fd = *src_fd, .state_fd = *state_fd, .state_path = state,
				   .chunk_size = CHUNK, .clock = fast_clock };
	if (engine_open(&p, &e, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "listbench: %s\n", msg);
		exit(1);
	}
	return e;
}

static double time_list(struct engine *e, uint64_t *sum)
{
	double t0 = now_s();

	*sum = 0;
	if (engine_snapshot_list(e, count, sum) < 0)
		exit(1);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	int changes = argc > 1 ? atoi(argv[1]) : 200, files = argc > 2 ? atoi(argv[2]) : 64;
	char dir[] = "/tmp/snapfs-listbench-XXXXXX", dir0[] = "/tmp/snapfs-listbench-XXXXXX";
	int src_fd, state_fd, src0, state0, fds[4096];
	unsigned char buf[CHUNK];
	struct catalog_snapshot s;
	uint64_t rs = 88172645463325252ULL, sum;
	struct engine *e = open_volume(dir, &src_fd, &state_fd), *e0;
	double t, t0;
	char cmd[128];

	if (files < 1 || files > 4096)
		return 2;
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < files; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		fds[i] = openat(src_fd, name, O_RDWR | O_CREAT, 0644);
		for (int k = 0; k < 256; k++)
			if (pwrite(fds[i], buf, CHUNK, (off_t)k * CHUNK) != CHUNK)
				return 1;
	}
	for (int n = 0; n < ENGINE_MAX_SNAPSHOTS; n++) {
		if (engine_snapshot_create(e, NULL, &s) < 0)
			return 1;
		for (int c = 0; c < changes; c++) {
			rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
			int f = (int)(rs % (uint64_t)files);
			off_t off = (off_t)((rs >> 20) % 256) * CHUNK;

			engine_gate_enter(e);
			if (engine_before_write(e, fds[f], (uint64_t)off, CHUNK) < 0 ||
			    pwrite(fds[f], buf, CHUNK, off) != CHUNK)
				return 1;
			engine_gate_leave(e);
		}
	}
	e0 = open_volume(dir0, &src0, &state0);
	for (int n = 0; n < ENGINE_MAX_SNAPSHOTS; n++)
		if (engine_snapshot_create(e0, NULL, &s) < 0)
			return 1;
	t0 = time_list(e0, &sum);
	t = time_list(e, &sum);
	printf("list shadows, %d snapshots, %d chunk changes between each two (%d files):\n",
	       ENGINE_MAX_SNAPSHOTS, changes, files);
	printf("  %.3f s (baseline without changes: %.3f s); %s\n", t, t0,
	       t < 0.5 ? "PASS (under 0.5 s)" : "FAIL (0.5 s or more)");
	engine_close(e);
	engine_close(e0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, dir0);
	return system(cmd) == 0 && t < 0.5 ? 0 : 1;
}
