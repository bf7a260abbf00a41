/* The gRPC transport against a fake HTTP/2 server on the test's loop (tests/fakes/fake-h2-server.h):
 * messages split across and coalesced within DATA frames, Trailers-Only errors, server and bidirectional
 * streaming, size limits, deadlines, cancellation, connection loss and reconnection with back-off,
 * GOAWAY, a server that never speaks, and closing from inside callbacks. Every test ends with
 * uv_loop_close() == 0 and checks that no callback ran twice. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/containerd/grpc-internal.h"
#include "drivers/containerd/grpc.h"
#include "tests/fakes/fake-h2-server.h"

#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define VERSION_DESC (&containerd__services__version__v1__version_response__descriptor)
typedef Containerd__Services__Version__V1__VersionResponse VersionReply;

typedef struct T {
        uv_loop_t loop;
        char dir[64];
        char path[128];
        FakeH2Server srv;
        GrpcConn *conn;
        GrpcConnState states[64];
        int reasons[64];
        uint64_t state_at[64];
        size_t n_states;
        int r_start_in_failure;
        int n_hanging; /* requests to /t.S/Hang the server has seen */
} T;

/* The outcome of one call; n_done must never exceed 1. */
typedef struct Res {
        T *t;
        int n_done;
        int r;
        char message[256];
        char version[128];
        char revision[128];
        char seen[256]; /* streamed messages, comma separated */
        int n_messages;
        int cancel_after; /* on_message: cancel the call after this many (0: never) */
        int fail_after;   /* on_message: return -EBADMSG after this many */
        GrpcCall *call;
        uint64_t done_at;
        bool close_conn; /* on_done closes the connection */
} Res;

static const Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

/* ---- the fake server's behaviour, by path ---- */

static void send_version(FakeH2Stream *s, const char *version, const char *revision)
{
        VersionReply v = CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
        v.version = (char *)version;
        v.revision = (char *)revision;
        fake_h2_send_message(s, &v.base);
}

static void handle(FakeH2Stream *s, bool is_end, void *userdata)
{
        T *t = userdata;
        if (strcmp(s->path, "/t.S/Echo") == 0) {
                /* Bidirectional: send back each request byte as it arrives (lock-step for the client). */
                fake_h2_send_raw(s, s->request.data + s->handler_off, s->request.len - s->handler_off);
                s->handler_off = s->request.len;
                if (is_end)
                        fake_h2_finish(s, 0, NULL);
                return;
        }
        if (!is_end)
                return;
        char who[300];
        if (strcmp(s->path, "/t.S/Unary") == 0) {
                snprintf(who, sizeof(who), "%s|%s", s->ns, s->lease);
                s->chunk = 1; /* every byte in its own DATA frame, the prefix too */
                send_version(s, who, s->timeout);
                fake_h2_finish(s, 0, NULL);
        } else if (strcmp(s->path, "/t.S/Missing") == 0)
                fake_h2_trailers_only(s, 5, "container%20%22c1%22:%20not%20found");
        else if (strcmp(s->path, "/t.S/Late") == 0) {
                send_version(s, "partial", "");
                fake_h2_finish(s, 9, "busy%21");
        } else if (strcmp(s->path, "/t.S/Stream") == 0 || strcmp(s->path, "/t.S/StreamSplit") == 0) {
                /* Queued together: one DATA frame carries all three, unless split into 3-byte frames. */
                s->chunk = strcmp(s->path, "/t.S/Stream") == 0 ? 16384 : 3;
                send_version(s, "m0", "");
                send_version(s, "m1", "");
                send_version(s, "m2", "");
                fake_h2_finish(s, 0, NULL);
        } else if (strcmp(s->path, "/t.S/Big") == 0) {
                uint8_t big[GRPC_FRAME_PREFIX_SIZE + 1000] = {0};
                grpc_frame_prefix(big, 1000);
                fake_h2_send_raw(s, big, sizeof(big));
                fake_h2_finish(s, 0, NULL);
        } else if (strcmp(s->path, "/t.S/Twice") == 0) {
                send_version(s, "one", "");
                send_version(s, "two", "");
                fake_h2_finish(s, 0, NULL);
        } else if (strcmp(s->path, "/t.S/None") == 0)
                fake_h2_finish(s, 0, NULL);
        else if (strcmp(s->path, "/t.S/Reset") == 0)
                fake_h2_reset(s, NGHTTP2_INTERNAL_ERROR);
        else if (strcmp(s->path, "/t.S/Hang") == 0)
                t->n_hanging++;
        else
                fake_h2_trailers_only(s, 12, "unknown method");
}

