/* A cell's containers and tasks, and its managed /etc/hosts: the handlers of ACTION_HOSTS_WRITE,
 * ACTION_CONTAINER_CREATE/DELETE and ACTION_TASK_START/STOP/DELETE (drivers/containerd does the calls).
 *
 * Creating a container: a lease → Snapshots.Prepare of its rootfs on the image's top layer under it
 * (containerd's GC would otherwise take the snapshot before the record names it) → the OCI spec →
 * Containers.Create → the lease deleted. Every container of a cell names the cell as its shim group, so
 * the cell has one runc shim. */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "drivers/containerd/spec.h"

#define TASK_KILL_TIMEOUT_MS  10000
#define CREATE_LEASE_EXPIRE_S 3600

static int cell_dir_path(Daemon *d, const ResourceId *id, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/%s/%s/%s/%s", d->config.run_path, id->realm, id->space, id->stack,
                         id->cell);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int cell_dir_open(Daemon *d, const ResourceId *id)
{
        char rel[PATH_MAX];
        int n = snprintf(rel, sizeof(rel), "%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell);
        if (n < 0 || (size_t)n >= sizeof(rel))
                return -ENAMETOOLONG;
        return open_run_dir(d, rel);
}

static const ContainerExtra *observed_extra(const Op *op, const char *name, const ObservedContainer **ret)
{
        for (size_t i = 0; i < op->n_obs; i++)
                if (streq(op->obs_extra[i].name, name)) {
                        if (ret)
                                *ret = &op->obs[i];
                        return &op->obs_extra[i];
                }
        return NULL;
}

static bool is_root_container(const Op *op, const char *name)
{
        const ObservedContainer *o = NULL;
        if (op->res->spec && op->desire == DESIRE_PRESENT) {
                const ContainerSpec *root = cell_root_container(&op->res->spec->spec.cell);
                if (root)
                        return streq_ptr(root->id, name);
        }
        return observed_extra(op, name, &o) && o->is_root;
}

/* The containerd id of container name: as observed, else as the naming rule gives it. */
static void container_id_of(const Op *op, const char *name, char ret[static 77])
{
        const ContainerExtra *x = observed_extra(op, name, NULL);
        if (x)
                snprintf(ret, 77, "%s", x->containerd_id);
        else
                containerd_container_id(&op->res->id, name, is_root_container(op, name), ret);
}

static bool ctrd_ready(Op *op, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        if (d->ctrd && d->is_ctrd_ready)
                return true;
        snprintf(msg, msg_size, "containerd is not reachable at %s", d->config.containerd_socket);
        return false;
}

/* ---- /etc/hosts and /etc/hostname ---- */

int action_hosts_write(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        _cleanup_free_ char *hosts = NULL, *hostname = NULL;
        int r = cell_hosts_render(d, op->res, &hosts, &hostname);
        if (r < 0) {
                snprintf(msg, msg_size, "rendering /etc/hosts: %s", strerror(-r));
                return r;
        }
        _cleanup_close_ int fd = cell_dir_open(d, &a->id);
        if (fd < 0) {
                snprintf(msg, msg_size, "opening the cell's directory: %s", strerror(-fd));
                return fd;
        }
        int h = cni_etc_file_write(fd, CNI_HOSTS_FILE, hosts);
        int n = h < 0 ? h : cni_etc_file_write(fd, CNI_HOSTNAME_FILE, hostname);
        if (h < 0 || n < 0) {
                snprintf(msg, msg_size, "writing the cell's %s: %s", h < 0 ? "/etc/hosts" : "/etc/hostname",
                         strerror(-(h < 0 ? h : n)));
                return h < 0 ? h : n;
        }
        return h > 0 || n > 0;
}

/* ---- creating a container ---- */

typedef struct Create {
        ActionCall *call;
        Daemon *d;
        char ns[NAME_MAX_LEN + 16];
        char id[77];
        char lease[CTRD_LEASE_ID_MAX];
        const ContainerSpec *spec; /* op->want: lives as long as the round */
        const CellImage *image;
        bool is_root;
        int r;
        char message[512];
} Create;

static void create_end(Create *c, int r, const char *message)
{
        ActionCall *call = c->call;
        free(c);
        action_call_done(call, r, message);
}

static void on_create_lease_deleted(int r, const char *message, void *userdata)
{
        (void)r;
        (void)message; /* it expires by itself when this fails */
        (void)userdata;
}

static void create_finish(Create *c, int r, const char *fmt, ...) _printf_(3, 4);
static void create_finish(Create *c, int r, const char *fmt, ...)
{
        c->r = r;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(c->message, sizeof(c->message), fmt, ap);
                va_end(ap);
        }
        /* the container holds its snapshot now: the lease only has to go, nothing waits for it */
        if (c->lease[0])
                (void)ctrd_lease_delete(c->d->ctrd, c->ns, c->lease, false, CTRD_MISSING_OK,
                                        on_create_lease_deleted, NULL);
        create_end(c, c->r, c->message);
}

