#ifndef SNAPFS_CLI_STORAGE_H
#define SNAPFS_CLI_STORAGE_H

/* snapfs add|resize|delete|list shadowstorage ...: argv[0] is the verb, argv[1] the noun. */
int cmd_shadowstorage(int argc, char **argv);

/* snapfs list volumes [-H]: argv[0] is "list". */
int cmd_list_volumes(int argc, char **argv);

#endif
