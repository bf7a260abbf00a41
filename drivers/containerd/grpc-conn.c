/* The connection: one link (socket + HTTP/2 session) at a time, reconnects with back-off, socket I/O and
 * the dispatch of user callbacks. See grpc-internal.h for the re-entrancy rule. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "drivers/containerd/grpc-internal.h"

#define BACKOFF_INITIAL_MS   100
#define BACKOFF_MAX_MS       5000
#define HANDSHAKE_TIMEOUT_MS 10000
/* Stop pulling output from nghttp2 while this much is waiting in the socket: a large Content.Write must
 * not pile up in memory faster than containerd reads it. */
#define WRITE_HIGH_WATER (4u * 1024u * 1024u)
#define WRITE_CHUNK      (1u * 1024u * 1024u)
/* Our receive windows: the defaults (64 KiB) would stall bulk reads such as Content.Read. */
#define STREAM_WINDOW     (1 << 20)
#define CONNECTION_WINDOW (16 << 20)

typedef struct GrpcWrite {
        uv_write_t req;
        GrpcLink *link;
        uv_buf_t buf;
} GrpcWrite;

static void conn_link_lost(GrpcConn *conn, int r, const char *why);
static void on_retry_timer(uv_timer_t *timer);

const char *grpc_conn_state_to_string(GrpcConnState state)
{
        static const char *const names[_GRPC_CONN_STATE_MAX] = {
                [GRPC_CONN_CONNECTING] = "connecting",
                [GRPC_CONN_READY] = "ready",
                [GRPC_CONN_TRANSIENT_FAILURE] = "transient-failure",
                [GRPC_CONN_SHUTDOWN] = "shutdown",
        };
        return (unsigned)state < _GRPC_CONN_STATE_MAX ? names[state] : "invalid";
}

/* libuv reports system errors as -errno, plus a few codes of its own. */
static int uv_to_errno(int r)
{
        if (r == UV_EOF)
                return -ECONNRESET;
        return r > -4000 ? r : -EIO;
}

static void conn_free(GrpcConn *conn)
{
        assert(!conn->link && !conn->calls && !conn->queue_head);
        nghttp2_session_callbacks_del(conn->callbacks);
        free(conn->address);
        free(conn->default_namespace);
        free(conn);
}

void grpc_conn_ref(GrpcConn *conn)
{
        conn->n_ref++;
}

void grpc_conn_unref(GrpcConn *conn)
{
        assert(conn->n_ref > 0);
        if (--conn->n_ref == 0)
                conn_free(conn);
}

static void conn_set_state(GrpcConn *conn, GrpcConnState state, int reason)
{
        if (conn->state == state || conn->state == GRPC_CONN_SHUTDOWN)
                return;
        conn->state = state;
        if (conn->on_state)
                conn->on_state(conn, state, reason, conn->userdata);
}

/* ---- links ---- */

static void on_link_closed(uv_handle_t *handle)
{
        free(handle->data);
}

/* Detaches the link from its connection and closes it; it frees itself once libuv is done with it. Write
 * callbacks still pending run before the close callback and only free their buffers. */
static void link_abandon(GrpcLink *link)
{
        link->conn = NULL;
        nghttp2_session_del(link->session); /* runs no callbacks */
        link->session = NULL;
        uv_close((uv_handle_t *)&link->pipe, on_link_closed);
}

static void on_link_write(uv_write_t *req, int status)
{
        GrpcWrite *w = req->data;
        GrpcLink *link = w->link;
        link->write_queued -= w->buf.len;
        free(w->buf.base);
        free(w);
        if (!link->conn)
                return;
        if (status < 0) {
                conn_link_lost(link->conn, uv_to_errno(status), "write failed");
                return;
        }
        grpc_link_flush(link); /* output held back by the high-water mark */
}

static int link_write(GrpcLink *link, Buf *out)
{
        GrpcWrite *w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->link = link;
        w->req.data = w;
        w->buf = uv_buf_init(out->data, (unsigned)out->len);
        int r = uv_write(&w->req, (uv_stream_t *)&link->pipe, &w->buf, 1, on_link_write);
        if (r < 0) {
                free(w);
                return uv_to_errno(r);
        }
        out->data = NULL; /* owned by the write request now */
        link->write_queued += out->len;
        *out = BUF_INIT;
        return 0;
}

