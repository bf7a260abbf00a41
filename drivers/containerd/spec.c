/* The OCI runtime spec: the document, its mounts and its linux section (the process object is in
 * spec-process.c). Keys are inserted in the order Go's encoding/json emits specs.Spec, so our output
 * reads like `ctr oci spec`. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/containerd/spec-private.h"

#define OCI_VERSION        "1.0.2-dev" /* what containerd 1.6 writes (specs.Version of its runtime-spec) */
#define CPU_PERIOD_DEFAULT 100000
#define CPU_SHARES_DEFAULT 1024

int oci_fail(char **ret_error, const char *fmt, ...)
{
        if (!ret_error || *ret_error)
                return -EINVAL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(ret_error, fmt, ap);
        va_end(ap);
        if (n < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

int oci_json_put(json_t *obj, const char *key, json_t *v)
{
        return json_object_set_new(obj, key, v) < 0 ? -ENOMEM : 0;
}

int oci_json_push(json_t *arr, json_t *v)
{
        return json_array_append_new(arr, v) < 0 ? -ENOMEM : 0;
}

json_t *oci_json_strv(const char *const *v, size_t n)
{
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
                if (oci_json_push(a, json_string(v[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

int oci_image_strv(const json_t *config, const char *key, const json_t **ret, char **ret_error)
{
        const json_t *v = config ? json_object_get(config, key) : NULL;
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return oci_fail(ret_error, "image config %s: expected an array of strings", key);
        for (size_t i = 0; i < json_array_size(v); i++)
                if (!json_is_string(json_array_get(v, i)))
                        return oci_fail(ret_error, "image config %s[%zu]: expected a string", key, i);
        *ret = v;
        return 0;
}

int oci_image_string(const json_t *config, const char *key, const char **ret, char **ret_error)
{
        const json_t *v = config ? json_object_get(config, key) : NULL;
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return oci_fail(ret_error, "image config %s: expected a string", key);
        if (json_string_length(v) > 0)
                *ret = json_string_value(v);
        return 0;
}

/* ---- mounts ---- */

typedef struct DefaultMount {
        const char *destination, *type, *source;
        const char *options[6];
} DefaultMount;

/* oci.defaultMounts() */
static const DefaultMount default_mounts[] = {
        {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
        {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
        {"/dev/pts",
         "devpts",
         "devpts",
         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
        {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
        {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
        {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
        {"/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
};

static json_t *mount_new(const char *destination, const char *type, const char *source, json_t *options)
{
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", destination, "type", type, "source", source,
                         "options", options);
}

/* Equal paths, ignoring trailing slashes. */
static bool path_eq(const char *a, const char *b)
{
        size_t na = strlen(a), nb = strlen(b);
        while (na > 1 && a[na - 1] == '/')
                na--;
        while (nb > 1 && b[nb - 1] == '/')
                nb--;
        return na == nb && memcmp(a, b, na) == 0;
}

/* Adds a mount; one at the same destination as a default or managed mount replaces it in place, so a
 * parent (/dev) is still mounted before its children (/dev/pts). Steals m. */
static int mount_put(json_t *mounts, json_t *m)
{
        const char *destination = json_string_value(json_object_get(m, "destination"));
        for (size_t i = 0; destination && i < json_array_size(mounts); i++) {
                const char *d = json_string_value(json_object_get(json_array_get(mounts, i), "destination"));
                if (d && path_eq(d, destination))
                        return json_array_set_new(mounts, i, m) < 0 ? -ENOMEM : 0;
        }
        return oci_json_push(mounts, m);
}

static int default_mounts_add(json_t *mounts, bool privileged)
{
        for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
                const DefaultMount *m = &default_mounts[i];
                json_t *opts = json_array();
                for (size_t k = 0; opts && k < ARRAY_SIZE(m->options) && m->options[k]; k++) {
                        /* privileged: WithWriteableSysfs turns sysfs's "ro" into "rw" */
                        const char *o = privileged && streq(m->type, "sysfs") && streq(m->options[k], "ro")
                                                ? "rw"
                                                : m->options[k];
                        if (oci_json_push(opts, json_string(o)) < 0) {
                                json_decref(opts);
                                opts = NULL;
                        }
                }
                if (oci_json_push(mounts, mount_new(m->destination, m->type, m->source, opts)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int bind_add(json_t *mounts, const char *source, const char *destination, bool read_only)
{
        return mount_put(mounts, mount_new(destination, "bind", source,
                                           json_pack("[s, s]", "rbind", read_only ? "ro" : "rw")));
}

/* "1777" → 01777; octal digits only, at most 07777. */
static int parse_mode(const char *s, unsigned *ret)
{
        unsigned v = 0;
        if (!*s || strlen(s) > 5)
                return -EINVAL;
        for (; *s; s++) {
                if (*s < '0' || *s > '7')
                        return -EINVAL;
                v = v * 8 + (unsigned)(*s - '0');
        }
        if (v > 07777)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int tmpfs_add(json_t *mounts, const Volume *v, size_t i, char **ret_error)
{
        json_t *opts = json_array();
        char buf[32];
        unsigned mode;
        int r = opts ? 0 : -ENOMEM;

        if (r >= 0 && v->size_bytes < 0)
                r = oci_fail(ret_error, "volumes[%zu].sizeBytes: must not be negative", i);
        if (r >= 0 && v->size_bytes > 0) {
                snprintf(buf, sizeof(buf), "size=%" PRId64, v->size_bytes);
                r = oci_json_push(opts, json_string(buf));
        }
        if (r >= 0 && v->mode) {
                if (parse_mode(v->mode, &mode) < 0)
                        r = oci_fail(ret_error,
                                     "volumes[%zu].mode: expected octal digits up to 7777, found \"%s\"", i,
                                     v->mode);
                else {
                        snprintf(buf, sizeof(buf), "mode=%04o", mode);
                        r = oci_json_push(opts, json_string(buf));
                }
        }
        if (r >= 0)
                r = oci_json_push(opts, json_string(v->read_only ? "ro" : "rw"));
        if (r < 0) {
                json_decref(opts);
                return r;
        }
        return mount_put(mounts, mount_new(v->target, "tmpfs", "tmpfs", opts));
}

static int volumes_add(json_t *mounts, const ContainerSpec *c, char **ret_error)
{
        for (size_t i = 0; i < c->n_volumes; i++) {
                const Volume *v = &c->volumes[i];
                int r;
                if (!v->target || v->target[0] != '/')
                        return oci_fail(ret_error,
                                        "volumes[%zu].target: expected an absolute path, found \"%s\"", i,
                                        strempty(v->target));
                if (v->kind == VOLUME_BIND) {
                        if (!v->source || v->source[0] != '/')
                                return oci_fail(
                                        ret_error,
                                        "volumes[%zu].source: a bind volume needs an absolute host path, "
                                        "found \"%s\"",
                                        i, strempty(v->source));
                        r = bind_add(mounts, v->source, v->target, v->read_only);
                } else if (v->kind == VOLUME_TMPFS)
                        r = tmpfs_add(mounts, v, i, ret_error);
                else
                        r = oci_fail(ret_error, "volumes[%zu].kind: unknown kind %d", i, v->kind);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Defaults, the cell's managed /etc/hostname and /etc/hosts (not /etc/hosts with hostNetwork: the
 * container keeps the image's), then the volumes. */
static int mounts_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        const ContainerSpec *c = in->container;
        json_t *mounts = json_array();
        int r = mounts ? default_mounts_add(mounts, c->privileged) : -ENOMEM;

        if (r >= 0 && in->hostname_path)
                r = bind_add(mounts, in->hostname_path, "/etc/hostname", true);
        if (r >= 0 && in->hosts_path && !c->host_network)
                r = bind_add(mounts, in->hosts_path, "/etc/hosts", true);
        if (r >= 0)
                r = volumes_add(mounts, c, ret_error);
        if (r < 0) {
                json_decref(mounts);
                return r;
        }
        *ret = mounts;
        return 0;
}

/* ---- linux ---- */

/* oci.WithDefaultUnixDevices after populateDefaultUnixSpec's deny-all: null, random, full, tty, zero,
 * urandom, console, pts (136:*), ptmx. minor -1 is the wildcard. */
static const struct {
        int major, minor;
} default_devices[] = {{1, 3}, {1, 8}, {1, 7}, {5, 0}, {1, 5}, {1, 9}, {5, 1}, {136, -1}, {5, 2}};

static json_t *devices_build(bool privileged)
{
        /* privileged: WithAllDevicesAllowed */
        json_t *a = json_pack("[{s:b, s:s}]", "allow", privileged, "access", "rwm");
        for (size_t i = 0; a && !privileged && i < ARRAY_SIZE(default_devices); i++) {
                int major = default_devices[i].major, minor = default_devices[i].minor;
                json_t *d = minor >= 0 ? json_pack("{s:b, s:s, s:i, s:i, s:s}", "allow", 1, "type", "c",
                                                   "major", major, "minor", minor, "access", "rwm")
                                       : json_pack("{s:b, s:s, s:i, s:s}", "allow", 1, "type", "c", "major",
                                                   major, "access", "rwm");
                if (oci_json_push(a, d) < 0) {
                        json_decref(a);
                        a = NULL;
                }
        }
        return a;
}

static int check_limit(int64_t v, const char *field, char **ret_error)
{
        return v < 0 ? oci_fail(ret_error, "resources.%s: must not be negative, found %" PRId64, field, v)
                     : 0;
}

/* Only what is set (> 0) appears. cpuPeriodMicros defaults to 100000 when a quota is set. */
static int resources_build(const ContainerSpec *c, json_t **ret, char **ret_error)
{
        const Resources *res = &c->resources;
        int r;

        if ((r = check_limit(res->memory_limit_bytes, "memoryLimitBytes", ret_error)) < 0 ||
            (r = check_limit(res->cpu_shares, "cpuShares", ret_error)) < 0 ||
            (r = check_limit(res->cpu_quota_micros, "cpuQuotaMicros", ret_error)) < 0 ||
            (r = check_limit(res->cpu_period_micros, "cpuPeriodMicros", ret_error)) < 0 ||
            (r = check_limit(res->pids_limit, "pidsLimit", ret_error)) < 0)
                return r;
        if (res->cpu_period_micros > 0 && res->cpu_quota_micros == 0)
                return oci_fail(ret_error, "resources.cpuPeriodMicros: only meaningful with cpuQuotaMicros");

        json_t *o = json_object(), *cpu = json_object();
        r = o && cpu ? oci_json_put(o, "devices", devices_build(c->privileged)) : -ENOMEM;
        if (r >= 0 && res->memory_limit_bytes > 0)
                r = oci_json_put(o, "memory",
                                 json_pack("{s:I}", "limit", (json_int_t)res->memory_limit_bytes));
        if (r >= 0 && res->cpu_shares > 0)
                r = oci_json_put(cpu, "shares", json_integer(res->cpu_shares));
        if (r >= 0 && res->cpu_quota_micros > 0)
                r = oci_json_put(cpu, "quota", json_integer(res->cpu_quota_micros));
        if (r >= 0 && res->cpu_quota_micros > 0)
                r = oci_json_put(cpu, "period",
                                 json_integer(res->cpu_period_micros > 0 ? res->cpu_period_micros
                                                                         : CPU_PERIOD_DEFAULT));
        if (r >= 0 && json_object_size(cpu) > 0)
                r = oci_json_put(o, "cpu", json_incref(cpu));
        if (r >= 0 && res->pids_limit > 0)
                r = oci_json_put(o, "pids", json_pack("{s:I}", "limit", (json_int_t)res->pids_limit));
        json_decref(cpu);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

/* pid, ipc, uts, mount, and network joined by path (none with hostNetwork). No cgroup namespace, as in
 * containerd's default. */
static json_t *namespaces_build(const char *netns_path)
{
        json_t *a = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type", "uts",
                              "type", "mount");
        if (a && netns_path &&
            oci_json_push(a, json_pack("{s:s, s:s}", "type", "network", "path", netns_path)) < 0) {
                json_decref(a);
                return NULL;
        }
        return a;
}

static const char *const masked_paths[] = {
        "/proc/acpi",       "/proc/asound",      "/proc/kcore",       "/proc/keys",    "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
};

static const char *const readonly_paths[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int linux_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        const ContainerSpec *c = in->container;
        json_t *resources = NULL;
        int r = resources_build(c, &resources, ret_error);
        if (r < 0)
                return r;
        json_t *masked = NULL, *readonly = NULL;
        /* privileged: WithMaskedPaths(nil), WithReadonlyPaths(nil) */
        if (!c->privileged) {
                masked = oci_json_strv(masked_paths, ARRAY_SIZE(masked_paths));
                readonly = oci_json_strv(readonly_paths, ARRAY_SIZE(readonly_paths));
                if (!masked || !readonly) {
                        json_decref(resources);
                        json_decref(masked);
                        json_decref(readonly);
                        return -ENOMEM;
                }
        }
        *ret = json_pack("{s:o, s:s, s:o, s:o*, s:o*}", "resources", resources, "cgroupsPath",
                         in->cgroups_path, "namespaces", namespaces_build(in->netns_path), "maskedPaths",
                         masked, "readonlyPaths", readonly);
        return *ret ? 0 : -ENOMEM;
}

/* ---- the document ---- */

/* Input that cannot describe a container we start. */
static int input_check(const OciSpecInput *in, char **ret_error)
{
        const ContainerSpec *c = in->container;
        const char *id = in->containerd_id ? in->containerd_id : strempty(c->id);

        if (c->external)
                return oci_fail(ret_error, "external: container %s is not started by kukeon and has no spec",
                                id);
        if (!in->cgroups_path || in->cgroups_path[0] != '/')
                return oci_fail(ret_error,
                                "cgroupsPath: expected an absolute cgroup path for %s, found \"%s\"", id,
                                strempty(in->cgroups_path));
        if (c->host_network && in->netns_path)
                return oci_fail(ret_error,
                                "hostNetwork: container %s uses the host network but a netns was given", id);
        if (!c->host_network && (!in->netns_path || in->netns_path[0] != '/'))
                return oci_fail(ret_error,
                                "hostNetwork: container %s needs the cell's netns path, found \"%s\"", id,
                                strempty(in->netns_path));
        return 0;
}

int oci_spec_build(const OciSpecInput *in, json_t **ret, char **ret_error)
{
        json_t *process = NULL, *mounts = NULL, *linux_ = NULL;
        int r;

        assert(in && in->container && in->cell && ret);
        if (ret_error)
                *ret_error = NULL;
        if ((r = input_check(in, ret_error)) < 0 || (r = oci_process_build(in, &process, ret_error)) < 0 ||
            (r = mounts_build(in, &mounts, ret_error)) < 0 ||
            (r = linux_build(in, &linux_, ret_error)) < 0) {
                json_decref(process);
                json_decref(mounts);
                return r;
        }
        /* json_pack steals every "o" value, on failure too */
        json_t *root = json_pack("{s:s, s:o*}", "path", "rootfs", "readonly",
                                 in->container->read_only_root_filesystem ? json_true() : NULL);
        *ret = json_pack("{s:s, s:o, s:o, s:s*, s:o, s:o}", "ociVersion", OCI_VERSION, "process", process,
                         "root", root, "hostname", in->hostname, "mounts", mounts, "linux", linux_);
        return *ret ? 0 : -ENOMEM;
}

bool oci_spec_needs_passwd(const ContainerSpec *container, const json_t *image_config)
{
        const char *user = container->user;
        if (!user || !*user) {
                const json_t *v = image_config ? json_object_get(image_config, "User") : NULL;
                user = json_is_string(v) ? json_string_value(v) : NULL;
        }
        return oci_user_has_names(user);
}

const char *oci_image_stop_signal(const json_t *image_config)
{
        const json_t *v = image_config ? json_object_get(image_config, "StopSignal") : NULL;
        return json_is_string(v) && json_string_length(v) > 0 ? json_string_value(v) : "SIGTERM";
}

json_t *oci_resources_update_build(const Resources *res)
{
        json_t *o = json_pack(
                "{s:{s:I}, s:{s:I, s:I, s:I}, s:{s:I}}", "memory", "limit",
                (json_int_t)(res->memory_limit_bytes > 0 ? res->memory_limit_bytes : -1), "cpu", "shares",
                (json_int_t)(res->cpu_shares > 0 ? res->cpu_shares : CPU_SHARES_DEFAULT), "quota",
                (json_int_t)(res->cpu_quota_micros > 0 ? res->cpu_quota_micros : -1), "period",
                (json_int_t)(res->cpu_period_micros > 0 ? res->cpu_period_micros : CPU_PERIOD_DEFAULT),
                "pids", "limit", (json_int_t)(res->pids_limit > 0 ? res->pids_limit : -1));
        return o;
}
