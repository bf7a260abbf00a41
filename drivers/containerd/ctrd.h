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

/* =====================================================================================================
 * Containers and tasks (ctrd-containers.c, ctrd-tasks*.c, ctrd-runtime.c, ctrd-snapshots-container.c)
 *
 * ns is the containerd namespace of the call; NULL means the connection's default. Operations that take
 * flags are idempotent when asked: with CTRD_EXIST_OK a create that finds the object complete with 0
 * (instead of -EEXIST), with CTRD_MISSING_OK a delete or kill that finds nothing completes with 0
 * (instead of -ENOENT); otherwise they complete with 1 ("changed"). Everything the caller passes is
 * copied before the operation returns.
 * ===================================================================================================== */

typedef enum CtrdFlags {
        CTRD_EXIST_OK = 1 << 0,
        CTRD_MISSING_OK = 1 << 1,
} CtrdFlags;

#define CTRD_RUNTIME_RUNC_V2          "io.containerd.runc.v2"
#define CTRD_SNAPSHOTTER_DEFAULT      "overlayfs"
#define CTRD_SPEC_TYPE_URL            "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define CTRD_RUNC_OPTIONS_TYPE_URL    "containerd.runc.v1.Options"
#define CTRD_LINUX_RESOURCES_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"

/* Our identity labels on containers (and on their snapshots): the daemon matches on these. */
#define CTRD_LABEL_REALM       "kukeon.io/realm"
#define CTRD_LABEL_SPACE       "kukeon.io/space"
#define CTRD_LABEL_STACK       "kukeon.io/stack"
#define CTRD_LABEL_CELL        "kukeon.io/cell"
#define CTRD_LABEL_CONTAINER   "kukeon.io/container"
#define CTRD_LABEL_SPEC_DIGEST "kukeon.io/spec-digest"
/* "root" on the cell's root container (it starts first and stops last). */
#define CTRD_LABEL_CONTAINER_TYPE "kukeon.io/container-type"
/* The cell's stopGracePeriodSeconds when the container was made: a cell whose manifest is gone is still
 * stopped with the grace it asked for. */
#define CTRD_LABEL_STOP_GRACE "kukeon.io/stop-grace-period"
/* The digest of the container's resources in its record's spec, and of the ones last applied in place
 * (Tasks.Update) when they differ. */
#define CTRD_LABEL_RESOURCES_DIGEST      "kukeon.io/resources-digest"
#define CTRD_LABEL_LIVE_RESOURCES_DIGEST "kukeon.io/live-resources-digest"
/* The runc shim groups containers whose spec carries this annotation with one value into one shim
 * process; we also set it as a container label so that the group can be read back and filtered on. */
#define CTRD_LABEL_RUNC_GROUP "io.containerd.runc.v2.group"
/* containerd's convention for the signal that stops the container (the image's StopSignal). */
#define CTRD_LABEL_STOP_SIGNAL "io.containerd.image.config.stop-signal"

/* ---- pure helpers (ctrd-runtime.c) ---- */

typedef struct CtrdIdentity {
        const char *realm, *space, *stack, *cell, *container, *spec_digest; /* NULL: no such label */
} CtrdIdentity;

#define CTRD_IDENTITY_LABELS_MAX 6

/* Fills labels with the identity labels of the fields that are set, in the order of CtrdIdentity, and
 * returns how many. The strings are borrowed from id. */
size_t ctrd_identity_labels(const CtrdIdentity *id, CtrdLabel labels[static CTRD_IDENTITY_LABELS_MAX]);

/* The value of label key, or NULL. */
const char *ctrd_label_get(const CtrdLabel *labels, size_t n, const char *key);

/* The labels of a new container: labels, then CTRD_LABEL_RUNC_GROUP=group and
 * CTRD_LABEL_STOP_SIGNAL=stop_signal when those are not NULL. Returns 0 with a new array in *ret (the
 * strings stay borrowed; free the array only), -EINVAL when a key is empty or repeated (also one of the
 * two added ones), -ENOMEM. */
int ctrd_container_labels(const CtrdLabel *labels, size_t n, const char *group, const char *stop_signal,
                          CtrdLabel **ret, size_t *ret_n);

/* A containerd filter matching objects that carry all the given labels with those values:
 * `labels."kukeon.io/cell"=="wp",labels."kukeon.io/space"=="blog"` (keys and values always quoted, so
 * any text is safe). Returns a new string, or NULL when out of memory or n is 0. */
char *ctrd_filter_labels(const CtrdLabel *labels, size_t n);

/* The Events.Subscribe filter for every task event of one namespace:
 * `namespace=="<ns>",topic~="^/tasks/"`. Returns a new string or NULL when out of memory. */
