/* The table rows of kuke get, per kind, and the state and age every row shows. */
#include <stdarg.h>
#include <stdio.h>

#include "common/timeutil.h"
#include "cli/cli.h"

typedef struct Row {
        const char *v[16];
        size_t n;
        char tmp[8][128];
        size_t n_tmp;
} Row;

static void row_add(Row *r, const char *v)
{
        if (r->n < ARRAY_SIZE(r->v))
                r->v[r->n++] = v;
}

/* A scratch buffer that lives as long as the row. */
static char *row_tmp(Row *r)
{
        return r->n_tmp < ARRAY_SIZE(r->tmp) ? r->tmp[r->n_tmp++] : NULL;
}

static void row_addf(Row *r, const char *fmt, ...) _printf_(2, 3);
static void row_addf(Row *r, const char *fmt, ...)
{
        char *buf = row_tmp(r);
        if (!buf)
                return row_add(r, NULL);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(r->tmp[0]), fmt, ap);
        va_end(ap);
        row_add(r, buf);
}

static const Status *entry_status(const TreeEntry *e)
{
        return e->status ? &e->status->status : NULL;
}

static bool status_has(Kind kind, const Status *st, const char *field)
{
        return st && schema_has(status_schema(kind), st, field);
}

const TreeEntry *tree_find_container(const Tree *t, const GetItem *it)
{
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (e->id.kind == KIND_CONTAINER && e->parent == (ssize_t)it->entry &&
                    streq(e->id.name, it->id.name))
                        return e;
        }
        return NULL;
}

/* What a container row shows, from the daemon's containers/<c>.yaml or the cell status' entry. */
typedef struct ContainerView {
        int state; /* -1: no status */
        int64_t restarts;
        bool has_exit;
        int64_t exit_code;
        const char *containerd_id;
        int64_t since;
} ContainerView;

static const ContainerStatus *cell_container_status(const TreeEntry *cell, const char *name)
{
        const Status *st = entry_status(cell);
        for (size_t i = 0; st && i < st->n_containers; i++)
                if (streq_ptr(st->containers[i].name, name))
                        return &st->containers[i];
        return NULL;
}

static ContainerView container_view(const Tree *t, const GetItem *it)
{
        ContainerView v = {.state = -1};
        const TreeEntry *ce = tree_find_container(t, it);
        const Status *st = ce ? entry_status(ce) : NULL;
        if (!st && ce && ce->spec && schema_has(document_schema(KIND_CONTAINER), ce->spec, "status"))
                st = &ce->spec->status;
        if (st) {
                v.state = st->state;
                v.restarts = st->restart_count;
                v.has_exit = status_has(KIND_CONTAINER, st, "exitCode");
                v.exit_code = st->exit_code;
                v.containerd_id = st->containerd_id;
                v.since = st->created_at ? st->created_at : st->start_time;
                return v;
        }
        const ContainerStatus *cs = cell_container_status(&t->entries[it->entry], it->id.name);
        if (cs) {
                v.state = cs->state;
                v.restarts = cs->restart_count;
                v.has_exit = schema_has(&container_status_schema, cs, "exitCode");
                v.exit_code = cs->exit_code;
                v.containerd_id = cs->containerd_id;
                v.since = cs->start_time;
        }
        return v;
}

const char *get_item_state(const Tree *t, const GetItem *it)
{
        const TreeEntry *e = &t->entries[it->entry];
        if (it->id.kind == KIND_CONTAINER) {
                ContainerView v = container_view(t, it);
                return v.state < 0 ? "Pending" : strempty(state_to_string(v.state));
        }
        if (!e->spec)
                return "Failed";
        if (!e->status)
                return "Pending";
        const char *s = state_to_string(e->status->status.state);
        return s ? s : "Unknown";
}

static int64_t item_since(const Tree *t, const GetItem *it)
{
        const TreeEntry *e = &t->entries[it->entry];
        if (it->id.kind == KIND_CONTAINER) {
                ContainerView v = container_view(t, it);
                if (v.since > 0)
                        return v.since;
        } else if (status_has(e->id.kind, entry_status(e), "createdAt")) {
                return e->status->status.created_at;
        }
        return e->spec_mtime;
}

static void row_realm(Row *r, const TreeEntry *e, bool wide)
{
        if (!wide)
                return;
        const Status *st = entry_status(e);
        if (st && st->namespace)
                row_add(r, st->namespace);
        else if (e->spec && e->spec->spec.realm.namespace)
                row_add(r, e->spec->spec.realm.namespace);
        else
                row_addf(r, "kukeon-%s", e->id.realm);
        row_add(r, st ? st->cgroup_path : NULL);
}

static void row_space(Row *r, const TreeEntry *e, bool wide)
{
        const Status *st = entry_status(e);
        if (!wide)
                return;
        row_add(r, st ? st->network : NULL);
        row_add(r, st ? st->bridge : NULL);
        if (st && st->subnet)
                row_add(r, st->subnet);
        else
                row_add(r, e->spec ? e->spec->spec.space.network.subnet : NULL);
        row_add(r, st ? st->cgroup_path : NULL);
}

