/* Reed-Solomon erasure coding through ISA-L; see include/cfs/ec.h. */
#include <errno.h>
#include <isa-l/erasure_code.h>
#include <stdbool.h>
#include <string.h>

#include "cfs/ec.h"

int cfs_ec_init(struct cfs_ec *ec, int k, int m)
{
	if (k < 1 || k > CFS_EC_MAX_K || m < 1 || m > CFS_EC_MAX_M)
		return -EINVAL;
	memset(ec, 0, sizeof(*ec));
	ec->k = k;
	ec->m = m;
	gf_gen_cauchy1_matrix(ec->gen, k + m, k);
	ec_init_tables(k, m, ec->gen + k * k, ec->parity_tbls);
	return 0;
}

/* ISA-L picks its vector code by the CPU, and its plain one itself for
 * shards too short for it. */
void cfs_ec_encode(const struct cfs_ec *ec, size_t len,
		   const uint8_t *const *data, uint8_t *const *parity)
{
	ec_encode_data((int)len, ec->k, ec->m,
		       (unsigned char *)ec->parity_tbls,
		       (unsigned char **)data, (unsigned char **)parity);
}

int cfs_ec_decode(const struct cfs_ec *ec, size_t len, uint8_t *const *shards,
		  const int *lost, int nlost)
{
	const int k = ec->k, n = ec->k + ec->m;
	uint8_t sub[CFS_EC_MAX_K * CFS_EC_MAX_K], inv[CFS_EC_MAX_K * CFS_EC_MAX_K];
	uint8_t coef[CFS_EC_MAX_M * CFS_EC_MAX_K];
	uint8_t tbls[32 * CFS_EC_MAX_K * CFS_EC_MAX_M];
	const uint8_t *in[CFS_EC_MAX_K];
	uint8_t *out[CFS_EC_MAX_M];
	bool gone[CFS_EC_MAX_K + CFS_EC_MAX_M] = { false };
	int nin = 0;

	if (nlost < 0 || nlost > ec->m)
		return -EINVAL;
	for (int i = 0; i < nlost; i++) {
		if (lost[i] < 0 || lost[i] >= n || gone[lost[i]])
			return -EINVAL;
		gone[lost[i]] = true;
	}
	if (nlost == 0)
		return 0;
	/* the first k survivors, and the generator's rows for them */
	for (int r = 0; r < n && nin < k; r++) {
		if (gone[r])
			continue;
		in[nin] = shards[r];
		memcpy(sub + nin * k, ec->gen + r * k, (size_t)k);
		nin++;
	}
	if (gf_invert_matrix(sub, inv, k))
		return -EINVAL;	/* cannot happen with a Cauchy generator */
	/* data shard d = row d of the inverse applied to the survivors; a
	 * parity shard p = its generator row times the inverse */
	for (int i = 0; i < nlost; i++) {
		int r = lost[i];

		if (r < k) {
			memcpy(coef + i * k, inv + r * k, (size_t)k);
		} else {
			for (int j = 0; j < k; j++) {
				uint8_t s = 0;

				for (int t = 0; t < k; t++)
					s ^= gf_mul(ec->gen[r * k + t],
						    inv[t * k + j]);
				coef[i * k + j] = s;
			}
		}
		out[i] = shards[r];
	}
	ec_init_tables(k, nlost, coef, tbls);
	ec_encode_data((int)len, k, nlost, tbls, (unsigned char **)in, out);
	return 0;
}

void cfs_ec_update(const struct cfs_ec *ec, size_t len, int i,
		   const uint8_t *delta, uint8_t *const *parity)
{
	ec_encode_data_update((int)len, ec->k, ec->m, i,
			      (unsigned char *)ec->parity_tbls,
			      (unsigned char *)delta, (unsigned char **)parity);
}