void grpc_link_flush(GrpcLink *link)
{
        if (!link->conn || !link->session || !link->is_connected)
                return;
        _cleanup_(buf_done) Buf out = BUF_INIT;
        while (link->write_queued + out.len < WRITE_HIGH_WATER) {
                const uint8_t *data;
                ssize_t n = nghttp2_session_mem_send(link->session, &data);
                int r = 0;
                if (n < 0)
                        r = grpc_nghttp2_to_errno((int)n);
                else if (n == 0)
                        break;
                /* data is only valid until the next mem_send: copy it out */
                else if (buf_append(&out, data, (size_t)n) < 0)
                        r = -ENOMEM;
                else if (out.len >= WRITE_CHUNK)
                        r = link_write(link, &out);
                if (r < 0) {
                        grpc_conn_fail_later(link->conn, r);
                        return;
                }
        }
        if (out.len > 0) {
                int r = link_write(link, &out);
                if (r < 0)
                        grpc_conn_fail_later(link->conn, r);
        }
        /* Sending can close streams (a request nghttp2 could not send, say): their calls were queued, and
         * we may be inside a user's call here, so deliver on the next iteration. */
        if (link->conn && link->conn->queue_head)
                grpc_conn_kick(link->conn);
}

static void on_link_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
        GrpcLink *link = handle->data;
        /* One read is outstanding at a time and nghttp2 copies what it keeps: one buffer per link. */
        *buf = uv_buf_init((char *)link->read_buf, sizeof(link->read_buf));
}

static void conn_set_ready(GrpcConn *conn)
{
        uv_timer_stop(&conn->retry_timer); /* the handshake timeout */
        conn->backoff_ms = conn->backoff_initial_ms;
        conn_set_state(conn, GRPC_CONN_READY, 0);
}

static void on_link_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
        GrpcLink *link = stream->data;
        GrpcConn *conn = link->conn;
        if (!conn || nread == 0)
                return;
        if (nread < 0) {
                conn_link_lost(conn, uv_to_errno((int)nread), "connection closed by the server");
                return;
        }

        grpc_conn_ref(conn);
        ssize_t n = nghttp2_session_mem_recv(link->session, (const uint8_t *)buf->base, (size_t)nread);
        if (n < 0)
                conn_link_lost(conn, -EPROTO, nghttp2_strerror((int)n));
        else if (link->has_goaway)
                conn_link_lost(conn, -ECONNRESET, "the server sent GOAWAY");
        else {
                if (link->has_settings && conn->state == GRPC_CONN_CONNECTING)
                        conn_set_ready(conn);
                grpc_conn_dispatch(conn);
                /* The PING and SETTINGS acknowledgements nghttp2 queued (and resets from callbacks). */
                grpc_link_flush(link);
        }
        grpc_conn_unref(conn);
}

static void on_link_connect(uv_connect_t *req, int status)
{
        GrpcLink *link = req->data;
        GrpcConn *conn = link->conn;
        if (!conn)
                return; /* abandoned while connecting (status is UV_ECANCELED) */
        int r = status < 0 ? status : uv_read_start((uv_stream_t *)&link->pipe, on_link_alloc, on_link_read);
        if (r < 0) {
                conn_link_lost(conn, uv_to_errno(r), "cannot connect");
                return;
        }
        link->is_connected = true;
        grpc_link_flush(link); /* the client preface, our SETTINGS and the requests queued meanwhile */
}

static int link_session_new(GrpcLink *link, nghttp2_session_callbacks *callbacks)
{
        int r = nghttp2_session_client_new(&link->session, callbacks, link);
        if (r < 0)
                return grpc_nghttp2_to_errno(r);
        const nghttp2_settings_entry settings[] = {
                {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        };
        r = nghttp2_submit_settings(link->session, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings));
        if (r < 0)
                return grpc_nghttp2_to_errno(r);
        r = nghttp2_session_set_local_window_size(link->session, NGHTTP2_FLAG_NONE, 0, CONNECTION_WINDOW);
        return r < 0 ? grpc_nghttp2_to_errno(r) : 0;
}

/* Starts an attempt. Failures are reported through the usual path, on the next loop iteration, so that
 * grpc_conn_new() never runs callbacks. */
