/* Container, task and snapshot operations against a fake containerd (tests/fakes/fake-h2-server.h) that
 * keeps one container, its task and its snapshot: what the requests carry (labels, runtime options, the
 * group annotation, rootfs mounts, log paths, the namespace), the order of the teardown steps and where
 * a failing step ends it, stopping with and without SIGKILL on a timer, "exists"/"not found" under
 * CtrdFlags, and a connection lost in the middle of a stop. No root; every test ends with
 * uv_loop_close() == 0. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "drivers/containerd/ctrd.h"
#include "tests/fakes/fake-h2-server.h"

#include "github.com/containerd/containerd/api/services/containers/v1/containers.pb-c.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.pb-c.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define NS  "kukeon-main"
#define CID "blog_wordpress_wp_app"
#define PID 4242

typedef struct T {
        uv_loop_t loop;
        char dir[64];
        char path[128];
        FakeH2Server srv;
        GrpcConn *conn;

        /* the fake's state */
        bool has_container, has_task, has_snapshot;
        bool is_running, is_stopped;
        bool ignores_term;
        uint32_t exit_status;
        uint32_t last_signal;     /* of the Kill being handled */
        const char *fail_method;  /* answered UNKNOWN "boom" */
        FakeH2Stream *waiting[8]; /* Tasks.Wait streams not answered yet */
        size_t n_waiting;

        /* what it saw */
        char log[1024]; /* "Method " per request, Kill as "Kill(sig,all)" */
        uint64_t kill9_at;
        char bad_ns[128]; /* a request in another namespace */
        Containerd__Services__Containers__V1__CreateContainerRequest *created;
        Containerd__Services__Tasks__V1__CreateTaskRequest *task_created;
} T;

static const Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;

/* ---- the fake containerd ---- */

static void logf_(T *t, const char *fmt, ...) _printf_(2, 3);
static void logf_(T *t, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        size_t off = strlen(t->log);
        vsnprintf(t->log + off, sizeof(t->log) - off, fmt, ap);
        va_end(ap);
}

static void *unpack(FakeH2Stream *s, const ProtobufCMessageDescriptor *desc)
{
        assert_true(s->request.len >= GRPC_FRAME_PREFIX_SIZE);
        void *m = protobuf_c_message_unpack(desc, NULL, s->request.len - GRPC_FRAME_PREFIX_SIZE,
                                            (const uint8_t *)s->request.data + GRPC_FRAME_PREFIX_SIZE);
        assert_non_null(m);
        return m;
}

static void reply(FakeH2Stream *s, const ProtobufCMessage *m)
{
        fake_h2_send_message(s, m);
        fake_h2_finish(s, 0, NULL);
}

static void send_wait_reply(T *t, FakeH2Stream *s)
{
        Containerd__Services__Tasks__V1__WaitResponse w =
                CONTAINERD__SERVICES__TASKS__V1__WAIT_RESPONSE__INIT;
        w.exit_status = t->exit_status;
        reply(s, &w.base);
}

static void task_exit(T *t, uint32_t status)
{
        t->is_running = false;
        t->is_stopped = true;
        t->exit_status = status;
        for (size_t i = 0; i < t->n_waiting; i++)
                send_wait_reply(t, t->waiting[i]);
        t->n_waiting = 0;
}

static void send_mounts(FakeH2Stream *s)
{
        static char *opts[] = {"index=off", "workdir=/s/7/work", "upperdir=/s/7/fs", "lowerdir=/s/4/fs"};
        Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT;
        m.type = m.source = "overlay";
        m.options = opts;
        m.n_options = ARRAY_SIZE(opts);
        Containerd__Types__Mount *ms[] = {&m};
        Containerd__Services__Snapshots__V1__MountsResponse r =
                CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_RESPONSE__INIT;
        r.mounts = ms;
        r.n_mounts = 1;
        reply(s, &r.base); /* PrepareSnapshotResponse has the same wire format */
}

