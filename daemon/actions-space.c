/* A space's network: its subnet (allocated against what the other spaces record), its bridge name, the
 * conflist in the CNI conf dir and its copy in the run path, and taking it all away again. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "daemon/daemon.h"

typedef struct Records {
        CniSpaceRecord *items;
        size_t n;
        int error;
} Records;

static void add_record(Resource *r, void *userdata)
{
        Records *l = userdata;
        if (r->id.kind != KIND_SPACE || (!r->rec.subnet[0] && !r->rec.bridge[0]) || l->error)
                return;
        CniSpaceRecord *items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items) {
                l->error = -ENOMEM;
                return;
        }
        l->items = items;
        l->items[l->n++] = (CniSpaceRecord){
                .realm = r->id.realm,
                .space = r->id.space,
                .subnet = r->rec.subnet[0] ? r->rec.subnet : NULL,
                .bridge = r->rec.bridge[0] ? r->rec.bridge : NULL,
        };
}

int action_subnet_allocate(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        const char *requested = res->spec ? res->spec->spec.space.network.subnet : NULL;
        Records l = {0};
        char subnet[CNI_SUBNET_MAX], bridge[CNI_BRIDGE_NAME_MAX], gateway[CNI_IP_MAX],
                net[CNI_NETWORK_NAME_MAX];
        _cleanup_free_ char *error = NULL;

        /* the records of every space, this one's included: a recorded subnet stays this space's */
        resource_foreach(&d->table, add_record, &l);
        int r = l.error;
        if (r >= 0)
                r = cni_subnet_allocate(d->config.subnet_pool, a->id.realm, a->id.space, requested, l.items,
                                        l.n, subnet, &error);
        if (r >= 0)
                r = cni_bridge_name(a->id.realm, a->id.space, l.items, l.n, bridge);
        if (r >= 0)
                r = cni_subnet_gateway(subnet, gateway);
        if (r >= 0)
                r = cni_network_name(a->id.realm, a->id.space, net, sizeof(net));
        free(l.items);
        if (r < 0) {
                snprintf(msg, msg_size, "%s", error ? error : strerror(-r));
                return r;
        }
        snprintf(res->rec.subnet, sizeof(res->rec.subnet), "%s", subnet);
        snprintf(res->rec.bridge, sizeof(res->rec.bridge), "%s", bridge);
        snprintf(res->rec.gateway, sizeof(res->rec.gateway), "%s", gateway);
        snprintf(res->rec.network, sizeof(res->rec.network), "%s", net);
        return 1;
}

/* Whether path is <dir>/<network>.conflist, the only file name cni_conflist_write() writes. */
static bool is_default_name(const char *path, const char *network, char *ret_dir, size_t size)
{
        const char *slash = strrchr(path, '/');
        char want[CNI_NETWORK_NAME_MAX + 16];
        snprintf(want, sizeof(want), "%s.conflist", network);
        if (!slash || !streq(slash + 1, want) || (size_t)(slash - path) >= size)
                return false;
        memcpy(ret_dir, path, (size_t)(slash - path));
        ret_dir[slash - path] = '\0';
        return true;
}

static void on_isolation_done(int r, const char *message, char *const *bridges, void *userdata)
{
        ActionCall *c = userdata;
        if (r >= 0)
                c->op->res->has_isolation = true;
        action_call_done(c, r < 0 ? r : 1, message);
}

/* The iptables rules that keep the space's bridge apart from the others (drivers/cni isolation), on the
 * loop's thread pool: iptables blocks. Without iptables the network works, unisolated. */
