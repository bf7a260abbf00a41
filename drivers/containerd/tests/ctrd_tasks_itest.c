/* Integration checks of containers, tasks and their snapshots against a private containerd started by
 * tests/integration/test_containerd_tasks.sh, in a test namespace holding the imported busybox image:
 *
 *   ctrd_tasks_itest ADDRESS NAMESPACE SCRATCH IMAGE CHAIN_ID CONFIG_JSON NETNS RUNC_ROOT CGROUP_PARENT
 *
 * CHAIN_ID is the image's unpacked top snapshot, CONFIG_JSON the image config blob, NETNS a pinned
 * network namespace (/run/netns/...), RUNC_ROOT the private runc state directory, CGROUP_PARENT the
 * cgroupfs path under which containers get their leaf cgroups. Logs go to SCRATCH. Prints one line per
 * step; exits 0 when all pass. Whatever it leaves behind, the script removes. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/spec.h"
#include "itest-harness.h"

#define REALM "itest"
#define SPACE "sp"
#define STACK "st"

/* One test container: what to run and where, and what we learnt. */
typedef struct Box {
        const char *id;
        const char *cell;
        const char *group;  /* shim group; NULL: a shim of its own */
        const char *script; /* run as /bin/sh -c script */
        int64_t memory_limit_bytes;
        bool is_host_network;
        char out[512], err[512];
        uint32_t pid;
} Box;

static char *spec_for(Itest *t, const Box *b)
{
        char *args[] = {"-c", (char *)b->script};
        ContainerSpec c = {
                .id = (char *)b->id,
                .image = (char *)t->image,
                .command = "/bin/sh",
                .args = {args, 2},
                .host_network = b->is_host_network,
        };
        c.resources.memory_limit_bytes = b->memory_limit_bytes;
        ResourceId cell = {.kind = KIND_CELL};
        snprintf(cell.realm, sizeof(cell.realm), REALM);
        snprintf(cell.space, sizeof(cell.space), SPACE);
        snprintf(cell.stack, sizeof(cell.stack), STACK);
        snprintf(cell.cell, sizeof(cell.cell), "%s", b->cell);
        char cgroup[512];
        snprintf(cgroup, sizeof(cgroup), "%s/%s", t->cgroup_parent, b->id);
        const OciSpecInput in = {
                .container = &c,
                .cell = &cell,
                .containerd_id = b->id,
                .image_config = t->image_config,
                .netns_path = b->is_host_network ? NULL : t->netns,
                .cgroups_path = cgroup,
                .hostname = b->is_host_network ? NULL : b->cell,
                .available_caps = t->available_caps,
        };
        json_t *spec = NULL;
        char *error = NULL;
        int r = oci_spec_build(&in, &spec, &error);
        if (r < 0)
                die(__LINE__, "oci_spec_build: %s", error ? error : strerror(-r));
        char *text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        CHECK(text);
        return text;
}