char *ctrd_filter_task_events(const char *ns);

/* Options of the runc shim (containerd.runc.v1.Options) we set. */
typedef struct CtrdRuncOptions {
        /* runc --root, where runc keeps its container state. NULL: the shim's default
         * /run/containerd/runc, which every containerd on the host shares: give a private daemon or a
         * test its own. */
        const char *root;
        const char *binary_name; /* NULL: runc from the shim's PATH */
        bool systemd_cgroup;     /* needs a running systemd; we use cgroupfs */
} CtrdRuncOptions;

/* Packs the options as the value of an Any of type CTRD_RUNC_OPTIONS_TYPE_URL. Returns 0 with a new
 * buffer in *ret (which may be NULL when *ret_len is 0: all fields default), -ENOMEM. */
int ctrd_runc_options_pack(const CtrdRuncOptions *o, uint8_t **ret, size_t *ret_len);

/* Sets annotations[CTRD_LABEL_RUNC_GROUP] = group in an OCI spec given as JSON text (what the shim reads
 * to pick its group). Returns 0 with new compact JSON text in *ret, -EINVAL when spec_json is not a JSON
 * object (or its annotations not an object), -ENOMEM. */
int ctrd_spec_set_group(const char *spec_json, const char *group, char **ret);

/* "SIGTERM", "TERM", "sigkill", "9" → the signal number; -EINVAL for anything else (real-time signals
 * only as numbers). */
int ctrd_signal_from_string(const char *s);

/* ---- snapshots of containers (ctrd-snapshots-container.c) ---- */

typedef struct CtrdMount {
        const char *type;   /* "overlay" */
        const char *source; /* "overlay" */
        const char *target; /* "" */
        const char *const *options;
        size_t n_options;
} CtrdMount;

typedef void (*ctrd_mounts_cb)(int r, const char *message, const CtrdMount *mounts, size_t n,
                               void *userdata);

typedef struct CtrdSnapshotPrepare {
        const char *snapshotter; /* NULL: overlayfs */
        const char *key;         /* the container's snapshot key, usually the container id */
        const char *parent;      /* the chain id of the image's top layer (its committed snapshot) */
        const CtrdLabel *labels; /* e.g. the identity labels */
        size_t n_labels;
        /* containerd's garbage collector removes a snapshot that nothing references: until
         * Containers.Create names it, hold it with a lease (containerd-lease header) or a
         * containerd.io/gc.root label. NULL: none. */
        const char *lease;
} CtrdSnapshotPrepare;

/* Snapshots.Prepare: an active snapshot whose mounts are the container's rootfs. cb gets 1 and the
 * mounts; with CTRD_EXIST_OK an existing key gets 0 and its mounts (Snapshots.Mounts). -ENOENT: no such
 * parent. */
int ctrd_snapshot_prepare(GrpcConn *conn, const char *ns, const CtrdSnapshotPrepare *p, unsigned flags,
                          ctrd_mounts_cb cb, void *userdata);

/* Snapshots.Mounts of key (snapshotter NULL: overlayfs): cb gets 0 and the mounts, or -ENOENT when there is
 * no such snapshot. */
int ctrd_snapshot_mounts(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                         ctrd_mounts_cb cb, void *userdata);

/* Snapshots.Remove. Only after the container's task is deleted (see ctrd_container_teardown()). */
int ctrd_snapshot_remove(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                         unsigned flags, ctrd_done_cb cb, void *userdata);

/* ---- containers (ctrd-containers.c) ---- */

typedef struct CtrdContainerCreate {
        const char *id;          /* ^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$, at most 76 bytes */
        const char *image;       /* the image name, recorded only */
        const CtrdLabel *labels; /* our identity labels (ctrd_identity_labels()) and any others */
        size_t n_labels;
        const char *spec_json;    /* the OCI runtime spec (oci_spec_build()), stored verbatim */
        const char *snapshotter;  /* NULL: overlayfs */
        const char *snapshot_key; /* NULL: id */
        /* The shim group: every container of a cell names the cell, so that they share one shim
         * process. Set as the label and as the spec annotation CTRD_LABEL_RUNC_GROUP. NULL: a shim of
         * its own. */
        const char *group;
        const char *stop_signal; /* the label CTRD_LABEL_STOP_SIGNAL; NULL: none */
        CtrdRuncOptions runc;
} CtrdContainerCreate;

/* Containers.Create with runtime io.containerd.runc.v2. cb gets 1 when created; an existing id gets
 * -EEXIST, or 0 with CTRD_EXIST_OK (the existing record is not compared or changed). -EINVAL for a
 * spec that is not a JSON object when a group is set. */
