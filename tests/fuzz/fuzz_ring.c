/* libFuzzer: a FUSE request's header from an io_uring ring entry, as
 * cfs-fuse checks it before rebuilding the request (ringreq.h): the
 * input is the header, the payload size the kernel claims, and room. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../clients/fuse/ringreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuse_in_header ih;
	uint32_t psz, max, op;
	size_t oplen;

	if (size < sizeof(ih) + 12)
		return 0;
	memcpy(&ih, data, sizeof(ih));
	memcpy(&psz, data + sizeof(ih), 4);
	memcpy(&max, data + sizeof(ih) + 4, 4);
	memcpy(&op, data + sizeof(ih) + 8, 4);
	if (ring_request_check(&ih, psz, max, op, &oplen) == 0 &&
	    (psz > max || oplen > op ||
	     sizeof(ih) + oplen + psz != ih.len))
		abort();	/* what it let through must add up */
	return 0;
}
