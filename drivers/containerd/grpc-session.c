/* nghttp2 session callbacks. They run inside nghttp2_session_mem_recv()/mem_send() and therefore only
 * record what happened and queue the call; no user code runs from here (grpc-internal.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/containerd/grpc-internal.h"

int grpc_nghttp2_to_errno(int e)
{
        switch (e) {
        case NGHTTP2_ERR_NOMEM:
                return -ENOMEM;
        case NGHTTP2_ERR_INVALID_ARGUMENT:
                return -EINVAL;
        case NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE:
        case NGHTTP2_ERR_SESSION_CLOSING:
        case NGHTTP2_ERR_START_STREAM_NOT_ALLOWED:
                /* This connection cannot take new streams: a fresh one will. */
                return -ENOTCONN;
        case NGHTTP2_ERR_EOF:
                return -ECONNRESET;
        default:
                return -EPROTO;
        }
}

static bool header_is(const uint8_t *name, size_t len, const char *want)
{
        return len == strlen(want) && memcmp(name, want, len) == 0;
}

/* A non-negative decimal number of at most 9 digits, or -1. */
static int parse_uint(const uint8_t *s, size_t len)
{
        if (len == 0 || len > 9)
                return -1;
        int v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
        if (frame->hd.type != NGHTTP2_HEADERS)
                return 0;
        GrpcCall *c = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (!c)
                return 0;
        /* grpc-status comes in the trailers, or in the only header block of a Trailers-Only response
         * (how containerd answers errors): look in every block. */
        if (header_is(name, namelen, ":status"))
                c->http_status = parse_uint(value, valuelen);
        else if (header_is(name, namelen, "grpc-status")) {
                int s = parse_uint(value, valuelen);
                c->grpc_status = s < 0 ? GRPC_STATUS_UNKNOWN : s;
        } else if (header_is(name, namelen, "grpc-message")) {
                free(c->grpc_message);
                c->grpc_message = grpc_percent_decode((const char *)value, valuelen); /* NULL: no text */
        }
        return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *user_data)
{
        GrpcCall *c = nghttp2_session_get_stream_user_data(session, stream_id);
        if (!c)
                return 0; /* a call we gave up on: its stream is being reset */
        int r = grpc_decoder_feed(&c->decoder, data, len);
        if (r < 0) {
                grpc_call_abort(c, r,
                                r == -EMSGSIZE ? "response message over the size limit"
                                : r == -EPROTO ? "compressed or malformed response message"
                                               : "out of memory");
                return 0;
        }
        grpc_call_queue(c);
        return 0;
}

static void call_finish_from_stream(GrpcCall *c, uint32_t error_code)
{
        char buf[160];
        const char *message = c->grpc_message;
        int status;
        if (c->grpc_status >= 0)
                status = c->grpc_status;
        else if (c->http_status > 0 && c->http_status != 200) {
                status = grpc_status_from_http(c->http_status);
                snprintf(buf, sizeof(buf), "HTTP status %d without grpc-status", c->http_status);
                message = buf;
        } else {
                /* Reset, or ended without trailers: the gRPC spec's UNAVAILABLE. */
                status = GRPC_STATUS_UNAVAILABLE;
                snprintf(buf, sizeof(buf), "stream closed without grpc-status (HTTP/2 error %s)",
                         nghttp2_http2_strerror(error_code));
                message = buf;
        }
        int r = grpc_status_to_errno(status);
        if (r < 0 && (!message || !*message))
                message = grpc_status_to_string(status);
        grpc_call_finish(c, r, message ? message : "");
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
        GrpcCall *c = nghttp2_session_get_stream_user_data(session, stream_id);
        if (!c)
                return 0;
        c->stream_id = 0; /* nghttp2 forgets the stream after this callback */
        call_finish_from_stream(c, error_code);
        return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
        GrpcLink *link = user_data;
        if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
                link->has_settings = true;
        else if (frame->hd.type == NGHTTP2_GOAWAY)
                /* containerd only says goodbye when it stops: treat it as the loss of the connection
                 * rather than draining, so that every call fails the same way and we reconnect at once. */
                link->has_goaway = true;
        return 0;
}

ssize_t grpc_session_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                               uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
        /* Looked up by stream rather than through source->ptr: a call we detached must not be touched. */
        GrpcCall *c = nghttp2_session_get_stream_user_data(session, stream_id);
        if (!c)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        size_t avail = c->send_len - c->send_off;
        if (avail == 0) {
                if (c->is_send_closed) {
                        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
                        return 0;
                }
                c->is_deferred = true; /* grpc_call_send() resumes the stream */
                return NGHTTP2_ERR_DEFERRED;
        }
        size_t n = avail < length ? avail : length;
        memcpy(buf, c->send_buf + c->send_off, n);
        c->send_off += n;
        if (c->send_off == c->send_len) {
                c->send_off = c->send_len = 0;
                if (c->is_send_closed)
                        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        }
        return (ssize_t)n;
}

int grpc_session_callbacks_new(nghttp2_session_callbacks **ret)
{
        nghttp2_session_callbacks *cb;
        int r = nghttp2_session_callbacks_new(&cb);
        if (r < 0)
                return grpc_nghttp2_to_errno(r);
        nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
        *ret = cb;
        return 0;
}
