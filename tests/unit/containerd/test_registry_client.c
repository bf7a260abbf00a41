/* Registry requests on the libuv loop (registry-http.c, registry-client.c) against a small HTTP server in
 * the same loop on 127.0.0.1: token auth (401 → token → retry, the token reused), Basic, a redirect to
 * another host without the Authorization header, error statuses and bodies, connection refused, a paused
 * and resumed body, cancel and free from inside callbacks. Every test ends with uv_loop_close() == 0. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"
#include "drivers/containerd/registry-client.h"

/* ---- a tiny HTTP/1.1 server: one request per connection, then close ---- */

typedef struct Request {
        char method[8];
        char path[256];
        char host[64];
        char auth[128]; /* "" when none */
} Request;

typedef struct Server {
        uv_tcp_t tcp;
        int port;
        Request log[32];
        size_t n_log;
        size_t big_len; /* the size of /big */
} Server;

typedef struct Conn {
        uv_tcp_t tcp;
        Server *server;
        Buf in;
        uv_write_t write;
        char *out;
} Conn;

static void on_conn_closed(uv_handle_t *h)
{
        Conn *c = h->data;
        buf_done(&c->in);
        free(c->out);
        free(c);
}

static void on_written(uv_write_t *w, int status)
{
        Conn *c = w->data;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void header_value(const char *head, const char *name, char *out, size_t size)
{
        out[0] = '\0';
        const char *p = strcasestr(head, name);
        if (!p)
                return;
        p += strlen(name);
        while (*p == ' ')
                p++;
        snprintf(out, size, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* The test registry: repository "r" wants "Bearer tok" (realm /token), repository "basic" wants Basic u:p,
 * /v2/r/blobs/redir goes to localhost, /storage refuses an Authorization header. */
static void respond(Server *s, const Request *rq, int *ret_status, const char **ret_headers, Buf *body)
{
        static char headers[512];
        *ret_headers = "";
        *ret_status = 200;
        if (strncmp(rq->path, "/token", 6) == 0) {
                buf_puts(body, "{\"token\":\"tok\",\"expires_in\":600}");
        } else if (strncmp(rq->path, "/storage/", 9) == 0) {
                *ret_status = rq->auth[0] ? 400 : 200;
                buf_puts(body, rq->auth[0] ? "leaked" : "stored bytes");
        } else if (strncmp(rq->path, "/v2/basic/", 10) == 0) {
                if (strcmp(rq->auth, "Basic dTpw") != 0) { /* u:p */
                        *ret_status = 401;
                        *ret_headers = "WWW-Authenticate: Basic realm=\"test\"\r\n";
                } else
                        buf_puts(body, "basic ok");
        } else if (strncmp(rq->path, "/v2/r/", 6) != 0) {
                *ret_status = 404;
                buf_puts(body, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not "
                               "known\"}]}");
        } else if (strcmp(rq->auth, "Bearer tok") != 0) {
                *ret_status = 401;
                snprintf(headers, sizeof(headers),
                         "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:%d/token\",service=\"test\","
                         "scope=\"repository:r:pull\"\r\n",
                         s->port);
                *ret_headers = headers;
                buf_puts(body, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
                               "required\"}]}");
        } else if (strcmp(rq->path, "/v2/r/blobs/redir") == 0) {
                *ret_status = 307;
                snprintf(headers, sizeof(headers), "Location: http://localhost:%d/storage/x\r\n", s->port);
                *ret_headers = headers;
        } else if (strcmp(rq->path, "/v2/r/blobs/big") == 0) {
                for (size_t i = 0; i < s->big_len; i++)
                        buf_append(body, &(char){(char)('a' + i % 26)}, 1);
        } else if (strcmp(rq->path, "/v2/r/manifests/missing") == 0) {
                *ret_status = 404;
                buf_puts(body,
                         "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}");
        } else
                buf_printf(body, "content of %s", rq->path);
}

static void serve(Conn *c, const char *head)
{
        Server *s = c->server;
        Request rq = {0};
        sscanf(head, "%7s %255s", rq.method, rq.path);
        header_value(head, "\r\nHost:", rq.host, sizeof(rq.host));
        header_value(head, "\r\nAuthorization:", rq.auth, sizeof(rq.auth));
        if (s->n_log < 32)
                s->log[s->n_log++] = rq;
        int status;
        const char *headers;
        Buf body = BUF_INIT;
        respond(s, &rq, &status, &headers, &body);
        Buf out = BUF_INIT;
        buf_printf(&out, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n", status,
                   body.len, headers);
        if (strcmp(rq.method, "HEAD") != 0)
                buf_append(&out, body.data ? body.data : "", body.len);
        buf_done(&body);
        c->out = out.data;
        uv_buf_t b = uv_buf_init(c->out, (unsigned)out.len);
        c->write.data = c;
        uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        buf->base = malloc(suggested);
        buf->len = suggested;
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
        Conn *c = stream->data;
        if (n > 0)
                buf_append(&c->in, buf->base, (size_t)n);
        free(buf->base);
        if (n < 0) {
                uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
                return;
        }
        if (c->in.data && strstr(c->in.data, "\r\n\r\n")) {
                uv_read_stop(stream);
                serve(c, c->in.data);
        }
}

static void on_connection(uv_stream_t *server, int status)
{
        Conn *c = calloc(1, sizeof(*c));
        c->server = server->data;
        uv_tcp_init(server->loop, &c->tcp);
        c->tcp.data = c;
        assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void server_start(uv_loop_t *loop, Server *s)
{
        struct sockaddr_in addr;
        uv_ip4_addr("127.0.0.1", 0, &addr);
        uv_tcp_init(loop, &s->tcp);
        s->tcp.data = s;
        assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&addr, 0), 0);
        assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 16, on_connection), 0);
        struct sockaddr_in bound;
        int len = sizeof(bound);
        uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &len);
        s->port = ntohs(bound.sin_port);
}

