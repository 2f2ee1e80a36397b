/*
 * crashload: the write load of the crash test, and its live-data check.
 *
 *   crashload run DIR LOG SEED    write until an error (the daemon was killed): records of 512
 *                                 bytes appended to DIR/live0..3, each fsync'd and then its
 *                                 number appended to LOG; between them, unsynced overwrites,
 *                                 truncates and renames of DIR/churn0..3
 *   crashload verify DIR LOG      every record LOG lists reads back from DIR exactly
 *
 * Record n lives in live(n % 4) at offset (n / 4) * 512: its 8-byte number, then n & 0xff.
 * LOG is outside the mount, so it survives the daemon; a record is listed only after its
 * fsync returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REC 512
#define CHURN_SIZE (256 * 1024)

static void record(uint64_t n, unsigned char *buf)
{
	memset(buf, (int)(n & 0xff), REC);
	memcpy(buf, &n, sizeof(n));
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int churn(const char *dir, uint64_t *rs)
{
	char path[4096], tmp[4096];
	unsigned char buf[4096];
	unsigned k = (unsigned)(next_rand(rs) % 4), op = (unsigned)(next_rand(rs) % 16);
	int fd;

	snprintf(path, sizeof(path), "%s/churn%u", dir, k);
	if (op == 0) {
		snprintf(tmp, sizeof(tmp), "%s/churn%u.tmp", dir, k);
		if (rename(path, tmp) < 0 && errno != ENOENT)
			return -1;
		return rename(tmp, path) < 0 && errno != ENOENT ? -1 : 0;
	}
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	if (op == 1) {
		if (ftruncate(fd, (off_t)(next_rand(rs) % CHURN_SIZE)) < 0)
			goto fail;
	} else {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)next_rand(rs);
		if (pwrite(fd, buf, sizeof(buf), (off_t)(next_rand(rs) % CHURN_SIZE)) < 0)
			goto fail;
	}
	return close(fd);
fail:
	close(fd);
	return -1;
}

static int run(const char *dir, const char *log, uint64_t seed)
{
	unsigned char buf[REC];
	uint64_t rs = seed | 1, n = 0;
	FILE *lf = fopen(log, "a");
	int fds[4];

	if (!lf)
		return 2;
	/* continue after the records of earlier rounds */
	{
		FILE *r = fopen(log, "r");
		unsigned long long v;

		while (r && fscanf(r, "%llu", &v) == 1)
			if (v + 1 > n)
				n = v + 1;
		if (r)
			fclose(r);
	}
	for (int i = 0; i < 4; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/live%d", dir, i);
		fds[i] = open(path, O_WRONLY | O_CREAT, 0644);
		if (fds[i] < 0)
			return 1;
	}
	for (;; n++) {
		record(n, buf);
		if (pwrite(fds[n % 4], buf, REC, (off_t)(n / 4 * REC)) != REC || fsync(fds[n % 4]) < 0)
			break;
		fprintf(lf, "%llu\n", (unsigned long long)n);
		fflush(lf);
		for (int i = 0; i < 3; i++)
			if (churn(dir, &rs) < 0)
				goto out;
	}
out:
	fclose(lf);
	return 0;
}

static int verify(const char *dir, const char *log)
{
	FILE *lf = fopen(log, "r");
	unsigned char want[REC], got[REC];
	unsigned long long v;
	int fds[4], bad = 0;

	if (!lf)
		return 2;
	for (int i = 0; i < 4; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/live%d", dir, i);
		fds[i] = open(path, O_RDONLY);
	}
	while (fscanf(lf, "%llu", &v) == 1) {
		int fd = fds[v % 4];

		record(v, want);
		if (fd < 0 || pread(fd, got, REC, (off_t)(v / 4 * REC)) != REC ||
		    memcmp(got, want, REC) != 0) {
			fprintf(stderr, "crashload: fsync'd record %llu is lost\n", v);
			if (++bad > 10)
				break;
		}
	}
	fclose(lf);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "run") == 0)
		return run(argv[2], argv[3], strtoull(argv[4], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2], argv[3]);
	fprintf(stderr, "usage: crashload run DIR LOG SEED | crashload verify DIR LOG\n");
	return 2;
}
