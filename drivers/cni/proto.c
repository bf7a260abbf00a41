/* The CNI 1.0 protocol, pure parts: what a plugin gets (environment, network configuration) and what its
 * output means (result, error object, anything else). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "drivers/cni/cni-internal.h"

#define DEFAULT_PATH_ENV "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define STDERR_TAIL      400 /* bytes of stderr quoted in a message */

static const char *const command_table[_CNI_CMD_MAX] = {
        [CNI_CMD_ADD] = "ADD",
        [CNI_CMD_DEL] = "DEL",
        [CNI_CMD_CHECK] = "CHECK",
        [CNI_CMD_VERSION] = "VERSION",
};

const char *cni_command_to_string(CniCommand c)
{
        return c >= 0 && c < _CNI_CMD_MAX ? command_table[c] : NULL;
}

int cni_error_to_errno(int64_t code)
{
        switch (code) {
        case 1:
                return -EPROTONOSUPPORT;
        case 2:
                return -EOPNOTSUPP;
        case 3:
                return -ENOENT;
        case 4:
        case 7:
                return -EINVAL;
        case 6:
                return -EBADMSG;
        case 11:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

bool cni_container_id_is_valid(const char *id)
{
        static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        if (!id || strspn(id, alnum) == 0)
                return false;
        return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == strlen(id);
}

static int strv_push(char ***v, size_t *n, const char *fmt, ...) _printf_(3, 4);
static int strv_push(char ***v, size_t *n, const char *fmt, ...)
{
        char **grown = realloc(*v, (*n + 2) * sizeof(char *));
        if (!grown)
                return -ENOMEM;
        *v = grown;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&grown[*n], fmt, ap);
        va_end(ap);
        if (k < 0) {
                grown[*n] = NULL;
                return -ENOMEM;
        }
        grown[++*n] = NULL;
        return 0;
}

/* No ';' or '=' oddities are checked in CNI_ARGS: the plugins parse it; no control characters though. */
static bool env_value_is_clean(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < ' ')
                        return false;
        return true;
}

