#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "common/macro.h"
#include "state/schema.h"

/* ---- enum tables ---- */

static const char *const kind_names[_KIND_MAX + 1] = {
        [KIND_REALM] = "Realm", [KIND_SPACE] = "Space",         [KIND_STACK] = "Stack",
        [KIND_CELL] = "Cell",   [KIND_CONTAINER] = "Container", [KIND_IMAGE] = "Image",
};
static const char *const kind_nouns[_KIND_MAX] = {
        [KIND_REALM] = "realm", [KIND_SPACE] = "space",         [KIND_STACK] = "stack",
        [KIND_CELL] = "cell",   [KIND_CONTAINER] = "container", [KIND_IMAGE] = "image",
};
static const char *const state_names[_STATE_MAX + 1] = {
        [STATE_PENDING] = "Pending",
        [STATE_CREATING] = "Creating",
        [STATE_READY] = "Ready",
        [STATE_DEGRADED] = "Degraded",
        [STATE_STOPPED] = "Stopped",
        [STATE_EXITED] = "Exited",
        [STATE_ERROR] = "Error",
        [STATE_FAILED] = "Failed",
        [STATE_DELETING] = "Deleting",
        [STATE_UNKNOWN] = "Unknown",
        [STATE_PAUSED] = "Paused",
        [STATE_PAUSING] = "Pausing",
        [STATE_NOT_CREATED] = "NotCreated",
};
static const char *const restart_policy_names[_RESTART_MAX + 1] = {
        [RESTART_NEVER] = "never", [RESTART_ON_FAILURE] = "on-failure", [RESTART_ALWAYS] = "always"};
static const char *const run_state_names[_RUN_STATE_MAX + 1] = {
        [RUN_STATE_RUNNING] = "Running", [RUN_STATE_STOPPED] = "Stopped"};
static const char *const volume_kind_names[_VOLUME_KIND_MAX + 1] = {
        [VOLUME_BIND] = "bind", [VOLUME_TMPFS] = "tmpfs"};
static const char *const egress_names[_EGRESS_MAX + 1] = {[EGRESS_ALLOW] = "allow", [EGRESS_DENY] = "deny"};

const char *kind_to_string(Kind k)
{
        return k >= 0 && k < _KIND_MAX ? kind_names[k] : NULL;
}

Kind kind_from_string(const char *s)
{
        for (int k = 0; k < _KIND_MAX; k++)
                if (streq(kind_names[k], s))
                        return (Kind)k;
        return _KIND_INVALID;
}

const char *kind_to_noun(Kind k)
{
        return k >= 0 && k < _KIND_MAX ? kind_nouns[k] : NULL;
}

Kind kind_from_noun(const char *s)
{
        static const struct {
                const char *alias;
                Kind kind;
        } aliases[] = {
                {"realms", KIND_REALM}, {"r", KIND_REALM},      {"spaces", KIND_SPACE},
                {"sp", KIND_SPACE},     {"stacks", KIND_STACK}, {"st", KIND_STACK},
                {"cells", KIND_CELL},   {"ce", KIND_CELL},      {"containers", KIND_CONTAINER},
                {"co", KIND_CONTAINER}, {"images", KIND_IMAGE}, {"img", KIND_IMAGE},
        };
        for (int k = 0; k < _KIND_MAX; k++)
                if (strcasecmp(kind_nouns[k], s) == 0)
                        return (Kind)k;
        for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
                if (strcasecmp(aliases[i].alias, s) == 0)
                        return aliases[i].kind;
        return _KIND_INVALID;
}

const char *state_to_string(State s)
{
        return s >= 0 && s < _STATE_MAX ? state_names[s] : NULL;
}

State state_from_string(const char *s)
{
        for (int i = 0; i < _STATE_MAX; i++)
                if (streq(state_names[i], s))
                        return (State)i;
        return -EINVAL;
}

const char *restart_policy_to_string(RestartPolicy p)
{
        return p >= 0 && p < _RESTART_MAX ? restart_policy_names[p] : NULL;
}

const char *run_state_to_string(RunState s)
{
        return s >= 0 && s < _RUN_STATE_MAX ? run_state_names[s] : NULL;
}

/* ---- field tables ---- */

#define F_STR(n, T, m)                                                                                      \
        {                                                                                                   \
                .name = n, .type = FT_STRING, .offset = offsetof(T, m)                                      \
        }
