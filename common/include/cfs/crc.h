/* CRC32C (Castagnoli), computed by ISA-L. Data is checked per 4 KiB block
 * end to end: the writer computes, the OSD verifies and stores, the reader
 * verifies again. */
#ifndef CFS_CRC_H
#define CFS_CRC_H

#include <stddef.h>
#include <stdint.h>

#define CFS_BLOCK_SIZE 4096u

/* The standard CRC32C of len bytes ("123456789" gives 0xe3069283). */
uint32_t cfs_crc32c(const void *buf, size_t len);

/* Continue a CRC32C over more bytes: cfs_crc32c_extend(cfs_crc32c(a), b)
 * equals the CRC32C of a followed by b. */
uint32_t cfs_crc32c_extend(uint32_t crc, const void *buf, size_t len);

/* The CRC32C of a whole block of zeros: what a hole reads as. */
uint32_t cfs_crc32c_zero_block(void);

/* Writes carry a CRC32C per piece: the bytes [off, off+len) of a chunk
 * cut at its 4 KiB block boundaries. cfs_crc_npieces counts them;
 * cfs_crc_pieces writes their CRCs to out and returns how many;
 * cfs_crc_pieces_check compares them with want[] (0 or -EBADMSG). */
size_t cfs_crc_npieces(uint64_t off, uint64_t len);
size_t cfs_crc_pieces(uint64_t off, const void *data, uint64_t len,
		      uint32_t *out);
int cfs_crc_pieces_check(uint64_t off, const void *data, uint64_t len,
			 const uint32_t *want);

/* Check that a 4 KiB block matches its stored CRC. A stored 0 with an
 * all-zero block is a hole never written and is valid. Returns 0 or
 * -EBADMSG. */
int cfs_crc_check_block(const void *block, uint32_t stored);

#endif
