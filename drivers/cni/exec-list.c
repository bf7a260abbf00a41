/* ADD, DEL, CHECK and VERSION over a whole conflist: one plugin at a time on the caller's loop, chaining
 * results, reporting once. */
#include <stdio.h>
#include <string.h>

#include "drivers/cni/cni-internal.h"

struct CniOp {
        uv_timer_t kick; /* runs the next step on a later iteration; its close ends the operation */
        CniCommand cmd;  /* of the operation; DEL while an ADD rolls back */
        CniCommand running;
        json_t *conflist;
        size_t n_plugins;
        size_t step;
        size_t n_spawned;
        char *container_id;
        char *netns_path;
        char *ifname;
        char *args;
        json_t *runtime_config;
        json_t *prev_result; /* ADD: the chain so far; DEL and CHECK: the caller's */
        char *plugin_path;
        char *path_env;
        uint64_t timeout_ms;
        CniProc *proc;
        bool cancelled;
        bool finishing;
        int r;
        char *message;
        cni_exec_cb cb;
        void *userdata;
};

static void op_free(CniOp *op)
{
        json_decref(op->conflist);
        json_decref(op->runtime_config);
        json_decref(op->prev_result);
        free(op->container_id);
        free(op->netns_path);
        free(op->ifname);
        free(op->args);
        free(op->plugin_path);
        free(op->path_env);
        free(op->message);
        free(op);
}

/* strdup() that keeps NULL; false only when out of memory. */
static bool dup_opt(const char *s, char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return !s || *ret;
}

/* The same for a JSON value (a deep copy). */
static bool copy_opt(const json_t *j, json_t **ret)
{
        *ret = j ? json_deep_copy(j) : NULL;
        return !j || *ret;
}

/* Copies everything the operation needs from the caller's arguments. */
static bool op_copy_args(CniOp *op, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                         const json_t *prev_result)
{
        if (!copy_opt(conflist, &op->conflist) || !copy_opt(prev_result, &op->prev_result))
                return false;
        if (att &&
            (!copy_opt(att->runtime_config, &op->runtime_config) ||
             !dup_opt(att->container_id, &op->container_id) || !dup_opt(att->netns_path, &op->netns_path) ||
             !dup_opt(att->ifname ? att->ifname : CNI_DEFAULT_IFNAME, &op->ifname) ||
             !dup_opt(att->args, &op->args)))
                return false;
        return !rt || (dup_opt(rt->plugin_path, &op->plugin_path) && dup_opt(rt->path_env, &op->path_env));
}

static int op_new(uv_loop_t *loop, CniCommand cmd, const CniRuntime *rt, const json_t *conflist,
                  const CniAttachment *att, const json_t *prev_result, cni_exec_cb cb, void *userdata,
                  CniOp **ret)
{
        CniOp *op = calloc(1, sizeof(CniOp));
        if (!op)
                return -ENOMEM;
        op->cmd = op->running = cmd;
        op->cb = cb;
        op->userdata = userdata;
        op->timeout_ms = rt && rt->timeout_ms ? rt->timeout_ms : CNI_DEFAULT_TIMEOUT_MS;
        int r = op_copy_args(op, rt, conflist, att, prev_result) ? uv_timer_init(loop, &op->kick) : -ENOMEM;
        if (r < 0) {
                op_free(op);
                return r;
        }
        op->kick.data = op;
        *ret = op;
        return 0;
}

static void on_op_closed(uv_handle_t *h)
{
        CniOp *op = h->data;
        CniResult result = {0};
        char ip[CNI_IP_MAX] = "", gateway[CNI_IP_MAX] = "";
        bool has_result = op->r >= 0 && op->cmd == CNI_CMD_ADD;
        if (has_result) {
                /* checked before finishing: the chain's result has the address */
                (void)cni_result_ipv4(op->prev_result, op->ifname, ip, &result.prefix, gateway);
                result.json = op->prev_result;
                result.ip = ip;
                result.gateway = gateway;
        }
        op->cb(op->r, op->r < 0 && op->message ? op->message : "", has_result ? &result : NULL,
               op->userdata);
        op_free(op);
}

static void op_finish(CniOp *op)
{
        op->finishing = true;
        uv_close((uv_handle_t *)&op->kick, on_op_closed);
}

/* Records the first failure; message is taken (NULL: a generic one from r). */
static void op_fail(CniOp *op, int r, char *message)
{
        if (op->r < 0) {
                free(message);
                return;
        }
        op->r = r;
        op->message = message;
        if (!op->message && asprintf(&op->message, "%s", strerror(-r)) < 0)
                op->message = NULL;
}

