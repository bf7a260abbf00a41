/* The floor of the benchmarks (docs/performance.md): what it costs to bring a cell up, tear it down or
 * restart its task by driving containerd and the CNI plugins directly with our driver libraries, with no
 * daemon in between. The same calls kukeond makes for a cell (docs/daemon.md, "A cell's containers"), in
 * the same order and with the same spec, minus everything a daemon adds: no observation, no planning, no
 * rounds, no status files.
 *
 *   kuke-bench-floor OPTIONS up|down|restart CELL...
 *
 * up       per cell: cgroup → pinned netns → CNI ADD (the space's conflist) → /etc/hosts and /etc/hostname
 *          → per container (root first): lease → Snapshots.Prepare → oci_spec_build → Containers.Create
 *          (shim group: the cell's netns name, unless --no-group) → Tasks.Create → Tasks.Start; timed from
 *          the first call until the last task is started. The lease is deleted off the critical path.
 * down     per cell: per container (non-root first) stop (the stop signal, --grace seconds, then SIGKILL)
 *          → Tasks.Delete → Containers.Delete → Snapshots.Remove; CNI DEL; netns unpinned; cgroup removed;
 *          the cell's files removed; timed until the last step.
 * restart  per cell: Tasks.Wait, SIGKILL to the root task → Tasks.Delete → Tasks.Create → Tasks.Start,
 *          timed from the kill until the task is started again (what restartPolicy: always with a back-off
 *          of 0 needs at least).
 *
 * At most --parallel cells at a time. The image is looked up once, untimed (a client knows its image).
 * Prints one JSON object per cell and a summary line; exits 1 when a cell failed. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/macro.h"
#include "drivers/cgroup/cgroup.h"
#include "drivers/cni/cni.h"
#include "drivers/containerd/spec.h"
#include "tests/bench/bench-util.h"

typedef enum FloorOp {
        FLOOR_UP,
        FLOOR_DOWN,
        FLOOR_RESTART,
} FloorOp;

typedef struct Options {
        const char *socket, *ns, *realm, *space, *stack, *manifest, *conflist, *cni_bin_dir, *netns_dir,
                *cgroup_root, *runc_root, *dir, *image;
        unsigned parallel;
        int64_t grace_s;
        bool no_group;
} Options;

typedef struct Floor Floor;

typedef struct FloorCell {
        Floor *f;
        ResourceId id;
        char netns[4 * (NAME_MAX_LEN + 1) + 8];
        char netns_path[PATH_MAX];
        char dir[PATH_MAX - 80];
        size_t step; /* the container being worked on, in creation order */
        double t_start, t_end;
        int r;
        char message[512];
        bool is_done;
        /* when each step returned: where the floor's own time goes */
        struct {
                const char *what;
                double at;
        } marks[24];
        size_t n_marks;
} FloorCell;

struct Floor {
        uv_loop_t loop;
        GrpcConn *conn;
        CgManager *cg;
        json_t *conflist;
        Options o;
        FloorOp op;
        Document *manifest;
        const ContainerSpec **order; /* the manifest's containers: root first */
        char (*digests)[72];
        size_t n_containers;
        /* the image, looked up once */
        char *chain_id, *stop_signal, *image_name;
        json_t *process;
        uint64_t available_caps;
        FloorCell *cells;
        size_t n_cells, next, n_done, n_pending_leases;
        bool has_failed;
};

static void cell_next_container(FloorCell *c);
static void floor_start_next(Floor *f);

static void cell_mark(FloorCell *c, const char *what)
{
        if (c->n_marks < ARRAY_SIZE(c->marks))
                c->marks[c->n_marks++] = (typeof(c->marks[0])){what, bench_now()};
}

/* ---- the end of a cell ---- */

static void cell_end(FloorCell *c, int r, const char *fmt, ...) _printf_(3, 4);
static void cell_end(FloorCell *c, int r, const char *fmt, ...)
{
        Floor *f = c->f;
        c->t_end = bench_now();
        c->r = r;
        c->is_done = true;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(c->message, sizeof(c->message), fmt, ap);
                va_end(ap);
        }
        if (r < 0)
                f->has_failed = true;
        f->n_done++;
        floor_start_next(f);
}

/* ---- up ---- */

