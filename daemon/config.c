/* kukeond's configuration layers: flags > environment > file > defaults. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "common/buf.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "state/ynode.h"

#define CONFIG_FILE_MAX (64 * 1024)

typedef struct OptionDef {
        const char *flag;
        const char *key;
        const char *env;
        const char *def;
        const char *help;
} OptionDef;

static const OptionDef options[_OPT_MAX] = {
        [OPT_RUN_PATH] = {"run-path", "runPath", "KUKEOND_RUN_PATH", "/opt/kukeon",
                          "the run path: manifests and status files"},
        [OPT_CONTAINERD_SOCKET] = {"containerd-socket", "containerdSocket", "KUKEOND_CONTAINERD_SOCKET",
                                   "/run/containerd/containerd.sock", "containerd's gRPC socket"},
        [OPT_STATE_DIR] = {"state-dir", "stateDir", "KUKEOND_STATE_DIR", "/run/kukeon",
                           "the pid lock and kukeond.yaml"},
        [OPT_CGROUP_ROOT] = {"cgroup-root", "cgroupRoot", "KUKEOND_CGROUP_ROOT", "kukeon",
                             "top cgroup directory of every hierarchy"},
        [OPT_CNI_CONF_DIR] = {"cni-conf-dir", "cniConfDir", "KUKEOND_CNI_CONF_DIR", "/etc/cni/net.d",
                              "where the spaces' conflists are written"},
        [OPT_CNI_BIN_DIR] = {"cni-bin-dir", "cniBinDir", "KUKEOND_CNI_BIN_DIR", "/opt/cni/bin:/usr/lib/cni",
                             "CNI plugin directories, ':'-separated"},
        [OPT_NETNS_DIR] = {"netns-dir", "netnsDir", "KUKEOND_NETNS_DIR", "/run/netns",
                           "where the cells' network namespaces are pinned"},
        [OPT_SUBNET_POOL] = {"subnet-pool", "subnetPool", "KUKEOND_SUBNET_POOL", "10.88.0.0/16",
                             "the pool spaces get a /24 from"},
        [OPT_RESYNC_INTERVAL] = {"resync-interval", "resyncInterval", "KUKEOND_RESYNC_INTERVAL", "5m",
                                 "full resync period (0: off)"},
        [OPT_LOG_LEVEL] = {"log-level", "logLevel", "KUKEOND_LOG_LEVEL", "info",
                           "error, warning, notice, info or debug"},
        [OPT_RUNC_ROOT] = {"runc-root", "runcRoot", "KUKEOND_RUNC_ROOT", "",
                           "private runc state root (empty: containerd's)"},
        [OPT_CNI_TIMEOUT] = {"cni-timeout", "cniTimeout", "KUKEOND_CNI_TIMEOUT", "60s",
                             "how long one CNI plugin may run before it is killed"},
};

const char *config_option_flag(ConfigOption o)
{
        return o >= 0 && o < _OPT_MAX ? options[o].flag : NULL;
}

const char *config_option_key(ConfigOption o)
{
        return o >= 0 && o < _OPT_MAX ? options[o].key : NULL;
}

const char *config_option_env(ConfigOption o)
{
        return o >= 0 && o < _OPT_MAX ? options[o].env : NULL;
}

const char *config_usage(void)
{
        return "Usage: kukeond [OPTIONS]\n"
               "\n"
               "The Kukeon reconciler: watches the run path and makes the tree real.\n"
               "\n"
               "Options (each also KUKEOND_<NAME> in the environment and <name> in the config file):\n"
               "      --config FILE              a DaemonConfig YAML file (KUKEOND_CONFIG)\n"
               "      --run-path PATH            default /opt/kukeon\n"
               "      --containerd-socket PATH   default /run/containerd/containerd.sock\n"
               "      --state-dir DIR            default /run/kukeon (pid lock, kukeond.yaml)\n"
               "      --cgroup-root NAME         default kukeon\n"
               "      --cni-conf-dir DIR         default /etc/cni/net.d\n"
               "      --cni-bin-dir PATHS        default /opt/cni/bin:/usr/lib/cni\n"
               "      --netns-dir DIR            default /run/netns\n"
               "      --subnet-pool CIDR         default 10.88.0.0/16\n"
               "      --resync-interval DURATION default 5m (0: off)\n"
               "      --log-level LEVEL          error, warning, notice, info (default), debug\n"
               "      --runc-root DIR            private runc state root (default: containerd's)\n"
               "      --cni-timeout DURATION     default 60s: a CNI plugin running longer is killed\n"
               "  -h, --help                     show this help\n"
               "  -V, --version                  show the version\n"
               "\n"
               "Signals: SIGTERM/SIGINT stop (containers keep running), SIGHUP reloads the config file.\n";
}

static int set_str(char **p, const char *v)
{
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

static int error_printf(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int error_printf(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        if (ret_error && vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

int config_parse_args(int argc, char **argv, ConfigSources *src, char **ret_error)
{
        enum { ARG_CONFIG = 0x100, ARG_FIRST_OPTION = 0x200 };
        struct option long_options[_OPT_MAX + 4];
        size_t n = 0;
        for (int i = 0; i < _OPT_MAX; i++)
                long_options[n++] =
                        (struct option){options[i].flag, required_argument, NULL, ARG_FIRST_OPTION + i};
        long_options[n++] = (struct option){"config", required_argument, NULL, ARG_CONFIG};
        long_options[n++] = (struct option){"help", no_argument, NULL, 'h'};
        long_options[n++] = (struct option){"version", no_argument, NULL, 'V'};
        long_options[n] = (struct option){0};

        int c, command = CONFIG_RUN;
        optind = 0; /* GNU: start over (tests parse more than once) */
        opterr = 0;
        while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) >= 0) {
                if (c == 'h' || c == 'V') {
                        command = c == 'h' ? CONFIG_HELP : CONFIG_VERSION;
                } else if (c == ARG_CONFIG) {
                        if (set_str(&src->config_file, optarg) < 0)
                                return -ENOMEM;
                } else if (c >= ARG_FIRST_OPTION && c < ARG_FIRST_OPTION + _OPT_MAX) {
                        if (set_str(&src->flags[c - ARG_FIRST_OPTION], optarg) < 0)
                                return -ENOMEM;
                } else if (c == ':') {
                        return error_printf(ret_error, -EINVAL, "%s: needs a value", argv[optind - 1]);
                } else {
                        return error_printf(ret_error, -EINVAL, "%s: unknown option", argv[optind - 1]);
                }
        }
        if (optind < argc)
                return error_printf(ret_error, -EINVAL, "%s: unexpected argument", argv[optind]);
        return command;
}

