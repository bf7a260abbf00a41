#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "state/store-private.h"

#define MAX_DEPTH 8

Store *store_free(Store *s)
{
        if (!s)
                return NULL;
        if (s->fd >= 0)
                close(s->fd);
        free(s->run_path);
        free(s);
        return NULL;
}

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *q = p + 1; *q; q++) {
                if (*q != '/')
                        continue;
                *q = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                *q = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int store_open(const char *run_path, bool create, Store **ret)
{
        if (create) {
                int r = mkdir_p(run_path, 0755);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int fd = open(run_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                int r = negative_errno();
                struct stat st;
                if (r == -ENOTDIR && lstat(run_path, &st) == 0 && S_ISLNK(st.st_mode))
                        return -ELOOP;
                return r;
        }
        Store *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->run_path = strdup(run_path);
        if (!s->run_path) {
                free(s);
                return -ENOMEM;
        }
        s->fd = TAKE_FD(fd);
        s->has_openat2 = true;
        *ret = s;
        return 0;
}

const char *store_run_path(const Store *s)
{
        return s->run_path;
}

/* ---- path mapping ---- */

static int fmt_path(char *ret, size_t size, const char *fmt, ...) _printf_(3, 4);
static int fmt_path(char *ret, size_t size, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(ret, size, fmt, ap);
        va_end(ap);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int store_dir_path(const ResourceId *id, char *ret, size_t size)
{
        switch (id->kind) {
        case KIND_REALM:
                return fmt_path(ret, size, "%s", id->realm);
        case KIND_SPACE:
                return fmt_path(ret, size, "%s/%s", id->realm, id->space);
        case KIND_STACK:
                return fmt_path(ret, size, "%s/%s/%s", id->realm, id->space, id->stack);
        case KIND_CELL:
                return fmt_path(ret, size, "%s/%s/%s/%s", id->realm, id->space, id->stack, id->cell);
        case KIND_CONTAINER:
                return fmt_path(ret, size, "%s/%s/%s/%s/containers", id->realm, id->space, id->stack,
                                id->cell);
        case KIND_IMAGE:
                return fmt_path(ret, size, "%s/images", id->realm);
        default:
                return -EINVAL;
        }
}

static int file_path(const ResourceId *id, const char *suffix, char *ret, size_t size)
{
        char dir[512];
        int r = store_dir_path(id, dir, sizeof(dir));
        if (r < 0)
                return r;
        if (id->kind == KIND_CONTAINER)
                return fmt_path(ret, size, "%s/%s.yaml", dir, id->name);
        if (id->kind == KIND_IMAGE)
                return fmt_path(ret, size, "%s/%s%s", dir, id->name, suffix);
        return fmt_path(ret, size, "%s/%s%s", dir, kind_to_noun(id->kind), suffix);
}

int store_spec_path(const ResourceId *id, char *ret, size_t size)
{
        return file_path(id, ".yaml", ret, size);
}

int store_status_path(const ResourceId *id, char *ret, size_t size)
{
        return file_path(id, ".status.yaml", ret, size);
}

static bool has_suffix(const char *s, const char *suffix, char *ret_stem, size_t size)
{
        size_t n = strlen(s), k = strlen(suffix);
        if (n <= k || !streq(s + n - k, suffix) || n - k >= size)
                return false;
        memcpy(ret_stem, s, n - k);
        ret_stem[n - k] = '\0';
        return true;
}

static bool is_dir_name(const char *s)
{
        return name_is_valid(s) && !name_is_reserved(s);
}

/* A file inside a resource directory at level kind (realm..cell). */
static int classify_file(const char *f, Kind kind, ResourceId *id, FileRole *role)
{
        char expect[32];
        snprintf(expect, sizeof(expect), "%s.yaml", kind_to_noun(kind));
        if (streq(f, expect)) {
                *role = FILE_SPEC;
                return 0;
        }
        snprintf(expect, sizeof(expect), "%s.status.yaml", kind_to_noun(kind));
        if (streq(f, expect)) {
                *role = FILE_STATUS;
                return 0;
        }
        if (kind == KIND_SPACE && streq(f, "network.conflist")) {
                *role = FILE_CONFLIST;
                return 0;
        }
        return -EINVAL;
}

int store_classify_path(const char *relpath, ResourceId *ret_id, FileRole *ret_role)
{
        char buf[1024], *parts[MAX_DEPTH], *save = NULL;
        size_t n = 0;
        if (strlen(relpath) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, relpath);
        for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
                if (n == MAX_DEPTH || p[0] == '.')
                        return -EINVAL;
                parts[n++] = p;
        }
        if (n == 0)
                return -EINVAL;

        ResourceId id = {0};
        FileRole role = FILE_DIR;
        char stem[NAME_MAX_LEN + 1];
        char *levels[4] = {id.realm, id.space, id.stack, id.cell};
        /* Directory levels: realm, space, stack, cell — each a valid, unreserved name. */
        size_t depth = 0;
        while (depth < n && depth < 4 && is_dir_name(parts[depth])) {
                strcpy(levels[depth], parts[depth]);
                depth++;
        }
        if (depth == 0)
                return -EINVAL;
        Kind level = (Kind)(KIND_REALM + depth - 1);
        size_t rest = n - depth;

        if (rest == 0) {
                id.kind = level;
        } else if (rest == 1 && classify_file(parts[depth], level, &id, &role) == 0) {
                id.kind = level;
        } else if (level == KIND_REALM && streq(parts[1], "images") && rest <= 2) {
                id.kind = KIND_IMAGE;
                if (rest == 2) {
                        if (has_suffix(parts[2], ".status.yaml", stem, sizeof(stem)))
                                role = FILE_STATUS;
                        else if (has_suffix(parts[2], ".yaml", stem, sizeof(stem)))
                                role = FILE_SPEC;
                        else
                                return -EINVAL;
                        if (!name_is_valid(stem))
                                return -EINVAL;
                        strcpy(id.name, stem);
                }
        } else if (level == KIND_CELL && rest <= 2 &&
                   (streq(parts[4], "containers") || streq(parts[4], "logs"))) {
                bool logs = streq(parts[4], "logs");
                id.kind = KIND_CONTAINER;
                if (rest == 2) {
                        if (!has_suffix(parts[5], logs ? ".log" : ".yaml", stem, sizeof(stem)) ||
                            !name_is_valid(stem))
                                return -EINVAL;
                        strcpy(id.name, stem);
                        role = logs ? FILE_LOG : FILE_CONTAINER;
                }
        } else {
                return -EINVAL;
        }
        if (id.kind != KIND_CONTAINER && id.kind != KIND_IMAGE)
                strcpy(id.name, levels[depth - 1]);
        *ret_id = id;
        *ret_role = role;
        return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += k;
                len -= (size_t)k;
        }
        return 0;
}

int store_write_temp(Store *s, const char *relpath, const void *buf, size_t len, mode_t mode,
                     char **ret_tmpname)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = store_open_parent(s, relpath, true, &dfd, &base);
        if (r < 0)
                return r;
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
                uint32_t rnd;
                if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
                        rnd = (uint32_t)getpid() ^ (uint32_t)attempt * 2654435761u;
                free(tmp);
                if (asprintf(&tmp, ".%s.tmp.%06x", base, rnd & 0xffffff) < 0)
                        return -ENOMEM;
                fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
                if (fd < 0 && errno != EEXIST)
                        return negative_errno();
        }
        if (fd < 0)
                return -EEXIST;
        r = write_all(fd, buf, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        *ret_tmpname = TAKE_PTR(tmp);
        return 0;
}

