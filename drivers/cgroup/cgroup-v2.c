/* The unified (v2) mode: one hierarchy; controllers are delegated level by level through
 * cgroup.subtree_control; limits in memory.max, cpu.max, cpu.weight, pids.max. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/cgroup/cgroup-internal.h"

/* In the order the kernel lists them. */
static const struct {
        const char *name;
        unsigned bit;
} delegated[] = {
        {"cpu", CG_CTRL_CPU},
        {"io", CG_CTRL_IO},
        {"memory", CG_CTRL_MEMORY},
        {"pids", CG_CTRL_PIDS},
};

/* Enables in path's subtree_control those of cpu, io, memory, pids that its cgroup.controllers offers
 * (what the parent delegated) and that are not enabled yet. */
static int v2_prepare_level(CgManager *m, const CgHierarchy *h, const char *parent, const char *path,
                            bool dry_run)
{
        _cleanup_free_ char *controllers = cg_join(path, "cgroup.controllers"),
                            *subtree = cg_join(path, "cgroup.subtree_control");
        if (!controllers || !subtree)
                return -ENOMEM;
        char buf[512];
        int r = cg_read(m, controllers, buf, sizeof(buf));
        if (r < 0)
                return r;
        unsigned available = cg_controllers_parse(buf) & CG_CTRL_DELEGATED;
        r = cg_read(m, subtree, buf, sizeof(buf));
        if (r < 0)
                return r;
        unsigned missing = available & ~cg_controllers_parse(buf);
        if (missing == 0)
                return 0;
        if (dry_run)
                return 1;

        char line[64] = "";
        size_t len = 0;
        for (size_t i = 0; i < ARRAY_SIZE(delegated); i++)
                if (missing & delegated[i].bit)
                        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s+%s", len ? " " : "",
                                                delegated[i].name);
        r = m->io->write_file(m->io_data, subtree, line);
        return r < 0 ? r : 1;
}

/* cpu.max: "<quota|max> <period>". */
static int parse_cpu_max(const char *s, int64_t *ret_quota, int64_t *ret_period)
{
        char quota[32];
        const char *sp = strchr(s, ' ');
        if (!sp || (size_t)(sp - s) >= sizeof(quota))
                return -EINVAL;
        memcpy(quota, s, (size_t)(sp - s));
        quota[sp - s] = '\0';
        int r = cg_parse_int64(quota, ret_quota);
        return r < 0 ? r : cg_parse_int64(sp + 1, ret_period);
}

static int read_cpu_max(CgManager *m, const char *path, CgLimits *l)
{
        char buf[64];
        int r = cg_read(m, path, buf, sizeof(buf));
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = parse_cpu_max(buf, &l->cpu_quota_micros, &l->cpu_period_micros);
        if (r < 0)
                return r;
        l->has |= CG_LIMIT_CPU_MAX;
        return 0;
}

static int sync_cpu_max(CgManager *m, const char *path, const CgLimits *want)
{
        if (!path)
                return -ENOMEM;
        CgLimits cur = {0};
        int r = read_cpu_max(m, path, &cur);
        if (r < 0)
                return r;
        if (!(cur.has & CG_LIMIT_CPU_MAX))
                return want->cpu_quota_micros == CG_UNLIMITED ? 0 : -EOPNOTSUPP;
        if (cur.cpu_quota_micros == want->cpu_quota_micros &&
            cur.cpu_period_micros == want->cpu_period_micros)
                return 0;

        char buf[64];
        if (want->cpu_quota_micros == CG_UNLIMITED)
                snprintf(buf, sizeof(buf), "max %" PRId64, want->cpu_period_micros);
        else
                snprintf(buf, sizeof(buf), "%" PRId64 " %" PRId64, want->cpu_quota_micros,
                         want->cpu_period_micros);
        r = m->io->write_file(m->io_data, path, buf);
        return r < 0 ? r : 1;
}

static int v2_set_limits(CgManager *m, const char *rel, const CgLimits *want)
{
        const CgHierarchy *h = &m->hier[0];
        _cleanup_free_ char *memory = cg_file(h, rel, "memory.max"), *weight = cg_file(h, rel, "cpu.weight"),
                            *cpu_max = cg_file(h, rel, "cpu.max"), *pids = cg_file(h, rel, "pids.max");
        /* Every file is tried: one controller missing does not keep the others stale. */
        int r = cg_sync_int64(m, memory, want->memory_max, CG_UNLIMITED, true);
        r = cg_fold(r, cg_sync_int64(m, weight, want->cpu_weight, CG_CPU_WEIGHT_DEFAULT, false));
        r = cg_fold(r, sync_cpu_max(m, cpu_max, want));
        return cg_fold(r, cg_sync_int64(m, pids, want->pids_max, CG_UNLIMITED, true));
}

static int v2_read_limits(CgManager *m, const char *rel, CgLimits *ret)
{
        const CgHierarchy *h = &m->hier[0];
        _cleanup_free_ char *memory = cg_file(h, rel, "memory.max"), *weight = cg_file(h, rel, "cpu.weight"),
                            *cpu_max = cg_file(h, rel, "cpu.max"), *pids = cg_file(h, rel, "pids.max");
        CgLimits l = {0};
        int r;
        if (!cpu_max)
                return -ENOMEM;
        if ((r = cg_read_limit(m, memory, CG_LIMIT_MEMORY, &l.has, &l.memory_max)) < 0 ||
            (r = cg_read_limit(m, weight, CG_LIMIT_CPU_WEIGHT, &l.has, &l.cpu_weight)) < 0 ||
            (r = read_cpu_max(m, cpu_max, &l)) < 0 ||
            (r = cg_read_limit(m, pids, CG_LIMIT_PIDS, &l.has, &l.pids_max)) < 0)
                return r;
        *ret = l;
        return 0;
}

/* usage_usec from cpu.stat, in nanoseconds. */
static int read_cpu_usage(CgManager *m, const char *path, CgUsage *u)
{
        if (!path)
                return -ENOMEM;
        char buf[1024];
        int r = cg_read(m, path, buf, sizeof(buf));
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (char *line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, "usage_usec ", 11) != 0)
                        continue;
                char *end;
                errno = 0;
                long long usec = strtoll(line + 11, &end, 10);
                if (errno != 0 || end == line + 11 || usec < 0)
                        return -EINVAL;
                u->cpu_usage_nanos = (int64_t)usec * 1000;
                u->has |= CG_USAGE_CPU;
                break;
        }
        return 0;
}

static int v2_read_usage(CgManager *m, const char *rel, CgUsage *ret)
{
        const CgHierarchy *h = &m->hier[0];
        _cleanup_free_ char *memory = cg_file(h, rel, "memory.current"), *cpu = cg_file(h, rel, "cpu.stat"),
                            *pids = cg_file(h, rel, "pids.current");
        CgUsage u = {0};
        int r;
        if ((r = cg_read_limit(m, memory, CG_USAGE_MEMORY, &u.has, &u.memory_bytes)) < 0 ||
            (r = read_cpu_usage(m, cpu, &u)) < 0 ||
            (r = cg_read_limit(m, pids, CG_USAGE_PIDS, &u.has, &u.pids)) < 0)
                return r;
        *ret = u;
        return 0;
}

const CgroupOps cg_ops_v2 = {
        .prepare_level = v2_prepare_level,
        .set_limits = v2_set_limits,
        .read_limits = v2_read_limits,
        .read_usage = v2_read_usage,
};
