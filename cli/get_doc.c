/* The combined document kuke get -o yaml|json shows: the manifest with the status kukeond wrote (or
 * {state: Pending}), and for containers a Container document built from the cell. */
#include <stdio.h>

#include "cli/cli.h"

static int status_mark(Document *d, const char *field)
{
        char path[64];
        snprintf(path, sizeof(path), "status.%s", field);
        return doc_field(d, path) ? 0 : -EINVAL;
}

static int status_set_state(Document *d, State state)
{
        d->status.state = state;
        return status_mark(d, "state");
}

/* Replaces d's status with a copy of st. */
static int status_copy(Document *d, const Status *st)
{
        const Schema *s = status_schema(d->kind);
        schema_free_fields(s, &d->status);
        int r = schema_copy(s, &d->status, st);
        if (r < 0)
                return r;
        return doc_field(d, "status") ? 0 : -EINVAL;
}

/* A document for a manifest that did not decode or validate: its name, and status Failed with why. */
static int invalid_document(const TreeEntry *e, Document **ret)
{
        _cleanup_document_ Document *d = NULL;
        _cleanup_free_ char *msg = diag_format(&e->error);
        int r = document_new(e->id.kind, e->id.name, &d);
        if (r >= 0)
                r = status_set_state(d, STATE_FAILED);
        if (r >= 0)
                r = doc_set_string(d, "status.reason", "InvalidManifest");
        if (r >= 0 && msg)
                r = doc_set_string(d, "status.message", msg);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static int copy_string(Document *d, const char *field, const char *v)
{
        char path[64];
        if (!v)
                return 0;
        snprintf(path, sizeof(path), "status.%s", field);
        return doc_set_string(d, path, v);
}

static int copy_int(Document *d, const char *field, int64_t *dst, int64_t v, bool is_set)
{
        if (!is_set)
                return 0;
        *dst = v;
        return status_mark(d, field);
}

/* The cell status' entry for a container, as the status of a Container document. */
static int container_status_from_cell(Document *d, const ContainerStatus *cs)
{
        const Schema *s = &container_status_schema;
        Status *st = &d->status;
        int r = status_set_state(d, cs->state);
        r = r < 0 ? r : copy_string(d, "containerdId", cs->containerd_id);
        r = r < 0 ? r : copy_string(d, "imageDigest", cs->image_digest);
        r = r < 0 ? r : copy_string(d, "exitSignal", cs->exit_signal);
        r = r < 0 ? r : copy_string(d, "reason", cs->reason);
        r = r < 0 ? r : copy_string(d, "message", cs->message);
        r = r < 0 ? r : copy_int(d, "pid", &st->pid, cs->pid, schema_has(s, cs, "pid"));
        r = r < 0 ? r
                  : copy_int(d, "restartCount", &st->restart_count, cs->restart_count,
                             schema_has(s, cs, "restartCount"));
        r = r < 0 ? r
                  : copy_int(d, "restartTime", &st->restart_time, cs->restart_time,
                             schema_has(s, cs, "restartTime"));
        r = r < 0 ? r
                  : copy_int(d, "startTime", &st->start_time, cs->start_time,
                             schema_has(s, cs, "startTime"));
        r = r < 0 ? r
                  : copy_int(d, "finishTime", &st->finish_time, cs->finish_time,
                             schema_has(s, cs, "finishTime"));
        r = r < 0 ? r
                  : copy_int(d, "exitCode", &st->exit_code, cs->exit_code, schema_has(s, cs, "exitCode"));
        return r;
}

/* The status of a container: kukeond's containers/<c>.yaml, else the cell status' entry, else Pending. */
static int container_status(const Tree *t, const GetItem *it, const TreeEntry *ce, Document *d)
{
        if (ce && ce->status)
                return status_copy(d, &ce->status->status);
        if (ce && ce->spec && schema_has(document_schema(KIND_CONTAINER), ce->spec, "status"))
                return status_copy(d, &ce->spec->status);
        const TreeEntry *cell = &t->entries[it->entry];
        const Status *cst = cell->status ? &cell->status->status : NULL;
        for (size_t i = 0; cst && i < cst->n_containers; i++)
                if (streq_ptr(cst->containers[i].name, it->id.name))
                        return container_status_from_cell(d, &cst->containers[i]);
        return status_set_state(d, STATE_PENDING);
}

/* kukeond's effective container spec when it wrote one, else the container of the cell's spec. */
static int container_document(const Tree *t, const GetItem *it, Document **ret)
{
        const TreeEntry *ce = tree_find_container(t, it);
        _cleanup_document_ Document *d = NULL;
        int r;
        if (ce && ce->spec && schema_has(document_schema(KIND_CONTAINER), ce->spec, "spec")) {
                r = document_copy(ce->spec, &d);
        } else {
                const TreeEntry *cell = &t->entries[it->entry];
                const ContainerSpec *spec = &cell->spec->spec.cell.containers[it->container];
                r = document_new(KIND_CONTAINER, it->id.name, &d);
                if (r < 0)
                        return r;
                schema_free_fields(&container_spec_schema, &d->spec.container);
                r = schema_copy(&container_spec_schema, &d->spec.container, spec);
                const char *ids[][2] = {{"spec.realmId", it->id.realm},
                                        {"spec.spaceId", it->id.space},
                                        {"spec.stackId", it->id.stack},
                                        {"spec.cellId", it->id.cell}};
                for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(ids); i++)
                        r = doc_set_string(d, ids[i][0], ids[i][1]);
        }
        if (r >= 0)
                r = container_status(t, it, ce, d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

int get_item_document(const Tree *t, const GetItem *it, Document **ret)
{
        const TreeEntry *e = &t->entries[it->entry];
        _cleanup_document_ Document *d = NULL;
        if (it->id.kind == KIND_CONTAINER)
                return container_document(t, it, ret);
        if (!e->spec)
                return invalid_document(e, ret);
        int r = document_copy(e->spec, &d);
        if (r < 0)
                return r;
        if (e->status)
                r = status_copy(d, &e->status->status);
        else {
                doc_drop_status(d);
                r = status_set_state(d, STATE_PENDING);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}
