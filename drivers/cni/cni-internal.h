/* Inside the CNI driver: the protocol's pure parts (environment, per-plugin configuration, reading what
 * a plugin printed), IPv4 subnet arithmetic, and the runner of one plugin process. The unit tests use
 * these directly. */
#pragma once

#include <jansson.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "common/ipv4.h"
#include "common/macro.h"
#include "drivers/cni/cni.h"

/* jansson (2.14) brings json_decrefp() */
#define _cleanup_json_ _cleanup_(json_decrefp)

static inline void cni_strv_freep(char ***v)
{
        cni_strv_free(*v);
}
#define _cleanup_strv_ _cleanup_(cni_strv_freep)

/* ---- IPv4 subnets (subnet.c) ---- */

/* Subnets are common/ipv4.h's Ipv4Cidr. */

/* ---- the protocol (proto.c) ---- */

typedef enum CniCommand {
        CNI_CMD_ADD,
        CNI_CMD_DEL,
        CNI_CMD_CHECK,
        CNI_CMD_VERSION,
        _CNI_CMD_MAX,
} CniCommand;

const char *cni_command_to_string(CniCommand c);

/* True for a container id as CNI 1.0 allows it: [A-Za-z0-9][A-Za-z0-9_.-]*. */
bool cni_container_id_is_valid(const char *id);

/* The environment of one plugin run: CNI_COMMAND, then for every command but VERSION CNI_CONTAINERID,
 * CNI_NETNS (only when att->netns_path is set), CNI_IFNAME, CNI_ARGS (only when set), and always
 * CNI_PATH and PATH. Nothing else of the caller's environment. *ret is NULL-terminated. Returns 0,
 * -EINVAL (a missing or malformed value for this command) or -ENOMEM. */
int cni_env_build(CniCommand cmd, const CniAttachment *att, const char *plugin_path, const char *path_env,
                  char ***ret);

/* Checks a conflist's shape: name and cniVersion strings, a non-empty plugins array of objects with a
 * type that is one file name. Returns 0 or -EINVAL with *ret_error (may be NULL) owning why. */
int cni_conflist_check_shape(const json_t *conflist, char **ret_error);

/* The network configuration plugin i of a conflist gets on stdin: its own object with the list's name
 * and cniVersion, prevResult (when not NULL) and runtimeConfig with the entries of runtime_config whose
 * key the plugin's "capabilities" sets to true. Returns 0 or -ENOMEM; the conflist must have passed
 * cni_conflist_check_shape(). */
int cni_plugin_config(const json_t *conflist, size_t i, const json_t *prev_result,
                      const json_t *runtime_config, json_t **ret);

/* How a plugin process ended, and what it printed. */
typedef struct CniProcOutcome {
        int spawn_error;     /* < 0: the process could not be started */
        int64_t exit_status; /* when exited normally */
        int term_signal;     /* > 0: killed by this signal */
        bool timed_out;
        bool cancelled;
        bool truncated; /* stdout exceeded the limit */
        const char *out;
        size_t out_len;
        const char *err;
        size_t err_len;
} CniProcOutcome;

/* Turns a plugin run into r, a message and (for a successful ADD or VERSION) the JSON it printed:
 * exit 0 with a JSON object (ADD and VERSION require one; DEL and CHECK ignore stdout) is 0; a CNI error
 * object on stdout with a non-zero exit is cni_error_to_errno(code) with "<plugin>: <msg>[: <details>]";
 * anything else says what happened, with stderr's last line: -ETIMEDOUT, -ECANCELED, -EIO (exit status
 * or signal without an error object), -EBADMSG (not JSON), -E2BIG (too much output). *ret_message is
 * set on failure; *ret_json only on success of ADD and VERSION. Returns r, or -ENOMEM. */
int cni_outcome_parse(const char *plugin, CniCommand cmd, uint64_t timeout_ms, const CniProcOutcome *o,
                      json_t **ret_json, char **ret_message);

/* The IPv4 address of interface ifname in an ADD result (the one in the sandbox, else the first IPv4 of
 * the result), its prefix and its gateway ("" when none). Returns 0 or -ENOENT when there is none. */
int cni_result_ipv4(const json_t *result, const char *ifname, char ret_ip[static CNI_IP_MAX],
                    unsigned *ret_prefix, char ret_gateway[static CNI_IP_MAX]);

/* Whether a VERSION answer lists version. */
bool cni_version_supported(const json_t *answer, const char *version);

/* ---- one plugin process (exec.c) ---- */

#define CNI_STDOUT_MAX (1u << 20)
#define CNI_STDERR_MAX (64u << 10)

typedef struct CniProc CniProc;
/* Runs once the process has ended and every handle is closed; o is valid during the call only, and the
 * CniProc is freed after it returns. */
typedef void (*cni_proc_cb)(const CniProcOutcome *o, void *userdata);

/* Finds plugin type in the ':'-separated directories of plugin_path: the first executable regular file
 * of that name. Returns 0 with *ret owning the path, -EINVAL for a type that is not one file name, or
 * -ENOENT. */
int cni_plugin_find(const char *plugin_path, const char *type, char **ret);

/* Starts file with env, input on stdin (a sealed memory file: no pipe to feed), stdout and stderr
 * captured, in a session and process group of its own, killed as a group after timeout_ms. A process
 * that cannot be started still ends through cb (spawn_error), never synchronously. Returns 0 or
 * -ENOMEM. */
int cni_proc_spawn(uv_loop_t *loop, const char *file, char *const *env, const char *input, size_t input_len,
                   uint64_t timeout_ms, cni_proc_cb cb, void *userdata, CniProc **ret);

/* Kills the process group now; cb reports cancelled. */
void cni_proc_cancel(CniProc *p);

/* posix_spawn() attributes for a helper process: a session (and process group) of its own to kill as
 * one, and the signal state of a fresh process whatever the calling thread blocks or ignores. Returns 0
 * or -errno; destroy with posix_spawnattr_destroy(). */
int cni_spawn_attr_init(posix_spawnattr_t *attr);
