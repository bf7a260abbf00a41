/* The cgroup driver on fake trees (fake-cgroup.h): mode detection, paths, ensure and delegation, limits in
 * both modes, observe and drift, removal with runc's leftovers, -EBUSY, and injected I/O errors. */
#include "fake-cgroup.h"

#define CELL  "kukeon/r/s/st/c"
#define CELLV "r/s/st/c"

static void expect_levels(Fake *f, const char *hier, bool present)
{
        static const char *const levels[] = {"kukeon", "kukeon/r", "kukeon/r/s", "kukeon/r/s/st", CELL};
        char rel[256];
        for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
                snprintf(rel, sizeof(rel), "%s%s%s", hier, hier[0] ? "/" : "", levels[i]);
                if (fake_exists(f, rel) != present)
                        fail_msg("%s: expected %s", rel, present ? "present" : "absent");
        }
}

static void expect_file(Fake *f, const char *rel, const char *want)
{
        char buf[512];
        assert_string_equal(fake_get(f, rel, buf, sizeof(buf)), want);
}

/* ---- detection and paths ---- */

static void test_detect_modes(void **state)
{
        Fake *f = *state;
        CgManager *m = NULL;

        fake_build(f, CG_MODE_HYBRID, NULL);
        m = fake_manager(f);
        assert_int_equal(cg_mode(m), CG_MODE_HYBRID);
        assert_string_equal(cg_mode_to_string(cg_mode(m)), "hybrid");
        /* symlinks and the stray tmpfs directory are not hierarchies; unified comes last */
        assert_int_equal(m->n_hier, 6);
        assert_int_equal(m->hier[0].controllers, CG_CTRL_CPU | CG_CTRL_CPUACCT);
        assert_int_equal(m->hier[1].controllers, CG_CTRL_CPUSET);
        assert_int_equal(m->hier[2].controllers, CG_CTRL_MEMORY);
        assert_int_equal(m->hier[3].controllers, CG_CTRL_PIDS);
        assert_int_equal(m->hier[4].controllers, 0); /* systemd */
        assert_true(m->hier[5].is_unified);
        assert_string_equal(cg_root_name(m), "kukeon");
        assert_string_equal(cg_fs_root(m), f->root);
        cg_manager_free(m);

        rm_rf(f->root);
        mkdir(f->root, 0700);
        fake_build(f, CG_MODE_LEGACY, NULL);
        m = fake_manager(f);
        assert_int_equal(cg_mode(m), CG_MODE_LEGACY);
        assert_int_equal(m->n_hier, 5);
        cg_manager_free(m);

        f->mode = CG_MODE_UNIFIED;
        m = fake_manager(f);
        assert_int_equal(cg_mode(m), CG_MODE_UNIFIED);
        assert_int_equal(m->n_hier, 1);
        assert_string_equal(m->hier[0].mount, f->root);
        m = cg_manager_free(m);
        assert_null(m);
        assert_null(cg_manager_free(NULL));
        assert_string_equal(cg_mode_to_string(CG_MODE_UNIFIED), "unified");
        assert_string_equal(cg_mode_to_string(CG_MODE_LEGACY), "legacy");
        assert_null(cg_mode_to_string(_CG_MODE_MAX));
}