static void conn_connect(GrpcConn *conn)
{
        GrpcLink *link = calloc(1, sizeof(*link));
        if (!link) {
                /* No link to fail: wait and try again. */
                conn->state = GRPC_CONN_TRANSIENT_FAILURE;
                uv_timer_start(&conn->retry_timer, on_retry_timer, conn->backoff_ms, 0);
                return;
        }
        link->conn = conn;
        uv_pipe_init(conn->loop, &link->pipe, 0);
        link->pipe.data = link;
        link->connect_req.data = link;
        conn->link = link;
        int r = link_session_new(link, conn->callbacks);
        if (r < 0) {
                grpc_conn_fail_later(conn, r);
                return;
        }
        uv_pipe_connect(&link->connect_req, &link->pipe, conn->address, on_link_connect);
        uv_timer_start(&conn->retry_timer, on_retry_timer, conn->handshake_timeout_ms, 0);
        /* Last: the callback may start calls (they wait in the session) or close the connection. */
        conn_set_state(conn, GRPC_CONN_CONNECTING, 0);
}

static void on_retry_timer(uv_timer_t *timer)
{
        GrpcConn *conn = timer->data;
        if (conn->state == GRPC_CONN_CONNECTING) {
                char why[96];
                snprintf(why, sizeof(why), "no HTTP/2 SETTINGS from the server within %llu ms",
                         (unsigned long long)conn->handshake_timeout_ms);
                conn_link_lost(conn, -ETIMEDOUT, why);
        } else if (conn->state == GRPC_CONN_TRANSIENT_FAILURE)
                conn_connect(conn);
}

/* The link is gone (or never came up): fail every call in flight with -ENOTCONN, tell the owner, and
 * schedule the next attempt. */
static void conn_link_lost(GrpcConn *conn, int r, const char *why)
{
        GrpcLink *link = conn->link;
        if (!link)
                return;
        conn->link = NULL;
        link_abandon(link);
        uv_timer_stop(&conn->retry_timer);
        uv_timer_stop(&conn->kick_timer);
        conn->kick_error = 0;

        grpc_conn_ref(conn);
        bool was_ready = conn->state == GRPC_CONN_READY;
        /* Set before any callback runs, so calls started from them fail fast with -ENOTCONN. */
        conn->state = GRPC_CONN_TRANSIENT_FAILURE;

        char message[256];
        snprintf(message, sizeof(message), "%s %s: %s: %s",
                 was_ready ? "lost the connection to" : "cannot reach", conn->address, why, strerror(-r));
        for (GrpcCall *c = conn->calls; c; c = c->next)
                grpc_call_fail(c, -ENOTCONN, message);
        grpc_conn_dispatch(conn);

        if (conn->state == GRPC_CONN_TRANSIENT_FAILURE) {
                if (conn->on_state)
                        conn->on_state(conn, GRPC_CONN_TRANSIENT_FAILURE, r, conn->userdata);
                if (conn->state == GRPC_CONN_TRANSIENT_FAILURE && !conn->link) {
                        uv_timer_start(&conn->retry_timer, on_retry_timer, conn->backoff_ms, 0);
                        uint64_t next = conn->backoff_ms * 2;
                        conn->backoff_ms = next < conn->backoff_max_ms ? next : conn->backoff_max_ms;
                }
        }
        grpc_conn_unref(conn);
}

static void on_kick(uv_timer_t *timer)
{
        GrpcConn *conn = timer->data;
        int r = conn->kick_error;
        conn->kick_error = 0;
        if (r < 0)
                conn_link_lost(conn, r, "transport error");
        else {
                grpc_conn_ref(conn);
                grpc_conn_dispatch(conn);
                if (conn->link)
                        grpc_link_flush(conn->link); /* resets from message callbacks that refused */
                grpc_conn_unref(conn);
        }
}

void grpc_conn_kick(GrpcConn *conn)
{
        if (conn->state != GRPC_CONN_SHUTDOWN && !uv_is_active((uv_handle_t *)&conn->kick_timer))
                uv_timer_start(&conn->kick_timer, on_kick, 0, 0);
}

void grpc_conn_fail_later(GrpcConn *conn, int r)
{
        if (conn->kick_error < 0 || !conn->link)
                return;
        conn->kick_error = r;
        /* Reading on would only feed a session we are about to drop. */
        if (conn->link->is_connected)
                uv_read_stop((uv_stream_t *)&conn->link->pipe);
        uv_timer_start(&conn->kick_timer, on_kick, 0, 0);
}

/* ---- dispatch ---- */

static GrpcCall *queue_pop(GrpcConn *conn)
{
        GrpcCall *c = conn->queue_head;
        if (!c)
                return NULL;
        conn->queue_head = c->queue_next;
        if (!conn->queue_head)
                conn->queue_tail = NULL;
        c->queue_next = NULL;
        c->is_queued = false;
        return c; /* with the queue's reference */
}