static const char *env_lookup(char *const *envp, const char *name)
{
        size_t len = strlen(name);
        for (; envp && *envp; envp++)
                if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
                        return *envp + len + 1;
        return NULL;
}

int config_read_env(ConfigSources *src, char *const *envp)
{
        for (int i = 0; i < _OPT_MAX; i++) {
                const char *v = env_lookup(envp, options[i].env);
                if (!v && i == OPT_RUN_PATH)
                        v = env_lookup(envp, "KUKEON_RUN_PATH");
                if (!v && i == OPT_STATE_DIR)
                        v = env_lookup(envp, "KUKEON_STATE_DIR");
                if (v && set_str(&src->env[i], v) < 0)
                        return -ENOMEM;
        }
        const char *f = env_lookup(envp, "KUKEOND_CONFIG");
        if (f && !src->config_file && set_str(&src->config_file, f) < 0)
                return -ENOMEM;
        return 0;
}

int config_parse_duration(const char *s, int64_t *ret_ms)
{
        static const struct {
                const char *unit;
                int64_t ms;
        } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
        int64_t total = 0;
        const char *p = s;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (!*end) { /* a plain number: seconds */
                if (errno || v > INT32_MAX)
                        return -EINVAL;
                *ret_ms = (int64_t)v * 1000;
                return 0;
        }
        while (*p) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                errno = 0;
                v = strtoll(p, &end, 10);
                if (errno || v > INT32_MAX)
                        return -EINVAL;
                p = end;
                int64_t mult = 0;
                for (size_t i = 0; i < ARRAY_SIZE(units) && !mult; i++) {
                        size_t ul = strlen(units[i].unit);
                        if (strncmp(p, units[i].unit, ul) == 0) {
                                mult = units[i].ms;
                                p += ul;
                        }
                }
                if (!mult)
                        return -EINVAL;
                total += (int64_t)v * mult;
        }
        *ret_ms = total;
        return 0;
}

