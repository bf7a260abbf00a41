/* The CNI driver: a space's network (its conflist, bridge name and subnet), the pinned network namespace
 * of each cell, and running the CNI plugins of a conflist against it (ADD, DEL, CHECK, VERSION).
 *
 * docs/networking.md describes what this produces and why. The pure parts (names, subnets, the conflist
 * document) do no I/O. Pinning a netns and writing a conflist are short local file system calls; the one
 * that costs (creating a network namespace) also has an asynchronous form. Plugins run as child processes
 * on the caller's libuv loop and never block it.
 *
 * Errors follow the tree: < 0 is -errno, 0 is success or "nothing to do", 1 is "changed". Messages for
 * the user (a CNI plugin's own text included) come back in a string the caller owns or, for the
 * asynchronous calls, as the callback's message. Nothing here logs. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CNI_SPEC_VERSION        "1.0.0"
#define CNI_DEFAULT_CONF_DIR    "/etc/cni/net.d"
#define CNI_DEFAULT_NETNS_DIR   "/run/netns"
#define CNI_DEFAULT_PLUGIN_PATH "/opt/cni/bin:/usr/lib/cni"
#define CNI_DEFAULT_IPAM_DIR    "/var/lib/cni/networks" /* host-local's own default dataDir */
#define CNI_DEFAULT_SUBNET_POOL "10.88.0.0/16"
#define CNI_DEFAULT_IFNAME      "eth0"
#define CNI_DEFAULT_TIMEOUT_MS  60000
#define CNI_NETNS_PREFIX        "kukeon_"
#define CNI_CONFLIST_COPY_NAME  "network.conflist" /* in the space's run-path directory */
#define CNI_BRIDGE_NAME_MAX     16                 /* IFNAMSIZ: 15 bytes and the NUL */
#define CNI_NETWORK_NAME_MAX    (2 * 63 + 2)
#define CNI_SUBNET_MAX          19 /* "255.255.255.255/32" */
#define CNI_IP_MAX              16 /* INET_ADDRSTRLEN */

/* What a space's status records about its network; the input of bridge naming and subnet allocation.
 * Strings are borrowed; subnet and bridge are NULL when the status has none. */
typedef struct CniSpaceRecord {
        const char *realm;
        const char *space;
        const char *subnet;
        const char *bridge;
} CniSpaceRecord;

/* ---- names ---- */

/* The CNI network name of a space: "<realm>-<space>". Returns 0 or -ENAMETOOLONG. */
int cni_network_name(const char *realm, const char *space, char *ret, size_t size);

/* True for a name the kernel takes for a network interface: 1..15 bytes, not "." or "..", without '/',
 * ':' or white space. */
bool cni_ifname_is_valid(const char *name);

/* The bridge of a space. When records holds this space with a valid bridge that no other space records,
 * that one is read back. Otherwise "kuke-<realm>-<space>" when it fits 15 bytes and no other space
 * records it, else "kuke-" + up to 3 bytes of "<realm>-<space>" + "_" + 6 hex digits of a SHA-256 of
 * "<realm>/<space>" (the '_' keeps these apart from the plain form: names cannot contain it); when
 * another space records that too, the hash is salted ("#1", "#2", ...) until it is free. Deterministic
 * for the same inputs. Returns 0, -EINVAL (empty realm or space), -EIO (hashing failed) or -EADDRINUSE
 * (a thousand salts taken: not reachable in practice). */
int cni_bridge_name(const char *realm, const char *space, const CniSpaceRecord *records, size_t n_records,
                    char ret[static CNI_BRIDGE_NAME_MAX]);

/* ---- subnets ---- */

/* The subnet of space realm/space, from the address pool (NULL: CNI_DEFAULT_SUBNET_POOL, a network
 * address with a prefix of /24 or shorter), the space's requested spec.network.subnet (NULL when unset)
 * and what every space's status records (this space's own record included, or not).
 *
 * requested: an IPv4 network address with a prefix from /8 to /28, inside or outside the pool, that
 * overlaps no other space's subnet. Else the space's own recorded subnet when it is valid and overlaps no
 * other space (so an allocation survives restarts). Else the lowest /24 of the pool that overlaps no other
 * space's subnet; a subnet is released simply by its space's status going away. Records that do not
 * parse are ignored.
 *
 * Returns 0 with ret set, -EINVAL (a malformed pool or request), -EADDRINUSE (the request overlaps the
 * subnet of another space, named in the message) or -ENOSPC (the pool is full); *ret_error (may be NULL)
 * then owns the message. -ENOMEM leaves *ret_error NULL. */
int cni_subnet_allocate(const char *pool, const char *realm, const char *space, const char *requested,
                        const CniSpaceRecord *records, size_t n_records, char ret[static CNI_SUBNET_MAX],
                        char **ret_error);

/* The gateway (first host address) of a subnet: "10.88.0.1" for "10.88.0.0/24". Returns 0 or -EINVAL. */
int cni_subnet_gateway(const char *subnet, char ret[static CNI_IP_MAX]);

