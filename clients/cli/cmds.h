/* The cfs subcommands that live in files of their own (cfs.c dispatches). */
#ifndef CFS_CLI_CMDS_H
#define CFS_CLI_CMDS_H

#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* cfs init, cfs token ..., cfs secret rotate (token.c): argv[0] is the
 * subcommand's name. Exit codes: 0, 1 on failure, 2 on usage. */
int cmd_init(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_secret(int argc, char **argv);
/* cfs layout set|get (layout.c) */
int cmd_layout(int argc, char **argv);
/* cfs cache status|drop|warm (cache.c) */
int cmd_cache(int argc, char **argv);
/* cfs tier status|flush|where (tier.c) */
int cmd_tier(int argc, char **argv);

/* The MDS's current map, or NULL after saying why on stderr; free with
 * map_done() (cfs.c). */
struct cfs_map;
struct cfs_map_holder;
struct cfs_rpc_client;
struct cfs_map *map_of(const char *mds, struct cfs_map_holder *maps,
		       struct cfs_rpc_client **rpc);
void map_done(struct cfs_map *m, struct cfs_map_holder *maps,
	      struct cfs_rpc_client *rpc);
/* One call of an admin method on the MDS (no reply body), retried 3
 * times of timeout_ms (0: 5 s): 0 or -errno. */
int mds_call(const char *mds, uint32_t method, ProtobufCMessage *req,
	     int timeout_ms);

#endif