static void handle_tasks(T *t, FakeH2Stream *s, const char *method)
{
        if (streq(method, "Create")) {
                if (!t->has_container) {
                        fake_h2_trailers_only(s, 5, "container not found");
                        return;
                }
                if (t->has_task) {
                        fake_h2_trailers_only(s, 6, "task " CID ": already exists");
                        return;
                }
                t->task_created =
                        unpack(s, &containerd__services__tasks__v1__create_task_request__descriptor);
                t->has_task = true;
                Containerd__Services__Tasks__V1__CreateTaskResponse r =
                        CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_RESPONSE__INIT;
                r.pid = PID;
                reply(s, &r.base);
                return;
        }
        if (!t->has_task) {
                fake_h2_trailers_only(s, 5, "no running task found: task " CID " not found: not found");
                return;
        }
        if (streq(method, "Kill")) {
                uint32_t sig = t->last_signal;
                if (t->is_stopped) {
                        fake_h2_trailers_only(s, 5, "process already finished: not found");
                        return;
                }
                if (sig == SIGKILL)
                        t->kill9_at = uv_now(&t->loop);
                reply(s, &empty.base);
                if (sig == SIGKILL || !t->ignores_term)
                        task_exit(t, sig == SIGKILL ? 137 : 0);
        } else if (streq(method, "Wait")) {
                if (t->is_stopped) {
                        send_wait_reply(t, s);
                        return;
                }
                assert_true(t->n_waiting < ARRAY_SIZE(t->waiting));
                t->waiting[t->n_waiting++] = s;
        } else if (streq(method, "Delete")) {
                if (!t->is_stopped && t->is_running) {
                        fake_h2_trailers_only(s, 2, "task must be stopped before deletion: running");
                        return;
                }
                t->has_task = t->is_stopped = false;
                Containerd__Services__Tasks__V1__DeleteResponse r =
                        CONTAINERD__SERVICES__TASKS__V1__DELETE_RESPONSE__INIT;
                r.pid = PID;
                r.exit_status = t->exit_status;
                reply(s, &r.base);
        } else if (streq(method, "Get")) {
                Containerd__V1__Types__Process p = CONTAINERD__V1__TYPES__PROCESS__INIT;
                p.container_id = CID;
                p.pid = PID;
                p.status = t->is_stopped   ? CONTAINERD__V1__TYPES__STATUS__STOPPED
                           : t->is_running ? CONTAINERD__V1__TYPES__STATUS__RUNNING
                                           : CONTAINERD__V1__TYPES__STATUS__CREATED;
                p.exit_status = t->exit_status;
                Containerd__Services__Tasks__V1__GetResponse r =
                        CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
                r.process = &p;
                reply(s, &r.base);
        } else if (streq(method, "Start")) {
                t->is_running = true;
                Containerd__Services__Tasks__V1__StartResponse r =
                        CONTAINERD__SERVICES__TASKS__V1__START_RESPONSE__INIT;
                r.pid = PID;
                reply(s, &r.base);
        } else
                fake_h2_trailers_only(s, 12, "unknown method");
}

static void handle_containers(T *t, FakeH2Stream *s, const char *method)
{
        if (streq(method, "Create")) {
                if (t->has_container) {
                        fake_h2_trailers_only(s, 6, "container \"" CID "\": already exists");
                        return;
                }
                t->created = unpack(
                        s, &containerd__services__containers__v1__create_container_request__descriptor);
                t->has_container = true;
                Containerd__Services__Containers__V1__CreateContainerResponse r =
                        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_RESPONSE__INIT;
                r.container = t->created->container;
                reply(s, &r.base);
                return;
        }
        if (!t->has_container) {
                fake_h2_trailers_only(s, 5, "container \"" CID "\" in namespace \"" NS "\": not found");
                return;
        }
        if (streq(method, "Get")) {
                Containerd__Services__Containers__V1__GetContainerResponse r =
                        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_RESPONSE__INIT;
                r.container = t->created->container;
                reply(s, &r.base);
        } else if (streq(method, "Delete")) {
                t->has_container = false;
                reply(s, &empty.base);
        } else
                fake_h2_trailers_only(s, 12, "unknown method");
}

static void handle_snapshots(T *t, FakeH2Stream *s, const char *method)
{
        if (streq(method, "Prepare")) {
                if (t->has_snapshot) {
                        fake_h2_trailers_only(s, 6, "snapshot " CID ": already exists");
                        return;
                }
                t->has_snapshot = true;
                send_mounts(s);
                return;
        }
        if (!t->has_snapshot) {
                fake_h2_trailers_only(s, 5, "snapshot " CID " does not exist: not found");
                return;
        }
        if (streq(method, "Mounts"))
                send_mounts(s);
        else if (streq(method, "Remove")) {
                t->has_snapshot = false;
                reply(s, &empty.base);
        } else
                fake_h2_trailers_only(s, 12, "unknown method");
}

