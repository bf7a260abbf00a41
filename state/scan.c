/* Scanning the run path into a desired-state snapshot. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "state/schema.h"
#include "state/store-private.h"

/* One scan: the tree being built and what it reads. */
typedef struct Scan {
        Store *store;
        unsigned flags;
        Tree tree;
        size_t allocated;
} Scan;

typedef struct DirItem {
        const char *name; /* set once the pool no longer moves */
        size_t offset;    /* of the name in the pool */
        bool is_dir;
        bool is_symlink;
} DirItem;

/* The entries of one directory, names in one pool. */
typedef struct DirList {
        DirItem *items;
        size_t n;
        char *pool;
} DirList;

static void dir_list_done(DirList *l)
{
        free(l->items);
        free(l->pool);
        *l = (DirList){0};
}

static int cmp_item(const void *a, const void *b)
{
        return strcmp(((const DirItem *)a)->name, ((const DirItem *)b)->name);
}

/* The array p of *allocated elements of size, grown to hold need (doubling, so n pushes cost O(n)); NULL
 * with p untouched when out of memory. */
static void *grow(void *p, size_t *allocated, size_t need, size_t size)
{
        if (need <= *allocated)
                return p;
        size_t n = *allocated ? *allocated * 2 : 16;
        while (n < need)
                n *= 2;
        void *q = realloc(p, n * size);
        if (q)
                *allocated = n;
        return q;
}

/* The sorted entries of the directory fd (no dot-files), typed from getdents64()'s d_type (an fstatat()
 * only where the file system does not say). fd stays open and the caller's. */
static int list_dir(int fd, DirList *ret)
{
        _cleanup_(dir_list_done) DirList l = {0};
        size_t allocated = 0, pool_len = 0, pool_allocated = 0;
        char buf[32768] __attribute__((aligned(8)));

        for (;;) {
                ssize_t k = getdents64(fd, buf, sizeof(buf));
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                for (ssize_t off = 0; off < k;) {
                        const struct dirent64 *de = (const struct dirent64 *)(buf + off);
                        off += de->d_reclen;
                        if (de->d_name[0] == '.')
                                continue;
                        unsigned char type = de->d_type;
                        if (type == DT_UNKNOWN) {
                                struct stat st;
                                if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                                        continue;
                                type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
                        }
                        size_t len = strlen(de->d_name) + 1;
                        DirItem *items = grow(l.items, &allocated, l.n + 1, sizeof(*items));
                        if (items)
                                l.items = items;
                        char *pool = items ? grow(l.pool, &pool_allocated, pool_len + len, 1) : NULL;
                        if (!pool)
                                return -ENOMEM;
                        l.pool = pool;
                        memcpy(l.pool + pool_len, de->d_name, len);
                        l.items[l.n++] = (DirItem){
                                .offset = pool_len, .is_dir = type == DT_DIR, .is_symlink = type == DT_LNK};
                        pool_len += len;
                }
        }
        for (size_t i = 0; i < l.n; i++)
                l.items[i].name = l.pool + l.items[i].offset;
        if (l.n)
                qsort(l.items, l.n, sizeof(*l.items), cmp_item);
        *ret = l;
        l = (DirList){0};
        return 0;
}

static TreeEntry *tree_push(Scan *sc, const ResourceId *id, ssize_t parent)
{
        Tree *t = &sc->tree;
        TreeEntry *e = grow(t->entries, &sc->allocated, t->n + 1, sizeof(*e));
        if (!e)
                return NULL;
        t->entries = e;
        e = &t->entries[t->n++];
        *e = (TreeEntry){.id = *id, .parent = parent};
        return e;
}