void grpc_conn_dispatch(GrpcConn *conn)
{
        /* A nested dispatch (a callback closing the connection, say) leaves the work to the outer loop,
         * which picks up whatever was queued meanwhile. */
        if (conn->is_dispatching)
                return;
        conn->is_dispatching = true;
        grpc_conn_ref(conn);
        GrpcCall *c;
        while ((c = queue_pop(conn))) {
                grpc_call_deliver(c);
                grpc_call_unref(c);
        }
        conn->is_dispatching = false;
        grpc_conn_unref(conn);
}

/* ---- public ---- */

static void on_timer_closed(uv_handle_t *handle)
{
        grpc_conn_unref(handle->data);
}

static int conn_init_timer(GrpcConn *conn, uv_timer_t *timer)
{
        int r = uv_timer_init(conn->loop, timer);
        if (r < 0)
                return uv_to_errno(r);
        timer->data = conn;
        grpc_conn_ref(conn); /* dropped by on_timer_closed */
        return 0;
}

int grpc_conn_new(uv_loop_t *loop, const GrpcConnOptions *opts, GrpcConn **ret)
{
        if (!loop || !opts || !opts->address || !ret)
                return -EINVAL;
        GrpcConn *conn = calloc(1, sizeof(*conn));
        if (!conn)
                return -ENOMEM;
        *conn = (GrpcConn){
                .loop = loop,
                .n_ref = 1,
                .state = GRPC_CONN_CONNECTING,
                .address = strdup(opts->address),
                .default_namespace = strdup(opts->default_namespace ? opts->default_namespace : "default"),
                .default_timeout_ms = opts->default_timeout_ms,
                .backoff_initial_ms =
                        opts->backoff_initial_ms ? opts->backoff_initial_ms : BACKOFF_INITIAL_MS,
                .backoff_max_ms = opts->backoff_max_ms ? opts->backoff_max_ms : BACKOFF_MAX_MS,
                .handshake_timeout_ms =
                        opts->handshake_timeout_ms ? opts->handshake_timeout_ms : HANDSHAKE_TIMEOUT_MS,
                .max_message_size =
                        opts->max_message_size ? opts->max_message_size : GRPC_DEFAULT_MAX_MESSAGE,
                .on_state = opts->on_state,
                .userdata = opts->userdata,
        };
        conn->backoff_ms = conn->backoff_initial_ms;
        int r = grpc_session_callbacks_new(&conn->callbacks);
        if (r < 0 || !conn->address || !conn->default_namespace) {
                if (r >= 0)
                        nghttp2_session_callbacks_del(conn->callbacks);
                free(conn->address);
                free(conn->default_namespace);
                free(conn);
                return r < 0 ? r : -ENOMEM;
        }
        /* Timer initialisation cannot fail on Linux; the loop keeps no reference until started. */
        (void)conn_init_timer(conn, &conn->retry_timer);
        (void)conn_init_timer(conn, &conn->deadline_timer);
        (void)conn_init_timer(conn, &conn->kick_timer);
        conn_connect(conn);
        *ret = conn;
        return 0;
}

void grpc_conn_close(GrpcConn *conn)
{
        if (!conn)
                return;
        assert(conn->state != GRPC_CONN_SHUTDOWN);
        grpc_conn_ref(conn);
        conn->state = GRPC_CONN_SHUTDOWN; /* no state callbacks from here on */
        if (conn->link) {
                GrpcLink *link = TAKE_PTR(conn->link);
                link_abandon(link);
        }
        for (GrpcCall *c = conn->calls; c; c = c->next)
                grpc_call_fail(c, -ECANCELED, "the connection was closed");
        grpc_conn_dispatch(conn);
        uv_close((uv_handle_t *)&conn->retry_timer, on_timer_closed);
        uv_close((uv_handle_t *)&conn->deadline_timer, on_timer_closed);
        uv_close((uv_handle_t *)&conn->kick_timer, on_timer_closed);
        assert(conn->n_ref >= 2);
        conn->n_ref--; /* the owner's reference; ours still holds it */
        grpc_conn_unref(conn);
}

GrpcConnState grpc_conn_get_state(const GrpcConn *conn)
{
        return conn->state;
}

size_t grpc_conn_n_calls(const GrpcConn *conn)
{
        return conn->n_calls;
}
