/* The action-handler table, and the handlers every level shares: cgroups, the realm's containerd
 * namespace, and removing the daemon's own files.
 *
 * A handler returns < 0 (failed; msg may say why), 0 (nothing to do), 1 (changed), or ACTION_ASYNC when
 * a driver call completes later and calls op_action_done() through action_call_done(). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"

static const ActionHandler handlers[_ACTION_TYPE_MAX] = {
        [ACTION_NAMESPACE_ENSURE] = {action_namespace_ensure, NULL},
        [ACTION_NAMESPACE_DELETE] = {action_namespace_delete, NULL},
        [ACTION_CGROUP_ENSURE] = {action_cgroup_ensure, NULL},
        [ACTION_CGROUP_SET_LIMITS] = {action_cgroup_set_limits, NULL},
        [ACTION_CGROUP_REMOVE] = {action_cgroup_remove, NULL},
        [ACTION_SUBNET_ALLOCATE] = {action_subnet_allocate, NULL},
        [ACTION_NETWORK_ENSURE] = {action_network_ensure, NULL},
        [ACTION_NETWORK_REMOVE] = {action_network_remove, NULL},
        [ACTION_NETNS_CREATE] = {action_netns_create, NULL},
        [ACTION_NETNS_DELETE] = {action_netns_delete, NULL},
        [ACTION_CNI_ADD] = {action_cni_add, NULL},
        [ACTION_CNI_DEL] = {action_cni_del, NULL},
        [ACTION_HOSTS_WRITE] = {action_hosts_write, NULL},
        [ACTION_IMAGE_ENSURE] = {action_image_ensure, NULL},
        [ACTION_CONTAINER_CREATE] = {action_container_create, NULL},
        [ACTION_CONTAINER_DELETE] = {action_container_delete, NULL},
        [ACTION_TASK_START] = {action_task_start, NULL},
        [ACTION_TASK_STOP] = {action_task_stop, NULL},
        [ACTION_TASK_DELETE] = {action_task_delete, NULL},
        [ACTION_WAKE_AT] = {NULL, "wake-ups are the scheduler's"},
        [ACTION_FILES_REMOVE] = {action_files_remove, NULL},
        [ACTION_CONTAINER_UPDATE] = {action_container_update, NULL},
};

const ActionHandler *action_handler(ActionType type, Kind kind)
{
        static const ActionHandler unknown = {NULL, "an action this kukeond does not know"};
        if (kind == KIND_IMAGE && type != ACTION_FILES_REMOVE)
                return &handlers[ACTION_IMAGE_ENSURE];
        return type >= 0 && type < _ACTION_TYPE_MAX ? &handlers[type] : &unknown;
}

ActionCall *action_call_new(Op *op, const Action *a)
{
        ActionCall *c = malloc(sizeof(*c));
        if (c)
                *c = (ActionCall){op, *a};
        return c;
}

void action_call_done(ActionCall *call, int r, const char *message)
{
        Op *op = call->op;
        Action a = call->action;
        free(call);
        op_action_done(op, &a, r, message);
}

/* ---- cgroups ---- */

int action_cgroup_ensure(Op *op, const Action *a, char *msg, size_t msg_size)
{
        op->res->is_live = true;
        res_stamp(op->d, op->res, "send cg.Ensure"); /* BENCH STAMP */
        int r = cg_ensure(op->d->cg, &a->id);
        res_stamp(op->d, op->res, "recv cg.Ensure r=%d", r); /* BENCH STAMP */
        if (r < 0)
                snprintf(msg, msg_size, "creating the cgroup %s: %s", op->res->rec.cgroup_path,
                         strerror(-r));
        return r < 0 ? r : 1;
}

int action_cgroup_set_limits(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Resources none = {0};
        const Resources *res = resource_limits(op->res);
        int r = cg_set_limits(op->d->cg, &a->id, res ? res : &none);
        if (r == -EOPNOTSUPP)
                snprintf(msg, msg_size, "a limit's controller is not available at %s",
                         op->res->rec.cgroup_path);
        else if (r < 0)
                snprintf(msg, msg_size, "setting the limits of %s: %s", op->res->rec.cgroup_path,
                         strerror(-r));
        return r < 0 ? r : 1;
}

int action_cgroup_remove(Op *op, const Action *a, char *msg, size_t msg_size)
{
        res_stamp(op->d, op->res, "send cg.Remove"); /* BENCH STAMP */
        int r = cg_remove(op->d->cg, &a->id);
        res_stamp(op->d, op->res, "recv cg.Remove r=%d", r); /* BENCH STAMP */
        if (r == -EBUSY)
                snprintf(msg, msg_size, "the cgroup %s still holds processes", op->res->rec.cgroup_path);
        else if (r < 0)
                snprintf(msg, msg_size, "removing the cgroup %s: %s", op->res->rec.cgroup_path,
                         strerror(-r));
        return r < 0 ? r : 1;
}