/* Snapshot, container record and task (created, not started) of b. */
static void box_create(Itest *t, Box *b)
{
        const CtrdIdentity id = {REALM, SPACE, STACK, b->cell, b->id, "sha256:0123abcd"};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX];
        size_t n_labels = ctrd_identity_labels(&id, labels);
        CHECK(n_labels == 6);
        Res res;

        /* As containerd's Go client does: a lease holds the fresh snapshot until the container record
         * names it, else a garbage collection in between (one follows every deletion) removes it. */
        SYNC(t, res, ctrd_lease_create(t->conn, t->ns, 600, on_res_lease, &res));
        CHECK_R(res, 1);
        char lease[sizeof(res.ids)];
        memcpy(lease, res.ids, sizeof(lease));

        const CtrdSnapshotPrepare prep = {
                .key = b->id, .parent = t->chain_id, .labels = labels, .n_labels = n_labels, .lease = lease};
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, t->ns, &prep, 0, on_res_mounts, &res));
        CHECK_R(res, 1);
        CHECK(res.n == 1 && streq(res.image, "overlay"));

        _cleanup_free_ char *spec = spec_for(t, b);
        const CtrdContainerCreate cc = {
                .id = b->id,
                .image = t->image,
                .labels = labels,
                .n_labels = n_labels,
                .spec_json = spec,
                .group = b->group,
                .stop_signal = "SIGTERM",
                .runc = {.root = t->runc_root},
        };
        SYNC(t, res, ctrd_container_create(t->conn, t->ns, &cc, 0, on_res_done, &res));
        CHECK_R(res, 1);
        SYNC(t, res, ctrd_lease_delete(t->conn, t->ns, lease, false, 0, on_res_done, &res));
        CHECK_R(res, 1);

        snprintf(b->out, sizeof(b->out), "%s/%s.out", t->scratch, b->id);
        snprintf(b->err, sizeof(b->err), "%s/%s.err", t->scratch, b->id);
        const CtrdTaskCreate tc = {.container_id = b->id, .stdout_path = b->out, .stderr_path = b->err};
        SYNC(t, res, ctrd_task_create(t->conn, t->ns, &tc, 0, on_res_pid, &res));
        CHECK_R(res, 1);
        CHECK(res.pid > 0);
        b->pid = res.pid;
}

static void box_start(Itest *t, Box *b)
{
        Res res;
        SYNC(t, res, ctrd_task_start(t->conn, t->ns, b->id, on_res_pid, &res));
        CHECK_R(res, 1);
        CHECK(res.pid == b->pid);
}

/* Teardown; returns the exit it reported. */
static CtrdTaskExit box_teardown(Itest *t, const Box *b, uint64_t grace_ms, int want_r)
{
        Res res;
        const CtrdTeardown td = {.id = b->id, .grace_ms = grace_ms};
        SYNC(t, res, ctrd_container_teardown(t->conn, &t->loop, t->ns, &td, on_res_exit, &res));
        CHECK_R(res, want_r);
        CHECK(res.has_exit == (want_r == 1));
        return res.exit;
}

static void check_file(const char *path, const char *want)
{
        _cleanup_free_ char *text = file_read_all(path);
        if (!text || !streq(text, want))
                die(__LINE__, "%s holds \"%s\", wanted \"%s\"", path, text ? text : "(unreadable)", want);
}