static void test_detect_errors(void **state)
{
        Fake *f = *state;
        CgManager *m = NULL;
        char missing[128];

        f->mode = CG_MODE_UNIFIED;
        f->root_type = 0xEF53; /* ext4: no cgroup filesystem */
        assert_int_equal(cg_manager_new_with_io(f->root, NULL, &fake_io, f, &m), -ENOMEDIUM);
        f->root_type = TMPFS_MAGIC; /* tmpfs with no hierarchy */
        assert_int_equal(cg_manager_new_with_io(f->root, NULL, &fake_io, f, &m), -ENOMEDIUM);
        snprintf(missing, sizeof(missing), "%s/nope", f->root);
        assert_int_equal(cg_manager_new_with_io(missing, NULL, &fake_io, f, &m), -ENOENT);
        f->root_type = 0;
        assert_int_equal(cg_manager_new_with_io(f->root, "a/b", &fake_io, f, &m), -EINVAL);
        assert_int_equal(cg_manager_new_with_io(f->root, "..", &fake_io, f, &m), -EINVAL);
        assert_int_equal(cg_manager_new_with_io(f->root, "", &fake_io, f, &m), -EINVAL);
        assert_null(m);
        /* the real syscalls on a directory that is no cgroup filesystem */
        assert_int_equal(cg_manager_new(f->root, NULL, &m), -ENOMEDIUM);
        assert_int_equal(cg_manager_new(missing, NULL, &m), -ENOENT);
}

static void test_paths(void **state)
{
        Fake *f = *state;
        char p[512];
        fake_build(f, CG_MODE_UNIFIED, "cpu memory pids\n");
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);

        ResourceId realm = rid(KIND_REALM, "r"), cell = rid(KIND_CELL, CELLV);
        assert_int_equal(cg_path(m, &realm, p, sizeof(p)), 0);
        assert_string_equal(p, "/kukeon/r");
        ResourceId stack = rid(KIND_STACK, "r/s/st");
        assert_int_equal(cg_path(m, &stack, p, sizeof(p)), 0);
        assert_string_equal(p, "/kukeon/r/s/st");
        assert_int_equal(cg_path(m, &cell, p, sizeof(p)), 0);
        assert_string_equal(p, "/kukeon/r/s/st/c");
        assert_int_equal(cg_container_path(m, &cell, NULL, true, p, sizeof(p)), 0);
        assert_string_equal(p, "/kukeon/r/s/st/c/c_root");
        assert_int_equal(cg_container_path(m, &cell, "app", false, p, sizeof(p)), 0);
        assert_string_equal(p, "/kukeon/r/s/st/c/app");
        assert_int_equal(cg_path(m, &cell, p, 10), -ENAMETOOLONG);
        assert_int_equal(cg_container_path(m, &cell, "app", false, p, 17), -ENAMETOOLONG);

        /* names that could escape the tree, other kinds */
        ResourceId bad = rid(KIND_CELL, "r/s/st/c");
        snprintf(bad.stack, sizeof(bad.stack), "..");
        assert_int_equal(cg_path(m, &bad, p, sizeof(p)), -EINVAL);
        assert_int_equal(cg_ensure(m, &bad), -EINVAL);
        assert_int_equal(cg_remove(m, &bad), -EINVAL);
        ResourceId image = rid(KIND_IMAGE, "r/img");
        assert_int_equal(cg_path(m, &image, p, sizeof(p)), -EINVAL);
        assert_int_equal(cg_container_path(m, &cell, "a/b", false, p, sizeof(p)), -EINVAL);
}

/* ---- v2 ---- */

