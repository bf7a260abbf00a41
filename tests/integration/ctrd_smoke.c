/* Integration checks of the containerd transport and operations against a private containerd started by
 * test_containerd_transport.sh:
 *
 *   ctrd_smoke ADDRESS RESTART_COMMAND SCRATCH_DIR
 *
 * RESTART_COMMAND (run with /bin/sh -c) restarts that containerd; SCRATCH_DIR takes a socket of our own.
 * Each step drives the loop until its callbacks have run, with a watchdog so a hang fails instead of
 * blocking the suite. Prints one line per step; exits 0 when all pass. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/grpc.h"

#include "github.com/containerd/containerd/api/services/events/v1/events.pb-c.h"
#include "github.com/containerd/containerd/api/services/images/v1/images.pb-c.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define NS_MAIN  "kukeon-smoke"
#define NS_AFTER "kukeon-smoke-after"
#define EVENTS   "/containerd.services.events.v1.Events/Subscribe"

/* A test program: a failed check ends it. */
static _Noreturn _printf_(2, 3) void die(int line, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "ctrd_smoke.c:%d: FAIL: ", line);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        exit(1);
}

#define CHECK(cond)                                                                                         \
        do {                                                                                                \
                if (!(cond))                                                                                \
                        die(__LINE__, "%s", #cond);                                                         \
        } while (0)
#define CHECK_R(res, want)                                                                                  \
        do {                                                                                                \
                if ((res).r != (want))                                                                      \
                        die(__LINE__, "got %d (%s) \"%s\", wanted %d (%s)", (res).r, strerror(-(res).r),    \
                            (res).message, (want), strerror(-(want)));                                      \
        } while (0)

/* The outcome of one asynchronous operation. */
typedef struct Result {
        int n_done; /* callbacks seen: must end up exactly 1 */
        int r;
        char message[512];
        uint64_t done_at; /* uv_now() */
} Result;

typedef struct Smoke {
        uv_loop_t loop;
        GrpcConn *conn;
        const char *address;
        const char *restart_cmd;
        const char *scratch;

        int n_ready, n_failures;
        int failure_reason;
        int r_start_while_down; /* what a call started from the TRANSIENT_FAILURE callback returned */

        CtrdSubscription *sub;
        Result sub_end;
        int n_events;
        char last_created_ns[128];
} Smoke;

static void result_set(Result *res, uv_loop_t *loop, int r, const char *message)
{
        res->n_done++;
        res->r = r;
        res->done_at = uv_now(loop);
        snprintf(res->message, sizeof(res->message), "%s", message ? message : "(null)");
}

/* ---- running the loop ---- */

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

/* Runs the loop until pred(arg) holds; fails after timeout_ms. */
static void run_until_(Smoke *s, bool (*pred)(const void *arg), const void *arg, uint64_t timeout_ms,
                       const char *what, int line)
{
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&s->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, timeout_ms, 0);
        while (!pred(arg) && !expired)
                uv_run(&s->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(&s->loop, UV_RUN_NOWAIT); /* completes the close: watchdog lives on this stack */
        if (!pred(arg))
                die(line, "timed out after %llu ms waiting for %s", (unsigned long long)timeout_ms, what);
}
#define run_until(s, pred, arg, ms) run_until_(s, pred, arg, ms, #pred "(" #arg ")", __LINE__)

static bool is_done(const void *arg)
{
        return ((const Result *)arg)->n_done > 0;
}

/* Runs the loop a little longer so that a second callback, if there were one, would show. */
static void settle(Smoke *s)
{
        for (int i = 0; i < 20; i++)
                uv_run(&s->loop, UV_RUN_NOWAIT);
}

/* ---- callbacks ---- */

typedef struct Op {
        Smoke *s;
        Result res;
} Op;

static void on_op_done(int r, const char *message, void *userdata)
{
        Op *op = userdata;
        result_set(&op->res, &op->s->loop, r, message);
}

static void on_version(int r, const char *message, const CtrdVersion *v, void *userdata)
{
        Op *op = userdata;
        result_set(&op->res, &op->s->loop, r, r >= 0 ? v->version : message);
}

static void on_call_done(GrpcCall *call, int r, const char *message, void *userdata)
{
        Op *op = userdata;
        result_set(&op->res, &op->s->loop, r, message);
}

static void on_unary_done(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        Op *op = userdata;
        result_set(&op->res, &op->s->loop, r, message);
}

static void on_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
        Smoke *s = userdata;
        printf("   connection %s%s%s\n", grpc_conn_state_to_string(state), reason ? ": " : "",
               reason ? strerror(-reason) : "");
        if (state == GRPC_CONN_READY)
                s->n_ready++;
        else if (state == GRPC_CONN_TRANSIENT_FAILURE) {
                s->n_failures++;
                s->failure_reason = reason;
                /* Calls fail fast while containerd is away; no callback may follow. */
                static Op unexpected;
                unexpected.s = s;
                s->r_start_while_down = ctrd_version(conn, on_version, &unexpected);
        }
}