static bool is_dir(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- steps ---- */

/* Runs to completion: exit code 3, separate stdout/stderr files, events, the record read back, runc state
 * under the private root, then teardown. */
static void step_exit_code(Itest *t)
{
        Box b = {.id = "itest-exit",
                 .cell = "c1",
                 .is_host_network = true,
                 .script = "echo out; echo err >&2; exit 3"};
        box_create(t, &b);
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/%s", t->runc_root, t->ns, b.id);
        CHECK(is_dir(path));
        snprintf(path, sizeof(path), "/run/containerd/runc/%s/%s", t->ns, b.id);
        CHECK(!is_dir(path));

        Res res;
        SYNC(t, res, ctrd_task_get(t->conn, t->ns, b.id, on_res_task, &res));
        CHECK_R(res, 0);
        CHECK(res.task.status == CTRD_TASK_CREATED && res.task.pid == b.pid);

        box_start(t, &b);
        SYNC(t, res, ctrd_task_wait(t->conn, t->ns, b.id, 30000, 0, on_res_exit, &res));
        CHECK_R(res, 1);
        CHECK(res.has_exit && res.exit.exit_status == 3);
        check_file(b.out, "out\n");
        check_file(b.err, "err\n");
        CHECK(event_wait(t, CTRD_EVENT_TASK_START, b.id));
        CHECK(event_wait(t, CTRD_EVENT_TASK_EXIT, b.id)->exit_status == 3);

        SYNC(t, res, ctrd_task_get(t->conn, t->ns, b.id, on_res_task, &res));
        CHECK_R(res, 0);
        CHECK(res.task.status == CTRD_TASK_STOPPED && res.task.exit_status == 3);
        SYNC(t, res, ctrd_container_get(t->conn, t->ns, b.id, on_res_container, &res));
        CHECK_R(res, 0);
        CHECK(streq(res.image, t->image) && streq(res.spec_digest, "sha256:0123abcd"));
        CHECK(streq(res.cell, "c1") && streq(res.runtime, CTRD_RUNTIME_RUNC_V2));
        CHECK(streq(res.group, "") && streq(res.stop_signal, "SIGTERM"));

        CtrdTaskExit exit = box_teardown(t, &b, 1000, 1);
        CHECK(exit.exit_status == 3 && !exit.is_killed);
        CHECK(event_wait(t, CTRD_EVENT_TASK_DELETE, b.id)->exit_status == 3);
        snprintf(path, sizeof(path), "%s/%s/%s", t->runc_root, t->ns, b.id);
        CHECK(!is_dir(path));
        printf("ok exit code 3, stdout and stderr in separate files, start/exit/delete events, runc state "
               "under %s\n",
               t->runc_root);
}

/* Joins the pinned netns by path: the container's net namespace is the file's. */
static void step_netns(Itest *t)
{
        Box b = {.id = "itest-netns", .cell = "c2", .script = "readlink /proc/self/ns/net"};
        box_create(t, &b);
        box_start(t, &b);
        Res res;
        SYNC(t, res, ctrd_task_wait(t->conn, t->ns, b.id, 30000, 0, on_res_exit, &res));
        CHECK_R(res, 1);
        CHECK(res.exit.exit_status == 0);
        struct stat st;
        CHECK(stat(t->netns, &st) == 0);
        char want[64];
        snprintf(want, sizeof(want), "net:[%" PRIu64 "]\n", (uint64_t)st.st_ino);
        check_file(b.out, want);
        box_teardown(t, &b, 1000, 1);
        printf("ok joined the pinned netns %s by path (%s)\n", t->netns, strtok(want, "\n"));
}

/* 16 MiB and a shell doubling a string: /tasks/oom, then exit 137. */
static void step_oom(Itest *t)
{
        Box b = {.id = "itest-oom",
                 .cell = "c3",
                 .is_host_network = true,
                 .memory_limit_bytes = 16 << 20,
                 .script = "x=a; while true; do x=$x$x; done"};
        box_create(t, &b);
        box_start(t, &b);
        Res res;
        SYNC(t, res, ctrd_task_wait(t->conn, t->ns, b.id, 60000, 0, on_res_exit, &res));
        CHECK_R(res, 1);
        CHECK(res.exit.exit_status == 137);
        CHECK(event_wait(t, CTRD_EVENT_TASK_OOM, b.id));
        CHECK(event_wait(t, CTRD_EVENT_TASK_EXIT, b.id)->exit_status == 137);
        box_teardown(t, &b, 1000, 1);
        printf("ok memory limit 16 MiB: /tasks/oom and exit 137\n");
}

/* SIGTERM ignored: SIGKILL after the grace period, never before; the loop keeps running meanwhile. */
static void step_stop_escalation(Itest *t)
{
        Box b = {.id = "itest-stop",
                 .cell = "c4",
                 .is_host_network = true,
                 .script = "trap '' TERM; echo ready; sleep 1000"};
        box_create(t, &b);
        box_start(t, &b);
        file_wait(t, b.out, "ready");
        const uint64_t grace = 1500;
        uint64_t start = uv_now(&t->loop);
        Res res;
        SYNC(t, res,
             ctrd_task_stop(t->conn, &t->loop, t->ns, b.id, SIGTERM, grace, 0, 0, on_res_exit, &res));
        CHECK_R(res, 1);
        CHECK(res.exit.exit_status == 137 && res.exit.is_killed);
        uint64_t took = res.done_at - start;
        if (took < grace || took > grace + 10000)
                die(__LINE__, "stopped after %" PRIu64 " ms with a grace period of %" PRIu64 " ms", took,
                    grace);
        const SeenEvent *ev = event_wait(t, CTRD_EVENT_TASK_EXIT, b.id);
        CHECK(ev->exit_status == 137 && ev->at >= start + grace);

        /* Stopping it again: already stopped, the same exit at once. */
        SYNC(t, res,
             ctrd_task_stop(t->conn, &t->loop, t->ns, b.id, SIGTERM, grace, 0, 0, on_res_exit, &res));
        CHECK_R(res, 1);
        CHECK(res.exit.exit_status == 137 && !res.exit.is_killed && res.done_at - start < grace + 10000);
        CtrdTaskExit exit = box_teardown(t, &b, grace, 1);
        CHECK(exit.exit_status == 137);
        printf("ok SIGTERM ignored: SIGKILL after %" PRIu64 " ms (grace %" PRIu64
               " ms), exit 137, exit event\n",
               took, grace);
}

/* Two containers of one cell share one shim (the group annotation); a third one outside it does not. A
 * process that handles SIGTERM stops before the grace period without SIGKILL. */
static void step_shared_shim(Itest *t)
{
        const char *script = "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done";
        Box a = {.id = "itest-shim-a",
                 .cell = "c5",
                 .group = "itest-c5",
                 .is_host_network = true,
                 .script = script};
        Box b = {.id = "itest-shim-b",
                 .cell = "c5",
                 .group = "itest-c5",
                 .is_host_network = true,
                 .script = script};
        Box c = {.id = "itest-shim-c", .cell = "c6", .is_host_network = true, .script = script};
        Box *boxes[] = {&a, &b, &c};
        for (size_t i = 0; i < ARRAY_SIZE(boxes); i++) {
                box_create(t, boxes[i]);
                box_start(t, boxes[i]);
                file_wait(t, boxes[i]->out, "ready");
        }
        long shim_a = proc_ppid(a.pid), shim_b = proc_ppid(b.pid), shim_c = proc_ppid(c.pid);
        CHECK(shim_a > 1 && shim_a == shim_b && shim_c > 1 && shim_c != shim_a);
        Res res;
        SYNC(t, res, ctrd_container_get(t->conn, t->ns, a.id, on_res_container, &res));
        CHECK_R(res, 0);
        CHECK(streq(res.group, "itest-c5"));

        /* The label filter finds exactly the cell's containers. */
        const CtrdLabel cell[] = {{CTRD_LABEL_CELL, "c5"}, {CTRD_LABEL_REALM, REALM}};
        _cleanup_free_ char *filter = ctrd_filter_labels(cell, ARRAY_SIZE(cell));
        const char *filters[] = {filter};
        SYNC(t, res, ctrd_container_list(t->conn, t->ns, filters, 1, on_res_containers, &res));
        CHECK_R(res, 0);
        CHECK(res.n == 2 && strstr(res.ids, "itest-shim-a ") && strstr(res.ids, "itest-shim-b "));
        SYNC(t, res, ctrd_task_list(t->conn, t->ns, on_res_tasks, &res));
        CHECK_R(res, 0);
        CHECK(res.n == 3);
        /* each listed task names its container (containerd leaves container_id empty in lists) */
        CHECK(strstr(res.ids, "itest-shim-a ") && strstr(res.ids, "itest-shim-b "));

        uint64_t start = uv_now(&t->loop);
        for (size_t i = 0; i < ARRAY_SIZE(boxes); i++) {
                CtrdTaskExit exit = box_teardown(t, boxes[i], 20000, 1);
                CHECK(exit.exit_status == 0 && !exit.is_killed);
        }
        CHECK(uv_now(&t->loop) - start < 20000);
        printf("ok one shim (pid %ld) for the two containers of group itest-c5, another (pid %ld) outside "
               "it; "
               "label filter %s; SIGTERM honoured without SIGKILL\n",
               shim_a, shim_c, filter);
}

/* Every call again: "exists" and "not found" are done when asked, errors otherwise. */
static void step_idempotency(Itest *t)
{
        Box b = {.id = "itest-idem", .cell = "c7", .is_host_network = true, .script = "sleep 1000"};
        box_create(t, &b);
        Res res;
        const CtrdSnapshotPrepare prep = {.key = b.id, .parent = t->chain_id};
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, t->ns, &prep, CTRD_EXIST_OK, on_res_mounts, &res));
        CHECK_R(res, 0);
        CHECK(res.n == 1);
        SYNC(t, res, ctrd_snapshot_prepare(t->conn, t->ns, &prep, 0, on_res_mounts, &res));
        CHECK_R(res, -EEXIST);

        _cleanup_free_ char *spec = spec_for(t, &b);
        const CtrdContainerCreate cc = {
                .id = b.id, .image = t->image, .spec_json = spec, .runc = {.root = t->runc_root}};
        SYNC(t, res, ctrd_container_create(t->conn, t->ns, &cc, CTRD_EXIST_OK, on_res_done, &res));
        CHECK_R(res, 0);
        SYNC(t, res, ctrd_container_create(t->conn, t->ns, &cc, 0, on_res_done, &res));
        CHECK_R(res, -EEXIST);
        const CtrdTaskCreate tc = {.container_id = b.id, .stdout_path = b.out, .stderr_path = b.err};
        SYNC(t, res, ctrd_task_create(t->conn, t->ns, &tc, CTRD_EXIST_OK, on_res_pid, &res));
        CHECK_R(res, 0);
        CHECK(res.pid == b.pid);

        SYNC(t, res, ctrd_task_kill(t->conn, t->ns, "itest-none", SIGTERM, false, 0, on_res_done, &res));
        CHECK_R(res, -ENOENT);
        SYNC(t, res,
             ctrd_task_kill(t->conn, t->ns, "itest-none", SIGTERM, false, CTRD_MISSING_OK, on_res_done,
                            &res));
        CHECK_R(res, 0);
        SYNC(t, res, ctrd_task_get(t->conn, t->ns, "itest-none", on_res_task, &res));
        CHECK_R(res, -ENOENT);
        SYNC(t, res, ctrd_container_get(t->conn, t->ns, "itest-none", on_res_container, &res));
        CHECK_R(res, -ENOENT);

        /* Created, never started: stopped all the same. Its process is still runc init, a Go program whose
         * runtime handles SIGTERM and, as PID 1 unable to die by the signal, exits with 2. */
        CtrdTaskExit exit = box_teardown(t, &b, 500, 1);
        CHECK(exit.exit_status == 2 || exit.exit_status == 137);
        box_teardown(t, &b, 500, 0);
        SYNC(t, res, ctrd_task_delete(t->conn, t->ns, b.id, 0, on_res_exit, &res));
        CHECK_R(res, -ENOENT);
        SYNC(t, res, ctrd_task_delete(t->conn, t->ns, b.id, CTRD_MISSING_OK, on_res_exit, &res));
        CHECK_R(res, 0);
        CHECK(!res.has_exit);
        SYNC(t, res, ctrd_container_delete(t->conn, t->ns, b.id, 0, on_res_done, &res));
        CHECK_R(res, -ENOENT);
        SYNC(t, res, ctrd_snapshot_remove(t->conn, t->ns, NULL, b.id, 0, on_res_done, &res));
        CHECK_R(res, -ENOENT);
        SYNC(t, res, ctrd_task_stop(t->conn, &t->loop, t->ns, b.id, 0, 100, 0, 0, on_res_exit, &res));
        CHECK_R(res, -ENOENT);
        printf("ok idempotent: exists/not found are 0 when asked, -EEXIST/-ENOENT otherwise; teardown of a "
               "created task and again of nothing\n");
}