typedef struct Create {
        FloorCell *c;
        const ContainerSpec *spec;
        const char *digest;
        bool is_root;
        char id[77];
        char lease[CTRD_LEASE_ID_MAX];
        char log_path[PATH_MAX + 80];
} Create;

static void on_lease_deleted(int r, const char *message, void *userdata)
{
        Floor *f = userdata;
        f->n_pending_leases--;
}

static void on_task_started(int r, const char *message, uint32_t pid, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        if (r < 0) {
                cell_end(c, r, "Tasks.Start %s: %s", cr->id, message);
                free(cr);
                return;
        }
        cell_mark(c, "Tasks.Start");
        free(cr);
        c->step++;
        cell_next_container(c);
}

static void on_task_created(int r, const char *message, uint32_t pid, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        cell_mark(c, "Tasks.Create");
        if (r < 0 || (r = ctrd_task_start(c->f->conn, c->f->o.ns, cr->id, on_task_started, cr)) < 0) {
                cell_end(c, r, "Tasks.Create/Start %s: %s", cr->id, strempty(message));
                free(cr);
        }
}

static void on_container_created(int r, const char *message, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        Floor *f = c->f;
        cell_mark(c, "Containers.Create");
        /* the record names the snapshot now: the lease can go, off the critical path */
        if (ctrd_lease_delete(f->conn, f->o.ns, cr->lease, false, CTRD_MISSING_OK, on_lease_deleted, f) >= 0)
                f->n_pending_leases++;
        if (r < 0) {
                cell_end(c, r, "Containers.Create %s: %s", cr->id, message);
                free(cr);
                return;
        }
        CtrdTaskCreate tc = {.container_id = cr->id, .stdout_path = cr->log_path};
        r = ctrd_task_create(f->conn, f->o.ns, &tc, 0, on_task_created, cr);
        if (r < 0) {
                cell_end(c, r, "Tasks.Create %s", cr->id);
                free(cr);
        }
}

static void on_rootfs_prepared(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        Floor *f = c->f;
        if (r < 0) {
                cell_end(c, r, "Snapshots.Prepare %s: %s", cr->id, message);
                free(cr);
                return;
        }
        cell_mark(c, "Snapshots.Prepare");
        char cg[PATH_MAX], cgroups_path[PATH_MAX + 80], hosts[PATH_MAX + 16], hostname[PATH_MAX + 16];
        (void)resource_cgroup_path(f->o.cgroup_root, &c->id, cg, sizeof(cg));
        if (cr->is_root)
                snprintf(cgroups_path, sizeof(cgroups_path), "%s/%s_root", cg, c->id.cell);
        else
                snprintf(cgroups_path, sizeof(cgroups_path), "%s/%s", cg, cr->spec->id);
        snprintf(hosts, sizeof(hosts), "%s/" CNI_HOSTS_FILE, c->dir);
        snprintf(hostname, sizeof(hostname), "%s/" CNI_HOSTNAME_FILE, c->dir);
        OciSpecInput in = {.container = cr->spec,
                           .cell = &c->id,
                           .is_root = cr->is_root,
                           .containerd_id = cr->id,
                           .image_config = f->process,
                           .netns_path = c->netns_path,
                           .cgroups_path = cgroups_path,
                           .hostname = c->id.cell,
                           .hosts_path = hosts,
                           .hostname_path = hostname,
                           .available_caps = f->available_caps};
        json_t *spec = NULL;
        _cleanup_free_ char *error = NULL, *text = NULL;
        r = oci_spec_build(&in, &spec, &error);
        if (r < 0) {
                cell_end(c, r, "oci_spec_build: %s", strempty(error));
                free(cr);
                return;
        }
        text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        cell_mark(c, "oci_spec_build");
        CtrdIdentity ident = {c->id.realm, c->id.space, c->id.stack, c->id.cell, cr->spec->id, cr->digest};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX + 1];
        size_t n_labels = ctrd_identity_labels(&ident, labels);
        if (cr->is_root)
                labels[n_labels++] = (CtrdLabel){CTRD_LABEL_CONTAINER_TYPE, "root"};
        CtrdContainerCreate cc = {.id = cr->id,
                                  .image = f->image_name,
                                  .labels = labels,
                                  .n_labels = n_labels,
                                  .spec_json = text,
                                  .group = f->o.no_group ? NULL : c->netns,
                                  .stop_signal = f->stop_signal,
                                  .runc = {.root = f->o.runc_root}};
        r = text ? ctrd_container_create(f->conn, f->o.ns, &cc, 0, on_container_created, cr) : -ENOMEM;
        if (r < 0) {
                cell_end(c, r, "Containers.Create %s", cr->id);
                free(cr);
        }
}