static void test_v2_ensure_delegates(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_UNIFIED, "cpu memory pids\n"); /* the host root delegates no io */
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);

        assert_int_equal(cg_ensure(m, &cell), 1);
        expect_levels(f, "", true);
        /* every level delegates what its parent offers, top-down, one write each */
        fake_assert_log(f, LOG("kukeon/cgroup.subtree_control=+cpu +memory +pids",
                               "kukeon/r/cgroup.subtree_control=+cpu +memory +pids",
                               "kukeon/r/s/cgroup.subtree_control=+cpu +memory +pids",
                               "kukeon/r/s/st/cgroup.subtree_control=+cpu +memory +pids",
                               CELL "/cgroup.subtree_control=+cpu +memory +pids"));
        expect_file(f, CELL "/cgroup.controllers", "cpu memory pids");
        expect_file(f, CELL "/cgroup.subtree_control", "cpu memory pids\n");

        /* idempotent: nothing created, nothing written */
        unsigned mkdirs = f->n_mkdir;
        assert_int_equal(cg_ensure(m, &cell), 0);
        assert_int_equal(f->n_mkdir, mkdirs);
        fake_assert_log(f, NOLOG);

        /* a sibling costs one mkdir and one write */
        ResourceId other = rid(KIND_CELL, "r/s/st/d");
        assert_int_equal(cg_ensure(m, &other), 1);
        assert_int_equal(f->n_mkdir, mkdirs + 1);
        fake_assert_log(f, LOG("kukeon/r/s/st/d/cgroup.subtree_control=+cpu +memory +pids"));

        /* delegation drift is observed and repaired: only the missing controller is written */
        write_text(f->root, "kukeon/r/cgroup.subtree_control", "cpu pids\n");
        CgObserved o;
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_true(o.exists);
        assert_true(o.needs_ensure);
        assert_int_equal(cg_ensure(m, &cell), 1);
        fake_assert_log(f, LOG("kukeon/r/cgroup.subtree_control=+memory"));
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_false(o.needs_ensure);
}

static void test_v2_limits(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_UNIFIED, "cpu io memory pids\n");
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);
        assert_int_equal(cg_ensure(m, &cell), 1);
        f->n_log = 0;

        Resources res = {.memory_limit_bytes = (64 << 20) + 123,
                         .cpu_shares = 512,
                         .cpu_quota_micros = 50000,
                         .pids_limit = 100};
        assert_int_equal(cg_set_limits(m, &cell, &res), 1);
        fake_assert_log(f, LOG(CELL "/memory.max=67108864", CELL "/cpu.weight=20",
                               CELL "/cpu.max=50000 100000", CELL "/pids.max=100"));
        expect_file(f, CELL "/memory.max", "67108864\n"); /* whole pages */
        assert_int_equal(cg_set_limits(m, &cell, &res), 0);
        fake_assert_log(f, NOLOG);

        CgObserved o;
        CgLimits want;
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        cg_limits_expected(CG_MODE_UNIFIED, &res, &want);
        assert_int_equal(o.limits.has,
                         CG_LIMIT_MEMORY | CG_LIMIT_CPU_WEIGHT | CG_LIMIT_CPU_MAX | CG_LIMIT_PIDS);
        assert_int_equal(o.limits.memory_max, 67108864);
        assert_int_equal(o.limits.cpu_weight, 20);
        assert_int_equal(o.limits.cpu_quota_micros, 50000);
        assert_int_equal(o.limits.cpu_period_micros, 100000);
        assert_int_equal(o.limits.pids_max, 100);
        assert_true(cg_limits_equal(&want, &o.limits));

        /* drift: someone raised the memory limit behind our back */
        write_text(f->root, CELL "/memory.max", "max\n");
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_false(cg_limits_equal(&want, &o.limits));

        /* every limit removed: the defaults come back */
        Resources none = {0};
        assert_int_equal(cg_set_limits(m, &cell, &none), 1);
        fake_assert_log(f, LOG(CELL "/cpu.weight=100", CELL "/cpu.max=max 100000", CELL "/pids.max=max"));
        expect_file(f, CELL "/memory.max", "max\n");
        expect_file(f, CELL "/cpu.max", "max 100000\n");
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        cg_limits_expected(CG_MODE_UNIFIED, &none, &want);
        assert_true(cg_limits_equal(&want, &o.limits));
        assert_int_equal(o.limits.memory_max, CG_UNLIMITED);

        /* an explicit period */
        Resources period = {.cpu_quota_micros = 20000, .cpu_period_micros = 50000};
        assert_int_equal(cg_set_limits(m, &cell, &period), 1);
        fake_assert_log(f, LOG(CELL "/cpu.max=20000 50000"));
}

