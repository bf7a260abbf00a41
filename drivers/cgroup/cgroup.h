/* The cgroup driver: the daemon's subtree <fs root>/<root name>/<realm>/<space>/<stack>/<cell> in every
 * hierarchy the host mounts, its limits and its usage.
 *
 * The host's mode is detected once, when the manager is made: unified (cgroup2 at the fs root), hybrid
 * (v1 controller hierarchies plus a cgroup2 tree at <fs root>/unified) or legacy (v1 only). Each mode is
 * one CgroupOps table (cgroup-internal.h); raw file I/O goes through cgroup-io.c so unit tests can point
 * the driver at a fake tree. Every call is a handful of mkdir/read/write syscalls on kernfs, short enough
 * for the event loop. The containers' own leaf cgroups are runc's; this driver only removes them when
 * they are left behind empty. docs/cgroups.md has the layout and the limit mapping per mode. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"
#include "state/document.h"

#define CG_FS_ROOT_DEFAULT   "/sys/fs/cgroup"
#define CG_ROOT_NAME_DEFAULT "kukeon"

/* Levels of a cell's path: the root name, realm, space, stack, cell. */
#define CG_LEVELS_MAX 5

/* A limit that is not set: "max" on v2, -1 (or the kernel's page-counter maximum) on v1. */
#define CG_UNLIMITED INT64_C(-1)

/* What the kernel reads back when nothing is set. */
#define CG_CPU_PERIOD_DEFAULT 100000
#define CG_CPU_SHARES_DEFAULT 1024
#define CG_CPU_WEIGHT_DEFAULT 100

typedef enum CgMode {
        CG_MODE_UNIFIED,
        CG_MODE_HYBRID,
        CG_MODE_LEGACY,
        _CG_MODE_MAX,
        _CG_MODE_INVALID = -EINVAL,
} CgMode;

/* "unified", "hybrid", "legacy"; NULL when out of range. */
const char *cg_mode_to_string(CgMode mode);

/* Which fields of CgLimits were read back (or, from cg_limits_expected(), apply to the mode). */
enum {
        CG_LIMIT_MEMORY = 1u << 0,     /* memory.max / memory.limit_in_bytes */
        CG_LIMIT_CPU_SHARES = 1u << 1, /* v1 cpu.shares */
        CG_LIMIT_CPU_WEIGHT = 1u << 2, /* v2 cpu.weight */
        CG_LIMIT_CPU_MAX = 1u << 3,    /* cpu.max / cpu.cfs_quota_us + cpu.cfs_period_us */
        CG_LIMIT_PIDS = 1u << 4,       /* pids.max */
};

/* Limits as the kernel files read: memory rounded down to the page size, CG_UNLIMITED for "max". */
typedef struct CgLimits {
        unsigned has; /* CG_LIMIT_* */
        int64_t memory_max;
        int64_t cpu_shares;
        int64_t cpu_weight;
        int64_t cpu_quota_micros;
        int64_t cpu_period_micros;
        int64_t pids_max;
} CgLimits;

enum {
        CG_USAGE_MEMORY = 1u << 0,
        CG_USAGE_CPU = 1u << 1,
        CG_USAGE_PIDS = 1u << 2,
};

typedef struct CgUsage {
        unsigned has;            /* CG_USAGE_* */
        int64_t memory_bytes;    /* memory.current / memory.usage_in_bytes */
        int64_t cpu_usage_nanos; /* cpu.stat usage_usec * 1000 / cpuacct.usage */
        int64_t pids;            /* pids.current */
} CgUsage;

/* What cg_observe() found for one resource. Limits are read only when its own level exists. */
typedef struct CgObserved {
        unsigned n_levels;                /* levels of the path, root name included: 2 (realm) .. 5 */
        bool level_exists[CG_LEVELS_MAX]; /* present in every hierarchy; [0] is the root name */
        bool exists;                      /* level_exists[n_levels - 1] */
        bool needs_ensure;                /* cg_ensure() would change something (a level, delegation) */
        CgLimits limits;
} CgObserved;

typedef struct CgManager CgManager;

