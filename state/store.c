#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "state/store-private.h"

struct Store {
        char *run_path;
        int fd;
};

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

/* ---- safe file access ---- */

/* openat(O_DIRECTORY|O_NOFOLLOW) failed: a symlink is -ELOOP, anything else keeps its errno. */
static int not_dir_error(int dirfd, const char *name)
{
        int r = negative_errno();
        struct stat st;
        if (r == -ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return r;
}

/* Opens the directory holding relpath's last component, walking with O_NOFOLLOW from the run path
 * (creating missing directories when create is set). ret_base points into relpath. */
static int open_parent(Store *s, const char *relpath, bool create, int *ret_fd, const char **ret_base)
{
        char buf[1024];
        if (strlen(relpath) >= sizeof(buf) || relpath[0] == '/' || relpath[0] == '\0')
                return -EINVAL;
        strcpy(buf, relpath);
        _cleanup_close_ int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        char *p = buf, *slash;
        while ((slash = strchr(p, '/'))) {
                *slash = '\0';
                if (!*p || streq(p, ".") || streq(p, ".."))
                        return -EINVAL;
                int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT && create) {
                        if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST)
                                return negative_errno();
                        next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0)
                        return not_dir_error(fd, p);
                close(fd);
                fd = next;
                p = slash + 1;
        }
        if (!*p || streq(p, ".") || streq(p, ".."))
                return -EINVAL;
        *ret_fd = TAKE_FD(fd);
        *ret_base = relpath + (p - buf);
        return 0;
}

static int read_fd_all(int fd, size_t size_hint, char **ret, size_t *ret_len)
{
        Buf b = BUF_INIT;
        char chunk[16384];
        (void)size_hint;
        for (;;) {
                ssize_t k = read(fd, chunk, sizeof(chunk));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        buf_done(&b);
                        return negative_errno();
                }
                if (k == 0)
                        break;
                if (b.len + (size_t)k > STORE_MAX_FILE_BYTES) {
                        buf_done(&b);
                        return -EFBIG;
                }
                if (buf_append(&b, chunk, (size_t)k) < 0) {
                        buf_done(&b);
                        return -ENOMEM;
                }
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int store_read_file(Store *s, const char *relpath, char **ret_buf, size_t *ret_len, int64_t *ret_mtime)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = open_parent(s, relpath, false, &dfd, &base);
        if (r < 0)
                return r;
        _cleanup_close_ int fd =
                openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_nlink > 1)
                return -EMLINK;
        if (st.st_size > STORE_MAX_FILE_BYTES)
                return -EFBIG;
        r = read_fd_all(fd, (size_t)st.st_size, ret_buf, ret_len);
        if (r >= 0 && ret_mtime)
                *ret_mtime = (int64_t)st.st_mtim.tv_sec;
        return r;
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
        int r = open_parent(s, relpath, true, &dfd, &base);
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
        int r = open_parent(s, relpath, false, &dfd, &base);
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
        int r = open_parent(s, relpath, false, &dfd, &base);
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

int store_stat(Store *s, const char *relpath, struct stat *ret)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = open_parent(s, relpath, false, &dfd, &base);
        if (r < 0)
                return r;
        if (fstatat(dfd, base, ret, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

bool store_exists(Store *s, const char *relpath)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        struct stat st;
        if (open_parent(s, relpath, false, &dfd, &base) < 0)
                return false;
        return fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
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

int store_read_spec(Store *s, const ResourceId *id, Document **ret, Diag *diag)
{
        char path[1024];
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = store_spec_path(id, path, sizeof(path));
        if (r < 0)
                return r;
        r = store_read_file(s, path, &buf, &len, NULL);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return read_error(diag, path, r);
        ParsedStream ps = {0};
        r = documents_parse(buf, len, path, 0, &ps);
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

int store_read_status(Store *s, const ResourceId *id, Document **ret, Diag *diag)
{
        char path[1024];
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = id->kind == KIND_CONTAINER ? store_spec_path(id, path, sizeof(path))
                                           : store_status_path(id, path, sizeof(path));
        if (r < 0)
                return r;
        r = store_read_file(s, path, &buf, &len, NULL);
        if (r == -ENOENT)
                return r;
        if (r < 0)
                return read_error(diag, path, r);
        return document_parse_one(buf, len, path, id->kind, id->kind == KIND_CONTAINER ? 0 : PARSE_STATUS,
                                  ret, diag);
}

static int write_document(Store *s, const char *path, const Document *d, unsigned flags)
{
        _cleanup_free_ char *y = document_to_yaml(d, flags);
        if (!y)
                return -ENOMEM;
        return store_write_file(s, path, y, strlen(y), 0644);
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

int store_open_dir(Store *s, const char *relpath, int *ret_fd)
{
        if (!relpath || !*relpath) {
                /* a new open file description: a dup would share the read position with s->fd */
                int fd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                *ret_fd = fd;
                return 0;
        }
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r = open_parent(s, relpath, false, &dfd, &base);
        if (r < 0)
                return r;
        int fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return not_dir_error(dfd, base);
        *ret_fd = fd;
        return 0;
}