static void test_shares_to_weight(void **state)
{
        assert_int_equal(cg_shares_to_weight(0), 0);
        assert_int_equal(cg_shares_to_weight(1), 1);
        assert_int_equal(cg_shares_to_weight(2), 1);
        assert_int_equal(cg_shares_to_weight(512), 20);
        assert_int_equal(cg_shares_to_weight(1024), 39);
        assert_int_equal(cg_shares_to_weight(262144), 10000);
        assert_int_equal(cg_shares_to_weight(1 << 20), 10000);
}

static void test_v2_missing_controller(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_UNIFIED, "cpu memory\n"); /* no pids delegated by the host */
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);
        assert_int_equal(cg_ensure(m, &cell), 1);
        f->n_log = 0;

        /* the limit that cannot be written is reported; the others are still written */
        Resources res = {.memory_limit_bytes = 1 << 20, .pids_limit = 10};
        assert_int_equal(cg_set_limits(m, &cell, &res), -EOPNOTSUPP);
        fake_assert_log(f, LOG(CELL "/memory.max=1048576"));
        /* without a pids limit there is nothing to restore there */
        res.pids_limit = 0;
        assert_int_equal(cg_set_limits(m, &cell, &res), 0);

        CgObserved o;
        CgLimits want;
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_false(o.limits.has & CG_LIMIT_PIDS);
        CgUsage u;
        assert_int_equal(cg_read_usage(m, &cell, &u), 0);
        assert_false(u.has & CG_USAGE_PIDS);
        cg_limits_expected(CG_MODE_UNIFIED, &res, &want);
        assert_true(cg_limits_equal(&want, &o.limits));
        res.pids_limit = 10;
        cg_limits_expected(CG_MODE_UNIFIED, &res, &want);
        assert_false(cg_limits_equal(&want, &o.limits));
}

/* ---- v1 and hybrid ---- */

static void test_v1_ensure(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_HYBRID, NULL);
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);

        assert_int_equal(cg_ensure(m, &cell), 1);
        static const char *const hiers[] = {"cpu,cpuacct", "cpuset", "memory", "pids", "systemd", "unified"};
        for (size_t i = 0; i < ARRAY_SIZE(hiers); i++)
                expect_levels(f, hiers[i], true);
        assert_false(fake_exists(f, "stray/kukeon"));
        /* no subtree_control on hybrid's unified tree; cpuset levels inherit cpus and mems */
        fake_assert_log(f, LOG("cpuset/kukeon/cpuset.cpus=0-3", "cpuset/kukeon/cpuset.mems=0",
                               "cpuset/kukeon/r/cpuset.cpus=0-3", "cpuset/kukeon/r/cpuset.mems=0",
                               "cpuset/kukeon/r/s/cpuset.cpus=0-3", "cpuset/kukeon/r/s/cpuset.mems=0",
                               "cpuset/kukeon/r/s/st/cpuset.cpus=0-3", "cpuset/kukeon/r/s/st/cpuset.mems=0",
                               "cpuset/" CELL "/cpuset.cpus=0-3", "cpuset/" CELL "/cpuset.mems=0"));
        assert_int_equal(cg_ensure(m, &cell), 0);
        fake_assert_log(f, NOLOG);

        CgObserved o;
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_int_equal(o.n_levels, 5);
        for (unsigned i = 0; i < o.n_levels; i++)
                assert_true(o.level_exists[i]);
        assert_false(o.needs_ensure);

        /* drift: the stack's level vanished from one hierarchy */
        char path[256];
        snprintf(path, sizeof(path), "%s/memory/kukeon/r/s/st", f->root);
        assert_int_equal(rm_rf(path), 0);
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_true(o.level_exists[2]);
        assert_false(o.level_exists[3]);
        assert_false(o.level_exists[4]);
        assert_false(o.exists);
        assert_true(o.needs_ensure);
        assert_int_equal(o.limits.has, 0);
        assert_int_equal(cg_ensure(m, &cell), 1);
        expect_levels(f, "memory", true);
}

