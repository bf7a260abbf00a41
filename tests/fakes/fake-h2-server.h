/* A fake gRPC server for unit tests of the containerd transport: nghttp2 in server mode on a unix socket,
 * on the test's own libuv loop. A handler sees each request stream as its bytes arrive and answers with
 * whatever the test needs: messages cut into DATA frames of a chosen size, trailers, Trailers-Only
 * errors, resets, silence. The server can also drop its connections, send GOAWAY, stop listening, or
 * never speak HTTP/2 at all (is_silent).
 *
 * Header-only (static functions) so a test executable built from one .c file can use it. */
#pragma once

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "drivers/containerd/grpc-frame.h"

typedef struct FakeH2Server FakeH2Server;
typedef struct FakeH2Client FakeH2Client;
typedef struct FakeH2Stream FakeH2Stream;

struct FakeH2Stream {
        FakeH2Client *client;
        int32_t id;
        char path[256];
        char ns[128];     /* containerd-namespace */
        char lease[128];  /* containerd-lease */
        char timeout[32]; /* grpc-timeout */
        Buf request;      /* request bytes received so far (framed messages) */
        bool is_request_done;
        Buf response; /* response bytes not yet taken by nghttp2 */
        size_t response_off;
        size_t chunk;      /* largest DATA frame payload: small values split messages */
        bool has_headers;  /* response HEADERS submitted */
        bool is_finishing; /* trailers go out once response drains */
        bool is_deferred;
        int status;
        char message[256];
        size_t handler_off; /* free for the handler: how much of request it has dealt with */
        FakeH2Stream *next;
};

struct FakeH2Client {
        FakeH2Server *server;
        uv_pipe_t pipe;
        nghttp2_session *session; /* NULL for a silent server */
        FakeH2Stream *streams;
        bool is_closing;
        uint8_t buf[65536];
        FakeH2Client *next;
};

/* Called after request bytes arrive (is_end: the client half-closed). It may answer with the
 * fake_h2_* functions below, or not at all. */
typedef void (*fake_h2_handler)(FakeH2Stream *stream, bool is_end, void *userdata);

struct FakeH2Server {
        uv_loop_t *loop;
        char path[128];
        uv_pipe_t listener;
        bool is_listening;
        bool is_silent;
        fake_h2_handler handler;
        void *userdata;
        FakeH2Client *clients;
        int n_accepted;
        int n_streams_closed;
        int n_handles; /* open libuv handles: 0 once fake_h2_close() is complete */
};

static void fake_h2_client_flush(FakeH2Client *c);

static void fake_h2_on_write(uv_write_t *req, int status)
{
        free(req->data);
        free(req);
}

static void fake_h2_client_flush(FakeH2Client *c)
{
        if (!c->session || c->is_closing)
                return;
        Buf out = BUF_INIT;
        for (;;) {
                const uint8_t *data;
                ssize_t n = nghttp2_session_mem_send(c->session, &data);
                if (n <= 0)
                        break;
                if (buf_append(&out, data, (size_t)n) < 0)
                        abort();
        }
        if (out.len == 0)
                return;
        uv_write_t *req = malloc(sizeof(*req));
        uv_buf_t b = uv_buf_init(out.data, (unsigned)out.len);
        req->data = out.data;
        if (uv_write(req, (uv_stream_t *)&c->pipe, &b, 1, fake_h2_on_write) < 0) {
                free(out.data);
                free(req);
        }
}

static FakeH2Stream *fake_h2_stream(FakeH2Client *c, int32_t id)
{
        return nghttp2_session_get_stream_user_data(c->session, id);
}

static void fake_h2_copy(char *dst, size_t size, const uint8_t *v, size_t len)
{
        snprintf(dst, size, "%.*s", (int)len, (const char *)v);
}

static int fake_h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
        FakeH2Client *c = ud;
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
                return 0;
        FakeH2Stream *s = calloc(1, sizeof(*s));
        s->client = c;
        s->id = frame->hd.stream_id;
        s->chunk = 16384;
        s->next = c->streams;
        c->streams = s;
        nghttp2_session_set_stream_user_data(session, s->id, s);
        return 0;
}

static int fake_h2_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                             size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
        FakeH2Stream *s = fake_h2_stream(ud, frame->hd.stream_id);
        if (!s)
                return 0;
        if (namelen == 5 && memcmp(name, ":path", 5) == 0)
                fake_h2_copy(s->path, sizeof(s->path), value, valuelen);
        else if (namelen == 20 && memcmp(name, "containerd-namespace", 20) == 0)
                fake_h2_copy(s->ns, sizeof(s->ns), value, valuelen);
        else if (namelen == 16 && memcmp(name, "containerd-lease", 16) == 0)
                fake_h2_copy(s->lease, sizeof(s->lease), value, valuelen);
        else if (namelen == 12 && memcmp(name, "grpc-timeout", 12) == 0)
                fake_h2_copy(s->timeout, sizeof(s->timeout), value, valuelen);
        return 0;
}