static void on_container_created(int r, const char *message, void *userdata)
{
        Create *c = userdata;
        res_stamp(c->d, c->call->op->res, "recv ctrd.ContainerCreate %s r=%d", c->spec->id,
                  r); /* BENCH STAMP */
        if (r < 0)
                create_finish(c, r, "creating container %s: %s", c->id, message);
        else
                create_finish(c, 1, NULL);
}

/* Reads path (relative, e.g. "etc/passwd") from a rootfs given as mounts, without mounting it: the upper
 * directory of an overlay, then its lower ones in order, or a bind mount's source. Resolution stays
 * inside each layer (RESOLVE_IN_ROOT), so a link in the image cannot reach the host. NULL when absent. */
static char *rootfs_read(const CtrdMount *mounts, size_t n, const char *path)
{
        char dirs[64][PATH_MAX];
        size_t n_dirs = 0;
        for (size_t i = 0; i < n && n_dirs == 0; i++) {
                const CtrdMount *m = &mounts[i];
                if (streq(m->type, "bind") || streq(m->type, "rbind")) {
                        snprintf(dirs[n_dirs++], PATH_MAX, "%s", m->source);
                        continue;
                }
                if (!streq(m->type, "overlay"))
                        continue;
                for (size_t k = 0; k < m->n_options; k++)
                        if (startswith(m->options[k], "upperdir="))
                                snprintf(dirs[n_dirs++], PATH_MAX, "%s",
                                         m->options[k] + strlen("upperdir="));
                for (size_t k = 0; k < m->n_options; k++) {
                        if (!startswith(m->options[k], "lowerdir="))
                                continue;
                        char buf[16384], *save = NULL;
                        snprintf(buf, sizeof(buf), "%s", m->options[k] + strlen("lowerdir="));
                        for (char *p = strtok_r(buf, ":", &save); p && n_dirs < ARRAY_SIZE(dirs);
                             p = strtok_r(NULL, ":", &save))
                                snprintf(dirs[n_dirs++], PATH_MAX, "%s", p);
                }
        }
        for (size_t i = 0; i < n_dirs; i++) {
                _cleanup_close_ int root = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (root < 0)
                        continue;
                struct open_how how = {.flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
                _cleanup_close_ int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
                if (fd < 0)
                        continue;
                struct stat st;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20))
                        return NULL; /* a whiteout or something odd: not there */
                char *buf = malloc((size_t)st.st_size + 1);
                ssize_t k = buf ? read(fd, buf, (size_t)st.st_size) : -1;
                if (k < 0) {
                        free(buf);
                        return NULL;
                }
                buf[k] = '\0';
                return buf;
        }
        return NULL;
}

static uint64_t available_caps(Daemon *d)
{
        if (d->available_caps)
                return d->available_caps;
        uint64_t caps = 0;
        for (int i = 0; i < 64; i++)
                if (prctl(PR_CAPBSET_READ, i, 0, 0, 0) == 1)
                        caps |= 1ull << i;
        d->available_caps = caps;
        return caps;
}