int ctrd_container_create(GrpcConn *conn, const char *ns, const CtrdContainerCreate *c, unsigned flags,
                          ctrd_done_cb cb, void *userdata);

/* One container record, as containerd keeps it. Strings are never NULL ("" when unset) except
 * spec_digest, group and stop_signal, which are the labels' values or NULL. */
typedef struct CtrdContainer {
        const char *id;
        const char *image;
        const CtrdLabel *labels;
        size_t n_labels;
        const char *spec_digest; /* CTRD_LABEL_SPEC_DIGEST */
        const char *group;       /* CTRD_LABEL_RUNC_GROUP */
        const char *stop_signal; /* CTRD_LABEL_STOP_SIGNAL */
        const char *runtime;     /* "io.containerd.runc.v2" */
        const char *snapshotter;
        const char *snapshot_key;
        int64_t created_at_ns, updated_at_ns;
} CtrdContainer;

typedef void (*ctrd_container_cb)(int r, const char *message, const CtrdContainer *container,
                                  void *userdata);
typedef void (*ctrd_container_list_cb)(int r, const char *message, const CtrdContainer *containers, size_t n,
                                       void *userdata);

/* Containers.Get. -ENOENT when there is no such container. */
int ctrd_container_get(GrpcConn *conn, const char *ns, const char *id, ctrd_container_cb cb, void *userdata);

/* Containers.List with containerd filters (OR-ed; see ctrd_filter_labels()), NULL/0 for all. */
int ctrd_container_list(GrpcConn *conn, const char *ns, const char *const *filters, size_t n_filters,
                        ctrd_container_list_cb cb, void *userdata);

/* Containers.Delete of the record only. containerd does not refuse it under a live task, which then
 * becomes an orphan nobody can stop: use ctrd_container_teardown() unless the task is known gone. */
int ctrd_container_delete(GrpcConn *conn, const char *ns, const char *id, unsigned flags, ctrd_done_cb cb,
                          void *userdata);

/* Containers.Update of one label (mask "labels.<key>"): the other labels and the spec stay. cb gets 1. */
int ctrd_container_set_label(GrpcConn *conn, const char *ns, const char *id, const char *key,
                             const char *value, ctrd_done_cb cb, void *userdata);

/* ---- tasks (ctrd-tasks.c) ---- */

typedef enum CtrdTaskStatus {
        CTRD_TASK_UNKNOWN,
        CTRD_TASK_CREATED, /* runc create done: the process exists but has not exec'd */
        CTRD_TASK_RUNNING,
        CTRD_TASK_STOPPED,
        CTRD_TASK_PAUSED,
        CTRD_TASK_PAUSING,
        _CTRD_TASK_STATUS_MAX,
} CtrdTaskStatus;

const char *ctrd_task_status_to_string(CtrdTaskStatus status);

typedef struct CtrdTask {
        const char *container_id;
        uint32_t pid;
        CtrdTaskStatus status;
        uint32_t exit_status;                  /* when STOPPED */
        int64_t exited_at_ns;                  /* when STOPPED, else 0 */
        const char *stdout_path, *stderr_path; /* as created, "" when none */
} CtrdTask;

typedef struct CtrdTaskExit {
        uint32_t pid;
        uint32_t exit_status; /* 128 + signal when killed by one: 137 after SIGKILL or an OOM kill */
        int64_t exited_at_ns;
        bool is_killed; /* ctrd_task_stop(): the grace period ran out and SIGKILL was sent */
} CtrdTaskExit;

typedef void (*ctrd_task_pid_cb)(int r, const char *message, uint32_t pid, void *userdata);
typedef void (*ctrd_task_cb)(int r, const char *message, const CtrdTask *task, void *userdata);
typedef void (*ctrd_task_list_cb)(int r, const char *message, const CtrdTask *tasks, size_t n,
                                  void *userdata);
/* exit is NULL when r < 0 or when there was nothing to wait for / delete (r == 0). */
typedef void (*ctrd_task_exit_cb)(int r, const char *message, const CtrdTaskExit *exit, void *userdata);

typedef struct CtrdTaskCreate {
        const char *container_id;
        /* The rootfs. NULL/0: the mounts of the container's snapshot (Snapshots.Mounts of
         * snapshotter/snapshot_key) are fetched first. */
        const CtrdMount *rootfs;
        size_t n_rootfs;
        const char *snapshotter;  /* NULL: overlayfs */
        const char *snapshot_key; /* NULL: container_id */
        /* Absolute paths of the log files. The shim opens them O_WRONLY|O_APPEND without O_CREAT (a
         * plain path that is not a FIFO is its "file" case, containerd-api.md §3e), so they are
         * created here (mode 0640, O_NOFOLLOW) when missing; their directory must exist. The shim owns
         * them from then on and survives our restarts. stderr_path NULL: both streams to stdout_path;
         * both NULL: /dev/null. */
        const char *stdout_path;
        const char *stderr_path;
} CtrdTaskCreate;

