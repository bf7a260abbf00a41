/* Typed containerd operations on a GrpcConn (see grpc.h).
 *
 * Every operation is asynchronous. It returns 0 when started, after which its callback runs exactly once
 * (also when the connection is lost: -ENOTCONN, or closed: -ECANCELED), or a negative errno when it could
 * not start (-ENOTCONN while containerd is unreachable), in which case the callback never runs. Callbacks
 * get r (0, 1 for "changed", or a negative errno from grpc_status_to_errno()), the server's message text
 * ("" on success) and the result; every pointer they get is valid during the callback only.
 *
 * Unary operations use the connection's default deadline (GrpcConnOptions.default_timeout_ms). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "drivers/containerd/grpc.h"

typedef struct CtrdLabel {
        const char *key;
        const char *value;
} CtrdLabel;

/* Completion of an operation without a result. */
typedef void (*ctrd_done_cb)(int r, const char *message, void *userdata);

/* ---- version ---- */

typedef struct CtrdVersion {
        const char *version; /* "1.6.20~ds1" */
        const char *revision;
} CtrdVersion;

typedef void (*ctrd_version_cb)(int r, const char *message, const CtrdVersion *version, void *userdata);

/* Version.Version: a cheap liveness check. */
int ctrd_version(GrpcConn *conn, ctrd_version_cb cb, void *userdata);

/* ---- namespaces ---- */

typedef struct CtrdNamespace {
        const char *name;
        const CtrdLabel *labels;
        size_t n_labels;
} CtrdNamespace;

typedef void (*ctrd_namespace_list_cb)(int r, const char *message, const CtrdNamespace *namespaces, size_t n,
                                       void *userdata);

/* Makes sure namespace name exists and carries the given labels (other labels it has are left alone).
 * Namespaces.Create; on ALREADY_EXISTS, Namespaces.Update of exactly those label keys. cb gets 1 when
 * the namespace was created, 0 when it existed (its labels are now set). labels are copied. */
int ctrd_namespace_ensure(GrpcConn *conn, const char *name, const CtrdLabel *labels, size_t n_labels,
                          ctrd_done_cb cb, void *userdata);

/* Namespaces.List: every namespace with its labels, in the server's order. */
int ctrd_namespace_list(GrpcConn *conn, ctrd_namespace_list_cb cb, void *userdata);

/* Namespaces.Delete. cb gets 0, -ENOENT when there is no such namespace, -ENOTEMPTY when it still holds
 * images, content, snapshots or containers (containerd's FAILED_PRECONDITION). */
int ctrd_namespace_delete(GrpcConn *conn, const char *name, ctrd_done_cb cb, void *userdata);

/* ---- events ---- */

typedef enum CtrdEventType {
        CTRD_EVENT_OTHER, /* a topic we do not decode: only topic, ns and timestamp are set */
        CTRD_EVENT_TASK_CREATE,
        CTRD_EVENT_TASK_START,
        CTRD_EVENT_TASK_EXIT,
        CTRD_EVENT_TASK_OOM,
        CTRD_EVENT_TASK_DELETE,
        CTRD_EVENT_CONTAINER_CREATE,
        CTRD_EVENT_CONTAINER_DELETE,
        CTRD_EVENT_NAMESPACE_CREATE,
        CTRD_EVENT_NAMESPACE_DELETE,
        _CTRD_EVENT_TYPE_MAX,
} CtrdEventType;

const char *ctrd_event_type_to_string(CtrdEventType type);

/* One event. Strings are never NULL ("" when the event has no such field). */
typedef struct CtrdEvent {
        CtrdEventType type;
        const char *topic;        /* "/tasks/exit" */
        const char *ns;           /* the namespace it happened in (for namespace events: the caller's) */
        int64_t timestamp_ns;     /* when containerd published it, ns since the epoch */
        const char *container_id; /* task and container events */
        const char *exec_id;      /* task exit/delete: the exec process, "" for the init process */
        const char *name;         /* namespace events: the namespace */
        uint32_t pid;             /* task create/start/exit/delete */
        uint32_t exit_status;     /* task exit/delete */
        int64_t exited_at_ns;     /* task exit/delete, 0 when absent */
} CtrdEvent;

typedef void (*ctrd_event_cb)(const CtrdEvent *event, void *userdata);

typedef struct CtrdSubscription CtrdSubscription;

/* Events.Subscribe with containerd filters (OR-ed; e.g. "topic~=\"/tasks/\"", "namespace==kukeon-x"),
 * NULL/0 for everything. on_event runs per event; on_end runs once when the stream ends: -ENOTCONN when
 * the connection was lost (subscribe again once it is READY, then re-list: containerd does not replay),
 * -ECANCELED when closed, -EBADMSG when an event did not decode. There is no deadline. The subscription
 * (in *ret when ret is not NULL) is freed after on_end returns. */
int ctrd_events_subscribe(GrpcConn *conn, const char *const *filters, size_t n_filters,
                          ctrd_event_cb on_event, ctrd_done_cb on_end, void *userdata,
                          CtrdSubscription **ret);

/* Ends a subscription without calling on_end. Accepts NULL. */
void ctrd_events_unsubscribe(CtrdSubscription *sub);
