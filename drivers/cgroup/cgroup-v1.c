/* The v1 mode (legacy, and the controllers of hybrid): one hierarchy per controller or co-mounted group;
 * limits in memory.limit_in_bytes, cpu.shares, cpu.cfs_quota_us + cpu.cfs_period_us and pids.max; usage
 * in memory.usage_in_bytes, cpuacct.usage and pids.current. Hybrid's unified hierarchy and the named
 * systemd one carry no controller: they only get the directories. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/cgroup/cgroup-internal.h"

/* A new cpuset cgroup starts with empty cpus and mems and refuses every process until they are set:
 * give it its parent's, as runc does for the levels it creates. Nothing to do when the parent has none
 * either. */
static int cpuset_inherit(CgManager *m, const char *parent, const char *path, const char *file, bool dry_run)
{
        _cleanup_free_ char *mine = cg_join(path, file), *theirs = cg_join(parent, file);
        if (!mine || !theirs)
                return -ENOMEM;
        char buf[4096];
        int r = cg_read(m, mine, buf, sizeof(buf));
        if (r == -ENOENT)
                return 0;
        if (r != 0) /* set already, or an error */
                return r < 0 ? r : 0;
        r = cg_read(m, theirs, buf, sizeof(buf));
        if (r <= 0)
                return r == -ENOENT ? 0 : r;
        if (dry_run)
                return 1;
        r = m->io->write_file(m->io_data, mine, buf);
        return r < 0 ? r : 1;
}

static int v1_prepare_level(CgManager *m, const CgHierarchy *h, const char *parent, const char *path,
                            bool dry_run)
{
        if (!(h->controllers & CG_CTRL_CPUSET))
                return 0;
        int r = cpuset_inherit(m, parent, path, "cpuset.cpus", dry_run);
        if (r != 0 && (r < 0 || dry_run))
                return r;
        return cg_fold(r, cpuset_inherit(m, parent, path, "cpuset.mems", dry_run));
}

/* Syncs one integer file in the hierarchy of ctrl; without that hierarchy only the default is fine. */
static int v1_sync(CgManager *m, unsigned ctrl, const char *rel, const char *file, int64_t want, int64_t def,
                   bool max_word)
{
        const CgHierarchy *h = cg_hierarchy_for(m, ctrl);
        if (!h)
                return want == def ? 0 : -EOPNOTSUPP;
        _cleanup_free_ char *path = cg_file(h, rel, file);
        return cg_sync_int64(m, path, want, def, max_word);
}

/* Quota and period are two files the kernel checks together against the parent's and the children's
 * ratio, so the order matters: lifting a quota goes first; setting one writes the period first and, when
 * the kernel refuses that combination, the quota first (runc's order). */
static int v1_sync_cpu_max(CgManager *m, const char *rel, const CgLimits *want)
{
        int64_t q = want->cpu_quota_micros, p = want->cpu_period_micros;
        int r;
        if (q == CG_UNLIMITED) {
                r = v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_quota_us", q, CG_UNLIMITED, false);
                return cg_fold(r, v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_period_us", p, CG_CPU_PERIOD_DEFAULT,
                                          false));
        }
        r = v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_period_us", p, CG_CPU_PERIOD_DEFAULT, false);
        if (r == -EINVAL) {
                r = v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_quota_us", q, CG_UNLIMITED, false);
                return cg_fold(r, v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_period_us", p, CG_CPU_PERIOD_DEFAULT,
                                          false));
        }
        return cg_fold(r, v1_sync(m, CG_CTRL_CPU, rel, "cpu.cfs_quota_us", q, CG_UNLIMITED, false));
}

static int v1_set_limits(CgManager *m, const char *rel, const CgLimits *want)
{
        /* Every file is tried: one controller missing does not keep the others stale. */
        int r = v1_sync(m, CG_CTRL_MEMORY, rel, "memory.limit_in_bytes", want->memory_max, CG_UNLIMITED,
                        false);
        r = cg_fold(r, v1_sync(m, CG_CTRL_CPU, rel, "cpu.shares", want->cpu_shares, CG_CPU_SHARES_DEFAULT,
                               false));
        r = cg_fold(r, v1_sync_cpu_max(m, rel, want));
        return cg_fold(r, v1_sync(m, CG_CTRL_PIDS, rel, "pids.max", want->pids_max, CG_UNLIMITED, true));
}

/* Reads one integer file of the hierarchy of ctrl, if it is mounted. */
static int v1_read(CgManager *m, unsigned ctrl, const char *rel, const char *file, unsigned bit,
                   unsigned *has, int64_t *ret)
{
        const CgHierarchy *h = cg_hierarchy_for(m, ctrl);
        if (!h)
                return 0;
        _cleanup_free_ char *path = cg_file(h, rel, file);
        return cg_read_limit(m, path, bit, has, ret);
}

static int v1_read_limits(CgManager *m, const char *rel, CgLimits *ret)
{
        CgLimits l = {0};
        unsigned cpu_has = 0;
        int r;
        if ((r = v1_read(m, CG_CTRL_MEMORY, rel, "memory.limit_in_bytes", CG_LIMIT_MEMORY, &l.has,
                         &l.memory_max)) < 0 ||
            (r = v1_read(m, CG_CTRL_CPU, rel, "cpu.shares", CG_LIMIT_CPU_SHARES, &l.has, &l.cpu_shares)) <
                    0 ||
            (r = v1_read(m, CG_CTRL_CPU, rel, "cpu.cfs_quota_us", 1, &cpu_has, &l.cpu_quota_micros)) < 0 ||
            (r = v1_read(m, CG_CTRL_CPU, rel, "cpu.cfs_period_us", 2, &cpu_has, &l.cpu_period_micros)) < 0 ||
            (r = v1_read(m, CG_CTRL_PIDS, rel, "pids.max", CG_LIMIT_PIDS, &l.has, &l.pids_max)) < 0)
                return r;
        if (cpu_has == 3)
                l.has |= CG_LIMIT_CPU_MAX;
        *ret = l;
        return 0;
}

static int v1_read_usage(CgManager *m, const char *rel, CgUsage *ret)
{
        CgUsage u = {0};
        int r;
        if ((r = v1_read(m, CG_CTRL_MEMORY, rel, "memory.usage_in_bytes", CG_USAGE_MEMORY, &u.has,
                         &u.memory_bytes)) < 0 ||
            (r = v1_read(m, CG_CTRL_CPUACCT, rel, "cpuacct.usage", CG_USAGE_CPU, &u.has,
                         &u.cpu_usage_nanos)) < 0 ||
            (r = v1_read(m, CG_CTRL_PIDS, rel, "pids.current", CG_USAGE_PIDS, &u.has, &u.pids)) < 0)
                return r;
        *ret = u;
        return 0;
}

const CgroupOps cg_ops_v1 = {
        .prepare_level = v1_prepare_level,
        .set_limits = v1_set_limits,
        .read_limits = v1_read_limits,
        .read_usage = v1_read_usage,
};