/* One value of the file layer, with its position for messages. */
typedef struct FileValue {
        char *value;
        unsigned line, col;
} FileValue;

static int file_option(const char *key)
{
        for (int i = 0; i < _OPT_MAX; i++)
                if (streq(key, options[i].key) || streq(key, options[i].flag))
                        return i;
        return -ENOENT;
}

static int read_small_file(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        Buf b = BUF_INIT;
        char chunk[4096];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0) {
                        int r = negative_errno();
                        buf_done(&b);
                        return r;
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > CONFIG_FILE_MAX) {
                        buf_done(&b);
                        return -EFBIG;
                }
                if (buf_append(&b, chunk, (size_t)n) < 0) {
                        buf_done(&b);
                        return -ENOMEM;
                }
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int file_error(char **ret_error, const char *file, const YNode *n, const char *key, const char *msg)
{
        return error_printf(ret_error, -EINVAL, "%s:%u:%u: %s%s%s", file, n ? n->line : 1, n ? n->col : 1,
                            key ? key : "", key ? ": " : "", msg);
}

/* The mapping of a DaemonConfig document into values[]. */
static int file_decode(const char *file, const YNode *root, FileValue values[_OPT_MAX], char **ret_error)
{
        if (!root || root->type != YNODE_MAPPING)
                return file_error(ret_error, file, root, NULL, "expected a mapping (kind: DaemonConfig)");
        const YNode *kind = ynode_get(root, "kind");
        if (!kind || kind->type != YNODE_SCALAR || !streq(kind->value, "DaemonConfig"))
                return file_error(ret_error, file, kind ? kind : root, "kind", "expected DaemonConfig");
        for (size_t i = 0; i < root->n; i++) {
                const YNode *k = root->keys[i], *v = root->items[i];
                if (streq(k->value, "kind") || streq(k->value, "apiVersion"))
                        continue;
                int o = file_option(k->value);
                if (o < 0)
                        return file_error(ret_error, file, k, k->value, "unknown field");
                if (v->type != YNODE_SCALAR)
                        return file_error(ret_error, file, v, k->value, "expected a scalar");
                free(values[o].value);
                values[o] = (FileValue){.value = strdup(v->value), .line = v->line, .col = v->col};
                if (!values[o].value)
                        return -ENOMEM;
        }
        return 0;
}

static int file_load(const char *file, FileValue values[_OPT_MAX], char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_small_file(file, &buf, &len);
        if (r < 0)
                return error_printf(ret_error, r, "%s: cannot read the config file: %s", file, strerror(-r));
        YStream ys = {0};
        if ((r = ystream_parse(buf, len, file, &ys)) < 0)
                return r;
        if (ys.n != 1 || diag_is_set(&ys.docs[0].diag)) {
                _cleanup_free_ char *m = ys.n ? diag_format(&ys.docs[ys.n - 1].diag) : NULL;
                r = m && diag_is_set(&ys.docs[ys.n - 1].diag)
                            ? error_printf(ret_error, -EINVAL, "%s", m)
                            : error_printf(ret_error, -EINVAL, "%s: expected exactly one document", file);
        } else {
                r = file_decode(file, ys.docs[0].root, values, ret_error);
        }
        ystream_done(&ys);
        return r;
}

