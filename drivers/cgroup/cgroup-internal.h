/* Inside the cgroup driver: the manager, the per-mode ops tables and the helpers they share. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "drivers/cgroup/cgroup-io.h"
#include "drivers/cgroup/cgroup.h"

/* Controllers we know by name. v1's blkio is io. */
enum {
        CG_CTRL_CPU = 1u << 0,
        CG_CTRL_CPUACCT = 1u << 1,
        CG_CTRL_MEMORY = 1u << 2,
        CG_CTRL_PIDS = 1u << 3,
        CG_CTRL_IO = 1u << 4,
        CG_CTRL_CPUSET = 1u << 5,
};

/* What v2 delegates down our subtree. */
#define CG_CTRL_DELEGATED (CG_CTRL_CPU | CG_CTRL_MEMORY | CG_CTRL_IO | CG_CTRL_PIDS)

/* The controller bit of one name ("cpu", "blkio", ...), 0 when we do not know it. */
unsigned cg_controller_from_name(const char *name, size_t len);
/* The bits of a list of names separated by blanks or commas ("cpu io memory", "cpu,cpuacct"). */
unsigned cg_controllers_parse(const char *list);

typedef struct CgHierarchy {
        char *mount;          /* the hierarchy's root directory */
        unsigned controllers; /* CG_CTRL_*; v1: from its directory name ("cpu,cpuacct") */
        bool is_unified;      /* cgroup2 */
} CgHierarchy;

/* A resource's path relative to a hierarchy root: path[0 .. end[i]) is level i, root name first. */
#define CG_REL_MAX (256 + 4 * (NAME_MAX_LEN + 1) + 1)
typedef struct CgRel {
        char path[CG_REL_MAX];
        size_t end[CG_LEVELS_MAX];
        unsigned n;
} CgRel;

/* One per mode: what differs between v2 and v1 once the directories exist. rel is a whole CgRel path. */
typedef struct CgroupOps {
        /* Makes a level that exists in h usable by its children (v2: delegation, v1: cpuset). parent is
         * the directory above (the hierarchy root for the root name). 1 when it changed (or with dry_run
         * would change) something, 0, or -errno. */
        int (*prepare_level)(CgManager *m, const CgHierarchy *h, const char *parent, const char *path,
                             bool dry_run);
        /* Brings the limit files to want (from cg_limits_expected()). 1 written, 0 unchanged, -errno. */
        int (*set_limits)(CgManager *m, const char *rel, const CgLimits *want);
        int (*read_limits)(CgManager *m, const char *rel, CgLimits *ret);
        int (*read_usage)(CgManager *m, const char *rel, CgUsage *ret);
} CgroupOps;

extern const CgroupOps cg_ops_v2;
extern const CgroupOps cg_ops_v1; /* legacy, and hybrid's controllers */

struct CgManager {
        CgMode mode;
        char *fs_root;
        char *root_name;
        const CgroupOps *ops;
        const CgroupIo *io;
        void *io_data;
        CgHierarchy *hier; /* v2: the fs root alone; v1: every mounted hierarchy, sorted by directory */
        size_t n_hier;
};

/* Finds mode and hierarchies of m->fs_root (cgroup-detect.c). */
int cg_detect(CgManager *m);

/* The rel path of a realm, space, stack or cell; -EINVAL for another kind or an invalid name. */
int cg_rel_of(const CgManager *m, const ResourceId *id, CgRel *ret);

/* "<dir>/<name>" and "<mount>/<rel>/<file>" as new strings; NULL on -ENOMEM. */
char *cg_join(const char *dir, const char *name);
char *cg_file(const CgHierarchy *h, const char *rel, const char *file);
/* The first hierarchy carrying ctrl, or NULL. */
const CgHierarchy *cg_hierarchy_for(const CgManager *m, unsigned ctrl);

/* Reads a control file with trailing whitespace dropped. Returns the length or -errno. */
int cg_read(CgManager *m, const char *path, char *buf, size_t size);
/* Parses an integer file value: "max", "-1" and v1's page-counter maximum read as CG_UNLIMITED.
 * Returns 0 or -EINVAL. */
int cg_parse_int64(const char *s, int64_t *ret);
/* cg_read() and cg_parse_int64(). */
int cg_read_int64(CgManager *m, const char *path, int64_t *ret);
/* Reads an integer file into *ret and sets bit in *has when the file exists; a missing file is not an
 * error. Returns 0 or -errno. */
int cg_read_limit(CgManager *m, const char *path, unsigned bit, unsigned *has, int64_t *ret);
/* Makes an integer file read want. CG_UNLIMITED is written as "max" when max_word, else as "-1". When
 * the file is missing: 0 if want is def (nothing to restore), else -EOPNOTSUPP. Returns 1 when written,
 * 0 when it already matched, or -errno. */
int cg_sync_int64(CgManager *m, const char *path, int64_t want, int64_t def, bool max_word);

/* Folds one step's result into the running one, so that every step is tried: the first error wins, else
 * "changed" (1) sticks. */
static inline int cg_fold(int acc, int r)
{
        if (acc < 0)
                return acc;
        if (r < 0)
                return r;
        return acc | (r > 0);
}