int cni_env_build(CniCommand cmd, const CniAttachment *att, const char *plugin_path, const char *path_env,
                  char ***ret)
{
        const char *cmd_name = cni_command_to_string(cmd);
        if (!cmd_name)
                return -EINVAL;
        plugin_path = plugin_path ? plugin_path : CNI_DEFAULT_PLUGIN_PATH;
        path_env = path_env ? path_env : DEFAULT_PATH_ENV;

        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        int r = strv_push(&v, &n, "CNI_COMMAND=%s", cmd_name);
        if (r >= 0 && cmd != CNI_CMD_VERSION) {
                const char *ifname = att->ifname ? att->ifname : CNI_DEFAULT_IFNAME;
                if (!cni_container_id_is_valid(att->container_id) || !cni_ifname_is_valid(ifname) ||
                    (cmd != CNI_CMD_DEL && !att->netns_path) ||
                    (att->netns_path &&
                     (att->netns_path[0] != '/' || !env_value_is_clean(att->netns_path))) ||
                    (att->args && !env_value_is_clean(att->args)))
                        return -EINVAL;
                r = strv_push(&v, &n, "CNI_CONTAINERID=%s", att->container_id);
                if (r >= 0 && att->netns_path)
                        r = strv_push(&v, &n, "CNI_NETNS=%s", att->netns_path);
                if (r >= 0)
                        r = strv_push(&v, &n, "CNI_IFNAME=%s", ifname);
                if (r >= 0 && att->args)
                        r = strv_push(&v, &n, "CNI_ARGS=%s", att->args);
        }
        if (r >= 0)
                r = strv_push(&v, &n, "CNI_PATH=%s", plugin_path);
        if (r >= 0)
                r = strv_push(&v, &n, "PATH=%s", path_env);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

static int shape_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int shape_error(char **ret_error, const char *fmt, ...)
{
        if (ret_error) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return -EINVAL;
}

int cni_conflist_check_shape(const json_t *conflist, char **ret_error)
{
        if (ret_error)
                *ret_error = NULL;
        if (!json_is_object(conflist))
                return shape_error(ret_error, "conflist: expected an object");
        if (!json_is_string(json_object_get(conflist, "name")))
                return shape_error(ret_error, "conflist: name: expected a string");
        if (!json_is_string(json_object_get(conflist, "cniVersion")))
                return shape_error(ret_error, "conflist: cniVersion: expected a string");
        json_t *plugins = json_object_get(conflist, "plugins");
        if (!json_is_array(plugins) || json_array_size(plugins) == 0)
                return shape_error(ret_error, "conflist: plugins: expected a non-empty array");
        size_t i;
        json_t *p;
        json_array_foreach (plugins, i, p) {
                const char *type = json_string_value(json_object_get(p, "type"));
                if (!json_is_object(p) || !type || !*type || strchr(type, '/') || type[0] == '.')
                        return shape_error(ret_error, "conflist: plugins[%zu].type: expected a plugin name",
                                           i);
        }
        return 0;
}

int cni_plugin_config(const json_t *conflist, size_t i, const json_t *prev_result,
                      const json_t *runtime_config, json_t **ret)
{
        const json_t *plugin = json_array_get(json_object_get(conflist, "plugins"), i);
        _cleanup_json_ json_t *c = json_deep_copy(plugin);
        if (!c)
                return -ENOMEM;
        if (json_object_set(c, "cniVersion", json_object_get(conflist, "cniVersion")) < 0 ||
            json_object_set(c, "name", json_object_get(conflist, "name")) < 0)
                return -ENOMEM;
        if (prev_result && json_object_set_new(c, "prevResult", json_deep_copy(prev_result)) < 0)
                return -ENOMEM;

        json_t *caps = json_object_get(plugin, "capabilities");
        _cleanup_json_ json_t *rc = json_object();
        if (!rc)
                return -ENOMEM;
        const char *key;
        json_t *on;
        json_object_foreach (caps, key, on) {
                json_t *v = json_object_get(runtime_config, key);
                if (json_is_true(on) && v && json_object_set_new(rc, key, json_deep_copy(v)) < 0)
                        return -ENOMEM;
        }
        if (json_object_size(rc) > 0 && json_object_set(c, "runtimeConfig", rc) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* The last non-empty line of a plugin's stderr, at most STDERR_TAIL bytes of it. */
static void stderr_tail(const CniProcOutcome *o, char ret[static STDERR_TAIL + 1])
{
        size_t end = o->err_len;
        while (end > 0 && (o->err[end - 1] == '\n' || o->err[end - 1] == '\r' || o->err[end - 1] == ' '))
                end--;
        size_t start = end;
        while (start > 0 && o->err[start - 1] != '\n' && end - start < STDERR_TAIL)
                start--;
        memcpy(ret, o->err + start, end - start);
        ret[end - start] = '\0';
}

static int outcome_fail(char **ret_message, int r, const char *plugin, const CniProcOutcome *o,
                        const char *fmt, ...) _printf_(5, 6);
static int outcome_fail(char **ret_message, int r, const char *plugin, const CniProcOutcome *o,
                        const char *fmt, ...)
{
        char tail[STDERR_TAIL + 1];
        stderr_tail(o, tail);
        _cleanup_free_ char *what = NULL;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&what, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        if (asprintf(ret_message, "%s: %s%s%s", plugin, what, *tail ? ": " : "", tail) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return r;
}

/* A CNI error object: {"cniVersion", "code", "msg", "details"}. */
static int error_object(const char *plugin, const json_t *j, char **ret_message)
{
        json_t *code = json_object_get(j, "code");
        const char *msg = json_string_value(json_object_get(j, "msg"));
        const char *details = json_string_value(json_object_get(j, "details"));
        if (!json_is_integer(code))
                return 0;
        int r = cni_error_to_errno(json_integer_value(code));
        bool has_details = details && *details && !streq_ptr(details, msg);
        if (asprintf(ret_message, "%s: %s%s%s (CNI error %lld)", plugin, msg && *msg ? msg : "failed",
                     has_details ? ": " : "", has_details ? details : "",
                     (long long)json_integer_value(code)) < 0) {
                *ret_message = NULL;
                return -ENOMEM;
        }
        return r;
}

int cni_outcome_parse(const char *plugin, CniCommand cmd, uint64_t timeout_ms, const CniProcOutcome *o,
                      json_t **ret_json, char **ret_message)
{
        *ret_message = NULL;
        if (ret_json)
                *ret_json = NULL;
        if (o->spawn_error < 0)
                return outcome_fail(ret_message, o->spawn_error, plugin, o, "cannot execute: %s",
                                    strerror(-o->spawn_error));
        if (o->cancelled)
                return outcome_fail(ret_message, -ECANCELED, plugin, o, "cancelled");
        if (o->timed_out)
                return outcome_fail(ret_message, -ETIMEDOUT, plugin, o,
                                    "%s did not finish within %llu ms, killed", cni_command_to_string(cmd),
                                    (unsigned long long)timeout_ms);
        if (o->truncated)
                return outcome_fail(ret_message, -E2BIG, plugin, o, "printed more than %u bytes",
                                    CNI_STDOUT_MAX);

        _cleanup_json_ json_t *j = o->out_len > 0 ? json_loadb(o->out, o->out_len, 0, NULL) : NULL;
        if (o->term_signal > 0)
                return outcome_fail(ret_message, -EIO, plugin, o, "killed by signal %d", o->term_signal);
        if (o->exit_status != 0) {
                int r = json_is_object(j) ? error_object(plugin, j, ret_message) : 0;
                if (r < 0)
                        return r;
                return outcome_fail(ret_message, -EIO, plugin, o,
                                    "exited with status %lld without a CNI error",
                                    (long long)o->exit_status);
        }
        if (cmd == CNI_CMD_DEL || cmd == CNI_CMD_CHECK)
                return 0;
        if (!json_is_object(j))
                return outcome_fail(ret_message, -EBADMSG, plugin, o, "%s printed %s",
                                    cni_command_to_string(cmd),
                                    o->out_len ? "something that is not a JSON object" : "nothing");
        if (ret_json)
                *ret_json = TAKE_PTR(j);
        return 0;
}

/* "10.88.0.2/24" into address and prefix. */
static int ipv4_cidr_split(const char *s, char ret_ip[static CNI_IP_MAX], unsigned *ret_prefix)
{
        Ipv4Cidr c;
        if (ipv4_cidr_parse(s, &c) < 0)
                return -EINVAL;
        size_t n = (size_t)(strchr(s, '/') - s);
        memcpy(ret_ip, s, n);
        ret_ip[n] = '\0';
        *ret_prefix = c.prefix;
        return 0;
}

/* The name and sandbox of interfaces[ip.interface], or NULLs. */
static void ip_interface(const json_t *result, const json_t *ip, const char **ret_name,
                         const char **ret_sandbox)
{
        json_t *idx = json_object_get(ip, "interface");
        json_t *iface = json_is_integer(idx) && json_integer_value(idx) >= 0
                                ? json_array_get(json_object_get(result, "interfaces"),
                                                 (size_t)json_integer_value(idx))
                                : NULL;
        *ret_name = json_string_value(json_object_get(iface, "name"));
        *ret_sandbox = json_string_value(json_object_get(iface, "sandbox"));
}

int cni_result_ipv4(const json_t *result, const char *ifname, char ret_ip[static CNI_IP_MAX],
                    unsigned *ret_prefix, char ret_gateway[static CNI_IP_MAX])
{
        ifname = ifname ? ifname : CNI_DEFAULT_IFNAME;
        const json_t *best = NULL;
        int best_rank = 0;
        size_t i;
        json_t *ip;
        json_array_foreach (json_object_get(result, "ips"), i, ip) {
                Ipv4Cidr c;
                if (ipv4_cidr_parse(json_string_value(json_object_get(ip, "address")), &c) < 0)
                        continue; /* IPv6, or not an address */
                const char *name, *sandbox;
                ip_interface(result, ip, &name, &sandbox);
                bool in_sandbox = sandbox && *sandbox;
                int rank = in_sandbox && streq_ptr(name, ifname) ? 3 : in_sandbox ? 2 : 1;
                if (rank > best_rank) {
                        best = ip;
                        best_rank = rank;
                }
        }
        if (!best)
                return -ENOENT;
        if (ipv4_cidr_split(json_string_value(json_object_get(best, "address")), ret_ip, ret_prefix) < 0)
                return -ENOENT;
        const char *gw = json_string_value(json_object_get(best, "gateway"));
        struct in_addr in;
        if (gw && inet_pton(AF_INET, gw, &in) == 1)
                snprintf(ret_gateway, CNI_IP_MAX, "%s", gw);
        else
                ret_gateway[0] = '\0';
        return 0;
}

bool cni_version_supported(const json_t *answer, const char *version)
{
        size_t i;
        json_t *v;
        json_array_foreach (json_object_get(answer, "supportedVersions"), i, v) {
                if (streq_ptr(json_string_value(v), version))
                        return true;
        }
        return false;
}
