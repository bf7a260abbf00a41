/* Writing one blob over the Content.Write bidirectional stream (containerd-api.md §3 b2), lock-step: one
 * request, one response.
 *
 *   STAT{ref, total, expected} → offset    ALREADY_EXISTS: the blob is there, set its labels, done
 *   WRITE{offset, data ≤ 1 MiB} → offset   repeated from the STAT offset (== total: nothing to send)
 *   COMMIT{total, offset, expected, labels}, half-close → trailers OK
 *
 * The data comes from a file read with uv_fs_read (the libuv threadpool, never the loop thread) or from
 * a source callback. A write that fails after STAT aborts its ingest before reporting, so no ref stays
 * behind; a cancelled or failed write half-closes the stream and waits for it to end first, so the abort
 * never races the server's own writer. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-internal.h"

#include "github.com/containerd/containerd/api/services/content/v1/content.pb-c.h"

#define CHUNK_MAX (1u << 20) /* per WRITE: far below the 16 MiB message limit */

typedef enum WriteState {
        W_STAT,    /* STAT sent */
        W_WRITE,   /* a WRITE sent, or data being fetched for the next one */
        W_COMMIT,  /* COMMIT sent */
        W_CLEANUP, /* the stream is over: setting labels or aborting the ingest */
} WriteState;

struct CtrdContentWriter {
        GrpcConn *conn;
        uv_loop_t *loop;
        char *ns, *lease, *ref, *digest;
        int64_t size;
        CtrdLabel *labels; /* owned copies */
        size_t n_labels;
        int fd;
        uint64_t fd_offset;
        ctrd_content_source_cb source;
        bool is_seekable;
        ctrd_progress_cb on_progress;
        ctrd_done_cb cb;
        void *userdata;

        GrpcCall *call; /* NULL once the stream ended */
        WriteState state;
        uint64_t offset;  /* acknowledged by containerd */
        size_t in_flight; /* bytes of the WRITE awaiting its response */
        bool is_asking;   /* a source request is unanswered */
        bool is_fs_busy;  /* fs_req is in the threadpool: the writer must outlive it */
        bool is_failed;   /* ended locally: result/message hold why */
        bool is_reported; /* cb ran */
        bool is_locked;   /* containerd said another writer holds the ref */
        uv_fs_t fs_req;
        uint8_t *chunk; /* CHUNK_MAX bytes for file reads */
        int result;
        char message[256];
};

static void writer_free(CtrdContentWriter *w)
{
        for (size_t i = 0; i < w->n_labels; i++) {
                free((char *)w->labels[i].key);
                free((char *)w->labels[i].value);
        }
        free(w->labels);
        free(w->ns);
        free(w->lease);
        free(w->ref);
        free(w->digest);
        free(w->chunk);
        free(w);
}

/* Reports (once) and frees the writer unless a file read still uses it. */
static void writer_finish(CtrdContentWriter *w, int r, const char *message)
{
        if (!w->is_reported) {
                w->is_reported = true;
                w->cb(r, message, w->userdata);
        }
        if (!w->is_fs_busy)
                writer_free(w);
}

static void on_cleanup_done(int r, const char *message, void *userdata)
{
        CtrdContentWriter *w = userdata;
        if (w->result >= 0 && r < 0) /* the labels of an existing blob could not be set */
                writer_finish(w, r, message);
        else
                writer_finish(w, w->result, w->result < 0 ? w->message : "");
}

/* After the stream: abort the ingest (on failure) and report. */
static void writer_abort_and_finish(CtrdContentWriter *w, int r, const char *message)
{
        w->state = W_CLEANUP;
        w->result = r;
        if (message != w->message)
                snprintf(w->message, sizeof(w->message), "%s", message);
        /* Not when another writer holds the ref: the ingest is theirs. Without a connection the abort
         * cannot start; the ingest then goes with the lease (or its 24 h expiry). */
        if (w->is_locked ||
            ctrd_content_abort(w->conn, w->ns, w->ref, CTRD_MISSING_OK, on_cleanup_done, w) < 0)
                writer_finish(w, r, w->message);
}

/* Fails the write from our side: half-close and let the stream end (see on_stream_done). */
static void writer_fail(CtrdContentWriter *w, int r, const char *message)
{
        if (w->is_failed || w->state == W_CLEANUP)
                return;
        w->is_failed = true;
        w->result = r;
        snprintf(w->message, sizeof(w->message), "%s", message ? message : strerror(-r));
        w->is_asking = false;
        if (w->call && grpc_call_close_send(w->call) < 0) {
                /* The request side is closed already (COMMIT sent): cut the stream. */
                grpc_call_cancel(w->call);
                w->call = NULL;
        }
        if (!w->call && !w->is_fs_busy)
                writer_abort_and_finish(w, w->result, w->message);
}

