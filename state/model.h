/* The v1beta1 model: plain data structs for every kind, their specs and their statuses.
 *
 * Every struct that the schema tables describe (state/schema.h) starts with a FieldSet: bit i is set when
 * field i of its table was present in the input (or filled in by defaults). Strings are owned, NUL
 * terminated, and NULL when absent. All of it is freed with document_free(). */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t FieldSet;

#define KUKEON_API_VERSION "v1beta1"
#define NAME_MAX_LEN       63

typedef struct StrList {
        char **items;
        size_t n;
} StrList;

typedef struct IntList {
        int64_t *items;
        size_t n;
} IntList;

typedef struct StrPair {
        char *key;
        char *value;
} StrPair;

/* A string map, kept sorted by key. */
typedef struct StrMap {
        StrPair *items;
        size_t n;
} StrMap;

typedef enum Kind {
        KIND_REALM,
        KIND_SPACE,
        KIND_STACK,
        KIND_CELL,
        KIND_CONTAINER,
        KIND_IMAGE,
        _KIND_MAX,
        _KIND_INVALID = -EINVAL,
} Kind;

/* Status states. One enum for every kind; each kind uses the subset reference/kukeon-reference.md
 * §1.4 gives it. */
typedef enum State {
        STATE_PENDING,
        STATE_CREATING,
        STATE_READY,
        STATE_DEGRADED,
        STATE_STOPPED,
        STATE_EXITED,
        STATE_ERROR,
        STATE_FAILED,
        STATE_DELETING,
        STATE_UNKNOWN,
        STATE_PAUSED,
        STATE_PAUSING,
        STATE_NOT_CREATED,
        _STATE_MAX,
} State;

typedef enum RestartPolicy {
        RESTART_NEVER,
        RESTART_ON_FAILURE,
        RESTART_ALWAYS,
        _RESTART_MAX,
} RestartPolicy;

typedef enum RunState {
        RUN_STATE_RUNNING,
        RUN_STATE_STOPPED,
        _RUN_STATE_MAX,
} RunState;

typedef enum VolumeKind {
        VOLUME_BIND,
        VOLUME_TMPFS,
        _VOLUME_KIND_MAX,
} VolumeKind;

typedef enum EgressDefault {
        EGRESS_ALLOW,
        EGRESS_DENY,
        _EGRESS_MAX,
} EgressDefault;

/* Annotations the CLI writes; the daemon acts on them. */
#define ANNOTATION_RESTARTED_AT "kukeon.io/restartedAt" /* RFC 3339; a new value restarts the cell */
#define ANNOTATION_KILL         "kukeon.io/kill"        /* "true": stop without a grace period */

typedef struct Metadata {
        FieldSet set;
        char *name;
        StrMap labels;
        StrMap annotations;
} Metadata;

/* Limits of a whole subtree (realm, space, stack, cell) or of one container. */
typedef struct Resources {
        FieldSet set;
        int64_t memory_limit_bytes;
        int64_t cpu_shares;
        int64_t cpu_quota_micros;
        int64_t cpu_period_micros;
        int64_t pids_limit;
} Resources;

typedef struct Capabilities {
        FieldSet set;
        StrList add;
        StrList drop;
} Capabilities;

typedef struct Volume {
        FieldSet set;
        int kind; /* VolumeKind */
        char *source;
        char *target;
        bool read_only;
        int64_t size_bytes;
        char *mode; /* octal, tmpfs only */
} Volume;

typedef struct ContainerSpec {
        FieldSet set;
        char *id;
        char *realm_id;
        char *space_id;
        char *stack_id;
        char *cell_id;
        char *containerd_id; /* daemon-written Container documents only */
        bool root;
        bool external;
        char *image;
        char *command;
        StrList args;
        char *working_dir;
        StrList env;
        char *user;
        Volume *volumes;
        size_t n_volumes;
        Resources resources;
        bool privileged;
        bool read_only_root_filesystem;
        Capabilities capabilities;
        bool host_network;
        int restart_policy; /* RestartPolicy */
        int64_t restart_backoff_seconds;
        int64_t restart_max_retries;
} ContainerSpec;

typedef struct RegistryCredential {
        FieldSet set;
        char *server_address;
        char *username;
        char *password;
} RegistryCredential;

typedef struct RealmSpec {
        FieldSet set;
        char *namespace;
        RegistryCredential *registry_credentials;
        size_t n_registry_credentials;
        Resources resources;
} RealmSpec;

typedef struct EgressRule {
        FieldSet set;
        char *host;
        char *cidr;
        IntList ports;
} EgressRule;

