/* Garbage collection: after a full resync, what carries our names or labels but has no resource in the
 * table (its directory was removed while kukeond was down, or its status with it) becomes a resource
 * that is not wanted, and its teardown takes it away. Teardown never depends on a status file: every
 * name is derived again from the id. Only our own places are looked at: the cgroup root, the netns dir,
 * containerd namespaces labelled kukeon.io/realm and the containers in them, the CNI conf dir, and the
 * isolation rules of bridges that are gone. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon/daemon.h"

/* An object of ours that nothing in the table stands for: an orphan to tear down. */
static Resource *adopt_orphan(Daemon *d, const ResourceId *id)
{
        if (resource_find(&d->table, id))
                return NULL;
        Resource *r = resource_ensure(d, id);
        if (!r)
                return NULL;
        char q[320];
        log_info(&d->log, "Found %s \"%s\" with no manifest: removing it", kind_to_string(id->kind),
                 resource_qualified(id, q, sizeof(q)));
        r->desire = DESIRE_ABSENT;
        r->is_live = true;
        daemon_mark_dirty(d, r);
        return r;
}

/* name is valid (name_is_valid(): at most NAME_MAX_LEN bytes). */
static void id_set_level(ResourceId *id, Kind kind, const char *name)
{
        char *levels[] = {id->realm, id->space, id->stack, id->cell};
        size_t len = strnlen(name, NAME_MAX_LEN);
        id->kind = kind;
        memcpy(levels[kind - KIND_REALM], name, len);
        levels[kind - KIND_REALM][len] = '\0';
        memcpy(id->name, name, len);
        id->name[len] = '\0';
}

/* Walks the cgroup tree of one hierarchy down to the cells (below them are the containers' leaves). */
static void gc_cgroup_level(Daemon *d, const char *path, const ResourceId *parent, Kind kind)
{
        DIR *dir = opendir(path);
        if (!dir)
                return;
        struct dirent *de;
        while ((de = readdir(dir))) {
                char child[PATH_MAX];
                struct stat st;
                if (!name_is_valid(de->d_name) || name_is_reserved(de->d_name) ||
                    snprintf(child, sizeof(child), "%s/%s", path, de->d_name) >= (int)sizeof(child) ||
                    lstat(child, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                ResourceId id = parent ? *parent : (ResourceId){0};
                id_set_level(&id, kind, de->d_name);
                (void)adopt_orphan(d, &id);
                if (kind < KIND_CELL)
                        gc_cgroup_level(d, child, &id, (Kind)(kind + 1));
        }
        closedir(dir);
}

static void gc_cgroups(Daemon *d)
{
        /* every hierarchy holds the same tree: the first that has our root is enough */
        static const char *const hierarchies[] = {"", "unified", "memory", "pids", "cpu"};
        for (size_t i = 0; i < ARRAY_SIZE(hierarchies); i++) {
                char root[PATH_MAX];
                struct stat st;
                if (i == 0 && cg_mode(d->cg) != CG_MODE_UNIFIED)
                        continue; /* on v1 the fs root holds the hierarchies, not our tree */
                snprintf(root, sizeof(root), "%s%s%s/%s", cg_fs_root(d->cg), *hierarchies[i] ? "/" : "",
                         hierarchies[i], cg_root_name(d->cg));
                if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                gc_cgroup_level(d, root, NULL, KIND_REALM);
                return;
        }
}

/* kukeon_<realm>_<space>_<stack>_<cell>: names cannot hold '_', so the split is unambiguous. */
static void gc_netns(Daemon *d)
{
        char **names = NULL;
        size_t n = 0;
        if (cni_netns_list(d->config.netns_dir, &names, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                char buf[4 * (NAME_MAX_LEN + 1) + 8], *parts[5], *save = NULL;
                size_t k = 0;
                snprintf(buf, sizeof(buf), "%s", names[i] + strlen(CNI_NETNS_PREFIX));
                for (char *p = strtok_r(buf, "_", &save); p && k < 5; p = strtok_r(NULL, "_", &save))
                        parts[k++] = p;
                if (k != 4)
                        continue;
                ResourceId id = {0};
                bool ok = true;
                for (size_t j = 0; j < 4; j++) {
                        ok = ok && name_is_valid(parts[j]);
                        if (ok)
                                id_set_level(&id, (Kind)(KIND_REALM + j), parts[j]);
                }
                if (ok)
                        (void)adopt_orphan(d, &id);
        }
        cni_strv_free(names);
}

/* Containers carry their cell's identity in labels: a cell with containers and no resource is an orphan
 * even when its netns and cgroup are gone (a host-network cell, or a crash in between). */
typedef struct GcNamespace {
        Daemon *d;
        char ns[NAME_MAX_LEN + 16];
} GcNamespace;

static void on_gc_containers(int r, const char *message, const CtrdContainer *containers, size_t n,
                             void *userdata)
{
        GcNamespace *g = userdata;
        Daemon *d = g->d;
        (void)message;
        for (size_t i = 0; r >= 0 && !d->is_stopping && i < n; i++) {
                const CtrdContainer *c = &containers[i];
                const char *levels[] = {ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_REALM),
                                        ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_SPACE),
                                        ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_STACK),
                                        ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CELL)};
                ResourceId id = {0};
                bool ok = true;
                for (size_t j = 0; j < ARRAY_SIZE(levels) && ok; j++) {
                        ok = levels[j] && name_is_valid(levels[j]);
                        if (ok)
                                id_set_level(&id, (Kind)(KIND_REALM + j), levels[j]);
                }
                if (ok)
                        (void)adopt_orphan(d, &id);
        }
        free(g);
        if (!d->is_stopping)
                daemon_pump(d);
}