static void handle(FakeH2Stream *s, bool is_end, void *userdata)
{
        T *t = userdata;
        if (!is_end)
                return;
        /* "/containerd.services.tasks.v1.Tasks/Kill" → "Tasks/Kill" */
        const char *service = strstr(s->path, ".v1.");
        assert_non_null(service);
        service += 4;
        const char *method = strchr(service, '/') + 1;
        if (!streq(s->ns, NS))
                snprintf(t->bad_ns, sizeof(t->bad_ns), "%s", s->ns);
        if (streq(service, "Tasks/Kill")) {
                Containerd__Services__Tasks__V1__KillRequest *k =
                        unpack(s, &containerd__services__tasks__v1__kill_request__descriptor);
                logf_(t, "Kill(%u,%d) ", k->signal, k->all);
                t->last_signal = k->signal;
                containerd__services__tasks__v1__kill_request__free_unpacked(k, NULL);
        } else
                logf_(t, "%s ", service);
        if (t->fail_method && streq(service, t->fail_method))
                fake_h2_trailers_only(s, 2, "boom");
        else if (strncmp(service, "Tasks/", 6) == 0)
                handle_tasks(t, s, method);
        else if (strncmp(service, "Containers/", 11) == 0)
                handle_containers(t, s, method);
        else if (strncmp(service, "Snapshots/", 10) == 0)
                handle_snapshots(t, s, method);
        else
                fake_h2_trailers_only(s, 12, "unknown service");
}

/* ---- the loop and results ---- */

typedef struct Res {
        T *t;
        int n_done;
        int r;
        char message[256];
        uint32_t pid;
        bool has_exit;
        CtrdTaskExit exit;
        size_t n_mounts;
        char group[64], digest[64];
        uint64_t done_at;
} Res;

static void res_done(Res *res, int r, const char *message)
{
        res->n_done++;
        res->r = r;
        res->done_at = uv_now(&res->t->loop);
        snprintf(res->message, sizeof(res->message), "%s", message);
}

static void on_done(int r, const char *message, void *userdata)
{
        res_done(userdata, r, message);
}

static void on_pid(int r, const char *message, uint32_t pid, void *userdata)
{
        ((Res *)userdata)->pid = pid;
        res_done(userdata, r, message);
}

static void on_res_exit(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Res *res = userdata;
        assert_true(exit == NULL || r == 1);
        res->has_exit = exit != NULL;
        if (exit)
                res->exit = *exit;
        res_done(res, r, message);
}

static void on_mounts(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n_mounts = n;
        if (n > 0)
                assert_string_equal(mounts[0].options[3], "lowerdir=/s/4/fs");
        res_done(res, r, message);
}

static void on_container(int r, const char *message, const CtrdContainer *c, void *userdata)
{
        Res *res = userdata;
        if (c) {
                snprintf(res->group, sizeof(res->group), "%s", strempty(c->group));
                snprintf(res->digest, sizeof(res->digest), "%s", strempty(c->spec_digest));
        }
        res_done(res, r, message);
}

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

/* Runs the loop until res is done, or for ms when res is NULL. */
static void run(T *t, Res *res, uint64_t ms)
{
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&t->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, ms, 0);
        while ((!res || res->n_done == 0) && !expired)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
        if (res && res->n_done == 0)
                fail_msg("timed out after %llu ms", (unsigned long long)ms);
        if (res)
                assert_int_equal(res->n_done, 1);
}

#define SYNC(t, res, call)                                                                                  \
        do {                                                                                                \
                (res) = (Res){.t = (t)};                                                                    \
                assert_int_equal((call), 0);                                                                \
                run(t, &(res), 5000);                                                                       \
        } while (0)

/* ---- setup ---- */