static void on_lease(int r, const char *message, const char *id, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        Floor *f = c->f;
        if (r < 0) {
                cell_end(c, r, "Leases.Create: %s", message);
                free(cr);
                return;
        }
        snprintf(cr->lease, sizeof(cr->lease), "%s", id);
        cell_mark(c, "Leases.Create");
        CtrdIdentity ident = {c->id.realm, c->id.space, c->id.stack, c->id.cell, cr->spec->id, NULL};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX];
        size_t n_labels = ctrd_identity_labels(&ident, labels);
        CtrdSnapshotPrepare p = {.key = cr->id,
                                 .parent = f->chain_id,
                                 .labels = labels,
                                 .n_labels = n_labels,
                                 .lease = cr->lease};
        r = ctrd_snapshot_prepare(f->conn, f->o.ns, &p, 0, on_rootfs_prepared, cr);
        if (r < 0) {
                cell_end(c, r, "Snapshots.Prepare %s", cr->id);
                free(cr);
        }
}

static void cell_next_container(FloorCell *c)
{
        Floor *f = c->f;
        if (c->step == f->n_containers) {
                cell_end(c, 0, NULL);
                return;
        }
        Create *cr = calloc(1, sizeof(*cr));
        if (!cr) {
                cell_end(c, -ENOMEM, "out of memory");
                return;
        }
        *cr = (Create){.c = c, .spec = f->order[c->step], .digest = f->digests[c->step]};
        cr->is_root = cr->spec == cell_root_container(&f->manifest->spec.cell);
        containerd_container_id(&c->id, cr->spec->id, cr->is_root, cr->id);
        snprintf(cr->log_path, sizeof(cr->log_path), "%s/logs/%s.log", c->dir, cr->spec->id);
        int r = ctrd_lease_create(f->conn, f->o.ns, 3600, on_lease, cr);
        if (r < 0) {
                cell_end(c, r, "Leases.Create");
                free(cr);
        }
}

static void on_cni_added(int r, const char *message, const CniResult *result, void *userdata)
{
        FloorCell *c = userdata;
        if (r < 0) {
                cell_end(c, r, "CNI ADD: %s", message);
                return;
        }
        cell_mark(c, "CNI ADD");
        /* the cell's /etc/hosts (itself: the floor has no other cells to name) and /etc/hostname */
        _cleanup_close_ int fd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CniHostEntry self = {c->id.stack, c->id.cell, result ? result->ip : NULL};
        if (fd < 0 || (r = cni_cell_etc_write(fd, c->id.stack, c->id.cell, &self, 1)) < 0) {
                cell_end(c, fd < 0 ? negative_errno() : r, "writing the cell's /etc/hosts");
                return;
        }
        cell_mark(c, "hosts");
        cell_next_container(c);
}

static void on_netns_created(int r, void *userdata)
{
        FloorCell *c = userdata;
        Floor *f = c->f;
        if (r < 0) {
                cell_end(c, r, "pinning %s", c->netns);
                return;
        }
        cell_mark(c, "netns");
        CniRuntime rt = {.plugin_path = f->o.cni_bin_dir};
        CniAttachment att = {.container_id = c->netns, .netns_path = c->netns_path};
        r = cni_exec_add(&f->loop, &rt, f->conflist, &att, on_cni_added, c, NULL);
        if (r < 0)
                cell_end(c, r, "CNI ADD");
}

static void cell_up(FloorCell *c)
{
        Floor *f = c->f;
        int r = cg_ensure(f->cg, &c->id);
        if (r < 0) {
                cell_end(c, r, "creating the cgroup");
                return;
        }
        cell_mark(c, "cgroup");
        char logs[PATH_MAX + 8];
        snprintf(logs, sizeof(logs), "%s/logs", c->dir);
        if ((mkdir(c->dir, 0750) < 0 && errno != EEXIST) || (mkdir(logs, 0750) < 0 && errno != EEXIST)) {
                cell_end(c, negative_errno(), "mkdir %s", c->dir);
                return;
        }
        r = cni_netns_create_async(&f->loop, f->o.netns_dir, c->netns, on_netns_created, c);
        if (r < 0)
                cell_end(c, r, "pinning %s", c->netns);
}