static void on_event(const CtrdEvent *ev, void *userdata)
{
        Smoke *s = userdata;
        printf("   event %s ns=%s type=%s name=%s\n", ev->topic, ev->ns, ctrd_event_type_to_string(ev->type),
               ev->name);
        s->n_events++;
        if (ev->type == CTRD_EVENT_NAMESPACE_CREATE)
                snprintf(s->last_created_ns, sizeof(s->last_created_ns), "%s", ev->name);
}

static void on_events_end(int r, const char *message, void *userdata)
{
        Smoke *s = userdata;
        s->sub = NULL; /* freed by the driver after this returns */
        result_set(&s->sub_end, &s->loop, r, message);
}

static void subscribe(Smoke *s)
{
        const char *filters[] = {"topic~=\"/namespaces/\""};
        s->sub_end = (Result){0};
        CHECK(ctrd_events_subscribe(s->conn, filters, 1, on_event, on_events_end, s, &s->sub) == 0);
}

static bool is_ready(const void *arg)
{
        return grpc_conn_get_state(((const Smoke *)arg)->conn) == GRPC_CONN_READY;
}

/* ---- steps ---- */

static void step_version(Smoke *s)
{
        Op op = {.s = s};
        CHECK(ctrd_version(s->conn, on_version, &op) == 0);
        run_until(s, is_done, &op.res, 10000);
        CHECK_R(op.res, 0);
        CHECK(op.res.message[0] != '\0');
        printf("ok version: containerd %s\n", op.res.message);
}

typedef struct ListOp {
        Op op;
        const char *want;
        bool found;
        char labels[512];
} ListOp;

static void on_list(int r, const char *message, const CtrdNamespace *nss, size_t n, void *userdata)
{
        ListOp *l = userdata;
        for (size_t i = 0; r >= 0 && l->want && i < n; i++) {
                if (strcmp(nss[i].name, l->want) != 0)
                        continue;
                l->found = true;
                size_t off = 0;
                for (size_t j = 0; j < nss[i].n_labels && off < sizeof(l->labels); j++)
                        off += (size_t)snprintf(l->labels + off, sizeof(l->labels) - off, "%s%s=%s",
                                                j ? "," : "", nss[i].labels[j].key, nss[i].labels[j].value);
        }
        result_set(&l->op.res, &l->op.s->loop, r, message);
}

static void namespace_ensure(Smoke *s, const char *name, const CtrdLabel *labels, size_t n, int want)
{
        Op op = {.s = s};
        CHECK(ctrd_namespace_ensure(s->conn, name, labels, n, on_op_done, &op) == 0);
        run_until(s, is_done, &op.res, 10000);
        CHECK_R(op.res, want);
}

static bool has_created_ns(const void *arg)
{
        const Smoke *s = arg;
        return strcmp(s->last_created_ns, NS_MAIN) == 0;
}