/* ---- the realm's containerd namespace ---- */

static void on_namespace_done(int r, const char *message, void *userdata)
{
        ActionCall *c = userdata;
        if (r == -ENOENT && c->action.type == ACTION_NAMESPACE_DELETE)
                r = 0;
        char m[512];
        if (r == -ENOTEMPTY)
                snprintf(m, sizeof(m),
                         "the containerd namespace still holds images, content or containers (%s)", message);
        else
                snprintf(m, sizeof(m), "%s", message);
        action_call_done(c, r < 0 ? r : 1, m);
}

/* Emptying a realm's namespace before it goes: every image record (with the garbage collection done,
 * so their content and snapshots go too) and every lease. Containers were removed with the cells. */
typedef struct NsEmpty {
        ActionCall *call;
        Daemon *d;
        char ns[NAME_MAX_LEN + 16];
        size_t n_pending;
        void (*next)(struct NsEmpty *e); /* the step after the calls in flight */
        int r;
        char message[384];
} NsEmpty;

static void ns_empty_step(NsEmpty *e);

static void ns_empty_finish(NsEmpty *e)
{
        ActionCall *c = e->call;
        int r = e->r;
        if (r < 0) {
                char m[512];
                snprintf(m, sizeof(m), "emptying the containerd namespace %s: %s", e->ns, e->message);
                free(e);
                action_call_done(c, r, m);
                return;
        }
        Daemon *d = e->d;
        char ns[sizeof(e->ns)];
        snprintf(ns, sizeof(ns), "%s", e->ns);
        free(e);
        r = ctrd_namespace_delete(d->ctrd, ns, on_namespace_done, c);
        if (r < 0)
                action_call_done(c, r, "deleting the containerd namespace");
}

static void ns_empty_fail(NsEmpty *e, int r, const char *message)
{
        if (e->r >= 0) {
                e->r = r;
                snprintf(e->message, sizeof(e->message), "%s", message && *message ? message : strerror(-r));
        }
}

static void on_ns_removed(int r, const char *message, void *userdata)
{
        NsEmpty *e = userdata;
        if (r < 0 && r != -ENOENT)
                ns_empty_fail(e, r, message);
        ns_empty_step(e);
}

static void on_ns_leases(int r, const char *message, const char *const *ids, size_t n, void *userdata)
{
        NsEmpty *e = userdata;
        if (r < 0)
                ns_empty_fail(e, r, message);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                e->n_pending++;
                int k = ctrd_lease_delete(e->d->ctrd, e->ns, ids[i], true, CTRD_MISSING_OK, on_ns_removed,
                                          e);
                if (k < 0) {
                        e->n_pending--;
                        ns_empty_fail(e, k, NULL);
                }
        }
        ns_empty_step(e);
}

static void ns_empty_leases(NsEmpty *e)
{
        e->n_pending++;
        e->next = NULL;
        int r = ctrd_lease_list(e->d->ctrd, e->ns, on_ns_leases, e);
        if (r < 0) {
                e->n_pending--;
                ns_empty_fail(e, r, NULL);
                ns_empty_finish(e);
        }
}

static void on_ns_images(int r, const char *message, const char *const *names, size_t n, void *userdata)
{
        NsEmpty *e = userdata;
        if (r < 0)
                ns_empty_fail(e, r, message);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                e->n_pending++;
                int k = ctrd_image_delete(e->d->ctrd, e->ns, names[i], true, CTRD_MISSING_OK, on_ns_removed,
                                          e);
                if (k < 0) {
                        e->n_pending--;
                        ns_empty_fail(e, k, NULL);
                }
        }
        ns_empty_step(e);
}

/* One call of a step is done (the list call holds the step open); after the last, the next step. */
static void ns_empty_step(NsEmpty *e)
{
        if (--e->n_pending > 0)
                return;
        void (*next)(NsEmpty * e) = e->next;
        if (e->r >= 0 && next)
                next(e);
        else
                ns_empty_finish(e);
}