#define F_SECRET(n, T, m)                                                                                   \
        {                                                                                                   \
                .name = n, .type = FT_STRING, .offset = offsetof(T, m), .flags = FIELD_SECRET               \
        }
#define F_STR_DEF(n, T, m)                                                                                  \
        {                                                                                                   \
                .name = n, .type = FT_STRING, .offset = offsetof(T, m), .has_default = true                 \
        }
#define F_BOOL(n, T, m)                                                                                     \
        {                                                                                                   \
                .name = n, .type = FT_BOOL, .offset = offsetof(T, m), .has_default = true                   \
        }
#define F_INT(n, T, m, lo, hi)                                                                              \
        {                                                                                                   \
                .name = n, .type = FT_INT, .offset = offsetof(T, m), .min = lo, .max = hi                   \
        }
#define F_INT_DEF(n, T, m, lo, hi, d)                                                                       \
        {                                                                                                   \
                .name = n, .type = FT_INT, .offset = offsetof(T, m), .min = lo, .max = hi,                  \
                .has_default = true, .def_int = d                                                           \
        }
#define F_ENUM(n, T, m, tbl, d)                                                                             \
        {                                                                                                   \
                .name = n, .type = FT_ENUM, .offset = offsetof(T, m), .names = tbl, .has_default = true,    \
                .def_int = d                                                                                \
        }
#define F_STATE(n, T, m)                                                                                    \
        {                                                                                                   \
                .name = n, .type = FT_ENUM, .offset = offsetof(T, m), .names = state_names                  \
        }
#define F_TIME(n, T, m)                                                                                     \
        {                                                                                                   \
                .name = n, .type = FT_TIME, .offset = offsetof(T, m)                                        \
        }
#define F_STRLIST(n, T, m)                                                                                  \
        {                                                                                                   \
                .name = n, .type = FT_STRLIST, .offset = offsetof(T, m)                                     \
        }
#define F_INTLIST(n, T, m, lo, hi)                                                                          \
        {                                                                                                   \
                .name = n, .type = FT_INTLIST, .offset = offsetof(T, m), .min = lo, .max = hi               \
        }
#define F_STRMAP(n, T, m)                                                                                   \
        {                                                                                                   \
                .name = n, .type = FT_STRMAP, .offset = offsetof(T, m)                                      \
        }
#define F_OBJ(n, T, m, s)                                                                                   \
        {                                                                                                   \
                .name = n, .type = FT_OBJECT, .offset = offsetof(T, m), .schema = &s                        \
        }
#define F_OBJLIST(n, T, m, c, s)                                                                            \
        {                                                                                                   \
                .name = n, .type = FT_OBJLIST, .offset = offsetof(T, m), .count_offset = offsetof(T, c),    \
                .schema = &s                                                                                \
        }
#define SCHEMA(var, T, tbl) const Schema var = {#T, sizeof(T), tbl, ARRAY_SIZE(tbl)}

#define F_ANYINT(n, T, m) F_INT(n, T, m, INT64_MIN, INT64_MAX)

static const Field metadata_fields[] = {
        F_STR("name", Metadata, name),
        F_STRMAP("labels", Metadata, labels),
        F_STRMAP("annotations", Metadata, annotations),
};
SCHEMA(metadata_schema, Metadata, metadata_fields);

static const Field resources_fields[] = {
        F_INT("memoryLimitBytes", Resources, memory_limit_bytes, 1 << 20, INT64_MAX),
        F_INT("cpuShares", Resources, cpu_shares, 2, 262144),
        F_INT("cpuQuotaMicros", Resources, cpu_quota_micros, 1000, 1000000000000LL),
        F_INT("cpuPeriodMicros", Resources, cpu_period_micros, 1000, 1000000),
        F_INT("pidsLimit", Resources, pids_limit, 1, 4194304),
};
SCHEMA(resources_schema, Resources, resources_fields);

static const Field capabilities_fields[] = {
        F_STRLIST("add", Capabilities, add),
        F_STRLIST("drop", Capabilities, drop),
};
static SCHEMA(capabilities_schema, Capabilities, capabilities_fields);

static const Field volume_fields[] = {
        F_ENUM("kind", Volume, kind, volume_kind_names, VOLUME_BIND),
        F_STR("source", Volume, source),
        F_STR("target", Volume, target),
        F_BOOL("readOnly", Volume, read_only),
        F_INT("sizeBytes", Volume, size_bytes, 4096, INT64_MAX),
        F_STR("mode", Volume, mode),
};
static SCHEMA(volume_schema, Volume, volume_fields);

