/* Reading manifests: a file, every *.yaml / *.yml of a directory (not recursive, sorted by name), or
 * stdin for "-"; each parsed into a document stream. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "cli/cli.h"

#define INPUT_MAX_BYTES (64 * 1024 * 1024)

static inline void closedirp_(DIR **d)
{
        if (*d)
                closedir(*d);
}

static int read_fd(int fd, char **ret, size_t *ret_len)
{
        Buf b = BUF_INIT;
        char chunk[65536];
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        buf_done(&b);
                        return negative_errno();
                }
                if (n == 0)
                        break;
                if (b.len + (size_t)n > INPUT_MAX_BYTES) {
                        buf_done(&b);
                        return -EFBIG;
                }
                if (buf_append(&b, chunk, (size_t)n) < 0) {
                        buf_done(&b);
                        return -ENOMEM;
                }
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

static int inputs_push(InputList *l, const char *file, int fd)
{
        _cleanup_free_ char *buf = NULL, *name = strdup(file);
        size_t len = 0;
        if (!name)
                return log_error_errno(-ENOMEM, "out of memory");
        int r = read_fd(fd, &buf, &len);
        if (r < 0)
                return log_error_errno(r, "cannot read %s: %m", file);
        Input *items = realloc(l->items, (l->n + 1) * sizeof(*items));
        if (!items)
                return log_error_errno(-ENOMEM, "out of memory");
        l->items = items;
        Input *in = &items[l->n];
        *in = (Input){.file = TAKE_PTR(name), .buf = TAKE_PTR(buf), .len = len};
        l->n++;
        r = documents_parse(in->buf, in->len, in->file, 0, &in->stream);
        if (r < 0)
                return log_error_errno(r, "cannot parse %s: %m", file);
        return 0;
}

static int inputs_add_file(InputList *l, const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(negative_errno(), "cannot open %s: %m", path);
        return inputs_push(l, path, fd);
}

static bool has_manifest_suffix(const char *name)
{
        size_t n = strlen(name);
        return name[0] != '.' &&
               ((n > 5 && streq(name + n - 5, ".yaml")) || (n > 4 && streq(name + n - 4, ".yml")));
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int inputs_add_dir(InputList *l, const char *path)
{
        _cleanup_(closedirp_) DIR *d = opendir(path);
        if (!d)
                return log_error_errno(negative_errno(), "cannot open %s: %m", path);
        char **names = NULL;
        size_t n = 0;
        int r = 0;
        struct dirent *de;
        while (r >= 0 && (de = readdir(d))) {
                if (!has_manifest_suffix(de->d_name))
                        continue;
                char **nn = realloc(names, (n + 1) * sizeof(*nn));
                if (!nn || !(nn[n] = strdup(de->d_name))) {
                        names = nn ? nn : names;
                        r = log_error_errno(-ENOMEM, "out of memory");
                        break;
                }
                names = nn;
                n++;
        }
        if (r >= 0)
                qsort(names, n, sizeof(*names), name_cmp);
        for (size_t i = 0; i < n; i++) {
                char full[PATH_MAX];
                struct stat st;
                snprintf(full, sizeof(full), "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/",
                         names[i]);
                if (r >= 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
                        r = inputs_add_file(l, full);
                free(names[i]);
        }
        free(names);
        return r;
}

int inputs_add(InputList *l, const char *path)
{
        struct stat st;
        if (streq(path, "-"))
                return inputs_push(l, "<stdin>", STDIN_FILENO);
        if (stat(path, &st) < 0)
                return log_error_errno(negative_errno(), "cannot open %s: %m", path);
        if (S_ISDIR(st.st_mode))
                return inputs_add_dir(l, path);
        return inputs_add_file(l, path);
}

void inputs_done(InputList *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].file);
                free(l->items[i].buf);
                parsed_stream_done(&l->items[i].stream);
        }
        free(l->items);
        *l = (InputList){0};
}