int store_commit(Store *s, const char *relpath, const char *tmpname)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = store_open_parent(s, relpath, false, &dfd, &base);
        if (r < 0)
                return r;
        if (renameat(dfd, tmpname, dfd, base) < 0) {
                r = negative_errno();
                (void)unlinkat(dfd, tmpname, 0);
                return r;
        }
        if (fsync(dfd) < 0)
                return negative_errno();
        return 0;
}

int store_write_file(Store *s, const char *relpath, const void *buf, size_t len, mode_t mode)
{
        _cleanup_free_ char *tmp = NULL;
        int r = store_write_temp(s, relpath, buf, len, mode, &tmp);
        if (r < 0)
                return r;
        return store_commit(s, relpath, tmp);
}

int store_remove_file(Store *s, const char *relpath)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = store_open_parent(s, relpath, false, &dfd, &base);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (unlinkat(dfd, base, 0) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (fsync(dfd) < 0)
                return negative_errno();
        return 1;
}

/* ---- documents ---- */

static int read_error(Diag *diag, const char *relpath, int r)
{
        if (r == -ELOOP)
                return diag_set(diag, r, relpath, 0, 0, NULL, "a symlink in the run path is not followed");
        if (r == -EFBIG)
                return diag_set(diag, r, relpath, 0, 0, NULL, "file larger than 1 MiB");
        if (r == -EMLINK)
                return diag_set(diag, r, relpath, 0, 0, NULL, "file has other hard links; refused");
        if (r == -EINVAL)
                return diag_set(diag, r, relpath, 0, 0, NULL, "not a regular file");
        return diag_set(diag, r, relpath, 0, 0, NULL, "cannot read: %s", strerror(-r));
}

/* The last n components of path: where it is relative to a directory n levels up from the file. */
static const char *path_tail(const char *path, size_t n)
{
        size_t seen = 0;
        for (const char *p = path + strlen(path); p > path; p--)
                if (p[-1] == '/' && ++seen == n)
                        return p;
        return path;
}

/* The file path of id relative to the directory that lists it (see store_read_spec_at()). */
static const char *listed_path(const ResourceId *id, const char *path)
{
        return path_tail(path, id->kind == KIND_IMAGE || id->kind == KIND_CONTAINER ? 1 : 2);
}

