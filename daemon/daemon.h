/* The Daemon context and what kukeond's modules share. One Daemon is created in main() and passed down;
 * there is no other global state. Every libuv handle is embedded in its owner with `data` pointing back,
 * and every one is closed before the loop is (uv_loop_close() == 0). */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/timeutil.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/queue.h"
#include "drivers/cgroup/cgroup.h"
#include "drivers/cni/cni.h"
#include "drivers/containerd/ctrd.h"
#include "reconciler/plan.h"
#include "state/store.h"

typedef struct Daemon Daemon;
typedef struct Op Op;
typedef struct Watcher Watcher;
typedef struct ImageJob ImageJob;

/* How a resource stands with respect to the tree. */
typedef enum Desire {
        DESIRE_PRESENT,        /* its manifest and its ancestors' are valid: bring it up */
        DESIRE_ABSENT,         /* no manifest, or an ancestor's is missing: tear it down */
        DESIRE_INVALID,        /* its manifest does not parse or validate: Failed, left as it is */
        DESIRE_INVALID_PARENT, /* an ancestor's manifest is invalid: Failed, left as it is */
} Desire;

/* What the daemon remembers of one container of a cell: its restarts (persisted in the cell status) and
 * what the last observation saw of it (for the status). */
typedef struct ContainerRecord {
        char name[NAME_MAX_LEN + 1];
        char containerd_id[77];
        RestartMemory restarts;
        State state;
        uint32_t pid;
        int64_t started_at; /* seconds; 0 unknown */
        int64_t finished_at;
        bool has_exit;
        int32_t exit_code;
        char image_digest[72];
        bool is_seen; /* the last observation found it */
} ContainerRecord;

/* What the daemon recorded about a resource's primitives: read back from its status file when first
 * seen, updated by the actions, written with the status. Teardown does not depend on it: every name is
 * derived again when it is missing. */
typedef struct Recorded {
        char namespace[NAME_MAX_LEN + 16];  /* realm */
        char network[CNI_NETWORK_NAME_MAX]; /* space */
        char bridge[CNI_BRIDGE_NAME_MAX];
        char subnet[CNI_SUBNET_MAX];
        char gateway[CNI_IP_MAX];
        char conflist_path[512];
        char netns[4 * (NAME_MAX_LEN + 1) + 8]; /* cell */
        char ip[CNI_IP_MAX];
        char cgroup_path[512];
        int64_t created_at;
        int64_t ready_at;
        char *restarted_at;          /* cell: the restart annotation acted on; owned */
        ContainerRecord *containers; /* cell: owned */
        size_t n_containers;
        /* image */
        char image_digest[72];
        int64_t image_size;
        int64_t progress_done, progress_total;
} Recorded;

typedef struct Resource {
        ResourceId id;
        QueueItem qi;
        struct Resource *hash_next;
        /* desired, from the last scan */
        Desire desire;
        Document *spec; /* DESIRE_PRESENT (and frozen ones that have one): defaults applied; owned */
        char digest[72];
        char *error; /* why it is Failed or not wanted: a positioned message; owned */
        bool has_spec_file;
        bool in_tree; /* its directory was there at the last scan */
        unsigned scan_gen;
        /* observed and remembered */
        Document *status; /* the status last written (or read at start); owned */
        Recorded rec;
        bool is_live;            /* something of it may exist on the host */
        bool is_ready;           /* the last round ended with an empty plan in a settled state */
        bool needs_status_write; /* the status file went away behind our back */
        bool has_isolation;      /* space: its isolation rules were ensured by this daemon (or presumed) */
        bool is_isolation_presumed;   /* space: its rules were taken as there at the first look */
        bool needs_isolation_verify;  /* space: its rules are to be checked once the daemon is idle */
        bool is_parked;               /* its round waits for an ancestor's (see daemon_pump()) */
        struct CellCarry *carry;      /* cell: a containerd observation for its next round */
        uint64_t ctrd_epoch;          /* cell: bumped by each containerd event or action that concerns it */
        Op *op;                       /* the round in flight */
        uint64_t wake_at_ms;          /* uv_now() time of a planned wake-up; 0: none */
        unsigned n_failures;          /* rounds in a row that failed: the retry back-off */
        unsigned n_rounds;            /* rounds in a row that changed something without settling */
        uint64_t progress_written_ms; /* uv_now() of the last progress status */
} Resource;

