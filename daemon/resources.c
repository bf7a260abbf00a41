/* The daemon's table of resources: every one the tree names and every one that may still exist on the
 * host, keyed by ResourceId. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "state/schema.h"

#define TABLE_INITIAL_BUCKETS 256

bool resource_id_equal(const ResourceId *a, const ResourceId *b)
{
        return a->kind == b->kind && streq(a->realm, b->realm) && streq(a->space, b->space) &&
               streq(a->stack, b->stack) && streq(a->cell, b->cell) && streq(a->name, b->name);
}

static uint64_t hash_str(uint64_t h, const char *s)
{
        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ull;
        return (h ^ '/') * 1099511628211ull;
}

static size_t id_hash(const ResourceId *id, size_t n_buckets)
{
        uint64_t h = 14695981039346656037ull ^ (uint64_t)id->kind;
        h = hash_str(hash_str(hash_str(hash_str(hash_str(h, id->realm), id->space), id->stack), id->cell),
                     id->name);
        return (size_t)(h % n_buckets);
}

int resource_table_init(ResourceTable *t)
{
        *t = (ResourceTable){.buckets = calloc(TABLE_INITIAL_BUCKETS, sizeof(Resource *)),
                             .n_buckets = TABLE_INITIAL_BUCKETS};
        return t->buckets ? 0 : -ENOMEM;
}

static void resource_free(Resource *r)
{
        cell_carry_free(r->carry);
        document_free(r->spec);
        document_free(r->status);
        free(r->error);
        recorded_done(&r->rec);
        free(r);
}

void resource_table_done(ResourceTable *t)
{
        for (size_t b = 0; b < t->n_buckets; b++)
                for (Resource *r = t->buckets ? t->buckets[b] : NULL, *next; r; r = next) {
                        next = r->hash_next;
                        resource_free(r);
                }
        free(t->buckets);
        *t = (ResourceTable){0};
}

Resource *resource_find(const ResourceTable *t, const ResourceId *id)
{
        for (Resource *r = t->buckets[id_hash(id, t->n_buckets)]; r; r = r->hash_next)
                if (resource_id_equal(&r->id, id))
                        return r;
        return NULL;
}

static void table_grow(ResourceTable *t)
{
        size_t n = t->n_buckets * 4;
        Resource **b = calloc(n, sizeof(Resource *));
        if (!b)
                return; /* a longer chain is still correct */
        for (size_t i = 0; i < t->n_buckets; i++)
                for (Resource *r = t->buckets[i], *next; r; r = next) {
                        next = r->hash_next;
                        size_t h = id_hash(&r->id, n);
                        r->hash_next = b[h];
                        b[h] = r;
                }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = n;
}

Resource *resource_ensure(Daemon *d, const ResourceId *id)
{
        ResourceTable *t = &d->table;
        Resource *r = resource_find(t, id);
        if (r)
                return r;
        if (t->n >= t->n_buckets)
                table_grow(t);
        r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->id = *id;
        r->desire = DESIRE_ABSENT;
        size_t h = id_hash(id, t->n_buckets);
        r->hash_next = t->buckets[h];
        t->buckets[h] = r;
        t->n++;
        return r;
}

void resource_drop(Daemon *d, Resource *r)
{
        ResourceTable *t = &d->table;
        dirty_queue_remove(&d->queue, &r->qi);
        if (r->is_parked)
                d->n_parked--;
        for (Resource **p = &t->buckets[id_hash(&r->id, t->n_buckets)]; *p; p = &(*p)->hash_next)
                if (*p == r) {
                        *p = r->hash_next;
                        t->n--;
                        break;
                }
        resource_free(r);
}

void resource_foreach(const ResourceTable *t, void (*fn)(Resource *r, void *userdata), void *userdata)
{
        for (size_t b = 0; b < t->n_buckets; b++)
                for (Resource *r = t->buckets[b]; r; r = r->hash_next)
                        fn(r, userdata);
}

