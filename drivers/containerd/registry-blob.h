/* A blob on its way from a registry into containerd's content store, checked as it streams
 * (containerd-api.md §3 b1: "verify size and sha256 of every blob").
 *
 * The HTTP body pushes bytes, ctrd_content_write() pulls them (its source callback): a buffer sits in
 * between, hashing what arrives and pausing the download while containerd is behind. The blob's last
 * byte is held back until all of it has arrived with the right size and sha256, so a corrupted or
 * truncated blob never reaches COMMIT: its ingest is aborted instead and nothing of it stays. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nettle/sha2.h>

#include "common/sha256.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/registry-client.h"

#define REGISTRY_BLOB_MESSAGE_MAX 512

/* ---- the checking buffer (pure: registry-blob.c) ---- */

typedef struct RegistryBlobBuffer {
        char digest[SHA256_HEX_MAX]; /* expected */
        uint64_t size;               /* expected */
        uint64_t received;           /* bytes pushed (and hashed) */
        uint64_t taken;              /* bytes consumed */
        uint8_t *data;               /* pending: data[start, start + len) */
        size_t start, len, cap;
        struct sha256_ctx md; /* the running sha256 */
        bool is_verified;
        bool is_failed; /* a size or digest mismatch was seen: it never verifies */
} RegistryBlobBuffer;

/* Returns 0, or -EINVAL for a digest that is not sha256 or a negative size. Release with
 * registry_blob_buffer_done() (which accepts a zeroed struct). */
int registry_blob_buffer_init(RegistryBlobBuffer *b, const char *digest, int64_t size);
void registry_blob_buffer_done(RegistryBlobBuffer *b);
/* Bytes that arrived. -EBADMSG with a message when they exceed the size, -ENOMEM. */
int registry_blob_buffer_push(RegistryBlobBuffer *b, const void *data, size_t len,
                              char message[static REGISTRY_BLOB_MESSAGE_MAX]);
/* The body ended: -EBADMSG with a message unless exactly size bytes arrived and hash to digest. */
int registry_blob_buffer_finish(RegistryBlobBuffer *b, char message[static REGISTRY_BLOB_MESSAGE_MAX]);
/* Up to max bytes that may be handed on now, at *ret: everything pending except the blob's last byte
 * before a successful finish. Returns how many (0: nothing yet). */
size_t registry_blob_buffer_peek(const RegistryBlobBuffer *b, size_t max, const void **ret);
/* Drops n bytes from the front (n ≤ what peek returned). */
void registry_blob_buffer_consume(RegistryBlobBuffer *b, size_t n);
/* Bytes pushed and not consumed. */
size_t registry_blob_buffer_pending(const RegistryBlobBuffer *b);

/* ---- writing a blob from a registry (ctrd-pull-blob.c) ---- */

typedef struct RegistryBlobWrite RegistryBlobWrite;

typedef struct RegistryBlobWriteOptions {
        GrpcConn *conn;
        uv_loop_t *loop;
        RegistryClient *client; /* for fetching; unused when data is set */
        const char *ns, *lease;
        const char *repository;
        const char *kind; /* "layer", "config", "manifest", "index": the ingest ref is "<kind>-<digest>" */
        CtrdDescriptor desc;
        const CtrdLabel *labels; /* set at COMMIT (or on the existing blob) */
        size_t n_labels;
        /* The blob's bytes when they are in memory already (a manifest, a config: checked by the caller);
         * else they are fetched from /v2/<repository>/blobs/<digest> only if containerd wants them. */
        const void *data;
        ctrd_progress_cb on_progress; /* bytes acknowledged by containerd, with cb's userdata */
} RegistryBlobWriteOptions;

/* cb gets 1 when written, 0 when containerd had it, or a negative errno with a message naming the URL:
 * -EBADMSG for a size or digest that is not the descriptor's, the fetch's errors (registry-client.h),
 * the writer's (ctrd_content_write()). */
typedef void (*registry_blob_write_cb)(int r, const char *message, void *userdata);

/* Starts writing the blob (o is copied except data, which must stay until cb; the client must outlive
 * the write). Returns 0 with the write in
 * *ret (valid until cb runs; may be NULL), or a negative errno (no callback). */
int registry_blob_write(const RegistryBlobWriteOptions *o, registry_blob_write_cb cb, void *userdata,
                        RegistryBlobWrite **ret);
/* Stops it: the download ends, the ingest is aborted, then cb runs with -ECANCELED. */
void registry_blob_write_cancel(RegistryBlobWrite *w);