static int writer_send(CtrdContentWriter *w, Containerd__Services__Content__V1__WriteAction action,
                       const void *data, size_t len)
{
        Containerd__Services__Content__V1__WriteContentRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
        req.action = action;
        req.offset = (int64_t)w->offset;
        int r = 0;
        if (action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE) {
                req.data.data = (uint8_t *)data;
                req.data.len = len;
        } else if (action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT) {
                req.total = w->size;
                req.expected = w->digest;
                req.n_labels = w->n_labels;
                r = ctrd_pb_labels_new(
                        &containerd__services__content__v1__write_content_request__labels_entry__descriptor,
                        w->labels, w->n_labels, (CtrdPbLabel ***)&req.labels);
        }
        if (r >= 0)
                r = grpc_call_send(w->call, &req.base);
        ctrd_pb_labels_free((CtrdPbLabel **)req.labels, req.n_labels);
        if (r >= 0 && action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT)
                r = grpc_call_close_send(w->call);
        return r;
}

static void on_fs_read(uv_fs_t *req);

/* Asks for the next chunk, or commits when everything is acknowledged. */
static void writer_next(CtrdContentWriter *w)
{
        if (w->offset >= (uint64_t)w->size) {
                w->state = W_COMMIT;
                int r = writer_send(w, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT, NULL, 0);
                if (r < 0)
                        writer_fail(w, r, "cannot send COMMIT");
                return;
        }
        w->state = W_WRITE;
        uint64_t left = (uint64_t)w->size - w->offset;
        size_t max = left < CHUNK_MAX ? (size_t)left : CHUNK_MAX;
        if (w->fd < 0) {
                w->is_asking = true;
                w->source(w, w->offset, max, w->userdata);
                return;
        }
        uv_buf_t buf = uv_buf_init((char *)w->chunk, (unsigned)max);
        int r = uv_fs_read(w->loop, &w->fs_req, w->fd, &buf, 1, (int64_t)(w->fd_offset + w->offset),
                           on_fs_read);
        if (r < 0)
                writer_fail(w, r, "cannot read the blob's file");
        else
                w->is_fs_busy = true;
}

int ctrd_content_writer_supply(CtrdContentWriter *w, const void *data, size_t len)
{
        if (!w || !w->is_asking)
                return -EPIPE;
        uint64_t left = (uint64_t)w->size - w->offset;
        if (len == 0 || len > CHUNK_MAX || len > left)
                return -EINVAL;
        w->is_asking = false;
        int r = writer_send(w, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE, data, len);
        if (r < 0)
                writer_fail(w, r, "cannot send WRITE");
        else
                w->in_flight = len;
        return 0;
}

void ctrd_content_writer_fail(CtrdContentWriter *w, int r, const char *message)
{
        if (!w || !w->is_asking)
                return;
        writer_fail(w, r < 0 ? r : -EIO, message);
}

void ctrd_content_writer_cancel(CtrdContentWriter *w)
{
        if (w)
                writer_fail(w, -ECANCELED, "cancelled");
}

static void on_fs_read(uv_fs_t *req)
{
        CtrdContentWriter *w = req->data;
        ssize_t n = req->result;
        uv_fs_req_cleanup(req);
        w->is_fs_busy = false;
        if (w->is_reported) { /* ended while the read ran */
                writer_free(w);
                return;
        }
        if (w->is_failed) {
                if (!w->call)
                        writer_abort_and_finish(w, w->result, w->message);
                return;
        }
        if (n <= 0) {
                writer_fail(w, n < 0 ? (int)n : -EIO,
                            n < 0 ? "reading the blob's file failed"
                                  : "the blob's file is shorter than its size");
                return;
        }
        w->is_asking = true;
        (void)ctrd_content_writer_supply(w, w->chunk, (size_t)n);
}

/* One response: the server's offset after STAT or WRITE, the digest after COMMIT. */
static int writer_on_response(CtrdContentWriter *w,
                              const Containerd__Services__Content__V1__WriteContentResponse *resp)
{
        switch (w->state) {
        case W_STAT:
                /* Resume where the ingest is (== size: the blob exists in another namespace), unless the
                 * source can only start at 0: offset 0 rewrites the ingest. */
                if (resp->offset == w->size ||
                    (w->is_seekable && resp->offset > 0 && resp->offset < w->size))
                        w->offset = (uint64_t)resp->offset;
                break;
        case W_WRITE:
                if (w->in_flight == 0 || resp->offset != (int64_t)(w->offset + w->in_flight)) {
                        snprintf(w->message, sizeof(w->message),
                                 "WRITE acknowledged offset %" PRId64 ", sent up to %" PRIu64, resp->offset,
                                 w->offset + w->in_flight);
                        return -EPROTO;
                }
                w->offset += w->in_flight;
                w->in_flight = 0;
                break;
        case W_COMMIT:
                if (!streq_ptr(resp->digest, w->digest)) {
                        snprintf(w->message, sizeof(w->message), "COMMIT answered digest %s",
                                 strempty(resp->digest));
                        return -EPROTO;
                }
                return 0;
        case W_CLEANUP:
                return 0;
        }
        if (w->on_progress)
                w->on_progress(w->offset, (uint64_t)w->size, w->userdata);
        writer_next(w);
        return 0;
}