static void test_v1_limits(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_LEGACY, NULL);
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);
        assert_int_equal(cg_set_limits(m, &cell, &(Resources){.pids_limit = 5}), -ENOENT);
        assert_int_equal(cg_ensure(m, &cell), 1);
        f->n_log = 0;

        Resources res = {.memory_limit_bytes = 64 << 20,
                         .cpu_shares = 512,
                         .cpu_quota_micros = 50000,
                         .pids_limit = 100};
        assert_int_equal(cg_set_limits(m, &cell, &res), 1);
        /* the default period is in place already: only the quota is written */
        fake_assert_log(f, LOG("memory/" CELL "/memory.limit_in_bytes=67108864",
                               "cpu,cpuacct/" CELL "/cpu.shares=512",
                               "cpu,cpuacct/" CELL "/cpu.cfs_quota_us=50000", "pids/" CELL "/pids.max=100"));
        assert_int_equal(cg_set_limits(m, &cell, &res), 0);

        CgObserved o;
        CgLimits want;
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        cg_limits_expected(CG_MODE_LEGACY, &res, &want);
        assert_int_equal(o.limits.has,
                         CG_LIMIT_MEMORY | CG_LIMIT_CPU_SHARES | CG_LIMIT_CPU_MAX | CG_LIMIT_PIDS);
        assert_int_equal(o.limits.cpu_shares, 512);
        assert_int_equal(o.limits.cpu_quota_micros, 50000);
        assert_true(cg_limits_equal(&want, &o.limits));

        /* removing every limit: -1 for memory and quota (quota before period), "max" for pids */
        Resources none = {0};
        assert_int_equal(cg_set_limits(m, &cell, &none), 1);
        fake_assert_log(f, LOG("memory/" CELL "/memory.limit_in_bytes=-1",
                               "cpu,cpuacct/" CELL "/cpu.shares=1024",
                               "cpu,cpuacct/" CELL "/cpu.cfs_quota_us=-1", "pids/" CELL "/pids.max=max"));
        expect_file(f, "memory/" CELL "/memory.limit_in_bytes", V1_PAGE_COUNTER_MAX "\n");
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_int_equal(o.limits.memory_max, CG_UNLIMITED);
        assert_int_equal(o.limits.cpu_quota_micros, CG_UNLIMITED);
        cg_limits_expected(CG_MODE_LEGACY, &none, &want);
        assert_true(cg_limits_equal(&want, &o.limits));

        /* the kernel refuses the new period next to the old quota: quota first, then period */
        assert_int_equal(cg_set_limits(m, &cell, &(Resources){.cpu_quota_micros = 30000}), 1);
        f->n_log = 0;
        f->fail_op = "write", f->fail_suffix = "/cpu.cfs_period_us", f->fail_err = -EINVAL,
        f->fail_times = 1;
        assert_int_equal(
                cg_set_limits(m, &cell, &(Resources){.cpu_quota_micros = 5000, .cpu_period_micros = 10000}),
                1);
        fake_assert_log(f, LOG("cpu,cpuacct/" CELL "/cpu.cfs_quota_us=5000",
                               "cpu,cpuacct/" CELL "/cpu.cfs_period_us=10000"));
}