static void on_rootfs_prepared(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        Create *c = userdata;
        Daemon *d = c->d;
        Op *op = c->call->op;
        const ResourceId *cell = &op->res->id;
        res_stamp(d, op->res, "recv ctrd.SnapshotPrepare %s r=%d", c->spec->id, r); /* BENCH STAMP */
        if (r < 0) {
                create_finish(c, r, "preparing the root filesystem of %s: %s", c->id, message);
                return;
        }
        _cleanup_free_ char *passwd = NULL, *group = NULL, *error = NULL, *text = NULL;
        if (oci_spec_needs_passwd(c->spec, c->image->process)) {
                passwd = rootfs_read(mounts, n, "etc/passwd");
                group = rootfs_read(mounts, n, "etc/group");
        }
        char cg[PATH_MAX], cgroups_path[PATH_MAX + 80], dir[PATH_MAX], netns[PATH_MAX], hosts[PATH_MAX + 16],
                hostname[PATH_MAX + 16];
        if (resource_cgroup_path(d->config.cgroup_root, cell, cg, sizeof(cg)) < 0 ||
            cell_dir_path(d, cell, dir, sizeof(dir)) < 0) {
                create_finish(c, -ENAMETOOLONG, "the container's paths are too long");
                return;
        }
        if (c->is_root)
                snprintf(cgroups_path, sizeof(cgroups_path), "%s/%s_root", cg, cell->cell);
        else
                snprintf(cgroups_path, sizeof(cgroups_path), "%s/%s", cg, c->spec->id);
        snprintf(netns, sizeof(netns), "%s/%s", d->config.netns_dir, op->res->rec.netns);
        snprintf(hosts, sizeof(hosts), "%s/" CNI_HOSTS_FILE, dir);
        snprintf(hostname, sizeof(hostname), "%s/" CNI_HOSTNAME_FILE, dir);
        OciSpecInput in = {.container = c->spec,
                           .cell = cell,
                           .is_root = c->is_root,
                           .containerd_id = c->id,
                           .image_config = c->image->process,
                           .etc_passwd = passwd,
                           .etc_group = group,
                           .netns_path = c->spec->host_network ? NULL : netns,
                           .cgroups_path = cgroups_path,
                           .hostname = cell->cell,
                           .hosts_path = hosts,
                           .hostname_path = hostname,
                           .available_caps = available_caps(d)};
        json_t *spec = NULL;
        r = oci_spec_build(&in, &spec, &error);
        if (r < 0) {
                create_finish(c, r, "container \"%s\": %s", c->spec->id, error ? error : strerror(-r));
                return;
        }
        text = json_dumps(spec, JSON_COMPACT);
        json_decref(spec);
        if (!text) {
                create_finish(c, -ENOMEM, NULL);
                return;
        }
        const char *digest = NULL, *resources = NULL;
        for (size_t i = 0; i < op->n_want; i++)
                if (&op->want[i] == c->spec) {
                        digest = op->want_digest[i];
                        resources = op->want_resources[i];
                }
        CtrdIdentity ident = {cell->realm, cell->space, cell->stack, cell->cell, c->spec->id, digest};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX + 3];
        size_t n_labels = ctrd_identity_labels(&ident, labels);
        char grace[24];
        if (op->res->spec && op->res->spec->kind == KIND_CELL) {
                snprintf(grace, sizeof(grace), "%" PRId64,
                         op->res->spec->spec.cell.stop_grace_period_seconds);
                labels[n_labels++] = (CtrdLabel){CTRD_LABEL_STOP_GRACE, grace};
        }
        if (resources)
                labels[n_labels++] = (CtrdLabel){CTRD_LABEL_RESOURCES_DIGEST, resources};
        if (c->is_root)
                labels[n_labels++] = (CtrdLabel){CTRD_LABEL_CONTAINER_TYPE, "root"};
        CtrdContainerCreate cc = {.id = c->id,
                                  .image = c->image->name,
                                  .labels = labels,
                                  .n_labels = n_labels,
                                  .spec_json = text,
                                  .group = op->res->rec.netns,
                                  .stop_signal = c->image->stop_signal,
                                  .runc = {.root = *d->config.runc_root ? d->config.runc_root : NULL}};
        res_stamp(d, op->res, "send ctrd.ContainerCreate %s", c->spec->id); /* BENCH STAMP */
        r = ctrd_container_create(d->ctrd, c->ns, &cc, CTRD_EXIST_OK, on_container_created, c);
        if (r < 0)
                create_finish(c, r, "creating container %s: %s", c->id, strerror(-r));
}