/* ---- down ---- */

static void cell_down_next(FloorCell *c);

static void on_cni_deleted(int r, const char *message, const CniResult *result, void *userdata)
{
        FloorCell *c = userdata;
        Floor *f = c->f;
        if (r < 0) {
                cell_end(c, r, "CNI DEL: %s", message);
                return;
        }
        cell_mark(c, "CNI DEL");
        if ((r = cni_netns_delete(f->o.netns_dir, c->netns)) < 0) {
                cell_end(c, r, "unpinning %s", c->netns);
                return;
        }
        if ((r = cg_remove(f->cg, &c->id)) < 0) {
                cell_end(c, r, "removing the cgroup");
                return;
        }
        char path[PATH_MAX + 128];
        static const char *const files[] = {"logs/", CNI_HOSTS_FILE, CNI_HOSTNAME_FILE};
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                if (files[i][strlen(files[i]) - 1] == '/') {
                        for (size_t k = 0; k < f->n_containers; k++) {
                                snprintf(path, sizeof(path), "%s/logs/%s.log", c->dir, f->order[k]->id);
                                (void)unlink(path);
                        }
                        snprintf(path, sizeof(path), "%s/logs", c->dir);
                        (void)rmdir(path);
                } else {
                        snprintf(path, sizeof(path), "%s/%s", c->dir, files[i]);
                        (void)unlink(path);
                }
        }
        (void)rmdir(c->dir);
        cell_mark(c, "netns, cgroup, files");
        cell_end(c, 0, NULL);
}

static void on_torn_down(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        FloorCell *c = userdata;
        if (r < 0) {
                cell_end(c, r, "teardown: %s", message);
                return;
        }
        cell_mark(c, "teardown");
        c->step++;
        cell_down_next(c);
}

/* Containers in reverse creation order: the root (created first) goes last. */
static void cell_down_next(FloorCell *c)
{
        Floor *f = c->f;
        int r;
        if (c->step < f->n_containers) {
                const ContainerSpec *spec = f->order[f->n_containers - 1 - c->step];
                char id[77];
                containerd_container_id(&c->id, spec->id,
                                        spec == cell_root_container(&f->manifest->spec.cell), id);
                int sig = ctrd_signal_from_string(f->stop_signal);
                CtrdTeardown t = {.id = id,
                                  .signal = sig > 0 ? sig : 0,
                                  .grace_ms = (uint64_t)f->o.grace_s * 1000,
                                  .kill_timeout_ms = 10000};
                r = ctrd_container_teardown(f->conn, &f->loop, f->o.ns, &t, on_torn_down, c);
                if (r < 0)
                        cell_end(c, r, "teardown of %s", id);
                return;
        }
        CniRuntime rt = {.plugin_path = f->o.cni_bin_dir};
        CniAttachment att = {.container_id = c->netns, .netns_path = c->netns_path};
        r = cni_exec_del(&f->loop, &rt, f->conflist, &att, NULL, on_cni_deleted, c, NULL);
        if (r < 0)
                cell_end(c, r, "CNI DEL");
}

/* ---- restart ---- */

static void on_restart_deleted(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        CtrdTaskCreate tc = {.container_id = cr->id, .stdout_path = cr->log_path};
        cell_mark(c, "Tasks.Delete");
        if (r < 0 || (r = ctrd_task_create(c->f->conn, c->f->o.ns, &tc, 0, on_task_created, cr)) < 0) {
                cell_end(c, r, "Tasks.Delete/Create %s: %s", cr->id, strempty(message));
                free(cr);
        }
}

static void on_restart_exited(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Create *cr = userdata;
        FloorCell *c = cr->c;
        c->step = c->f->n_containers - 1; /* only the root is restarted: after its start the cell is done */
        cell_mark(c, "exited");
        if (r < 0 || (r = ctrd_task_delete(c->f->conn, c->f->o.ns, cr->id, 0, on_restart_deleted, cr)) < 0) {
                cell_end(c, r, "Tasks.Wait/Delete %s: %s", cr->id, strempty(message));
                free(cr);
        }
}

static void on_killed(int r, const char *message, void *userdata)
{
        FloorCell *c = userdata;
        if (r < 0)
                fprintf(stderr, "kuke-bench-floor: Tasks.Kill of %s: %s\n", c->id.cell, message);
}