/* Tasks.Create (runc create: configure the netns now if needed, then ctrd_task_start()). cb gets 1 and
 * the pid; with CTRD_EXIST_OK an existing task gets 0 and its pid (Tasks.Get). -ENOENT: no such
 * container or snapshot. -EINVAL: a relative log path, or stderr without stdout. Creating the log files
 * happens before this returns (a failure is returned, no callback). */
int ctrd_task_create(GrpcConn *conn, const char *ns, const CtrdTaskCreate *t, unsigned flags,
                     ctrd_task_pid_cb cb, void *userdata);

/* Tasks.Start of the init process. cb gets 1 and the pid. The /tasks/exit event of a short-lived
 * process can arrive before this completes. */
int ctrd_task_start(GrpcConn *conn, const char *ns, const char *container_id, ctrd_task_pid_cb cb,
                    void *userdata);

/* Tasks.Kill: signal to the init process, or with all to every process of the container. cb gets 1;
 * with CTRD_MISSING_OK, no task or a process that already exited ("process already finished") gets 0. */
int ctrd_task_kill(GrpcConn *conn, const char *ns, const char *container_id, int signal, bool all,
                   unsigned flags, ctrd_done_cb cb, void *userdata);

/* Tasks.Wait: completes when the init process has exited (at once if it has), with its exit; timeout_ms
 * as in GrpcCallOptions (GRPC_NO_TIMEOUT: wait for ever; -ETIMEDOUT). cb gets 1, or -ENOENT (0 with
 * CTRD_MISSING_OK) when there is no task. */
int ctrd_task_wait(GrpcConn *conn, const char *ns, const char *container_id, int64_t timeout_ms,
                   unsigned flags, ctrd_task_exit_cb cb, void *userdata);

/* Tasks.Delete of a stopped task (a running one gets -EIO: containerd answers UNKNOWN). cb gets 1 and
 * the exit; with CTRD_MISSING_OK no task gets 0 and NULL. */
int ctrd_task_delete(GrpcConn *conn, const char *ns, const char *container_id, unsigned flags,
                     ctrd_task_exit_cb cb, void *userdata);

/* Tasks.Update: the running task's cgroup limits become resources_json (an OCI LinuxResources object,
 * what oci_resources_build() makes), in place; the container record's spec is not changed. cb gets 1. */
int ctrd_task_update_resources(GrpcConn *conn, const char *ns, const char *container_id,
                               const char *resources_json, ctrd_done_cb cb, void *userdata);
/* Tasks.Get of the init process. -ENOENT when there is no task. */
int ctrd_task_get(GrpcConn *conn, const char *ns, const char *container_id, ctrd_task_cb cb, void *userdata);

/* Tasks.List: every task of the namespace (containerd 1.6 ignores the request's filter). */
int ctrd_task_list(GrpcConn *conn, const char *ns, ctrd_task_list_cb cb, void *userdata);

/* ---- stopping and teardown (ctrd-tasks-stop.c, ctrd-tasks-teardown.c) ---- */

/* Stops a task without blocking the loop: Tasks.Wait is started, signal (0: SIGTERM) goes to the init
 * process, and if it has not exited after grace_ms (a timer on loop, the connection's loop) SIGKILL goes
 * to every process of the container (grace_ms 0: SIGKILL at once). PID 1 ignores signals it has no
 * handler for, so SIGTERM alone may do nothing. cb gets 1 and the exit (is_killed when SIGKILL was
 * needed); no task gets -ENOENT, or 0 with CTRD_MISSING_OK; a process that still has not exited
 * kill_timeout_ms after SIGKILL (0: 10 s) gets -ETIMEDOUT. An already stopped task completes at once with
 * its exit. */
int ctrd_task_stop(GrpcConn *conn, uv_loop_t *loop, const char *ns, const char *container_id, int signal,
                   uint64_t grace_ms, uint64_t kill_timeout_ms, unsigned flags, ctrd_task_exit_cb cb,
                   void *userdata);

typedef struct CtrdTeardown {
        const char *id;
        const char *snapshotter;  /* NULL: overlayfs */
        const char *snapshot_key; /* NULL: id */
        int signal;               /* 0: SIGTERM */
        uint64_t grace_ms;
        uint64_t kill_timeout_ms; /* 0: 10 s */
} CtrdTeardown;

