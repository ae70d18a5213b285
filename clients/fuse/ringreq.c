/* See ringreq.h. */
#include <errno.h>

#include "ringreq.h"

int ring_request_check(const struct fuse_in_header *ih, uint32_t payload_sz,
		       size_t payload_max, size_t op_max, size_t *oplen)
{
	if (payload_sz > payload_max || ih->len < sizeof(*ih) ||
	    ih->len - sizeof(*ih) < payload_sz ||
	    ih->len - sizeof(*ih) - payload_sz > op_max)
		return -EBADMSG;
	*oplen = ih->len - sizeof(*ih) - payload_sz;
	return 0;
}
