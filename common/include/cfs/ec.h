/* Reed-Solomon erasure coding over GF(2^8), through ISA-L: a stripe of K
 * data shards and M parity shards of equal length, any K of which give
 * back the other M.
 *
 * The code is systematic (the data shards are the data) with a Cauchy
 * generator (ISA-L's gf_gen_cauchy1_matrix): parity row i, data column
 * j holds 1 / (i ^ j), i in [K, K+M), and every square submatrix of a
 * Cauchy matrix is invertible, so every choice of K survivors decodes
 * (ISA-L's Vandermonde form does not promise that past small K and M).
 * Changing a stripe is cheaper than coding it again: the parity changes
 * by the code of the data's change alone (cfs_ec_update). */
#ifndef CFS_EC_H
#define CFS_EC_H

#include <stddef.h>
#include <stdint.h>

#define CFS_EC_MAX_K 16
#define CFS_EC_MAX_M 4

struct cfs_ec {
	int k, m;
	uint8_t gen[(CFS_EC_MAX_K + CFS_EC_MAX_M) * CFS_EC_MAX_K];
	uint8_t parity_tbls[32 * CFS_EC_MAX_K * CFS_EC_MAX_M];
};

/* A K+M code: 0, or -EINVAL unless 1 <= k <= CFS_EC_MAX_K and
 * 1 <= m <= CFS_EC_MAX_M. */
int cfs_ec_init(struct cfs_ec *ec, int k, int m);

/* The m parity shards of the k data shards, each len bytes. */
void cfs_ec_encode(const struct cfs_ec *ec, size_t len,
		   const uint8_t *const *data, uint8_t *const *parity);

/* Rebuild the shards named in lost[] (indices in [0, k+m), data shards
 * first) into shards[lost[i]], from the k first others of shards[]
 * (each len bytes; a lost one's buffer is only written). 0, or -EINVAL
 * for more than m lost, an index out of range or named twice. */
int cfs_ec_decode(const struct cfs_ec *ec, size_t len, uint8_t *const *shards,
		  const int *lost, int nlost);

/* Data shard i changed by delta (old XOR new, len bytes): the parity
 * shards changed to match, in place. */
void cfs_ec_update(const struct cfs_ec *ec, size_t len, int i,
		   const uint8_t *delta, uint8_t *const *parity);

#endif