static void step_namespaces(Smoke *s)
{
        const CtrdLabel first[] = {{"kukeon.io/realm", "smoke"}, {"a", "b"}};
        namespace_ensure(s, NS_MAIN, first, 2, 1);
        run_until(s, has_created_ns, s, 10000);
        /* Again: no-op, with label a changed and kukeon.io/realm left alone. */
        const CtrdLabel second[] = {{"a", "c"}};
        namespace_ensure(s, NS_MAIN, second, 1, 0);

        ListOp l = {.op = {.s = s}, .want = NS_MAIN};
        CHECK(ctrd_namespace_list(s->conn, on_list, &l) == 0);
        run_until(s, is_done, &l.op.res, 10000);
        CHECK_R(l.op.res, 0);
        CHECK(l.found);
        if (!strstr(l.labels, "a=c") || !strstr(l.labels, "kukeon.io/realm=smoke") ||
            strstr(l.labels, "a=b"))
                die(__LINE__, "unexpected labels %s", l.labels);
        printf("ok namespaces: created, ensured again (labels %s), listed, create event seen\n", l.labels);
}

/* An image record makes the namespace non-empty; containerd does not check that its content exists. */
static void image_call(Smoke *s, bool create, int want)
{
        Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
        target.media_type = "application/vnd.oci.image.manifest.v1+json";
        target.digest = "sha256:2eb3a42b2c2a2a4b6f1e8b7e0a3f6d1c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f42";
        target.size = 406;
        Containerd__Services__Images__V1__Image image = CONTAINERD__SERVICES__IMAGES__V1__IMAGE__INIT;
        image.name = "kukeon.test/smoke:1";
        image.target = &target;
        Containerd__Services__Images__V1__CreateImageRequest creq =
                CONTAINERD__SERVICES__IMAGES__V1__CREATE_IMAGE_REQUEST__INIT;
        creq.image = &image;
        Containerd__Services__Images__V1__DeleteImageRequest dreq =
                CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
        dreq.name = image.name;
        dreq.sync = true;
        const GrpcCallOptions opts = {.ns = NS_MAIN};
        Op op = {.s = s};
        int r = create ? grpc_unary(s->conn, "/containerd.services.images.v1.Images/Create", &creq.base,
                                    &containerd__services__images__v1__create_image_response__descriptor,
                                    &opts, on_unary_done, &op)
                       : grpc_unary(s->conn, "/containerd.services.images.v1.Images/Delete", &dreq.base,
                                    &google__protobuf__empty__descriptor, &opts, on_unary_done, &op);
        CHECK(r == 0);
        run_until(s, is_done, &op.res, 10000);
        CHECK_R(op.res, want);
}

static void namespace_delete(Smoke *s, const char *name, int want, Result *ret)
{
        Op op = {.s = s};
        CHECK(ctrd_namespace_delete(s->conn, name, on_op_done, &op) == 0);
        run_until(s, is_done, &op.res, 10000);
        CHECK_R(op.res, want);
        if (ret)
                *ret = op.res;
}

static void step_namespace_delete(Smoke *s)
{
        image_call(s, true, 0);
        image_call(s, true, -EEXIST); /* ALREADY_EXISTS maps to -EEXIST */
        Result busy;
        namespace_delete(s, NS_MAIN, -ENOTEMPTY, &busy);
        CHECK(strstr(busy.message, "must be empty") != NULL);
        image_call(s, false, 0);
        namespace_delete(s, NS_MAIN, 0, NULL);
        Result missing;
        namespace_delete(s, NS_MAIN, -ENOENT, &missing);
        printf("ok namespace delete: not empty -> -ENOTEMPTY (\"%s\"), deleted, again -> -ENOENT (\"%s\")\n",
               busy.message, missing.message);
}

#define N_CONCURRENT 50

typedef struct Batch {
        Op ops[N_CONCURRENT];
        ListOp lists[N_CONCURRENT];
        size_t n;
} Batch;

static bool batch_done(const void *arg)
{
        const Batch *b = arg;
        for (size_t i = 0; i < b->n; i++)
                if (b->ops[i].res.n_done == 0 && b->lists[i].op.res.n_done == 0)
                        return false;
        return true;
}