/* ---- the conflist ---- */

typedef struct CniNetworkConfig {
        const char *realm;
        const char *space;
        const char *bridge;        /* from cni_bridge_name() or read back */
        const char *subnet;        /* from cni_subnet_allocate() */
        const char *ipam_data_dir; /* host-local's dataDir; NULL: its default (CNI_DEFAULT_IPAM_DIR) */
} CniNetworkConfig;

/* The space's conflist: cniVersion 1.0.0, name "<realm>-<space>", plugins bridge (isGateway, ipMasq,
 * hairpinMode, host-local IPAM on the subnet with a default route) and portmap (capability
 * portMappings). Returns 0 with *ret owning a new object, -EINVAL for a missing or malformed field, or
 * -ENOMEM. */
int cni_conflist_build(const CniNetworkConfig *c, json_t **ret);

/* The conflist as written to disk: 2-space indented JSON and a final newline. NULL on -ENOMEM. */
char *cni_conflist_format(const json_t *conflist);

/* Reads back what a conflist says: its name, the bridge and the subnet of its bridge plugin. The strings
 * point into conflist. Returns 0 or -EINVAL when it is not a conflist with a bridge plugin. */
int cni_conflist_network(const json_t *conflist, const char **ret_name, const char **ret_bridge,
                         const char **ret_subnet);

/* Writes the conflist atomically (temp file, fsync, rename, fsync of the directory) to
 * <conf_dir>/<name>.conflist (conf_dir NULL: CNI_DEFAULT_CONF_DIR, created when missing) and, when
 * copy_path is not NULL, to copy_path (the run path's <realm>/<space>/network.conflist: its directory must
 * exist, it is not created, so a space the user removed is not brought back). A file that already holds
 * the same bytes is left alone. Returns 1 when a file was written, 0 when both were current, or -errno. */
int cni_conflist_write(const char *conf_dir, const json_t *conflist, const char *copy_path);

/* Reads and parses a conflist file. Returns 0, -errno of the read, or -EINVAL (*ret_error, when not
 * NULL, owns "path:line:col: text"). */
int cni_conflist_read(const char *path, json_t **ret, char **ret_error);

/* Removes <conf_dir>/<network>.conflist and copy_path (may be NULL). Returns 1 when something was removed,
 * 0 when neither existed, or -errno. */
int cni_conflist_remove(const char *conf_dir, const char *network, const char *copy_path);

/* Removes host-local's state of a network: <data_dir>/<network>/ (data_dir NULL: CNI_DEFAULT_IPAM_DIR),
 * which after the last DEL still holds its lock and last_reserved_ip files. Call it only when no cell of
 * the space is attached. Returns 1 when removed, 0 when there was none, or -errno. */
int cni_ipam_remove(const char *data_dir, const char *network);

/* ---- pinned network namespaces ---- */

/* The path of a pinned netns: <dir>/<name> (dir NULL: CNI_DEFAULT_NETNS_DIR). Returns 0, -EINVAL for a
 * name that is not one file name, or -ENAMETOOLONG. */
int cni_netns_path(const char *dir, const char *name, char *ret, size_t size);

/* Makes dir (NULL: CNI_DEFAULT_NETNS_DIR) exist and be a shared mount point, as `ip netns add` does, so
 * the namespaces pinned in it are seen from every mount namespace that shares it. Idempotent: a dir that
 * already is a mount point only gets its propagation set. Returns 0 or -errno. */
int cni_netns_dir_prepare(const char *dir);

/* Pins a new network namespace at <dir>/<name>, with its loopback interface up (runc leaves lo alone in a
 * namespace it joins by path, and CNI 1.0 takes no loopback plugin in a conflist). The namespace is made
 * by a short-lived thread of its own (unshare + bind mount of /proc/thread-self/ns/net); the calling
 * thread never changes namespace. Prepares dir first. Returns 1 when pinned, 0 when a namespace was
 * already pinned there, or -errno. Blocks for the few milliseconds the kernel takes: the loop uses
 * cni_netns_create_async(). */
int cni_netns_create(const char *dir, const char *name);

typedef void (*cni_netns_cb)(int r, void *userdata);

/* cni_netns_create() on a thread of its own; cb runs on loop's thread with its result, after the handle
 * it used is closed. Returns 0 when started (cb then runs exactly once) or -errno (cb never runs). */
int cni_netns_create_async(uv_loop_t *loop, const char *dir, const char *name, cni_netns_cb cb,
                           void *userdata);

/* Unpins <dir>/<name>: lazy unmount, then unlink. The namespace itself goes away with its last user.
 * Returns 1 when something was removed, 0 when there was nothing, or -errno. */
int cni_netns_delete(const char *dir, const char *name);

/* Returns 1 when <dir>/<name> is a pinned network namespace, 0 when it is missing or is a plain file (left
 * by a crash before the mount), or -errno. */
