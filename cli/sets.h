/*
 * sets.h: the snapfs subcommands that go through the coordinator (cli/sets.c), as a requester
 * of libsnapfs: 'create' of a snapshot set, 'list writers'.
 */
#ifndef SNAPFS_CLI_SETS_H
#define SNAPFS_CLI_SETS_H

/* 'snapfs create' without --set; argv[0] is "create". Returns an exit status. */
int sets_create(int argc, char **argv);

/* 'snapfs list writers'; argv[0] is "list", argv[1] "writers". */
int sets_list_writers(int argc, char **argv);

#endif