/* Removes a container and everything under it in the only safe order: ctrd_task_stop() → Tasks.Delete →
 * Containers.Delete → Snapshots.Remove, each step treating "not found" as done, so it can be repeated
 * after a crash at any point. A step that fails ends it before the next one (never a record deleted
 * under a live task). cb gets 1 when something was removed, 0 when nothing was there, or the first error
 * with a message naming the step; exit is the task's when there was one. */
int ctrd_container_teardown(GrpcConn *conn, uv_loop_t *loop, const char *ns, const CtrdTeardown *t,
                            ctrd_task_exit_cb cb, void *userdata);

/* =====================================================================================================
 * Images: leases, content, image records, the image snapshots, unpack, archive import
 * (ctrd-leases.c, ctrd-content*.c, ctrd-images*.c, ctrd-snapshots-image.c, ctrd-unpack.c, ctrd-import.c;
 * the archive reader and the image JSON parsers are in archive.h)
 *
 * ns is the containerd namespace of the call (NULL: the connection's default). lease, where an operation
 * takes one, is sent as the containerd-lease header: what the call creates is held by that lease until
 * it is deleted (NULL: none). Digests are "sha256:<64 hex>". Flags are the CtrdFlags above.
 * ===================================================================================================== */

#include <jansson.h>

#include "common/sha256.h"

typedef struct CtrdDescriptor {
        const char *media_type;
        const char *digest;
        int64_t size;
} CtrdDescriptor;

/* Progress of a long operation: done of total (bytes, or layers for an unpack). */
typedef void (*ctrd_progress_cb)(uint64_t done, uint64_t total, void *userdata);

/* ---- pure helpers (ctrd-images-ref.c) ---- */

/* Normalizes an image reference as docker and containerd do: "busybox" →
 * "docker.io/library/busybox:latest", "kukeon/busybox:test" → "docker.io/kukeon/busybox:test",
 * "localhost:5000/x" → "localhost:5000/x:latest"; a digest is kept ("…@sha256:…", no tag added).
 * Returns 0 with a new string in *ret, -EINVAL for an invalid reference (upper case in the path, bad
 * tag or digest), -ENOMEM. */
int ctrd_image_ref_normalize(const char *ref, char **ret);

/* One step of the OCI ChainID: chain = diff_id for the first layer (parent NULL), else
 * "sha256:" + hex(sha256(parent + " " + diff_id)). Returns 0 or -EINVAL for a malformed digest. */
int ctrd_chain_id_next(const char *parent, const char *diff_id, char ret[static SHA256_HEX_MAX]);
/* The chain ids of n layers into ret[0..n). */
int ctrd_chain_ids(const char *const *diff_ids, size_t n, char (*ret)[SHA256_HEX_MAX]);

/* ---- leases (ctrd-leases.c) ---- */

#define CTRD_LEASE_ID_MAX           64
#define CTRD_LEASE_EXPIRE_DEFAULT_S (24 * 3600)

/* A fresh lease id, "kukeon-<ns since the epoch>-<6 random hex>", in buf; returns buf. */
char *ctrd_lease_id_new(char buf[static CTRD_LEASE_ID_MAX]);

typedef void (*ctrd_lease_cb)(int r, const char *message, const char *id, void *userdata);
typedef void (*ctrd_lease_list_cb)(int r, const char *message, const char *const *ids, size_t n,
                                   void *userdata);

/* Leases.Create with a fresh id and label containerd.io/gc.expire = now + expire_s (0: 24 h), so that a
 * lease we never delete (a crash) still ends. cb gets 1 and the id. */
int ctrd_lease_create(GrpcConn *conn, const char *ns, int64_t expire_s, ctrd_lease_cb cb, void *userdata);
/* Leases.Delete; with sync the garbage collection of what it held is done before cb runs. cb gets 1, or
 * with CTRD_MISSING_OK 0 for a lease that is not there (else -ENOENT). */
int ctrd_lease_delete(GrpcConn *conn, const char *ns, const char *id, bool sync, unsigned flags,
                      ctrd_done_cb cb, void *userdata);
/* Leases.List: the ids of the namespace's leases. */
int ctrd_lease_list(GrpcConn *conn, const char *ns, ctrd_lease_list_cb cb, void *userdata);

/* ---- content (ctrd-content.c) ---- */

typedef struct CtrdContentInfo {
        const char *digest;
        int64_t size;
        int64_t created_at_ns, updated_at_ns;
        const CtrdLabel *labels;
        size_t n_labels;
} CtrdContentInfo;

/* An ingest in progress (a Content.Write ref not committed). */
typedef struct CtrdContentStatus {
        const char *ref;
        int64_t offset, total;
        const char *expected;
} CtrdContentStatus;