static const Field container_spec_fields[] = {
        F_STR("id", ContainerSpec, id),
        F_STR_DEF("realmId", ContainerSpec, realm_id),
        F_STR_DEF("spaceId", ContainerSpec, space_id),
        F_STR_DEF("stackId", ContainerSpec, stack_id),
        F_STR_DEF("cellId", ContainerSpec, cell_id),
        F_STR("containerdId", ContainerSpec, containerd_id),
        F_BOOL("root", ContainerSpec, root),
        F_BOOL("external", ContainerSpec, external),
        F_STR("image", ContainerSpec, image),
        F_STR("command", ContainerSpec, command),
        F_STRLIST("args", ContainerSpec, args),
        F_STR("workingDir", ContainerSpec, working_dir),
        F_STRLIST("env", ContainerSpec, env),
        F_STR("user", ContainerSpec, user),
        F_OBJLIST("volumes", ContainerSpec, volumes, n_volumes, volume_schema),
        F_OBJ("resources", ContainerSpec, resources, resources_schema),
        F_BOOL("privileged", ContainerSpec, privileged),
        F_BOOL("readOnlyRootFilesystem", ContainerSpec, read_only_root_filesystem),
        F_OBJ("capabilities", ContainerSpec, capabilities, capabilities_schema),
        F_BOOL("hostNetwork", ContainerSpec, host_network),
        F_ENUM("restartPolicy", ContainerSpec, restart_policy, restart_policy_names, RESTART_NEVER),
        F_INT_DEF("restartBackoffSeconds", ContainerSpec, restart_backoff_seconds, 0, 86400, 1),
        F_INT_DEF("restartMaxRetries", ContainerSpec, restart_max_retries, 1, 1000000, 5),
};
SCHEMA(container_spec_schema, ContainerSpec, container_spec_fields);

static const Field registry_credential_fields[] = {
        F_STR("serverAddress", RegistryCredential, server_address),
        F_STR("username", RegistryCredential, username),
        F_SECRET("password", RegistryCredential, password),
};
static SCHEMA(registry_credential_schema, RegistryCredential, registry_credential_fields);

static const Field realm_spec_fields[] = {
        F_STR_DEF("namespace", RealmSpec, namespace),
        F_OBJLIST("registryCredentials", RealmSpec, registry_credentials, n_registry_credentials,
                  registry_credential_schema),
        F_OBJ("resources", RealmSpec, resources, resources_schema),
};
static SCHEMA(realm_spec_schema, RealmSpec, realm_spec_fields);

static const Field egress_rule_fields[] = {
        F_STR("host", EgressRule, host),
        F_STR("cidr", EgressRule, cidr),
        F_INTLIST("ports", EgressRule, ports, 1, 65535),
};
static SCHEMA(egress_rule_schema, EgressRule, egress_rule_fields);

static const Field egress_fields[] = {
        F_ENUM("default", Egress, default_action, egress_names, EGRESS_ALLOW),
        F_OBJLIST("allow", Egress, allow, n_allow, egress_rule_schema),
};
static SCHEMA(egress_schema, Egress, egress_fields);

static const Field space_network_fields[] = {
        F_STR("subnet", SpaceNetwork, subnet),
        F_OBJ("egress", SpaceNetwork, egress, egress_schema),
};
static SCHEMA(space_network_schema, SpaceNetwork, space_network_fields);

static const Field container_defaults_fields[] = {
        F_STR("user", ContainerDefaults, user),
        {.name = "readOnlyRootFilesystem",
         .type = FT_BOOL,
         .offset = offsetof(ContainerDefaults, read_only_root_filesystem)},
        F_OBJ("capabilities", ContainerDefaults, capabilities, capabilities_schema),
        F_OBJ("resources", ContainerDefaults, resources, resources_schema),
};
static SCHEMA(container_defaults_schema, ContainerDefaults, container_defaults_fields);

static const Field space_defaults_fields[] = {
        F_OBJ("container", SpaceDefaults, container, container_defaults_schema),
};
static SCHEMA(space_defaults_schema, SpaceDefaults, space_defaults_fields);

static const Field space_spec_fields[] = {
        F_STR_DEF("realmId", SpaceSpec, realm_id),
        F_OBJ("network", SpaceSpec, network, space_network_schema),
        F_STR("cniConfigPath", SpaceSpec, cni_config_path),
        F_OBJ("defaults", SpaceSpec, defaults, space_defaults_schema),
        F_OBJ("resources", SpaceSpec, resources, resources_schema),
};
static SCHEMA(space_spec_schema, SpaceSpec, space_spec_fields);