static int setup(void **state)
{
        T *t = calloc(1, sizeof(*t));
        if (!t)
                return -1;
        snprintf(t->dir, sizeof(t->dir), "/tmp/kuke-tasks-XXXXXX");
        if (!mkdtemp(t->dir))
                return -1;
        snprintf(t->path, sizeof(t->path), "%s/grpc.sock", t->dir);
        if (uv_loop_init(&t->loop) < 0 || fake_h2_start(&t->srv, &t->loop, t->path, handle, t) < 0)
                return -1;
        const GrpcConnOptions opts = {
                .address = t->path, .default_namespace = "wrong", .default_timeout_ms = 5000};
        if (grpc_conn_new(&t->loop, &opts, &t->conn) < 0)
                return -1;
        *state = t;
        return 0;
}

static int teardown(void **state)
{
        T *t = *state;
        t->n_waiting = 0;
        if (t->conn)
                grpc_conn_close(t->conn);
        fake_h2_close(&t->srv);
        while (t->srv.n_handles > 0)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_run(&t->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&t->loop), 0);
        if (t->created)
                containerd__services__containers__v1__create_container_request__free_unpacked(t->created,
                                                                                              NULL);
        if (t->task_created)
                containerd__services__tasks__v1__create_task_request__free_unpacked(t->task_created, NULL);
        assert_string_equal(t->bad_ns, "");
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
        assert_int_equal(system(cmd), 0);
        free(t);
        return 0;
}

/* A container with snapshot and created task, and an empty log. */
static void make_container(T *t)
{
        t->has_container = t->has_task = t->has_snapshot = true;
        t->is_running = true;
}

/* ---- tests ---- */

static const char *label_of(const Containerd__Services__Containers__V1__Container *c, const char *key)
{
        for (size_t i = 0; i < c->n_labels; i++)
                if (streq(c->labels[i]->key, key))
                        return c->labels[i]->value;
        return NULL;
}

/* What Containers.Create carries; EEXIST, and 0 for it with CTRD_EXIST_OK; the record read back. */
static void test_container_create(void **state)
{
        T *t = *state;
        const CtrdIdentity id = {"main", "blog", "wordpress", "wp", "app", "sha256:feed"};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX];
        size_t n = ctrd_identity_labels(&id, labels);
        const CtrdContainerCreate cc = {
                .id = CID,
                .image = "docker.io/kukeon/busybox:test",
                .labels = labels,
                .n_labels = n,
                .spec_json = "{\"ociVersion\":\"1.0.2-dev\"}",
                .group = "main_blog_wordpress_wp",
                .stop_signal = "SIGTERM",
                .runc = {.root = "/run/kukeon/runc"},
        };
        Res res;
        SYNC(t, res, ctrd_container_create(t->conn, NS, &cc, 0, on_done, &res));
        assert_int_equal(res.r, 1);
        const Containerd__Services__Containers__V1__Container *c = t->created->container;
        assert_string_equal(c->id, CID);
        assert_string_equal(c->image, "docker.io/kukeon/busybox:test");
        assert_int_equal(c->n_labels, 8);
        assert_string_equal(label_of(c, "kukeon.io/spec-digest"), "sha256:feed");
        assert_string_equal(label_of(c, "kukeon.io/container"), "app");
        assert_string_equal(label_of(c, CTRD_LABEL_RUNC_GROUP), "main_blog_wordpress_wp");
        assert_string_equal(label_of(c, CTRD_LABEL_STOP_SIGNAL), "SIGTERM");
        assert_string_equal(c->runtime->name, "io.containerd.runc.v2");
        assert_string_equal(c->runtime->options->type_url, "containerd.runc.v1.Options");
        Containerd__Runc__V1__Options *o = containerd__runc__v1__options__unpack(
                NULL, c->runtime->options->value.len, c->runtime->options->value.data);
        assert_non_null(o);
        assert_string_equal(o->root, "/run/kukeon/runc");
        containerd__runc__v1__options__free_unpacked(o, NULL);
        assert_string_equal(c->spec->type_url, "types.containerd.io/opencontainers/runtime-spec/1/Spec");
        assert_int_equal(c->spec->value.len,
                         strlen("{\"ociVersion\":\"1.0.2-dev\",\"annotations\":{"
                                "\"io.containerd.runc.v2.group\":\"main_blog_wordpress_wp\"}}"));
        assert_memory_equal(c->spec->value.data, "{\"ociVersion\":\"1.0.2-dev\",\"annotations\":{", 41);
        assert_string_equal(c->snapshotter, "overlayfs");
        assert_string_equal(c->snapshot_key, CID);

        SYNC(t, res, ctrd_container_create(t->conn, NS, &cc, 0, on_done, &res));
        assert_int_equal(res.r, -EEXIST);
        assert_string_equal(res.message, "container \"" CID "\": already exists");
        SYNC(t, res, ctrd_container_create(t->conn, NS, &cc, CTRD_EXIST_OK, on_done, &res));
        assert_int_equal(res.r, 0);
        assert_string_equal(res.message, "");

        SYNC(t, res, ctrd_container_get(t->conn, NS, CID, on_container, &res));
        assert_int_equal(res.r, 0);
        assert_string_equal(res.group, "main_blog_wordpress_wp");
        assert_string_equal(res.digest, "sha256:feed");

        /* Refused before any request: a spec that is not an object cannot take the group. */
        const CtrdContainerCreate bad = {.id = "x", .spec_json = "[]", .group = "g"};
        assert_int_equal(ctrd_container_create(t->conn, NS, &bad, 0, on_done, &res), -EINVAL);
}

