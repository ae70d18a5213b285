/* CRC32C through ISA-L's crc32_iscsi, which takes and returns the CRC
 * register without the final inversion: we apply the standard pre- and
 * post-conditioning here so callers see the textbook value. */
#include <errno.h>
#include <isa-l/crc.h>
#include <string.h>

#include "cfs/crc.h"

uint32_t cfs_crc32c_extend(uint32_t crc, const void *buf, size_t len)
{
	uint32_t reg = ~crc;

	/* crc32_iscsi takes an int length: feed huge buffers in pieces */
	while (len > 0) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;

		reg = crc32_iscsi((unsigned char *)buf, n, reg);
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return ~reg;
}

uint32_t cfs_crc32c(const void *buf, size_t len)
{
	return cfs_crc32c_extend(0, buf, len);
}

uint32_t cfs_crc32c_zero_block(void)
{
	static const unsigned char zeros[CFS_BLOCK_SIZE];

	return cfs_crc32c(zeros, sizeof(zeros));
}

size_t cfs_crc_npieces(uint64_t off, uint64_t len)
{
	if (len == 0)
		return 0;
	return (size_t)((off + len - 1) / CFS_BLOCK_SIZE - off / CFS_BLOCK_SIZE +
			1);
}

/* The pieces' CRCs into out, or (out NULL) checked against want: the
 * count, or -EBADMSG at the first mismatch. */
static long pieces(uint64_t off, const void *data, uint64_t len,
		   uint32_t *out, const uint32_t *want)
{
	uint64_t pos = off, end = off + len;
	long n = 0;

	while (pos < end) {
		uint64_t next = (pos / CFS_BLOCK_SIZE + 1) * CFS_BLOCK_SIZE;
		size_t plen = (size_t)((next < end ? next : end) - pos);
		uint32_t crc = cfs_crc32c((const char *)data + (pos - off),
					  plen);

		if (out)
			out[n] = crc;
		else if (want[n] != crc)
			return -EBADMSG;
		n++;
		pos += plen;
	}
	return n;
}

size_t cfs_crc_pieces(uint64_t off, const void *data, uint64_t len,
		      uint32_t *out)
{
	return (size_t)pieces(off, data, len, out, NULL);
}

int cfs_crc_pieces_check(uint64_t off, const void *data, uint64_t len,
			 const uint32_t *want)
{
	return pieces(off, data, len, NULL, want) < 0 ? -EBADMSG : 0;
}

/* Any alignment: a block in a reply's bulk tail may sit anywhere. */
static int block_is_zero(const void *block)
{
	const uint8_t *b = block;

	return b[0] == 0 && memcmp(b, b + 1, CFS_BLOCK_SIZE - 1) == 0;
}

int cfs_crc_check_block(const void *block, uint32_t stored)
{
	if (cfs_crc32c(block, CFS_BLOCK_SIZE) == stored)
		return 0;
	if (stored == 0 && block_is_zero(block))
		return 0;
	return -EBADMSG;
}