/* Checks and stores one merged value. source names where it came from, for the message. */
static int config_set(DaemonConfig *c, int o, const char *v, const char *source, char **ret_error)
{
        char *const *fields[_OPT_MAX] = {
                [OPT_RUN_PATH] = &c->run_path,         [OPT_CONTAINERD_SOCKET] = &c->containerd_socket,
                [OPT_STATE_DIR] = &c->state_dir,       [OPT_CGROUP_ROOT] = &c->cgroup_root,
                [OPT_CNI_CONF_DIR] = &c->cni_conf_dir, [OPT_CNI_BIN_DIR] = &c->cni_bin_dir,
                [OPT_NETNS_DIR] = &c->netns_dir,       [OPT_SUBNET_POOL] = &c->subnet_pool,
                [OPT_RUNC_ROOT] = &c->runc_root,
        };
        if (o == OPT_RESYNC_INTERVAL) {
                if (config_parse_duration(v, &c->resync_interval_ms) < 0)
                        return error_printf(ret_error, -EINVAL, "%s: invalid duration \"%s\"", source, v);
                return 0;
        }
        if (o == OPT_CNI_TIMEOUT) {
                if (config_parse_duration(v, &c->cni_timeout_ms) < 0 || c->cni_timeout_ms <= 0)
                        return error_printf(ret_error, -EINVAL, "%s: invalid duration \"%s\" (above 0)",
                                            source, v);
                return 0;
        }
        if (o == OPT_LOG_LEVEL) {
                int l = log_level_from_string(v);
                if (l < 0)
                        return error_printf(
                                ret_error, -EINVAL,
                                "%s: invalid log level \"%s\" (error, warning, notice, info, debug)", source,
                                v);
                c->log_level = l;
                return 0;
        }
        bool is_path =
                o != OPT_CGROUP_ROOT && o != OPT_SUBNET_POOL && o != OPT_CNI_BIN_DIR && o != OPT_RUNC_ROOT;
        if ((is_path && v[0] != '/') || (o == OPT_RUNC_ROOT && v[0] && v[0] != '/'))
                return error_printf(ret_error, -EINVAL, "%s: expected an absolute path, got \"%s\"", source,
                                    v);
        if (o == OPT_CGROUP_ROOT && (!v[0] || strchr(v, '/') || v[0] == '.'))
                return error_printf(ret_error, -EINVAL, "%s: expected one directory name, got \"%s\"",
                                    source, v);
        if (o != OPT_RUNC_ROOT && !v[0])
                return error_printf(ret_error, -EINVAL, "%s: must not be empty", source);
        return set_str((char **)fields[o], v);
}

int config_load(const ConfigSources *src, DaemonConfig *ret, char **ret_error)
{
        FileValue file[_OPT_MAX] = {0};
        DaemonConfig c = {0};
        int r = 0;

        if (src->config_file)
                r = file_load(src->config_file, file, ret_error);
        if (r >= 0 && src->config_file)
                r = set_str(&c.config_file, src->config_file);
        for (int o = 0; o < _OPT_MAX && r >= 0; o++) {
                char source[PATH_MAX + 96];
                const char *v;
                if ((v = src->flags[o])) {
                        snprintf(source, sizeof(source), "--%s", options[o].flag);
                } else if ((v = src->env[o])) {
                        snprintf(source, sizeof(source), "%s", options[o].env);
                } else if ((v = file[o].value)) {
                        snprintf(source, sizeof(source), "%s:%u:%u: %s", src->config_file, file[o].line,
                                 file[o].col, options[o].key);
                } else {
                        v = options[o].def;
                        snprintf(source, sizeof(source), "default of --%s", options[o].flag);
                }
                r = config_set(&c, o, v, source, ret_error);
        }
        for (int o = 0; o < _OPT_MAX; o++)
                free(file[o].value);
        if (r < 0) {
                config_done(&c);
                return r;
        }
        *ret = c;
        return 0;
}

void config_done(DaemonConfig *c)
{
        char **strs[] = {&c->config_file, &c->run_path,     &c->containerd_socket, &c->state_dir,
                         &c->cgroup_root, &c->cni_conf_dir, &c->cni_bin_dir,       &c->netns_dir,
                         &c->subnet_pool, &c->runc_root};
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
                free(*strs[i]);
        *c = (DaemonConfig){0};
}

void config_sources_done(ConfigSources *src)
{
        for (int o = 0; o < _OPT_MAX; o++) {
                free(src->flags[o]);
                free(src->env[o]);
        }
        free(src->config_file);
        *src = (ConfigSources){0};
}