typedef struct ResourceTable {
        Resource **buckets;
        size_t n_buckets;
        size_t n;
} ResourceTable;

/* What a cell's observation keeps of each container record, next to the planner's ObservedContainer. */
typedef struct ContainerExtra {
        char containerd_id[77];
        char *name;                  /* owned; ObservedContainer.name points here */
        char *spec_digest;           /* owned */
        char *image;                 /* owned: the record's image name */
        char *stop_signal;           /* owned: its io.containerd.image.config.stop-signal label */
        char *resources_digest;      /* owned, NULL when absent */
        char *live_resources_digest; /* owned, NULL when absent */
} ContainerExtra;

/* An image the cell's containers need, as the observation found it in the realm's namespace. */
typedef struct CellImage {
        char *name;        /* normalized reference; owned */
        bool is_present;   /* record, config and the unpacked top layer are there */
        json_t *process;   /* the image config's "config" object (a reference), or NULL */
        char *chain_id;    /* owned */
        char *digest;      /* the manifest's digest; owned */
        char *stop_signal; /* owned */
} CellImage;

/* One observe → plan → execute → status round of a resource. */
struct Op {
        Daemon *d;
        Resource *res;
        ObservedLevel level;
        ObservedCell cell;
        bool has_observation;
        Desire desire;   /* as the round started */
        char digest[72]; /* the digest the round acts on */
        Plan plan;
        size_t n_pending;      /* actions started and not done */
        size_t n_run;          /* actions started */
        int error;             /* the first failure (of the observation or an action), 0 for none */
        char message[512];     /* its text */
        int failed_action;     /* its ActionType, or -1 for the observation */
        const char *missing;   /* an action that is not available yet: what is missing */
        int missing_action;    /* its ActionType */
        bool did_change;       /* an action changed something: observe again */
        bool did_remove_files; /* FILES_REMOVE ran: the resource is gone */
        bool did_touch_ctrd;   /* an action that changes what containerd holds ran */
        bool had_status;       /* the resource had a status when the round started */
        bool is_cancelled;     /* shutting down: no status, no requeue */
        CniOp *cni_op;         /* a running plugin chain, cancelled at shutdown */
        /* cell: the containers observed (parallel arrays) and the images wanted */
        ObservedContainer *obs;
        ContainerExtra *obs_extra;
        size_t n_obs;
        CellImage *images;
        size_t n_images;
        ContainerSpec *want;     /* cell: the effective specs of its containers (op_plan) */
        char (*want_digest)[72]; /* ... and their digests */
        char (*want_resources)[72];
        size_t n_want;
        size_t n_observing;          /* observation calls in flight */
        uint64_t obs_epoch, obs_gen; /* r->ctrd_epoch and d->ctrd_gen as the containerd observation began */
        int observe_error;
        char observe_message[384];
};

struct Daemon {
        uv_loop_t loop;
        bool has_loop;
        ConfigSources sources;
        DaemonConfig config;
        Log log;
        int pid_fd;
        int64_t started_at;
        int64_t started_at_ns; /* CLOCK_REALTIME, what lease ids of this daemon are later than */
        bool is_stopping;
        bool is_started; /* rounds run: containerd answered, or said it is not there */

        Store *store;
        CgManager *cg;
        CniIsolation *iso; /* NULL: iptables isolation is not available */
        Watcher *watcher;
        GrpcConn *ctrd;
        CtrdSubscription *events;
        bool is_ctrd_ready;
        char ctrd_error[256];

