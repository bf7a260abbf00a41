/* Tasks.Create: the log files made to exist, the rootfs mounts read from the container's snapshot,
 * then the task; with CTRD_EXIST_OK an existing task is looked up for its pid. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"

#define TASKS_CREATE CTRD_PATH("tasks", "Tasks", "Create")

/* The shim opens a plain stdio path O_WRONLY|O_APPEND without O_CREAT, and takes a FIFO for a pipe a
 * client reads (pkg/process/io.go): so the file must exist and be a regular file. */
static int log_file_prepare(const char *path)
{
        if (path[0] != '/')
                return -EINVAL;
        _cleanup_close_ int fd = open(
                path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0640);
        if (fd < 0)
                return errno == ENXIO ? -EINVAL : negative_errno(); /* ENXIO: a FIFO nobody reads */
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        return S_ISREG(st.st_mode) ? 0 : -EINVAL;
}

typedef struct CreateCall {
        GrpcConn *conn;
        char *ns; /* NULL: the connection's default */
        char *container_id;
        char *stdout_path; /* "" for none */
        char *stderr_path;
        unsigned flags;
        ctrd_task_pid_cb cb;
        void *userdata;
} CreateCall;

static CreateCall *create_call_free(CreateCall *c)
{
        if (!c)
                return NULL;
        free(c->ns);
        free(c->container_id);
        free(c->stdout_path);
        free(c->stderr_path);
        free(c);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(CreateCall *, create_call_free);

static void create_finish(CreateCall *c, int r, const char *message, uint32_t pid)
{
        c->cb(r, r >= 0 ? "" : message, r >= 0 ? pid : 0, c->userdata);
        create_call_free(c);
}

static void on_existing_task(int r, const char *message, const CtrdTask *task, void *userdata)
{
        create_finish(userdata, r < 0 ? r : 0, message, r >= 0 ? task->pid : 0);
}

static void on_create_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        CreateCall *c = userdata;
        const Containerd__Services__Tasks__V1__CreateTaskResponse *resp = (const void *)reply;
        if (r >= 0)
                create_finish(c, 1, message, resp->pid);
        else if (r != -EEXIST || !(c->flags & CTRD_EXIST_OK))
                create_finish(c, r, message, 0);
        else if ((r = ctrd_task_get(c->conn, c->ns, c->container_id, on_existing_task, c)) < 0)
                create_finish(c, r, "cannot look up the existing task", 0);
}

static int create_send(CreateCall *c, const CtrdMount *rootfs, size_t n_rootfs)
{
        Containerd__Services__Tasks__V1__CreateTaskRequest req =
                CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_REQUEST__INIT;
        req.container_id = c->container_id;
        req.stdout = c->stdout_path;
        req.stderr = c->stderr_path;
        req.n_rootfs = n_rootfs;
        int r = ctrd_pb_mounts_new(rootfs, n_rootfs, &req.rootfs);
        if (r < 0)
                return r;
        const GrpcCallOptions opts = {.ns = c->ns};
        r = grpc_unary(c->conn, TASKS_CREATE, &req.base,
                       &containerd__services__tasks__v1__create_task_response__descriptor, &opts,
                       on_create_reply, c);
        ctrd_pb_mounts_free(req.rootfs, req.n_rootfs);
        return r;
}

static void on_snapshot_mounts(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        CreateCall *c = userdata;
        if (r < 0)
                create_finish(c, r, message, 0);
        else if (n == 0)
                create_finish(c, -EPROTO, "the container's snapshot has no mounts", 0);
        else if ((r = create_send(c, mounts, n)) < 0)
                create_finish(c, r, "cannot send Tasks.Create", 0);
}

static int create_call_new(GrpcConn *conn, const char *ns, const CtrdTaskCreate *t, unsigned flags,
                           ctrd_task_pid_cb cb, void *userdata, CreateCall **ret)
{
        _cleanup_(create_call_freep) CreateCall *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (CreateCall){.conn = conn, .flags = flags, .cb = cb, .userdata = userdata};
        /* One path for both: the shim opens it once and shares it (its sameFile case). */
        const char *err_path = t->stderr_path ? t->stderr_path : t->stdout_path;
        c->container_id = strdup(t->container_id);
        c->stdout_path = ctrd_strdup_empty(t->stdout_path);
        c->stderr_path = ctrd_strdup_empty(err_path);
        if ((ns && !(c->ns = strdup(ns))) || !c->container_id || !c->stdout_path || !c->stderr_path)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int ctrd_task_create(GrpcConn *conn, const char *ns, const CtrdTaskCreate *t, unsigned flags,
                     ctrd_task_pid_cb cb, void *userdata)
{
        if (!conn || !t || !t->container_id || !*t->container_id || (t->n_rootfs > 0 && !t->rootfs) || !cb)
                return -EINVAL;
        if (t->stderr_path && !t->stdout_path)
                return -EINVAL; /* the shim wants both streams or neither */
        int r;
        if (t->stdout_path && (r = log_file_prepare(t->stdout_path)) < 0)
                return r;
        if (t->stderr_path && (r = log_file_prepare(t->stderr_path)) < 0)
                return r;
        _cleanup_(create_call_freep) CreateCall *c = NULL;
        r = create_call_new(conn, ns, t, flags, cb, userdata, &c);
        if (r < 0)
                return r;
        if (t->n_rootfs > 0)
                r = create_send(c, t->rootfs, t->n_rootfs);
        else
                r = ctrd_snapshot_mounts(conn, ns, t->snapshotter,
                                         t->snapshot_key ? t->snapshot_key : t->container_id,
                                         on_snapshot_mounts, c);
        if (r < 0)
                return r;
        TAKE_PTR(c); /* owned by the call now */
        return 0;
}