static void op_run_next(uv_timer_t *t);

static void op_kick(CniOp *op)
{
        int r = uv_timer_start(&op->kick, op_run_next, 0, 0);
        if (r < 0) {
                op_fail(op, r, NULL);
                op_finish(op);
        }
}

/* The plugin index of the current step: DEL walks the list backwards. */
static size_t op_index(const CniOp *op)
{
        return op->running == CNI_CMD_DEL ? op->n_plugins - 1 - op->step : op->step;
}

static const char *op_plugin_type(const CniOp *op)
{
        json_t *plugin = json_array_get(json_object_get(op->conflist, "plugins"), op_index(op));
        return json_string_value(json_object_get(plugin, "type"));
}

/* After an ADD failed: DEL over the whole list, then report the ADD's error. */
static void op_rollback(CniOp *op)
{
        if (op->cmd != CNI_CMD_ADD || op->running != CNI_CMD_ADD || op->n_spawned == 0 || op->cancelled) {
                op_finish(op);
                return;
        }
        op->running = CNI_CMD_DEL;
        op->step = 0;
        json_decref(op->prev_result);
        op->prev_result = NULL;
        op_kick(op);
}

/* One plugin's outcome, by command. Returns 0 to go on, < 0 when the operation failed. */
static int op_take_outcome(CniOp *op, const char *type, const CniProcOutcome *o)
{
        _cleanup_json_ json_t *j = NULL;
        char *message = NULL;
        int r = cni_outcome_parse(type, op->running, op->timeout_ms, o, &j, &message);
        if (r == -ENOENT && op->running == CNI_CMD_DEL && o->spawn_error == 0 && o->exit_status != 0) {
                free(message); /* "container unknown": nothing left to delete */
                return 0;
        }
        if (r < 0) {
                op_fail(op, r, message);
                return r;
        }
        if (op->running == CNI_CMD_ADD) {
                json_decref(op->prev_result);
                op->prev_result = TAKE_PTR(j);
        } else if (op->running == CNI_CMD_VERSION) {
                const char *want = json_string_value(json_object_get(op->conflist, "cniVersion"));
                if (!cni_version_supported(j, want)) {
                        _cleanup_free_ char *have =
                                json_dumps(json_object_get(j, "supportedVersions"), JSON_COMPACT);
                        if (asprintf(&message, "%s: does not support CNI %s (supports %s)", type, want,
                                     have ? have : "nothing") < 0)
                                message = NULL;
                        op_fail(op, -EPROTONOSUPPORT, message);
                        return -EPROTONOSUPPORT;
                }
        }
        return 0;
}

static void on_plugin_done(const CniProcOutcome *o, void *userdata)
{
        CniOp *op = userdata;
        op->proc = NULL;
        int r = op_take_outcome(op, op_plugin_type(op), o);
        op->step++;
        if (op->cancelled) {
                op_fail(op, -ECANCELED, NULL);
                op_finish(op);
        } else if (r < 0 && op->running == CNI_CMD_ADD)
                op_rollback(op);
        else if (r < 0 && op->running != CNI_CMD_DEL)
                op_finish(op);
        else
                op_kick(op); /* DEL goes on after a failure, and so does an ADD's rollback */
}

/* The ADD's final result must name the address the daemon records. */
static void op_check_add_result(CniOp *op)
{
        char ip[CNI_IP_MAX], gateway[CNI_IP_MAX];
        unsigned prefix;
        if (cni_result_ipv4(op->prev_result, op->ifname, ip, &prefix, gateway) >= 0)
                return;
        char *message = NULL;
        if (asprintf(&message, "the result of the plugins has no IPv4 address for %s", op->ifname) < 0)
                message = NULL;
        op_fail(op, -EBADMSG, message);
}