static int fake_h2_on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
                           size_t len, void *ud)
{
        FakeH2Stream *s = fake_h2_stream(ud, id);
        if (s && buf_append(&s->request, data, len) < 0)
                abort();
        if (s)
                s->client->server->handler(s, false, s->client->server->userdata);
        return 0;
}

static int fake_h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
        if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
            !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
                return 0;
        FakeH2Stream *s = fake_h2_stream(ud, frame->hd.stream_id);
        if (s) {
                s->is_request_done = true;
                s->client->server->handler(s, true, s->client->server->userdata);
        }
        return 0;
}

static int fake_h2_on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *ud)
{
        FakeH2Client *c = ud;
        FakeH2Stream *s = fake_h2_stream(c, id);
        if (!s)
                return 0;
        c->server->n_streams_closed++;
        for (FakeH2Stream **p = &c->streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        buf_done(&s->request);
        buf_done(&s->response);
        free(s);
        return 0;
}

static ssize_t fake_h2_read_response(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
                                     uint32_t *data_flags, nghttp2_data_source *source, void *ud)
{
        FakeH2Stream *s = fake_h2_stream(ud, id);
        size_t avail = s->response.len - s->response_off;
        if (avail == 0) {
                if (!s->is_finishing) {
                        s->is_deferred = true;
                        return NGHTTP2_ERR_DEFERRED;
                }
                char status[16];
                snprintf(status, sizeof(status), "%d", s->status);
                nghttp2_nv trailers[] = {
                        {(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status), 0},
                        {(uint8_t *)"grpc-message", (uint8_t *)s->message, 12, strlen(s->message), 0},
                };
                nghttp2_submit_trailer(session, id, trailers, s->message[0] ? 2 : 1);
                *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
                return 0;
        }
        size_t n = avail < length ? avail : length;
        if (n > s->chunk)
                n = s->chunk;
        memcpy(buf, s->response.data + s->response_off, n);
        s->response_off += n;
        return (ssize_t)n;
}

/* Response HEADERS (200, application/grpc) with a body to come, once per stream. */
static void fake_h2_begin_response(FakeH2Stream *s)
{
        if (s->has_headers)
                return;
        s->has_headers = true;
        nghttp2_nv h[] = {
                {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
        };
        nghttp2_data_provider p = {.read_callback = fake_h2_read_response};
        nghttp2_submit_response(s->client->session, s->id, h, 2, &p);
}

static void fake_h2_resume(FakeH2Stream *s)
{
        if (s->is_deferred) {
                s->is_deferred = false;
                nghttp2_session_resume_data(s->client->session, s->id);
        }
}

/* Queues raw response bytes (already framed, or deliberately not). */
static void fake_h2_send_raw(FakeH2Stream *s, const void *data, size_t len)
{
        fake_h2_begin_response(s);
        if (buf_append(&s->response, data, len) < 0)
                abort();
        fake_h2_resume(s);
}

/* Queues one framed message. */
static void fake_h2_send_message(FakeH2Stream *s, const ProtobufCMessage *msg)
{
        size_t len = protobuf_c_message_get_packed_size(msg);
        uint8_t *b = malloc(GRPC_FRAME_PREFIX_SIZE + len + 1);
        grpc_frame_prefix(b, (uint32_t)len);
        protobuf_c_message_pack(msg, b + GRPC_FRAME_PREFIX_SIZE);
        fake_h2_send_raw(s, b, GRPC_FRAME_PREFIX_SIZE + len);
        free(b);
}

/* Ends the response with trailers after the queued body. */
static void fake_h2_finish(FakeH2Stream *s, int status, const char *message)
{
        fake_h2_begin_response(s);
        s->is_finishing = true;
        s->status = status;
        snprintf(s->message, sizeof(s->message), "%s", message ? message : "");
        fake_h2_resume(s);
}

/* The whole response is one HEADERS frame with the status, as grpc-go answers errors. */
static void fake_h2_trailers_only(FakeH2Stream *s, int status, const char *message)
{
        char st[16];
        snprintf(st, sizeof(st), "%d", status);
        nghttp2_nv h[] = {
                {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
                {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
                {(uint8_t *)"grpc-status", (uint8_t *)st, 11, strlen(st), 0},
                {(uint8_t *)"grpc-message", (uint8_t *)message, 12, strlen(message), 0},
        };
        s->has_headers = true;
        nghttp2_submit_response(s->client->session, s->id, h, 4, NULL);
}

static void fake_h2_reset(FakeH2Stream *s, uint32_t error_code)
{
        nghttp2_submit_rst_stream(s->client->session, NGHTTP2_FLAG_NONE, s->id, error_code);
}

static void fake_h2_on_client_closed(uv_handle_t *h)
{
        FakeH2Client *c = h->data;
        FakeH2Server *srv = c->server;
        srv->n_handles--;
        if (c->session)
                nghttp2_session_del(c->session); /* frees nothing of ours: streams are freed below */
        for (FakeH2Stream *s = c->streams, *next; s; s = next) {
                next = s->next;
                buf_done(&s->request);
                buf_done(&s->response);
                free(s);
        }
        free(c);
}

static void fake_h2_client_close(FakeH2Client *c)
{
        if (c->is_closing)
                return;
        c->is_closing = true;
        for (FakeH2Client **p = &c->server->clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        uv_close((uv_handle_t *)&c->pipe, fake_h2_on_client_closed);
}

static void fake_h2_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        FakeH2Client *c = h->data;
        *buf = uv_buf_init((char *)c->buf, sizeof(c->buf));
}

static void fake_h2_on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
        FakeH2Client *c = stream->data;
        if (n < 0) {
                fake_h2_client_close(c);
                return;
        }
        if (n == 0 || !c->session)
                return; /* a silent server swallows everything */
        if (nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)n) < 0) {
                fake_h2_client_close(c);
                return;
        }
        fake_h2_client_flush(c);
}

static void fake_h2_on_connection(uv_stream_t *listener, int status)
{
        FakeH2Server *srv = listener->data;
        if (status < 0)
                return;
        FakeH2Client *c = calloc(1, sizeof(*c));
        c->server = srv;
        uv_pipe_init(srv->loop, &c->pipe, 0);
        c->pipe.data = c;
        srv->n_handles++;
        if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0) {
                c->is_closing = true;
                uv_close((uv_handle_t *)&c->pipe, fake_h2_on_client_closed);
                return;
        }
        srv->n_accepted++;
        c->next = srv->clients;
        srv->clients = c;
        if (!srv->is_silent) {
                nghttp2_session_callbacks *cb;
                nghttp2_session_callbacks_new(&cb);
                nghttp2_session_callbacks_set_on_begin_headers_callback(cb, fake_h2_on_begin_headers);
                nghttp2_session_callbacks_set_on_header_callback(cb, fake_h2_on_header);
                nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, fake_h2_on_data);
                nghttp2_session_callbacks_set_on_frame_recv_callback(cb, fake_h2_on_frame_recv);
                nghttp2_session_callbacks_set_on_stream_close_callback(cb, fake_h2_on_stream_close);
                nghttp2_session_server_new(&c->session, cb, c);
                nghttp2_session_callbacks_del(cb);
                nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, NULL, 0);
        }
        uv_read_start((uv_stream_t *)&c->pipe, fake_h2_alloc, fake_h2_on_read);
        fake_h2_client_flush(c);
}

