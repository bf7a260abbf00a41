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

/* ==== Space isolation, observation, a cell's /etc/hosts (isolation*.c, observe.c, hosts.c) ==== */

#define CNI_BRIDGE_PREFIX        "kuke-"  /* every bridge of ours starts with it (names.c) */
#define CNI_BRIDGE_MATCH         "kuke-+" /* ... so this iptables interface pattern matches them all */
#define CNI_ISOLATION_CHAIN      "KUKEON-ISOLATION"
#define CNI_ISOLATION_COMMENT    "kukeon:isolation" /* prefix of the comment on every rule of ours */
#define CNI_ISOLATION_TIMEOUT_MS 30000
#define CNI_OBSERVED_ADDRS_MAX   8
#define CNI_HOSTS_FILE           "etc-hosts"    /* in the cell's directory, bind-mounted on /etc/hosts */
#define CNI_HOSTNAME_FILE        "etc-hostname" /* ... and on /etc/hostname */
#define CNI_ETC_FILE_MAX         (1u << 20)

/* ---- space isolation with iptables (isolation.c, isolation-rules.c, isolation-run.c) ----
 *
 * Cells of one space reach each other; traffic from one of our bridges to another is dropped. In the
 * filter table (docs/networking.md has the why; every rule carries a comment "kukeon:isolation:..."):
 *   FORWARD (at the top): -i kuke-+ -o kuke-+ -j KUKEON-ISOLATION
 *   KUKEON-ISOLATION:     -i <bridge> -o <bridge> -j RETURN          one per space, on top
 *                         --ctstate RELATED,ESTABLISHED -j RETURN
 *                         -i <bridge> -j DROP                        one per space, appended
 * A bridge without rules of its own (a space not set up yet, or not ours) is never dropped from: only
 * the spaces that have their rules are isolated. The bridge rules belong to their spaces; the others are
 * shared and go with the last space. */

typedef struct CniIsolationConfig {
        const char *iptables; /* a path, or a name found in /usr/sbin:/sbin:/usr/bin:/bin; NULL: iptables */
        const char *chain;    /* NULL: CNI_ISOLATION_CHAIN (tests use their own) */
        const char *bridge_match; /* iptables interface pattern of all our bridges; NULL: CNI_BRIDGE_MATCH */
        uint64_t timeout_ms;      /* per iptables run; 0: CNI_ISOLATION_TIMEOUT_MS */
} CniIsolationConfig;

typedef enum CniIsolationRule {
        CNI_ISOLATION_RULE_JUMP,        /* FORWARD: bridge-to-bridge traffic goes through the chain */
        CNI_ISOLATION_RULE_BRIDGE,      /* the chain: within one space's bridge, RETURN */
        CNI_ISOLATION_RULE_ESTABLISHED, /* the chain: replies of a flow that was let through, RETURN */
        CNI_ISOLATION_RULE_DROP,        /* the chain: from one space's bridge to another of ours, DROP */
        _CNI_ISOLATION_RULE_MAX,
} CniIsolationRule;

/* The defaults applied: never NULL. */
const char *cni_isolation_iptables(const CniIsolationConfig *c);
const char *cni_isolation_chain(const CniIsolationConfig *c);
const char *cni_isolation_bridge_match(const CniIsolationConfig *c);
uint64_t cni_isolation_timeout_ms(const CniIsolationConfig *c);

/* Returns 0, or -EINVAL for a chain that is not 1..28 bytes of [A-Za-z0-9_-] (or is built in), an empty
 * iptables or a bridge pattern that is not an interface name (a lone "+" would match every interface). */
int cni_isolation_config_check(const CniIsolationConfig *c);

/* Whether bridge can have a rule: a valid interface name without '+', quotes or a leading '-' or '!',
 * that the configured bridge pattern matches. */
bool cni_isolation_bridge_is_valid(const CniIsolationConfig *c, const char *bridge);

/* The argument vector of one rule: "iptables -w <s> -t filter -<action> <chain> [1] <rule>", where
 * action is 'C' (check), 'I' (insert on top), 'A' (append) or 'D' (delete) and -w waits for the xtables
 * lock up to half the timeout. bridge is for CNI_ISOLATION_RULE_BRIDGE and CNI_ISOLATION_RULE_DROP. *ret is
 * NULL-terminated, freed with cni_strv_free(). Returns 0, -EINVAL or -ENOMEM. Pure. */
int cni_isolation_rule_argv(const CniIsolationConfig *c, CniIsolationRule rule, const char *bridge,
                            char action, char ***ret);

/* The same for the chain itself: action 'N' (create), 'F' (flush), 'X' (delete) or 'S' (list). */
int cni_isolation_chain_argv(const CniIsolationConfig *c, char action, char ***ret);