        ResourceTable table;
        DirtyQueue queue;
        size_t n_ops;
        size_t n_parked; /* resources with is_parked */
        unsigned scan_gen;
        bool needs_scan;       /* manifests changed: rescan before the next rounds */
        uint64_t last_scan_ms; /* uv_now() of the last scan */
        bool needs_full;       /* a full resync is due: every resource gets a round */

        uv_signal_t sigterm, sigint, sighup;
        uv_timer_t scan_timer;     /* coalesces bursts of events into one scan (armed only while busy) */
        uv_timer_t resync_timer;   /* the periodic full resync */
        uv_timer_t wake_timer;     /* restart back-off and retry wake-ups */
        uv_timer_t watchdog_timer; /* sd_notify WATCHDOG=1, only when systemd asks for it */
        uv_timer_t stop_timer;     /* bounds the wait for rounds in flight at shutdown */
        uv_idle_t pump_idle;       /* runs more rounds on the next loop iteration (active only while busy) */
        bool is_pumping;
        uint64_t watchdog_usec;
        uint64_t available_caps;      /* the bounding set, read once: what containers can be granted */
        ImageJob *image_jobs;         /* pulls and imports in flight, one per namespace and image */
        struct NsSnap *snaps;         /* namespace snapshots in flight */
        uint64_t ctrd_seq;            /* bumped by every containerd event and container or task action */
        bool is_isolation_verify_due; /* a space has needs_isolation_verify */
        bool is_gc_due;               /* a full resync asked for garbage collection (run once idle) */
        uint64_t ctrd_gen;            /* bumped by what may concern every cell: (re)connection, namespace and
                                       * image changes */

        char last_error[512];
        char *self_status; /* the kukeond.yaml last written */
};

#define DAEMON_SCAN_DELAY_MS 20
#define DAEMON_STOP_GRACE_MS 5000
#define RETRY_BACKOFF_MAX_MS (5 * 60 * 1000)
#define ROUNDS_PER_PUMP      64 /* rounds started per loop iteration, so a burst never starves the loop */
#define ROUNDS_MAX           32 /* rounds in a row that change something and never settle: a bug, stop */

/* Copies src into dst of size bytes; false (dst emptied) when it does not fit. */
static inline bool str_copy(char *dst, size_t size, const char *src)
{
        size_t n = strlen(src);
        if (n >= size) {
                dst[0] = '\0';
                return false;
        }
        memcpy(dst, src, n + 1);
        return true;
}

#define resource_from_item(it) ((Resource *)((char *)(it)-offsetof(Resource, qi)))

/* ---- resources.c: the table ---- */
int resource_table_init(ResourceTable *t);
void resource_table_done(ResourceTable *t);
Resource *resource_find(const ResourceTable *t, const ResourceId *id);
/* Finds or adds (zeroed but for its id). NULL on -ENOMEM. */
Resource *resource_ensure(Daemon *d, const ResourceId *id);
/* Drops a resource that has no round in flight. */
void resource_drop(Daemon *d, Resource *r);
/* Calls fn on every resource; fn may not add or drop any. */
void resource_foreach(const ResourceTable *t, void (*fn)(Resource *r, void *userdata), void *userdata);
bool resource_id_equal(const ResourceId *a, const ResourceId *b);
/* The parent of a resource (a realm has none: returns false). */
bool resource_parent_id(const ResourceId *id, ResourceId *ret);
const char *resource_qualified(const ResourceId *id, char *buf, size_t size);
/* BENCH STAMP (tests/bench/): log_stamp() of a phase of r's convergence, "stamp <t> <kind> <qualified>
 * <text>"; nothing is evaluated unless the level is debug. */
#define res_stamp(d, r, ...)                                                                                \
        do {                                                                                                \
                if ((d)->log.max_level >= LOG_DEBUG)                                                        \
                        resource_stamp(d, r, __VA_ARGS__);                                                  \
        } while (0)
void resource_stamp(const Daemon *d, const Resource *r, const char *fmt, ...) _printf_(3, 4);
/* Seeds rec from a status document read from disk. */
void recorded_from_status(Recorded *rec, const Status *st);
void recorded_done(Recorded *rec);