static const Field stack_spec_fields[] = {
        F_STR_DEF("id", StackSpec, id),
        F_STR_DEF("realmId", StackSpec, realm_id),
        F_STR_DEF("spaceId", StackSpec, space_id),
        F_OBJ("resources", StackSpec, resources, resources_schema),
};
static SCHEMA(stack_spec_schema, StackSpec, stack_spec_fields);

static const Field cell_spec_fields[] = {
        F_STR_DEF("id", CellSpec, id),
        F_STR_DEF("realmId", CellSpec, realm_id),
        F_STR_DEF("spaceId", CellSpec, space_id),
        F_STR_DEF("stackId", CellSpec, stack_id),
        F_STR_DEF("rootContainerId", CellSpec, root_container_id),
        F_OBJLIST("containers", CellSpec, containers, n_containers, container_spec_schema),
        F_BOOL("autoDelete", CellSpec, auto_delete),
        F_ENUM("runState", CellSpec, run_state, run_state_names, RUN_STATE_RUNNING),
        F_INT_DEF("stopGracePeriodSeconds", CellSpec, stop_grace_period_seconds, 0, 3600, 10),
        F_OBJ("resources", CellSpec, resources, resources_schema),
};
static SCHEMA(cell_spec_schema, CellSpec, cell_spec_fields);

static const Field image_spec_fields[] = {
        F_STR_DEF("realmId", ImageSpec, realm_id),
        F_STR("reference", ImageSpec, reference),
        F_STR("source", ImageSpec, source),
};
static SCHEMA(image_spec_schema, ImageSpec, image_spec_fields);

/* ---- statuses ---- */

static const Field usage_fields[] = {
        F_ANYINT("memoryBytes", Usage, memory_bytes),
        F_ANYINT("cpuUsageNanos", Usage, cpu_usage_nanos),
        F_ANYINT("pids", Usage, pids),
};
static SCHEMA(usage_schema, Usage, usage_fields);

static const Field progress_fields[] = {
        F_ANYINT("bytesDone", Progress, bytes_done),
        F_ANYINT("bytesTotal", Progress, bytes_total),
};
static SCHEMA(progress_schema, Progress, progress_fields);

static const Field container_status_fields[] = {
        F_STR("name", ContainerStatus, name),
        F_STR("containerdId", ContainerStatus, containerd_id),
        F_STATE("state", ContainerStatus, state),
        F_ANYINT("pid", ContainerStatus, pid),
        F_STR("imageDigest", ContainerStatus, image_digest),
        F_ANYINT("restartCount", ContainerStatus, restart_count),
        F_TIME("restartTime", ContainerStatus, restart_time),
        F_TIME("startTime", ContainerStatus, start_time),
        F_TIME("finishTime", ContainerStatus, finish_time),
        F_ANYINT("exitCode", ContainerStatus, exit_code),
        F_STR("exitSignal", ContainerStatus, exit_signal),
        F_STR("reason", ContainerStatus, reason),
        F_STR("message", ContainerStatus, message),
};
SCHEMA(container_status_schema, ContainerStatus, container_status_fields);

#define STATUS_COMMON                                                                                       \
        F_STR("observedDigest", Status, observed_digest), F_STATE("state", Status, state),                  \
                F_STR("reason", Status, reason), F_STR("message", Status, message),                         \
                F_TIME("createdAt", Status, created_at), F_TIME("updatedAt", Status, updated_at),           \
                F_TIME("readyAt", Status, ready_at)

static const Field realm_status_fields[] = {
        STATUS_COMMON,
        F_STR("namespace", Status, namespace),
        F_STR("cgroupPath", Status, cgroup_path),
        F_OBJ("usage", Status, usage, usage_schema),
};
static SCHEMA(realm_status_schema, Status, realm_status_fields);

static const Field space_status_fields[] = {
        STATUS_COMMON,
        F_STR("network", Status, network),
        F_STR("bridge", Status, bridge),
        F_STR("subnet", Status, subnet),
        F_STR("gateway", Status, gateway),
        F_STR("cniConfigPath", Status, cni_config_path),
        F_STR("cgroupPath", Status, cgroup_path),
        F_OBJ("usage", Status, usage, usage_schema),
};
static SCHEMA(space_status_schema, Status, space_status_fields);

