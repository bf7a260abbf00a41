/* gRPC message framing (a pure module: no I/O, no libuv, no nghttp2).
 *
 * Every gRPC message on a stream is a 5-byte prefix (compressed flag, big-endian uint32 length) followed by
 * the protobuf bytes. HTTP/2 DATA frames cut that byte stream anywhere: one message may span several
 * frames and one frame may carry several messages, so the receiving side accumulates bytes per stream and
 * takes whole messages out of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRPC_FRAME_PREFIX_SIZE 5

/* containerd's (grpc-go's) default limit for one message in either direction. */
#define GRPC_DEFAULT_MAX_MESSAGE (16u * 1024u * 1024u)

/* The incoming byte stream of one call. Plain data: embed it and call grpc_decoder_init(). */
typedef struct GrpcDecoder {
        uint8_t *buf;
        size_t len; /* bytes held, counted from buf */
        size_t off; /* start of the first message not yet taken out */
        size_t cap;
        size_t max_message;
} GrpcDecoder;

/* max_message 0 means GRPC_DEFAULT_MAX_MESSAGE. */
void grpc_decoder_init(GrpcDecoder *d, size_t max_message);
void grpc_decoder_done(GrpcDecoder *d);

/* Appends received bytes. Returns 0, -ENOMEM, or -EMSGSIZE / -EPROTO when the next message's prefix
 * announces more than max_message bytes or a compressed message (we never negotiate compression). The
 * decoder is unusable after an error. */
int grpc_decoder_feed(GrpcDecoder *d, const void *data, size_t len);

/* Takes the next whole message out. Returns 1 and sets *ret_data and *ret_len (valid until the next call on
 * the decoder), 0 when no whole message is buffered, or -EMSGSIZE / -EPROTO for a bad prefix. */
int grpc_decoder_next(GrpcDecoder *d, const uint8_t **ret_data, size_t *ret_len);

/* Whether bytes of an incomplete message are buffered (a stream ending now was cut off). */
bool grpc_decoder_has_partial(const GrpcDecoder *d);

/* Writes the prefix of an uncompressed message of len bytes. */
void grpc_frame_prefix(uint8_t out[static GRPC_FRAME_PREFIX_SIZE], uint32_t len);