static void step_concurrency(Smoke *s)
{
        static Batch b;
        memset(&b, 0, sizeof(b));
        b.n = N_CONCURRENT;
        size_t before = grpc_conn_n_calls(s->conn); /* the event subscription */
        for (size_t i = 0; i < N_CONCURRENT; i++) {
                b.ops[i].s = s;
                b.lists[i].op.s = s;
                if (i % 2)
                        CHECK(ctrd_version(s->conn, on_version, &b.ops[i]) == 0);
                else
                        CHECK(ctrd_namespace_list(s->conn, on_list, &b.lists[i]) == 0);
        }
        CHECK(grpc_conn_n_calls(s->conn) ==
              before + N_CONCURRENT); /* all in flight at once, one connection */
        run_until(s, batch_done, &b, 20000);
        settle(s);
        for (size_t i = 0; i < N_CONCURRENT; i++) {
                const Result *res = i % 2 ? &b.ops[i].res : &b.lists[i].op.res;
                CHECK(res->n_done == 1);
                CHECK_R(*res, 0);
        }
        CHECK(grpc_conn_n_calls(s->conn) == before);
        printf("ok %d concurrent calls on one connection\n", N_CONCURRENT);
}

/* Events.Subscribe never answers unless an event comes: a stream that stays silent. */
static int start_silent_stream(GrpcConn *conn, int64_t timeout_ms, Op *op, GrpcCall **ret)
{
        char *filters[] = {"topic==\"/kukeon/never\""};
        Containerd__Services__Events__V1__SubscribeRequest req =
                CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
        req.n_filters = 1;
        req.filters = filters;
        const GrpcCallOptions opts = {.timeout_ms = timeout_ms};
        return grpc_call_start(conn, EVENTS, &req.base, &opts, NULL, on_call_done, op, ret);
}

static void step_deadline(Smoke *s)
{
        Op op = {.s = s};
        uint64_t start = uv_now(&s->loop);
        CHECK(start_silent_stream(s->conn, 300, &op, NULL) == 0);
        run_until(s, is_done, &op.res, 10000);
        CHECK_R(op.res, -ETIMEDOUT);
        uint64_t took = op.res.done_at - start;
        CHECK(took >= 290 && took < 5000);

        /* Cancelled: no callback at all. */
        Op cancelled = {.s = s};
        GrpcCall *call;
        CHECK(start_silent_stream(s->conn, 200, &cancelled, &call) == 0);
        grpc_call_cancel(call);
        Op after = {.s = s};
        CHECK(ctrd_version(s->conn, on_version, &after) == 0);
        run_until(s, is_done, &after.res, 10000);
        CHECK_R(after.res, 0);
        uv_sleep(250);
        settle(s);
        CHECK(cancelled.res.n_done == 0);
        printf("ok deadline: silent stream ended after %llu ms with -ETIMEDOUT (\"%s\"); cancel is silent\n",
               (unsigned long long)took, op.res.message);
}

/* ---- a server that accepts and never says a word ---- */

typedef struct Silent {
        uv_pipe_t server;
        uv_pipe_t client;
        bool has_client;
        char buf[4096];
        int n_closed;
        GrpcConnState state;
        int reason;
} Silent;

static void on_silent_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        Silent *si = h->data;
        *buf = uv_buf_init(si->buf, sizeof(si->buf));
}

static void on_silent_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
        /* swallow the client preface and requests */
}

static void on_silent_connection(uv_stream_t *server, int status)
{
        Silent *si = server->data;
        CHECK(status == 0 && !si->has_client);
        uv_pipe_init(server->loop, &si->client, 0);
        si->client.data = si;
        CHECK(uv_accept(server, (uv_stream_t *)&si->client) == 0);
        si->has_client = true;
        uv_read_start((uv_stream_t *)&si->client, on_silent_alloc, on_silent_read);
}

static void on_silent_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
        Silent *si = userdata;
        si->state = state;
        si->reason = reason;
}

static bool silent_gave_up(const void *arg)
{
        return ((const Silent *)arg)->state == GRPC_CONN_TRANSIENT_FAILURE;
}

static void on_silent_closed(uv_handle_t *h)
{
        ((Silent *)h->data)->n_closed++;
}

static bool silent_closed(const void *arg)
{
        const Silent *si = arg;
        return si->n_closed == (si->has_client ? 2 : 1);
}

