/*
 * metabench.c: the metadata workload of bench.sh. In a directory DIR it creates COUNT small
 * files (open O_CREAT|O_EXCL, one short write, close), then stats each by name, then unlinks
 * each, all from one thread and one process, so the time measured is that of the filesystem
 * rather than of process creation. It prints one line:
 *
 *   create=SECS stat=SECS unlink=SECS total=SECS files_per_sec=RATE
 *
 * where RATE is COUNT divided by the total time. DIR must exist; the files are named f<N> and
 * are gone again when the program succeeds. Exit status 0 on success, 1 with a message on
 * stderr otherwise.
 *
 * usage: metabench DIR [COUNT]   (COUNT defaults to 20000)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char payload[] = "metabench small file\n";

static double now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void file_name(char *buf, size_t len, long i)
{
	(void)snprintf(buf, len, "f%ld", i);
}

static int create_files(int dirfd, long count)
{
	char name[32];
	long i;

	for (i = 0; i < count; i++) {
		int fd;

		file_name(name, sizeof(name), i);
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (write(fd, payload, sizeof(payload) - 1) != (ssize_t)(sizeof(payload) - 1)) {
			int r = errno ? -errno : -EIO;

			(void)close(fd);
			return r;
		}
		if (close(fd) < 0)
			return -errno;
	}
	return 0;
}

static int stat_files(int dirfd, long count)
{
	struct stat st;
	char name[32];
	long i;

	for (i = 0; i < count; i++) {
		file_name(name, sizeof(name), i);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (st.st_size != (off_t)(sizeof(payload) - 1))
			return -EIO;
	}
	return 0;
}

static int unlink_files(int dirfd, long count)
{
	char name[32];
	long i;

	for (i = 0; i < count; i++) {
		file_name(name, sizeof(name), i);
		if (unlinkat(dirfd, name, 0) < 0)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	double t0, t1, t2, t3;
	long count = 20000;
	char *end;
	int dirfd, r;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: metabench DIR [COUNT]\n");
		return EXIT_FAILURE;
	}
	if (argc == 3) {
		count = strtol(argv[2], &end, 10);
		if (*end || end == argv[2] || count < 1) {
			fprintf(stderr, "metabench: bad count '%s'\n", argv[2]);
			return EXIT_FAILURE;
		}
	}
	dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "metabench: '%s': %s\n", argv[1], strerror(errno));
		return EXIT_FAILURE;
	}
	t0 = now();
	r = create_files(dirfd, count);
	t1 = now();
	if (r == 0)
		r = stat_files(dirfd, count);
	t2 = now();
	if (r == 0)
		r = unlink_files(dirfd, count);
	t3 = now();
	(void)close(dirfd);
	if (r < 0) {
		fprintf(stderr, "metabench: in '%s': %s\n", argv[1], strerror(-r));
		return EXIT_FAILURE;
	}
	printf("create=%.3f stat=%.3f unlink=%.3f total=%.3f files_per_sec=%.0f\n", t1 - t0,
	       t2 - t1, t3 - t2, t3 - t0, (double)count / (t3 - t0));
	return EXIT_SUCCESS;
}