/* ---- running the loop ---- */

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

static void run_until_(T *t, bool (*pred)(const void *), const void *arg, uint64_t ms, const char *what)
{
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&t->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, ms, 0);
        while (!pred(arg) && !expired)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
        if (!pred(arg))
                fail_msg("timed out after %llu ms waiting for %s", (unsigned long long)ms, what);
}
#define run_until(t, pred, arg, ms) run_until_(t, pred, arg, ms, #pred "(" #arg ")")

static bool is_done(const void *arg)
{
        return ((const Res *)arg)->n_done > 0;
}

static bool is_ready(const void *arg)
{
        const T *t = arg;
        return t->conn && grpc_conn_get_state(t->conn) == GRPC_CONN_READY;
}

static bool server_idle(const void *arg)
{
        const T *t = arg;
        return t->srv.n_handles == 0;
}

/* A few more iterations, so that a second callback would show. */
static void settle(T *t)
{
        for (int i = 0; i < 10; i++)
                uv_run(&t->loop, UV_RUN_NOWAIT);
}

/* ---- callbacks ---- */

static void on_unexpected_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        fail_msg("a call refused by grpc_call_start() completed: %d %s", r, message);
}

static void on_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
        T *t = userdata;
        if (t->n_states < ARRAY_SIZE(t->states)) {
                t->states[t->n_states] = state;
                t->reasons[t->n_states] = reason;
                t->state_at[t->n_states] = uv_now(&t->loop);
                t->n_states++;
        }
        if (state == GRPC_CONN_TRANSIENT_FAILURE)
                t->r_start_in_failure = grpc_call_start(conn, "/t.S/Unary", &empty.base, NULL, NULL,
                                                        on_unexpected_done, NULL, NULL);
}

static void res_done(Res *res, int r, const char *message)
{
        res->n_done++;
        res->r = r;
        res->done_at = uv_now(&res->t->loop);
        snprintf(res->message, sizeof(res->message), "%s", message);
}

static void on_unary(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        Res *res = userdata;
        const VersionReply *v = (const void *)reply;
        assert_true((r < 0) == (reply == NULL));
        if (v) {
                snprintf(res->version, sizeof(res->version), "%s", v->version);
                snprintf(res->revision, sizeof(res->revision), "%s", v->revision);
        }
        res_done(res, r, message);
}

static int on_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        Res *res = userdata;
        assert_ptr_equal(call, res->call);
        assert_int_equal(res->n_done, 0);
        VersionReply *v = containerd__services__version__v1__version_response__unpack(NULL, len, data);
        assert_non_null(v);
        size_t off = strlen(res->seen);
        snprintf(res->seen + off, sizeof(res->seen) - off, "%s%s", off ? "," : "", v->version);
        containerd__services__version__v1__version_response__free_unpacked(v, NULL);
        res->n_messages++;
        if (res->cancel_after && res->n_messages == res->cancel_after)
                grpc_call_cancel(call);
        if (res->fail_after && res->n_messages == res->fail_after)
                return -EBADMSG;
        return 0;
}

static void on_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        Res *res = userdata;
        assert_ptr_equal(call, res->call);
        res_done(res, r, message);
        if (res->close_conn) {
                grpc_conn_close(res->t->conn);
                res->t->conn = NULL;
        }
}

static void unary(T *t, const char *path, const GrpcCallOptions *opts, Res *res)
{
        *res = (Res){.t = t};
        assert_int_equal(grpc_unary(t->conn, path, &empty.base, VERSION_DESC, opts, on_unary, res), 0);
        run_until(t, is_done, res, 5000);
}

static void start(T *t, const char *path, const GrpcCallOptions *opts, const ProtobufCMessage *req, Res *res)
{
        res->t = t;
        assert_int_equal(grpc_call_start(t->conn, path, req ? req : &empty.base, opts, on_message, on_done,
                                         res, &res->call),
                         0);
}

/* ---- setup ---- */

