/* A fake cgroup kernel for the driver's unit tests: a tree in a temp dir plus a CgroupIo that behaves
 * like kernfs where the driver can tell the difference (statfs types, control files appearing on mkdir,
 * subtree_control semantics, rmdir of a populated cgroup, page rounding, value checks), records every
 * write, and fails chosen operations on request. */
#pragma once

#include <linux/magic.h>
#include <sys/stat.h>

#include "../testutil.h"

#include "drivers/cgroup/cgroup-internal.h"

#define V1_PAGE_COUNTER_MAX "9223372036854771712"

typedef struct Fake {
        char root[64]; /* the fs root: a temp dir */
        CgMode mode;
        int64_t root_type; /* f_type reported for the root instead of the mode's (0: the mode's) */
        /* Injection: operation op ("mkdir", "rmdir", "write") on a path ending in suffix fails with err,
         * times times (-1: always). */
        const char *fail_op, *fail_suffix;
        int fail_err, fail_times;
        unsigned n_mkdir, n_rmdir;
        char log[64][192]; /* "<path below root>=<value>" per successful write */
        size_t n_log;
} Fake;

static inline const char *fake_rel(const Fake *f, const char *path)
{
        size_t n = strlen(f->root);
        if (strncmp(path, f->root, n) != 0)
                fail_msg("path %s outside the fake root %s", path, f->root);
        return path[n] == '/' ? path + n + 1 : path + n;
}

static inline bool has_suffix(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

static inline int fake_injected(Fake *f, const char *op, const char *path)
{
        if (!f->fail_op || !streq(f->fail_op, op) || !has_suffix(path, f->fail_suffix) || f->fail_times == 0)
                return 0;
        if (f->fail_times > 0)
                f->fail_times--;
        return f->fail_err;
}

static inline void fake_put(const char *dir, const char *name, const char *value)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *fp = fopen(path, "we");
        if (!fp)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        fputs(value, fp);
        fclose(fp);
}

/* Reads a whole small file ("" when missing). */
static inline char *slurp(const char *path, char *buf, size_t size)
{
        buf[0] = '\0';
        FILE *fp = fopen(path, "re");
        if (fp) {
                buf[fread(buf, 1, size - 1, fp)] = '\0';
                fclose(fp);
        }
        return buf;
}

/* Reads a file below the root ("" when missing). */
static inline char *fake_get(const Fake *f, const char *rel, char *buf, size_t size)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", f->root, rel);
        return slurp(path, buf, size);
}

static inline bool fake_exists(const Fake *f, const char *rel)
{
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", f->root, rel);
        return lstat(path, &st) == 0;
}

/* The v1 hierarchy directory a path belongs to ("memory", "cpu,cpuacct", ...). */
static inline void fake_top(const Fake *f, const char *path, char *ret, size_t size)
{
        const char *rel = fake_rel(f, path);
        snprintf(ret, size, "%.*s", (int)strcspn(rel, "/"), rel);
}