/* Detects the mode of the cgroup filesystem at fs_root (NULL: /sys/fs/cgroup) and the hierarchies it
 * mounts; root_name (NULL: "kukeon") is the top directory of our subtree in every hierarchy. Returns 0
 * with *ret owned by the caller, -EINVAL for a root name that is not one path component, -ENOENT when
 * fs_root does not exist, -ENOMEDIUM when no cgroup filesystem is mounted there, or -ENOMEM. */
int cg_manager_new(const char *fs_root, const char *root_name, CgManager **ret);
/* Accepts NULL; returns NULL. */
CgManager *cg_manager_free(CgManager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgManager *, cg_manager_free);
#define _cleanup_cg_manager_ _cleanup_(cg_manager_freep)

CgMode cg_mode(const CgManager *m);
/* The fs root and the root name the manager was made with. */
const char *cg_fs_root(const CgManager *m);
const char *cg_root_name(const CgManager *m);

/* The cgroup path of a realm, space, stack or cell as status and runc see it: "/kukeon/<realm>/...".
 * Returns 0, -EINVAL for another kind or an invalid name, or -ENAMETOOLONG when it does not fit. */
int cg_path(const CgManager *m, const ResourceId *id, char *ret, size_t size);
/* The leaf of a container of cell: "<cell path>/<cell>_root" for the root container, else
 * "<cell path>/<container>". Same returns as cg_path(). */
int cg_container_path(const CgManager *m, const ResourceId *cell, const char *container, bool is_root,
                      char *ret, size_t size);

/* Creates the resource's path level by level in every hierarchy. On v2 every level, from the root name
 * down to the resource itself, gets "+cpu +memory +io +pids" (those its cgroup.controllers offers) in its
 * cgroup.subtree_control, so its children (the next level, the containers' leaves) can be limited; on
 * v1 a new cpuset level inherits its parent's cpus and mems. Returns 1 when it created a directory or
 * enabled a controller, 0 when everything was in place, or -errno (-EINVAL for a bad id). */
int cg_ensure(CgManager *m, const ResourceId *id);

/* Removes the resource's level and everything below it (runc leaves empty leaf cgroups behind), bottom-up,
 * in every hierarchy; what is already gone counts as removed. Returns 1 when it removed something, 0
 * when nothing was there, -EBUSY when a cgroup still holds processes (the rest that could go is gone;
 * retry later), or another -errno. */
int cg_remove(CgManager *m, const ResourceId *id);
/* The same for the whole subtree of the root name (uninstall, tests). */
int cg_remove_root(CgManager *m);

/* Writes the resource's limits; a field of res that is 0 restores the kernel default, so removing a
 * limit works. Only files whose value differs are written. Returns 1 when something was written, 0 when
 * all matched, -ENOENT when the level does not exist, -EOPNOTSUPP when a limit is set whose controller
 * is not available at this level, -EINVAL or -EBUSY from the kernel (a quota above the parent's on v1, a
 * memory limit below the usage), or another -errno. */
int cg_set_limits(CgManager *m, const ResourceId *id, const Resources *res);

/* Observes which levels of the resource exist and its limits as read back. A control file that is
 * missing leaves its field out (has bit clear). Returns 0 or -errno. */
int cg_observe(CgManager *m, const ResourceId *id, CgObserved *ret);
/* The resource's usage (memory, CPU time, tasks); a file that is missing leaves its field out. Returns 0,
 * -ENOENT when its level does not exist, or -errno. */
int cg_read_usage(CgManager *m, const ResourceId *id, CgUsage *ret);

/* The limits cg_set_limits(res) leaves in place as a cgroup of that mode reads them, for comparing with
 * CgObserved.limits. */
void cg_limits_expected(CgMode mode, const Resources *res, CgLimits *ret);
/* True when observed matches want. A field want has but observed lacks (its controller is not mounted
 * or not delegated) matches only when want is the kernel default. */
bool cg_limits_equal(const CgLimits *want, const CgLimits *observed);

/* cpu.shares (2..262144) to cpu.weight (1..10000) the way runc converts them; 0 stays 0 (unset). */
int64_t cg_shares_to_weight(int64_t shares);
