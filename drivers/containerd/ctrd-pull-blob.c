/* Writing one blob of a pull into containerd (see registry-blob.h): ctrd_content_write() asks for the
 * bytes; the first ask starts the download (none when containerd has the blob), whose bytes go through
 * the checking buffer. The download pauses while HIGH_WATER bytes wait and resumes below LOW_WATER. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/registry-blob.h"
#include "drivers/containerd/registry-proto.h"

#define HIGH_WATER (8u << 20)
#define LOW_WATER  (2u << 20)

struct RegistryBlobWrite {
        RegistryBlobWriteOptions o; /* its strings are not used: the copies below are */
        char *ns, *lease, *repository, *kind;
        char digest[SHA256_HEX_MAX];
        registry_blob_write_cb cb;
        void *userdata;

        CtrdContentWriter *writer;
        RegistryFetch *fetch;
        RegistryBlobBuffer buf;
        bool is_asked; /* the writer waits for bytes */
        size_t ask_max;
        bool is_paused; /* the download is paused */
        bool is_fetch_done;
        int error; /* ours (the download's), reported instead of the writer's -ECANCELED */
        char message[REGISTRY_FETCH_MESSAGE_MAX];
};

static void blob_free(RegistryBlobWrite *w)
{
        registry_fetch_cancel(w->fetch);
        registry_blob_buffer_done(&w->buf);
        free(w->ns);
        free(w->lease);
        free(w->repository);
        free(w->kind);
        free(w);
}

/* The download failed or the blob is bad: make the writer stop (it aborts its ingest) and remember why. */
static void blob_fail(RegistryBlobWrite *w, int r, const char *message)
{
        if (w->error < 0)
                return;
        w->error = r;
        snprintf(w->message, sizeof(w->message), "%s", message);
        registry_fetch_cancel(w->fetch);
        w->fetch = NULL;
        if (!w->writer)
                return;
        if (w->is_asked) {
                w->is_asked = false;
                ctrd_content_writer_fail(w->writer, r, w->message);
        } else
                ctrd_content_writer_cancel(w->writer);
}

static _printf_(3, 4) void blob_failf(RegistryBlobWrite *w, int r, const char *fmt, ...)
{
        char message[REGISTRY_FETCH_MESSAGE_MAX];
        int n = snprintf(message, sizeof(message), "%s %s: ", w->kind, w->digest);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof(message))
                vsnprintf(message + n, sizeof(message) - (size_t)n, fmt, ap);
        va_end(ap);
        blob_fail(w, r, message);
}

/* Hands what may go to the writer, if it asks; resumes a paused download once the buffer has drained. */
static void blob_supply(RegistryBlobWrite *w)
{
        if (w->is_asked && w->writer) {
                const void *p;
                size_t n = registry_blob_buffer_peek(&w->buf, w->ask_max, &p);
                if (n > 0) {
                        w->is_asked = false;
                        int r = ctrd_content_writer_supply(w->writer, p, n);
                        if (r < 0) {
                                blob_failf(w, r, "cannot hand bytes to the writer");
                                return;
                        }
                        registry_blob_buffer_consume(&w->buf, n);
                }
        }
        if (w->is_paused && w->fetch && registry_blob_buffer_pending(&w->buf) < LOW_WATER) {
                w->is_paused = false;
                registry_fetch_resume(w->fetch);
        }
}

/* ---- the download ---- */

/* The blob's URL on the registry, for messages (not where a redirect led: that may carry a signature). */
static char *blob_url(const RegistryBlobWrite *w)
{
        char path[16 + SHA256_HEX_MAX];
        snprintf(path, sizeof(path), "blobs/%s", w->digest);
        return registry_client_url(w->o.client, w->repository, path);
}

static int on_fetch_response(const RegistryHttpResponse *resp, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        _cleanup_free_ char *url = blob_url(w);
        if (resp->content_length >= 0 && (uint64_t)resp->content_length != w->buf.size) {
                blob_failf(w, -EBADMSG,
                           "GET %s: size mismatch: Content-Length %" PRId64 ", the descriptor says %" PRIu64,
                           strempty(url), resp->content_length, w->buf.size);
                return -EBADMSG;
        }
        if (resp->docker_digest && *resp->docker_digest && !streq(resp->docker_digest, w->digest)) {
                blob_failf(w, -EBADMSG, "GET %s: the registry says Docker-Content-Digest %s", strempty(url),
                           resp->docker_digest);
                return -EBADMSG;
        }
        return 0;
}

static int on_fetch_data(const void *data, size_t len, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        if (registry_blob_buffer_pending(&w->buf) >= HIGH_WATER) {
                w->is_paused = true;
                return REGISTRY_HTTP_PAUSE;
        }
        char message[REGISTRY_BLOB_MESSAGE_MAX];
        int r = registry_blob_buffer_push(&w->buf, data, len, message);
        if (r < 0) {
                _cleanup_free_ char *url = blob_url(w);
                blob_failf(w, r, "GET %s: %s", strempty(url), message);
                return r;
        }
        blob_supply(w);
        return 0;
}

