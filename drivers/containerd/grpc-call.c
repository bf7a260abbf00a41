/* Calls: start, send, half-close, cancel, deadlines, and the delivery of messages and results. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/grpc-internal.h"

#define USER_AGENT "kukeon/" KUKEON_VERSION

static void call_free(GrpcCall *c)
{
        grpc_decoder_done(&c->decoder);
        free(c->send_buf);
        free(c->grpc_message);
        free(c->result_message);
        free(c);
}

void grpc_call_ref(GrpcCall *c)
{
        c->n_ref++;
}

void grpc_call_unref(GrpcCall *c)
{
        assert(c->n_ref > 0);
        if (--c->n_ref == 0)
                call_free(c);
}

/* No call left waits on a deadline: the timer goes, so that an idle daemon is never woken. */
static void conn_disarm_deadline_if_idle(GrpcConn *conn)
{
        if (!conn->deadline_armed)
                return;
        for (GrpcCall *c = conn->calls; c; c = c->next)
                if (c->deadline && !c->is_finished)
                        return;
        uv_timer_stop(&conn->deadline_timer);
        conn->deadline_armed = 0;
}

/* Takes the call off the connection's list (dropping the list's reference). */
static void call_unlink(GrpcCall *c)
{
        if (!c->is_listed)
                return;
        GrpcConn *conn = c->conn;
        bool had_deadline = c->deadline != 0;
        if (c->prev)
                c->prev->next = c->next;
        else
                conn->calls = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        c->is_listed = false;
        conn->n_calls--;
        grpc_call_unref(c);
        if (had_deadline)
                conn_disarm_deadline_if_idle(conn);
}

void grpc_call_queue(GrpcCall *c)
{
        if (c->is_queued || c->is_cancelled || c->is_done)
                return;
        GrpcConn *conn = c->conn;
        c->is_queued = true;
        grpc_call_ref(c); /* dropped by grpc_conn_dispatch() */
        if (conn->queue_tail)
                conn->queue_tail->queue_next = c;
        else
                conn->queue_head = c;
        conn->queue_tail = c;
}

/* Forgets the call's stream: nghttp2 will not find the call again (its data provider and callbacks look
 * it up by stream), and with reset the server is told to stop. */
static void call_detach_stream(GrpcCall *c, bool reset)
{
        GrpcLink *link = c->conn->link;
        if (c->stream_id > 0 && link && link->session) {
                nghttp2_session_set_stream_user_data(link->session, c->stream_id, NULL);
                if (reset)
                        (void)nghttp2_submit_rst_stream(link->session, NGHTTP2_FLAG_NONE, c->stream_id,
                                                        NGHTTP2_CANCEL);
        }
        c->stream_id = 0;
}

void grpc_call_finish(GrpcCall *c, int r, const char *message)
{
        if (c->is_finished)
                return;
        c->is_finished = true;
        c->result = r;
        c->result_message = strdup(message ? message : ""); /* NULL when out of memory: see deliver */
        grpc_call_queue(c);
}

void grpc_call_abort(GrpcCall *c, int r, const char *message)
{
        assert(r < 0);
        call_detach_stream(c, true);
        c->is_discarding = true;
        if (c->is_finished && c->result == 0) {
                /* The server said OK but we refuse what it sent. */
                c->is_finished = false;
                free(TAKE_PTR(c->result_message));
        }
        grpc_call_finish(c, r, message ? message : strerror(-r));
}

void grpc_call_fail(GrpcCall *c, int r, const char *message)
{
        c->stream_id = 0;
        if (c->is_finished)
                return;
        c->is_discarding = true;
        grpc_call_finish(c, r, message);
}