/* Environment, stdin and binary of the current step, then the spawn. */
static int op_spawn_step(CniOp *op)
{
        const char *type = op_plugin_type(op);
        _cleanup_free_ char *file = NULL;
        int r = cni_plugin_find(op->plugin_path, type, &file);
        if (r < 0) {
                char *message = NULL;
                if (asprintf(&message, "plugin \"%s\" not found in %s", type,
                             op->plugin_path ? op->plugin_path : CNI_DEFAULT_PLUGIN_PATH) < 0)
                        message = NULL;
                op_fail(op, r, message);
                return r;
        }

        CniAttachment att = {.container_id = op->container_id,
                             .netns_path = op->netns_path,
                             .ifname = op->ifname,
                             .args = op->args};
        /* DEL without a namespace: the plugins release what they hold outside it */
        if (op->running == CNI_CMD_DEL && att.netns_path && cni_netns_path_check(att.netns_path) <= 0)
                att.netns_path = NULL;
        _cleanup_strv_ char **env = NULL;
        r = cni_env_build(op->running, &att, op->plugin_path, op->path_env, &env);
        if (r < 0) {
                op_fail(op, r, NULL);
                return r;
        }

        _cleanup_json_ json_t *config = NULL;
        if (op->running == CNI_CMD_VERSION)
                config = json_pack("{s:O}", "cniVersion", json_object_get(op->conflist, "cniVersion"));
        else if (cni_plugin_config(op->conflist, op_index(op), op->prev_result, op->runtime_config,
                                   &config) < 0)
                config = NULL;
        _cleanup_free_ char *input = config ? json_dumps(config, JSON_COMPACT) : NULL;
        if (!input) {
                op_fail(op, -ENOMEM, NULL);
                return -ENOMEM;
        }
        r = cni_proc_spawn(uv_handle_get_loop((uv_handle_t *)&op->kick), file, env, input, strlen(input),
                           op->timeout_ms, on_plugin_done, op, &op->proc);
        if (r < 0) {
                op_fail(op, r, NULL);
                return r;
        }
        op->n_spawned++;
        return 0;
}

static void op_run_next(uv_timer_t *t)
{
        CniOp *op = t->data;
        if (op->cancelled) {
                op_fail(op, -ECANCELED, NULL);
                op_finish(op);
                return;
        }
        if (op->step == op->n_plugins) {
                if (op->running == CNI_CMD_ADD)
                        op_check_add_result(op);
                if (op->r < 0)
                        op_rollback(op);
                else
                        op_finish(op);
                return;
        }
        if (op_spawn_step(op) >= 0)
                return;
        /* the plugin never ran: DEL goes on with the next one, the others end (an ADD rolls back what
         * the plugins before it did) */
        op->step++;
        if (op->running == CNI_CMD_DEL)
                op_kick(op);
        else if (op->running == CNI_CMD_ADD)
                op_rollback(op);
        else
                op_finish(op);
}

static int op_start(uv_loop_t *loop, CniCommand cmd, const CniRuntime *rt, const json_t *conflist,
                    const CniAttachment *att, const json_t *prev_result, cni_exec_cb cb, void *userdata,
                    CniOp **ret_op)
{
        if (!loop || !conflist || !cb || (cmd != CNI_CMD_VERSION && (!att || !att->container_id)) ||
            ((cmd == CNI_CMD_ADD || cmd == CNI_CMD_CHECK) && !att->netns_path) ||
            (cmd == CNI_CMD_CHECK && !prev_result))
                return -EINVAL;
        CniOp *op = NULL;
        int r = op_new(loop, cmd, rt, conflist, att, prev_result, cb, userdata, &op);
        if (r < 0)
                return r;
        char *message = NULL;
        if (cni_conflist_check_shape(op->conflist, &message) < 0) {
                op_fail(op, -EINVAL, message);
                op_finish(op);
        } else {
                op->n_plugins = json_array_size(json_object_get(op->conflist, "plugins"));
                if (cmd == CNI_CMD_CHECK && json_is_true(json_object_get(op->conflist, "disableCheck")))
                        op_finish(op);
                else
                        op_kick(op);
        }
        if (ret_op)
                *ret_op = op;
        return 0;
}

int cni_exec_add(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                 cni_exec_cb cb, void *userdata, CniOp **ret_op)
{
        return op_start(loop, CNI_CMD_ADD, rt, conflist, att, NULL, cb, userdata, ret_op);
}

int cni_exec_del(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                 const json_t *prev_result, cni_exec_cb cb, void *userdata, CniOp **ret_op)
{
        return op_start(loop, CNI_CMD_DEL, rt, conflist, att, prev_result, cb, userdata, ret_op);
}

int cni_exec_check(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                   const json_t *prev_result, cni_exec_cb cb, void *userdata, CniOp **ret_op)
{
        return op_start(loop, CNI_CMD_CHECK, rt, conflist, att, prev_result, cb, userdata, ret_op);
}

int cni_exec_version(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, cni_exec_cb cb,
                     void *userdata, CniOp **ret_op)
{
        return op_start(loop, CNI_CMD_VERSION, rt, conflist, NULL, NULL, cb, userdata, ret_op);
}

void cni_op_cancel(CniOp *op)
{
        if (op->cancelled || op->finishing)
                return;
        op->cancelled = true;
        if (op->proc)
                cni_proc_cancel(op->proc);
}
