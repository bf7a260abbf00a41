/* Safe access below the run path: every open relative to a held directory fd, no symlink followed in
 * any component (openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or openat(O_NOFOLLOW) per component on
 * kernels without it), names checked, reads capped at STORE_MAX_FILE_BYTES. */
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "state/store-private.h"

/* A path below a held directory: relative, at most PATH_MAX, no empty, "." or ".." component. */
static int check_path(const char *path)
{
        size_t len = strnlen(path, PATH_MAX);
        if (len == PATH_MAX)
                return -ENAMETOOLONG;
        if (len == 0 || path[0] == '/')
                return -EINVAL;
        for (const char *p = path;;) {
                size_t n = strcspn(p, "/");
                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return -EINVAL;
                if (!p[n])
                        return 0;
                p += n + 1;
        }
}

/* openat(O_DIRECTORY|O_NOFOLLOW) failed: a symlink is -ELOOP, anything else keeps its errno. */
static int not_dir_error(int dirfd, const char *name)
{
        int r = negative_errno();
        struct stat st;
        if (r == -ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return -ELOOP;
        return r;
}

/* Without openat2(): one openat(O_NOFOLLOW) per component, every directory relative to the one before. */
static int open_walk(int dir_fd, const char *path, int flags)
{
        char buf[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        int cur = dir_fd;
        char *p = buf, *slash;
        strcpy(buf, path);
        while ((slash = strchr(p, '/'))) {
                *slash = '\0';
                int next = openat(cur, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return not_dir_error(cur, p);
                closep(&fd);
                cur = fd = next;
                p = slash + 1;
        }
        int r = openat(cur, p, flags | O_NOFOLLOW | O_CLOEXEC);
        if (r < 0)
                return flags & O_DIRECTORY ? not_dir_error(cur, p) : negative_errno();
        return r;
}

int store_open_at(Store *s, int dir_fd, const char *path, int flags)
{
        int r = check_path(path);
        if (r < 0)
                return r;
        if (s->has_openat2) {
                /* One call for the whole path: the kernel refuses a symlink in any component (-ELOOP) and
                 * never leaves dir_fd. */
                struct open_how how = {
                        .flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
                };
                int fd = (int)syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
                if (fd >= 0)
                        return fd;
                /* ENOSYS: a kernel before 5.6. EPERM: what some seccomp filters answer for system calls
                 * they do not know (and rarely a real refusal, which the walk then gives again). EAGAIN: a
                 * race the kernel could not rule out. ENOTDIR with O_DIRECTORY: the last component is not
                 * a directory, and the walk tells a symlink (-ELOOP) from a file. */
                if (errno == ENOSYS)
                        s->has_openat2 = false;
                else if (errno != EPERM && errno != EAGAIN && !(errno == ENOTDIR && (flags & O_DIRECTORY)))
                        return negative_errno();
        }
        return open_walk(dir_fd, path, flags);
}

void store_set_openat2(Store *s, bool enable)
{
        s->has_openat2 = enable;
}

int store_open_parent(Store *s, const char *relpath, bool create, int *ret_fd, const char **ret_base)
{
        char dir[PATH_MAX];
        int r = check_path(relpath);
        if (r < 0)
                return r;
        const char *slash = strrchr(relpath, '/');
        if (!slash) {
                int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return negative_errno();
                *ret_fd = fd;
                *ret_base = relpath;
                return 0;
        }
        memcpy(dir, relpath, (size_t)(slash - relpath));
        dir[slash - relpath] = '\0';
        _cleanup_close_ int fd = store_open_at(s, s->fd, dir, O_RDONLY | O_DIRECTORY);
        if (fd == -ENOENT && create) {
                /* mkdir each missing component from the run path down, opening each with O_NOFOLLOW */
                fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return negative_errno();
                for (char *p = dir, *end; p; p = end) {
                        end = strchr(p, '/');
                        if (end)
                                *end++ = '\0';
                        int next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        bool made = false;
                        if (next < 0 && errno == ENOENT) {
                                made = mkdirat(fd, p, 0755) == 0;
                                if (!made && errno != EEXIST)
                                        return negative_errno();
                                next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        }
                        if (next < 0)
                                return not_dir_error(fd, p);
                        /* in a tree shared with a group (kuke init: 2775), a new directory is shared the
                         * same way, whatever the umask: the setgid bit gave it the group already */
                        struct stat parent;
                        if (made && fstat(fd, &parent) == 0 && (parent.st_mode & S_IWGRP))
                                (void)fchmod(next, parent.st_mode & 07777);
                        close(fd);
                        fd = next;
                }
        }
        if (fd < 0)
                return fd;
        *ret_fd = TAKE_FD(fd);
        *ret_base = slash + 1;
        return 0;
}

/* Reads an open file that must be a regular file with one link and at most STORE_MAX_FILE_BYTES. */
static int read_regular(int fd, char **ret, size_t *ret_len, int64_t *ret_mtime)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (ret_mtime)
                *ret_mtime = (int64_t)st.st_mtim.tv_sec;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        if (st.st_nlink > 1)
                return -EMLINK;
        if (st.st_size > STORE_MAX_FILE_BYTES)
                return -EFBIG;

        /* Room for one byte more than fstat() said: a read that returns exactly the size is the end of
         * the file, so a file that did not change is read with one read(). One that grew or shrank
         * meanwhile is read on to the end, still under the cap. */
        size_t size = (size_t)st.st_size, cap = size + 1, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        size_t next =
                                cap * 2 < STORE_MAX_FILE_BYTES + 1 ? cap * 2 : STORE_MAX_FILE_BYTES + 1;
                        char *b = realloc(buf, next + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        cap = next;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                bool short_read = (size_t)k < cap - len;
                len += (size_t)k;
                if (len > STORE_MAX_FILE_BYTES)
                        return -EFBIG;
                if (short_read && len == size)
                        break;
        }
        buf[len] = '\0';
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int store_read_file_at(Store *s, int dir_fd, const char *path, char **ret_buf, size_t *ret_len,
                       int64_t *ret_mtime)
{
        _cleanup_close_ int fd = store_open_at(s, dir_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return fd;
        return read_regular(fd, ret_buf, ret_len, ret_mtime);
}

int store_read_file(Store *s, const char *relpath, char **ret_buf, size_t *ret_len, int64_t *ret_mtime)
{
        return store_read_file_at(s, s->fd, relpath, ret_buf, ret_len, ret_mtime);
}

int store_stat_at(Store *s, int dir_fd, const char *path, struct stat *ret)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base = strrchr(path, '/');
        int r = check_path(path);
        if (r < 0)
                return r;
        if (base) {
                char dir[PATH_MAX];
                memcpy(dir, path, (size_t)(base - path));
                dir[base - path] = '\0';
                dfd = store_open_at(s, dir_fd, dir, O_RDONLY | O_DIRECTORY);
                if (dfd < 0)
                        return dfd;
                base++;
        }
        if (fstatat(base ? dfd : dir_fd, base ? base : path, ret, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return 0;
}

int store_stat(Store *s, const char *relpath, struct stat *ret)
{
        return store_stat_at(s, s->fd, relpath, ret);
}

bool store_exists(Store *s, const char *relpath)
{
        struct stat st;
        return store_stat(s, relpath, &st) >= 0;
}

int store_open_dir(Store *s, const char *relpath, int *ret_fd)
{
        int fd;
        if (!relpath || !*relpath) {
                /* a new open file description: a dup would share the read position with s->fd */
                fd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
        } else {
                fd = store_open_at(s, s->fd, relpath, O_RDONLY | O_DIRECTORY);
                if (fd < 0)
                        return fd;
        }
        *ret_fd = fd;
        return 0;
}