static void test_read_usage(void **state)
{
        Fake *f = *state;
        ResourceId cell = rid(KIND_CELL, CELLV);
        CgObserved o;
        CgUsage u;

        fake_build(f, CG_MODE_UNIFIED, "cpu memory pids\n");
        CgManager *m = fake_manager(f);
        assert_int_equal(cg_observe(m, &cell, &o), 0);
        assert_false(o.exists);
        assert_true(o.needs_ensure);
        assert_int_equal(cg_read_usage(m, &cell, &u), -ENOENT);
        assert_int_equal(cg_ensure(m, &cell), 1);
        write_text(f->root, CELL "/memory.current", "4096\n");
        write_text(f->root, CELL "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        write_text(f->root, CELL "/pids.current", "3\n");
        assert_int_equal(cg_read_usage(m, &cell, &u), 0);
        assert_int_equal(u.has, CG_USAGE_MEMORY | CG_USAGE_CPU | CG_USAGE_PIDS);
        assert_int_equal(u.memory_bytes, 4096);
        assert_int_equal(u.cpu_usage_nanos, 1500000);
        assert_int_equal(u.pids, 3);
        /* a level of a realm */
        ResourceId realm = rid(KIND_REALM, "r");
        assert_int_equal(cg_observe(m, &realm, &o), 0);
        assert_int_equal(o.n_levels, 2);
        assert_true(o.exists);
        cg_manager_free(m);

        assert_int_equal(rm_rf(f->root), 0);
        assert_int_equal(mkdir(f->root, 0700), 0);
        fake_build(f, CG_MODE_LEGACY, NULL);
        m = fake_manager(f);
        assert_int_equal(cg_ensure(m, &cell), 1);
        write_text(f->root, "memory/" CELL "/memory.usage_in_bytes", "8192\n");
        write_text(f->root, "cpu,cpuacct/" CELL "/cpuacct.usage", "123456789\n");
        write_text(f->root, "pids/" CELL "/pids.current", "2\n");
        assert_int_equal(cg_read_usage(m, &cell, &u), 0);
        assert_int_equal(u.has, CG_USAGE_MEMORY | CG_USAGE_CPU | CG_USAGE_PIDS);
        assert_int_equal(u.memory_bytes, 8192);
        assert_int_equal(u.cpu_usage_nanos, 123456789);
        assert_int_equal(u.pids, 2);
        cg_manager_free(m);
}

/* ---- removal ---- */

/* runc's leaves under the cell, in every hierarchy (through the fake kernel, so they get their files). */
static void make_leaves(Fake *f, CgManager *m)
{
        char path[512];
        for (size_t i = 0; i < m->n_hier; i++) {
                snprintf(path, sizeof(path), "%s/" CELL "/c_root", m->hier[i].mount);
                assert_int_equal(fake_mkdir(f, path), 0);
                snprintf(path, sizeof(path), "%s/" CELL "/app", m->hier[i].mount);
                assert_int_equal(fake_mkdir(f, path), 0);
        }
}

static void check_remove(Fake *f, CgMode mode)
{
        fake_build(f, mode, "cpu memory pids\n");
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV), realm = rid(KIND_REALM, "r");
        const char *hier = mode == CG_MODE_UNIFIED ? "" : "memory/";
        char rel[256];

        assert_int_equal(cg_remove(m, &cell), 0); /* nothing there yet */
        assert_int_equal(cg_ensure(m, &cell), 1);
        make_leaves(f, m);
        assert_int_equal(cg_remove(m, &cell), 1);
        for (size_t i = 0; i < m->n_hier; i++) {
                snprintf(rel, sizeof(rel), "%s/" CELL, fake_rel(f, m->hier[i].mount));
                assert_false(fake_exists(f, rel[0] == '/' ? rel + 1 : rel));
                snprintf(rel, sizeof(rel), "%s/kukeon/r/s/st", fake_rel(f, m->hier[i].mount));
                assert_true(fake_exists(f, rel[0] == '/' ? rel + 1 : rel));
        }
        assert_int_equal(cg_remove(m, &cell), 0);

        assert_int_equal(cg_ensure(m, &cell), 1);
        assert_int_equal(cg_remove(m, &realm), 1);
        snprintf(rel, sizeof(rel), "%skukeon/r", hier);
        assert_false(fake_exists(f, rel));
        snprintf(rel, sizeof(rel), "%skukeon", hier);
        assert_true(fake_exists(f, rel));
        assert_int_equal(cg_remove_root(m), 1);
        assert_false(fake_exists(f, rel));
        assert_int_equal(cg_remove_root(m), 0);
}

