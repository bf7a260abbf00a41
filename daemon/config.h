/* kukeond's configuration: flags, their environment twins (KUKEOND_<NAME>) and an optional YAML file
 * (`kind: DaemonConfig`), merged with the precedence flag > environment > file > default.
 *
 * Pure: no libuv, no logging, so the precedence rules are unit-tested (tests/unit/daemon/). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef enum ConfigOption {
        OPT_RUN_PATH,
        OPT_CONTAINERD_SOCKET,
        OPT_STATE_DIR,
        OPT_CGROUP_ROOT,
        OPT_CNI_CONF_DIR,
        OPT_CNI_BIN_DIR,
        OPT_NETNS_DIR,
        OPT_SUBNET_POOL,
        OPT_RESYNC_INTERVAL,
        OPT_LOG_LEVEL,
        OPT_RUNC_ROOT,
        OPT_CNI_TIMEOUT,
        _OPT_MAX,
} ConfigOption;

typedef struct DaemonConfig {
        char *config_file; /* NULL: none */
        char *run_path;
        char *containerd_socket;
        char *state_dir;
        char *cgroup_root;
        char *cni_conf_dir;
        char *cni_bin_dir;
        char *netns_dir;
        char *subnet_pool;
        int64_t resync_interval_ms; /* 0: off */
        int log_level;              /* LOG_ERR .. LOG_DEBUG */
        char *runc_root;            /* "": containerd's default */
        int64_t cni_timeout_ms;     /* per CNI plugin run */
} DaemonConfig;

/* What the command line and the environment said, kept for reloads (SIGHUP re-reads only the file). */
typedef struct ConfigSources {
        char *flags[_OPT_MAX];
        char *env[_OPT_MAX];
        char *config_file; /* --config, else KUKEOND_CONFIG */
} ConfigSources;

typedef enum ConfigCommand {
        CONFIG_RUN,
        CONFIG_HELP,
        CONFIG_VERSION,
} ConfigCommand;

/* The flag name ("run-path"), the file key ("runPath") and the environment variable
 * ("KUKEOND_RUN_PATH") of an option; NULL out of range. */
const char *config_option_flag(ConfigOption o);
const char *config_option_key(ConfigOption o);
const char *config_option_env(ConfigOption o);

/* Parses the command line into src->flags. Returns a ConfigCommand, or -EINVAL with *ret_error (owned)
 * for a usage error, or -ENOMEM. */
int config_parse_args(int argc, char **argv, ConfigSources *src, char **ret_error);

/* Takes the KUKEOND_* variables (and KUKEON_RUN_PATH / KUKEON_STATE_DIR, the names kuke reads, below
 * them) from envp, a NULL-terminated "NAME=value" array. Returns 0 or -ENOMEM. */
int config_read_env(ConfigSources *src, char *const *envp);

/* Reads the config file (when src names one), merges the layers and checks every value. Returns 0 with
 * *ret filled (free with config_done()), -EINVAL / -ENOENT / -errno with *ret_error (owned): a
 * positioned "file:line:col: key: message" for file problems, "--flag: ..." or "KUKEOND_X: ..." for the
 * others. */
int config_load(const ConfigSources *src, DaemonConfig *ret, char **ret_error);

/* "5m", "90s", "1h30m", "250ms", or plain seconds ("300"); 0 is 0. Returns 0 with *ret_ms, or -EINVAL. */
int config_parse_duration(const char *s, int64_t *ret_ms);

/* The usage text of kukeond --help. */
const char *config_usage(void);

void config_done(DaemonConfig *c);
void config_sources_done(ConfigSources *src);
