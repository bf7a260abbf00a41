/* Internals shared by the store's files. */
#pragma once

#include <sys/stat.h>

#include "state/store.h"

struct Store {
        char *run_path;
        int fd;           /* the run path */
        bool has_openat2; /* false once the kernel said ENOSYS: walk component by component */
};

/* Opens path below dir_fd (a directory of the run path the caller holds) with flags (O_CLOEXEC and
 * O_NOFOLLOW are added), never following a symlink in any component: openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) in one call, or one openat(O_NOFOLLOW) per component where openat2() is missing.
 * Returns the fd, -EINVAL for an absolute path or an empty, "." or ".." component, -ENAMETOOLONG, -ELOOP
 * for a symlink anywhere on the way, or another -errno. */
int store_open_at(Store *s, int dir_fd, const char *path, int flags);
/* Opens the directory holding relpath's last component as store_open_at() does (creating missing
 * directories, 0755 and never through symlinks, when create is set). ret_base points into relpath. */
int store_open_parent(Store *s, const char *relpath, bool create, int *ret_fd, const char **ret_base);
/* store_read_file() of path below dir_fd. */
int store_read_file_at(Store *s, int dir_fd, const char *path, char **ret_buf, size_t *ret_len,
                       int64_t *ret_mtime);
/* lstat of path below dir_fd (its directories opened as store_open_at() does). */
int store_stat_at(Store *s, int dir_fd, const char *path, struct stat *ret);
/* Opens the directory at relpath ("" for the run path itself) without following symlinks. */
int store_open_dir(Store *s, const char *relpath, int *ret_fd);
/* lstat of a path below the run path. */
int store_stat(Store *s, const char *relpath, struct stat *ret);

/* store_read_spec() and store_read_status() with the file opened below parent_fd, the directory that
 * lists the resource: the run path for a realm, the realm's directory for a space (and so on down to the
 * stack's for a cell), <realm>/images for an image, <cell>/containers for a container. The scan holds
 * that directory open, so no file's path is walked from the run path again. ret_mtime (may be NULL) gets
 * the manifest's mtime whenever there is a file, also when it is refused, 0 when there is none. */
int store_read_spec_at(Store *s, int parent_fd, const ResourceId *id, Document **ret, int64_t *ret_mtime,
                       Diag *diag);
int store_read_status_at(Store *s, int parent_fd, const ResourceId *id, Document **ret, Diag *diag);

/* For tests: false makes the store walk every path component by component, as it does on kernels
 * without openat2(). */
void store_set_openat2(Store *s, bool enable);
