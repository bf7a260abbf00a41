/* The cgroup driver's raw I/O: syscalls on absolute paths, nothing else (see cgroup-io.h). */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/cgroup/cgroup-io.h"

char **cg_strv_free(char **l)
{
        if (!l)
                return NULL;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
        return NULL;
}

static int io_mkdir(void *userdata, const char *path)
{
        return mkdir(path, 0755) < 0 ? negative_errno() : 0;
}

static int io_rmdir(void *userdata, const char *path)
{
        return rmdir(path) < 0 ? negative_errno() : 0;
}

static int io_read_file(void *userdata, const char *path, char *buf, size_t size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = 0;
        while (len + 1 < size) {
                ssize_t k = read(fd, buf + len, size - 1 - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t)k;
        }
        buf[len] = '\0';
        return (int)len;
}

static int io_write_file(void *userdata, const char *path, const char *value)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(value);
        ssize_t k;
        do
                k = write(fd, value, len);
        while (k < 0 && errno == EINTR);
        if (k < 0)
                return negative_errno();
        /* kernfs takes a control file's value in one write; a short one means it was not taken whole. */
        return (size_t)k == len ? 0 : -EIO;
}

static int io_statfs(void *userdata, const char *path, int64_t *ret_type)
{
        struct statfs sfs;
        if (statfs(path, &sfs) < 0)
                return negative_errno();
        *ret_type = (int64_t)sfs.f_type;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_subdir(DIR *d, const struct dirent *de)
{
        if (de->d_type == DT_DIR)
                return 1;
        if (de->d_type != DT_UNKNOWN)
                return 0;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return S_ISDIR(st.st_mode);
}

static int strv_push(char ***l, size_t *n, size_t *cap, const char *s)
{
        if (*n + 2 > *cap) {
                size_t c = *cap ? *cap * 2 : 8;
                char **p = realloc(*l, c * sizeof(char *));
                if (!p)
                        return -ENOMEM;
                *l = p;
                *cap = c;
        }
        if (!((*l)[*n] = strdup(s)))
                return -ENOMEM;
        (*l)[++*n] = NULL;
        return 0;
}

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static int io_list_subdirs(void *userdata, const char *path, char ***ret)
{
        _cleanup_(closedirp) DIR *d = NULL;
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        if (!(d = fdopendir(fd))) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        char **l = calloc(1, sizeof(char *));
        size_t n = 0, cap = 1;
        if (!l)
                return -ENOMEM;
        int r = 0;
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                r = negative_errno();
                        break;
                }
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = is_subdir(d, de);
                if (r > 0)
                        r = strv_push(&l, &n, &cap, de->d_name);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                cg_strv_free(l);
                return r;
        }
        qsort(l, n, sizeof(char *), cmp_str);
        *ret = l;
        return 0;
}

const CgroupIo cg_io_default = {
        .mkdir = io_mkdir,
        .rmdir = io_rmdir,
        .read_file = io_read_file,
        .write_file = io_write_file,
        .statfs = io_statfs,
        .list_subdirs = io_list_subdirs,
};