static void test_remove_v2(void **state)
{
        check_remove(*state, CG_MODE_UNIFIED);
}

static void test_remove_hybrid(void **state)
{
        check_remove(*state, CG_MODE_HYBRID);
}

static void test_remove_busy(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_HYBRID, NULL);
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV), stack = rid(KIND_STACK, "r/s/st");
        assert_int_equal(cg_ensure(m, &cell), 1);
        make_leaves(f, m);

        /* a process left in the memory leaf: -EBUSY, the rest of what could go is gone */
        write_text(f->root, "memory/" CELL "/c_root/cgroup.procs", "1234\n");
        assert_int_equal(cg_remove(m, &cell), -EBUSY);
        assert_true(fake_exists(f, "memory/" CELL "/c_root"));
        assert_false(fake_exists(f, "memory/" CELL "/app"));
        assert_false(fake_exists(f, "pids/" CELL));
        assert_false(fake_exists(f, "unified/" CELL));
        /* the parent is busy too, and is not tried */
        unsigned rmdirs = f->n_rmdir;
        assert_int_equal(cg_remove(m, &stack), -EBUSY);
        assert_true(fake_exists(f, "memory/kukeon/r/s/st"));
        assert_false(fake_exists(f, "pids/kukeon/r/s/st"));
        assert_int_equal(f->n_rmdir, rmdirs + 5); /* the stack level in the other five hierarchies */

        /* the process is gone: the retry finishes */
        write_text(f->root, "memory/" CELL "/c_root/cgroup.procs", "");
        assert_int_equal(cg_remove(m, &stack), 1);
        assert_false(fake_exists(f, "memory/kukeon/r/s/st"));

        /* -EBUSY straight from the I/O seam is returned as it is */
        assert_int_equal(cg_ensure(m, &cell), 1);
        f->fail_op = "rmdir", f->fail_suffix = "/c", f->fail_err = -EBUSY, f->fail_times = -1;
        assert_int_equal(cg_remove(m, &cell), -EBUSY);
        f->fail_op = NULL;
        assert_int_equal(cg_remove(m, &cell), 1);
}

static void test_io_errors(void **state)
{
        Fake *f = *state;
        fake_build(f, CG_MODE_UNIFIED, "cpu memory pids\n");
        _cleanup_cg_manager_ CgManager *m = fake_manager(f);
        ResourceId cell = rid(KIND_CELL, CELLV);

        f->fail_op = "mkdir", f->fail_suffix = "/st", f->fail_err = -EACCES, f->fail_times = 1;
        assert_int_equal(cg_ensure(m, &cell), -EACCES);
        assert_true(fake_exists(f, "kukeon/r/s"));
        assert_false(fake_exists(f, "kukeon/r/s/st"));
        assert_int_equal(cg_ensure(m, &cell), 1);

        f->fail_op = "write", f->fail_suffix = "/memory.max", f->fail_err = -EBUSY, f->fail_times = 1;
        f->n_log = 0;
        assert_int_equal(
                cg_set_limits(m, &cell, &(Resources){.memory_limit_bytes = 1 << 20, .pids_limit = 7}),
                -EBUSY);
        fake_assert_log(f, LOG(CELL "/pids.max=7"));

        f->fail_op = "write", f->fail_suffix = "/cgroup.subtree_control", f->fail_err = -EIO,
        f->fail_times = -1;
        ResourceId other = rid(KIND_CELL, "r/s/st/d");
        assert_int_equal(cg_ensure(m, &other), -EIO);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_detect_modes, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_detect_errors, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_paths, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_v2_ensure_delegates, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_v2_limits, fake_setup, fake_teardown),
                cmocka_unit_test(test_shares_to_weight),
                cmocka_unit_test_setup_teardown(test_v2_missing_controller, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_v1_ensure, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_v1_limits, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_read_usage, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_remove_v2, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_remove_hybrid, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_remove_busy, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_io_errors, fake_setup, fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