static void on_create_lease(int r, const char *message, const char *id, void *userdata)
{
        Create *c = userdata;
        Op *op = c->call->op;
        res_stamp(c->d, op->res, "recv ctrd.LeaseCreate r=%d", r); /* BENCH STAMP */
        if (r < 0) {
                create_finish(c, r, "taking a lease: %s", message);
                return;
        }
        snprintf(c->lease, sizeof(c->lease), "%s", id);
        const ResourceId *cell = &op->res->id;
        CtrdIdentity ident = {cell->realm, cell->space, cell->stack, cell->cell, c->spec->id, NULL};
        CtrdLabel labels[CTRD_IDENTITY_LABELS_MAX];
        size_t n_labels = ctrd_identity_labels(&ident, labels);
        CtrdSnapshotPrepare p = {.key = c->id,
                                 .parent = c->image->chain_id,
                                 .labels = labels,
                                 .n_labels = n_labels,
                                 .lease = c->lease};
        res_stamp(c->d, op->res, "send ctrd.SnapshotPrepare %s", c->spec->id); /* BENCH STAMP */
        r = ctrd_snapshot_prepare(c->d->ctrd, c->ns, &p, CTRD_EXIST_OK, on_rootfs_prepared, c);
        if (r < 0)
                create_finish(c, r, "preparing the root filesystem of %s: %s", c->id, strerror(-r));
}