/* ---- reconcile.c: scheduling rounds ---- */
/* Queues a round for r. */
void daemon_mark_dirty(Daemon *d, Resource *r);
/* Queues the direct children of r (after it settled up), or its parent (after it went). */
void daemon_mark_children(Daemon *d, const Resource *r);
void daemon_mark_parent(Daemon *d, const Resource *r);
/* Starts the rounds the queue allows. */
void daemon_pump(Daemon *d);
/* What waits for the daemon to be idle (no round running or queued): the garbage collection a full
 * resync asked for, the isolation checks that are due. */
void daemon_idle_work(Daemon *d);
/* Cancels what can be cancelled (shutdown). */
void daemon_cancel_ops(Daemon *d);
/* Arms the wake timer for the earliest planned wake-up. */
void daemon_arm_wake(Daemon *d);
/* Called by main when the last round ended during shutdown. */
void daemon_on_idle_stopping(Daemon *d);
/* The parent resource when it is in the table. */
Resource *resource_parent(Daemon *d, const Resource *r);
/* Called by an action when it is done (r < 0 failed, with message or NULL for strerror). */
void op_action_done(Op *op, const Action *a, int r, const char *message);
/* Called by the observation when it is done. */
void op_observed(Op *op, int r, const char *message);

/* ---- observe.c ---- */
/* Fills op's observation of its resource and calls op_observed() (maybe before returning). */
void op_observe(Op *op);
/* Names derived from the id (and the spec or the record): realm namespace, space network, conflist path,
 * cell netns. */
const char *resource_namespace(const Resource *r, char *buf, size_t size);
int space_conflist_path(Daemon *d, const Resource *space, char *buf, size_t size);
int space_copy_path(Daemon *d, const ResourceId *space, char *buf, size_t size);
/* The space's bridge: as recorded, else as the naming rule gives it. */
int space_bridge(const Resource *space, char ret[static CNI_BRIDGE_NAME_MAX]);

/* ---- observe-cell.c: a cell's containers and images ---- */
/* The containerd namespace of id's realm. */
const char *realm_namespace(Daemon *d, const ResourceId *id, char *buf, size_t size);
/* Lists the cell's container records and tasks, and the images of the containers to create; then
 * op_observed(). */
void observe_cell_containers(Op *op);
/* Looks up op's images in the realm's namespace, then op_observed(). */
void observe_images_lookup(Op *op);
/* Adds ref (normalized) to op's images; returns its index or -errno. */
int cell_image_add(Op *op, const char *ref);
/* The image entry for ref, or NULL. */
CellImage *cell_image_find(Op *op, const char *ref);
void op_free_observation(Op *op);
void container_extra_done(ContainerExtra *x);
/* Frees parallel arrays of n observed containers and their extras. */
void observed_containers_free(ObservedContainer *obs, ContainerExtra *extra, size_t n);
/* A container record as observed: o's strings point into x (owned). -ENOMEM. */
int container_observe_fill(const CtrdContainer *c, ObservedContainer *o, ContainerExtra *x);
void observed_task_set(ObservedContainer *o, const CtrdTask *task);

/* ---- namespace snapshots (observe-snapshot.c) ----
 * Adoption at scale: when a full resync starts, one Containers.List and one Tasks.List per realm
 * namespace, split per cell, instead of a filtered list and a Tasks.Get per cell. When nothing happened in
 * the namespace while they were on their way (d->ctrd_seq unchanged), each cell's part becomes what it
 * carries for its next round. */
void ns_snapshots_start(Daemon *d);
/* A snapshot of the cell's namespace is on its way: op waits for it (true). */
bool ns_snapshot_join(Op *op);
void ns_snapshots_done(Daemon *d);

/* ---- carried observations (observe-cell.c) ----
 * What a cell's next round may use instead of reading containerd: the observation (records, tasks, images)
 * of a round whose actions were all on the host side (cgroup, netns, CNI, hosts file), or its part of a
 * namespace snapshot (records and tasks). Used once, if nothing concerning the cell happened meanwhile
 * (r->ctrd_epoch and d->ctrd_gen unchanged) and it is fresh; images only for the same manifest. */