static void step_dead_server(Smoke *s)
{
        Silent si = {0};
        char path[256];
        snprintf(path, sizeof(path), "%s/silent.sock", s->scratch);
        unlink(path);
        uv_pipe_init(&s->loop, &si.server, 0);
        si.server.data = &si;
        CHECK(uv_pipe_bind(&si.server, path) == 0);
        CHECK(uv_listen((uv_stream_t *)&si.server, 4, on_silent_connection) == 0);

        const GrpcConnOptions opts = {
                .address = path,
                .handshake_timeout_ms = 600,
                .backoff_initial_ms = 60000, /* no second attempt during the test */
                .on_state = on_silent_state,
                .userdata = &si,
        };
        GrpcConn *conn;
        CHECK(grpc_conn_new(&s->loop, &opts, &conn) == 0);
        Op op = {.s = s};
        const CtrdLabel none[] = {{"x", "y"}};
        CHECK(ctrd_namespace_ensure(conn, "kukeon-never", none, 1, on_op_done, &op) == 0);
        Op unary = {.s = s};
        Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
        const GrpcCallOptions call_opts = {.timeout_ms = 200};
        CHECK(grpc_unary(conn, "/containerd.services.version.v1.Version/Version", &empty.base,
                         &containerd__services__version__v1__version_response__descriptor, &call_opts,
                         on_unary_done, &unary) == 0);
        uint64_t start = uv_now(&s->loop);
        run_until(s, is_done, &unary.res, 5000);
        CHECK_R(unary.res, -ETIMEDOUT);
        CHECK(unary.res.done_at - start < 1000);
        /* No SETTINGS ever: the attempt is abandoned, the call without deadline fails with -ENOTCONN. */
        run_until(s, silent_gave_up, &si, 5000);
        CHECK(si.reason == -ETIMEDOUT);
        run_until(s, is_done, &op.res, 1000);
        CHECK_R(op.res, -ENOTCONN);
        CHECK(si.has_client);
        grpc_conn_close(conn);
        uv_close((uv_handle_t *)&si.server, on_silent_closed);
        if (si.has_client)
                uv_close((uv_handle_t *)&si.client, on_silent_closed);
        run_until(s, silent_closed, &si, 5000);
        settle(s);
        CHECK(unary.res.n_done == 1 && op.res.n_done == 1);
        printf("ok dead server: deadline -> -ETIMEDOUT after %llu ms, handshake timeout -> -ENOTCONN\n",
               (unsigned long long)(unary.res.done_at - start));
}

/* ---- containerd restarted under a live connection ---- */

typedef struct Helper {
        uv_process_t process;
        Result res;
        Smoke *s;
} Helper;

static void on_helper_exit(uv_process_t *p, int64_t status, int signal)
{
        Helper *h = p->data;
        char message[64];
        snprintf(message, sizeof(message), "exit status %lld signal %d", (long long)status, signal);
        result_set(&h->res, &h->s->loop, status == 0 && signal == 0 ? 0 : -EIO, message);
        uv_close((uv_handle_t *)p, NULL);
}

static void spawn_restart(Smoke *s, Helper *h)
{
        char *args[] = {"/bin/sh", "-c", (char *)s->restart_cmd, NULL};
        uv_stdio_container_t stdio[3] = {
                {.flags = UV_IGNORE},
                {.flags = UV_INHERIT_FD, .data.fd = 1},
                {.flags = UV_INHERIT_FD, .data.fd = 2},
        };
        uv_process_options_t opts = {
                .exit_cb = on_helper_exit,
                .file = args[0],
                .args = args,
                .stdio_count = 3,
                .stdio = stdio,
        };
        h->s = s;
        h->process.data = h;
        int r = uv_spawn(&s->loop, &h->process, &opts);
        if (r < 0)
                die(__LINE__, "cannot run %s: %s", s->restart_cmd, uv_strerror(r));
}

typedef struct RestartWait {
        const Smoke *s;
        const Op *stream;
        const Helper *helper;
        int n_ready_before;
} RestartWait;

static bool in_flight_failed(const void *arg)
{
        const RestartWait *w = arg;
        return w->stream->res.n_done > 0 && w->s->sub_end.n_done > 0;
}

static bool back_again(const void *arg)
{
        const RestartWait *w = arg;
        return w->s->n_ready > w->n_ready_before && w->helper->res.n_done > 0;
}

