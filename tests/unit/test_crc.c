/* CRC32C: the standard vectors, incremental use, and the block rules the
 * OSD and client rely on (holes, corruption). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cfs/crc.h"

#include "check_main.h"

START_TEST(test_crc32c_matches_standard_check_value)
{
	ck_assert_uint_eq(cfs_crc32c("123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(cfs_crc32c("", 0), 0);
}
END_TEST

START_TEST(test_crc32c_of_32_zero_bytes_matches_rfc3720)
{
	unsigned char zeros[32] = { 0 }, ones[32];

	memset(ones, 0xff, sizeof(ones));
	ck_assert_uint_eq(cfs_crc32c(zeros, 32), 0x8a9136aau);
	ck_assert_uint_eq(cfs_crc32c(ones, 32), 0x62a8ab43u);
}
END_TEST

START_TEST(test_crc32c_extend_equals_whole)
{
	char buf[10000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	for (size_t cut = 0; cut <= sizeof(buf); cut += 997)
		ck_assert_uint_eq(
			cfs_crc32c_extend(cfs_crc32c(buf, cut), buf + cut,
					  sizeof(buf) - cut),
			cfs_crc32c(buf, sizeof(buf)));
}
END_TEST

START_TEST(test_block_check_accepts_good_and_hole_rejects_flip)
{
	char *b = calloc(1, CFS_BLOCK_SIZE);
	uint32_t crc;

	ck_assert_int_eq(cfs_crc_check_block(b, 0), 0);	/* never written */
	ck_assert_int_eq(cfs_crc_check_block(b, cfs_crc32c_zero_block()), 0);
	memset(b, 0xab, CFS_BLOCK_SIZE);
	crc = cfs_crc32c(b, CFS_BLOCK_SIZE);
	ck_assert_int_eq(cfs_crc_check_block(b, crc), 0);
	b[1234] ^= 1;
	ck_assert_int_eq(cfs_crc_check_block(b, crc), -EBADMSG);
	ck_assert_int_eq(cfs_crc_check_block(b, 0), -EBADMSG);
	free(b);
}
END_TEST

/* [100, 9000) of a chunk is cut at 4096 and 8192: three pieces, each
 * with its own CRC; one flipped byte fails the check. */
START_TEST(test_pieces_cut_at_block_boundaries_and_check)
{
	static char data[8900];
	uint32_t crcs[4];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	ck_assert_uint_eq(cfs_crc_npieces(100, sizeof(data)), 3);
	ck_assert_uint_eq(cfs_crc_npieces(4096, 4096), 1);
	ck_assert_uint_eq(cfs_crc_npieces(5, 0), 0);
	ck_assert_uint_eq(cfs_crc_pieces(100, data, sizeof(data), crcs), 3);
	ck_assert_uint_eq(crcs[0], cfs_crc32c(data, 3996));
	ck_assert_uint_eq(crcs[1], cfs_crc32c(data + 3996, 4096));
	ck_assert_uint_eq(crcs[2], cfs_crc32c(data + 8092, 808));
	ck_assert_int_eq(cfs_crc_pieces_check(100, data, sizeof(data), crcs),
			 0);
	data[5000] ^= 1;
	ck_assert_int_eq(cfs_crc_pieces_check(100, data, sizeof(data), crcs),
			 -EBADMSG);
}
END_TEST

int main(void)
{
	CFS_RUN_SUITE("crc", NULL, NULL,
		      test_crc32c_matches_standard_check_value,
		      test_crc32c_of_32_zero_bytes_matches_rfc3720,
		      test_crc32c_extend_equals_whole,
		      test_block_check_accepts_good_and_hole_rejects_flip,
		      test_pieces_cut_at_block_boundaries_and_check);
}