/* Tasks.Create: the snapshot's mounts first, then the task with them and the two log files, which
 * exist by then; an existing task is 0 and its pid with CTRD_EXIST_OK. */
static void test_task_create(void **state)
{
        T *t = *state;
        t->has_container = t->has_snapshot = true;
        char out[128], err[128];
        snprintf(out, sizeof(out), "%s/app.out", t->dir);
        snprintf(err, sizeof(err), "%s/app.err", t->dir);
        const CtrdTaskCreate tc = {.container_id = CID, .stdout_path = out, .stderr_path = err};
        Res res;
        SYNC(t, res, ctrd_task_create(t->conn, NS, &tc, 0, on_pid, &res));
        assert_int_equal(res.r, 1);
        assert_int_equal(res.pid, PID);
        assert_string_equal(t->log, "Snapshots/Mounts Tasks/Create ");
        const Containerd__Services__Tasks__V1__CreateTaskRequest *req = t->task_created;
        assert_string_equal(req->stdout, out);
        assert_string_equal(req->stderr, err);
        assert_string_equal(req->stdin, "");
        assert_false(req->terminal);
        assert_int_equal(req->n_rootfs, 1);
        assert_string_equal(req->rootfs[0]->type, "overlay");
        assert_int_equal(req->rootfs[0]->n_options, 4);
        struct stat st;
        assert_int_equal(stat(out, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0640);
        assert_int_equal(stat(err, &st), 0);

        SYNC(t, res, ctrd_task_create(t->conn, NS, &tc, 0, on_pid, &res));
        assert_int_equal(res.r, -EEXIST);
        SYNC(t, res, ctrd_task_create(t->conn, NS, &tc, CTRD_EXIST_OK, on_pid, &res));
        assert_int_equal(res.r, 0);
        assert_int_equal(res.pid, PID);
        assert_string_equal(t->log, "Snapshots/Mounts Tasks/Create Snapshots/Mounts Tasks/Create "
                                    "Snapshots/Mounts Tasks/Create Tasks/Get ");
}

/* Log paths are checked before anything is sent: no callback for these. */
static void on_unexpected_pid(int r, const char *message, uint32_t pid, void *userdata)
{
        fail_msg("a refused ctrd_task_create() called back: %d %s", r, message);
}

static void test_task_create_refused(void **state)
{
        T *t = *state;
        char fifo[128], missing[128];
        snprintf(fifo, sizeof(fifo), "%s/fifo", t->dir);
        snprintf(missing, sizeof(missing), "%s/nodir/app.out", t->dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        CtrdTaskCreate tc = {.container_id = CID, .stdout_path = "relative.out"};
        assert_int_equal(ctrd_task_create(t->conn, NS, &tc, 0, on_unexpected_pid, NULL), -EINVAL);
        tc.stdout_path = fifo; /* the shim would take it for a pipe somebody reads */
        assert_int_equal(ctrd_task_create(t->conn, NS, &tc, 0, on_unexpected_pid, NULL), -EINVAL);
        tc.stdout_path = t->dir;
        assert_int_equal(ctrd_task_create(t->conn, NS, &tc, 0, on_unexpected_pid, NULL), -EISDIR);
        tc.stdout_path = missing;
        assert_int_equal(ctrd_task_create(t->conn, NS, &tc, 0, on_unexpected_pid, NULL), -ENOENT);
        tc = (CtrdTaskCreate){.container_id = CID, .stderr_path = "/tmp/x.err"};
        assert_int_equal(ctrd_task_create(t->conn, NS, &tc, 0, on_unexpected_pid, NULL), -EINVAL);
        run(t, NULL, 50);
        assert_string_equal(t->log, "");
}

/* The process exits on SIGTERM: no SIGKILL, not even after the grace period. */
static void test_stop_graceful(void **state)
{
        T *t = *state;
        make_container(t);
        Res res;
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 200, 0, 0, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_true(res.has_exit);
        assert_int_equal(res.exit.exit_status, 0);
        assert_false(res.exit.is_killed);
        run(t, NULL, 400);
        assert_string_equal(t->log, "Tasks/Wait Kill(15,0) ");
}

/* SIGTERM ignored: SIGKILL to every process when the timer fires, not before; the Wait answers then. */
static void test_stop_escalates(void **state)
{
        T *t = *state;
        make_container(t);
        t->ignores_term = true;
        Res res;
        uint64_t start = uv_now(&t->loop);
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, NS, CID, SIGQUIT, 300, 0, 0, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_int_equal(res.exit.exit_status, 137);
        assert_true(res.exit.is_killed);
        assert_true(t->kill9_at >= start + 300);
        assert_true(res.done_at >= t->kill9_at);
        assert_string_equal(t->log, "Tasks/Wait Kill(3,0) Kill(9,1) ");

        /* Again on the stopped task: its exit at once, the signal "already finished" is fine. */
        t->log[0] = 0;
        start = uv_now(&t->loop);
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 300, 0, 0, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_int_equal(res.exit.exit_status, 137);
        assert_false(res.exit.is_killed);
        assert_true(res.done_at - start < 300);
        run(t, NULL, 50);
        assert_string_equal(t->log, "Tasks/Wait Kill(15,0) ");

        /* grace 0: SIGKILL straight away. */
        t->log[0] = 0;
        t->is_stopped = false;
        t->is_running = true;
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 0, 0, 0, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_true(res.exit.is_killed);
        assert_string_equal(t->log, "Tasks/Wait Kill(9,1) ");
}

/* No task: -ENOENT, or 0 and no exit with CTRD_MISSING_OK. */
static void test_stop_missing(void **state)
{
        T *t = *state;
        Res res;
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 100, 0, 0, on_res_exit, &res));
        assert_int_equal(res.r, -ENOENT);
        SYNC(t, res,
             ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 100, 0, CTRD_MISSING_OK, on_res_exit, &res));
        assert_int_equal(res.r, 0);
        assert_false(res.has_exit);
        run(t, NULL, 200); /* the kills answer after the result: the stop is freed only then */
        assert_string_equal(t->log, "Tasks/Wait Kill(15,0) Tasks/Wait Kill(15,0) ");
}