/* The bridges that have a rule in a listing of the chain ("iptables -S <chain>"), sorted, each once.
 * Lines of other chains and rules without our bridge comment are ignored. Returns 0, -EINVAL or -ENOMEM. */
int cni_isolation_parse_bridges(const CniIsolationConfig *c, const char *listing, char ***ret,
                                size_t *ret_n);

typedef struct CniIsolation CniIsolation;

/* One per daemon: it serialises the operations below. The config is copied. Returns 0, -EINVAL (see
 * cni_isolation_config_check()) or -ENOMEM. */
int cni_isolation_new(const CniIsolationConfig *c, CniIsolation **ret);
/* Only when no operation is pending. Returns NULL. */
CniIsolation *cni_isolation_free(CniIsolation *iso);

/* The operations run iptables and wait for it (each run bounded by the timeout, its process group killed
 * after it): they block, so they are for worker threads; the loop uses cni_isolation_submit(). Every
 * rule is checked (-C) before it is added, so they are idempotent and repair a rule someone deleted.
 * On failure *ret_error (may be NULL) owns "<command line>: <what happened>"; -ENOENT when iptables is
 * not installed, -ETIMEDOUT when it overran, -EPERM without privilege, -EAGAIN when it reported another
 * resource problem (exit 4: the xtables lock), -EPROTONOSUPPORT (exit 3), -EIO for any other failure,
 * -EINVAL for a bridge cni_isolation_bridge_is_valid() refuses. */

/* Creates what is missing of the chain, the shared rules, bridge's rule and the jump from FORWARD (last,
 * so traffic only enters a whole chain). Returns 1 when something was added, 0 when all was there. */
int cni_isolation_ensure(CniIsolation *iso, const char *bridge, char **ret_error);

/* Removes bridge's rule; when no bridge rule is left, everything else too (remove_all). Returns 1 when
 * something was removed, 0 when there was nothing. */
int cni_isolation_remove(CniIsolation *iso, const char *bridge, char **ret_error);

/* The bridges that have a rule, sorted (for garbage collection: a bridge without a space is removed).
 * *ret is NULL-terminated, freed with cni_strv_free(); a missing chain is an empty list. Returns 0. */
int cni_isolation_list(CniIsolation *iso, char ***ret, size_t *ret_n, char **ret_error);

/* Removes the jump, flushes and deletes the chain. Returns 1 when something was removed, 0 when nothing
 * was there. */
int cni_isolation_remove_all(CniIsolation *iso, char **ret_error);

typedef enum CniIsolationOp {
        CNI_ISOLATION_ENSURE,
        CNI_ISOLATION_REMOVE,
        CNI_ISOLATION_LIST,
        CNI_ISOLATION_REMOVE_ALL,
        _CNI_ISOLATION_OP_MAX,
} CniIsolationOp;

/* r and message as above (message "" on success); bridges is LIST's result (NULL otherwise). Everything
 * is valid during the callback only. */
typedef void (*cni_isolation_cb)(int r, const char *message, char *const *bridges, void *userdata);

/* Runs one operation on loop's thread pool (uv_queue_work); cb runs on the loop's thread. bridge is for
 * ENSURE and REMOVE (copied). iso must outlive the operation. Returns 0 when queued (cb then runs exactly
 * once, never from inside this call) or -EINVAL/-ENOMEM (cb never runs). */
int cni_isolation_submit(uv_loop_t *loop, CniIsolation *iso, CniIsolationOp op, const char *bridge,
                         cni_isolation_cb cb, void *userdata);

/* What running a command produced. */
typedef struct CniCommandOutcome {
        int status; /* the exit status, or 128 + the signal that killed it */
        char *out;  /* stdout (at most 1 MiB kept), owned */
        char *err;  /* stderr (at most 64 KiB kept), owned */
} CniCommandOutcome;

/* Runs argv to its end, blocking: argv[0] is a path, or a name looked up in /usr/sbin:/sbin:/usr/bin:/bin;
 * environment PATH of those and LC_ALL=C only; stdin /dev/null; a session and process group of its own,
 * killed as a whole after timeout_ms. Returns 0 with *ret filled (free with cni_command_outcome_done())
 * whatever the exit status, -ENOENT when the command is not found, -ETIMEDOUT, or -errno. */
int cni_command_run(char *const argv[], uint64_t timeout_ms, CniCommandOutcome *ret);
void cni_command_outcome_done(CniCommandOutcome *o);

/* ---- observation with libnl-3 (observe.c) ---- */

/* One interface as the kernel reports it. */
typedef struct CniLinkObserved {
        bool has_link;
        bool is_up;     /* IFF_UP */
        char kind[16];  /* rtnetlink's kind: "bridge", "veth"; "" for none */
        size_t n_addrs; /* its IPv4 addresses (at most CNI_OBSERVED_ADDRS_MAX), "10.88.0.2/24", sorted */
        char addrs[CNI_OBSERVED_ADDRS_MAX][CNI_SUBNET_MAX];
} CniLinkObserved;