static int on_stream_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        CtrdContentWriter *w = userdata;
        if (w->is_failed)
                return 0; /* draining after our half-close */
        Containerd__Services__Content__V1__WriteContentResponse *resp =
                containerd__services__content__v1__write_content_response__unpack(NULL, len, data);
        if (!resp)
                return -EBADMSG;
        int r = writer_on_response(w, resp);
        containerd__services__content__v1__write_content_response__free_unpacked(resp, NULL);
        return r;
}

static void on_stream_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        CtrdContentWriter *w = userdata;
        w->call = NULL;
        if (w->is_failed) {
                if (!w->is_fs_busy)
                        writer_abort_and_finish(w, w->result, w->message);
                return;
        }
        if (r == -EEXIST) {
                /* There already (at STAT, or committed by another writer meanwhile): only the labels. */
                w->state = W_CLEANUP;
                w->result = 0;
                if (w->n_labels == 0 || ctrd_content_update_labels(w->conn, w->ns, w->digest, w->labels,
                                                                   w->n_labels, on_cleanup_done, w) < 0)
                        writer_finish(w, w->n_labels == 0 ? 0 : -ENOTCONN,
                                      w->n_labels == 0 ? "" : "cannot update the blob's labels");
                return;
        }
        if (r >= 0 && w->state != W_COMMIT) {
                r = -EPROTO;
                message = "the write stream ended before COMMIT";
        }
        if (r == -EPROTO && w->message[0])
                message = w->message;
        if (r == -ENOTCONN && strstr(message, " locked")) {
                r = -EBUSY; /* another writer holds the ref (content/local/locks.go) */
                w->is_locked = true;
        }
        if (r >= 0)
                writer_finish(w, 1, "");
        else if (w->is_fs_busy) { /* abort once the read is back */
                w->is_failed = true;
                w->result = r;
                snprintf(w->message, sizeof(w->message), "%s", message);
        } else
                writer_abort_and_finish(w, r, message);
}

static int writer_copy_labels(CtrdContentWriter *w, const CtrdLabel *labels, size_t n)
{
        if (n == 0)
                return 0;
        if (!(w->labels = calloc(n, sizeof(*w->labels))))
                return -ENOMEM;
        for (; w->n_labels < n; w->n_labels++) {
                CtrdLabel *l = &w->labels[w->n_labels];
                l->key = strdup(labels[w->n_labels].key);
                l->value = strdup(labels[w->n_labels].value);
                if (!l->key || !l->value) {
                        w->n_labels++;
                        return -ENOMEM;
                }
        }
        return 0;
}

static int writer_new(GrpcConn *conn, uv_loop_t *loop, const CtrdContentWrite *o, ctrd_done_cb cb,
                      void *userdata, CtrdContentWriter **ret)
{
        CtrdContentWriter *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (CtrdContentWriter){.conn = conn,
                                 .loop = loop,
                                 .size = o->size,
                                 .fd = o->fd,
                                 .fd_offset = o->fd_offset,
                                 .source = o->source,
                                 .is_seekable = o->fd >= 0 || o->is_seekable,
                                 .on_progress = o->on_progress,
                                 .cb = cb,
                                 .userdata = userdata};
        w->ns = o->ns ? strdup(o->ns) : NULL;
        w->lease = o->lease ? strdup(o->lease) : NULL;
        w->ref = strdup(o->ref);
        w->digest = strdup(o->digest);
        w->fs_req.data = w;
        int r = writer_copy_labels(w, o->labels, o->n_labels);
        if (r >= 0 && ((o->ns && !w->ns) || (o->lease && !w->lease) || !w->ref || !w->digest))
                r = -ENOMEM;
        if (r >= 0 && o->fd >= 0 && !(w->chunk = malloc(CHUNK_MAX)))
                r = -ENOMEM;
        if (r < 0) {
                writer_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

int ctrd_content_write(GrpcConn *conn, uv_loop_t *loop, const CtrdContentWrite *o, ctrd_done_cb cb,
                       void *userdata, CtrdContentWriter **ret)
{
        if (!conn || !loop || !o || !cb || !o->ref || !*o->ref || !o->digest || !*o->digest || o->size < 0 ||
            (o->fd < 0 && !o->source) || (o->n_labels > 0 && !o->labels))
                return -EINVAL;
        CtrdContentWriter *w;
        int r = writer_new(conn, loop, o, cb, userdata, &w);
        if (r < 0)
                return r;
        Containerd__Services__Content__V1__WriteContentRequest req =
                CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
        req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT;
        req.ref = w->ref;
        req.total = w->size;
        req.expected = w->digest;
        /* The stream lives as long as the data takes: a deadline that grows with the size. */
        int64_t timeout = o->timeout_ms > 0 ? o->timeout_ms : 600000 + o->size / (10 << 20) * 1000;
        const GrpcCallOptions opts = {
                .ns = w->ns, .lease = w->lease, .timeout_ms = timeout, .is_client_streaming = true};
        r = grpc_call_start(conn, CTRD_PATH("content", "Content", "Write"), &req.base, &opts,
                            on_stream_message, on_stream_done, w, &w->call);
        if (r < 0) {
                writer_free(w);
                return r;
        }
        if (ret)
                *ret = w;
        return 0;
}