struct CellCarry {
        uint64_t epoch, gen; /* r->ctrd_epoch and d->ctrd_gen as of the observation */
        uint64_t taken_ms;   /* uv_now() of it */
        bool has_images;     /* images looked up (for digest and desire), else they are still to be */
        char digest[72];
        Desire desire;
        ObservedContainer *obs;
        ContainerExtra *extra;
        size_t n;
        CellImage *images;
        size_t n_images;
};
/* Keeps op's containerd observation for the cell's next round (ownership passes). */
void cell_carry_keep(Op *op);
void cell_carry_free(struct CellCarry *c);
/* The cell's managed /etc/hosts as it should read now (the space's cells and their addresses). */
int cell_hosts_render(Daemon *d, const Resource *cell, char **ret_hosts, char **ret_hostname);

/* The record of container name of a cell; with create, added when missing (NULL on -ENOMEM). */
ContainerRecord *cell_container_record(Resource *r, const char *name, bool create);

/* ---- container-spec.c ---- */
/* A copy of c with the space's container defaults filled in where c says nothing (free with
 * schema_free_fields(&container_spec_schema, ret)). */
int container_effective(const ContainerSpec *c, const SpaceSpec *space, ContainerSpec *ret);
/* "sha256:<hex>" of the canonical JSON of an effective container spec without its resources, and of its
 * resources alone (they change in place). */
int container_spec_digest(const ContainerSpec *c, char ret[static 72]);
int container_resources_digest(const ContainerSpec *c, char ret[static 72]);

/* ---- actions*.c: the handler table ---- */
#define ACTION_ASYNC 2 /* the handler calls op_action_done() later */
typedef int (*action_run_fn)(Op *op, const Action *a, char *msg, size_t msg_size);
typedef struct ActionHandler {
        action_run_fn run;   /* NULL: not available yet */
        const char *missing; /* what is missing when run is NULL */
} ActionHandler;
/* An action whose driver call completes later: what its callback needs. */
typedef struct ActionCall {
        Op *op;
        Action action;
} ActionCall;
ActionCall *action_call_new(Op *op, const Action *a);
/* Completes the action of a call (op_action_done()) and frees the call. */
void action_call_done(ActionCall *call, int r, const char *message);
/* The handler of an action for a kind of resource (never NULL). */
const ActionHandler *action_handler(ActionType type, Kind kind);
/* The per-kind handlers (actions-level.c, actions-space.c, actions-cell.c). */
int action_cgroup_ensure(Op *op, const Action *a, char *msg, size_t msg_size);
int action_cgroup_set_limits(Op *op, const Action *a, char *msg, size_t msg_size);
int action_cgroup_remove(Op *op, const Action *a, char *msg, size_t msg_size);
int action_namespace_ensure(Op *op, const Action *a, char *msg, size_t msg_size);
int action_namespace_delete(Op *op, const Action *a, char *msg, size_t msg_size);
int action_files_remove(Op *op, const Action *a, char *msg, size_t msg_size);
int action_subnet_allocate(Op *op, const Action *a, char *msg, size_t msg_size);
int action_network_ensure(Op *op, const Action *a, char *msg, size_t msg_size);
int action_network_remove(Op *op, const Action *a, char *msg, size_t msg_size);
/* A space whose bridge is there at the first look was isolated by an earlier kukeond since the host booted
 * (the bridge comes with the first cell, after the rules): its rules are presumed in place, so that its
 * cells are adopted without waiting for iptables. Returns whether it presumed so. */
bool space_isolation_presume(Daemon *d, Resource *space);
/* Every space with has_isolation is checked again once the daemon is idle (after a full resync). */
void space_isolation_verify_all_later(Daemon *d);
/* Runs the checks that are due, on the thread pool (daemon_idle_work() calls it): a rule that went missing
 * (a firewall reload) is restored; a failure makes the space ensure them in a round of its own. */
