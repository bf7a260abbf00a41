/* The cgroup manager: construction, names and paths. The tree operations are in cgroup-tree.c, the
 * per-mode file formats in cgroup-v1.c and cgroup-v2.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/cgroup/cgroup-internal.h"

static const char *const mode_names[_CG_MODE_MAX] = {
        [CG_MODE_UNIFIED] = "unified",
        [CG_MODE_HYBRID] = "hybrid",
        [CG_MODE_LEGACY] = "legacy",
};

const char *cg_mode_to_string(CgMode mode)
{
        return mode >= 0 && mode < _CG_MODE_MAX ? mode_names[mode] : NULL;
}

/* One path component that the kernel accepts as a cgroup name. */
static bool root_name_is_valid(const char *s)
{
        size_t len = strlen(s);
        return len > 0 && len <= 255 && !strchr(s, '/') && !streq(s, ".") && !streq(s, "..");
}

CgManager *cg_manager_free(CgManager *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_hier; i++)
                free(m->hier[i].mount);
        free(m->hier);
        free(m->fs_root);
        free(m->root_name);
        free(m);
        return NULL;
}

int cg_manager_new_with_io(const char *fs_root, const char *root_name, const CgroupIo *io, void *userdata,
                           CgManager **ret)
{
        if (!fs_root)
                fs_root = CG_FS_ROOT_DEFAULT;
        if (!root_name)
                root_name = CG_ROOT_NAME_DEFAULT;
        if (!root_name_is_valid(root_name) || fs_root[0] == '\0')
                return -EINVAL;

        _cleanup_cg_manager_ CgManager *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->io = io;
        m->io_data = userdata;
        m->fs_root = strdup(fs_root);
        m->root_name = strdup(root_name);
        if (!m->fs_root || !m->root_name)
                return -ENOMEM;
        /* "/sys/fs/cgroup/" and "/sys/fs/cgroup" are the same root; paths are joined with "/". */
        for (size_t n = strlen(m->fs_root); n > 1 && m->fs_root[n - 1] == '/'; n--)
                m->fs_root[n - 1] = '\0';

        int r = cg_detect(m);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int cg_manager_new(const char *fs_root, const char *root_name, CgManager **ret)
{
        return cg_manager_new_with_io(fs_root, root_name, &cg_io_default, NULL, ret);
}

CgMode cg_mode(const CgManager *m)
{
        return m->mode;
}

const char *cg_fs_root(const CgManager *m)
{
        return m->fs_root;
}

const char *cg_root_name(const CgManager *m)
{
        return m->root_name;
}

static unsigned levels_of(Kind kind)
{
        switch (kind) {
        case KIND_REALM:
                return 1;
        case KIND_SPACE:
                return 2;
        case KIND_STACK:
                return 3;
        case KIND_CELL:
                return 4;
        default:
                return 0;
        }
}

int cg_rel_of(const CgManager *m, const ResourceId *id, CgRel *ret)
{
        const char *parts[] = {id->realm, id->space, id->stack, id->cell};
        unsigned n = levels_of(id->kind);
        if (n == 0)
                return -EINVAL;

        size_t len = strlen(m->root_name);
        memcpy(ret->path, m->root_name, len + 1);
        ret->end[0] = len;
        for (unsigned i = 0; i < n; i++) {
                /* Valid names cannot be "..", hold a "/" or overflow path. */
                if (!name_is_valid(parts[i]))
                        return -EINVAL;
                len += (size_t)snprintf(ret->path + len, sizeof(ret->path) - len, "/%s", parts[i]);
                ret->end[i + 1] = len;
        }
        ret->n = n + 1;
        return 0;
}

int cg_path(const CgManager *m, const ResourceId *id, char *ret, size_t size)
{
        CgRel rel;
        int r = cg_rel_of(m, id, &rel);
        if (r < 0)
                return r;
        /* The same string the state library records as status.cgroupPath. */
        return resource_cgroup_path(m->root_name, id, ret, size);
}

int cg_container_path(const CgManager *m, const ResourceId *cell, const char *container, bool is_root,
                      char *ret, size_t size)
{
        ResourceId id = *cell;
        id.kind = KIND_CELL;
        if (!is_root && !name_is_valid(container))
                return -EINVAL;
        int r = cg_path(m, &id, ret, size);
        if (r < 0)
                return r;
        size_t len = strlen(ret);
        int n = is_root ? snprintf(ret + len, size - len, "/%s_root", id.cell)
                        : snprintf(ret + len, size - len, "/%s", container);
        return n < 0 || (size_t)n >= size - len ? -ENAMETOOLONG : 0;
}