static const char *qualified(const ResourceId *id, char *buf, size_t size)
{
        switch (id->kind) {
        case KIND_REALM:
                snprintf(buf, size, "%s", id->realm);
                break;
        case KIND_SPACE:
                snprintf(buf, size, "%s/%s", id->realm, id->space);
                break;
        case KIND_STACK:
                snprintf(buf, size, "%s/%s/%s", id->realm, id->space, id->stack);
                break;
        case KIND_CELL:
                snprintf(buf, size, "%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell);
                break;
        case KIND_CONTAINER:
                snprintf(buf, size, "%s/%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell, id->name);
                break;
        default:
                snprintf(buf, size, "%s/%s", id->realm, id->name);
                break;
        }
        return buf;
}

/* Loads one resource: its manifest (validated), status and digest; marks it blocked by its parent.
 * dir_fd is the directory that lists it. */
static int load_entry(Scan *sc, size_t i, int dir_fd)
{
        TreeEntry *e = &sc->tree.entries[i];
        int r;

        if (e->id.kind == KIND_CONTAINER) {
                r = store_read_status_at(sc->store, dir_fd, &e->id, &e->spec, &e->error);
                e->has_spec_file = r >= 0;
        } else {
                r = store_read_spec_at(sc->store, dir_fd, &e->id, &e->spec, &e->spec_mtime, &e->error);
                /* no file, or no directory any more to hold one: not an error of this resource */
                e->has_spec_file = r != -ENOENT && r != -ENOTDIR;
                if (!e->has_spec_file)
                        diag_done(&e->error);
                if (r >= 0 && !(sc->flags & TREE_NO_DIGEST))
                        r = document_digest(e->spec, &e->id, e->digest);
        }
        if (r == -ENOMEM)
                return r;
        if ((sc->flags & TREE_WITH_STATUS) && e->id.kind != KIND_CONTAINER) {
                Diag ignored = DIAG_INIT;
                if (store_read_status_at(sc->store, dir_fd, &e->id, &e->status, &ignored) == -ENOMEM)
                        return -ENOMEM;
                diag_done(&ignored);
        }
        if (e->parent >= 0) {
                const TreeEntry *p = &sc->tree.entries[e->parent];
                if (p->blocked || !p->spec) {
                        char q[320];
                        e->blocked = true;
                        if (!diag_is_set(&e->error) &&
                            diag_set(&e->error, -EINVAL, NULL, 0, 0, NULL, "its parent %s \"%s\" is %s",
                                     kind_to_string(p->id.kind), qualified(&p->id, q, sizeof(q)),
                                     p->blocked         ? "blocked by its own parent"
                                     : p->has_spec_file ? "invalid"
                                                        : "missing") == -ENOMEM)
                                return -ENOMEM;
                }
        }
        return 0;
}

/* Keeps an entry only when it has a manifest, or a status/orphan listing is wanted. */
static bool keep_entry(const TreeEntry *e, unsigned flags)
{
        return e->has_spec_file ||
               ((flags & TREE_WITH_ORPHANS) && (e->status || e->id.kind == KIND_CONTAINER));
}

static int scan_dir(Scan *sc, int fd, const ResourceId *parent_id, ssize_t parent, Kind kind);

/* Scans the directory at path below dir_fd for resources of kind; one that is gone, not a directory or
 * a symlink holds none. */
static int scan_subdir(Scan *sc, int dir_fd, const char *path, const ResourceId *parent_id, ssize_t parent,
                       Kind kind)
{
        _cleanup_close_ int fd = store_open_at(sc->store, dir_fd, path, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
                return 0;
        if (fd < 0)
                return fd;
        return scan_dir(sc, fd, parent_id, parent, kind);
}

/* One resource listed in dir_fd, then what lies below it. */
static int scan_one(Scan *sc, int dir_fd, const ResourceId *id, ssize_t parent, bool is_symlink)
{
        TreeEntry *e = tree_push(sc, id, parent);
        if (!e)
                return -ENOMEM;
        size_t i = sc->tree.n - 1;
        int r;
        if (is_symlink) {
                /* an image's or a container's file, or a resource's directory */
                char path[1024];
                if (id->kind == KIND_IMAGE || id->kind == KIND_CONTAINER)
                        store_spec_path(id, path, sizeof(path));
                else
                        store_dir_path(id, path, sizeof(path));
                e->has_spec_file = true;
                r = diag_set(&e->error, -ELOOP, path, 0, 0, NULL,
                             "a symlink in the run path is not followed");
                return r == -ENOMEM ? r : 0;
        }
        if ((r = load_entry(sc, i, dir_fd)) < 0)
                return r;
        if (!keep_entry(&sc->tree.entries[i], sc->flags) && !(sc->flags & TREE_WITH_ORPHANS)) {
                /* Not desired, and neither are its children: drop the whole subtree. */
                TreeEntry *dead = &sc->tree.entries[i];
                document_free(dead->spec);
                document_free(dead->status);
                diag_done(&dead->error);
                sc->tree.n--;
                return 0;
        }
        char sub[NAME_MAX_LEN + 16];
        if (id->kind == KIND_REALM) {
                snprintf(sub, sizeof(sub), "%s/images", id->name);
                if ((r = scan_subdir(sc, dir_fd, sub, id, (ssize_t)i, KIND_IMAGE)) < 0)
                        return r;
        }
        if (id->kind == KIND_CELL && (sc->flags & TREE_WITH_CONTAINERS)) {
                snprintf(sub, sizeof(sub), "%s/containers", id->name);
                return scan_subdir(sc, dir_fd, sub, id, (ssize_t)i, KIND_CONTAINER);
        }
        if (id->kind < KIND_CELL)
                return scan_subdir(sc, dir_fd, id->name, id, (ssize_t)i, (Kind)(id->kind + 1));
        return 0;
}

/* The resources of kind listed in the directory fd: subdirectories for realms down to cells, <name>.yaml
 * files for images and containers. */
static int scan_dir(Scan *sc, int fd, const ResourceId *parent_id, ssize_t parent, Kind kind)
{
        _cleanup_(dir_list_done) DirList l = {0};
        int r = list_dir(fd, &l);
        if (r < 0)
                return r;
        for (size_t k = 0; k < l.n && r >= 0; k++) {
                ResourceId id = parent_id ? *parent_id : (ResourceId){0};
                char stem[NAME_MAX_LEN + 8];
                const char *name = l.items[k].name;
                id.kind = kind;
                if (kind == KIND_IMAGE || kind == KIND_CONTAINER) {
                        size_t len = strlen(name);
                        if (l.items[k].is_dir || len <= 5 || len - 5 >= sizeof(stem) ||
                            !streq(name + len - 5, ".yaml") ||
                            (len > 12 && streq(name + len - 12, ".status.yaml")))
                                continue;
                        memcpy(stem, name, len - 5);
                        stem[len - 5] = '\0';
                        if (!name_is_valid(stem))
                                continue;
                        strcpy(id.name, stem);
                        r = scan_one(sc, fd, &id, parent, l.items[k].is_symlink);
                        continue;
                }
                if ((!l.items[k].is_dir && !l.items[k].is_symlink) || !name_is_valid(name) ||
                    name_is_reserved(name))
                        continue;
                char *levels[] = {id.realm, id.space, id.stack, id.cell};
                strcpy(levels[kind - KIND_REALM], name);
                strcpy(id.name, name);
                r = scan_one(sc, fd, &id, parent, l.items[k].is_symlink);
        }
        return r;
}

int store_scan(Store *s, unsigned flags, Tree *ret)
{
        Scan sc = {.store = s, .flags = flags};
        _cleanup_close_ int fd = -EBADF;
        int r = store_open_dir(s, "", &fd);
        if (r >= 0)
                r = scan_dir(&sc, fd, NULL, -1, KIND_REALM);
        if (r < 0) {
                tree_done(&sc.tree);
                return r;
        }
        *ret = sc.tree;
        return 0;
}

void tree_done(Tree *t)
{
        for (size_t i = 0; i < t->n; i++) {
                document_free(t->entries[i].spec);
                document_free(t->entries[i].status);
                diag_done(&t->entries[i].error);
        }
        free(t->entries);
        *t = (Tree){0};
}

static bool id_equal(const ResourceId *a, const ResourceId *b)
{
        return a->kind == b->kind && streq(a->realm, b->realm) && streq(a->space, b->space) &&
               streq(a->stack, b->stack) && streq(a->cell, b->cell) && streq(a->name, b->name);
}

TreeEntry *tree_find(const Tree *t, const ResourceId *id)
{
        for (size_t i = 0; i < t->n; i++)
                if (id_equal(&t->entries[i].id, id))
                        return &t->entries[i];
        return NULL;
}

void tree_count_children(const Tree *t, size_t i, size_t counts[_KIND_MAX])
{
        memset(counts, 0, sizeof(size_t) * _KIND_MAX);
        for (size_t j = i + 1; j < t->n; j++)
                if (t->entries[j].parent == (ssize_t)i && t->entries[j].has_spec_file)
                        counts[t->entries[j].id.kind]++;
}