typedef void (*ctrd_content_info_cb)(int r, const char *message, const CtrdContentInfo *info,
                                     void *userdata);
typedef void (*ctrd_content_data_cb)(int r, const char *message, const uint8_t *data, size_t len,
                                     void *userdata);
typedef void (*ctrd_content_statuses_cb)(int r, const char *message, const CtrdContentStatus *statuses,
                                         size_t n, void *userdata);

/* Content.Info. -ENOENT when the blob is not in the namespace. */
int ctrd_content_info(GrpcConn *conn, const char *ns, const char *digest, ctrd_content_info_cb cb,
                      void *userdata);
/* Content.Update of exactly these label keys (update mask "labels.<key>" each); other labels stay. A
 * label with an empty value is removed. cb gets 1. */
int ctrd_content_update_labels(GrpcConn *conn, const char *ns, const char *digest, const CtrdLabel *labels,
                               size_t n_labels, ctrd_done_cb cb, void *userdata);
/* Content.Read (a server stream) of a whole blob into memory: -EFBIG when it is larger than max bytes,
 * -ENOENT when absent. data is valid during cb only. */
int ctrd_content_read(GrpcConn *conn, const char *ns, const char *digest, size_t max,
                      ctrd_content_data_cb cb, void *userdata);
/* Content.Abort of an ingest ref: 1, or with CTRD_MISSING_OK 0 when there is no such ref. */
int ctrd_content_abort(GrpcConn *conn, const char *ns, const char *ref, unsigned flags, ctrd_done_cb cb,
                       void *userdata);
/* Content.ListStatuses: the ingests in progress (filter: a containerd filter or NULL). */
int ctrd_content_list_statuses(GrpcConn *conn, const char *ns, const char *filter,
                               ctrd_content_statuses_cb cb, void *userdata);

/* ---- writing a blob (ctrd-content-write.c) ---- */

typedef struct CtrdContentWriter CtrdContentWriter;

/* The writer wants the blob's bytes from offset on, at most max of them. Answer exactly once, now or
 * later, on the loop thread, with ctrd_content_writer_supply() (1..max bytes) or
 * ctrd_content_writer_fail(); not after the writer has ended (its cb ran or it was cancelled). */
typedef void (*ctrd_content_source_cb)(CtrdContentWriter *w, uint64_t offset, size_t max, void *userdata);

typedef struct CtrdContentWrite {
        const char *ns;
        const char *lease;
        const char *ref;         /* the ingest ref, e.g. "layer-sha256:…"; one writer per ref at a time */
        const char *digest;      /* required: what the blob must hash to (the server checks at COMMIT) */
        int64_t size;            /* required */
        const CtrdLabel *labels; /* set at COMMIT, or by Content.Update when the blob already exists */
        size_t n_labels;
        /* The data: fd >= 0 is a file holding the blob at [fd_offset, fd_offset + size), read with pread
         * on the libuv threadpool (the fd stays the caller's and must stay open until cb). Otherwise
         * source is asked for it. */
        int fd;
        uint64_t fd_offset;
        ctrd_content_source_cb source;
        /* The source can start at any offset, so an interrupted ingest of the same ref is resumed; else it
         * is rewritten from 0. An fd always can. */
        bool is_seekable;
        ctrd_progress_cb on_progress; /* bytes acknowledged by containerd, with the op's userdata */
        int64_t timeout_ms;           /* deadline of the whole stream; 0: 10 min + 1 s per 10 MiB */
} CtrdContentWrite;

/* Writes one blob over Content.Write (containerd-api.md §3 b2): STAT with ref and expected digest; when
 * the blob exists in the namespace (ALREADY_EXISTS) only its labels are set with Content.Update; from the
 * offset STAT reports (== size when the blob exists in another namespace: nothing to send) WRITEs of at
 * most 1 MiB, each acknowledged before the next; COMMIT with size, digest and labels. cb gets 1 when
 * written, 0 when it was there. On failure the ingest is aborted (Content.Abort) before cb runs (unless
 * the connection is gone); "ref locked" by another writer comes back as -EBUSY. opts is copied. The
 * writer (in *ret when ret is not NULL) is valid until cb runs. */
int ctrd_content_write(GrpcConn *conn, uv_loop_t *loop, const CtrdContentWrite *opts, ctrd_done_cb cb,
                       void *userdata, CtrdContentWriter **ret);
/* Answers the source's request with len bytes (copied). Returns 0, -EINVAL when len is 0 or more than
 * asked, -EPIPE when no request is pending. */
