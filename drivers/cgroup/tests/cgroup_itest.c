/* The cgroup driver on the real kernel (CTest "integration_cgroup", label integration): a throw-away root
 * name "kukeon-test-<pid>" in every hierarchy of /sys/fs/cgroup; a 4-level subtree, limits read back from
 * the kernel's files, a process in a leaf keeping removal busy, and removal leaving nothing behind. The
 * checks look at the filesystem themselves rather than through the driver.
 *
 * The root is removed whatever happens: in the group teardown (which cmocka runs after a failed
 * assertion too) and again at exit. Exit code 77 (skipped) without root or without a cgroup filesystem. */
#include <dirent.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "drivers/cgroup/cgroup.h"

#define SKIP  77
#define HPATH 512

/* Process-wide because atexit() handlers take no argument; this is a test program, not a library. */
static struct {
        CgManager *m;
        char root_name[64];
        pid_t child;
} it;

static const ResourceId cell_id = {
        .kind = KIND_CELL, .realm = "r", .space = "s", .stack = "st", .cell = "c", .name = "c"};

/* The hierarchy roots, found independently of the driver: the fs root on a unified host, else every
 * directory below it (not the symlinks) that is a cgroup or cgroup2 mount. Returns how many. */
static size_t hierarchies(char ret[][HPATH], size_t max)
{
        const char *fs = CG_FS_ROOT_DEFAULT;
        size_t n = 0;
        if (cg_mode(it.m) == CG_MODE_UNIFIED) {
                snprintf(ret[n++], HPATH, "%s", fs);
                return n;
        }
        DIR *d = opendir(fs);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)) && n < max) {
                char path[HPATH];
                struct stat st;
                struct statfs sfs;
                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", fs, de->d_name);
                if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || statfs(path, &sfs) < 0)
                        continue;
                if (sfs.f_type == CGROUP_SUPER_MAGIC || sfs.f_type == CGROUP2_SUPER_MAGIC)
                        snprintf(ret[n++], HPATH, "%s", path);
        }
        closedir(d);
        return n;
}

/* "<hierarchy>/<root name>/<rel>" or the root name's directory when rel is "". */
static void our_path(char *buf, size_t size, const char *hier, const char *rel)
{
        snprintf(buf, size, "%s/%s%s%s", hier, it.root_name, rel[0] ? "/" : "", rel);
}

/* Reads rel below the root name in the first hierarchy that has it ("" when none). */
static const char *read_ctl(const char *rel, char *buf, size_t size)
{
        char hier[16][HPATH], path[HPATH + 80];
        size_t n = hierarchies(hier, 16);
        buf[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                our_path(path, sizeof(path), hier[i], rel);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                size_t k = fread(buf, 1, size - 1, f);
                fclose(f);
                buf[k] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                break;
        }
        return buf;
}

static void write_ctl(const char *path, const char *value)
{
        FILE *f = fopen(path, "we");
        if (!f)
                fail_msg("open %s: %s", path, strerror(errno));
        int ok = fputs(value, f) >= 0;
        ok = fclose(f) == 0 && ok;
        if (!ok)
                fail_msg("write %s to %s: %s", value, path, strerror(errno));
}

/* Does the path below the root name exist in every hierarchy (want true) / in none (want false)? */
static void expect_everywhere(const char *rel, bool want)
{
        char hier[16][HPATH], path[HPATH + 80];
        size_t n = hierarchies(hier, 16);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                our_path(path, sizeof(path), hier[i], rel);
                if ((lstat(path, &st) == 0) != want)
                        fail_msg("%s: expected %s", path, want ? "present" : "absent");
        }
}

static void kill_child(void)
{
        if (it.child <= 0)
                return;
        kill(it.child, SIGKILL);
        while (waitpid(it.child, NULL, 0) < 0 && errno == EINTR)
                ;
        it.child = 0;
}

/* Idempotent: kills the test's process, removes the whole test root (retrying while the kernel still
 * counts the dead process), frees the manager. */
static void cleanup(void)
{
        kill_child();
        if (!it.m)
                return;
        for (int i = 0; i < 100 && cg_remove_root(it.m) == -EBUSY; i++)
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
}

