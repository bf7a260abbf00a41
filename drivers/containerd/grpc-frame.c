/* gRPC message framing: see grpc-frame.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/containerd/grpc-frame.h"

void grpc_decoder_init(GrpcDecoder *d, size_t max_message)
{
        *d = (GrpcDecoder){.max_message = max_message ? max_message : GRPC_DEFAULT_MAX_MESSAGE};
}

void grpc_decoder_done(GrpcDecoder *d)
{
        free(d->buf);
        grpc_decoder_init(d, d->max_message);
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the prefix at the read offset, if it is complete. */
static int check_prefix(const GrpcDecoder *d)
{
        if (d->len - d->off < GRPC_FRAME_PREFIX_SIZE)
                return 0;
        const uint8_t *p = d->buf + d->off;
        if (p[0] != 0)
                return -EPROTO;
        if (be32(p + 1) > d->max_message)
                return -EMSGSIZE;
        return 0;
}

int grpc_decoder_feed(GrpcDecoder *d, const void *data, size_t len)
{
        if (len == 0)
                return 0;
        /* Move the unread tail to the front so the buffer never grows past one message plus a frame. */
        if (d->off > 0) {
                memmove(d->buf, d->buf + d->off, d->len - d->off);
                d->len -= d->off;
                d->off = 0;
        }
        if (len > SIZE_MAX - d->len)
                return -ENOMEM;
        if (d->len + len > d->cap) {
                size_t cap = d->cap ? d->cap : 4096;
                while (cap < d->len + len)
                        cap = cap > SIZE_MAX / 2 ? d->len + len : cap * 2;
                uint8_t *p = realloc(d->buf, cap);
                if (!p)
                        return -ENOMEM;
                d->buf = p;
                d->cap = cap;
        }
        memcpy(d->buf + d->len, data, len);
        d->len += len;
        /* Reject an oversize message as soon as its prefix is here rather than after buffering it. */
        return check_prefix(d);
}

int grpc_decoder_next(GrpcDecoder *d, const uint8_t **ret_data, size_t *ret_len)
{
        int r = check_prefix(d);
        if (r < 0)
                return r;
        size_t avail = d->len - d->off;
        if (avail < GRPC_FRAME_PREFIX_SIZE)
                return 0;
        size_t n = be32(d->buf + d->off + 1);
        if (avail - GRPC_FRAME_PREFIX_SIZE < n)
                return 0;
        *ret_data = d->buf + d->off + GRPC_FRAME_PREFIX_SIZE;
        *ret_len = n;
        d->off += GRPC_FRAME_PREFIX_SIZE + n;
        if (d->off == d->len)
                d->off = d->len = 0; /* the memory stays put: *ret_data remains valid */
        return 1;
}

bool grpc_decoder_has_partial(const GrpcDecoder *d)
{
        return d->len > d->off;
}

void grpc_frame_prefix(uint8_t out[static GRPC_FRAME_PREFIX_SIZE], uint32_t len)
{
        out[0] = 0;
        out[1] = (uint8_t)(len >> 24);
        out[2] = (uint8_t)(len >> 16);
        out[3] = (uint8_t)(len >> 8);
        out[4] = (uint8_t)len;
}