bool resource_parent_id(const ResourceId *id, ResourceId *ret)
{
        ResourceId p = *id;
        switch (id->kind) {
        case KIND_IMAGE:
        case KIND_SPACE:
                p = (ResourceId){.kind = KIND_REALM};
                strcpy(p.realm, id->realm);
                strcpy(p.name, id->realm);
                break;
        case KIND_STACK:
                p.kind = KIND_SPACE;
                p.stack[0] = '\0';
                strcpy(p.name, id->space);
                break;
        case KIND_CELL:
                p.kind = KIND_STACK;
                p.cell[0] = '\0';
                strcpy(p.name, id->stack);
                break;
        default:
                return false;
        }
        *ret = p;
        return true;
}

const char *resource_qualified(const ResourceId *id, char *buf, size_t size)
{
        switch (id->kind) {
        case KIND_REALM:
                snprintf(buf, size, "%s", id->realm);
                break;
        case KIND_SPACE:
                snprintf(buf, size, "%s/%s", id->realm, id->space);
                break;
        case KIND_STACK:
                snprintf(buf, size, "%s/%s/%s", id->realm, id->space, id->stack);
                break;
        case KIND_CELL:
                snprintf(buf, size, "%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell);
                break;
        default:
                snprintf(buf, size, "%s/%s", id->realm, id->name);
                break;
        }
        return buf;
}

/* BENCH STAMP: see daemon.h */
void resource_stamp(const Daemon *d, const Resource *r, const char *fmt, ...)
{
        char q[320], text[768];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        log_stamp_full(&d->log, "%s %s %s", kind_to_string(r->id.kind),
                       resource_qualified(&r->id, q, sizeof(q)), text);
}

static void copy_field(char *dst, size_t size, const char *src)
{
        if (src)
                snprintf(dst, size, "%s", src);
}

void recorded_from_status(Recorded *rec, const Status *st)
{
        copy_field(rec->namespace, sizeof(rec->namespace), st->namespace);
        copy_field(rec->network, sizeof(rec->network), st->network);
        copy_field(rec->bridge, sizeof(rec->bridge), st->bridge);
        copy_field(rec->subnet, sizeof(rec->subnet), st->subnet);
        copy_field(rec->gateway, sizeof(rec->gateway), st->gateway);
        copy_field(rec->conflist_path, sizeof(rec->conflist_path), st->cni_config_path);
        copy_field(rec->netns, sizeof(rec->netns), st->netns);
        copy_field(rec->ip, sizeof(rec->ip), st->ip);
        copy_field(rec->cgroup_path, sizeof(rec->cgroup_path), st->cgroup_path);
        rec->created_at = st->created_at;
        rec->ready_at = st->ready_at;
        free(rec->restarted_at);
        rec->restarted_at = st->restarted_at ? strdup(st->restarted_at) : NULL;
        copy_field(rec->image_digest, sizeof(rec->image_digest), st->digest);
        free(rec->containers);
        rec->containers = st->n_containers ? calloc(st->n_containers, sizeof(*rec->containers)) : NULL;
        rec->n_containers = 0;
        for (size_t i = 0; rec->containers && i < st->n_containers; i++) {
                const ContainerStatus *cs = &st->containers[i];
                ContainerRecord *cr = &rec->containers[rec->n_containers];
                if (!cs->name)
                        continue;
                *cr = (ContainerRecord){.state = cs->state,
                                        .pid = (uint32_t)cs->pid,
                                        .started_at = cs->start_time,
                                        .finished_at = cs->finish_time,
                                        .has_exit = schema_has(&container_status_schema, cs, "exitCode"),
                                        .exit_code = (int32_t)cs->exit_code,
                                        .restarts = {.restart_count = cs->restart_count,
                                                     .last_restart_at = cs->restart_time}};
                copy_field(cr->name, sizeof(cr->name), cs->name);
                copy_field(cr->containerd_id, sizeof(cr->containerd_id), cs->containerd_id);
                copy_field(cr->image_digest, sizeof(cr->image_digest), cs->image_digest);
                rec->n_containers++;
        }
}

void recorded_done(Recorded *rec)
{
        free(rec->restarted_at);
        rec->restarted_at = NULL;
        free(rec->containers);
        rec->containers = NULL;
        rec->n_containers = 0;
}