int ctrd_content_writer_supply(CtrdContentWriter *w, const void *data, size_t len);
/* Answers the source's request with an error r < 0: the write fails with r and message. */
void ctrd_content_writer_fail(CtrdContentWriter *w, int r, const char *message);
/* Ends the write early: cb runs with -ECANCELED once the ingest is aborted. */
void ctrd_content_writer_cancel(CtrdContentWriter *w);

/* ---- snapshots of images (ctrd-snapshots-image.c) ---- */

typedef enum CtrdSnapshotKind {
        CTRD_SNAPSHOT_UNKNOWN,
        CTRD_SNAPSHOT_VIEW,
        CTRD_SNAPSHOT_ACTIVE,
        CTRD_SNAPSHOT_COMMITTED,
} CtrdSnapshotKind;

typedef struct CtrdSnapshotInfo {
        const char *name;
        const char *parent; /* "" for none */
        CtrdSnapshotKind kind;
        const CtrdLabel *labels;
        size_t n_labels;
} CtrdSnapshotInfo;

typedef void (*ctrd_snapshot_info_cb)(int r, const char *message, const CtrdSnapshotInfo *info,
                                      void *userdata);

/* Snapshots.Stat (snapshotter NULL: overlayfs). -ENOENT when there is no such snapshot. */
int ctrd_snapshot_stat(GrpcConn *conn, const char *ns, const char *snapshotter, const char *key,
                       ctrd_snapshot_info_cb cb, void *userdata);
/* Snapshots.Commit of active snapshot key as name. cb gets 1, or with CTRD_EXIST_OK 0 when name exists
 * already (else -EEXIST); key is then still there for the caller to remove. */
int ctrd_snapshot_commit(GrpcConn *conn, const char *ns, const char *snapshotter, const char *name,
                         const char *key, const char *lease, unsigned flags, ctrd_done_cb cb,
                         void *userdata);

/* ---- image records (ctrd-images.c) ---- */

typedef struct CtrdImage {
        const char *name;
        CtrdDescriptor target;
        const CtrdLabel *labels;
        size_t n_labels;
        int64_t created_at_ns, updated_at_ns;
} CtrdImage;

typedef void (*ctrd_image_cb)(int r, const char *message, const CtrdImage *image, void *userdata);

typedef void (*ctrd_image_list_cb)(int r, const char *message, const char *const *names, size_t n,
                                   void *userdata);

/* Images.List: the names of every image record of the namespace. */
int ctrd_image_list(GrpcConn *conn, const char *ns, ctrd_image_list_cb cb, void *userdata);
/* Images.Get: the record and its target descriptor. -ENOENT when there is no such image. */
int ctrd_image_get(GrpcConn *conn, const char *ns, const char *name, ctrd_image_cb cb, void *userdata);
/* Makes image name point at target (containerd-api.md §3 b5): Images.Create; on ALREADY_EXISTS, when
 * the record has another target, Images.Update(target). cb gets 1 when created or changed, 0 when it was
 * so already. labels are set only on creation. */
int ctrd_image_ensure(GrpcConn *conn, const char *ns, const char *name, const CtrdDescriptor *target,
                      const CtrdLabel *labels, size_t n_labels, ctrd_done_cb cb, void *userdata);
/* Images.Delete (sync: wait for the garbage collection). cb gets 1, or with CTRD_MISSING_OK 0 when
 * absent (else -ENOENT). */
int ctrd_image_delete(GrpcConn *conn, const char *ns, const char *name, bool sync, unsigned flags,
                      ctrd_done_cb cb, void *userdata);

/* ---- unpack (ctrd-unpack.c) ---- */

typedef struct CtrdUnpack {
        const char *snapshotter; /* NULL: overlayfs */
        const char *lease;       /* strongly advised: holds the new snapshots until an image names them */
        const CtrdDescriptor *layers; /* the manifest's layer descriptors, in order */
        const char *const *diff_ids;  /* the config's rootfs.diff_ids, as many */
        size_t n_layers;
        /* Labelled containerd.io/gc.ref.snapshot.<snapshotter> = top chain id, so that the image keeps
         * its snapshots. NULL: not labelled. */
        const char *config_digest;
        ctrd_progress_cb on_progress; /* layers done of n_layers */
        int64_t apply_timeout_ms;     /* per Diff.Apply; 0: 10 min */
} CtrdUnpack;

typedef void (*ctrd_unpack_cb)(int r, const char *message, const char *chain_id, void *userdata);

