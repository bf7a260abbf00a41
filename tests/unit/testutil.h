/* Helpers shared by the unit tests: fixtures, one-document parsing, diagnostics as text, temp dirs.
 * Everything is static inline so each test executable takes only what it uses. */
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "common/buf.h"
#include "state/document.h"
#include "state/store.h"

/* Reads a whole file into a NUL-terminated buffer; fails the test when it cannot. */
static inline char *file_read(const char *path, size_t *ret_len)
{
        FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        Buf b = BUF_INIT;
        char chunk[8192];
        size_t k;
        while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
                assert_int_equal(buf_append(&b, chunk, k), 0);
        fclose(f);
        if (ret_len)
                *ret_len = b.len;
        return buf_steal(&b);
}

/* Reads tests/fixtures/<rel>. */
static inline char *fixture_read(const char *rel, size_t *ret_len)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", KUKE_FIXTURES, rel);
        return file_read(path, ret_len);
}

/* Parses exactly one document of any kind and fails the test with the diagnostic when it does not. */
static inline Document *doc_parse(const char *yaml)
{
        Document *d = NULL;
        Diag diag = DIAG_INIT;
        int r = document_parse_one(yaml, strlen(yaml), "cell.yaml", _KIND_INVALID, 0, &d, &diag);
        if (r < 0) {
                char *s = diag_format(&diag);
                fail_msg("unexpected parse error: %s", s);
        }
        diag_done(&diag);
        return d;
}

/* The formatted diagnostic of parsing a stream whose first document fails, or NULL when it parses. */
static inline char *doc_parse_error(const char *buf, size_t len, unsigned flags)
{
        Document *d = NULL;
        Diag diag = DIAG_INIT;
        int r = document_parse_one(buf, len, "cell.yaml", _KIND_INVALID, flags, &d, &diag);
        document_free(d);
        if (r >= 0)
                return NULL;
        assert_int_equal(r, -EINVAL);
        char *s = diag_format(&diag);
        diag_done(&diag);
        return s;
}

/* Asserts that s starts with prefix (cmocka prints both on failure). */
#define assert_prefix(s, prefix)                                                                            \
        do {                                                                                                \
                const char *_s = (s), *_p = (prefix);                                                       \
                if (!_s || strncmp(_s, _p, strlen(_p)) != 0)                                                \
                        fail_msg("\"%s\" does not start with \"%s\"", _s ? _s : "(null)", _p);              \
        } while (0)

/* Asserts the formatted diagnostic. */
#define assert_diag(d, want)                                                                                \
        do {                                                                                                \
                char *_f = diag_format(d);                                                                  \
                assert_string_equal(_f, (want));                                                            \
                free(_f);                                                                                   \
        } while (0)

#define assert_contains(s, needle)                                                                          \
        do {                                                                                                \
                const char *_s = (s), *_n = (needle);                                                       \
                if (!_s || !strstr(_s, _n))                                                                 \
                        fail_msg("\"%s\" does not contain \"%s\"", _s ? _s : "(null)", _n);                 \
        } while (0)

/* A ResourceId from "realm/space/stack/cell" (as many levels as the kind has) or "realm/image". */
static inline ResourceId rid(Kind kind, const char *path)
{
        ResourceId id = {.kind = kind};
        char buf[256], *save = NULL;
        char *levels[] = {id.realm, id.space, id.stack, id.cell};
        snprintf(buf, sizeof(buf), "%s", path);
        size_t n = 0;
        for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save), n++) {
                if (kind == KIND_IMAGE && n == 1)
                        snprintf(id.name, sizeof(id.name), "%s", p);
                else if (kind == KIND_CONTAINER && n == 4)
                        snprintf(id.name, sizeof(id.name), "%s", p);
                else if (n < 4)
                        snprintf(levels[n], NAME_MAX_LEN + 1, "%s", p);
        }
        if (kind != KIND_IMAGE && kind != KIND_CONTAINER && n > 0)
                snprintf(id.name, sizeof(id.name), "%s", levels[n - 1]);
        return id;
}

/* Compares two ResourceIds field by field (bytes after the NULs may differ). */
#define assert_id_equal(a, b)                                                                               \
        do {                                                                                                \
                const ResourceId *_a = (a), *_b = (b);                                                      \
                assert_int_equal(_a->kind, _b->kind);                                                       \
                assert_string_equal(_a->realm, _b->realm);                                                  \
                assert_string_equal(_a->space, _b->space);                                                  \
                assert_string_equal(_a->stack, _b->stack);                                                  \
                assert_string_equal(_a->cell, _b->cell);                                                    \
                assert_string_equal(_a->name, _b->name);                                                    \
        } while (0)

/* Removes a directory tree (without following symlinks). Returns 0 or -errno. */
static inline int rm_rf_at(int dfd, const char *name)
{
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void)rm_rf_at(dirfd(d), de->d_name);
        closedir(d);
        return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static inline int rm_rf(const char *path)
{
        return rm_rf_at(AT_FDCWD, path);
}

/* Fails when dir holds a dot-file (a temp file left behind). */
static inline void assert_no_dot_files(const char *dir)
{
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        fail_msg("leftover %s/%s", dir, de->d_name);
        closedir(d);
}

/* Writes a file (creating its parent directories) below root; fails the test on error. */
static inline void write_text(const char *root, const char *rel, const char *text)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", root, rel);
        for (char *p = path + strlen(root) + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                                fail_msg("mkdir %s: %s", path, strerror(errno));
                        *p = '/';
                }
        FILE *f = fopen(path, "we");
        if (!f)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        fputs(text, f);
        fclose(f);
}

/* A private temp directory per test, removed by testdir_teardown() whatever the outcome; store_setup()
 * also opens a Store on <tmp>/run. */
typedef struct TestDir {
        char tmp[64];
        char run[96];
        Store *store;
} TestDir;

static inline int testdir_setup(void **state)
{
        TestDir *d = calloc(1, sizeof(*d));
        if (!d)
                return -1;
        snprintf(d->tmp, sizeof(d->tmp), "/tmp/kuke-unit-XXXXXX");
        if (!mkdtemp(d->tmp)) {
                free(d);
                return -1;
        }
        snprintf(d->run, sizeof(d->run), "%s/run", d->tmp);
        *state = d;
        return 0;
}

static inline int testdir_teardown(void **state)
{
        TestDir *d = *state;
        store_free(d->store);
        int r = rm_rf(d->tmp);
        free(d);
        return r;
}

static inline int store_setup(void **state)
{
        if (testdir_setup(state) < 0)
                return -1;
        TestDir *d = *state;
        if (store_open(d->run, true, &d->store) < 0) {
                testdir_teardown(state);
                return -1;
        }
        return 0;
}