static void t_connect(T *t, GrpcConnOptions opts)
{
        opts.address = t->path;
        opts.on_state = on_state;
        opts.userdata = t;
        assert_int_equal(grpc_conn_new(&t->loop, &opts, &t->conn), 0);
        assert_int_equal(grpc_conn_get_state(t->conn), GRPC_CONN_CONNECTING);
}

static int setup(void **state)
{
        T *t = calloc(1, sizeof(*t));
        snprintf(t->dir, sizeof(t->dir), "/tmp/kuke-grpc-XXXXXX");
        if (!t || !mkdtemp(t->dir))
                return -1;
        snprintf(t->path, sizeof(t->path), "%s/grpc.sock", t->dir);
        if (uv_loop_init(&t->loop) < 0 || fake_h2_start(&t->srv, &t->loop, t->path, handle, t) < 0)
                return -1;
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        T *t = *state;
        if (t->conn)
                grpc_conn_close(t->conn);
        fake_h2_close(&t->srv);
        run_until(t, server_idle, t, 5000);
        uv_run(&t->loop, UV_RUN_DEFAULT); /* the connection's timers and sockets */
        assert_int_equal(uv_loop_close(&t->loop), 0);
        unlink(t->path);
        rmdir(t->dir);
        free(t);
        return 0;
}

/* ---- tests ---- */

static void test_unary_headers_and_split_frames(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        Res res;
        const GrpcCallOptions opts = {.ns = "kukeon-x", .lease = "lease-1", .timeout_ms = 5000};
        unary(t, "/t.S/Unary", &opts, &res);
        assert_int_equal(res.r, 0);
        assert_string_equal(res.message, "");
        assert_string_equal(res.version, "kukeon-x|lease-1"); /* the headers the server saw */
        assert_string_equal(res.revision, "5750m");           /* grpc_server_timeout(): ours expires first */
        assert_int_equal(grpc_conn_get_state(t->conn), GRPC_CONN_READY);

        /* Defaults: the connection's namespace and deadline. */
        grpc_conn_close(t->conn);
        t_connect(t, (GrpcConnOptions){.default_namespace = "kukeon-system", .default_timeout_ms = 1500});
        unary(t, "/t.S/Unary", NULL, &res);
        assert_string_equal(res.version, "kukeon-system|");
        assert_string_equal(res.revision, "1900m");
        const GrpcCallOptions none = {.timeout_ms = GRPC_NO_TIMEOUT};
        unary(t, "/t.S/Unary", &none, &res);
        assert_string_equal(res.revision, "");
        settle(t);
        assert_int_equal(res.n_done, 1);
}