typedef struct Egress {
        FieldSet set;
        int default_action; /* EgressDefault */
        EgressRule *allow;
        size_t n_allow;
} Egress;

typedef struct SpaceNetwork {
        FieldSet set;
        char *subnet;
        Egress egress;
} SpaceNetwork;

typedef struct ContainerDefaults {
        FieldSet set;
        char *user;
        bool read_only_root_filesystem;
        Capabilities capabilities;
        Resources resources;
} ContainerDefaults;

typedef struct SpaceDefaults {
        FieldSet set;
        ContainerDefaults container;
} SpaceDefaults;

typedef struct SpaceSpec {
        FieldSet set;
        char *realm_id;
        SpaceNetwork network;
        char *cni_config_path;
        SpaceDefaults defaults;
        Resources resources;
} SpaceSpec;

typedef struct StackSpec {
        FieldSet set;
        char *id;
        char *realm_id;
        char *space_id;
        Resources resources;
} StackSpec;

typedef struct CellSpec {
        FieldSet set;
        char *id;
        char *realm_id;
        char *space_id;
        char *stack_id;
        char *root_container_id;
        ContainerSpec *containers;
        size_t n_containers;
        bool auto_delete;
        int run_state; /* RunState */
        int64_t stop_grace_period_seconds;
        Resources resources;
} CellSpec;

typedef struct ImageSpec {
        FieldSet set;
        char *realm_id;
        char *reference;
        char *source;
} ImageSpec;

typedef struct Usage {
        FieldSet set;
        int64_t memory_bytes;
        int64_t cpu_usage_nanos;
        int64_t pids;
} Usage;

typedef struct ContainerStatus {
        FieldSet set;
        char *name;
        char *containerd_id;
        int state; /* State */
        int64_t pid;
        char *image_digest;
        int64_t restart_count;
        int64_t restart_time;
        int64_t start_time;
        int64_t finish_time;
        int64_t exit_code;
        char *exit_signal;
        char *reason;
        char *message;
} ContainerStatus;

typedef struct Progress {
        FieldSet set;
        int64_t bytes_done;
        int64_t bytes_total;
} Progress;

/* One status struct for every kind; each kind fills its own fields (see the schema tables). */
typedef struct Status {
        FieldSet set;
        char *observed_digest;
        int state; /* State */
        char *reason;
        char *message;
        int64_t created_at;
        int64_t updated_at;
        int64_t ready_at;
        char *cgroup_path;
        char *namespace;             /* realm */
        char *network;               /* space: CNI network name */
        char *bridge;                /* space */
        char *subnet;                /* space */
        char *gateway;               /* space */
        char *cni_config_path;       /* space */
        char *netns;                 /* cell */
        char *ip;                    /* cell */
        char *root_container_id;     /* cell */
        char *restarted_at;          /* cell: the restart annotation last acted on */
        ContainerStatus *containers; /* cell */
        size_t n_containers;
        char *containerd_id;   /* container */
        int64_t pid;           /* container */
        char *image_digest;    /* container */
        int64_t restart_count; /* container */
        int64_t restart_time;  /* container */
        int64_t start_time;    /* container */
        int64_t finish_time;   /* container */
        int64_t exit_code;     /* container */
        char *exit_signal;     /* container */
        char *digest;          /* image */
        int64_t size_bytes;    /* image */
        Progress progress;     /* image */
        Usage usage;
} Status;

/* A whole document of any kind: a manifest, a status file, or the combined view. */
typedef struct Document {
        FieldSet set;
        char *api_version;
        char *kind_name;
        Metadata metadata;
        union {
                RealmSpec realm;
                SpaceSpec space;
                StackSpec stack;
                CellSpec cell;
                ContainerSpec container;
                ImageSpec image;
        } spec;
        Status status;
        Kind kind;
} Document;

/* Enum tables: x_to_string() returns NULL for out-of-range values; x_from_string() returns the value or
 * -EINVAL. */
const char *kind_to_string(Kind k);
Kind kind_from_string(const char *s);
/* "realm", "space", ... as used on the command line and in file names. */
const char *kind_to_noun(Kind k);
Kind kind_from_noun(const char *s); /* accepts singular, plural and the short aliases */
const char *state_to_string(State s);
State state_from_string(const char *s);
const char *restart_policy_to_string(RestartPolicy p);
const char *run_state_to_string(RunState s);

/* Frees everything a Document owns, and the Document. Accepts NULL; returns NULL. */
Document *document_free(Document *d);