static void row_cell(Row *r, const TreeEntry *e)
{
        const Status *st = entry_status(e);
        size_t ready = 0, total = e->spec ? e->spec->spec.cell.n_containers : 0;
        for (size_t i = 0; st && i < st->n_containers; i++)
                if (st->containers[i].state == STATE_READY)
                        ready++;
        row_addf(r, "%zu/%zu", ready, total);
        row_add(r, st ? st->ip : NULL);
        row_add(r, st ? st->netns : NULL);
        row_add(r, st ? st->cgroup_path : NULL);
}

static void row_image(Row *r, const TreeEntry *e, bool wide, const char *state, const char *age)
{
        const Status *st = entry_status(e);
        row_add(r, e->spec ? e->spec->spec.image.reference : NULL);
        row_add(r, state);
        row_add(r, age);
        if (!wide)
                return;
        row_add(r, st ? st->digest : NULL);
        if (status_has(KIND_IMAGE, st, "sizeBytes"))
                row_addf(r, "%.1fMB", (double)st->size_bytes / 1e6);
        else
                row_add(r, NULL);
}

static void row_container(Row *r, const Tree *t, const GetItem *it, bool wide, const char *state,
                          const char *age)
{
        ContainerView v = container_view(t, it);
        const TreeEntry *cell = &t->entries[it->entry];
        row_add(r, state);
        row_addf(r, "%lld", (long long)v.restarts);
        row_add(r, age);
        if (!wide)
                return;
        row_add(r, cell->spec->spec.cell.containers[it->container].image);
        row_add(r, v.containerd_id);
        if (v.has_exit)
                row_addf(r, "%lld", (long long)v.exit_code);
        else
                row_add(r, NULL);
}

static void row_build(Row *r, const Tree *t, const GetItem *it, bool wide)
{
        const TreeEntry *e = &t->entries[it->entry];
        const char *state = get_item_state(t, it);
        char *age = row_tmp(r);
        time_format_age(time_now(), item_since(t, it), age, sizeof(r->tmp[0]));
        row_add(r, it->id.name);
        int depth = kind_depth(it->id.kind);
        if (depth >= 1)
                row_add(r, it->id.realm);
        if (it->id.kind == KIND_IMAGE)
                return row_image(r, e, wide, state, age);
        if (depth >= 2)
                row_add(r, it->id.space);
        if (depth >= 3)
                row_add(r, it->id.stack);
        if (depth >= 4) {
                row_add(r, it->id.cell);
                return row_container(r, t, it, wide, state, age);
        }
        row_add(r, state);
        row_add(r, age);
        if (it->id.kind == KIND_REALM)
                row_realm(r, e, wide);
        else if (it->id.kind == KIND_SPACE)
                row_space(r, e, wide);
        else if (it->id.kind == KIND_STACK && wide)
                row_add(r, entry_status(e) ? entry_status(e)->cgroup_path : NULL);
        else if (it->id.kind == KIND_CELL && wide)
                row_cell(r, e);
}

static size_t headers_of(Kind kind, bool wide, const char *ret[static 16])
{
        static const char *const base[_KIND_MAX][9] = {
                [KIND_REALM] = {"NAME", "STATE", "AGE"},
                [KIND_SPACE] = {"NAME", "REALM", "STATE", "AGE"},
                [KIND_STACK] = {"NAME", "REALM", "SPACE", "STATE", "AGE"},
                [KIND_CELL] = {"NAME", "REALM", "SPACE", "STACK", "STATE", "AGE"},
                [KIND_CONTAINER] = {"NAME", "REALM", "SPACE", "STACK", "CELL", "STATE", "RESTARTS", "AGE"},
                [KIND_IMAGE] = {"NAME", "REALM", "REFERENCE", "STATE", "AGE"},
        };
        static const char *const extra[_KIND_MAX][5] = {
                [KIND_REALM] = {"NAMESPACE", "CGROUP"},
                [KIND_SPACE] = {"NETWORK", "BRIDGE", "SUBNET", "CGROUP"},
                [KIND_STACK] = {"CGROUP"},
                [KIND_CELL] = {"CONTAINERS", "IP", "NETNS", "CGROUP"},
                [KIND_CONTAINER] = {"IMAGE", "CONTAINERD-ID", "EXIT"},
                [KIND_IMAGE] = {"DIGEST", "SIZE"},
        };
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(base[0]) && base[kind][i]; i++)
                ret[n++] = base[kind][i];
        for (size_t i = 0; wide && i < ARRAY_SIZE(extra[0]) && extra[kind][i]; i++)
                ret[n++] = extra[kind][i];
        return n;
}

int get_table_build(const Tree *t, Kind kind, const GetItem *items, size_t n, bool wide, Table *ret)
{
        const char *headers[16];
        size_t n_cols = headers_of(kind, wide, headers);
        int r = table_init(ret, headers, n_cols);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                Row row = {0};
                row_build(&row, t, &items[i], wide);
                if (row.n != n_cols) /* a programming error in the row builders */
                        return -EINVAL;
                r = table_add_row(ret, row.v);
        }
        return r;
}