void grpc_call_deliver(GrpcCall *c)
{
        while (!c->is_discarding && !c->is_cancelled && !c->is_done) {
                const uint8_t *data;
                size_t len;
                int r = grpc_decoder_next(&c->decoder, &data, &len);
                if (r == 0)
                        break;
                if (r < 0) {
                        grpc_call_abort(c, r, "malformed response message");
                        break;
                }
                if (c->on_message && (r = c->on_message(c, data, len, c->userdata)) < 0)
                        grpc_call_abort(c, r, NULL);
        }
        if (!c->is_finished || c->is_cancelled || c->is_done)
                return;
        if (c->result == 0 && grpc_decoder_has_partial(&c->decoder)) {
                c->result = -EPROTO;
                free(c->result_message);
                c->result_message = strdup("the stream ended inside a message");
        }
        c->is_done = true;
        const char *message = c->result_message ? c->result_message
                              : c->result < 0   ? strerror(-c->result)
                                                : "";
        c->on_done(c, c->result, message, c->userdata);
        call_unlink(c);
}

/* ---- deadlines ---- */

static void conn_arm_deadline_at(GrpcConn *conn, uint64_t deadline)
{
        if (conn->state == GRPC_CONN_SHUTDOWN || (conn->deadline_armed && conn->deadline_armed <= deadline))
                return;
        uint64_t now = uv_now(conn->loop);
        uv_timer_start(&conn->deadline_timer, grpc_conn_on_deadline, deadline > now ? deadline - now : 0, 0);
        conn->deadline_armed = deadline;
}

void grpc_conn_arm_deadline(GrpcConn *conn)
{
        uint64_t earliest = 0;
        for (GrpcCall *c = conn->calls; c; c = c->next)
                if (c->deadline && !c->is_finished && (!earliest || c->deadline < earliest))
                        earliest = c->deadline;
        if (earliest)
                conn_arm_deadline_at(conn, earliest);
}

void grpc_conn_on_deadline(uv_timer_t *timer)
{
        GrpcConn *conn = timer->data;
        uint64_t now = uv_now(conn->loop);
        conn->deadline_armed = 0;
        grpc_conn_ref(conn);
        for (GrpcCall *c = conn->calls; c; c = c->next)
                if (c->deadline && c->deadline <= now && !c->is_finished) {
                        char message[64];
                        snprintf(message, sizeof(message), "deadline of %" PRId64 " ms exceeded",
                                 c->timeout_ms);
                        grpc_call_abort(c, -ETIMEDOUT, message);
                }
        grpc_conn_dispatch(conn);
        if (conn->link)
                grpc_link_flush(conn->link); /* the RST_STREAMs */
        grpc_conn_arm_deadline(conn);
        grpc_conn_unref(conn);
}

/* ---- requests ---- */

/* Appends one framed message to the call's outgoing bytes. */
static int call_pack(GrpcCall *c, const ProtobufCMessage *msg)
{
        size_t size = protobuf_c_message_get_packed_size(msg);
        if (size > c->conn->max_message_size || size > UINT32_MAX)
                return -EMSGSIZE;
        if (c->send_off > 0) {
                memmove(c->send_buf, c->send_buf + c->send_off, c->send_len - c->send_off);
                c->send_len -= c->send_off;
                c->send_off = 0;
        }
        size_t need = c->send_len + GRPC_FRAME_PREFIX_SIZE + size;
        if (need > c->send_cap) {
                size_t cap = c->send_cap ? c->send_cap : 256;
                while (cap < need)
                        cap *= 2;
                uint8_t *p = realloc(c->send_buf, cap);
                if (!p)
                        return -ENOMEM;
                c->send_buf = p;
                c->send_cap = cap;
        }
        grpc_frame_prefix(c->send_buf + c->send_len, (uint32_t)size);
        protobuf_c_message_pack(msg, c->send_buf + c->send_len + GRPC_FRAME_PREFIX_SIZE);
        c->send_len = need;
        return 0;
}

/* Wakes the stream's data provider if it ran dry, and sends. */
static void call_resume(GrpcCall *c)
{
        GrpcLink *link = c->conn->link;
        if (!link || !link->session)
                return;
        if (c->is_deferred && c->stream_id > 0) {
                c->is_deferred = false;
                (void)nghttp2_session_resume_data(link->session, c->stream_id);
        }
        grpc_link_flush(link);
}

#define NV(n, v) ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE})