/* <conf dir>/<realm>-<space>.conflist with a bridge of ours and no space: names hold '-', so the split is
 * the one whose realm is known. Its teardown removes the bridge, the isolation rules and the IPAM state
 * with it. */
static void gc_conflists(Daemon *d)
{
        DIR *dir = opendir(d->config.cni_conf_dir);
        if (!dir)
                return;
        struct dirent *de;
        while ((de = readdir(dir))) {
                char name[2 * (NAME_MAX_LEN + 1)];
                size_t len = strlen(de->d_name);
                if (len <= strlen(".conflist") || len - strlen(".conflist") >= sizeof(name) ||
                    !streq(de->d_name + len - strlen(".conflist"), ".conflist"))
                        continue;
                snprintf(name, sizeof(name), "%.*s", (int)(len - strlen(".conflist")), de->d_name);
                for (char *dash = strchr(name, '-'); dash; dash = strchr(dash + 1, '-')) {
                        ResourceId realm = {0}, space;
                        *dash = '\0';
                        bool ok = name_is_valid(name) && name_is_valid(dash + 1);
                        if (ok) {
                                id_set_level(&realm, KIND_REALM, name);
                                space = realm;
                                id_set_level(&space, KIND_SPACE, dash + 1);
                        }
                        *dash = '-';
                        if (!ok || !resource_find(&d->table, &realm))
                                continue;
                        char expect[CNI_NETWORK_NAME_MAX];
                        if (cni_network_name(space.realm, space.space, expect, sizeof(expect)) >= 0 &&
                            streq(expect, name))
                                (void)adopt_orphan(d, &space);
                        break;
                }
        }
        closedir(dir);
}

typedef struct BridgeScan {
        const char *bridge;
        bool found;
} BridgeScan;

static void match_bridge(Resource *r, void *userdata)
{
        BridgeScan *b = userdata;
        char name[CNI_BRIDGE_NAME_MAX];
        if (!b->found && r->id.kind == KIND_SPACE && space_bridge(r, name) >= 0 && streq(name, b->bridge))
                b->found = true;
}

static void on_isolation_removed(int r, const char *message, char *const *bridges, void *userdata)
{
        Daemon *d = userdata;
        (void)bridges;
        if (r < 0)
                log_debug(&d->log, "Removing the isolation rule of a vanished bridge: %s", message);
}