int cni_netns_check(const char *dir, const char *name);
/* The same for a path. */
int cni_netns_path_check(const char *path);

/* The names in dir starting with CNI_NETNS_PREFIX, pinned or stale, sorted. *ret is a NULL-terminated
 * array the caller frees with cni_strv_free(). A missing dir is an empty list. Returns 0 or -errno. */
int cni_netns_list(const char *dir, char ***ret, size_t *ret_n);

char **cni_strv_free(char **v);

/* ---- running plugins ---- */

typedef struct CniRuntime {
        const char *plugin_path; /* CNI_PATH, ':'-separated; NULL: CNI_DEFAULT_PLUGIN_PATH */
        const char *path_env; /* PATH for the plugins (the bridge plugin runs iptables); NULL: a default */
        uint64_t timeout_ms;  /* per plugin; 0: CNI_DEFAULT_TIMEOUT_MS */
} CniRuntime;

typedef struct CniAttachment {
        const char *container_id;     /* CNI_CONTAINERID: the cell's netns name. Required */
        const char *netns_path;       /* CNI_NETNS. Required for ADD and CHECK */
        const char *ifname;           /* CNI_IFNAME; NULL: CNI_DEFAULT_IFNAME */
        const char *args;             /* CNI_ARGS ("K=V;K2=V2"); NULL: none */
        const json_t *runtime_config; /* capability arguments ({"portMappings": [...]}); NULL: none */
} CniAttachment;

/* What an ADD produced. json is the chain's final result; ip and gateway are "" when absent. */
typedef struct CniResult {
        const json_t *json;
        const char *ip;      /* the IPv4 address of the attachment's interface, without prefix */
        unsigned prefix;     /* its prefix length */
        const char *gateway; /* its gateway */
} CniResult;

typedef struct CniOp CniOp;

/* Completion of an operation: r is 0 or -errno; message is "" on success, else the reason, with the
 * plugin's own msg and details when it sent a CNI error; result is the ADD's result (NULL for the others
 * and on failure). Everything is valid during the callback only. */
typedef void (*cni_exec_cb)(int r, const char *message, const CniResult *result, void *userdata);

/* The operations take a conflist (copied), run its plugins one at a time as child processes in their
 * own process group, each with the CNI 1.0 environment and its own network configuration on stdin, and
 * kill the whole group when a plugin overruns rt->timeout_ms (-ETIMEDOUT). They return 0 when started,
 * after which cb runs exactly once on a later loop iteration, after every handle the operation used is
 * closed; -EINVAL (a required argument is missing) or -ENOMEM when they could not start (cb never runs).
 * ret_op (may be NULL) gets a handle valid until cb runs. A plugin's CNI error becomes -errno through
 * cni_error_to_errno().
 *
 * ADD runs the plugins in order, each getting the previous one's result as prevResult, and reports the
 * last one's result. When it fails after a plugin ran, it runs DEL over the whole list (best effort)
 * before reporting the ADD's error, so the next ADD starts clean. */
int cni_exec_add(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                 cni_exec_cb cb, void *userdata, CniOp **ret_op);

/* DEL runs the plugins in reverse order, every one of them even after a failure (the first error is
 * reported). prev_result (may be NULL) is the ADD's result when the caller kept it. Idempotent: when
 * att->netns_path is NULL or no longer a pinned namespace CNI_NETNS is left out (the plugins then only
 * release what they hold outside it), and a plugin answering "container unknown" (code 3) counts as done. */
int cni_exec_del(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                 const json_t *prev_result, cni_exec_cb cb, void *userdata, CniOp **ret_op);

/* CHECK runs the plugins in order with prev_result (required: the ADD's result). A conflist with
 * "disableCheck": true succeeds without running anything. */
int cni_exec_check(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, const CniAttachment *att,
                   const json_t *prev_result, cni_exec_cb cb, void *userdata, CniOp **ret_op);

/* VERSION of every plugin of the conflist: succeeds when each one supports the conflist's cniVersion,
 * else -EPROTONOSUPPORT naming the plugin and what it supports. */
int cni_exec_version(uv_loop_t *loop, const CniRuntime *rt, const json_t *conflist, cni_exec_cb cb,
                     void *userdata, CniOp **ret_op);

/* Stops an operation: its running plugin's process group is killed and cb gets -ECANCELED (an ADD then
 * runs no DEL). Only before cb has run: the handle is freed after it. */
void cni_op_cancel(CniOp *op);

/* The errno of a CNI error code: 1 -EPROTONOSUPPORT (incompatible version), 2 -EOPNOTSUPP (unsupported
 * field), 3 -ENOENT (container unknown), 4 -EINVAL (invalid environment), 5 -EIO (I/O failure), 6
 * -EBADMSG (failed to decode), 7 -EINVAL (invalid network config), 11 -EAGAIN (try again later), other
 * codes (plugin-specific, 100 and up) -EIO. */
int cni_error_to_errno(int64_t code);