static int call_submit(GrpcCall *c, const char *path, const GrpcCallOptions *opts)
{
        GrpcConn *conn = c->conn;
        char timeout[GRPC_TIMEOUT_MAX];
        nghttp2_nv nva[10];
        size_t n = 0;
        nva[n++] = NV(":method", "POST");
        nva[n++] = NV(":scheme", "http");
        nva[n++] = NV(":path", path);
        nva[n++] = NV(":authority", "localhost"); /* grpc-go does not check it */
        nva[n++] = NV("content-type", "application/grpc");
        nva[n++] = NV("te", "trailers");
        nva[n++] = NV("user-agent", USER_AGENT);
        /* Always sent: without it even Namespaces.Create answers UNKNOWN (containerd-api.md §2.2). */
        nva[n++] = NV("containerd-namespace", opts->ns ? opts->ns : conn->default_namespace);
        if (opts->lease)
                nva[n++] = NV("containerd-lease", opts->lease);
        if (c->timeout_ms > 0)
                nva[n++] =
                        NV("grpc-timeout", grpc_timeout_format(grpc_server_timeout(c->timeout_ms), timeout));
        const nghttp2_data_provider provider = {.read_callback = grpc_session_data_read};
        int32_t sid = nghttp2_submit_request(conn->link->session, NULL, nva, n, &provider, c);
        if (sid < 0)
                return grpc_nghttp2_to_errno(sid);
        c->stream_id = sid;
        return 0;
}

int grpc_call_start(GrpcConn *conn, const char *path, const ProtobufCMessage *request,
                    const GrpcCallOptions *opts, grpc_call_message_cb on_message, grpc_call_done_cb on_done,
                    void *userdata, GrpcCall **ret)
{
        static const GrpcCallOptions no_options = {0};
        if (!conn || !path || !on_done)
                return -EINVAL;
        if (!opts)
                opts = &no_options;
        if (!request && !opts->is_client_streaming)
                return -EINVAL;
        if (conn->state != GRPC_CONN_CONNECTING && conn->state != GRPC_CONN_READY)
                return -ENOTCONN;
        if (!conn->link || !conn->link->session)
                return -ENOTCONN;

        GrpcCall *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->conn = conn;
        c->n_ref = 1; /* the list's */
        c->grpc_status = -1;
        c->on_message = on_message;
        c->on_done = on_done;
        c->userdata = userdata;
        c->is_send_closed = !opts->is_client_streaming;
        grpc_decoder_init(&c->decoder, conn->max_message_size);
        int64_t timeout = opts->timeout_ms != 0 ? opts->timeout_ms : conn->default_timeout_ms;
        if (timeout > 0) {
                c->timeout_ms = timeout;
                c->deadline = uv_now(conn->loop) + (uint64_t)timeout;
        }
        int r = request ? call_pack(c, request) : 0;
        if (r >= 0)
                r = call_submit(c, path, opts);
        if (r < 0) {
                call_free(c);
                return r;
        }

        c->is_listed = true;
        c->next = conn->calls;
        if (conn->calls)
                conn->calls->prev = c;
        conn->calls = c;
        conn->n_calls++;
        if (c->deadline)
                conn_arm_deadline_at(conn, c->deadline);
        grpc_link_flush(conn->link);
        if (ret)
                *ret = c;
        return 0;
}

int grpc_call_send(GrpcCall *c, const ProtobufCMessage *msg)
{
        if (c->is_send_closed || c->is_finished || c->is_cancelled)
                return -EPIPE;
        int r = call_pack(c, msg);
        if (r < 0)
                return r;
        call_resume(c);
        return 0;
}

int grpc_call_close_send(GrpcCall *c)
{
        if (c->is_send_closed || c->is_finished || c->is_cancelled)
                return -EPIPE;
        c->is_send_closed = true;
        call_resume(c);
        return 0;
}

void grpc_call_cancel(GrpcCall *c)
{
        if (!c || c->is_cancelled || c->is_done)
                return;
        c->is_cancelled = true;
        call_detach_stream(c, true);
        if (c->conn->link)
                grpc_link_flush(c->conn->link);
        call_unlink(c); /* a reference still held by the dispatch queue frees it later */
}