static int namespace_call(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        char ns[sizeof(res->rec.namespace)];
        resource_namespace(res, ns, sizeof(ns));
        if (!d->ctrd || !d->is_ctrd_ready) {
                snprintf(msg, msg_size, "containerd is not reachable at %s", d->config.containerd_socket);
                return -ENOTCONN;
        }
        ActionCall *c = action_call_new(op, a);
        if (!c)
                return -ENOMEM;
        int r;
        if (a->type == ACTION_NAMESPACE_ENSURE) {
                const CtrdLabel labels[] = {{CTRD_LABEL_REALM, res->id.realm}};
                res->is_live = true;
                snprintf(res->rec.namespace, sizeof(res->rec.namespace), "%s", ns);
                r = ctrd_namespace_ensure(d->ctrd, ns, labels, ARRAY_SIZE(labels), on_namespace_done, c);
        } else {
                NsEmpty *e = calloc(1, sizeof(*e));
                if (!e) {
                        free(c);
                        return -ENOMEM;
                }
                *e = (NsEmpty){.call = c, .d = d, .n_pending = 1, .next = ns_empty_leases};
                snprintf(e->ns, sizeof(e->ns), "%s", ns);
                r = ctrd_image_list(d->ctrd, ns, on_ns_images, e);
                if (r < 0)
                        free(e);
        }
        if (r < 0) {
                free(c);
                snprintf(msg, msg_size, "containerd namespace %s: %s", ns, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

int action_namespace_ensure(Op *op, const Action *a, char *msg, size_t msg_size)
{
        return namespace_call(op, a, msg, msg_size);
}

int action_namespace_delete(Op *op, const Action *a, char *msg, size_t msg_size)
{
        return namespace_call(op, a, msg, msg_size);
}

/* ---- the daemon's own files ---- */

/* Opens dir (relative to the run path) without following a symlink anywhere. */
int open_run_dir(Daemon *d, const char *rel)
{
        _cleanup_close_ int fd = open(d->config.run_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        char buf[PATH_MAX], *save = NULL;
        snprintf(buf, sizeof(buf), "%s", rel);
        for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return negative_errno();
                close(fd);
                fd = next;
        }
        return TAKE_FD(fd);
}

/* Empties dir_fd/name of files (never following a link) and removes it. */
static int remove_flat_dir(int dir_fd, const char *name)
{
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        DIR *dir = fdopendir(fd);
        if (!dir) {
                close(fd);
                return -ENOMEM;
        }
        struct dirent *de;
        while ((de = readdir(dir)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        (void)unlinkat(dirfd(dir), de->d_name, 0);
        closedir(dir);
        return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? negative_errno() : 1;
}

int action_files_remove(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        char rel[PATH_MAX], status[PATH_MAX];
        if (res->has_spec_file)
                return 0; /* its manifest stays (its parent's is missing): it keeps a Failed status */
        if (store_dir_path(&a->id, rel, sizeof(rel)) < 0 ||
            store_status_path(&a->id, status, sizeof(status)) < 0)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open_run_dir(d, rel);
        /* Ours: a status, or a file only kukeond writes (a crash between the removals below and the
         * status's). Without either, a directory someone is filling is theirs. */
        bool ours = res->status ||
                    (fd >= 0 && a->id.kind == KIND_CELL &&
                     (faccessat(fd, CNI_HOSTS_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
                      faccessat(fd, "logs", F_OK, AT_SYMLINK_NOFOLLOW) == 0)) ||
                    (fd >= 0 && a->id.kind == KIND_SPACE &&
                     faccessat(fd, CNI_CONFLIST_COPY_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0);
        if (!ours)
                return 0;
        if (fd >= 0 && a->id.kind == KIND_SPACE)
                (void)unlinkat(fd, CNI_CONFLIST_COPY_NAME, 0);
        if (fd >= 0 && a->id.kind == KIND_CELL) {
                (void)remove_flat_dir(fd, "containers");
                (void)remove_flat_dir(fd, "logs");
                (void)unlinkat(fd, CNI_HOSTS_FILE, 0);
                (void)unlinkat(fd, CNI_HOSTNAME_FILE, 0);
        }
        /* the status last: while it is there, a retry knows the rest is ours */
        int r = store_remove_file(d->store, status);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -ELOOP) {
                snprintf(msg, msg_size, "removing %s: %s", status, strerror(-r));
                return r;
        }
        if (fd < 0) {
                document_free(res->status);
                res->status = NULL;
                return 1; /* the directory is gone already (rm -r) */
        }
        /* the directory goes only when nothing else is left in it */
        int parent = -EBADF;
        char *slash = strrchr(rel, '/');
        if (slash) {
                *slash = '\0';
                parent = open_run_dir(d, rel);
        } else {
                parent = open(d->config.run_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (parent >= 0) {
                (void)unlinkat(parent, slash ? slash + 1 : rel, AT_REMOVEDIR);
                close(parent);
        }
        document_free(res->status);
        res->status = NULL;
        return 1;
}
