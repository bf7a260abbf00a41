/* Observing a resource before it is planned: its cgroup (drivers/cgroup), its containerd namespace
 * (drivers/containerd), its network files and its pinned netns (drivers/cni). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon/daemon.h"

const char *resource_namespace(const Resource *r, char *buf, size_t size)
{
        if (r->spec && r->spec->spec.realm.namespace)
                snprintf(buf, size, "%s", r->spec->spec.realm.namespace);
        else if (r->rec.namespace[0])
                snprintf(buf, size, "%s", r->rec.namespace);
        else
                snprintf(buf, size, "kukeon-%s", r->id.realm);
        return buf;
}

static const char *space_network(const Resource *space, char *buf, size_t size)
{
        if (space->rec.network[0])
                snprintf(buf, size, "%s", space->rec.network);
        else if (cni_network_name(space->id.realm, space->id.space, buf, size) < 0)
                buf[0] = '\0';
        return buf;
}

int space_conflist_path(Daemon *d, const Resource *space, char *buf, size_t size)
{
        char net[CNI_NETWORK_NAME_MAX];
        const char *custom = space->spec ? space->spec->spec.space.cni_config_path : NULL;
        int n;
        if (custom)
                n = snprintf(buf, size, "%s", custom);
        else if (!space->spec && space->rec.conflist_path[0])
                n = snprintf(buf, size, "%s", space->rec.conflist_path);
        else
                n = snprintf(buf, size, "%s/%s.conflist", d->config.cni_conf_dir,
                             space_network(space, net, sizeof(net)));
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int space_copy_path(Daemon *d, const ResourceId *space, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/%s/%s/" CNI_CONFLIST_COPY_NAME, d->config.run_path, space->realm,
                         space->space);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int space_bridge(const Resource *space, char ret[static CNI_BRIDGE_NAME_MAX])
{
        if (space->rec.bridge[0])
                return str_copy(ret, CNI_BRIDGE_NAME_MAX, space->rec.bridge) ? 0 : -ENAMETOOLONG;
        /* never recorded (a crash before the status was written): the name the rule gives by itself */
        return cni_bridge_name(space->id.realm, space->id.space, NULL, 0, ret);
}

const Resources *resource_limits(const Resource *r)
{
        if (!r->spec)
                return NULL;
        switch (r->id.kind) {
        case KIND_REALM:
                return &r->spec->spec.realm.resources;
        case KIND_SPACE:
                return &r->spec->spec.space.resources;
        case KIND_STACK:
                return &r->spec->spec.stack.resources;
        case KIND_CELL:
                return &r->spec->spec.cell.resources;
        default:
                return NULL;
        }
}

/* The cgroup part of every level. Returns 0 or -errno (message set). */
static int observe_cgroup(Op *op, bool *ret_exists, bool *ret_limits_match)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        CgObserved cg;
        int k = cg_observe(d->cg, &r->id, &cg);
        if (k < 0) {
                snprintf(op->message, sizeof(op->message), "observing the cgroup: %s", strerror(-k));
                return k;
        }
        (void)cg_path(d->cg, &r->id, r->rec.cgroup_path, sizeof(r->rec.cgroup_path));
        /* bringing up, a level that lacks delegation is not there yet; tearing down, anything counts */
        *ret_exists = op->desire == DESIRE_PRESENT ? cg.exists && !cg.needs_ensure : cg.exists;
        const Resources *res = resource_limits(r);
        Resources none = {0};
        CgLimits want;
        cg_limits_expected(cg_mode(d->cg), res ? res : &none, &want);
        *ret_limits_match = !cg.exists || cg_limits_equal(&want, &cg.limits);
        return 0;
}

static int read_whole(const char *path, char **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_size > 1024 * 1024)
                return -EINVAL;
        char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n < 0) {
                free(buf);
                return negative_errno();
        }
        buf[n] = '\0';
        *ret = buf;
        return 0;
}

static bool file_holds(const char *path, const char *content)
{
        _cleanup_free_ char *buf = NULL;
        return read_whole(path, &buf) >= 0 && streq(buf, content);
}

static bool path_exists(const char *path)
{
        struct stat st;
        return lstat(path, &st) >= 0;
}

/* The conflist the space's record describes, as it is written to disk; NULL when the record is
 * incomplete. */
