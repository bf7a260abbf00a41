/* The checking buffer between a blob's download and its Content.Write (see registry-blob.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "drivers/containerd/registry-blob.h"

int registry_blob_buffer_init(RegistryBlobBuffer *b, const char *digest, int64_t size)
{
        *b = (RegistryBlobBuffer){0};
        if (!oci_digest_is_valid(digest) || size < 0)
                return -EINVAL;
        memcpy(b->digest, digest, SHA256_HEX_MAX);
        b->size = (uint64_t)size;
        sha256_init(&b->md);
        return 0;
}

void registry_blob_buffer_done(RegistryBlobBuffer *b)
{
        free(b->data);
        *b = (RegistryBlobBuffer){0};
}

/* Room for len more bytes at the end: compacts first, grows when that is not enough. */
static int buffer_reserve(RegistryBlobBuffer *b, size_t len)
{
        if (b->start > 0 && b->start + b->len + len > b->cap) {
                memmove(b->data, b->data + b->start, b->len);
                b->start = 0;
        }
        if (b->len + len <= b->cap)
                return 0;
        size_t cap = b->cap ? b->cap : 64 << 10;
        while (cap < b->len + len)
                cap *= 2;
        uint8_t *data = realloc(b->data, cap);
        if (!data)
                return -ENOMEM;
        b->data = data;
        b->cap = cap;
        return 0;
}

int registry_blob_buffer_push(RegistryBlobBuffer *b, const void *data, size_t len,
                              char message[static REGISTRY_BLOB_MESSAGE_MAX])
{
        if (b->is_failed || b->is_verified || len > b->size - b->received) {
                snprintf(message, REGISTRY_BLOB_MESSAGE_MAX,
                         "size mismatch: more than the %" PRIu64 " bytes the descriptor says", b->size);
                b->is_failed = true;
                return -EBADMSG;
        }
        if (len == 0)
                return 0;
        int r = buffer_reserve(b, len);
        if (r < 0) {
                snprintf(message, REGISTRY_BLOB_MESSAGE_MAX, "out of memory");
                return r;
        }
        sha256_update(&b->md, len, data);
        memcpy(b->data + b->start + b->len, data, len);
        b->len += len;
        b->received += len;
        return 0;
}

int registry_blob_buffer_finish(RegistryBlobBuffer *b, char message[static REGISTRY_BLOB_MESSAGE_MAX])
{
        if (b->is_verified)
                return 0;
        if (b->is_failed) {
                snprintf(message, REGISTRY_BLOB_MESSAGE_MAX, "the blob failed its check already");
                return -EBADMSG;
        }
        if (b->received != b->size) {
                snprintf(message, REGISTRY_BLOB_MESSAGE_MAX,
                         "size mismatch: %" PRIu64 " bytes arrived, the descriptor says %" PRIu64,
                         b->received, b->size);
                b->is_failed = true;
                return -EBADMSG;
        }
        static const char hex[] = "0123456789abcdef";
        unsigned char md[SHA256_DIGEST_SIZE];
        sha256_digest(&b->md, sizeof(md), md);
        char got[SHA256_HEX_MAX] = "sha256:";
        for (unsigned i = 0; i < 32; i++) {
                got[7 + 2 * i] = hex[md[i] >> 4];
                got[8 + 2 * i] = hex[md[i] & 0xf];
        }
        got[SHA256_HEX_MAX - 1] = '\0';
        if (!streq(got, b->digest)) {
                snprintf(message, REGISTRY_BLOB_MESSAGE_MAX, "digest mismatch: the content hashes to %s",
                         got);
                b->is_failed = true; /* sha256_digest() reset the context: it can never verify now */
                return -EBADMSG;
        }
        b->is_verified = true;
        return 0;
}

size_t registry_blob_buffer_peek(const RegistryBlobBuffer *b, size_t max, const void **ret)
{
        size_t n = b->is_failed ? 0 : b->len;
        /* Hold the last byte of the blob back until it is verified. */
        if (!b->is_verified && n > 0 && b->taken + n == b->size)
                n--;
        if (n > max)
                n = max;
        *ret = b->data ? b->data + b->start : NULL;
        return n;
}

void registry_blob_buffer_consume(RegistryBlobBuffer *b, size_t n)
{
        if (n > b->len)
                n = b->len;
        b->start += n;
        b->len -= n;
        b->taken += n;
        if (b->len == 0)
                b->start = 0;
}

size_t registry_blob_buffer_pending(const RegistryBlobBuffer *b)
{
        return b->len;
}
