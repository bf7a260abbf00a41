/* The run-path store: where each resource's files sit, reading them without following symlinks, atomic
 * writes, and scanning the whole tree into a desired-state snapshot.
 *
 * Layout (DESIGN §2):
 *   <realm>/realm.yaml  <realm>/realm.status.yaml  <realm>/images/<image>.yaml (+ .status.yaml)
 *   <realm>/<space>/space.yaml ... <stack>/stack.yaml ... <cell>/cell.yaml
 *   <cell>/containers/<container>.yaml  <cell>/logs/<container>.log */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "state/document.h"

#define STORE_MAX_FILE_BYTES (1024 * 1024)

typedef enum FileRole {
        FILE_SPEC,      /* the user's manifest */
        FILE_STATUS,    /* kukeond's status file */
        FILE_CONTAINER, /* a daemon-written Container document */
        FILE_LOG,       /* a container log */
        FILE_CONFLIST,  /* a space's network.conflist */
        FILE_DIR,       /* a resource directory itself */
        FILE_OTHER,
} FileRole;

typedef struct Store Store;

/* Opens the run path (creating it, 0755, when create is set). Returns 0, -ENOENT, -ENOTDIR, -ELOOP
 * (the run path is a symlink) or another -errno. */
int store_open(const char *run_path, bool create, Store **ret);
Store *store_free(Store *s);
const char *store_run_path(const Store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Store *, store_free);

/* Path mapping. The relative path (from the run path) of a resource's directory, spec or status file.
 * Returns 0 or -ENAMETOOLONG. */
int store_dir_path(const ResourceId *id, char *ret, size_t size);
int store_spec_path(const ResourceId *id, char *ret, size_t size);
int store_status_path(const ResourceId *id, char *ret, size_t size);
/* The reverse: what a relative path is. Returns 0, or -EINVAL when the path is not ours (dot-files,
 * temp files, unknown names). */
int store_classify_path(const char *relpath, ResourceId *ret_id, FileRole *ret_role);

/* Reads a file below the run path without following symlinks (openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or openat(O_NOFOLLOW) per directory where the kernel has no openat2()): a
 * symlink anywhere is -ELOOP, a file over STORE_MAX_FILE_BYTES -EFBIG, a file with other hard links
 * -EMLINK, not a regular file -EINVAL, an absolute path or a "." or ".." component -EINVAL. The buffer
 * is NUL-terminated. ret_mtime (may be NULL) is set whenever the file could be opened. */
int store_read_file(Store *s, const char *relpath, char **ret_buf, size_t *ret_len, int64_t *ret_mtime);
/* Writes atomically: missing directories are created (0755, never through symlinks), then
 * .<name>.tmp.XXXXXX, fsync, rename, fsync of the directory. */
int store_write_file(Store *s, const char *relpath, const void *buf, size_t len, mode_t mode);
/* The first half of a write: the synced temp file, not renamed. For tests of crash safety and for
 * store_write_file(); returns the temp file's name (in the same directory) to pass to store_commit. */
int store_write_temp(Store *s, const char *relpath, const void *buf, size_t len, mode_t mode,
                     char **ret_tmpname);
int store_commit(Store *s, const char *relpath, const char *tmpname);
/* Removes a file; -ENOENT counts as done (returns 0). Returns 1 when something was removed. */
int store_remove_file(Store *s, const char *relpath);
/* True when the relative path exists (without following symlinks). */
bool store_exists(Store *s, const char *relpath);

/* Reads and decodes a resource's manifest (validated against its path) or its status file. -ENOENT when
 * there is none; -EINVAL with diag on bad content. */
int store_read_spec(Store *s, const ResourceId *id, Document **ret, Diag *diag);
int store_read_status(Store *s, const ResourceId *id, Document **ret, Diag *diag);
/* Writes a manifest (as document_to_yaml(EMIT_SPEC)) or a status file. */
int store_write_spec(Store *s, const ResourceId *id, const Document *d);
int store_write_status(Store *s, const ResourceId *id, const Document *d);

/* One resource of a snapshot. */
typedef struct TreeEntry {
        ResourceId id;
        Document *spec;   /* NULL when missing or invalid */
        Document *status; /* NULL when there is none (or with TREE_SPECS_ONLY) */
        Diag error;       /* why spec is NULL, or why the parent blocks it */
        bool has_spec_file;
        bool blocked; /* an ancestor is missing or invalid */
        int64_t spec_mtime;
        char digest[72]; /* observedDigest the daemon should reach; "" when spec is NULL */
        ssize_t parent;  /* index in the tree, -1 for realms */
} TreeEntry;

typedef struct Tree {
        TreeEntry *entries; /* realms, then each realm's images and spaces, depth-first, sorted by name */
        size_t n;
} Tree;

enum {
        TREE_WITH_STATUS = 1u << 0,     /* also read status files */
        TREE_WITH_ORPHANS = 1u << 1,    /* also list directories that have a status but no spec */
        TREE_WITH_CONTAINERS = 1u << 2, /* also read containers/<c>.yaml of each cell */
        TREE_NO_DIGEST = 1u << 3,       /* leave TreeEntry.digest "" (for readers that never compare it) */
};

/* Scans the whole run path. One bad file affects only its resource (error set, spec NULL) and its
 * children (blocked). Returns 0 or -errno for failures of the run path itself. */
int store_scan(Store *s, unsigned flags, Tree *ret);
void tree_done(Tree *t);
/* The entry for id, or NULL. */
TreeEntry *tree_find(const Tree *t, const ResourceId *id);
/* Number of direct children of entry i with a spec file, per kind (counts[kind]). */
void tree_count_children(const Tree *t, size_t i, size_t counts[_KIND_MAX]);