char *space_conflist_text(const Resource *space)
{
        if (!space->rec.subnet[0] || !space->rec.bridge[0])
                return NULL;
        CniNetworkConfig c = {.realm = space->id.realm,
                              .space = space->id.space,
                              .bridge = space->rec.bridge,
                              .subnet = space->rec.subnet};
        json_t *j = NULL;
        if (cni_conflist_build(&c, &j) < 0)
                return NULL;
        char *text = cni_conflist_format(j);
        json_decref(j);
        return text;
}

static void observe_space_network(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        ObservedLevel *o = &op->level;
        char conf[PATH_MAX], copy[PATH_MAX], net[CNI_NETWORK_NAME_MAX], ipam[PATH_MAX];
        const char *requested = r->spec ? r->spec->spec.space.network.subnet : NULL;

        o->subnet_recorded =
                r->rec.subnet[0] && r->rec.bridge[0] && (!requested || streq(requested, r->rec.subnet));
        bool has_paths = space_conflist_path(d, r, conf, sizeof(conf)) >= 0 &&
                         space_copy_path(d, &r->id, copy, sizeof(copy)) >= 0;
        snprintf(ipam, sizeof(ipam), "%s/%s", CNI_DEFAULT_IPAM_DIR, space_network(r, net, sizeof(net)));
        o->network_exists =
                (has_paths && (path_exists(conf) || path_exists(copy))) || (net[0] && path_exists(ipam));
        char bridge[CNI_BRIDGE_NAME_MAX];
        CniBridgeObserved b = {0};
        if (space_bridge(r, bridge) >= 0 && cni_observe_bridge(bridge, &b) >= 0 && b.is_bridge) {
                o->network_exists = true;
                if (space_isolation_presume(d, r))
                        res_stamp(d, r, "isolation presumed"); /* BENCH STAMP */
        }
        if (o->subnet_recorded && has_paths) {
                _cleanup_free_ char *text = space_conflist_text(r);
                o->network_current = text && file_holds(conf, text) && file_holds(copy, text) &&
                                     (r->has_isolation || !d->iso);
        }
}

Resource *cell_space(Daemon *d, const Resource *cell)
{
        ResourceId sp = {.kind = KIND_SPACE};
        snprintf(sp.realm, sizeof(sp.realm), "%s", cell->id.realm);
        snprintf(sp.space, sizeof(sp.space), "%s", cell->id.space);
        snprintf(sp.name, sizeof(sp.name), "%s", cell->id.space);
        return resource_find(&d->table, &sp);
}

typedef struct HostsScan {
        const Resource *self;
        CniHostEntry *entries;
        size_t n, cap;
        bool oom;
} HostsScan;

static void hosts_collect(Resource *r, void *userdata)
{
        HostsScan *h = userdata;
        if (r->id.kind != KIND_CELL || !streq(r->id.realm, h->self->id.realm) ||
            !streq(r->id.space, h->self->id.space) || !r->rec.ip[0] || r->desire != DESIRE_PRESENT)
                return;
        if (h->n == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 16;
                CniHostEntry *e = realloc(h->entries, cap * sizeof(*e));
                if (!e) {
                        h->oom = true;
                        return;
                }
                h->entries = e;
                h->cap = cap;
        }
        h->entries[h->n++] = (CniHostEntry){r->id.stack, r->id.cell, r->rec.ip};
}

int cell_hosts_render(Daemon *d, const Resource *cell, char **ret_hosts, char **ret_hostname)
{
        HostsScan h = {.self = cell};
        resource_foreach(&d->table, hosts_collect, &h);
        int r = h.oom ? -ENOMEM : cni_hosts_render(cell->id.stack, cell->id.cell, h.entries, h.n, ret_hosts);
        free(h.entries);
        if (r >= 0 && (r = cni_hostname_render(cell->id.cell, ret_hostname)) < 0) {
                free(*ret_hosts);
                *ret_hosts = NULL;
        }
        return r;
}

static bool cell_hosts_current(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        _cleanup_free_ char *hosts = NULL, *hostname = NULL;
        char dir[PATH_MAX], path[PATH_MAX + 16];
        if (cell_hosts_render(d, r, &hosts, &hostname) < 0 ||
            snprintf(dir, sizeof(dir), "%s/%s/%s/%s/%s", d->config.run_path, r->id.realm, r->id.space,
                     r->id.stack, r->id.cell) >= (int)sizeof(dir))
                return false;
        snprintf(path, sizeof(path), "%s/" CNI_HOSTS_FILE, dir);
        if (!file_holds(path, hosts))
                return false;
        snprintf(path, sizeof(path), "%s/" CNI_HOSTNAME_FILE, dir);
        return file_holds(path, hostname);
}