static int group_teardown(void **state)
{
        cleanup();
        char hier[16][HPATH], path[HPATH + 80];
        size_t n = hierarchies(hier, 16);
        int r = 0;
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                our_path(path, sizeof(path), hier[i], "");
                if (lstat(path, &st) == 0) {
                        fprintf(stderr, "left behind: %s\n", path);
                        r = -1;
                }
        }
        it.m = cg_manager_free(it.m);
        return r;
}

static void expect_ctl(const char *rel, const char *want)
{
        char buf[256];
        assert_string_equal(read_ctl(rel, buf, sizeof(buf)), want);
}

static void test_ensure(void **state)
{
        assert_int_equal(cg_ensure(it.m, &cell_id), 1);
        expect_everywhere("r/s/st/c", true);
        assert_int_equal(cg_ensure(it.m, &cell_id), 0);

        CgObserved o;
        assert_int_equal(cg_observe(it.m, &cell_id, &o), 0);
        assert_int_equal(o.n_levels, 5);
        for (unsigned i = 0; i < o.n_levels; i++)
                assert_true(o.level_exists[i]);
        assert_false(o.needs_ensure);
        /* a new cpuset level got its parent's cpus, or no process could join it */
        FILE *f = fopen(CG_FS_ROOT_DEFAULT "/cpuset/cpuset.cpus", "re");
        if (f) {
                char host[256] = "";
                host[fread(host, 1, sizeof(host) - 1, f)] = '\0';
                fclose(f);
                host[strcspn(host, "\n")] = '\0';
                expect_ctl("r/s/st/c/cpuset.cpus", host);
        }
}

static void test_limits(void **state)
{
        bool v2 = cg_mode(it.m) == CG_MODE_UNIFIED;
        Resources res = {.memory_limit_bytes = 64 << 20,
                         .cpu_shares = 512,
                         .cpu_quota_micros = 50000,
                         .cpu_period_micros = 100000,
                         .pids_limit = 64};
        assert_int_equal(cg_ensure(it.m, &cell_id) >= 0, 1);
        assert_int_equal(cg_set_limits(it.m, &cell_id, &res), 1);
        assert_int_equal(cg_set_limits(it.m, &cell_id, &res), 0);
        expect_ctl(v2 ? "r/s/st/c/memory.max" : "r/s/st/c/memory.limit_in_bytes", "67108864");
        expect_ctl(v2 ? "r/s/st/c/cpu.weight" : "r/s/st/c/cpu.shares", v2 ? "20" : "512");
        if (v2) {
                expect_ctl("r/s/st/c/cpu.max", "50000 100000");
        } else {
                expect_ctl("r/s/st/c/cpu.cfs_quota_us", "50000");
                expect_ctl("r/s/st/c/cpu.cfs_period_us", "100000");
        }
        expect_ctl("r/s/st/c/pids.max", "64");

        CgObserved o;
        CgLimits want;
        assert_int_equal(cg_observe(it.m, &cell_id, &o), 0);
        cg_limits_expected(cg_mode(it.m), &res, &want);
        assert_true(cg_limits_equal(&want, &o.limits));

        Resources none = {0};
        assert_int_equal(cg_set_limits(it.m, &cell_id, &none), 1);
        assert_int_equal(cg_set_limits(it.m, &cell_id, &none), 0);
        expect_ctl("r/s/st/c/pids.max", "max");
        if (v2) {
                expect_ctl("r/s/st/c/memory.max", "max");
                expect_ctl("r/s/st/c/cpu.max", "max 100000");
                expect_ctl("r/s/st/c/cpu.weight", "100");
        } else {
                char buf[64];
                assert_true(strtoll(read_ctl("r/s/st/c/memory.limit_in_bytes", buf, sizeof(buf)), NULL, 10) >
                            (INT64_C(1) << 62));
                expect_ctl("r/s/st/c/cpu.cfs_quota_us", "-1");
                expect_ctl("r/s/st/c/cpu.shares", "1024");
        }
        assert_int_equal(cg_observe(it.m, &cell_id, &o), 0);
        cg_limits_expected(cg_mode(it.m), &none, &want);
        assert_true(cg_limits_equal(&want, &o.limits));
}

