/* Helpers shared by the modes: controller names, paths, reading and writing integer control files, and
 * the expected limits of a Resources. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers/cgroup/cgroup-internal.h"

static const struct {
        const char *name;
        unsigned bit;
} controller_names[] = {
        {"cpu", CG_CTRL_CPU},       {"cpuacct", CG_CTRL_CPUACCT}, {"memory", CG_CTRL_MEMORY},
        {"pids", CG_CTRL_PIDS},     {"io", CG_CTRL_IO},           {"blkio", CG_CTRL_IO},
        {"cpuset", CG_CTRL_CPUSET},
};

unsigned cg_controller_from_name(const char *name, size_t len)
{
        for (size_t i = 0; i < ARRAY_SIZE(controller_names); i++)
                if (strlen(controller_names[i].name) == len &&
                    strncmp(controller_names[i].name, name, len) == 0)
                        return controller_names[i].bit;
        return 0;
}

unsigned cg_controllers_parse(const char *list)
{
        static const char sep[] = " ,\t\n";
        unsigned bits = 0;
        for (const char *p = list + strspn(list, sep); *p; p += strspn(p, sep)) {
                size_t len = strcspn(p, sep);
                bits |= cg_controller_from_name(p, len);
                p += len;
        }
        return bits;
}

char *cg_join(const char *dir, const char *name)
{
        char *p;
        return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

char *cg_file(const CgHierarchy *h, const char *rel, const char *file)
{
        char *p;
        return asprintf(&p, "%s/%s/%s", h->mount, rel, file) < 0 ? NULL : p;
}

const CgHierarchy *cg_hierarchy_for(const CgManager *m, unsigned ctrl)
{
        for (size_t i = 0; i < m->n_hier; i++)
                if (m->hier[i].controllers & ctrl)
                        return &m->hier[i];
        return NULL;
}

int cg_read(CgManager *m, const char *path, char *buf, size_t size)
{
        int r = m->io->read_file(m->io_data, path, buf, size);
        if (r < 0)
                return r;
        size_t len = (size_t)r;
        while (len > 0 && strchr(" \t\n", buf[len - 1]))
                buf[--len] = '\0';
        return (int)len;
}

/* The largest v1 page counter in bytes: what memory.limit_in_bytes reads when nothing is set. */
static int64_t page_counter_max(void)
{
        long page = sysconf(_SC_PAGESIZE);
        return INT64_MAX & ~(int64_t)((page > 0 ? page : 4096) - 1);
}

int cg_parse_int64(const char *s, int64_t *ret)
{
        if (streq(s, "max")) {
                *ret = CG_UNLIMITED;
                return 0;
        }
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v == -1 || v >= page_counter_max() ? CG_UNLIMITED : (int64_t)v;
        return 0;
}

int cg_read_int64(CgManager *m, const char *path, int64_t *ret)
{
        char buf[64];
        int r = cg_read(m, path, buf, sizeof(buf));
        return r < 0 ? r : cg_parse_int64(buf, ret);
}

int cg_read_limit(CgManager *m, const char *path, unsigned bit, unsigned *has, int64_t *ret)
{
        if (!path)
                return -ENOMEM;
        int r = cg_read_int64(m, path, ret);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        *has |= bit;
        return 0;
}

int cg_sync_int64(CgManager *m, const char *path, int64_t want, int64_t def, bool max_word)
{
        if (!path)
                return -ENOMEM;
        int64_t cur;
        int r = cg_read_int64(m, path, &cur);
        if (r == -ENOENT)
                return want == def ? 0 : -EOPNOTSUPP;
        if (r >= 0 && cur == want)
                return 0;
        if (r < 0 && r != -EINVAL) /* a value we cannot parse is simply overwritten */
                return r;

        char buf[32];
        if (want == CG_UNLIMITED)
                snprintf(buf, sizeof(buf), "%s", max_word ? "max" : "-1");
        else
                snprintf(buf, sizeof(buf), "%" PRId64, want);
        r = m->io->write_file(m->io_data, path, buf);
        return r < 0 ? r : 1;
}

int64_t cg_shares_to_weight(int64_t shares)
{
        if (shares <= 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

void cg_limits_expected(CgMode mode, const Resources *res, CgLimits *ret)
{
        long page = sysconf(_SC_PAGESIZE);
        int64_t mask = ~(int64_t)((page > 0 ? page : 4096) - 1);
        CgLimits l = {
                .has = CG_LIMIT_MEMORY | CG_LIMIT_CPU_MAX | CG_LIMIT_PIDS,
                /* the kernel counts whole pages and rounds a limit down */
                .memory_max = res->memory_limit_bytes > 0 ? res->memory_limit_bytes & mask : CG_UNLIMITED,
                .cpu_quota_micros = res->cpu_quota_micros > 0 ? res->cpu_quota_micros : CG_UNLIMITED,
                .cpu_period_micros =
                        res->cpu_period_micros > 0 ? res->cpu_period_micros : CG_CPU_PERIOD_DEFAULT,
                .pids_max = res->pids_limit > 0 ? res->pids_limit : CG_UNLIMITED,
        };
        if (mode == CG_MODE_UNIFIED) {
                l.has |= CG_LIMIT_CPU_WEIGHT;
                l.cpu_weight =
                        res->cpu_shares > 0 ? cg_shares_to_weight(res->cpu_shares) : CG_CPU_WEIGHT_DEFAULT;
        } else {
                l.has |= CG_LIMIT_CPU_SHARES;
                l.cpu_shares = res->cpu_shares <= 0       ? CG_CPU_SHARES_DEFAULT
                               : res->cpu_shares < 2      ? 2
                               : res->cpu_shares > 262144 ? 262144
                                                          : res->cpu_shares;
        }
        *ret = l;
}

static bool field_equal(const CgLimits *want, const CgLimits *obs, unsigned bit, int64_t w, int64_t o,
                        int64_t def)
{
        if (!(want->has & bit))
                return true;
        if (!(obs->has & bit))
                return w == def;
        return w == o;
}

bool cg_limits_equal(const CgLimits *want, const CgLimits *observed)
{
        const CgLimits *w = want, *o = observed;
        bool cpu_max = !(w->has & CG_LIMIT_CPU_MAX) ||
                       (!(o->has & CG_LIMIT_CPU_MAX) ? w->cpu_quota_micros == CG_UNLIMITED
                                                     : w->cpu_quota_micros == o->cpu_quota_micros &&
                                                               w->cpu_period_micros == o->cpu_period_micros);
        return cpu_max && field_equal(w, o, CG_LIMIT_MEMORY, w->memory_max, o->memory_max, CG_UNLIMITED) &&
               field_equal(w, o, CG_LIMIT_CPU_SHARES, w->cpu_shares, o->cpu_shares, CG_CPU_SHARES_DEFAULT) &&
               field_equal(w, o, CG_LIMIT_CPU_WEIGHT, w->cpu_weight, o->cpu_weight, CG_CPU_WEIGHT_DEFAULT) &&
               field_equal(w, o, CG_LIMIT_PIDS, w->pids_max, o->pids_max, CG_UNLIMITED);
}