int action_container_create(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        if (!ctrd_ready(op, msg, msg_size))
                return -ENOTCONN;
        const ContainerSpec *spec = op_container_spec(op, a->container);
        const CellImage *image = spec ? cell_image_find(op, spec->image) : NULL;
        if (!spec || !image || !image->is_present) {
                snprintf(msg, msg_size, "the image of container \"%s\" is not there yet", a->container);
                return -EAGAIN;
        }
        Create *c = calloc(1, sizeof(*c));
        if (!c || !(c->call = action_call_new(op, a))) {
                free(c);
                return -ENOMEM;
        }
        c->d = d;
        c->spec = spec;
        c->image = image;
        c->is_root = is_root_container(op, spec->id);
        realm_namespace(d, &a->id, c->ns, sizeof(c->ns));
        containerd_container_id(&a->id, spec->id, c->is_root, c->id);
        op->res->is_live = true;
        ContainerRecord *cr = cell_container_record(op->res, spec->id, true);
        if (cr) {
                cr->restarts = (RestartMemory){0}; /* a new container starts over */
                snprintf(cr->containerd_id, sizeof(cr->containerd_id), "%s", c->id);
                snprintf(cr->image_digest, sizeof(cr->image_digest), "%s", strempty(image->digest));
        }
        res_stamp(d, op->res, "send ctrd.LeaseCreate"); /* BENCH STAMP */
        int r = ctrd_lease_create(d->ctrd, c->ns, CREATE_LEASE_EXPIRE_S, on_create_lease, c);
        if (r < 0) {
                free(c->call);
                free(c);
                snprintf(msg, msg_size, "taking a lease: %s", strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

/* The start of an action on one container's record or task: containerd is there, the realm's namespace
 * and the container's id are known, the call context is made. NULL with *ret_r set otherwise. */
static ActionCall *container_call(Op *op, const Action *a, char *msg, size_t msg_size,
                                  char ns[static NAME_MAX_LEN + 16], char id[static 77], int *ret_r)
{
        *ret_r = -ENOTCONN;
        if (!ctrd_ready(op, msg, msg_size))
                return NULL;
        realm_namespace(op->d, &a->id, ns, NAME_MAX_LEN + 16);
        container_id_of(op, a->container, id);
        ActionCall *call = action_call_new(op, a);
        *ret_r = call ? 0 : -ENOMEM;
        return call;
}

/* Ends a container action whose driver call reports an exit: "<what> <container>: <message>" on failure. */
static void container_call_done(ActionCall *call, int r, const char *what, const char *message)
{
        char m[512];
        snprintf(m, sizeof(m), "%s %s: %s", what, call->action.container, message);
        action_call_done(call, r < 0 ? r : 1, m);
}

/* ---- deleting a container: stop → delete task → delete record → remove snapshot ---- */

static void on_teardown(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        ActionCall *call = userdata;
        (void)exit;
        res_stamp(call->op->d, call->op->res, "recv ctrd.Teardown %s r=%d", call->action.container,
                  r); /* BENCH STAMP */
        container_call_done(call, r, "removing container", message);
}

int action_container_delete(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        char ns[NAME_MAX_LEN + 16], id[77];
        int r;
        ActionCall *call = container_call(op, a, msg, msg_size, ns, id, &r);
        if (!call)
                return r;
        CtrdTeardown t = {.id = id, .grace_ms = 0, .kill_timeout_ms = TASK_KILL_TIMEOUT_MS};
        res_stamp(d, op->res, "send ctrd.Teardown %s", a->container); /* BENCH STAMP */
        r = ctrd_container_teardown(d->ctrd, &d->loop, ns, &t, on_teardown, call);
        if (r < 0) {
                free(call);
                snprintf(msg, msg_size, "removing container %s: %s", id, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

/* ---- tasks ---- */

typedef struct TaskCall {
        ActionCall *call;
        Daemon *d;
        char ns[NAME_MAX_LEN + 16];
        char id[77];
        char log_path[PATH_MAX];
} TaskCall;

static void task_end(TaskCall *t, int r, const char *what, const char *message)
{
        ActionCall *call = t->call;
        char m[512] = "";
        if (r < 0)
                snprintf(m, sizeof(m), "%s %s: %s", what, t->id,
                         message && *message ? message : strerror(-r));
        free(t);
        action_call_done(call, r, m);
}

static void on_task_started(int r, const char *message, uint32_t pid, void *userdata)
{
        TaskCall *t = userdata;
        Op *op = t->call->op;
        res_stamp(t->d, op->res, "recv ctrd.TaskStart %s r=%d pid=%u", t->call->action.container, r,
                  pid); /* BENCH STAMP: the container runs */
        if (r >= 0) {
                ContainerRecord *cr = cell_container_record(op->res, t->call->action.container, true);
                if (cr) {
                        cr->pid = pid;
                        cr->started_at = time_now();
                        cr->has_exit = false;
                        cr->finished_at = 0;
                }
        }
        task_end(t, r < 0 ? r : 1, "starting the task of", message);
}

static void on_task_created(int r, const char *message, uint32_t pid, void *userdata)
{
        TaskCall *t = userdata;
        (void)pid;
        res_stamp(t->d, t->call->op->res, "recv ctrd.TaskCreate %s r=%d", t->call->action.container,
                  r); /* BENCH STAMP */
        if (r < 0) {
                task_end(t, r, "creating the task of", message);
                return;
        }
        res_stamp(t->d, t->call->op->res, "send ctrd.TaskStart %s",
                  t->call->action.container); /* BENCH STAMP */
        r = ctrd_task_start(t->d->ctrd, t->ns, t->id, on_task_started, t);
        if (r < 0)
                task_end(t, r, "starting the task of", NULL);
}

static void task_create(TaskCall *t)
{
        CtrdTaskCreate tc = {.container_id = t->id, .stdout_path = t->log_path};
        res_stamp(t->d, t->call->op->res, "send ctrd.TaskCreate %s",
                  t->call->action.container); /* BENCH STAMP */
        int r = ctrd_task_create(t->d->ctrd, t->ns, &tc, 0, on_task_created, t);
        if (r < 0)
                task_end(t, r, "creating the task of", NULL);
}

static void on_old_task_deleted(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        TaskCall *t = userdata;
        (void)exit;
        res_stamp(t->d, t->call->op->res, "recv ctrd.TaskDelete %s r=%d", t->call->action.container,
                  r); /* BENCH STAMP */
        if (r < 0) {
                task_end(t, r, "deleting the exited task of", message);
                return;
        }
        task_create(t);
}

/* The log file of a container: <cell>/logs/<container>.log, its directory made when missing. The shim
 * opens the file by its path, as root: the directory must be a real one (never a symlink someone put in
 * its place) and the file is made here, a regular file without other links, never through a symlink. */
static int log_path(Daemon *d, const ResourceId *cell, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = cell_dir_open(d, cell);
        if (fd < 0)
                return fd;
        if (mkdirat(fd, "logs", 0750) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int dfd = openat(fd, "logs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOTDIR ? -ELOOP : negative_errno();
        char file[NAME_MAX_LEN + 8];
        if (snprintf(file, sizeof(file), "%s.log", name) >= (int)sizeof(file))
                return -ENAMETOOLONG;
        _cleanup_close_ int lfd =
                openat(dfd, file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0640);
        if (lfd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(lfd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
                return -EPERM;
        char dir[PATH_MAX];
        int r = cell_dir_path(d, cell, dir, sizeof(dir));
        if (r < 0)
                return r;
        int n = snprintf(buf, size, "%s/logs/%s", dir, file);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int action_task_start(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        if (!ctrd_ready(op, msg, msg_size))
                return -ENOTCONN;
        const ObservedContainer *o = NULL;
        (void)observed_extra(op, a->container, &o);
        TaskCall *t = calloc(1, sizeof(*t));
        if (!t || !(t->call = action_call_new(op, a))) {
                free(t);
                return -ENOMEM;
        }
        t->d = d;
        realm_namespace(d, &a->id, t->ns, sizeof(t->ns));
        container_id_of(op, a->container, t->id);
        int r = log_path(d, &a->id, a->container, t->log_path, sizeof(t->log_path));
        if (r < 0) {
                free(t->call);
                free(t);
                snprintf(msg, msg_size, "the log file of %s: %s", a->container,
                         r == -ELOOP   ? "a symlink in its path (not followed)"
                         : r == -EPERM ? "not a regular file of its own (refused)"
                                       : strerror(-r));
                return r;
        }
        const ContainerSpec *spec = op_container_spec(op, a->container);
        ContainerRecord *cr = cell_container_record(op->res, a->container, true);
        if (cr && spec && a->is_restart) {
                /* after a healthy run the back-off starts over */
                bool healthy =
                        o && o->started_at > 0 && o->exited_at >= o->started_at + RESTART_HEALTHY_SECONDS;
                if (healthy)
                        cr->restarts.backoff_seconds = 0;
                cr->restarts.backoff_seconds = restart_next_backoff(spec, &cr->restarts);
                cr->restarts.restart_count++;
                cr->restarts.last_restart_at = time_now();
        } else if (cr && !a->is_restart && o && o->task == TASK_STOPPED) {
                cr->restarts = (RestartMemory){0}; /* started by hand (a cell restart): it starts over */
        }
        if (o && o->task == TASK_CREATED) {
                res_stamp(d, op->res, "send ctrd.TaskStart %s", a->container); /* BENCH STAMP */
                r = ctrd_task_start(d->ctrd, t->ns, t->id, on_task_started, t);
        } else if (o && o->task != TASK_NONE) {
                res_stamp(d, op->res, "send ctrd.TaskDelete %s", a->container); /* BENCH STAMP */
                r = ctrd_task_delete(d->ctrd, t->ns, t->id, CTRD_MISSING_OK, on_old_task_deleted, t);
        } else {
                task_create(t);
                return ACTION_ASYNC;
        }
        if (r < 0) {
                free(t->call);
                free(t);
                snprintf(msg, msg_size, "starting the task of %s: %s", a->container, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

static void on_stopped_task_deleted(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        ActionCall *call = userdata;
        (void)exit;
        res_stamp(call->op->d, call->op->res, "recv ctrd.TaskDelete %s r=%d", call->action.container,
                  r); /* BENCH STAMP */
        container_call_done(call, r, "deleting the stopped task of", message);
}

static void on_task_stopped(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        ActionCall *call = userdata;
        res_stamp(call->op->d, call->op->res, "recv ctrd.TaskStop %s r=%d", call->action.container,
                  r); /* BENCH STAMP */
        if (r >= 0 && exit) {
                ContainerRecord *cr = cell_container_record(call->op->res, call->action.container, true);
                if (cr) {
                        cr->has_exit = true;
                        cr->exit_code = (int32_t)exit->exit_status;
                        cr->finished_at = exit->exited_at_ns / 1000000000;
                }
        }
        if (r < 0) {
                char m[512];
                snprintf(m, sizeof(m), "stopping the task of %s: %s", call->action.container, message);
                action_call_done(call, r, m);
                return;
        }
        /* a task kukeond stopped is deleted at once: a stopped task that stays would read as the workload
         * having exited by itself (and its restart policy would decide about it) */
        Op *op = call->op;
        char ns[NAME_MAX_LEN + 16], id[77];
        realm_namespace(op->d, &op->res->id, ns, sizeof(ns));
        container_id_of(op, call->action.container, id);
        res_stamp(op->d, op->res, "send ctrd.TaskDelete %s", call->action.container); /* BENCH STAMP */
        r = ctrd_task_delete(op->d->ctrd, ns, id, CTRD_MISSING_OK, on_stopped_task_deleted, call);
        if (r < 0)
                action_call_done(call, r, "deleting the stopped task");
}

int action_task_stop(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        char ns[NAME_MAX_LEN + 16], id[77];
        int r;
        ActionCall *call = container_call(op, a, msg, msg_size, ns, id, &r);
        if (!call)
                return r;
        const ContainerExtra *x = observed_extra(op, a->container, NULL);
        int sig = x && *x->stop_signal ? ctrd_signal_from_string(x->stop_signal) : 0;
        int64_t grace = a->grace_seconds > 0 ? a->grace_seconds : 0;
        res_stamp(d, op->res, "send ctrd.TaskStop %s grace=%lld", a->container,
                  (long long)grace); /* BENCH STAMP */
        r = ctrd_task_stop(d->ctrd, &d->loop, ns, id, sig > 0 ? sig : 0, (uint64_t)grace * 1000,
                           TASK_KILL_TIMEOUT_MS, CTRD_MISSING_OK, on_task_stopped, call);
        if (r < 0) {
                free(call);
                snprintf(msg, msg_size, "stopping the task of %s: %s", a->container, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

static void on_task_deleted(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        ActionCall *call = userdata;
        (void)exit;
        res_stamp(call->op->d, call->op->res, "recv ctrd.TaskDelete %s r=%d", call->action.container,
                  r); /* BENCH STAMP */
        container_call_done(call, r, "deleting the task of", message);
}

int action_task_delete(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        char ns[NAME_MAX_LEN + 16], id[77];
        int r;
        ActionCall *call = container_call(op, a, msg, msg_size, ns, id, &r);
        if (!call)
                return r;
        res_stamp(d, op->res, "send ctrd.TaskDelete %s", a->container); /* BENCH STAMP */
        r = ctrd_task_delete(d->ctrd, ns, id, CTRD_MISSING_OK, on_task_deleted, call);
        if (r < 0) {
                free(call);
                snprintf(msg, msg_size, "deleting the task of %s: %s", a->container, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

/* ---- limits changed in place: Tasks.Update, then the label that says they are applied ---- */

typedef struct Update {
        ActionCall *call;
        char ns[NAME_MAX_LEN + 16];
        char id[77];
        char digest[72];
} Update;

static void update_end(Update *u, int r, const char *what, const char *message)
{
        ActionCall *call = u->call;
        char m[512] = "";
        if (r < 0)
                snprintf(m, sizeof(m), "%s %s: %s", what, u->id,
                         message && *message ? message : strerror(-r));
        free(u);
        action_call_done(call, r < 0 ? r : 1, m);
}

static void on_update_labelled(int r, const char *message, void *userdata)
{
        update_end(userdata, r, "recording the limits of", message);
}

static void on_task_updated(int r, const char *message, void *userdata)
{
        Update *u = userdata;
        if (r < 0) {
                update_end(u, r, "changing the limits of", message);
                return;
        }
        r = ctrd_container_set_label(u->call->op->d->ctrd, u->ns, u->id, CTRD_LABEL_LIVE_RESOURCES_DIGEST,
                                     u->digest, on_update_labelled, u);
        if (r < 0)
                update_end(u, r, "recording the limits of", NULL);
}

int action_container_update(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        if (!ctrd_ready(op, msg, msg_size))
                return -ENOTCONN;
        const ContainerSpec *spec = NULL;
        const char *digest = NULL;
        for (size_t i = 0; i < op->n_want; i++)
                if (streq_ptr(op->want[i].id, a->container)) {
                        spec = &op->want[i];
                        digest = op->want_resources[i];
                }
        if (!spec)
                return 0;
        json_t *j = oci_resources_update_build(&spec->resources);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        Update *u = text ? calloc(1, sizeof(*u)) : NULL;
        if (!u || !(u->call = action_call_new(op, a))) {
                free(u);
                return -ENOMEM;
        }
        realm_namespace(d, &a->id, u->ns, sizeof(u->ns));
        container_id_of(op, a->container, u->id);
        snprintf(u->digest, sizeof(u->digest), "%s", digest);
        int r = ctrd_task_update_resources(d->ctrd, u->ns, u->id, text, on_task_updated, u);
        if (r < 0) {
                free(u->call);
                free(u);
                snprintf(msg, msg_size, "changing the limits of %s: %s", a->container, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}