static inline bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);
        for (const char *p = list; (p = strstr(p, word)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
                        return true;
        return false;
}

/* The control files a new v2 cgroup gets: what its parent's subtree_control enables. */
static inline void fake_populate_v2(const char *path)
{
        char parent[4096], buf[256] = "";
        snprintf(parent, sizeof(parent), "%s", path);
        *strrchr(parent, '/') = '\0';
        strcat(parent, "/cgroup.subtree_control");
        slurp(parent, buf, sizeof(buf));
        buf[strcspn(buf, "\n")] = '\0';
        fake_put(path, "cgroup.controllers", buf);
        fake_put(path, "cgroup.subtree_control", "");
        fake_put(path, "cgroup.procs", "");
        if (word_in(buf, "memory")) {
                fake_put(path, "memory.max", "max\n");
                fake_put(path, "memory.current", "0\n");
        }
        if (word_in(buf, "cpu")) {
                fake_put(path, "cpu.max", "max 100000\n");
                fake_put(path, "cpu.weight", "100\n");
                fake_put(path, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
        }
        if (word_in(buf, "pids")) {
                fake_put(path, "pids.max", "max\n");
                fake_put(path, "pids.current", "0\n");
        }
}

/* The control files a new v1 cgroup gets in its hierarchy. */
static inline void fake_populate_v1(const Fake *f, const char *path)
{
        char top[64];
        fake_top(f, path, top, sizeof(top));
        fake_put(path, "cgroup.procs", "");
        if (streq(top, "unified")) {
                fake_put(path, "cgroup.controllers", "");
                fake_put(path, "cgroup.subtree_control", "");
        } else if (streq(top, "memory")) {
                fake_put(path, "memory.limit_in_bytes", V1_PAGE_COUNTER_MAX "\n");
                fake_put(path, "memory.usage_in_bytes", "0\n");
        } else if (streq(top, "cpu,cpuacct")) {
                fake_put(path, "cpu.shares", "1024\n");
                fake_put(path, "cpu.cfs_quota_us", "-1\n");
                fake_put(path, "cpu.cfs_period_us", "100000\n");
                fake_put(path, "cpuacct.usage", "0\n");
        } else if (streq(top, "pids")) {
                fake_put(path, "pids.max", "max\n");
                fake_put(path, "pids.current", "0\n");
        } else if (streq(top, "cpuset")) {
                fake_put(path, "cpuset.cpus", "\n");
                fake_put(path, "cpuset.mems", "\n");
        }
}

static inline int fake_mkdir(void *userdata, const char *path)
{
        Fake *f = userdata;
        int r = fake_injected(f, "mkdir", path);
        if (r < 0)
                return r;
        r = cg_io_default.mkdir(NULL, path);
        if (r < 0)
                return r;
        f->n_mkdir++;
        if (f->mode == CG_MODE_UNIFIED)
                fake_populate_v2(path);
        else
                fake_populate_v1(f, path);
        return 0;
}

/* kernfs: a cgroup with processes or children is busy; its control files go with it. */
static inline int fake_rmdir(void *userdata, const char *path)
{
        Fake *f = userdata;
        int r = fake_injected(f, "rmdir", path);
        if (r < 0)
                return r;
        DIR *d = opendir(path);
        if (!d)
                return -errno;
        struct dirent *de;
        char procs[64] = "", child[4096];
        snprintf(child, sizeof(child), "%s/cgroup.procs", path);
        slurp(child, procs, sizeof(procs));
        bool busy = procs[0] != '\0';
        while (!busy && (de = readdir(d)))
                busy = de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, "..");
        rewinddir(d);
        while (!busy && (de = readdir(d)))
                if (de->d_type == DT_REG)
                        unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        if (busy)
                return -EBUSY;
        f->n_rmdir++;
        return cg_io_default.rmdir(NULL, path);
}

/* "+a -b" applied to the current set; +a must be offered by cgroup.controllers (else -ENOENT). */
static inline int fake_write_subtree(const char *path, const char *value, char *out, size_t size)
{
        static const char *const order[] = {"cpuset",  "cpu",  "io",   "memory",
                                            "hugetlb", "pids", "rdma", "misc"};
        char dir[4000], avail[256] = "", cur[256] = "", file[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        *strrchr(dir, '/') = '\0';
        snprintf(file, sizeof(file), "%s/cgroup.controllers", dir);
        slurp(file, avail, sizeof(avail));
        slurp(path, cur, sizeof(cur));
        bool on[ARRAY_SIZE(order)];
        for (size_t i = 0; i < ARRAY_SIZE(order); i++)
                on[i] = word_in(cur, order[i]);
        char tokens[256], *save = NULL;
        snprintf(tokens, sizeof(tokens), "%s", value);
        for (char *t = strtok_r(tokens, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                if ((t[0] != '+' && t[0] != '-') || (t[0] == '+' && !word_in(avail, t + 1)))
                        return t[0] == '+' ? -ENOENT : -EINVAL;
                for (size_t i = 0; i < ARRAY_SIZE(order); i++)
                        if (streq(order[i], t + 1))
                                on[i] = t[0] == '+';
        }
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(order); i++)
                if (on[i])
                        len += (size_t)snprintf(out + len, size - len, "%s%s", len ? " " : "", order[i]);
        snprintf(out + len, size - len, "\n");
        return 0;
}

/* What the kernel stores for a value written to path, or -EINVAL when it refuses it. */
static inline int fake_store_value(const char *path, const char *value, char *out, size_t size)
{
        if (has_suffix(path, "/cgroup.subtree_control"))
                return fake_write_subtree(path, value, out, size);
        if (has_suffix(path, "/pids.max") && !streq(value, "max") && atoll(value) <= 0)
                return -EINVAL;
        if (has_suffix(path, "/memory.limit_in_bytes") && streq(value, "-1")) {
                snprintf(out, size, V1_PAGE_COUNTER_MAX "\n");
                return 0;
        }
        if ((has_suffix(path, "/memory.max") || has_suffix(path, "/memory.limit_in_bytes")) &&
            !streq(value, "max")) {
                long long v = atoll(value) & ~4095LL; /* whole pages */
                snprintf(out, size, "%lld\n", v);
                return 0;
        }
        snprintf(out, size, "%s\n", value);
        return 0;
}

static inline int fake_write(void *userdata, const char *path, const char *value)
{
        Fake *f = userdata;
        int r = fake_injected(f, "write", path);
        if (r < 0)
                return r;
        struct stat st;
        if (stat(path, &st) < 0) /* control files are never created by a write */
                return -errno;
        char stored[512];
        r = fake_store_value(path, value, stored, sizeof(stored));
        if (r < 0)
                return r;
        r = cg_io_default.write_file(NULL, path, stored);
        if (r < 0)
                return r;
        if (f->n_log < ARRAY_SIZE(f->log))
                snprintf(f->log[f->n_log++], sizeof(f->log[0]), "%s=%s", fake_rel(f, path), value);
        return 0;
}

/* The root reports the mode's filesystem; v1 hierarchies are cgroup, "unified" cgroup2, "stray" tmpfs. */
static inline int fake_statfs(void *userdata, const char *path, int64_t *ret_type)
{
        Fake *f = userdata;
        int r = cg_io_default.statfs(NULL, path, ret_type);
        if (r < 0)
                return r;
        char top[64];
        fake_top(f, path, top, sizeof(top));
        if (top[0] == '\0')
                *ret_type = f->root_type                 ? f->root_type
                            : f->mode == CG_MODE_UNIFIED ? CGROUP2_SUPER_MAGIC
                                                         : TMPFS_MAGIC;
        else if (f->mode == CG_MODE_UNIFIED || streq(top, "unified"))
                *ret_type = CGROUP2_SUPER_MAGIC;
        else
                *ret_type = streq(top, "stray") ? TMPFS_MAGIC : CGROUP_SUPER_MAGIC;
        return 0;
}

static inline int fake_list_subdirs(void *userdata, const char *path, char ***ret)
{
        return cg_io_default.list_subdirs(NULL, path, ret);
}

static inline int fake_read(void *userdata, const char *path, char *buf, size_t size)
{
        return cg_io_default.read_file(NULL, path, buf, size);
}

static const CgroupIo fake_io = {
        .mkdir = fake_mkdir,
        .rmdir = fake_rmdir,
        .read_file = fake_read,
        .write_file = fake_write,
        .statfs = fake_statfs,
        .list_subdirs = fake_list_subdirs,
};

/* A root-level tree of the mode: v2 offers cpuset cpu io memory pids and delegates subtree (the
 * top-level subtree_control); v1 mounts cpu,cpuacct (with the usual symlinks), cpuset, memory, pids,
 * systemd, a stray tmpfs directory, and unified in hybrid mode. */
static inline void fake_build(Fake *f, CgMode mode, const char *subtree)
{
        f->mode = mode;
        if (mode == CG_MODE_UNIFIED) {
                write_text(f->root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
                write_text(f->root, "cgroup.subtree_control", subtree);
                write_text(f->root, "cgroup.procs", "");
                return;
        }
        write_text(f->root, "cpu,cpuacct/cpu.shares", "1024\n");
        write_text(f->root, "cpuset/cpuset.cpus", "0-3\n");
        write_text(f->root, "cpuset/cpuset.mems", "0\n");
        write_text(f->root, "memory/memory.limit_in_bytes", V1_PAGE_COUNTER_MAX "\n");
        write_text(f->root, "pids/cgroup.procs", "");
        write_text(f->root, "systemd/cgroup.procs", "");
        write_text(f->root, "stray/README", "not a cgroup\n");
        char path[4096];
        snprintf(path, sizeof(path), "%s/cpu", f->root);
        assert_int_equal(symlink("cpu,cpuacct", path), 0);
        snprintf(path, sizeof(path), "%s/cpuacct", f->root);
        assert_int_equal(symlink("cpu,cpuacct", path), 0);
        if (mode == CG_MODE_HYBRID)
                write_text(f->root, "unified/cgroup.controllers", "hugetlb\n");
}

static inline int fake_setup(void **state)
{
        Fake *f = calloc(1, sizeof(*f));
        if (!f)
                return -1;
        snprintf(f->root, sizeof(f->root), "/tmp/kuke-cgroup-XXXXXX");
        if (!mkdtemp(f->root)) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

/* Removes the tree whatever the test did, and checks that it is gone. */
static inline int fake_teardown(void **state)
{
        Fake *f = *state;
        int r = rm_rf(f->root);
        struct stat st;
        if (r == 0 && lstat(f->root, &st) == 0)
                r = -EEXIST;
        free(f);
        return r;
}

/* A manager on the fake tree. */
static inline CgManager *fake_manager(Fake *f)
{
        CgManager *m = NULL;
        int r = cg_manager_new_with_io(f->root, NULL, &fake_io, f, &m);
        if (r < 0)
                fail_msg("cg_manager_new_with_io: %s", strerror(-r));
        return m;
}

/* Asserts the writes recorded since the last reset, then resets the log. */
static inline void fake_assert_log(Fake *f, const char *const *want)
{
        size_t n = 0;
        for (; want[n]; n++) {
                if (n >= f->n_log)
                        fail_msg("write %zu missing: want %s", n, want[n]);
                assert_string_equal(f->log[n], want[n]);
        }
        if (f->n_log != n)
                fail_msg("unexpected write %zu: %s", n, f->log[n]);
        f->n_log = 0;
}

#define LOG(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOLOG    ((const char *const[]){NULL})