static void cell_restart(FloorCell *c)
{
        Floor *f = c->f;
        Create *cr = calloc(1, sizeof(*cr));
        if (!cr) {
                cell_end(c, -ENOMEM, "out of memory");
                return;
        }
        *cr = (Create){.c = c, .spec = cell_root_container(&f->manifest->spec.cell), .is_root = true};
        containerd_container_id(&c->id, cr->spec->id, true, cr->id);
        snprintf(cr->log_path, sizeof(cr->log_path), "%s/logs/%s.log", c->dir, cr->spec->id);
        /* the wait first, so the exit is not missed; SIGKILL to the init process, as `ctr task kill` */
        int r = ctrd_task_wait(f->conn, f->o.ns, cr->id, 30000, 0, on_restart_exited, cr);
        if (r >= 0)
                r = ctrd_task_kill(f->conn, f->o.ns, cr->id, SIGKILL, false, 0, on_killed, c);
        if (r < 0) {
                cell_end(c, r, "Tasks.Wait/Kill %s", cr->id);
                free(cr);
        }
}

/* ---- the pool ---- */

static void floor_start_next(Floor *f)
{
        size_t running = f->next - f->n_done;
        while (f->next < f->n_cells && running < f->o.parallel) {
                FloorCell *c = &f->cells[f->next++];
                running++;
                c->t_start = bench_now();
                c->step = 0;
                c->n_marks = 0;
                switch (f->op) {
                case FLOOR_UP:
                        cell_up(c);
                        break;
                case FLOOR_DOWN:
                        cell_down_next(c);
                        break;
                case FLOOR_RESTART:
                        cell_restart(c);
                        break;
                }
        }
}

static bool all_done(void *arg)
{
        Floor *f = arg;
        return f->n_done == f->n_cells && f->n_pending_leases == 0;
}

/* ---- set-up ---- */

typedef struct ImageLookup {
        Floor *f;
        int r;
        bool is_done;
        char message[256];
} ImageLookup;

static void on_image_config(int r, const char *message, const CtrdImageConfig *config, void *userdata)
{
        ImageLookup *l = userdata;
        Floor *f = l->f;
        l->is_done = true;
        l->r = r;
        if (r < 0) {
                snprintf(l->message, sizeof(l->message), "%s", message);
                return;
        }
        f->chain_id = strdup(config->chain_id);
        f->stop_signal = strdup(oci_image_stop_signal(config->process));
        f->process = config->process ? json_incref((json_t *)config->process) : NULL;
        if (!f->chain_id || !f->stop_signal)
                l->r = -ENOMEM;
}

static bool lookup_done(void *arg)
{
        return ((ImageLookup *)arg)->is_done;
}

static int floor_setup(Floor *f, char **ret_error)
{
        const Options *o = &f->o;
        ResourceId first;
        bench_cell_id(o->realm, o->space, o->stack, f->cells[0].id.cell, &first);
        int r = bench_cell_load(o->manifest, &first, &f->manifest, ret_error);
        if (r < 0)
                return r;
        const CellSpec *cs = &f->manifest->spec.cell;
        const ContainerSpec *root = cell_root_container(cs);
        f->order = calloc(cs->n_containers, sizeof(*f->order));
        f->digests = calloc(cs->n_containers, sizeof(*f->digests));
        if (!f->order || !f->digests)
                return -ENOMEM;
        f->order[f->n_containers++] = root;
        for (size_t i = 0; i < cs->n_containers; i++)
                if (&cs->containers[i] != root)
                        f->order[f->n_containers++] = &cs->containers[i];
        for (size_t i = 0; i < f->n_containers; i++)
                if ((r = bench_container_digest(f->order[i], f->digests[i])) < 0)
                        return r;
        if ((r = ctrd_image_ref_normalize(o->image ? o->image : root->image, &f->image_name)) < 0)
                return r;
        if ((r = cg_manager_new(NULL, o->cgroup_root, &f->cg)) < 0)
                return r;
        if ((r = cni_conflist_read(o->conflist, &f->conflist, ret_error)) < 0)
                return r;
        for (int i = 0; i < 64; i++)
                if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
                        f->available_caps |= 1ull << i;
        if ((r = uv_loop_init(&f->loop)) < 0 ||
            (r = bench_conn_open(&f->loop, o->socket, 10000, &f->conn)) < 0)
                return r;
        ImageLookup l = {.f = f};
        if ((r = ctrd_image_config_get(f->conn, o->ns, f->image_name, on_image_config, &l)) < 0)
                return r;
        (void)bench_run_until(&f->loop, lookup_done, &l, 30000);
        if (l.r < 0 && asprintf(ret_error, "image %s: %s", f->image_name, l.message) < 0)
                *ret_error = NULL;
        return l.is_done ? l.r : -ETIMEDOUT;
}