typedef struct CniCellObserved {
        bool has_netns; /* the path is a pinned network namespace */
        CniLinkObserved link;
} CniCellObserved;

typedef struct CniBridgeObserved {
        bool is_bridge; /* the link exists and is a bridge */
        CniLinkObserved link;
} CniBridgeObserved;

/* The libnl error code (negative or not) as -errno: NLE_OBJ_NOTFOUND -ENOENT, NLE_NODEV -ENODEV,
 * NLE_PERM -EPERM, NLE_NOMEM -ENOMEM, ... and -EIO for codes without an equivalent. 0 for 0. */
int cni_netlink_error_to_errno(int nl_error);

/* What is in the namespace pinned at netns_path: interface ifname (NULL: CNI_DEFAULT_IFNAME), whether it
 * is up, its IPv4 addresses. The socket is made inside the namespace by a short-lived thread; the calling
 * thread never changes namespace. A missing namespace or interface is an observation (0, with has_netns
 * or has_link false). Returns 0 or -errno (-EPERM without CAP_SYS_ADMIN). A few netlink round trips: fine
 * on the loop. */
int cni_observe_cell(const char *netns_path, const char *ifname, CniCellObserved *ret);

/* The link name on the host (the calling thread's namespace): whether it exists and is a bridge, up, its
 * IPv4 addresses. A missing link is 0 with has_link false. Returns 0 or -errno. */
int cni_observe_bridge(const char *name, CniBridgeObserved *ret);

/* Whether link has the IPv4 address ip ("10.88.0.2", a prefix is ignored). */
bool cni_link_has_ip(const CniLinkObserved *link, const char *ip);

/* Whether the cell is attached as recorded: namespace pinned, its interface there and up with address
 * ip. False is drift: the plan repairs it with DEL and ADD. */
bool cni_cell_observed_is_attached(const CniCellObserved *o, const char *ip);

/* Deletes the bridge name (a space's teardown: the bridge plugin never removes it). Returns 1 when
 * deleted, 0 when there was none, -EMEDIUMTYPE when a link of that name is not a bridge (left alone), or
 * -errno. */
int cni_bridge_delete(const char *name);

/* The bridges whose name starts with prefix (NULL: CNI_BRIDGE_PREFIX), sorted, for garbage collection.
 * *ret is NULL-terminated, freed with cni_strv_free(). Returns 0 or -errno. */
int cni_bridge_list(const char *prefix, char ***ret, size_t *ret_n);

/* ---- a cell's /etc/hosts and /etc/hostname (hosts.c) ---- */

/* One cell of the space as its hosts file lists it. */
typedef struct CniHostEntry {
        const char *stack;
        const char *cell;
        const char *ip; /* IPv4 or IPv6 address, no prefix; NULL or "" (not attached yet): left out */
} CniHostEntry;

/* The hosts file of cell self_cell of stack self_stack, in a space whose cells are cells (self among them
 * or not; borrowed). The localhost lines first, then one line per cell with an address, sorted by cell
 * name then stack: "<ip>\t<cell> <cell>.<stack>", or "<ip>\t<cell>.<stack>" alone when two stacks have a
 * cell of that name and neither is self's stack (a short name resolves to self's own stack first, and is
 * never ambiguous). Entries whose names are not DNS-1123 labels or whose IP does not parse are left out:
 * nothing from a status file can add a line of its own. Deterministic, pure. Returns 0 with *ret owned,
 * -EINVAL (self's names) or -ENOMEM. */
int cni_hosts_render(const char *self_stack, const char *self_cell, const CniHostEntry *cells,
                     size_t n_cells, char **ret);

/* "<cell>\n". Returns 0, -EINVAL or -ENOMEM. */
int cni_hostname_render(const char *cell, char **ret);

/* Makes dir_fd/name (one file name; dir_fd may be AT_FDCWD) hold content, in place: same inode, since it
 * is bind-mounted into the containers (a rename would leave them on the old one). Created 0644 when
 * missing; O_NOFOLLOW (a symlink is -ELOOP), a file that is not regular is -EBADFD. Writes over the old
 * bytes, truncates, fsyncs. Returns 1 when the content changed, 0 when it was current (nothing written,
 * no inotify event), -EFBIG over CNI_ETC_FILE_MAX, or -errno. */
int cni_etc_file_write(int dir_fd, const char *name, const char *content);

/* Renders and writes both files of a cell into its directory: CNI_HOSTNAME_FILE and CNI_HOSTS_FILE.
 * Returns 1 when either changed, 0 when both were current, or -errno. */
int cni_cell_etc_write(int dir_fd, const char *self_stack, const char *self_cell, const CniHostEntry *cells,
                       size_t n_cells);