static void observe_cell(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        ObservedCell *o = &op->cell;
        if (cell_netns_name(&r->id, r->rec.netns, sizeof(r->rec.netns)) < 0)
                r->rec.netns[0] = '\0';
        int k = r->rec.netns[0] ? cni_netns_check(d->config.netns_dir, r->rec.netns) : 0;
        o->netns_exists = k > 0;
        /* the attachment is what the netns holds: eth0 with an address. An address CNI ADD gave that
         * never reached the record (kukeond killed in between) is adopted, so ADD is never repeated for
         * a live netns (host-local would hand out a second address) */
        CniCellObserved co = {0};
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", d->config.netns_dir, r->rec.netns);
        bool seen = false;
        if (o->netns_exists) {
                res_stamp(d, r, "send netns.Observe"); /* BENCH STAMP */
                seen = cni_observe_cell(path, NULL, &co) >= 0;
                res_stamp(d, r, "recv netns.Observe r=%d", seen); /* BENCH STAMP */
        }
        if (seen && co.link.has_link && !r->rec.ip[0] && co.link.n_addrs > 0)
                snprintf(r->rec.ip, sizeof(r->rec.ip), "%.*s", (int)strcspn(co.link.addrs[0], "/"),
                         co.link.addrs[0]);
        if (op->desire != DESIRE_PRESENT)
                o->net_attached = r->rec.ip[0] || (seen && co.link.has_link);
        else if (seen)
                o->net_attached = r->rec.ip[0] && cni_link_has_ip(&co.link, r->rec.ip);
        else
                o->net_attached = r->rec.ip[0] && o->netns_exists; /* could not look: as recorded */
        o->hosts_current = op->desire != DESIRE_PRESENT || cell_hosts_current(op);
}

static void on_namespace_list(int k, const char *message, const CtrdNamespace *namespaces, size_t n,
                              void *userdata)
{
        Op *op = userdata;
        Resource *r = op->res;
        res_stamp(op->d, r, "recv ctrd.NamespaceList r=%d", k); /* BENCH STAMP */
        if (k < 0) {
                char m[384];
                snprintf(m, sizeof(m), "listing containerd namespaces: %s",
                         *message ? message : strerror(-k));
                op_observed(op, k, m);
                return;
        }
        char ns[NAME_MAX_LEN + 16];
        resource_namespace(r, ns, sizeof(ns));
        for (size_t i = 0; i < n; i++) {
                if (!streq(namespaces[i].name, ns))
                        continue;
                const char *label =
                        ctrd_label_get(namespaces[i].labels, namespaces[i].n_labels, CTRD_LABEL_REALM);
                op->level.namespace_exists = true;
                op->level.namespace_labels_match = streq_ptr(label, r->id.realm);
        }
        op_observed(op, 0, NULL);
}

void op_observe(Op *op)
{
        Daemon *d = op->d;
        Resource *r = op->res;
        int k = 0;

        if (r->id.kind == KIND_IMAGE) {
                observe_image(op);
                return;
        }
        bool exists = false, limits = true;
        res_stamp(d, r, "send cg.Observe"); /* BENCH STAMP */
        k = observe_cgroup(op, &exists, &limits);
        res_stamp(d, r, "recv cg.Observe r=%d", k); /* BENCH STAMP */
        if (k < 0) {
                op_observed(op, k, op->message);
                return;
        }
        op->level.cgroup_exists = op->cell.cgroup_exists = exists;
        op->level.cgroup_limits_match = op->cell.cgroup_limits_match = limits;
        if (r->id.kind == KIND_SPACE)
                observe_space_network(op);
        if (r->id.kind == KIND_CELL)
                observe_cell(op);
        if (r->id.kind != KIND_REALM) {
                r->is_live = r->is_live || exists || op->level.network_exists || op->cell.netns_exists;
                if (r->id.kind == KIND_CELL)
                        observe_cell_containers(op);
                else
                        op_observed(op, 0, NULL);
                return;
        }
        res_stamp(d, r, "send ctrd.NamespaceList"); /* BENCH STAMP */
        if (!d->ctrd || !d->is_ctrd_ready)
                k = -ENOTCONN;
        else
                k = ctrd_namespace_list(d->ctrd, on_namespace_list, op);
        if (k < 0) {
                char m[384];
                snprintf(m, sizeof(m), "containerd is not reachable at %s%s%s", d->config.containerd_socket,
                         d->ctrd_error[0] ? ": " : "", d->ctrd_error);
                op_observed(op, k, m);
        }
}
