/* The cfs subcommands that live in files of their own (cfs.c dispatches). */
#ifndef CFS_CLI_CMDS_H
#define CFS_CLI_CMDS_H

/* cfs init, cfs token ..., cfs secret rotate (token.c): argv[0] is the
 * subcommand's name. Exit codes: 0, 1 on failure, 2 on usage. */
int cmd_init(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_secret(int argc, char **argv);

#endif
