#ifndef SNAPFS_CLI_TRANSFER_H
#define SNAPFS_CLI_TRANSFER_H

/* snapfs export ID FILE */
int cmd_export(int argc, char **argv);

/* snapfs import FILE */
int cmd_import(int argc, char **argv);

#endif