/* Decodes a manifest read from path and checks it against the identity its path gives. */
static int spec_decode(const char *buf, size_t len, const char *path, const ResourceId *id, Document **ret,
                       Diag *diag)
{
        ParsedStream ps = {0};
        int r = documents_parse(buf, len, path, 0, &ps);
        if (r < 0)
                return r;
        if (ps.n != 1) {
                r = diag_set(diag, -EINVAL, path, ps.n > 1 ? ps.docs[1].line : 1, 1, NULL,
                             "expected exactly one document in a manifest file, found %zu", ps.n);
        } else if (diag_is_set(&ps.docs[0].diag)) {
                diag_move(diag, &ps.docs[0].diag);
                r = -EINVAL;
        } else if (ps.docs[0].doc->kind != id->kind) {
                const YNode *k = ynode_get(ps.docs[0].root, "kind");
                r = diag_set(diag, -EINVAL, path, k ? k->line : 1, k ? k->col : 1, "kind",
                             "expected %s in this file, found %s", kind_to_string(id->kind),
                             kind_to_string(ps.docs[0].doc->kind));
        } else {
                r = document_validate(ps.docs[0].doc, id, path, ps.docs[0].root, diag);
                if (r >= 0)
                        *ret = TAKE_PTR(ps.docs[0].doc);
        }
        parsed_stream_done(&ps);
        return r;
}

static int read_spec(Store *s, int dir_fd, bool listed, const ResourceId *id, Document **ret,
                     int64_t *ret_mtime, Diag *diag)
{
        char path[1024];
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int64_t mtime = 0;
        int r = store_spec_path(id, path, sizeof(path));
        if (r < 0)
                return r;
        const char *at = listed ? listed_path(id, path) : path;
        r = store_read_file_at(s, dir_fd, at, &buf, &len, &mtime);
        if (ret_mtime && r < 0 && r != -ENOENT && r != -ENOTDIR && mtime == 0) {
                /* not opened (a symlink, no permission): the mtime of what is there */
                struct stat st;
                if (store_stat_at(s, dir_fd, at, &st) >= 0)
                        mtime = (int64_t)st.st_mtim.tv_sec;
        }
        if (ret_mtime)
                *ret_mtime = mtime;
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return read_error(diag, path, r);
        return spec_decode(buf, len, path, id, ret, diag);
}

int store_read_spec(Store *s, const ResourceId *id, Document **ret, Diag *diag)
{
        return read_spec(s, s->fd, false, id, ret, NULL, diag);
}

int store_read_spec_at(Store *s, int parent_fd, const ResourceId *id, Document **ret, int64_t *ret_mtime,
                       Diag *diag)
{
        return read_spec(s, parent_fd, true, id, ret, ret_mtime, diag);
}

static int read_status(Store *s, int dir_fd, bool listed, const ResourceId *id, Document **ret, Diag *diag)
{
        char path[1024];
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = id->kind == KIND_CONTAINER ? store_spec_path(id, path, sizeof(path))
                                           : store_status_path(id, path, sizeof(path));
        if (r < 0)
                return r;
        r = store_read_file_at(s, dir_fd, listed ? listed_path(id, path) : path, &buf, &len, NULL);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return read_error(diag, path, r);
        return document_parse_one(buf, len, path, id->kind, id->kind == KIND_CONTAINER ? 0 : PARSE_STATUS,
                                  ret, diag);
}

int store_read_status(Store *s, const ResourceId *id, Document **ret, Diag *diag)
{
        return read_status(s, s->fd, false, id, ret, diag);
}

int store_read_status_at(Store *s, int parent_fd, const ResourceId *id, Document **ret, Diag *diag)
{
        return read_status(s, parent_fd, true, id, ret, diag);
}

static int write_document(Store *s, const char *path, const Document *d, unsigned flags)
{
        _cleanup_free_ char *y = document_to_yaml(d, flags);
        if (!y)
                return -ENOMEM;
        /* a realm manifest with registry passwords is for root and the group only */
        bool has_secrets =
                (flags & EMIT_SPEC) && d->kind == KIND_REALM && d->spec.realm.n_registry_credentials > 0;
        return store_write_file(s, path, y, strlen(y), has_secrets ? 0640 : 0644);
}

int store_write_spec(Store *s, const ResourceId *id, const Document *d)
{
        char path[1024];
        int r = store_spec_path(id, path, sizeof(path));
        if (r < 0)
                return r;
        return write_document(s, path, d, EMIT_SPEC);
}

int store_write_status(Store *s, const ResourceId *id, const Document *d)
{
        char path[1024];
        int r;
        if (id->kind == KIND_CONTAINER) {
                if ((r = store_spec_path(id, path, sizeof(path))) < 0)
                        return r;
                return write_document(s, path, d, EMIT_SPEC | EMIT_STATUS);
        }
        if ((r = store_status_path(id, path, sizeof(path))) < 0)
                return r;
        return write_document(s, path, d, EMIT_STATUS_FILE);
}