/* Unpacks the layers into committed snapshots named by chain id (containerd-api.md §3 b6): per layer
 * Snapshots.Stat(chain id), skipped when present; else Prepare("extract-<unique> <chain id>", parent) →
 * Diff.Apply → the applied digest must equal the diff_id (-EBADMSG otherwise) → Commit(chain id)
 * (ALREADY_EXISTS: another unpack won, fine) → Content.Update of the layer's containerd.io/uncompressed
 * label; a failed layer's active snapshot is removed. Then the config label. cb gets 1 when a layer was
 * applied, 0 when all were there, and the top chain id. u is copied. */
int ctrd_image_unpack(GrpcConn *conn, const char *ns, const CtrdUnpack *u, ctrd_unpack_cb cb,
                      void *userdata);

/* ---- what a container needs of an image (ctrd-images-config.c) ---- */

typedef struct CtrdImageConfig {
        CtrdDescriptor target;   /* the image record's */
        CtrdDescriptor manifest; /* the linux/amd64 manifest (target itself unless it is an index) */
        CtrdDescriptor config;
        /* The "config" object of the image config (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal), as
         * OciSpecInput.image_config takes it; NULL when the image has none. json_incref() to keep it. */
        const json_t *process;
        const char *chain_id; /* the top layer's chain id: the parent of a container's snapshot */
        const CtrdDescriptor *layers;
        const char *const *diff_ids;
        size_t n_layers;
} CtrdImageConfig;

typedef void (*ctrd_image_config_cb)(int r, const char *message, const CtrdImageConfig *config,
                                     void *userdata);

/* Images.Get(name) → Content.Read of the target (an index: its first linux/amd64 manifest) → the
 * manifest → the config. -ENOENT when the image or a blob is missing, -ENOEXEC when no manifest is for
 * linux/amd64, -EINVAL when a document is malformed. */
int ctrd_image_config_get(GrpcConn *conn, const char *ns, const char *name, ctrd_image_config_cb cb,
                          void *userdata);

/* Unpacks image name (resolved as ctrd_image_config_get() does) under lease (NULL: a lease of its own). */
int ctrd_image_unpack_name(GrpcConn *conn, const char *ns, const char *name, const char *snapshotter,
                           const char *lease, ctrd_unpack_cb cb, void *userdata);

/* ---- importing an archive (ctrd-import.c) ---- */

typedef enum CtrdImportPhase {
        CTRD_IMPORT_READ,   /* reading and checking the archive: bytes of it */
        CTRD_IMPORT_WRITE,  /* writing blobs: bytes */
        CTRD_IMPORT_UNPACK, /* layers */
} CtrdImportPhase;

typedef void (*ctrd_import_progress_cb)(CtrdImportPhase phase, uint64_t done, uint64_t total,
                                        void *userdata);

typedef struct CtrdImportOptions {
        const char *ns;
        const char *path;        /* the tar (OCI image layout or docker archive, optionally compressed) */
        const char *tmp_dir;     /* where the blobs are spooled meanwhile; NULL: $TMPDIR, else /var/tmp */
        const char *base_name;   /* names tag-only org.opencontainers.image.ref.name entries; NULL: none */
        const char *snapshotter; /* NULL: overlayfs */
        bool no_unpack;
        ctrd_import_progress_cb on_progress;
} CtrdImportOptions;

typedef struct CtrdImportedImage {
        const char *name;
        CtrdDescriptor target;
        const char *chain_id; /* the top layer's ("" with no_unpack) */
} CtrdImportedImage;

typedef void (*ctrd_import_cb)(int r, const char *message, const CtrdImportedImage *images, size_t n,
                               void *userdata);

typedef struct CtrdImport CtrdImport;

/* Imports an image archive (containerd-api.md §3 c). The archive is read and checked on the libuv
 * threadpool (archive.h: paths, links, digests, sizes, platform); only then, under a new lease: every
 * blob with ctrd_content_write() (GC labels on manifests and indexes), ctrd_image_unpack() per image,
 * ctrd_image_ensure() per name, and the lease deleted. On failure the lease is deleted with sync, so
 * nothing of the import stays in containerd. cb gets 1 when a blob was written, a layer applied or an
 * image record created or changed, 0 when everything was there already (importing twice is a no-op),
 * and the images. Errors: those of archive.h for the archive (-EINVAL unsafe or unknown, -EIO truncated,
 * -EBADMSG digest/size/diff_id, -ENOENT missing blob, -ENOEXEC no linux/amd64 image), else the failing
 * step's, with a message naming it. opts is copied. The import (in *ret when ret is not NULL) is valid
 * until cb runs. */
int ctrd_image_import(GrpcConn *conn, uv_loop_t *loop, const CtrdImportOptions *opts, ctrd_import_cb cb,
                      void *userdata, CtrdImport **ret);
/* Stops an import early: cb runs with -ECANCELED after the cleanup. */
void ctrd_image_import_cancel(CtrdImport *imp);
