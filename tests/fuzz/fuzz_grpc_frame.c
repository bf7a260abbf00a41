/* drivers/containerd/grpc-frame.c: gRPC's length-prefixed messages out of a byte stream that HTTP/2 DATA
 * frames cut anywhere.
 *
 * Input: a byte choosing the message size limit (0: the default), a byte seeding how the rest is cut into
 * chunks and when the caller drains messages (grpc-session.c feeds several frames before
 * grpc_call_deliver() runs), then the stream.
 *
 * Invariant: the decoder agrees with a straight walk over the whole stream: the same messages, byte for
 * byte, then the same end: clean, cut inside a message (has_partial), or -EPROTO / -EMSGSIZE at the same
 * prefix and nothing after it. */
#include <errno.h>

#include "drivers/containerd/grpc-frame.h"
#include "tests/fuzz/fuzz.h"

typedef struct Walk {
        const uint8_t *s;
        size_t len;
        size_t pos; /* the next message's prefix */
        size_t max_message;
} Walk;

/* The next message of the stream: 1 with its payload, 0 at the end (clean or cut), or the error. */
static int walk_next(Walk *w, const uint8_t **ret, size_t *ret_len)
{
        if (w->len - w->pos < GRPC_FRAME_PREFIX_SIZE)
                return 0;
        const uint8_t *p = w->s + w->pos;
        size_t n = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        if (p[0] != 0)
                return -EPROTO;
        if (n > w->max_message)
                return -EMSGSIZE;
        if (w->len - w->pos - GRPC_FRAME_PREFIX_SIZE < n)
                return 0;
        *ret = p + GRPC_FRAME_PREFIX_SIZE;
        *ret_len = n;
        w->pos += GRPC_FRAME_PREFIX_SIZE + n;
        return 1;
}

static uint32_t xorshift(uint32_t *x)
{
        *x ^= *x << 13;
        *x ^= *x >> 17;
        *x ^= *x << 5;
        return *x;
}

/* Takes every whole message out of d and checks it against the walk. Returns the decoder's error, or 0. */
static int drain(GrpcDecoder *d, Walk *w)
{
        for (;;) {
                const uint8_t *got, *want;
                size_t got_len, want_len;
                int r = grpc_decoder_next(d, &got, &got_len);
                if (r < 0) {
                        int k = walk_next(w, &want, &want_len);
                        FUZZ_CHECK(k == r, "the decoder fails with %d at offset %zu, the walk gives %d", r,
                                   w->pos, k);
                        return r;
                }
                if (r == 0)
                        return 0;
                int k = walk_next(w, &want, &want_len);
                FUZZ_CHECK(k == 1, "the decoder found a message at offset %zu, the walk %d", w->pos, k);
                FUZZ_CHECK(got_len == want_len && memcmp(got, want, got_len) == 0,
                           "message of %zu bytes, the walk's %zu bytes", got_len, want_len);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        Walk w = {.s = data + 2, .len = size - 2, .max_message = data[0] ? (size_t)data[0] * 16 : 0};
        uint32_t x = 0x9e3779b9u ^ data[1];
        GrpcDecoder d;
        grpc_decoder_init(&d, w.max_message);
        w.max_message = d.max_message;

        int r = 0;
        for (size_t off = 0; off < w.len && r == 0;) {
                uint32_t rnd = xorshift(&x);
                size_t chunk = (rnd & 0x100) ? 1 + rnd % 7 : 1 + rnd % 97;
                if (chunk > w.len - off)
                        chunk = w.len - off;
                r = grpc_decoder_feed(&d, w.s + off, chunk);
                off += chunk;
                if (r < 0) {
                        /* Feeding checks the prefix of the first message not taken out: the walk's next. */
                        const uint8_t *m;
                        size_t n;
                        int k = walk_next(&w, &m, &n);
                        FUZZ_CHECK(k == r, "feed fails with %d, the walk gives %d at offset %zu", r, k,
                                   w.pos);
                        FUZZ_CHECK(r == -EPROTO || r == -EMSGSIZE, "feed fails with %d", r);
                        break;
                }
                if (rnd & 0x200)
                        r = drain(&d, &w);
        }
        if (r == 0)
                r = drain(&d, &w);
        if (r == 0) {
                const uint8_t *m;
                size_t n;
                FUZZ_CHECK(walk_next(&w, &m, &n) == 0, "the walk has a message the decoder did not give");
                FUZZ_CHECK(grpc_decoder_has_partial(&d) == (w.pos < w.len),
                           "partial %d, the walk stopped at %zu of %zu", grpc_decoder_has_partial(&d), w.pos,
                           w.len);
        }
        grpc_decoder_done(&d);
        return 0;
}
