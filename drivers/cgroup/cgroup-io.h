/* The raw I/O the cgroup driver does, behind a table so unit tests can substitute it (a fake kernel over
 * a temp dir) or inject errors. The default implementation in cgroup-io.c is plain syscalls on absolute
 * paths. Every function returns 0 (or a length) or -errno. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/macro.h"

typedef struct CgManager CgManager;

typedef struct CgroupIo {
        /* 0 when created, -EEXIST when it was there. */
        int (*mkdir)(void *userdata, const char *path);
        /* 0 when removed, -ENOENT when it was not there, -EBUSY when the cgroup is populated. */
        int (*rmdir)(void *userdata, const char *path);
        /* Reads at most size - 1 bytes and NUL-terminates them; returns the length. */
        int (*read_file)(void *userdata, const char *path, char *buf, size_t size);
        /* Writes value (no newline added) to an existing file in one write(). */
        int (*write_file)(void *userdata, const char *path, const char *value);
        /* The f_type of the filesystem holding path; -ENOENT when path does not exist. */
        int (*statfs)(void *userdata, const char *path, int64_t *ret_type);
        /* The names of the subdirectories of path (symlinks excluded), sorted, as a NULL-terminated array
         * the caller frees with cg_strv_free(). */
        int (*list_subdirs)(void *userdata, const char *path, char ***ret);
} CgroupIo;

/* The syscalls. */
extern const CgroupIo cg_io_default;

/* Frees a NULL-terminated array of strings. Accepts NULL; returns NULL. */
char **cg_strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, cg_strv_free);

/* cg_manager_new() with its I/O replaced: every file operation of the manager goes through io, called
 * with userdata. io must outlive the manager. */
int cg_manager_new_with_io(const char *fs_root, const char *root_name, const CgroupIo *io, void *userdata,
                           CgManager **ret);
