/* The pure planner: (desired, observed) in, the idempotent actions that converge them out.
 *
 * It links against no libuv and no driver (CMake enforces it), so every policy decision — ordering,
 * restart policy and back-off, drift, deletion — is unit-tested without root in milliseconds. The planner
 * is level-triggered: it returns the actions that can run now (independent ones together); the daemon
 * runs them, observes the resource again and plans again, until the plan is empty. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/document.h"

#define RESTART_BACKOFF_CAP_SECONDS 300
/* A container that ran this long is healthy: its back-off starts over. */
#define RESTART_HEALTHY_SECONDS 60

/* ---- observed state, as the drivers report it ---- */

typedef enum TaskStatus {
        TASK_NONE, /* no task */
        TASK_CREATED,
        TASK_RUNNING,
        TASK_STOPPED,
        TASK_PAUSED,
        TASK_UNKNOWN,
} TaskStatus;

typedef struct ObservedContainer {
        const char *name;        /* the container's id in the cell (our label kukeon.io/container) */
        bool is_root;            /* our label kukeon.io/container-type=root */
        bool exists;             /* a containerd container record */
        const char *spec_digest; /* its kukeon.io/spec-digest label */
        /* its kukeon.io/resources-digest label (the limits in the record's spec) and
         * kukeon.io/live-resources-digest (the limits last applied in place); NULL when absent */
        const char *resources_digest;
        const char *live_resources_digest;
        TaskStatus task;
        uint32_t pid;
        int32_t exit_status;
        int64_t started_at; /* seconds; 0 unknown */
        int64_t exited_at;  /* seconds; 0 unknown */
        /* its kukeon.io/stop-grace-period label: the grace its cell asked for when it was made */
        bool has_stop_grace;
        int64_t stop_grace_seconds;
} ObservedContainer;

typedef struct ObservedCell {
        bool cgroup_exists;
        bool cgroup_limits_match;
        bool netns_exists;
        bool net_attached;  /* eth0 up with the IP the status records */
        bool hosts_current; /* /etc/hosts and /etc/hostname say what they should */
        const ObservedContainer *containers;
        size_t n_containers;
} ObservedCell;

/* What the daemon remembers of a container's restarts (persisted in the cell status). */
typedef struct RestartMemory {
        int64_t restart_count;
        int64_t last_restart_at; /* seconds; 0 never */
        int64_t backoff_seconds; /* the delay before the next restart; 0 = start from the spec's value */
} RestartMemory;

/* A container as the cell wants it. */
typedef struct DesiredContainer {
        const ContainerSpec *spec;
        const char *spec_digest; /* digest of the effective spec but its resources (space defaults merged) */
        const char *resources_digest; /* digest of its resources; NULL: not compared */
        bool is_root;
        bool image_present; /* the image is in the realm's namespace, unpacked */
        RestartMemory restarts;
} DesiredContainer;

typedef struct CellPlanInput {
        ResourceId id;
        const CellSpec *spec; /* NULL: the cell is not desired (removed or its parent is gone) */
        const Metadata *metadata;
        const char *restarted_at_seen;      /* the restart annotation already acted on, or NULL */
        const DesiredContainer *containers; /* in spec order */
        size_t n_containers;
        const ObservedCell *observed;
        bool parent_ready; /* the stack (and above) is Ready */
        int64_t now;
} CellPlanInput;

/* ---- actions ---- */

typedef enum ActionType {
        ACTION_NAMESPACE_ENSURE,
        ACTION_NAMESPACE_DELETE,
        ACTION_CGROUP_ENSURE,
        ACTION_CGROUP_SET_LIMITS,
        ACTION_CGROUP_REMOVE,
        ACTION_SUBNET_ALLOCATE,
        ACTION_NETWORK_ENSURE, /* conflist, isolation rules */
        ACTION_NETWORK_REMOVE, /* bridge, isolation rules, conflist, IPAM state */
        ACTION_NETNS_CREATE,
        ACTION_NETNS_DELETE,
        ACTION_CNI_ADD,
        ACTION_CNI_DEL,
        ACTION_HOSTS_WRITE,
        ACTION_IMAGE_ENSURE,
        ACTION_CONTAINER_CREATE,
        ACTION_CONTAINER_DELETE, /* container record and its snapshot */
        ACTION_TASK_START,       /* create and start the task */
        ACTION_TASK_STOP,        /* SIGTERM, grace, SIGKILL */
        ACTION_TASK_DELETE,
        ACTION_WAKE_AT,          /* plan this resource again at `at` (restart back-off) */
        ACTION_FILES_REMOVE,     /* the daemon's own files of the resource (status, containers/, logs/) */
        ACTION_CONTAINER_UPDATE, /* a running container's limits changed in place */
        _ACTION_TYPE_MAX,
} ActionType;

typedef struct Action {
        ActionType type;
        ResourceId id;
        char container[NAME_MAX_LEN + 1]; /* container actions: the container's name in the cell */
        int64_t at;                       /* ACTION_WAKE_AT */
        int64_t grace_seconds;            /* ACTION_TASK_STOP */
        bool is_restart;                  /* ACTION_TASK_START after an exit */
} Action;

typedef struct Plan {
        Action *actions;
        size_t n;
        /* what the resource's status should say now */
        bool ack_restart; /* the restart annotation is acted on: record it as seen once this runs */
        State state;
        char reason[64];
        char message[256];
} Plan;

const char *action_type_to_string(ActionType t);
/* Whether an action changes what containerd holds (records, tasks, snapshots, images, namespaces); the
 * others act on the host only (cgroups, netns, CNI, files). */
bool action_touches_containerd(ActionType t);

/* ---- realms, spaces, stacks ---- */

typedef struct ObservedLevel {
        bool cgroup_exists;
        bool cgroup_limits_match;
        size_t n_children; /* child resources that still exist (desired or being torn down) */
        /* realm */
        bool namespace_exists;
        bool namespace_labels_match;
        /* space */
        bool subnet_recorded; /* the status records the space's subnet */
        bool network_current; /* conflist written as it should be, isolation rules in place */
        bool network_exists;  /* anything of the network is left: conflist, bridge, rules, IPAM state */
} ObservedLevel;

typedef struct LevelPlanInput {
        ResourceId id; /* a realm, space or stack */
        bool desired;  /* its manifest exists (and so do its ancestors') */
        bool parent_ready;
        const ObservedLevel *observed;
} LevelPlanInput;

/* Plans a realm, space or stack: bring-up (namespace / subnet and network / cgroup and limits), or
 * teardown once its children are gone. Returns 0 or -ENOMEM. */
int plan_level(const LevelPlanInput *in, Plan *ret);

/* Plans one cell. Returns 0 or -ENOMEM; ret is filled either way (free with plan_done). */
int plan_cell(const CellPlanInput *in, Plan *ret);
void plan_done(Plan *p);

/* ---- restart policy ---- */

typedef enum RestartDecision {
        RESTART_NO, /* the policy does not restart this exit */
        RESTART_NOW,
        RESTART_LATER,   /* *ret_at says when */
        RESTART_GIVE_UP, /* on-failure ran out of retries */
} RestartDecision;

/* Decides what an exited container's policy asks for. exit_status and exited_at describe the exit. */
RestartDecision restart_decide(const ContainerSpec *spec, const RestartMemory *mem, int32_t exit_status,
                               int64_t started_at, int64_t exited_at, int64_t now, int64_t *ret_at);
/* The back-off to remember after a restart at delay d: doubled, capped at RESTART_BACKOFF_CAP_SECONDS. */
int64_t restart_next_backoff(const ContainerSpec *spec, const RestartMemory *mem);
