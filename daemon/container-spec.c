/* A container's effective spec (the space's container defaults filled in where the container says
 * nothing) and its digest, the label kukeon.io/spec-digest that decides whether a record is current. */
#include <stdlib.h>

#include "common/sha256.h"
#include "daemon/daemon.h"
#include "state/schema.h"

static bool has(const void *obj, const Schema *s, const char *field)
{
        return schema_has(s, obj, field);
}

static void mark(void *obj, const Schema *s, const char *field)
{
        int i = schema_field_index(s, field);
        if (i >= 0)
                field_mark_set(obj, (size_t)i);
}

static int merge_resources(Resources *dst, const Resources *def)
{
        static const char *const names[] = {"memoryLimitBytes", "cpuShares", "cpuQuotaMicros",
                                            "cpuPeriodMicros", "pidsLimit"};
        int64_t *dst_v[] = {&dst->memory_limit_bytes, &dst->cpu_shares, &dst->cpu_quota_micros,
                            &dst->cpu_period_micros, &dst->pids_limit};
        const int64_t def_v[] = {def->memory_limit_bytes, def->cpu_shares, def->cpu_quota_micros,
                                 def->cpu_period_micros, def->pids_limit};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!has(dst, &resources_schema, names[i]) && has(def, &resources_schema, names[i])) {
                        *dst_v[i] = def_v[i];
                        mark(dst, &resources_schema, names[i]);
                }
        return 0;
}

int container_effective(const ContainerSpec *c, const SpaceSpec *space, ContainerSpec *ret)
{
        const Schema *cs = &container_spec_schema;
        int r = schema_copy(cs, ret, c);
        if (r < 0)
                return r;
        const ContainerDefaults *def = space ? &space->defaults.container : NULL;
        if (!def || c->external)
                return 0;
        if (!has(ret, cs, "user") && def->user) {
                if (!(ret->user = strdup(def->user))) {
                        schema_free_fields(cs, ret);
                        return -ENOMEM;
                }
                mark(ret, cs, "user");
        }
        if (!has(ret, cs, "readOnlyRootFilesystem") && def->read_only_root_filesystem) {
                ret->read_only_root_filesystem = true;
                mark(ret, cs, "readOnlyRootFilesystem");
        }
        if (!has(ret, cs, "capabilities") && (def->capabilities.add.n || def->capabilities.drop.n)) {
                for (size_t i = 0; r >= 0 && i < def->capabilities.add.n; i++)
                        r = strlist_push(&ret->capabilities.add, def->capabilities.add.items[i]);
                for (size_t i = 0; r >= 0 && i < def->capabilities.drop.n; i++)
                        r = strlist_push(&ret->capabilities.drop, def->capabilities.drop.items[i]);
                if (r < 0) {
                        schema_free_fields(cs, ret);
                        return r;
                }
                /* Capabilities' fields in table order: add, drop */
                if (ret->capabilities.add.n)
                        field_mark_set(&ret->capabilities, 0);
                if (ret->capabilities.drop.n)
                        field_mark_set(&ret->capabilities, 1);
                mark(ret, cs, "capabilities");
        }
        merge_resources(&ret->resources, &def->resources);
        if (ret->resources.set)
                mark(ret, cs, "resources");
        return 0;
}

static int json_digest(json_t *j, char ret[static 72])
{
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!text)
                return -ENOMEM;
        int r = sha256_digest_string(text, strlen(text), ret);
        free(text);
        return r;
}

int container_spec_digest(const ContainerSpec *c, char ret[static 72])
{
        json_t *j = schema_to_json(&container_spec_schema, c, SCHEMA_JSON_CANONICAL);
        /* limits are not part of it: they change in place (container_resources_digest()) */
        if (j)
                json_object_del(j, "resources");
        return json_digest(j, ret);
}

int container_resources_digest(const ContainerSpec *c, char ret[static 72])
{
        return json_digest(schema_to_json(&resources_schema, &c->resources, SCHEMA_JSON_CANONICAL), ret);
}
