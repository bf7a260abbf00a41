/* Mode detection: what the filesystem at the fs root is, and which hierarchies are mounted below it.
 *
 *   cgroup2 at the root                     unified: one hierarchy, the root itself
 *   tmpfs, cgroup2 at <root>/unified        hybrid: the v1 hierarchies, then unified (no controllers)
 *   tmpfs, v1 hierarchies only              legacy
 *
 * A v1 hierarchy's controllers come from its directory name ("memory", "cpu,cpuacct"), as every
 * distribution mounts them; symlinks ("cpu" -> "cpu,cpuacct") are skipped so each hierarchy is counted
 * once. */
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/cgroup/cgroup-internal.h"

static int hierarchy_add(CgManager *m, const char *mount, unsigned controllers, bool is_unified)
{
        CgHierarchy *h = realloc(m->hier, (m->n_hier + 1) * sizeof(*h));
        if (!h)
                return -ENOMEM;
        m->hier = h;
        char *p = strdup(mount);
        if (!p)
                return -ENOMEM;
        m->hier[m->n_hier++] =
                (CgHierarchy){.mount = p, .controllers = controllers, .is_unified = is_unified};
        return 0;
}

/* Looks at one directory below a tmpfs root. Returns 1 when it is the unified hierarchy (not added
 * yet: it goes last), 0 otherwise, or -errno. */
static int detect_one(CgManager *m, const char *name)
{
        _cleanup_free_ char *path = cg_join(m->fs_root, name);
        if (!path)
                return -ENOMEM;
        int64_t type;
        int r = m->io->statfs(m->io_data, path, &type);
        if (r == -ENOENT) /* unmounted meanwhile */
                return 0;
        if (r < 0)
                return r;
        if (type == CGROUP_SUPER_MAGIC)
                return hierarchy_add(m, path, cg_controllers_parse(name), false);
        return type == CGROUP2_SUPER_MAGIC && streq(name, "unified");
}

static int detect_split(CgManager *m)
{
        _cleanup_(cg_strv_freep) char **names = NULL;
        int r = m->io->list_subdirs(m->io_data, m->fs_root, &names);
        if (r < 0)
                return r;

        bool has_unified = false;
        for (char **n = names; *n; n++) {
                r = detect_one(m, *n);
                if (r < 0)
                        return r;
                if (r > 0)
                        has_unified = true;
        }
        if (m->n_hier == 0)
                return -ENOMEDIUM;
        if (has_unified) {
                _cleanup_free_ char *unified = cg_join(m->fs_root, "unified");
                if (!unified)
                        return -ENOMEM;
                r = hierarchy_add(m, unified, 0, true);
                if (r < 0)
                        return r;
        }
        m->mode = has_unified ? CG_MODE_HYBRID : CG_MODE_LEGACY;
        m->ops = &cg_ops_v1;
        return 0;
}

int cg_detect(CgManager *m)
{
        int64_t type;
        int r = m->io->statfs(m->io_data, m->fs_root, &type);
        if (r < 0)
                return r;
        if (type == CGROUP2_SUPER_MAGIC) {
                m->mode = CG_MODE_UNIFIED;
                m->ops = &cg_ops_v2;
                return hierarchy_add(m, m->fs_root, CG_CTRL_DELEGATED, true);
        }
        if (type == TMPFS_MAGIC)
                return detect_split(m);
        return -ENOMEDIUM;
}
