/* Scanning the run path into a desired-state snapshot. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "state/schema.h"
#include "state/store-private.h"

typedef struct DirEntryName {
        char name[256];
        bool is_dir;
        bool is_symlink;
} DirEntryName;

static int cmp_entry(const void *a, const void *b)
{
        return strcmp(((const DirEntryName *)a)->name, ((const DirEntryName *)b)->name);
}

/* The sorted entries of a directory (no dot-files). */
static int list_dir(Store *s, const char *relpath, DirEntryName **ret, size_t *ret_n)
{
        int fd;
        int r = store_open_dir(s, relpath, &fd);
        if (r < 0)
                return r;
        DIR *d = fdopendir(fd);
        if (!d) {
                r = negative_errno();
                close(fd);
                return r;
        }
        DirEntryName *items = NULL;
        size_t n = 0;
        struct dirent *de;
        r = 0;
        while ((errno = 0, de = readdir(d))) {
                if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(items->name))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                DirEntryName *m = realloc(items, (n + 1) * sizeof(*items));
                if (!m) {
                        r = -ENOMEM;
                        break;
                }
                items = m;
                strcpy(items[n].name, de->d_name);
                items[n].is_dir = S_ISDIR(st.st_mode);
                items[n].is_symlink = S_ISLNK(st.st_mode);
                n++;
        }
        closedir(d);
        if (r < 0) {
                free(items);
                return r;
        }
        if (n)
                qsort(items, n, sizeof(*items), cmp_entry);
        *ret = items;
        *ret_n = n;
        return 0;
}

static TreeEntry *tree_push(Tree *t, const ResourceId *id, ssize_t parent)
{
        TreeEntry *e = realloc(t->entries, (t->n + 1) * sizeof(*e));
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

/* Loads one resource: its manifest (validated), status and digest; marks it blocked by its parent. */
static int load_entry(Store *s, Tree *t, size_t i, unsigned flags)
{
        TreeEntry *e = &t->entries[i];
        char path[1024];
        int r;

        if (e->id.kind != KIND_CONTAINER) {
                struct stat st;
                if ((r = store_spec_path(&e->id, path, sizeof(path))) < 0)
                        return r;
                e->has_spec_file = store_stat(s, path, &st) >= 0;
                if (e->has_spec_file)
                        e->spec_mtime = (int64_t)st.st_mtim.tv_sec;
        }
        if (e->id.kind == KIND_CONTAINER) {
                r = store_read_status(s, &e->id, &e->spec, &e->error);
                e->has_spec_file = r >= 0;
        } else if (e->has_spec_file) {
                r = store_read_spec(s, &e->id, &e->spec, &e->error);
                if (r >= 0)
                        r = document_digest(e->spec, &e->id, e->digest);
        } else {
                r = 0;
        }
        if (r == -ENOMEM)
                return r;
        if ((flags & TREE_WITH_STATUS) && e->id.kind != KIND_CONTAINER) {
                Diag ignored = DIAG_INIT;
                if (store_read_status(s, &e->id, &e->status, &ignored) == -ENOMEM)
                        return -ENOMEM;
                diag_done(&ignored);
        }
        if (e->parent >= 0) {
                const TreeEntry *p = &t->entries[e->parent];
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

static int scan_level(Store *s, Tree *t, const ResourceId *parent_id, ssize_t parent, Kind kind,
                      unsigned flags);

static int scan_one(Store *s, Tree *t, const ResourceId *id, ssize_t parent, bool is_symlink, unsigned flags)
{
        TreeEntry *e = tree_push(t, id, parent);
        if (!e)
                return -ENOMEM;
        size_t i = t->n - 1;
        int r;
        if (is_symlink) {
                char path[1024];
                store_dir_path(id, path, sizeof(path));
                e->has_spec_file = true;
                r = diag_set(&e->error, -ELOOP, path, 0, 0, NULL,
                             "a symlink in the run path is not followed");
                return r == -ENOMEM ? r : 0;
        }
        if ((r = load_entry(s, t, i, flags)) < 0)
                return r;
        if (!keep_entry(&t->entries[i], flags) && !(flags & TREE_WITH_ORPHANS)) {
                /* Not desired, and neither are its children: drop the whole subtree. */
                TreeEntry *dead = &t->entries[i];
                document_free(dead->spec);
                document_free(dead->status);
                diag_done(&dead->error);
                t->n--;
                return 0;
        }
        if (id->kind == KIND_REALM) {
                if ((r = scan_level(s, t, id, (ssize_t)i, KIND_IMAGE, flags)) < 0)
                        return r;
        }
        if (id->kind == KIND_CELL && (flags & TREE_WITH_CONTAINERS))
                return scan_level(s, t, id, (ssize_t)i, KIND_CONTAINER, flags);
        if (id->kind < KIND_CELL)
                return scan_level(s, t, id, (ssize_t)i, (Kind)(id->kind + 1), flags);
        return 0;
}

static int scan_level(Store *s, Tree *t, const ResourceId *parent_id, ssize_t parent, Kind kind,
                      unsigned flags)
{
        char dir[1024] = "";
        DirEntryName *items = NULL;
        size_t n = 0;
        int r = 0;

        if (parent_id) {
                ResourceId d = *parent_id;
                d.kind = kind == KIND_CONTAINER || kind == KIND_IMAGE ? kind : parent_id->kind;
                if ((r = store_dir_path(&d, dir, sizeof(dir))) < 0)
                        return r;
        }
        r = list_dir(s, dir, &items, &n);
        if (r == -ENOENT || r == -ENOTDIR || (r == -ELOOP && parent_id))
                return 0;
        if (r < 0)
                return r;
        for (size_t k = 0; k < n && r >= 0; k++) {
                ResourceId id = parent_id ? *parent_id : (ResourceId){0};
                char stem[NAME_MAX_LEN + 8];
                const char *name = items[k].name;
                id.kind = kind;
                if (kind == KIND_IMAGE || kind == KIND_CONTAINER) {
                        size_t len = strlen(name);
                        if (items[k].is_dir || len <= 5 || len - 5 >= sizeof(stem) ||
                            !streq(name + len - 5, ".yaml") ||
                            (len > 12 && streq(name + len - 12, ".status.yaml")))
                                continue;
                        memcpy(stem, name, len - 5);
                        stem[len - 5] = '\0';
                        if (!name_is_valid(stem))
                                continue;
                        strcpy(id.name, stem);
                        r = scan_one(s, t, &id, parent, items[k].is_symlink, flags);
                        continue;
                }
                if ((!items[k].is_dir && !items[k].is_symlink) || !name_is_valid(name) ||
                    name_is_reserved(name))
                        continue;
                char *levels[] = {id.realm, id.space, id.stack, id.cell};
                strcpy(levels[kind - KIND_REALM], name);
                strcpy(id.name, name);
                r = scan_one(s, t, &id, parent, items[k].is_symlink, flags);
        }
        free(items);
        return r;
}

int store_scan(Store *s, unsigned flags, Tree *ret)
{
        Tree t = {0};
        int r = scan_level(s, &t, NULL, -1, KIND_REALM, flags);
        if (r < 0) {
                tree_done(&t);
                return r;
        }
        *ret = t;
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