static int space_isolation_call(Op *op, const Action *a, CniIsolationOp what, cni_isolation_cb cb, char *msg,
                                size_t msg_size)
{
        Daemon *d = op->d;
        char bridge[CNI_BRIDGE_NAME_MAX];
        int r = space_bridge(op->res, bridge);
        if (r < 0)
                return r;
        ActionCall *c = action_call_new(op, a);
        if (!c)
                return -ENOMEM;
        r = cni_isolation_submit(&d->loop, d->iso, what, bridge, cb, c);
        if (r < 0) {
                free(c);
                snprintf(msg, msg_size, "isolation rules of %s: %s", bridge, strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

int action_network_ensure(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        char conf[PATH_MAX], copy[PATH_MAX], dir[PATH_MAX];
        CniNetworkConfig c = {.realm = a->id.realm,
                              .space = a->id.space,
                              .bridge = res->rec.bridge,
                              .subnet = res->rec.subnet};
        json_t *j = NULL;
        int r = cni_conflist_build(&c, &j);
        if (r >= 0)
                r = space_conflist_path(d, res, conf, sizeof(conf));
        if (r >= 0)
                r = space_copy_path(d, &a->id, copy, sizeof(copy));
        res->is_live = true;
        if (r >= 0 && is_default_name(conf, res->rec.network, dir, sizeof(dir))) {
                r = cni_conflist_write(dir, j, copy);
        } else if (r >= 0) {
                /* a spec.cniConfigPath of another name: written the same way, by us */
                _cleanup_free_ char *text = cni_conflist_format(j);
                r = text ? write_file_atomic(conf, text, strlen(text), 0644) : -ENOMEM;
                if (r >= 0)
                        r = write_file_atomic(copy, text, strlen(text), 0644);
        }
        json_decref(j);
        if (r < 0) {
                snprintf(msg, msg_size, "writing the conflist %s: %s", conf, strerror(-r));
                return r;
        }
        (void)str_copy(res->rec.conflist_path, sizeof(res->rec.conflist_path), conf);
        if (!d->iso)
                return 1;
        return space_isolation_call(op, a, CNI_ISOLATION_ENSURE, on_isolation_done, msg, msg_size);
}

/* ---- presumed rules, checked in the background ---- */

bool space_isolation_presume(Daemon *d, Resource *space)
{
        if (!d->iso || space->has_isolation || space->is_isolation_presumed ||
            space->desire != DESIRE_PRESENT)
                return false;
        space->has_isolation = space->is_isolation_presumed = true;
        space->needs_isolation_verify = true;
        d->is_isolation_verify_due = true;
        return true;
}

static void mark_for_verify(Resource *r, void *userdata)
{
        Daemon *d = userdata;
        if (r->id.kind == KIND_SPACE && r->has_isolation) {
                r->needs_isolation_verify = true;
                d->is_isolation_verify_due = true;
        }
}

void space_isolation_verify_all_later(Daemon *d)
{
        if (d->iso)
                resource_foreach(&d->table, mark_for_verify, d);
}

typedef struct Verify {
        Daemon *d;
        ResourceId id;
        char bridge[CNI_BRIDGE_NAME_MAX];
} Verify;

static void on_verify_undone(int r, const char *message, char *const *bridges, void *userdata)
{
        Daemon *d = userdata;
        if (r < 0)
                log_debug(&d->log, "Removing the isolation rules of a space that went meanwhile: %s",
                          message);
}

static void on_verified(int r, const char *message, char *const *bridges, void *userdata)
{
        Verify *v = userdata;
        Daemon *d = v->d;
        char q[320];
        Resource *res = resource_find(&d->table, &v->id);
        resource_qualified(&v->id, q, sizeof(q));
        if (!res || res->desire != DESIRE_PRESENT || !res->has_isolation) {
                /* the space went (or its rules did) while the check ran: what the check added goes too */
                if (r > 0 && !d->is_stopping)
                        (void)cni_isolation_submit(&d->loop, d->iso, CNI_ISOLATION_REMOVE, v->bridge,
                                                   on_verify_undone, d);
        } else if (r < 0) {
                log_warning(&d->log, "Checking the isolation rules of space \"%s\" failed: %s", q, message);
                res->has_isolation = false; /* its next round ensures them, and its status tells */
                if (!d->is_stopping) {
                        daemon_mark_dirty(d, res);
                        daemon_pump(d);
                }
        } else if (r > 0) {
                log_warning(&d->log,
                            "The isolation rules of space \"%s\" (bridge %s) were missing: restored", q,
                            v->bridge);
        }
        free(v);
}

static void verify_one(Resource *r, void *userdata)
{
        Daemon *d = userdata;
        if (r->id.kind != KIND_SPACE || !r->needs_isolation_verify)
                return;
        r->needs_isolation_verify = false;
        Verify *v = r->has_isolation && r->desire == DESIRE_PRESENT ? calloc(1, sizeof(*v)) : NULL;
        if (!v)
                return;
        *v = (Verify){.d = d, .id = r->id};
        if (space_bridge(r, v->bridge) < 0 ||
            cni_isolation_submit(&d->loop, d->iso, CNI_ISOLATION_ENSURE, v->bridge, on_verified, v) < 0)
                free(v);
}

void space_isolation_verify_due(Daemon *d)
{
        if (!d->is_isolation_verify_due || !d->iso)
                return;
        d->is_isolation_verify_due = false;
        resource_foreach(&d->table, verify_one, d);
}

/* After the isolation rules: the bridge, then the conflists and the IPAM state. The conflist goes last:
 * while it is there the space's network "exists", so a failure anywhere is retried. */
static int network_remove_rest(Op *op, const ResourceId *id, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        char conf[PATH_MAX], copy[PATH_MAX], dir[PATH_MAX], net[CNI_NETWORK_NAME_MAX],
                bridge[CNI_BRIDGE_NAME_MAX];
        int r = space_conflist_path(d, res, conf, sizeof(conf));
        if (r >= 0)
                r = space_copy_path(d, id, copy, sizeof(copy));
        if (r >= 0)
                r = cni_network_name(id->realm, id->space, net, sizeof(net));
        if (r >= 0)
                r = space_bridge(res, bridge);
        if (r < 0)
                return r;
        if (res->rec.network[0])
                snprintf(net, sizeof(net), "%s", res->rec.network);
        r = cni_bridge_delete(bridge);
        if (r < 0 && r != -EMEDIUMTYPE) {
                snprintf(msg, msg_size, "deleting the bridge %s: %s", bridge, strerror(-r));
                return r;
        }
        r = cni_ipam_remove(NULL, net);
        if (r < 0) {
                snprintf(msg, msg_size, "removing the IPAM state of %s: %s", net, strerror(-r));
                return r;
        }
        if (is_default_name(conf, net, dir, sizeof(dir))) {
                r = cni_conflist_remove(dir, net, copy);
        } else {
                r = unlink(copy) < 0 && errno != ENOENT ? negative_errno() : 0;
                if (r >= 0 && unlink(conf) < 0 && errno != ENOENT)
                        r = negative_errno();
        }
        if (r < 0)
                snprintf(msg, msg_size, "removing the conflist %s: %s", conf, strerror(-r));
        return r < 0 ? r : 1;
}

static void on_isolation_removed(int r, const char *message, char *const *bridges, void *userdata)
{
        ActionCall *c = userdata;
        char msg[512] = "";
        if (r >= 0) {
                c->op->res->has_isolation = false;
                r = network_remove_rest(c->op, &c->action.id, msg, sizeof(msg));
                message = msg;
        }
        action_call_done(c, r, message);
}

int action_network_remove(Op *op, const Action *a, char *msg, size_t msg_size)
{
        if (!op->d->iso)
                return network_remove_rest(op, &a->id, msg, msg_size);
        return space_isolation_call(op, a, CNI_ISOLATION_REMOVE, on_isolation_removed, msg, msg_size);
}
