/* The conflist and host-local's state on disk: atomic writes, reads, removal. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "drivers/cni/cni-internal.h"

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

static int mkdir_p(const char *path, mode_t mode)
{
        char buf[4096];
        int n = snprintf(buf, sizeof(buf), "%s", path);
        if (n <= 0 || (size_t)n >= sizeof(buf))
                return -ENAMETOOLONG;
        for (char *p = buf + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                if (mkdir(buf, mode) < 0 && errno != EEXIST)
                        return -errno;
                *p = c;
                if (c == '\0')
                        return 0;
        }
}

/* Splits path into its directory (opened) and its last component. */
static int open_parent(const char *path, int *ret_dfd, const char **ret_name)
{
        const char *slash = strrchr(path, '/');
        if (!slash || !slash[1])
                return -EINVAL;
        char dir[4096];
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof(dir))
                return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        *ret_dfd = dfd;
        *ret_name = slash + 1;
        return 0;
}

/* Whether dfd/name holds exactly data. */
static bool file_holds(int dfd, const char *name, const char *data, size_t len)
{
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
                return false;
        _cleanup_free_ char *have = malloc(len + 1);
        if (!have)
                return false;
        size_t done = 0;
        while (done < len) {
                ssize_t k = read(fd, have + done, len - done);
                if (k <= 0)
                        return false;
                done += (size_t)k;
        }
        return memcmp(have, data, len) == 0;
}

static int write_all(int fd, const char *data, size_t len)
{
        while (len > 0) {
                ssize_t k = write(fd, data, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                data += k;
                len -= (size_t)k;
        }
        return 0;
}

/* Atomic replace of dfd/name: .<name>.tmp.XXXXXX, fsync, rename, fsync of the directory. 1 when written,
 * 0 when the file already held data. */
static int write_atomic_at(int dfd, const char *name, const char *data, size_t len)
{
        if (file_holds(dfd, name, data, len))
                return 0;

        uint32_t rnd;
        if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
                return negative_errno();
        char tmp[300];
        int n = snprintf(tmp, sizeof(tmp), ".%s.tmp.%06x", name, rnd & 0xffffff);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;

        _cleanup_close_ int fd =
                openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        int r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dfd, tmp, dfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dfd, tmp, 0);
                return r;
        }
        return fsync(dfd) < 0 ? -errno : 1;
}

static int conflist_file_name(const char *network, char *ret, size_t size)
{
        if (!network || !*network || network[0] == '.' || strchr(network, '/'))
                return -EINVAL;
        int n = snprintf(ret, size, "%s.conflist", network);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cni_conflist_write(const char *conf_dir, const json_t *conflist, const char *copy_path)
{
        conf_dir = conf_dir ? conf_dir : CNI_DEFAULT_CONF_DIR;
        char file[CNI_NETWORK_NAME_MAX + 16];
        int r = conflist_file_name(json_string_value(json_object_get(conflist, "name")), file, sizeof(file));
        if (r < 0)
                return r;
        _cleanup_free_ char *text = cni_conflist_format(conflist);
        if (!text)
                return -ENOMEM;
        size_t len = strlen(text);

        r = mkdir_p(conf_dir, 0755);
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = open(conf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        int changed = write_atomic_at(dfd, file, text, len);
        if (changed < 0 || !copy_path)
                return changed;

        _cleanup_close_ int copy_dfd = -EBADF;
        const char *copy_name;
        r = open_parent(copy_path, &copy_dfd, &copy_name);
        if (r < 0)
                return r;
        r = write_atomic_at(copy_dfd, copy_name, text, len);
        return r < 0 ? r : (changed || r);
}

int cni_conflist_read(const char *path, json_t **ret, char **ret_error)
{
        if (ret_error)
                *ret_error = NULL;
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        json_error_t e;
        json_t *j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &e);
        if (!j) {
                if (ret_error && asprintf(ret_error, "%s:%d:%d: %s", path, e.line, e.column, e.text) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        *ret = j;
        return 0;
}

static int unlink_counting(int dfd, const char *name, int flags)
{
        if (unlinkat(dfd, name, flags) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

int cni_conflist_remove(const char *conf_dir, const char *network, const char *copy_path)
{
        char file[CNI_NETWORK_NAME_MAX + 16];
        int r = conflist_file_name(network, file, sizeof(file));
        if (r < 0)
                return r;
        int removed = 0;
        _cleanup_close_ int dfd =
                open(conf_dir ? conf_dir : CNI_DEFAULT_CONF_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 && errno != ENOENT)
                return -errno;
        if (dfd >= 0 && (removed = unlink_counting(dfd, file, 0)) < 0)
                return removed;
        if (!copy_path)
                return removed;

        _cleanup_close_ int copy_dfd = -EBADF;
        const char *copy_name;
        r = open_parent(copy_path, &copy_dfd, &copy_name);
        if (r == -ENOENT)
                return removed;
        if (r < 0)
                return r;
        r = unlink_counting(copy_dfd, copy_name, 0);
        return r < 0 ? r : (removed || r);
}

int cni_ipam_remove(const char *data_dir, const char *network)
{
        if (!network || !*network || network[0] == '.' || strchr(network, '/'))
                return -EINVAL;
        _cleanup_close_ int dfd =
                open(data_dir ? data_dir : CNI_DEFAULT_IPAM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        int fd = openat(dfd, network, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_(closedirp) DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        /* host-local keeps flat files only: one per reserved address, last_reserved_ip.<range>, lock */
        struct dirent *de;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                int r = unlink_counting(dirfd(d), de->d_name, 0);
                if (r < 0)
                        return r;
        }
        return unlink_counting(dfd, network, AT_REMOVEDIR);
}