static const Field stack_status_fields[] = {
        STATUS_COMMON,
        F_STR("cgroupPath", Status, cgroup_path),
        F_OBJ("usage", Status, usage, usage_schema),
};
static SCHEMA(stack_status_schema, Status, stack_status_fields);

static const Field cell_status_fields[] = {
        STATUS_COMMON,
        F_STR("cgroupPath", Status, cgroup_path),
        F_STR("netns", Status, netns),
        F_STR("ip", Status, ip),
        F_STR("rootContainerId", Status, root_container_id),
        F_STR("restartedAt", Status, restarted_at),
        F_OBJLIST("containers", Status, containers, n_containers, container_status_schema),
        F_OBJ("usage", Status, usage, usage_schema),
};
static SCHEMA(cell_status_schema, Status, cell_status_fields);

static const Field container_doc_status_fields[] = {
        STATUS_COMMON,
        F_STR("containerdId", Status, containerd_id),
        F_STR("cgroupPath", Status, cgroup_path),
        F_ANYINT("pid", Status, pid),
        F_STR("imageDigest", Status, image_digest),
        F_ANYINT("restartCount", Status, restart_count),
        F_TIME("restartTime", Status, restart_time),
        F_TIME("startTime", Status, start_time),
        F_TIME("finishTime", Status, finish_time),
        F_ANYINT("exitCode", Status, exit_code),
        F_STR("exitSignal", Status, exit_signal),
};
static SCHEMA(container_doc_status_schema, Status, container_doc_status_fields);

static const Field image_status_fields[] = {
        STATUS_COMMON,
        F_STR("digest", Status, digest),
        F_ANYINT("sizeBytes", Status, size_bytes),
        F_OBJ("progress", Status, progress, progress_schema),
};
static SCHEMA(image_status_schema, Status, image_status_fields);

/* ---- documents ---- */

#define DOCUMENT_FIELDS(spec_s, status_s)                                                                   \
        {                                                                                                   \
                F_STR("apiVersion", Document, api_version), F_STR("kind", Document, kind_name),             \
                        F_OBJ("metadata", Document, metadata, metadata_schema),                             \
                        F_OBJ("spec", Document, spec, spec_s), F_OBJ("status", Document, status, status_s), \
        }

static const Field realm_doc_fields[] = DOCUMENT_FIELDS(realm_spec_schema, realm_status_schema);
static const Field space_doc_fields[] = DOCUMENT_FIELDS(space_spec_schema, space_status_schema);
static const Field stack_doc_fields[] = DOCUMENT_FIELDS(stack_spec_schema, stack_status_schema);
static const Field cell_doc_fields[] = DOCUMENT_FIELDS(cell_spec_schema, cell_status_schema);
static const Field container_doc_fields[] =
        DOCUMENT_FIELDS(container_spec_schema, container_doc_status_schema);
static const Field image_doc_fields[] = DOCUMENT_FIELDS(image_spec_schema, image_status_schema);

static SCHEMA(realm_doc_schema, Document, realm_doc_fields);
static SCHEMA(space_doc_schema, Document, space_doc_fields);
static SCHEMA(stack_doc_schema, Document, stack_doc_fields);
static SCHEMA(cell_doc_schema, Document, cell_doc_fields);
static SCHEMA(container_doc_schema, Document, container_doc_fields);
static SCHEMA(image_doc_schema, Document, image_doc_fields);

static const Schema *const doc_schemas[_KIND_MAX] = {
        [KIND_REALM] = &realm_doc_schema,         [KIND_SPACE] = &space_doc_schema,
        [KIND_STACK] = &stack_doc_schema,         [KIND_CELL] = &cell_doc_schema,
        [KIND_CONTAINER] = &container_doc_schema, [KIND_IMAGE] = &image_doc_schema,
};

const Schema *document_schema(Kind kind)
{
        return kind >= 0 && kind < _KIND_MAX ? doc_schemas[kind] : NULL;
}

const Schema *spec_schema(Kind kind)
{
        const Schema *d = document_schema(kind);
        return d ? d->fields[3].schema : NULL;
}

const Schema *status_schema(Kind kind)
{
        const Schema *d = document_schema(kind);
        return d ? d->fields[4].schema : NULL;
}

Document *document_free(Document *d)
{
        if (!d)
                return NULL;
        const Schema *s = document_schema(d->kind);
        if (s)
                schema_free_fields(s, d);
        free(d);
        return NULL;
}
