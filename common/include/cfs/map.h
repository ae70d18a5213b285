/* The cluster map and placement (the README's "How it works").
 *
 * A map is an immutable, reference-counted snapshot of the ClusterMap
 * message. A holder keeps the newest one: readers take a reference with
 * cfs_map_get() and drop it with cfs_map_put(); updates swap in a newer
 * epoch without blocking readers for long.
 *
 * Placement: chunk (ino, index) -> placement group by hash, placement
 * group -> ordered targets by weighted rendezvous hashing over the `in`
 * OSDs, at most one per failure domain. Targets are chosen among `in`
 * OSDs whatever their up/down state, so an OSD that restarts keeps its
 * data; I/O skips the ones that are down. The first up target is the
 * acting primary. */
#ifndef CFS_MAP_H
#define CFS_MAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfs/layout.h"
#include "map.pb-c.h"

#define CFS_CHUNK_SIZE ((uint64_t)64 << 20)
#define CFS_MAX_REPLICAS 8

struct cfs_rpc_client;

struct cfs_map {
	int refs;			/* guarded by the holder's lock */
	Cfs__ClusterMap *pb;		/* read-only once published */
};

struct cfs_map_holder {
	pthread_mutex_t lock;		/* guards cur and refs of every map */
	pthread_cond_t changed;		/* a newer epoch was installed */
	struct cfs_map *cur;
	/* the thread following the MDS's map, when there is one */
	struct cfs_rpc_client *cl;
	char mds[256];
	pthread_t thread;
	bool following;
	volatile bool stop;
};

void cfs_map_holder_init(struct cfs_map_holder *h);
/* Stops following and drops the current map. */
void cfs_map_holder_destroy(struct cfs_map_holder *h);
/* Install pb (taking ownership) if its epoch is newer; else free it.
 * Returns true if installed. Its revoked tokens are this process's
 * from then on (cfs_rpc_revoke). */
bool cfs_map_install(struct cfs_map_holder *h, Cfs__ClusterMap *pb);
/* The current map with a reference, or NULL if none yet. */
struct cfs_map *cfs_map_get(struct cfs_map_holder *h);
void cfs_map_put(struct cfs_map_holder *h, struct cfs_map *m);
uint64_t cfs_map_epoch(struct cfs_map_holder *h);
/* Wait until the epoch exceeds `epoch` or timeout_ms passes. */
void cfs_map_wait_newer(struct cfs_map_holder *h, uint64_t epoch,
			int timeout_ms);

/* Ask the MDS for its map and install it. */
int cfs_map_fetch(struct cfs_map_holder *h, struct cfs_rpc_client *cl,
		  const char *mds_addr, int timeout_ms);
/* Start a thread that installs each newer map of the MDS at mds_addr as
 * it comes (a long poll over cl, which must outlive the holder). */
int cfs_map_follow(struct cfs_map_holder *h, struct cfs_rpc_client *cl,
		   const char *mds_addr);

/* Placement. A file's layout code (cfs/layout.h) says how many targets
 * each of its chunks has: rep:N N, ec:K+M K+M, the default the map's
 * replica count. out[] has room for CFS_MAX_TARGETS. */
uint32_t cfs_placement_pg(uint64_t ino, uint64_t index, uint32_t pg_count);
int cfs_placement_width(const Cfs__ClusterMap *m, uint32_t layout);
/* Fill out[] with indexes into m->osds, best first; returns the count
 * (at most width, one per failure domain). */
int cfs_placement_targets(const Cfs__ClusterMap *m, uint32_t pg, int width,
			  int *out);
/* Both steps at once, for a chunk of a file with this layout. */
int cfs_placement_chunk(const Cfs__ClusterMap *m, uint32_t layout,
			uint64_t ino, uint64_t index, int *out);
/* The acting primary of a chunk: the first of its targets that is up.
 * Returns an index into m->osds, or -1 when every target is down. */
int cfs_placement_primary(const Cfs__ClusterMap *m, uint32_t layout,
			  uint64_t ino, uint64_t index);
/* Index into m->osds of the OSD with this id, or -1. */
int cfs_map_osd_index(const Cfs__ClusterMap *m, uint32_t id);
/* How many distinct failure domains the `in` OSDs span. */
int cfs_map_domains(const Cfs__ClusterMap *m);

/* A well-mixed 64-bit hash step (splitmix64 finalizer). */
static inline uint64_t cfs_hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

#endif