void space_isolation_verify_due(Daemon *d);
int action_netns_create(Op *op, const Action *a, char *msg, size_t msg_size);
int action_netns_delete(Op *op, const Action *a, char *msg, size_t msg_size);
int action_cni_add(Op *op, const Action *a, char *msg, size_t msg_size);
int action_cni_del(Op *op, const Action *a, char *msg, size_t msg_size);
/* actions-container.c */
int action_hosts_write(Op *op, const Action *a, char *msg, size_t msg_size);
int action_container_create(Op *op, const Action *a, char *msg, size_t msg_size);
int action_container_delete(Op *op, const Action *a, char *msg, size_t msg_size);
int action_task_start(Op *op, const Action *a, char *msg, size_t msg_size);
int action_task_stop(Op *op, const Action *a, char *msg, size_t msg_size);
int action_task_delete(Op *op, const Action *a, char *msg, size_t msg_size);
int action_container_update(Op *op, const Action *a, char *msg, size_t msg_size);
/* actions-image.c: a cell's image (pulled, or from the realm's Image manifest) and Image resources */
int action_image_ensure(Op *op, const Action *a, char *msg, size_t msg_size);
/* Observes an Image resource, then op_observed(). */
void observe_image(Op *op);
/* Cancels the pulls and imports in flight (shutdown). */
void image_jobs_cancel(Daemon *d);
/* The Image resource of the realm whose reference is ref (normalized), or NULL. */
Resource *realm_image_for(Daemon *d, const ResourceId *id, const char *ref);
/* The cell's effective container spec by name (NULL when the op has none). */
const ContainerSpec *op_container_spec(const Op *op, const char *name);
/* The space resource of a cell (NULL when not in the table). */
Resource *cell_space(Daemon *d, const Resource *cell);
/* Opens a directory relative to the run path without following a symlink anywhere. */
int open_run_dir(Daemon *d, const char *rel);
/* The conflist text a space's record describes (NULL when incomplete). Caller frees. */
char *space_conflist_text(const Resource *space);
/* The resources spec of any level kind (NULL when not desired). */
const Resources *resource_limits(const Resource *r);

/* ---- status.c ---- */
/* Writes r's status for the end of op's round when it changed. Returns 0, 1 (written) or -errno. */
int status_update(Daemon *d, Resource *r, const Op *op);
/* The status of a resource whose manifest is frozen (invalid, or its parent's is). */
int status_update_frozen(Daemon *d, Resource *r);
/* While an image comes in: a Pending status with the progress (an Image's progress field, a cell's message),
 * written at most once per STATUS_PROGRESS_INTERVAL_MS. */
#define STATUS_PROGRESS_INTERVAL_MS 1000
int status_progress(Daemon *d, Resource *r, const char *message);
/* At shutdown: the cell that stands for kukeond (its container is external) says it is not running. */
void status_self_stopped(Daemon *d);

/* ---- sync.c: the tree and events ---- */
/* Scans the run path and brings the table up to date; full: every resource gets a round. */
int daemon_scan(Daemon *d, bool full);
/* Asks for a scan soon (coalescing bursts), or a full resync. */
void daemon_request_scan(Daemon *d, bool full);
/* A watcher event (watcher_event_cb). */
void daemon_on_watch_event(const char *relpath, uint32_t mask, void *userdata);

/* ---- gc.c ---- */
/* Turns objects of ours that no resource stands for into resources to tear down (after a full scan). */
void daemon_gc(Daemon *d);

/* ---- ctrd.c: containerd ---- */
int daemon_ctrd_start(Daemon *d);
void daemon_ctrd_stop(Daemon *d);

/* ---- selfstatus.c: kukeond.yaml and sd_notify ---- */
void daemon_self_status_update(Daemon *d);
void daemon_set_last_error(Daemon *d, const char *fmt, ...) _printf_(2, 3);
/* Writes buf to path atomically (temp file in the same directory, fsync, rename). */
int write_file_atomic(const char *path, const char *buf, size_t len, mode_t mode);