static void loop_finish(uv_loop_t *loop, Server *s)
{
        uv_close((uv_handle_t *)&s->tcp, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- fetching ---- */

typedef struct Got {
        uv_loop_t *loop;
        int n_done;
        int r;
        char message[1024];
        long status;
        Buf body;
        RegistryFetch *fetch;
        int pause_every; /* on_data pauses every that many calls, resumed by a timer */
        int n_calls;
        bool must_take;   /* resumed: take the held bytes now */
        uv_timer_t timer; /* initialized when pause_every is set */
        bool cancel_in_data;
        bool cancel_in_response;
        RegistryClient *free_on_done;
} Got;

static int on_response(const RegistryHttpResponse *resp, void *userdata)
{
        Got *g = userdata;
        g->status = resp->status;
        if (g->cancel_in_response) {
                registry_fetch_cancel(g->fetch);
                g->fetch = NULL;
                return -ECANCELED;
        }
        return 0;
}

static void on_resume(uv_timer_t *timer)
{
        Got *g = timer->data;
        g->must_take = true;
        registry_fetch_resume(g->fetch);
}

static int on_data(const void *data, size_t len, void *userdata)
{
        Got *g = userdata;
        if (g->cancel_in_data) {
                registry_fetch_cancel(g->fetch);
                g->fetch = NULL;
                return 0;
        }
        if (g->pause_every && !g->must_take && ++g->n_calls % g->pause_every == 0) {
                uv_timer_start(&g->timer, on_resume, 1, 0);
                return REGISTRY_HTTP_PAUSE;
        }
        g->must_take = false;
        return buf_append(&g->body, data, len);
}

static void on_done(int r, const char *message, const RegistryHttpResponse *resp, void *userdata)
{
        Got *g = userdata;
        g->n_done++;
        g->r = r;
        g->fetch = NULL;
        snprintf(g->message, sizeof(g->message), "%s", message);
        if (g->free_on_done)
                registry_client_free(g->free_on_done);
}

static void fetch(RegistryClient *c, Got *g, bool is_head, const char *repo, const char *path)
{
        const RegistryFetchOptions o = {.is_head = is_head,
                                        .repository = repo,
                                        .path = path,
                                        .accept = "application/vnd.oci.image.manifest.v1+json, */*",
                                        .on_response = on_response,
                                        .on_data = on_data,
                                        .on_done = on_done,
                                        .userdata = g};
        assert_int_equal(registry_fetch_start(c, &o, &g->fetch), 0);
}

static void run_until(uv_loop_t *loop, const int *n_done, int want)
{
        uint64_t deadline = uv_now(loop) + 10000;
        while (*n_done < want && uv_now(loop) < deadline)
                uv_run(loop, UV_RUN_ONCE);
        assert_int_equal(*n_done, want);
}

static RegistryClient *client_new(uv_loop_t *loop, int port, const char *user, const char *password)
{
        char host[32];
        snprintf(host, sizeof(host), "127.0.0.1:%d", port);
        const RegistryClientOptions o = {
                .host = host, .plain_http = true, .username = user, .password = password};
        RegistryClient *c;
        assert_int_equal(registry_client_new(loop, &o, &c), 0);
        return c;
}

static const Request *logged(const Server *s, size_t i)
{
        assert_true(i < s->n_log);
        return &s->log[i];
}

static void test_token(void **state)
{
        uv_loop_t loop;
        Server s = {0};
        uv_loop_init(&loop);
        server_start(&loop, &s);
        RegistryClient *c = client_new(&loop, s.port, NULL, NULL);
        Got g = {0};
        fetch(c, &g, false, "r", "manifests/t");
        run_until(&loop, &g.n_done, 1);
        assert_int_equal(g.r, 0);
        assert_string_equal(g.body.data, "content of /v2/r/manifests/t");
        assert_int_equal(s.n_log, 3);
        assert_string_equal(logged(&s, 0)->auth, "");
        assert_string_equal(logged(&s, 1)->path, "/token?service=test&scope=repository%3Ar%3Apull");
        assert_string_equal(logged(&s, 2)->auth, "Bearer tok");

        /* The token is reused: one request, HEAD included. */
        Got h = {0};
        fetch(c, &h, true, "r", "manifests/t");
        run_until(&loop, &h.n_done, 1);
        assert_int_equal(h.r, 0);
        assert_int_equal(h.status, 200);
        assert_null(h.body.data);
        assert_int_equal(s.n_log, 4);
        assert_string_equal(logged(&s, 3)->method, "HEAD");
        assert_string_equal(logged(&s, 3)->auth, "Bearer tok");

        /* A redirect to another host ("localhost"): no Authorization there. */
        Got r = {0};
        fetch(c, &r, false, "r", "blobs/redir");
        run_until(&loop, &r.n_done, 1);
        assert_int_equal(r.r, 0);
        assert_string_equal(r.body.data, "stored bytes");
        const Request *last = logged(&s, s.n_log - 1);
        assert_string_equal(last->path, "/storage/x");
        assert_string_equal(last->auth, "");
        assert_non_null(strstr(last->host, "localhost"));

        registry_client_free(c);
        buf_done(&g.body);
        buf_done(&r.body);
        loop_finish(&loop, &s);
}

static void test_errors(void **state)
{
        uv_loop_t loop;
        Server s = {0};
        uv_loop_init(&loop);
        server_start(&loop, &s);
        RegistryClient *c = client_new(&loop, s.port, NULL, NULL);
        Got g = {0};
        fetch(c, &g, false, "r", "manifests/missing");
        run_until(&loop, &g.n_done, 1);
        assert_int_equal(g.r, -ENOENT);
        char want[256];
        snprintf(want, sizeof(want),
                 "GET http://127.0.0.1:%d/v2/r/manifests/missing: HTTP 404 (MANIFEST_UNKNOWN: manifest "
                 "unknown)",
                 s.port);
        assert_string_equal(g.message, want);
        Got n = {0};
        fetch(c, &n, false, "other", "manifests/x");
        run_until(&loop, &n.n_done, 1);
        assert_int_equal(n.r, -ENOENT);
        assert_non_null(strstr(n.message, "NAME_UNKNOWN: repository name not known"));
        registry_client_free(c);

        /* Nobody listening. */
        Server gone = {0};
        server_start(&loop, &gone);
        uv_close((uv_handle_t *)&gone.tcp, NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
        c = client_new(&loop, gone.port, NULL, NULL);
        Got refused = {0};
        fetch(c, &refused, false, "r", "manifests/t");
        run_until(&loop, &refused.n_done, 1);
        assert_int_equal(refused.r, -ECONNREFUSED);
        assert_non_null(strstr(refused.message, "GET http://127.0.0.1:"));
        registry_client_free(c);
        loop_finish(&loop, &s);
}

static void test_basic(void **state)
{
        uv_loop_t loop;
        Server s = {0};
        uv_loop_init(&loop);
        server_start(&loop, &s);
        RegistryClient *c = client_new(&loop, s.port, "u", "p");
        Got g = {0};
        fetch(c, &g, false, "basic", "x");
        run_until(&loop, &g.n_done, 1);
        assert_int_equal(g.r, 0);
        assert_string_equal(g.body.data, "basic ok");
        assert_int_equal(s.n_log, 2);
        assert_string_equal(logged(&s, 1)->auth, "Basic dTpw");
        Got again = {0};
        fetch(c, &again, false, "basic", "y"); /* sent with the first request now */
        run_until(&loop, &again.n_done, 1);
        assert_int_equal(again.r, 0);
        assert_int_equal(s.n_log, 3);
        registry_client_free(c);
        buf_done(&g.body);
        buf_done(&again.body);

        c = client_new(&loop, s.port, NULL, NULL);
        Got none = {0};
        fetch(c, &none, false, "basic", "x");
        run_until(&loop, &none.n_done, 1);
        assert_int_equal(none.r, -EACCES);
        assert_non_null(strstr(none.message, "no credentials"));
        registry_client_free(c);

        c = client_new(&loop, s.port, "u", "wrong");
        Got wrong = {0};
        fetch(c, &wrong, false, "basic", "x");
        run_until(&loop, &wrong.n_done, 1);
        assert_int_equal(wrong.r, -EACCES);
        assert_non_null(strstr(wrong.message, "authentication failed"));
        assert_null(strstr(wrong.message, "wrong")); /* no password in messages */
        registry_client_free(c);
        loop_finish(&loop, &s);
}

static void test_pause(void **state)
{
        uv_loop_t loop;
        Server s = {.big_len = 3 << 20};
        uv_loop_init(&loop);
        server_start(&loop, &s);
        RegistryClient *c = client_new(&loop, s.port, NULL, NULL);
        Got g = {.pause_every = 3};
        uv_timer_init(&loop, &g.timer);
        g.timer.data = &g;
        fetch(c, &g, false, "r", "blobs/big");
        run_until(&loop, &g.n_done, 1);
        assert_int_equal(g.r, 0);
        assert_true(g.n_calls >= 6); /* it did pause */
        assert_int_equal(g.body.len, s.big_len);
        for (size_t i = 0; i < s.big_len; i++)
                if (g.body.data[i] != (char)('a' + i % 26))
                        fail_msg("byte %zu differs", i);
        uv_close((uv_handle_t *)&g.timer, NULL);
        registry_client_free(c);
        buf_done(&g.body);
        loop_finish(&loop, &s);
}

static void test_cancel_and_free(void **state)
{
        uv_loop_t loop;
        Server s = {.big_len = 1 << 20};
        uv_loop_init(&loop);
        server_start(&loop, &s);
        RegistryClient *c = client_new(&loop, s.port, NULL, NULL);

        /* Cancelled from its own on_data: no callback; the client goes on. */
        Got cancelled = {.cancel_in_data = true};
        Got other = {0};
        fetch(c, &cancelled, false, "r", "blobs/big");
        fetch(c, &other, false, "r", "manifests/t");
        run_until(&loop, &other.n_done, 1);
        for (int i = 0; i < 50 && cancelled.fetch; i++)
                uv_run(&loop, UV_RUN_ONCE);
        assert_null(cancelled.fetch);
        assert_int_equal(cancelled.n_done, 0);
        buf_done(&other.body);

        /* Cancelled from its own on_response, which for a HEAD runs once the transfer is over. */
        Got head = {.cancel_in_response = true};
        Got after = {0};
        fetch(c, &head, true, "r", "manifests/t");
        for (int i = 0; i < 1000 && head.fetch; i++)
                uv_run(&loop, UV_RUN_ONCE);
        assert_int_equal(head.status, 200);
        fetch(c, &after, false, "r", "manifests/t");
        run_until(&loop, &after.n_done, 1);
        assert_null(head.fetch);
        assert_int_equal(head.n_done, 0);
        buf_done(&after.body);

        /* The client freed from one fetch's on_done while another is under way: no more callbacks. */
        Got first = {.free_on_done = c};
        Got second = {0};
        fetch(c, &first, false, "r", "manifests/missing");
        fetch(c, &second, false, "r", "blobs/big");
        run_until(&loop, &first.n_done, 1);
        for (int i = 0; i < 20; i++)
                uv_run(&loop, UV_RUN_NOWAIT);
        assert_int_equal(second.n_done, 0);
        buf_done(&second.body);
        loop_finish(&loop, &s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_token),           cmocka_unit_test(test_errors),
                cmocka_unit_test(test_basic),           cmocka_unit_test(test_pause),
                cmocka_unit_test(test_cancel_and_free),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
