/*
 * A requester as a backup application writes one, built against the installed libsnapfs
 * through pkg-config (tests/integration/libsnapfs.sh): it takes a snapshot set of the volumes
 * named as arguments, prints where each snapshot reads, and completes the backup.
 */
#include <stdio.h>
#include <snapfs/requester.h>
#include <snapfs/snapfs.h>

int main(int argc, char **argv)
{
	struct snap_session *s = snap_session_new();
	int rc = 1;

	if (!s || snap_session_connect(s) < 0)
		goto out;
	for (int i = 1; i < argc; i++)
		if (snap_session_add_volume(s, argv[i]) < 0)
			goto out;
	if (snap_session_create(s) < 0)
		goto out;
	for (size_t i = 0; i < snap_session_snapshots(s); i++)
		printf("%s %s\n", snap_session_set_id(s), snap_session_snapshot(s, i)->path);
	rc = snap_session_complete(s) < 0;
out:
	if (rc)
		fprintf(stderr, "requester (libsnapfs %s): %s\n", snap_version(),
			s ? snap_session_error(s) : "out of memory");
	snap_session_free(s);
	return rc;
}