static void on_fetch_done(int r, const char *message, const RegistryHttpResponse *resp, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        w->fetch = NULL;
        w->is_fetch_done = true;
        if (r < 0) {
                if (w->error >= 0) /* else a callback of ours ended it and said why */
                        blob_failf(w, r, "%s", message);
                return;
        }
        char msg[REGISTRY_BLOB_MESSAGE_MAX];
        r = registry_blob_buffer_finish(&w->buf, msg);
        if (r < 0) {
                _cleanup_free_ char *url = blob_url(w);
                blob_failf(w, r, "GET %s: %s", strempty(url), msg);
                return;
        }
        blob_supply(w); /* the held-back last byte */
}

static int blob_fetch_start(RegistryBlobWrite *w)
{
        char path[16 + SHA256_HEX_MAX];
        snprintf(path, sizeof(path), "blobs/%s", w->digest);
        const RegistryFetchOptions o = {.repository = w->repository,
                                        .path = path,
                                        .has_no_deadline = true,
                                        .on_response = on_fetch_response,
                                        .on_data = on_fetch_data,
                                        .on_done = on_fetch_done,
                                        .userdata = w};
        return registry_fetch_start(w->o.client, &o, &w->fetch);
}

/* ---- the writer ---- */

static void on_source(CtrdContentWriter *writer, uint64_t offset, size_t max, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        w->writer = writer;
        if (w->o.data) { /* in memory: any offset */
                uint64_t left = (uint64_t)w->o.desc.size - offset;
                (void)ctrd_content_writer_supply(writer, (const uint8_t *)w->o.data + offset,
                                                 left < max ? (size_t)left : max);
                return;
        }
        if (w->error < 0) { /* failed while the writer was busy; it normally does not ask again */
                ctrd_content_writer_fail(writer, w->error, w->message);
                return;
        }
        w->is_asked = true;
        w->ask_max = max;
        if (offset != w->buf.taken) { /* not seekable: the writer starts at 0 and goes on in order */
                blob_failf(w, -EIO, "the writer asked for offset %" PRIu64 ", %" PRIu64 " bytes were handed",
                           offset, w->buf.taken);
                return;
        }
        if (!w->fetch && !w->is_fetch_done) {
                int r = blob_fetch_start(w);
                if (r < 0) {
                        blob_failf(w, r, "cannot start the download: %s", strerror(-r));
                        return;
                }
        }
        blob_supply(w);
}

static void on_write_progress(uint64_t done, uint64_t total, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        if (w->o.on_progress)
                w->o.on_progress(done, total, w->userdata);
}

static void on_written(int r, const char *message, void *userdata)
{
        RegistryBlobWrite *w = userdata;
        registry_blob_write_cb cb = w->cb;
        void *ud = w->userdata;
        char msg[REGISTRY_FETCH_MESSAGE_MAX];
        if (w->error < 0 && r < 0) {
                r = w->error;
                message = w->message;
        }
        snprintf(msg, sizeof(msg), "%s", message);
        w->writer = NULL;
        blob_free(w);
        cb(r, msg, ud);
}

int registry_blob_write(const RegistryBlobWriteOptions *o, registry_blob_write_cb cb, void *userdata,
                        RegistryBlobWrite **ret)
{
        if (!o || !cb || !o->conn || !o->loop || !o->kind || !o->desc.digest || (!o->data && !o->client) ||
            (!o->data && !o->repository))
                return -EINVAL;
        RegistryBlobWrite *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (RegistryBlobWrite){.o = *o, .cb = cb, .userdata = userdata};
        int r = registry_blob_buffer_init(&w->buf, o->desc.digest, o->desc.size);
        if (r >= 0) {
                memcpy(w->digest, o->desc.digest, SHA256_HEX_MAX);
                w->ns = o->ns ? strdup(o->ns) : NULL;
                w->lease = o->lease ? strdup(o->lease) : NULL;
                w->repository = o->repository ? strdup(o->repository) : NULL;
                w->kind = strdup(o->kind);
                if ((o->ns && !w->ns) || (o->lease && !w->lease) || (o->repository && !w->repository) ||
                    !w->kind)
                        r = -ENOMEM;
        }
        char ref[32 + SHA256_HEX_MAX];
        snprintf(ref, sizeof(ref), "%s-%s", o->kind, o->desc.digest);
        const CtrdContentWrite cw = {.ns = w->ns,
                                     .lease = w->lease,
                                     .ref = ref,
                                     .digest = w->digest,
                                     .size = o->desc.size,
                                     .labels = o->labels,
                                     .n_labels = o->n_labels,
                                     .fd = -1,
                                     .source = on_source,
                                     .is_seekable = o->data != NULL,
                                     .on_progress = on_write_progress};
        if (r >= 0)
                r = ctrd_content_write(o->conn, o->loop, &cw, on_written, w, &w->writer);
        if (r < 0) {
                blob_free(w);
                return r;
        }
        if (ret)
                *ret = w;
        return 0;
}

void registry_blob_write_cancel(RegistryBlobWrite *w)
{
        if (w)
                blob_fail(w, -ECANCELED, "cancelled");
}