/* Puts pid into <cell>/c_root in every hierarchy, the way runc would (cpuset needs cpus and mems). */
static void join_leaf(pid_t pid)
{
        char hier[16][HPATH], path[HPATH + 80], file[HPATH + 160], buf[256], pidbuf[32];
        size_t n = hierarchies(hier, 16);
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
        for (size_t i = 0; i < n; i++) {
                our_path(path, sizeof(path), hier[i], "r/s/st/c/c_root");
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        fail_msg("mkdir %s: %s", path, strerror(errno));
                static const char *const cpuset[] = {"cpuset.cpus", "cpuset.mems"};
                for (size_t k = 0; k < 2; k++) {
                        snprintf(file, sizeof(file), "%s/%s", path, cpuset[k]);
                        if (access(file, F_OK) < 0)
                                continue;
                        char rel[64];
                        snprintf(rel, sizeof(rel), "r/s/st/c/%s", cpuset[k]);
                        write_ctl(file, read_ctl(rel, buf, sizeof(buf)));
                }
                snprintf(file, sizeof(file), "%s/cgroup.procs", path);
                write_ctl(file, pidbuf);
        }
}

static void test_busy_then_removed(void **state)
{
        assert_int_equal(cg_ensure(it.m, &cell_id) >= 0, 1);
        it.child = fork();
        assert_true(it.child >= 0);
        if (it.child == 0) {
                for (;;)
                        pause();
        }
        join_leaf(it.child);

        CgUsage u;
        assert_int_equal(cg_read_usage(it.m, &cell_id, &u), 0);
        assert_true(u.has & CG_USAGE_PIDS);
        assert_true(u.pids >= 1);
        assert_true(u.has & CG_USAGE_MEMORY);
        assert_true(u.has & CG_USAGE_CPU);

        ResourceId stack = cell_id;
        stack.kind = KIND_STACK;
        assert_int_equal(cg_remove(it.m, &cell_id), -EBUSY);
        assert_int_equal(cg_remove(it.m, &stack), -EBUSY);
        expect_everywhere("r/s/st/c/c_root", true);

        kill_child();
        int r;
        for (int i = 0; i < 100 && (r = cg_remove(it.m, &cell_id)) == -EBUSY; i++)
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
        assert_int_equal(r, 1); /* the leaf runc would have left went too */
        expect_everywhere("r/s/st/c", false);
        expect_everywhere("r/s/st", true);
        assert_int_equal(cg_remove(it.m, &cell_id), 0);

        assert_int_equal(cg_remove_root(it.m), 1);
        expect_everywhere("", false);
}

int main(void)
{
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root\n");
                return SKIP;
        }
        snprintf(it.root_name, sizeof(it.root_name), "kukeon-test-%d", (int)getpid());
        int r = cg_manager_new(NULL, it.root_name, &it.m);
        if (r == -ENOENT || r == -ENOMEDIUM) {
                fprintf(stderr, "skipped: no cgroup filesystem at " CG_FS_ROOT_DEFAULT "\n");
                return SKIP;
        }
        if (r < 0) {
                fprintf(stderr, "cg_manager_new: %s\n", strerror(-r));
                return 1;
        }
        atexit(cleanup);
        /* A read-only or foreign-owned cgroup tree (an unprivileged container) is a missing prerequisite. */
        ResourceId realm = cell_id;
        realm.kind = KIND_REALM;
        r = cg_ensure(it.m, &realm);
        if (r == -EROFS || r == -EACCES || r == -EPERM) {
                fprintf(stderr, "skipped: cannot create cgroups: %s\n", strerror(-r));
                return SKIP;
        }
        fprintf(stderr, "cgroup mode: %s, root: %s\n", cg_mode_to_string(cg_mode(it.m)), it.root_name);

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ensure),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_busy_then_removed),
        };
        return cmocka_run_group_tests(tests, NULL, group_teardown);
}