static void floor_done(Floor *f)
{
        if (f->conn)
                grpc_conn_close(f->conn);
        bench_loop_close(&f->loop);
        cg_manager_free(f->cg);
        json_decref(f->conflist);
        json_decref(f->process);
        document_free(f->manifest);
        free(f->order);
        free(f->digests);
        free(f->chain_id);
        free(f->stop_signal);
        free(f->image_name);
        free(f->cells);
}

static const char *op_name(FloorOp op)
{
        return op == FLOOR_UP ? "up" : op == FLOOR_DOWN ? "down" : "restart";
}

static double cpu_seconds(int who)
{
        struct rusage ru;
        if (getrusage(who, &ru) < 0)
                return 0;
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* cpu, children: CPU time (user + system) of the floor and of its children (the CNI plugins) between the
 * first call and the end of the last cell. */
static void floor_report(const Floor *f, double wall_start, double cpu, double children)
{
        double last = wall_start;
        for (size_t i = 0; i < f->n_cells; i++) {
                const FloorCell *c = &f->cells[i];
                if (c->t_end > last)
                        last = c->t_end;
                printf("{\"tool\":\"floor\",\"op\":\"%s\",\"cell\":\"%s\",\"r\":%d,\"t_start\":%.6f,"
                       "\"t_end\":%.6f,\"ms\":%.3f,\"error\":\"%s\",\"marks\":[",
                       op_name(f->op), c->id.cell, c->r, c->t_start, c->t_end, (c->t_end - c->t_start) * 1e3,
                       c->r < 0 ? c->message : "");
                for (size_t k = 0; k < c->n_marks; k++)
                        printf("%s[\"%s\",%.3f]", k ? "," : "", c->marks[k].what,
                               (c->marks[k].at - c->t_start) * 1e3);
                printf("]}\n");
        }
        printf("{\"tool\":\"floor\",\"op\":\"%s\",\"summary\":true,\"cells\":%zu,\"parallel\":%u,\"group\":%"
               "s,"
               "\"t_start\":%.6f,\"wall_ms\":%.3f,\"cpu_ms\":%.3f,\"children_cpu_ms\":%.3f,\"failed\":%s}\n",
               op_name(f->op), f->n_cells, f->o.parallel, f->o.no_group ? "false" : "true", wall_start,
               (last - wall_start) * 1e3, cpu * 1e3, children * 1e3, f->has_failed ? "true" : "false");
}

static void usage(FILE *out)
{
        fputs("Usage: kuke-bench-floor OPTIONS up|down|restart CELL...\n"
              "  --socket PATH --namespace NS --realm R --space S --stack T\n"
              "  --manifest FILE     a Cell manifest: its containers, as kukeond would run them\n"
              "  --conflist FILE     the space's conflist\n"
              "  --cni-bin-dir PATHS --netns-dir DIR --cgroup-root NAME --runc-root DIR\n"
              "  --dir DIR           where the cells' files go (DIR/<cell>/: logs, etc-hosts)\n"
              "  --image REF         default: the root container's image\n"
              "  --parallel N        cells at a time (1)\n"
              "  --grace SECONDS     down: between the stop signal and SIGKILL (10, kukeond's default)\n"
              "  --no-group          up: every container on a shim of its own\n",
              out);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"namespace", required_argument, NULL, 'n'},
                {"realm", required_argument, NULL, 'R'},
                {"space", required_argument, NULL, 'S'},
                {"stack", required_argument, NULL, 'T'},
                {"manifest", required_argument, NULL, 'm'},
                {"conflist", required_argument, NULL, 'c'},
                {"cni-bin-dir", required_argument, NULL, 'b'},
                {"netns-dir", required_argument, NULL, 'N'},
                {"cgroup-root", required_argument, NULL, 'g'},
                {"runc-root", required_argument, NULL, 'r'},
                {"dir", required_argument, NULL, 'd'},
                {"image", required_argument, NULL, 'i'},
                {"parallel", required_argument, NULL, 'p'},
                {"grace", required_argument, NULL, 'G'},
                {"no-group", no_argument, NULL, 'x'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        Floor f = {.o = {.parallel = 1, .grace_s = 10}};
        int k;
        while ((k = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (k) {
                case 's':
                        f.o.socket = optarg;
                        break;
                case 'n':
                        f.o.ns = optarg;
                        break;
                case 'R':
                        f.o.realm = optarg;
                        break;
                case 'S':
                        f.o.space = optarg;
                        break;
                case 'T':
                        f.o.stack = optarg;
                        break;
                case 'm':
                        f.o.manifest = optarg;
                        break;
                case 'c':
                        f.o.conflist = optarg;
                        break;
                case 'b':
                        f.o.cni_bin_dir = optarg;
                        break;
                case 'N':
                        f.o.netns_dir = optarg;
                        break;
                case 'g':
                        f.o.cgroup_root = optarg;
                        break;
                case 'r':
                        f.o.runc_root = optarg;
                        break;
                case 'd':
                        f.o.dir = optarg;
                        break;
                case 'i':
                        f.o.image = optarg;
                        break;
                case 'p':
                        f.o.parallel = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'G':
                        f.o.grace_s = strtoll(optarg, NULL, 10);
                        break;
                case 'x':
                        f.o.no_group = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (!f.o.socket || !f.o.ns || !f.o.realm || !f.o.space || !f.o.stack || !f.o.manifest ||
            !f.o.conflist || !f.o.netns_dir || !f.o.cgroup_root || !f.o.dir || f.o.parallel == 0 ||
            argc - optind < 2) {
                usage(stderr);
                return 2;
        }
        const char *verb = argv[optind++];
        f.op = streq(verb, "up") ? FLOOR_UP : streq(verb, "down") ? FLOOR_DOWN : FLOOR_RESTART;
        if (!streq(verb, "up") && !streq(verb, "down") && !streq(verb, "restart")) {
                usage(stderr);
                return 2;
        }
        (void)signal(SIGPIPE, SIG_IGN);
        f.n_cells = (size_t)(argc - optind);
        f.cells = calloc(f.n_cells, sizeof(*f.cells));
        if (!f.cells)
                return 1;
        for (size_t i = 0; i < f.n_cells; i++) {
                FloorCell *c = &f.cells[i];
                c->f = &f;
                bench_cell_id(f.o.realm, f.o.space, f.o.stack, argv[optind + (int)i], &c->id);
                if (cell_netns_name(&c->id, c->netns, sizeof(c->netns)) < 0 ||
                    cni_netns_path(f.o.netns_dir, c->netns, c->netns_path, sizeof(c->netns_path)) < 0) {
                        fprintf(stderr, "kuke-bench-floor: bad cell name %s\n", argv[optind + (int)i]);
                        return 2;
                }
                snprintf(c->dir, sizeof(c->dir), "%s/%s", f.o.dir, c->id.cell);
        }
        _cleanup_free_ char *error = NULL;
        int r = floor_setup(&f, &error);
        if (r < 0) {
                fprintf(stderr, "kuke-bench-floor: %s\n", error ? error : strerror(-r));
                floor_done(&f);
                return 1;
        }
        double wall_start = bench_now(), cpu_start = cpu_seconds(RUSAGE_SELF),
               children_start = cpu_seconds(RUSAGE_CHILDREN);
        floor_start_next(&f);
        if (!bench_run_until(&f.loop, all_done, &f, 600000)) {
                fprintf(stderr, "kuke-bench-floor: %s timed out\n", verb);
                f.has_failed = true;
        }
        floor_report(&f, wall_start, cpu_seconds(RUSAGE_SELF) - cpu_start,
                     cpu_seconds(RUSAGE_CHILDREN) - children_start);
        for (size_t i = 0; i < f.n_cells; i++)
                if (f.cells[i].r < 0)
                        fprintf(stderr, "kuke-bench-floor: %s %s: %s (%s)\n", verb, f.cells[i].id.cell,
                                f.cells[i].message, strerror(-f.cells[i].r));
        bool failed = f.has_failed;
        floor_done(&f);
        return failed ? 1 : 0;
}