/* The connection drops during the grace period: -ENOTCONN once, the timer does not fire later. */
static void test_stop_connection_lost(void **state)
{
        T *t = *state;
        make_container(t);
        t->ignores_term = true;
        Res res = {.t = t};
        assert_int_equal(ctrd_task_stop(t->conn, &t->loop, NS, CID, 0, 300, 0, 0, on_res_exit, &res), 0);
        run(t, NULL, 100);
        assert_int_equal(res.n_done, 0);
        t->n_waiting = 0; /* the streams go with the connection */
        fake_h2_drop_clients(&t->srv);
        run(t, &res, 5000);
        assert_int_equal(res.r, -ENOTCONN);
        run(t, NULL, 400);
        assert_int_equal(res.n_done, 1);
        assert_int_equal(t->kill9_at, 0);
}

/* Teardown: the fixed order, every step; again, nothing to do. */
static void test_teardown(void **state)
{
        T *t = *state;
        make_container(t);
        Res res;
        const CtrdTeardown td = {.id = CID, .grace_ms = 1000};
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, NS, &td, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_true(res.has_exit);
        assert_int_equal(res.exit.pid, PID);
        assert_int_equal(res.exit.exit_status, 0);
        assert_string_equal(t->log,
                            "Tasks/Wait Kill(15,0) Tasks/Delete Containers/Delete Snapshots/Remove ");
        assert_false(t->has_task || t->has_container || t->has_snapshot);

        t->log[0] = 0;
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, NS, &td, on_res_exit, &res));
        assert_int_equal(res.r, 0);
        assert_false(res.has_exit);
        run(t, NULL, 50);
        assert_string_equal(t->log,
                            "Tasks/Wait Kill(15,0) Tasks/Delete Containers/Delete Snapshots/Remove ");
}