/* Nothing of ours is left: no container, no task, no container snapshot. */
static void step_nothing_left(Itest *t)
{
        Res res;
        SYNC(t, res, ctrd_container_list(t->conn, t->ns, NULL, 0, on_res_containers, &res));
        CHECK_R(res, 0);
        if (res.n != 0)
                die(__LINE__, "containers left: %s", res.ids);
        SYNC(t, res, ctrd_task_list(t->conn, t->ns, on_res_tasks, &res));
        CHECK_R(res, 0);
        if (res.n != 0)
                die(__LINE__, "tasks left: %s", res.ids);
        const char *keys[] = {"itest-exit",   "itest-netns",  "itest-oom",    "itest-stop",
                              "itest-shim-a", "itest-shim-b", "itest-shim-c", "itest-idem"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                SYNC(t, res, ctrd_snapshot_mounts(t->conn, t->ns, NULL, keys[i], on_res_mounts, &res));
                CHECK_R(res, -ENOENT);
        }
        printf("ok nothing left: no container, task or container snapshot\n");
}

/* ---- main ---- */

static bool is_ready(Itest *t, const void *arg)
{
        return grpc_conn_get_state(t->conn) == GRPC_CONN_READY;
}

static uint64_t cap_bounding_set(void)
{
        _cleanup_free_ char *text = file_read_all("/proc/self/status");
        const char *p = text ? strstr(text, "\nCapBnd:") : NULL;
        return p ? strtoull(p + 8, NULL, 16) : 0;
}

