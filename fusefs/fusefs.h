/* Entry point of the FUSE daemon, for the CLI (no FUSE types here). */
#ifndef SNAPFS_FUSEFS_H
#define SNAPFS_FUSEFS_H

/*
 * Run 'snapfs mount [-f] [-d] [-o OPTS] SRC MNT': check the paths, open the volume, mount it
 * and serve it until unmounted. argv[0] is "mount". Returns an exit status.
 */
int sfs_mount_main(int argc, char **argv);

/* Print the usage of 'snapfs mount' to stdout. */
void sfs_mount_usage(void);

#endif
