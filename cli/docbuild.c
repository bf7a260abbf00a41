/* Building and editing documents in code: marking fields present along a path, the default manifests
 * of kuke init / create / implicit parents, annotations. */
#include <stdio.h>

#include "cli/cli.h"

void *field_path_mark(const Schema *s, void *obj, const char *path)
{
        char part[128];
        const char *p = path;
        for (;;) {
                size_t n = strcspn(p, ".");
                if (n == 0 || n >= sizeof(part))
                        return NULL;
                memcpy(part, p, n);
                part[n] = '\0';
                int i = schema_field_index(s, part);
                if (i < 0)
                        return NULL;
                field_mark_set(obj, (size_t)i);
                const Field *f = &s->fields[i];
                void *at = (char *)obj + f->offset;
                if (p[n] == '\0')
                        return at;
                if (f->type != FT_OBJECT)
                        return NULL;
                s = f->schema;
                obj = at;
                p += n + 1;
        }
}

void *doc_field(Document *d, const char *path)
{
        return field_path_mark(document_schema(d->kind), d, path);
}

int doc_set_string(Document *d, const char *path, const char *value)
{
        char **slot = doc_field(d, path);
        if (!slot)
                return -EINVAL;
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        free(*slot);
        *slot = v;
        return 0;
}

static int doc_map_set(Document *d, const char *path, const char *key, const char *value)
{
        StrMap *m = doc_field(d, path);
        if (!m)
                return -EINVAL;
        const char *old = strmap_get(m, key);
        if (streq_ptr(old, value))
                return 0;
        int r = strmap_set(m, key, value);
        return r < 0 ? r : 1;
}

int doc_set_annotation(Document *d, const char *key, const char *value)
{
        return doc_map_set(d, "metadata.annotations", key, value);
}

int doc_set_label(Document *d, const char *key, const char *value)
{
        return doc_map_set(d, "metadata.labels", key, value);
}

int doc_unset_annotation(Document *d, const char *key)
{
        int r = strmap_unset(&d->metadata.annotations, key);
        int i = schema_field_index(&metadata_schema, "annotations");
        if (r > 0 && d->metadata.annotations.n == 0 && i >= 0) /* no "annotations: {}" left behind */
                d->metadata.set &= ~((FieldSet)1 << i);
        return r;
}

static int doc_set_parent_ids(Document *d, const ResourceId *id)
{
        int depth = kind_depth(id->kind), r = 0;
        if (depth >= 1 && id->kind != KIND_CONTAINER)
                r = doc_set_string(d, "spec.realmId", id->realm);
        if (r >= 0 && depth >= 2 && id->kind != KIND_CONTAINER)
                r = doc_set_string(d, "spec.spaceId", id->space);
        if (r >= 0 && id->kind == KIND_CELL)
                r = doc_set_string(d, "spec.stackId", id->stack);
        return r;
}

int doc_new_default(const ResourceId *id, Document **ret)
{
        _cleanup_document_ Document *d = NULL;
        int r = document_new(id->kind, id->name, &d);
        if (r < 0)
                return r;
        r = doc_set_parent_ids(d, id);
        if (r < 0)
                return r;
        if (id->kind == KIND_REALM) {
                char ns[NAME_MAX_LEN + 16];
                snprintf(ns, sizeof(ns), "kukeon-%s", id->realm);
                r = doc_set_string(d, "spec.namespace", ns);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

void doc_drop_status(Document *d)
{
        const Schema *s = status_schema(d->kind);
        int i = schema_field_index(document_schema(d->kind), "status");
        if (s)
                schema_free_fields(s, &d->status);
        if (i >= 0)
                d->set &= ~((FieldSet)1 << i);
}

int doc_run_state(const Document *d)
{
        if (d->kind != KIND_CELL)
                return -1;
        if (!schema_has(spec_schema(KIND_CELL), &d->spec.cell, "runState"))
                return RUN_STATE_RUNNING;
        return d->spec.cell.run_state;
}