/* Isolation rules of bridges that no longer exist and that no space stands for. */
static void on_isolation_list(int r, const char *message, char *const *bridges, void *userdata)
{
        Daemon *d = userdata;
        (void)message;
        for (size_t i = 0; r >= 0 && !d->is_stopping && bridges && bridges[i]; i++) {
                BridgeScan b = {bridges[i], false};
                CniBridgeObserved obs = {0};
                resource_foreach(&d->table, match_bridge, &b);
                if (b.found || (cni_observe_bridge(bridges[i], &obs) >= 0 && obs.is_bridge))
                        continue;
                log_info(&d->log, "Removing the isolation rule of vanished bridge %s", bridges[i]);
                (void)cni_isolation_submit(&d->loop, d->iso, CNI_ISOLATION_REMOVE, bridges[i],
                                           on_isolation_removed, d);
        }
}

/* Leases of ours ("kukeon-<ns since the epoch>-<hex>") taken before this kukeond started belong to a
 * process that is gone (killed between Snapshots.Prepare and Containers.Create, or during a pull): what
 * they hold is garbage as soon as they go. Leases of this process are never touched. */
static void on_gc_lease_deleted(int r, const char *message, void *userdata)
{
        GcNamespace *g = userdata;
        if (r < 0)
                log_debug(&g->d->log, "Removing a stale lease in %s: %s", g->ns, message);
        free(g);
}

static void on_gc_leases(int r, const char *message, const char *const *ids, size_t n, void *userdata)
{
        GcNamespace *g = userdata;
        Daemon *d = g->d;
        (void)message;
        for (size_t i = 0; r >= 0 && !d->is_stopping && i < n; i++) {
                long long ns_epoch = 0;
                /* made before this daemon started (to the nanosecond: a daemon killed in the second
                 * this one started leaves leases from that same second) */
                if (sscanf(ids[i], "kukeon-%19lld-", &ns_epoch) != 1 ||
                    ns_epoch >= (long long)d->started_at_ns)
                        continue;
                GcNamespace *del = malloc(sizeof(*del));
                if (!del)
                        break;
                *del = *g;
                log_info(&d->log, "Removing stale lease %s in %s", ids[i], g->ns);
                if (ctrd_lease_delete(d->ctrd, g->ns, ids[i], false, CTRD_MISSING_OK, on_gc_lease_deleted,
                                      del) < 0)
                        free(del);
        }
        free(g);
}

static void on_gc_namespaces(int r, const char *message, const CtrdNamespace *namespaces, size_t n,
                             void *userdata)
{
        Daemon *d = userdata;
        if (r < 0 || d->is_stopping)
                return;
        for (size_t i = 0; i < n; i++) {
                const char *realm =
                        ctrd_label_get(namespaces[i].labels, namespaces[i].n_labels, CTRD_LABEL_REALM);
                if (!realm || !name_is_valid(realm))
                        continue;
                ResourceId id = {0};
                id_set_level(&id, KIND_REALM, realm);
                Resource *o = adopt_orphan(d, &id);
                if (o)
                        snprintf(o->rec.namespace, sizeof(o->rec.namespace), "%s", namespaces[i].name);
                GcNamespace *g = malloc(sizeof(*g));
                if (!g)
                        continue;
                g->d = d;
                snprintf(g->ns, sizeof(g->ns), "%s", namespaces[i].name);
                GcNamespace *l = malloc(sizeof(*l));
                if (l) {
                        *l = *g;
                        if (ctrd_lease_list(d->ctrd, l->ns, on_gc_leases, l) < 0)
                                free(l);
                }
                if (ctrd_container_list(d->ctrd, g->ns, NULL, 0, on_gc_containers, g) < 0)
                        free(g);
        }
        gc_conflists(d);
        daemon_pump(d);
}

void daemon_gc(Daemon *d)
{
        if (d->is_stopping)
                return;
        gc_cgroups(d);
        gc_netns(d);
        if (d->iso)
                (void)cni_isolation_submit(&d->loop, d->iso, CNI_ISOLATION_LIST, NULL, on_isolation_list, d);
        space_isolation_verify_all_later(d); /* a firewall reload may have flushed them */
        if (d->ctrd && d->is_ctrd_ready)
                (void)ctrd_namespace_list(d->ctrd, on_gc_namespaces, d);
        else
                gc_conflists(d);
}