/* A killed-by-timer stop keeps is_killed through the teardown; a failing step ends it there. */
static void test_teardown_failing_step(void **state)
{
        T *t = *state;
        make_container(t);
        t->ignores_term = true;
        t->fail_method = "Containers/Delete";
        Res res;
        const CtrdTeardown td = {.id = CID, .grace_ms = 100};
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, NS, &td, on_res_exit, &res));
        assert_int_equal(res.r, -EIO);
        assert_string_equal(res.message, "Containers.Delete: boom");
        assert_false(res.has_exit);
        assert_string_equal(t->log, "Tasks/Wait Kill(15,0) Kill(9,1) Tasks/Delete Containers/Delete ");
        assert_true(t->has_container && t->has_snapshot);

        /* Repeated after the failure: picks up where it stopped. */
        t->fail_method = NULL;
        t->log[0] = 0;
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, NS, &td, on_res_exit, &res));
        assert_int_equal(res.r, 1);
        assert_false(res.has_exit);
        assert_false(t->has_container || t->has_snapshot);

        /* A task that cannot be stopped is never followed by deleting its record. */
        make_container(t);
        t->log[0] = 0;
        t->fail_method = "Tasks/Wait";
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, NS, &td, on_res_exit, &res));
        assert_int_equal(res.r, -EIO);
        assert_string_equal(res.message, "stopping the task: boom");
        run(t, NULL, 300);
        assert_null(strstr(t->log, "Delete"));
        assert_true(t->has_task && t->has_container);
}

/* Snapshots: prepared (1 and the mounts), existing (0 and the mounts with CTRD_EXIST_OK), removed. */
static void test_snapshots(void **state)
{
        T *t = *state;
        const CtrdLabel labels[] = {{CTRD_LABEL_CELL, "wp"}};
        const CtrdSnapshotPrepare p = {.key = CID, .parent = "sha256:abc", .labels = labels, .n_labels = 1};
        Res res;
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, NS, &p, 0, on_mounts, &res));
        assert_int_equal(res.r, 1);
        assert_int_equal(res.n_mounts, 1);
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, NS, &p, 0, on_mounts, &res));
        assert_int_equal(res.r, -EEXIST);
        assert_int_equal(res.n_mounts, 0);
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, NS, &p, CTRD_EXIST_OK, on_mounts, &res));
        assert_int_equal(res.r, 0);
        assert_int_equal(res.n_mounts, 1);
        SYNC(t, res, ctrd_snapshot_remove(t->conn, NS, NULL, CID, 0, on_done, &res));
        assert_int_equal(res.r, 1);
        SYNC(t, res, ctrd_snapshot_remove(t->conn, NS, NULL, CID, 0, on_done, &res));
        assert_int_equal(res.r, -ENOENT);
        SYNC(t, res, ctrd_snapshot_remove(t->conn, NS, NULL, CID, CTRD_MISSING_OK, on_done, &res));
        assert_int_equal(res.r, 0);
        SYNC(t, res, ctrd_snapshot_mounts(t->conn, NS, NULL, CID, on_mounts, &res));
        assert_int_equal(res.r, -ENOENT);
        assert_string_equal(t->log, "Snapshots/Prepare Snapshots/Prepare Snapshots/Prepare Snapshots/Mounts "
                                    "Snapshots/Remove Snapshots/Remove Snapshots/Remove Snapshots/Mounts ");
}

int main(void)
{
        signal(SIGPIPE, SIG_IGN); /* as the daemon does */
        /* Parts of the fake server these tests do not need (its functions are plain static). */
        (void)fake_h2_goaway;
        (void)fake_h2_reset;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_container_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_task_create, setup, teardown),
                cmocka_unit_test_setup_teardown(test_task_create_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_graceful, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_escalates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_connection_lost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_teardown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_teardown_failing_step, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshots, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
