/* libFuzzer: what one MDS replica takes from another, over the wire and
 * from its Raft log (mds/entry.h): the first byte picks
 *   even: a log entry: parsed, its feed notes counted, its changes
 *         applied to a real store (LMDB, in /dev/shm)
 *   odd:  a snapshot: parsed and loaded into the store (emptied first)
 * each in a write transaction that is then dropped, so the store stays
 * as it was opened. */
#include <stdlib.h>

#include "fuzz.h"
#include "../../mds/entry.h"
#include "../../mds/feed.h"
#include "../../mds/namespace.h"

static struct cfs_ns ns;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (cfs_ns_open(&ns, fuzz_dir("replica"),
			&(struct cfs_ns_opts){ .map_size = 1u << 28 }))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mds_entry e;
	const void *dump;
	uint64_t index;
	size_t len;
	MDB_txn *txn;

	if (size < 1 || cfs_ns_begin(&ns, NULL, true, &txn))
		return 0;
	if (data[0] % 2 == 0) {
		if (mds_entry_parse(data + 1, size - 1, &e) == 0 &&
		    feed_count(e.feed, e.flen) >= 0)
			cfs_ns_apply(&ns, txn, e.changes, e.len);
	} else if (mds_snapshot_parse(data + 1, size - 1, &index, &dump,
				      &len) == 0) {
		cfs_ns_load(&ns, txn, dump, len);
	}
	cfs_ns_abort(txn);
	return 0;
}