static void test_errors(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        Res res;
        unary(t, "/t.S/Missing", NULL, &res); /* Trailers-Only, percent-encoded message */
        assert_int_equal(res.r, -ENOENT);
        assert_string_equal(res.message, "container \"c1\": not found");
        unary(t, "/t.S/Late", NULL, &res); /* a message, then an error in the trailers */
        assert_int_equal(res.r, -EBUSY);
        assert_string_equal(res.message, "busy!");
        unary(t, "/t.S/Nope", NULL, &res);
        assert_int_equal(res.r, -EOPNOTSUPP);
        unary(t, "/t.S/Reset", NULL, &res); /* RST_STREAM without a status: UNAVAILABLE */
        assert_int_equal(res.r, -ENOTCONN);
        assert_non_null(strstr(res.message, "without grpc-status"));
        unary(t, "/t.S/Twice", NULL, &res); /* a unary method must answer exactly once */
        assert_int_equal(res.r, -EPROTO);
        unary(t, "/t.S/None", NULL, &res);
        assert_int_equal(res.r, -EPROTO);
        /* The connection survived all of it. */
        unary(t, "/t.S/Unary", NULL, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(t->srv.n_accepted, 1);
}

static void test_server_streaming(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        Res coalesced = {0}, split = {0};
        start(t, "/t.S/Stream", NULL, NULL, &coalesced);
        start(t, "/t.S/StreamSplit", NULL, NULL, &split);
        run_until(t, is_done, &coalesced, 5000);
        run_until(t, is_done, &split, 5000);
        assert_int_equal(coalesced.r, 0);
        assert_string_equal(coalesced.seen, "m0,m1,m2");
        assert_int_equal(split.r, 0);
        assert_string_equal(split.seen, "m0,m1,m2");

        /* A callback may cancel its own call (nothing more arrives) or refuse a message. */
        Res cancelled = {.cancel_after = 1}, refused = {.fail_after = 2};
        start(t, "/t.S/StreamSplit", NULL, NULL, &cancelled);
        start(t, "/t.S/Stream", NULL, NULL, &refused);
        run_until(t, is_done, &refused, 5000);
        assert_int_equal(refused.r, -EBADMSG);
        assert_string_equal(refused.seen, "m0,m1");
        Res after;
        unary(t, "/t.S/Unary", NULL, &after);
        settle(t);
        assert_string_equal(cancelled.seen, "m0");
        assert_int_equal(cancelled.n_done, 0);
        assert_int_equal(refused.n_done, 1);
        assert_int_equal(grpc_conn_n_calls(t->conn), 0);
}

typedef struct Bidi {
        Res res;
        int n_sent;
} Bidi;

static int on_bidi_message(GrpcCall *call, const uint8_t *data, size_t len, void *userdata)
{
        Bidi *b = userdata;
        on_message(call, data, len, &b->res);
        /* Lock-step, like Content.Write: the next request only after the previous answer. */
        if (b->n_sent < 3) {
                char v[16];
                snprintf(v, sizeof(v), "b%d", b->n_sent++);
                VersionReply m = CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
                m.version = v;
                assert_int_equal(grpc_call_send(call, &m.base), 0);
        } else {
                assert_int_equal(grpc_call_close_send(call), 0);
                assert_int_equal(grpc_call_send(call, &empty.base), -EPIPE);
        }
        return 0;
}

static void on_bidi_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        on_done(call, r, message, &((Bidi *)userdata)->res);
}

static void test_bidi_streaming(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        Bidi b = {.res = {.t = t}};
        VersionReply first = CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
        first.version = "start";
        const GrpcCallOptions opts = {.is_client_streaming = true};
        assert_int_equal(grpc_call_start(t->conn, "/t.S/Echo", &first.base, &opts, on_bidi_message,
                                         on_bidi_done, &b, &b.res.call),
                         0);
        run_until(t, is_done, &b.res, 5000);
        assert_int_equal(b.res.r, 0);
        assert_string_equal(b.res.seen, "start,b0,b1,b2");
}

static void test_oversize_message(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){.max_message_size = 64});
        Res res;
        unary(t, "/t.S/Big", NULL, &res);
        assert_int_equal(res.r, -EMSGSIZE);
        /* Requests over the limit are refused up front. */
        char big[100];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        VersionReply m = CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
        m.version = big;
        assert_int_equal(grpc_unary(t->conn, "/t.S/Unary", &m.base, VERSION_DESC, NULL, on_unary, &res),
                         -EMSGSIZE);
        unary(t, "/t.S/Unary", NULL, &res);
        assert_int_equal(res.r, 0);
}

static bool server_saw_close(const void *arg)
{
        return ((const T *)arg)->srv.n_streams_closed > 0;
}

static void test_deadline_and_cancel(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        run_until(t, is_ready, t, 5000);
        Res res = {0};
        const GrpcCallOptions opts = {.timeout_ms = 50};
        uint64_t started = uv_now(&t->loop);
        start(t, "/t.S/Hang", &opts, NULL, &res);
        run_until(t, is_done, &res, 5000);
        assert_int_equal(res.r, -ETIMEDOUT);
        assert_true(res.done_at - started >= 50);
        assert_string_equal(res.message, "deadline of 50 ms exceeded");
        run_until(t, server_saw_close, t, 5000); /* we reset the stream */

        Res cancelled = {0};
        start(t, "/t.S/Hang", NULL, NULL, &cancelled);
        assert_int_equal(grpc_conn_n_calls(t->conn), 1);
        grpc_call_cancel(cancelled.call);
        assert_int_equal(grpc_conn_n_calls(t->conn), 0);
        Res after;
        const GrpcCallOptions long_deadline = {.timeout_ms = 60000};
        unary(t, "/t.S/Unary", &long_deadline, &after);
        settle(t);
        assert_int_equal(cancelled.n_done, 0);
        assert_int_equal(res.n_done, 1);
        /* no call waits on a deadline any more: no timer is left to wake an idle daemon */
        assert_int_equal(after.r, 0);
        assert_false(uv_is_active((uv_handle_t *)&t->conn->deadline_timer));
}