static void fake_h2_on_listener_closed(uv_handle_t *h)
{
        ((FakeH2Server *)h->data)->n_handles--;
}

/* Starts listening on path (removed first). Returns 0 or a libuv error. */
static int fake_h2_listen(FakeH2Server *srv)
{
        unlink(srv->path);
        uv_pipe_init(srv->loop, &srv->listener, 0);
        srv->listener.data = srv;
        srv->n_handles++;
        int r = uv_pipe_bind(&srv->listener, srv->path);
        if (r >= 0)
                r = uv_listen((uv_stream_t *)&srv->listener, 64, fake_h2_on_connection);
        if (r < 0) {
                uv_close((uv_handle_t *)&srv->listener, fake_h2_on_listener_closed);
                return r;
        }
        srv->is_listening = true;
        return 0;
}

static int fake_h2_start(FakeH2Server *srv, uv_loop_t *loop, const char *path, fake_h2_handler handler,
                         void *userdata)
{
        *srv = (FakeH2Server){.loop = loop, .handler = handler, .userdata = userdata};
        snprintf(srv->path, sizeof(srv->path), "%s", path);
        return fake_h2_listen(srv);
}

/* Stops accepting and removes the socket: clients then get ENOENT. */
static void fake_h2_stop_listening(FakeH2Server *srv)
{
        if (!srv->is_listening)
                return;
        srv->is_listening = false;
        uv_close((uv_handle_t *)&srv->listener, fake_h2_on_listener_closed);
        unlink(srv->path);
}

/* Closes every connection without a word, as a killed server would. */
static void fake_h2_drop_clients(FakeH2Server *srv)
{
        while (srv->clients)
                fake_h2_client_close(srv->clients);
}

/* Sends GOAWAY on every connection (and keeps them open). */
static void fake_h2_goaway(FakeH2Server *srv)
{
        for (FakeH2Client *c = srv->clients; c; c = c->next)
                if (c->session) {
                        nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                                              nghttp2_session_get_last_proc_stream_id(c->session),
                                              NGHTTP2_NO_ERROR, NULL, 0);
                        fake_h2_client_flush(c);
                }
}

/* Closes everything; done once n_handles is 0. */
static void fake_h2_close(FakeH2Server *srv)
{
        fake_h2_stop_listening(srv);
        fake_h2_drop_clients(srv);
}
