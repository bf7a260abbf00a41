/* What every mode does the same way: walking a resource's levels through every hierarchy to create,
 * remove and observe them. The mode's ops table does what differs once a directory exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/cgroup/cgroup-internal.h"

/* runc's leaves sit one level below a cell; deeper trees are someone else's nesting, still bounded. */
#define CG_REMOVE_DEPTH_MAX 16

/* "<mount>/<level i of rel>", or the hierarchy root for i < 0. */
static char *level_dir(const CgHierarchy *h, const CgRel *rel, int i)
{
        char *p;
        if (i < 0)
                return strdup(h->mount);
        return asprintf(&p, "%s/%.*s", h->mount, (int)rel->end[i], rel->path) < 0 ? NULL : p;
}

/* 1 when level i exists in every hierarchy, 0 when it is missing in one, or -errno. */
static int level_exists(CgManager *m, const CgRel *rel, unsigned i)
{
        for (size_t k = 0; k < m->n_hier; k++) {
                _cleanup_free_ char *dir = level_dir(&m->hier[k], rel, (int)i);
                if (!dir)
                        return -ENOMEM;
                int64_t type;
                int r = m->io->statfs(m->io_data, dir, &type);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return r;
        }
        return 1;
}

/* Creates level i in every hierarchy and prepares it. With dry_run nothing is written: 1 as soon as
 * something would change; known_present says the level is there in every hierarchy already. */
static int ensure_level(CgManager *m, const CgRel *rel, unsigned i, bool dry_run, bool known_present)
{
        int changed = 0;
        for (size_t k = 0; k < m->n_hier; k++) {
                const CgHierarchy *h = &m->hier[k];
                _cleanup_free_ char *dir = level_dir(h, rel, (int)i),
                                    *parent = level_dir(h, rel, (int)i - 1);
                if (!dir || !parent)
                        return -ENOMEM;
                int r;
                if (dry_run && known_present) {
                        r = 0;
                } else if (dry_run) {
                        int64_t type;
                        r = m->io->statfs(m->io_data, dir, &type);
                        if (r == -ENOENT)
                                return 1;
                } else {
                        r = m->io->mkdir(m->io_data, dir);
                        if (r == 0)
                                changed = 1;
                        else if (r == -EEXIST)
                                r = 0;
                }
                if (r < 0)
                        return r;
                r = m->ops->prepare_level(m, h, parent, dir, dry_run);
                if (r < 0)
                        return r;
                if (r > 0 && dry_run)
                        return 1;
                changed |= r > 0;
        }
        return changed;
}

static int ensure_rel(CgManager *m, const CgRel *rel, bool dry_run, const bool *known_present)
{
        int changed = 0;
        for (unsigned i = 0; i < rel->n; i++) {
                int r = ensure_level(m, rel, i, dry_run, known_present && known_present[i]);
                if (r < 0)
                        return r;
                if (r > 0 && dry_run)
                        return 1;
                changed |= r > 0;
        }
        return changed;
}

int cg_ensure(CgManager *m, const ResourceId *id)
{
        CgRel rel;
        int r = cg_rel_of(m, id, &rel);
        return r < 0 ? r : ensure_rel(m, &rel, false, NULL);
}

/* Removes dir and every cgroup below it, children first. 1 removed, 0 absent, or the first error (a busy
 * child keeps its parent: the parent is not tried). */
static int remove_tree(CgManager *m, const char *dir, unsigned depth)
{
        if (depth > CG_REMOVE_DEPTH_MAX)
                return -ELOOP;
        _cleanup_(cg_strv_freep) char **children = NULL;
        int r = m->io->list_subdirs(m->io_data, dir, &children);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;

        int first_error = 0;
        for (char **c = children; *c; c++) {
                _cleanup_free_ char *sub = NULL;
                if (asprintf(&sub, "%s/%s", dir, *c) < 0)
                        return -ENOMEM;
                r = remove_tree(m, sub, depth + 1);
                if (r < 0 && first_error == 0)
                        first_error = r;
        }
        if (first_error < 0)
                return first_error;
        r = m->io->rmdir(m->io_data, dir);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

/* Removes level i of rel in every hierarchy; every hierarchy is tried even when one fails. */
static int remove_level(CgManager *m, const CgRel *rel, unsigned i)
{
        int removed = 0, first_error = 0;
        for (size_t k = 0; k < m->n_hier; k++) {
                _cleanup_free_ char *dir = level_dir(&m->hier[k], rel, (int)i);
                if (!dir)
                        return -ENOMEM;
                int r = remove_tree(m, dir, 0);
                if (r < 0 && first_error == 0)
                        first_error = r;
                removed |= r > 0;
        }
        return first_error < 0 ? first_error : removed;
}

int cg_remove(CgManager *m, const ResourceId *id)
{
        CgRel rel;
        int r = cg_rel_of(m, id, &rel);
        return r < 0 ? r : remove_level(m, &rel, rel.n - 1);
}

int cg_remove_root(CgManager *m)
{
        CgRel rel = {.n = 1};
        size_t len = strlen(m->root_name);
        memcpy(rel.path, m->root_name, len + 1);
        rel.end[0] = len;
        return remove_level(m, &rel, 0);
}

/* The resource's path, when its level exists in every hierarchy: 0, -ENOENT or -errno. */
static int rel_of_existing(CgManager *m, const ResourceId *id, CgRel *rel)
{
        int r = cg_rel_of(m, id, rel);
        if (r < 0)
                return r;
        r = level_exists(m, rel, rel->n - 1);
        return r < 0 ? r : r > 0 ? 0 : -ENOENT;
}

int cg_set_limits(CgManager *m, const ResourceId *id, const Resources *res)
{
        CgRel rel;
        int r = rel_of_existing(m, id, &rel);
        if (r < 0)
                return r;
        CgLimits want;
        cg_limits_expected(m->mode, res, &want);
        return m->ops->set_limits(m, rel.path, &want);
}

int cg_observe(CgManager *m, const ResourceId *id, CgObserved *ret)
{
        CgRel rel;
        int r = cg_rel_of(m, id, &rel);
        if (r < 0)
                return r;

        CgObserved o = {.n_levels = rel.n};
        /* a directory is there only with its parents: when the deepest level is, every level is */
        r = level_exists(m, &rel, rel.n - 1);
        if (r < 0)
                return r;
        o.exists = r > 0;
        for (unsigned i = 0; i < rel.n; i++) {
                if (o.exists || i == rel.n - 1) {
                        o.level_exists[i] = o.exists;
                        continue;
                }
                r = level_exists(m, &rel, i);
                if (r < 0)
                        return r;
                o.level_exists[i] = r > 0;
        }
        r = ensure_rel(m, &rel, true, o.level_exists);
        if (r < 0)
                return r;
        o.needs_ensure = r > 0;
        if (o.exists && (r = m->ops->read_limits(m, rel.path, &o.limits)) < 0)
                return r;
        *ret = o;
        return 0;
}

int cg_read_usage(CgManager *m, const ResourceId *id, CgUsage *ret)
{
        CgRel rel;
        int r = rel_of_existing(m, id, &rel);
        return r < 0 ? r : m->ops->read_usage(m, rel.path, ret);
}