static void on_drain_watchdog(uv_timer_t *timer)
{
        die(__LINE__, "handles still open 5 s after grpc_conn_close()");
}

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

static void setup(Itest *t, char **argv)
{
        *t = (Itest){.address = argv[1],
                     .ns = argv[2],
                     .scratch = argv[3],
                     .image = argv[4],
                     .chain_id = argv[5],
                     .netns = argv[7],
                     .runc_root = argv[8],
                     .cgroup_parent = argv[9]};
        json_t *config = json_load_file(argv[6], 0, NULL);
        CHECK(config && json_is_object(json_object_get(config, "config")));
        t->image_config = json_incref(json_object_get(config, "config"));
        json_decref(config);
        t->available_caps = cap_bounding_set();
        CHECK(uv_loop_init(&t->loop) == 0);
        const GrpcConnOptions opts = {
                .address = t->address, .default_namespace = t->ns, .default_timeout_ms = 30000};
        CHECK(grpc_conn_new(&t->loop, &opts, &t->conn) == 0);
        loop_until(t, is_ready, NULL, 10000);
        _cleanup_free_ char *filter = ctrd_filter_task_events(t->ns);
        CHECK(filter);
        const char *filters[] = {filter};
        CHECK(ctrd_events_subscribe(t->conn, filters, 1, on_event, on_events_end, t, &t->sub) == 0);
        loop_for(t, 200); /* the subscription is in place before the first event */
        printf("ok connected, subscribed with %s\n", filter);
}

int main(int argc, char **argv)
{
        if (argc != 10) {
                fprintf(stderr,
                        "usage: %s ADDRESS NAMESPACE SCRATCH IMAGE CHAIN_ID CONFIG_JSON NETNS RUNC_ROOT "
                        "CGROUP_PARENT\n",
                        argv[0]);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGPIPE, SIG_IGN); /* as the daemon does: containerd gone under a write is EPIPE */
        static Itest t;
        setup(&t, argv);

        step_exit_code(&t);
        step_netns(&t);
        step_oom(&t);
        step_stop_escalation(&t);
        step_shared_shim(&t);
        step_idempotency(&t);
        step_nothing_left(&t);

        ctrd_events_unsubscribe(t.sub);
        grpc_conn_close(t.conn);
        drain(&t.loop);
        CHECK(uv_loop_close(&t.loop) == 0);
        json_decref(t.image_config);
        printf("ok uv_loop_close() == 0\n");
        return 0;
}
