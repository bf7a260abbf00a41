/* A cell's network infrastructure: its pinned network namespace and its CNI attachment to its space's
 * network. Containers, tasks and images are not wired yet (actions.c says what is missing). */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"

static void cell_netns_path(Daemon *d, const Resource *cell, char *buf, size_t size)
{
        snprintf(buf, size, "%s/%s", d->config.netns_dir, cell->rec.netns);
}

static void on_netns_created(int r, void *userdata)
{
        ActionCall *c = userdata;
        char m[512] = "";
        res_stamp(c->op->d, c->op->res, "recv netns.Create r=%d", r); /* BENCH STAMP */
        if (r < 0)
                snprintf(m, sizeof(m), "pinning the network namespace %s: %s", c->op->res->rec.netns,
                         strerror(-r));
        action_call_done(c, r < 0 ? r : 1, m);
}

int action_netns_create(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        if (!res->rec.netns[0] && cell_netns_name(&a->id, res->rec.netns, sizeof(res->rec.netns)) < 0)
                return -ENAMETOOLONG;
        res->is_live = true;
        res->rec.ip[0] = '\0'; /* a new namespace has no attachment yet */
        ActionCall *c = action_call_new(op, a);
        if (!c)
                return -ENOMEM;
        res_stamp(d, res, "send netns.Create"); /* BENCH STAMP */
        int r = cni_netns_create_async(&d->loop, d->config.netns_dir, res->rec.netns, on_netns_created, c);
        if (r < 0) {
                free(c);
                snprintf(msg, msg_size, "pinning the network namespace %s: %s", res->rec.netns,
                         strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

int action_netns_delete(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Resource *res = op->res;
        if (!res->rec.netns[0] && cell_netns_name(&a->id, res->rec.netns, sizeof(res->rec.netns)) < 0)
                return -ENAMETOOLONG;
        res_stamp(op->d, res, "send netns.Delete"); /* BENCH STAMP */
        int r = cni_netns_delete(op->d->config.netns_dir, res->rec.netns);
        res_stamp(op->d, res, "recv netns.Delete r=%d", r); /* BENCH STAMP */
        if (r < 0)
                snprintf(msg, msg_size, "unpinning the network namespace %s: %s", res->rec.netns,
                         strerror(-r));
        return r < 0 ? r : 1;
}

/* The conflist of the cell's space, as written. */
static int cell_conflist(Op *op, json_t **ret, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        char path[PATH_MAX];
        Resource *stack = resource_parent(d, op->res);
        Resource *space = stack ? resource_parent(d, stack) : NULL;
        if (!space) {
                snprintf(msg, msg_size, "the cell's space is not known");
                return -ENOENT;
        }
        int r = space_conflist_path(d, space, path, sizeof(path));
        if (r < 0)
                return r;
        _cleanup_free_ char *error = NULL;
        r = cni_conflist_read(path, ret, &error);
        if (r < 0)
                snprintf(msg, msg_size, "reading the space's conflist: %s", error ? error : strerror(-r));
        return r;
}

static void on_cni_done(int r, const char *message, const CniResult *result, void *userdata)
{
        ActionCall *c = userdata;
        Resource *res = c->op->res;
        c->op->cni_op = NULL;
        res_stamp(c->op->d, res, "recv cni.%s r=%d", c->action.type == ACTION_CNI_ADD ? "Add" : "Del",
                  r); /* BENCH STAMP */
        if (r >= 0 && c->action.type == ACTION_CNI_ADD)
                snprintf(res->rec.ip, sizeof(res->rec.ip), "%s", result && result->ip ? result->ip : "");
        if (r >= 0 && c->action.type == ACTION_CNI_DEL)
                res->rec.ip[0] = '\0';
        action_call_done(c, r < 0 ? r : 1, message);
}

static int cni_call(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        json_t *conflist = NULL;
        char netns_path[PATH_MAX];
        if (!res->rec.netns[0] && cell_netns_name(&a->id, res->rec.netns, sizeof(res->rec.netns)) < 0)
                return -ENAMETOOLONG;
        int r = cell_conflist(op, &conflist, msg, msg_size);
        if (r < 0 && a->type == ACTION_CNI_DEL) {
                /* nothing to run the plugins with: the space's network is gone, and with it the IPAM
                 * state that held the address */
                res->rec.ip[0] = '\0';
                return 1;
        }
        if (r < 0)
                return r;
        cell_netns_path(d, res, netns_path, sizeof(netns_path));
        CniRuntime rt = {.plugin_path = d->config.cni_bin_dir,
                         .timeout_ms = (uint64_t)d->config.cni_timeout_ms};
        CniAttachment att = {.container_id = res->rec.netns, .netns_path = netns_path};
        ActionCall *c = action_call_new(op, a);
        if (!c) {
                json_decref(conflist);
                return -ENOMEM;
        }
        res->is_live = true;
        res_stamp(d, res, "send cni.%s", a->type == ACTION_CNI_ADD ? "Add" : "Del"); /* BENCH STAMP */
        if (a->type == ACTION_CNI_ADD)
                r = cni_exec_add(&d->loop, &rt, conflist, &att, on_cni_done, c, &op->cni_op);
        else
                r = cni_exec_del(&d->loop, &rt, conflist, &att, NULL, on_cni_done, c, &op->cni_op);
        json_decref(conflist);
        if (r < 0) {
                free(c);
                snprintf(msg, msg_size, "starting the CNI plugins: %s", strerror(-r));
                return r;
        }
        return ACTION_ASYNC;
}

int action_cni_add(Op *op, const Action *a, char *msg, size_t msg_size)
{
        return cni_call(op, a, msg, msg_size);
}

int action_cni_del(Op *op, const Action *a, char *msg, size_t msg_size)
{
        return cni_call(op, a, msg, msg_size);
}