typedef struct Three {
        Res a, b, c;
} Three;

static bool all_three_done(const void *arg)
{
        const Three *x = arg;
        return x->a.n_done && x->b.n_done && x->c.n_done;
}

static bool hanging(const void *arg)
{
        return ((const T *)arg)->n_hanging >= 3;
}

static size_t count_state(const T *t, GrpcConnState state)
{
        size_t n = 0;
        for (size_t i = 0; i < t->n_states; i++)
                n += t->states[i] == state;
        return n;
}

/* Connects and leaves three calls waiting on the server; then lets the server do what(), and checks
 * that all three end with -ENOTCONN. */
static void three_calls_cut_off(T *t, Three *x, void (*what)(FakeH2Server *srv))
{
        t_connect(t, (GrpcConnOptions){.backoff_initial_ms = 10});
        start(t, "/t.S/Hang", NULL, NULL, &x->a);
        start(t, "/t.S/Hang", NULL, NULL, &x->b);
        start(t, "/t.S/Hang", NULL, NULL, &x->c);
        run_until(t, hanging, t, 5000);
        what(&t->srv);
        run_until(t, all_three_done, x, 5000);
        assert_int_equal(x->a.r, -ENOTCONN);
        assert_int_equal(x->b.r, -ENOTCONN);
        assert_int_equal(x->c.r, -ENOTCONN);
}

static void test_connection_lost(void **state)
{
        T *t = *state;
        Three x = {0};
        three_calls_cut_off(t, &x, fake_h2_drop_clients);
        assert_non_null(strstr(x.a.message, "lost the connection"));
        run_until(t, is_ready, t, 5000);
        /* READY, TRANSIENT_FAILURE (reset), CONNECTING, READY */
        assert_int_equal(t->n_states, 4);
        assert_int_equal(t->states[1], GRPC_CONN_TRANSIENT_FAILURE);
        assert_int_equal(t->reasons[1], -ECONNRESET);
        assert_int_equal(t->r_start_in_failure, -ENOTCONN);
        Res res;
        unary(t, "/t.S/Unary", NULL, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(t->srv.n_accepted, 2);
        settle(t);
        assert_int_equal(x.a.n_done + x.b.n_done + x.c.n_done, 3);
}

static bool six_attempts(const void *arg)
{
        return count_state(arg, GRPC_CONN_CONNECTING) >= 6;
}

static void test_backoff_while_server_gone(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){.backoff_initial_ms = 10, .backoff_max_ms = 40});
        run_until(t, is_ready, t, 5000);
        fake_h2_stop_listening(&t->srv);
        fake_h2_drop_clients(&t->srv);
        run_until(t, six_attempts, t, 5000);
        /* Delays between attempts double from 10 ms and stop at 40 ms. A timer never fires early, so
         * each gap is at least its delay; how much later it fires depends on the machine, so only the
         * lower bounds are asserted (no timed assertion). */
        uint64_t prev_at = 0;
        size_t n_attempts = 0;
        for (size_t i = 0; i < t->n_states; i++) {
                if (t->states[i] == GRPC_CONN_TRANSIENT_FAILURE && i > 1)
                        assert_int_equal(t->reasons[i], -ENOENT);
                if (t->states[i] != GRPC_CONN_CONNECTING)
                        continue;
                if (n_attempts++ > 0) {
                        uint64_t gap = t->state_at[i] - prev_at;
                        uint64_t delay = n_attempts - 1 >= 3 ? 40 : 10u << (n_attempts - 2);
                        assert_true(gap + 1 >= delay); /* uv_now() has a 1 ms tick */
                }
                prev_at = t->state_at[i];
        }
        assert_true(n_attempts >= 6);
        /* Between attempts calls fail at once; during one they wait for it. */
        Res probe = {.t = t};
        bool is_connecting = grpc_conn_get_state(t->conn) == GRPC_CONN_CONNECTING;
        assert_int_equal(
                grpc_unary(t->conn, "/t.S/Unary", &empty.base, VERSION_DESC, NULL, on_unary, &probe),
                is_connecting ? 0 : -ENOTCONN);
        if (is_connecting)
                run_until(t, is_done, &probe, 5000);
        assert_int_equal(fake_h2_listen(&t->srv), 0);
        run_until(t, is_ready, t, 5000);
        Res res;
        unary(t, "/t.S/Unary", NULL, &res);
        assert_int_equal(res.r, 0);
        settle(t);
        assert_int_equal(probe.n_done, is_connecting ? 1 : 0);
}

