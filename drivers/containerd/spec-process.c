/* The spec's process object: containerd's defaults (populateDefaultUnixSpec), the image config merged as
 * WithImageConfig does, then the container's command, args, env, workingDir, user and capabilities. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers/containerd/spec-private.h"

/* What containerd uses when the image has no Env (oci.defaultUnixEnv). */
#define DEFAULT_PATH_ENV "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Every capability the kernel defines up to CAP_CHECKPOINT_RESTORE (40), indexed by number. */
static const char *const cap_names[] = {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

#define CAP_ALL_MASK ((UINT64_C(1) << ARRAY_SIZE(cap_names)) - 1)

/* containerd's default set (oci.defaultUnixCaps), in its order: CHOWN, DAC_OVERRIDE, FSETID, FOWNER,
 * MKNOD, NET_RAW, SETGID, SETUID, SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE. */
static const unsigned default_caps[] = {0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29};

static int cap_from_name(const char *name)
{
        const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
        for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (strcasecmp(bare, cap_names[i] + 4) == 0)
                        return (int)i;
        return -EINVAL;
}

/* The mask of the named capabilities; *ret_all when the list holds "ALL". */
static int cap_list_mask(const StrList *l, const char *field, uint64_t *ret, bool *ret_all, char **ret_error)
{
        *ret = 0;
        *ret_all = false;
        for (size_t i = 0; i < l->n; i++) {
                if (strcasecmp(l->items[i], "ALL") == 0) {
                        *ret_all = true;
                        continue;
                }
                int c = cap_from_name(l->items[i]);
                if (c < 0)
                        return oci_fail(ret_error, "%s[%zu]: unknown capability \"%s\"", field, i,
                                        l->items[i]);
                *ret |= UINT64_C(1) << c;
        }
        return 0;
}

/* The capability set. privileged: every available capability (add and drop are ignored, as Docker does).
 * Otherwise the default set; drop removes (ALL: everything), then add adds (ALL: every available one not
 * dropped by name). A capability added by name is kept even when unavailable: runc then reports it. */
static int cap_mask(const ContainerSpec *c, uint64_t available, uint64_t *ret, char **ret_error)
{
        uint64_t def = 0, add, drop, all = available ? available & CAP_ALL_MASK : CAP_ALL_MASK;
        bool add_all, drop_all;
        int r;

        if (c->privileged) {
                *ret = all;
                return 0;
        }
        if ((r = cap_list_mask(&c->capabilities.add, "capabilities.add", &add, &add_all, ret_error)) < 0 ||
            (r = cap_list_mask(&c->capabilities.drop, "capabilities.drop", &drop, &drop_all, ret_error)) < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
                def |= UINT64_C(1) << default_caps[i];
        if (add_all)
                *ret = all & ~drop;
        else
                *ret = ((drop_all ? 0 : def) & ~drop) | add;
        return 0;
}

/* The default capabilities still in the set, in containerd's order, then the others by number. */
static json_t *cap_array(uint64_t mask)
{
        unsigned order[ARRAY_SIZE(cap_names)];
        size_t n = 0;
        for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
                if (mask & (UINT64_C(1) << default_caps[i])) {
                        order[n++] = default_caps[i];
                        mask &= ~(UINT64_C(1) << default_caps[i]);
                }
        for (unsigned i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (mask & (UINT64_C(1) << i))
                        order[n++] = i;

        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (oci_json_push(a, json_string(cap_names[order[i]])) < 0) {
                        json_decref(a);
                        a = NULL;
                }
        return a;
}

static int capabilities_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        uint64_t mask;
        int r = cap_mask(in->container, in->available_caps, &mask, ret_error);
        if (r < 0)
                return r;
        json_t *caps = json_object();
        if (!caps || oci_json_put(caps, "bounding", cap_array(mask)) < 0 ||
            oci_json_put(caps, "effective", cap_array(mask)) < 0 ||
            oci_json_put(caps, "permitted", cap_array(mask)) < 0) {
                json_decref(caps);
                return -ENOMEM;
        }
        *ret = caps;
        return 0;
}

/* Sets KEY=VALUE in env: replaces the first entry with the same key, else appends (containerd's
 * replaceOrAppendEnvValues). */
static int env_set(json_t *env, const char *entry)
{
        size_t klen = strcspn(entry, "=");
        size_t i;
        json_t *v;
        json_array_foreach (env, i, v) {
                const char *s = json_string_value(v);
                if (s && strncmp(s, entry, klen) == 0 && (s[klen] == '=' || s[klen] == '\0'))
                        return json_array_set_new(env, i, json_string(entry)) < 0 ? -ENOMEM : 0;
        }
        return oci_json_push(env, json_string(entry));
}

static int env_set_kv(json_t *env, const char *key, const char *value)
{
        if (!value || !*value)
                return 0;
        _cleanup_free_ char *e = NULL;
        if (asprintf(&e, "%s=%s", key, value) < 0)
                return -ENOMEM;
        return env_set(env, e);
}

/* KUKEON_* identity, in Kukeon's order; KUKEON_CGROUP_PATH is the cell's cgroup, the parent of
 * cgroupsPath. Empty values are left out. */
static int env_add_identity(json_t *env, const OciSpecInput *in)
{
        const char *cg = in->cgroups_path, *slash = strrchr(cg, '/');
        _cleanup_free_ char *cell_cgroup = slash && slash > cg ? strndup(cg, (size_t)(slash - cg)) : NULL;
        if (slash && slash > cg && !cell_cgroup)
                return -ENOMEM;
        int r;
        if ((r = env_set_kv(env, "KUKEON_CELL_NAME", in->cell->cell)) < 0 ||
            (r = env_set_kv(env, "KUKEON_CONTAINER_ID", in->container->id)) < 0 ||
            (r = env_set_kv(env, "KUKEON_REALM", in->cell->realm)) < 0 ||
            (r = env_set_kv(env, "KUKEON_SPACE", in->cell->space)) < 0 ||
            (r = env_set_kv(env, "KUKEON_STACK", in->cell->stack)) < 0 ||
            (r = env_set_kv(env, "KUKEON_CGROUP_PATH", cell_cgroup)) < 0)
                return r;
        return 0;
}

/* The image's Env (or containerd's default PATH when it has none), then KUKEON_*, then the container's
 * env; a later key replaces an earlier one in place. */
static int env_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        const json_t *image_env;
        int r = oci_image_strv(in->image_config, "Env", &image_env, ret_error);
        if (r < 0)
                return r;
        const StrList *user = &in->container->env;
        for (size_t i = 0; i < user->n; i++)
                if (user->items[i][0] == '=' || !strchr(user->items[i], '='))
                        return oci_fail(ret_error, "env[%zu]: expected KEY=VALUE, found \"%s\"", i,
                                        user->items[i]);

        json_t *env = image_env && json_array_size(image_env) > 0
                              ? json_deep_copy(image_env)
                              : oci_json_strv((const char *[]){DEFAULT_PATH_ENV}, 1);
        if (!env)
                return -ENOMEM;
        r = env_add_identity(env, in);
        for (size_t i = 0; r >= 0 && i < user->n; i++)
                r = env_set(env, user->items[i]);
        if (r < 0) {
                json_decref(env);
                return r;
        }
        *ret = env;
        return 0;
}

static int args_append(json_t *args, const json_t *from)
{
        size_t i;
        json_t *v;
        json_array_foreach (from, i, v) {
                if (oci_json_push(args, json_incref(v)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* command set: [command] + args (the image's Entrypoint and Cmd are not used). No command but args:
 * Entrypoint + args. Neither: Entrypoint + Cmd. Nothing at all is an error. */
static int args_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        const ContainerSpec *c = in->container;
        const json_t *entrypoint, *cmd;
        bool has_command = c->command && *c->command; /* "" counts as unset, like workingDir and user */
        int r;

        if ((r = oci_image_strv(in->image_config, "Entrypoint", &entrypoint, ret_error)) < 0 ||
            (r = oci_image_strv(in->image_config, "Cmd", &cmd, ret_error)) < 0)
                return r;
        json_t *args = json_array();
        if (!args)
                return -ENOMEM;
        if (has_command)
                r = oci_json_push(args, json_string(c->command));
        else if (entrypoint)
                r = args_append(args, entrypoint);
        for (size_t i = 0; r >= 0 && i < c->args.n; i++)
                r = oci_json_push(args, json_string(c->args.items[i]));
        if (r >= 0 && !has_command && c->args.n == 0 && cmd)
                r = args_append(args, cmd);
        if (r >= 0 && json_array_size(args) == 0)
                r = oci_fail(ret_error,
                             "command: nothing to run: the image has no Entrypoint or Cmd and the "
                             "container sets no command or args");
        if (r < 0) {
                json_decref(args);
                return r;
        }
        *ret = args;
        return 0;
}

static int cwd_get(const OciSpecInput *in, const char **ret, char **ret_error)
{
        const char *image_cwd;
        int r = oci_image_string(in->image_config, "WorkingDir", &image_cwd, ret_error);
        if (r < 0)
                return r;
        if (in->container->working_dir && *in->container->working_dir)
                *ret = in->container->working_dir;
        else
                *ret = image_cwd ? image_cwd : "/";
        if ((*ret)[0] != '/')
                return oci_fail(ret_error, "%s: expected an absolute path, found \"%s\"",
                                *ret == image_cwd ? "image config WorkingDir" : "workingDir", *ret);
        return 0;
}

static int user_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        const char *image_user, *user = in->container->user, *field = "user";
        int r = oci_image_string(in->image_config, "User", &image_user, ret_error);
        if (r < 0)
                return r;
        if (!user || !*user) {
                user = image_user;
                field = "image config User";
        }
        OciUser u;
        if ((r = oci_user_resolve(user, field, in->etc_passwd, in->etc_group, &u, ret_error)) < 0)
                return r;
        json_t *gids = json_array();
        for (size_t i = 0; gids && i < u.n_gids; i++)
                if (oci_json_push(gids, json_integer(u.gids[i])) < 0) {
                        json_decref(gids);
                        gids = NULL;
                }
        *ret = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u.uid, "gid", (json_int_t)u.gid,
                         "additionalGids", gids);
        oci_user_done(&u);
        return *ret ? 0 : -ENOMEM;
}

int oci_process_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        json_t *user = NULL, *args = NULL, *env = NULL, *caps = NULL;
        const char *cwd;
        int r;

        if ((r = user_build(in, &user, ret_error)) < 0 || (r = args_build(in, &args, ret_error)) < 0 ||
            (r = env_build(in, &env, ret_error)) < 0 || (r = cwd_get(in, &cwd, ret_error)) < 0 ||
            (r = capabilities_build(in, &caps, ret_error)) < 0) {
                json_decref(user);
                json_decref(args);
                json_decref(env);
                return r;
        }
        /* json_pack steals the "o" values, on failure too */
        *ret = json_pack("{s:o, s:o, s:o, s:s, s:o, s:[{s:s, s:i, s:i}], s:b}", "user", user, "args", args,
                         "env", env, "cwd", cwd, "capabilities", caps, "rlimits", "type", "RLIMIT_NOFILE",
                         "hard", 1024, "soft", 1024, "noNewPrivileges", 1);
        return *ret ? 0 : -ENOMEM;
}
