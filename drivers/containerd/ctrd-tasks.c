/* Tasks: create (rootfs from the container's snapshot, stdout/stderr to log files), start, kill, wait,
 * delete, get, list. Stopping with a grace period is in ctrd-tasks-stop.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define TASKS_PATH(method) CTRD_PATH("tasks", "Tasks", method)

const char *ctrd_task_status_to_string(CtrdTaskStatus status)
{
        static const char *const names[_CTRD_TASK_STATUS_MAX] = {
                [CTRD_TASK_UNKNOWN] = "unknown", [CTRD_TASK_CREATED] = "created",
                [CTRD_TASK_RUNNING] = "running", [CTRD_TASK_STOPPED] = "stopped",
                [CTRD_TASK_PAUSED] = "paused",   [CTRD_TASK_PAUSING] = "pausing",
        };
        return (unsigned)status < _CTRD_TASK_STATUS_MAX ? names[status] : "invalid";
}

static CtrdTask task_view(const Containerd__V1__Types__Process *p)
{
        /* Our enum follows containerd's numbering. */
        unsigned status =
                (unsigned)p->status < _CTRD_TASK_STATUS_MAX ? (unsigned)p->status : CTRD_TASK_UNKNOWN;
        /* Tasks.List leaves container_id empty: the init process's id is its container's */
        return (CtrdTask){
                .container_id = p->container_id && *p->container_id ? p->container_id : p->id,
                .pid = p->pid,
                .status = (CtrdTaskStatus)status,
                .exit_status = p->exit_status,
                .exited_at_ns = ctrd_timestamp_ns(p->exited_at),
                .stdout_path = p->stdout,
                .stderr_path = p->stderr,
        };
}

/* ---- get ---- */

typedef struct GetCall {
        ctrd_task_cb cb;
        void *userdata;
} GetCall;

static void on_get_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        GetCall *g = userdata;
        const Containerd__Services__Tasks__V1__GetResponse *resp = (const void *)reply;
        if (r >= 0 && !resp->process) {
                r = -EPROTO;
                message = "the reply has no process";
        }
        CtrdTask task = {0};
        if (r >= 0)
                task = task_view(resp->process);
        g->cb(r < 0 ? r : 0, r >= 0 ? "" : message, r >= 0 ? &task : NULL, g->userdata);
        free(g);
}

int ctrd_task_get(GrpcConn *conn, const char *ns, const char *container_id, ctrd_task_cb cb, void *userdata)
{
        if (!conn || !container_id || !*container_id || !cb)
                return -EINVAL;
        GetCall *g = malloc(sizeof(*g));
        if (!g)
                return -ENOMEM;
        *g = (GetCall){cb, userdata};
        Containerd__Services__Tasks__V1__GetRequest req = CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
        req.container_id = (char *)container_id;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, TASKS_PATH("Get"), &req.base,
                           &containerd__services__tasks__v1__get_response__descriptor, &opts, on_get_reply,
                           g);
        if (r < 0)
                free(g);
        return r;
}

/* ---- list ---- */

typedef struct ListCall {
        ctrd_task_list_cb cb;
        void *userdata;
} ListCall;

static void on_list_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        ListCall *l = userdata;
        const Containerd__Services__Tasks__V1__ListTasksResponse *resp = (const void *)reply;
        size_t n = r >= 0 ? resp->n_tasks : 0;
        _cleanup_free_ CtrdTask *tasks = calloc(n ? n : 1, sizeof(*tasks));
        if (r >= 0 && !tasks) {
                r = -ENOMEM;
                message = "out of memory";
                n = 0;
        }
        for (size_t i = 0; i < n; i++)
                tasks[i] = task_view(resp->tasks[i]);
        l->cb(r < 0 ? r : 0, r >= 0 ? "" : message, tasks, n, l->userdata);
        free(l);
}

int ctrd_task_list(GrpcConn *conn, const char *ns, ctrd_task_list_cb cb, void *userdata)
{
        if (!conn || !cb)
                return -EINVAL;
        ListCall *l = malloc(sizeof(*l));
        if (!l)
                return -ENOMEM;
        *l = (ListCall){cb, userdata};
        Containerd__Services__Tasks__V1__ListTasksRequest req =
                CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_REQUEST__INIT;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, TASKS_PATH("List"), &req.base,
                           &containerd__services__tasks__v1__list_tasks_response__descriptor, &opts,
                           on_list_reply, l);
        if (r < 0)
                free(l);
        return r;
}

/* ---- start ---- */

typedef struct PidCall {
        ctrd_task_pid_cb cb;
        void *userdata;
} PidCall;

static void on_start_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        PidCall *p = userdata;
        const Containerd__Services__Tasks__V1__StartResponse *resp = (const void *)reply;
        p->cb(r < 0 ? r : 1, r >= 0 ? "" : message, r >= 0 ? resp->pid : 0, p->userdata);
        free(p);
}

