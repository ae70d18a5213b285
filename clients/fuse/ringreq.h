/* A FUSE request taken from an io_uring ring entry (uring.c): the kernel
 * writes the fuse_in_header and the opcode's own struct in the entry's
 * header area and the payload (a write's bytes, a name) in its buffer.
 * What the header claims is checked against what the entry holds before
 * the request is rebuilt in one piece for libfuse. Apart from the ring,
 * so that the fuzzer (tests/fuzz/fuzz_ring.c) can feed it. */
#ifndef CFS_FUSE_RINGREQ_H
#define CFS_FUSE_RINGREQ_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

/* 0 with *oplen the opcode struct's length, or -EBADMSG when ih->len
 * does not add up with payload_sz (the payload the kernel says it put in
 * the buffer), payload_max (the buffer's size) and op_max (room for the
 * opcode struct). */
int ring_request_check(const struct fuse_in_header *ih, uint32_t payload_sz,
		       size_t payload_max, size_t op_max, size_t *oplen);

#endif