static void test_goaway(void **state)
{
        T *t = *state;
        Three x = {0};
        three_calls_cut_off(t, &x, fake_h2_goaway);
        run_until(t, is_ready, t, 5000);
        Res res;
        unary(t, "/t.S/Unary", NULL, &res);
        assert_int_equal(res.r, 0);
}

static bool gave_up(const void *arg)
{
        return count_state(arg, GRPC_CONN_TRANSIENT_FAILURE) > 0;
}

static void test_silent_server(void **state)
{
        T *t = *state;
        t->srv.is_silent = true; /* accepts, reads, never sends SETTINGS */
        t_connect(t, (GrpcConnOptions){.handshake_timeout_ms = 150, .backoff_initial_ms = 60000});
        Res timed = {0}, waiting = {0};
        const GrpcCallOptions opts = {.timeout_ms = 50};
        start(t, "/t.S/Unary", &opts, NULL, &timed);
        start(t, "/t.S/Unary", NULL, NULL, &waiting);
        run_until(t, is_done, &timed, 5000);
        assert_int_equal(timed.r, -ETIMEDOUT);
        run_until(t, gave_up, t, 5000);
        assert_int_equal(t->reasons[t->n_states - 1], -ETIMEDOUT);
        run_until(t, is_done, &waiting, 5000);
        assert_int_equal(waiting.r, -ENOTCONN);
        assert_int_equal(t->srv.n_accepted, 1);
}

static void test_close_with_calls_in_flight(void **state)
{
        T *t = *state;
        t_connect(t, (GrpcConnOptions){0});
        Three x = {0};
        const GrpcCallOptions opts = {.timeout_ms = 30};
        x.a.close_conn = true; /* its deadline closes the connection from inside on_done */
        start(t, "/t.S/Hang", &opts, NULL, &x.a);
        start(t, "/t.S/Hang", NULL, NULL, &x.b);
        start(t, "/t.S/Stream", NULL, NULL, &x.c);
        run_until(t, all_three_done, &x, 5000);
        assert_null(t->conn);
        assert_int_equal(x.a.r, -ETIMEDOUT);
        assert_int_equal(x.b.r, -ECANCELED);
        assert_int_equal(x.c.r == 0 || x.c.r == -ECANCELED, 1);

        /* Closed from outside: every call ends before grpc_conn_close() returns. */
        t_connect(t, (GrpcConnOptions){0});
        Res y = {0};
        start(t, "/t.S/Hang", NULL, NULL, &y);
        grpc_conn_close(t->conn);
        t->conn = NULL;
        assert_int_equal(y.n_done, 1);
        assert_int_equal(y.r, -ECANCELED);
        settle(t);
        assert_int_equal(x.a.n_done + x.b.n_done + x.c.n_done + y.n_done, 4);
}

static void test_no_server(void **state)
{
        T *t = *state;
        fake_h2_stop_listening(&t->srv);
        t_connect(t, (GrpcConnOptions){.backoff_initial_ms = 20});
        Res res = {0};
        start(t, "/t.S/Unary", NULL, NULL, &res); /* waits for the first attempt */
        run_until(t, is_done, &res, 5000);
        assert_int_equal(res.r, -ENOTCONN);
        assert_int_equal(t->states[0], GRPC_CONN_TRANSIENT_FAILURE);
        assert_int_equal(t->reasons[0], -ENOENT);
        assert_int_equal(t->r_start_in_failure, -ENOTCONN);
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN); /* as the daemon does: a peer gone under a write is EPIPE, not death */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unary_headers_and_split_frames, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_server_streaming, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bidi_streaming, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversize_message, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deadline_and_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_connection_lost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_backoff_while_server_gone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_goaway, setup, teardown),
                cmocka_unit_test_setup_teardown(test_silent_server, setup, teardown),
                cmocka_unit_test_setup_teardown(test_close_with_calls_in_flight, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_server, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