static bool has_created_after(const void *arg)
{
        return strcmp(((const Smoke *)arg)->last_created_ns, NS_AFTER) == 0;
}

static void step_restart(Smoke *s)
{
        Op stream = {.s = s};
        CHECK(start_silent_stream(s->conn, GRPC_NO_TIMEOUT, &stream, NULL) == 0);
        CHECK(s->sub != NULL);
        static Batch burst; /* unary calls racing the shutdown: each ends once, either way */
        memset(&burst, 0, sizeof(burst));
        burst.n = 20;
        RestartWait w = {.s = s, .stream = &stream, .n_ready_before = s->n_ready};
        int n_failures_before = s->n_failures;
        Helper helper = {0};
        w.helper = &helper;
        spawn_restart(s, &helper);
        for (size_t i = 0; i < burst.n; i++) {
                burst.ops[i].s = s;
                CHECK(ctrd_version(s->conn, on_version, &burst.ops[i]) == 0);
        }

        run_until(s, in_flight_failed, &w, 30000);
        CHECK_R(stream.res, -ENOTCONN);
        CHECK_R(s->sub_end, -ENOTCONN);
        run_until(s, back_again, &w, 60000);
        CHECK_R(helper.res, 0);
        CHECK(s->n_failures > n_failures_before);
        CHECK(s->r_start_while_down == -ENOTCONN);
        CHECK(batch_done(&burst));
        size_t n_ok = 0;
        for (size_t i = 0; i < burst.n; i++) {
                CHECK(burst.ops[i].res.n_done == 1);
                CHECK(burst.ops[i].res.r == 0 || burst.ops[i].res.r == -ENOTCONN);
                n_ok += burst.ops[i].res.r == 0;
        }

        /* Reconnected by itself: calls work, and the owner re-subscribes. */
        step_version(s);
        subscribe(s);
        namespace_ensure(s, NS_AFTER, NULL, 0, 1);
        run_until(s, has_created_after, s, 10000);
        namespace_delete(s, NS_AFTER, 0, NULL);
        settle(s);
        CHECK(stream.res.n_done == 1);
        printf("ok restart: in-flight stream and subscription -> -ENOTCONN (\"%s\"), %zu/%zu racing calls "
               "succeeded, reconnected, re-subscribed\n",
               stream.res.message, n_ok, burst.n);
}

/* ---- main ---- */

static void on_drain_watchdog(uv_timer_t *timer)
{
        die(__LINE__, "handles still open 5 s after grpc_conn_close()");
}

/* Runs the loop until nothing is left; the watchdog does not count as something (unref'd). */
static void drain(uv_loop_t *loop)
{
        uv_timer_t watchdog;
        uv_timer_init(loop, &watchdog);
        uv_timer_start(&watchdog, on_drain_watchdog, 5000, 0);
        uv_unref((uv_handle_t *)&watchdog);
        uv_run(loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
}

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: %s ADDRESS RESTART_COMMAND SCRATCH_DIR\n", argv[0]);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN); /* as the daemon does: containerd gone under a write is EPIPE */
        static Smoke s;
        s.address = argv[1];
        s.restart_cmd = argv[2];
        s.scratch = argv[3];
        CHECK(uv_loop_init(&s.loop) == 0);

        const GrpcConnOptions opts = {
                .address = s.address,
                .default_timeout_ms = 10000,
                .backoff_initial_ms = 50,
                .backoff_max_ms = 1000,
                .on_state = on_state,
                .userdata = &s,
        };
        CHECK(grpc_conn_new(&s.loop, &opts, &s.conn) == 0);
        run_until(&s, is_ready, &s, 10000);
        subscribe(&s);

        step_version(&s);
        step_namespaces(&s);
        step_namespace_delete(&s);
        step_concurrency(&s);
        step_deadline(&s);
        step_dead_server(&s);
        step_restart(&s);

        ctrd_events_unsubscribe(s.sub);
        grpc_conn_close(s.conn);
        drain(&s.loop);
        CHECK(uv_loop_close(&s.loop) == 0);
        printf("ok uv_loop_close() == 0\n");
        return 0;
}