int ctrd_task_start(GrpcConn *conn, const char *ns, const char *container_id, ctrd_task_pid_cb cb,
                    void *userdata)
{
        if (!conn || !container_id || !*container_id || !cb)
                return -EINVAL;
        PidCall *p = malloc(sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (PidCall){cb, userdata};
        Containerd__Services__Tasks__V1__StartRequest req =
                CONTAINERD__SERVICES__TASKS__V1__START_REQUEST__INIT;
        req.container_id = (char *)container_id;
        const GrpcCallOptions opts = {.ns = ns};
        int r = grpc_unary(conn, TASKS_PATH("Start"), &req.base,
                           &containerd__services__tasks__v1__start_response__descriptor, &opts,
                           on_start_reply, p);
        if (r < 0)
                free(p);
        return r;
}

/* ---- kill ---- */

int ctrd_task_kill(GrpcConn *conn, const char *ns, const char *container_id, int signal, bool all,
                   unsigned flags, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !container_id || !*container_id || signal <= 0 || !cb)
                return -EINVAL;
        Containerd__Services__Tasks__V1__KillRequest req =
                CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
        req.container_id = (char *)container_id;
        req.signal = (uint32_t)signal;
        req.all = all;
        /* A process that already exited is NOT_FOUND too ("process already finished"). */
        return ctrd_unary_done(conn, ns, TASKS_PATH("Kill"), &req.base, &google__protobuf__empty__descriptor,
                               flags, cb, userdata);
}

/* ---- wait and delete ---- */

typedef struct ExitCall {
        unsigned flags;
        ctrd_task_exit_cb cb;
        void *userdata;
} ExitCall;

static void exit_finish(ExitCall *e, int r, const char *message, const CtrdTaskExit *exit)
{
        r = ctrd_flags_result(r, e->flags);
        e->cb(r, r >= 0 ? "" : message, r > 0 ? exit : NULL, e->userdata);
        free(e);
}

static void on_wait_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        const Containerd__Services__Tasks__V1__WaitResponse *resp = (const void *)reply;
        CtrdTaskExit exit = {0};
        if (r >= 0)
                exit = (CtrdTaskExit){.exit_status = resp->exit_status,
                                      .exited_at_ns = ctrd_timestamp_ns(resp->exited_at)};
        exit_finish(userdata, r, message, &exit);
}

static void on_delete_reply(int r, const char *message, const ProtobufCMessage *reply, void *userdata)
{
        const Containerd__Services__Tasks__V1__DeleteResponse *resp = (const void *)reply;
        CtrdTaskExit exit = {0};
        if (r >= 0)
                exit = (CtrdTaskExit){.pid = resp->pid,
                                      .exit_status = resp->exit_status,
                                      .exited_at_ns = ctrd_timestamp_ns(resp->exited_at)};
        exit_finish(userdata, r, message, &exit);
}

static int exit_call_start(GrpcConn *conn, const char *path, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *reply_desc, const GrpcCallOptions *opts,
                           grpc_unary_cb on_reply, unsigned flags, ctrd_task_exit_cb cb, void *userdata)
{
        ExitCall *e = malloc(sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (ExitCall){flags, cb, userdata};
        int r = grpc_unary(conn, path, req, reply_desc, opts, on_reply, e);
        if (r < 0)
                free(e);
        return r;
}

int ctrd_task_wait(GrpcConn *conn, const char *ns, const char *container_id, int64_t timeout_ms,
                   unsigned flags, ctrd_task_exit_cb cb, void *userdata)
{
        if (!conn || !container_id || !*container_id || !cb)
                return -EINVAL;
        Containerd__Services__Tasks__V1__WaitRequest req =
                CONTAINERD__SERVICES__TASKS__V1__WAIT_REQUEST__INIT;
        req.container_id = (char *)container_id;
        const GrpcCallOptions opts = {.ns = ns, .timeout_ms = timeout_ms};
        return exit_call_start(conn, TASKS_PATH("Wait"), &req.base,
                               &containerd__services__tasks__v1__wait_response__descriptor, &opts,
                               on_wait_reply, flags, cb, userdata);
}

int ctrd_task_delete(GrpcConn *conn, const char *ns, const char *container_id, unsigned flags,
                     ctrd_task_exit_cb cb, void *userdata)
{
        if (!conn || !container_id || !*container_id || !cb)
                return -EINVAL;
        Containerd__Services__Tasks__V1__DeleteTaskRequest req =
                CONTAINERD__SERVICES__TASKS__V1__DELETE_TASK_REQUEST__INIT;
        req.container_id = (char *)container_id;
        const GrpcCallOptions opts = {.ns = ns};
        return exit_call_start(conn, TASKS_PATH("Delete"), &req.base,
                               &containerd__services__tasks__v1__delete_response__descriptor, &opts,
                               on_delete_reply, flags, cb, userdata);
}

/* ---- update ---- */

int ctrd_task_update_resources(GrpcConn *conn, const char *ns, const char *container_id,
                               const char *resources_json, ctrd_done_cb cb, void *userdata)
{
        if (!conn || !container_id || !*container_id || !resources_json || !cb)
                return -EINVAL;
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = CTRD_LINUX_RESOURCES_TYPE_URL;
        any.value = (ProtobufCBinaryData){strlen(resources_json), (uint8_t *)resources_json};
        Containerd__Services__Tasks__V1__UpdateTaskRequest req =
                CONTAINERD__SERVICES__TASKS__V1__UPDATE_TASK_REQUEST__INIT;
        req.container_id = (char *)container_id;
        req.resources = &any;
        return ctrd_unary_done(conn, ns, TASKS_PATH("Update"), &req.base,
                               &google__protobuf__empty__descriptor, 0, cb, userdata);
}
