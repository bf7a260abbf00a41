/* Reading the tar: every entry checked (paths, types), every regular file appended to one unlinked spool
 * file while its sha256 is computed. Blocking; runs on a worker thread. libarchive is loaded on the first
 * read (dl-libs.h); without it a read fails with -ELIBACC and a message saying so. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "drivers/containerd/dl-libs.h"

#define MAX_ENTRIES   (1u << 20)
#define MAX_PATH_LEN  4096
#define READ_BUF_SIZE (256u << 10)

int image_archive_path_normalize(char *path)
{
        if (path[0] == '/')
                return -EINVAL;
        char *out = path;
        const char *p = path;
        while (*p) {
                const char *end = strchrnul(p, '/');
                size_t len = (size_t)(end - p);
                if (len == 2 && p[0] == '.' && p[1] == '.')
                        return -EINVAL;
                if (len > 0 && !(len == 1 && p[0] == '.')) {
                        if (out != path)
                                *out++ = '/';
                        memmove(out, p, len);
                        out += len;
                }
                p = *end ? end + 1 : end;
        }
        *out = '\0';
        return path[0] ? 0 : 1;
}

static int files_cmp(const void *a, const void *b)
{
        return strcmp(((const ImageArchiveFile *)a)->path, ((const ImageArchiveFile *)b)->path);
}

const ImageArchiveFile *image_archive_files_find(const ImageArchiveFiles *files, const char *path)
{
        _cleanup_free_ char *norm = strdup(path);
        if (!norm || image_archive_path_normalize(norm) != 0)
                return NULL;
        ImageArchiveFile key = {.path = norm};
        return bsearch(&key, files->files, files->n_files, sizeof(key), files_cmp);
}

void image_archive_files_done(ImageArchiveFiles *files)
{
        for (size_t i = 0; i < files->n_files; i++)
                free(files->files[i].path);
        free(files->files);
        if (files->spool_fd >= 0)
                close(files->spool_fd);
        *files = (ImageArchiveFiles){.spool_fd = -EBADF};
}

static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int image_archive_spool_append(ImageArchiveFiles *files, const void *data, size_t len, uint64_t *ret_offset)
{
        int r = write_all(files->spool_fd, data, len);
        if (r < 0)
                return r;
        *ret_offset = files->spool_size;
        files->spool_size += len;
        return 0;
}

int image_archive_file_load(const ImageArchiveFiles *files, const ImageArchiveFile *f, size_t max,
                            char **ret, char message[static IMAGE_MESSAGE_MAX])
{
        if ((uint64_t)f->size > max) {
                snprintf(message, IMAGE_MESSAGE_MAX, "%s: %lld bytes, more than the %zu allowed", f->path,
                         (long long)f->size, max);
                return -EFBIG;
        }
        _cleanup_free_ char *buf = malloc((size_t)f->size + 1);
        if (!buf)
                return -ENOMEM;
        size_t done = 0;
        while (done < (size_t)f->size) {
                ssize_t n = pread(files->spool_fd, buf + done, (size_t)f->size - done,
                                  (off_t)(f->offset + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? negative_errno() : -EIO;
                        snprintf(message, IMAGE_MESSAGE_MAX, "%s: reading the spool file: %s", f->path,
                                 strerror(-r));
                        return r;
                }
                done += (size_t)n;
        }
        buf[done] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

/* An unlinked file in dir: O_TMPFILE, or mkostemp + unlink where the file system lacks it. */
static int spool_open(const char *dir)
{
        if (!dir)
                dir = getenv("TMPDIR");
        if (!dir || !*dir)
                dir = "/var/tmp";
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd >= 0)
                return fd;
        _cleanup_free_ char *tmpl = NULL;
        if (asprintf(&tmpl, "%s/kukeon-import-XXXXXX", dir) < 0)
                return -ENOMEM;
        fd = mkostemp(tmpl, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        (void)unlink(tmpl);
        return fd;
}

typedef struct Spool {
        struct archive *a;
        const ImageArchiveOptions *opts;
        ImageArchiveFiles *files;
        size_t cap;
        uint64_t in_total; /* size of the input file, 0 when unknown (a pipe) */
        char *message;
} Spool;

static bool is_cancelled(const Spool *s)
{
        return s->opts->cancel && atomic_load(s->opts->cancel);
}

static void report(const Spool *s)
{
        if (s->opts->on_progress)
                s->opts->on_progress((uint64_t)sym_archive_filter_bytes(s->a, -1), s->in_total,
                                     s->opts->userdata);
}

static int archive_fail(Spool *s, int r, const char *what)
{
        const char *why = sym_archive_error_string(s->a);
        snprintf(s->message, IMAGE_MESSAGE_MAX, "%s: %s", what, why ? why : strerror(-r));
        return r;
}

/* Copies the current entry's data to the spool, hashing it. */
static int spool_entry_data(Spool *s, ImageArchiveFile *f)
{
        struct sha256_ctx md;
        sha256_init(&md);
        int r = 0;
        f->offset = s->files->spool_size;
        f->size = 0;
        for (;;) {
                const void *buf;
                size_t len;
                la_int64_t off;
                int ar = sym_archive_read_data_block(s->a, &buf, &len, &off);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        r = archive_fail(s, -EIO, f->path);
                        break;
                }
                if (off != f->size) { /* a sparse entry: never an image blob */
                        snprintf(s->message, IMAGE_MESSAGE_MAX, "%s: sparse files are not supported",
                                 f->path);
                        r = -EINVAL;
                        break;
                }
                uint64_t ignored;
                if ((r = image_archive_spool_append(s->files, buf, len, &ignored)) < 0) {
                        snprintf(s->message, IMAGE_MESSAGE_MAX, "%s: writing the spool file: %s", f->path,
                                 strerror(-r));
                        break;
                }
                sha256_update(&md, len, buf);
                f->size += (int64_t)len;
                if (is_cancelled(s)) {
                        r = -ECANCELED;
                        snprintf(s->message, IMAGE_MESSAGE_MAX, "cancelled");
                        break;
                }
                report(s);
        }
        if (r >= 0) {
                unsigned char raw[SHA256_DIGEST_SIZE];
                sha256_digest(&md, sizeof(raw), raw);
                strcpy(f->digest, "sha256:");
                for (size_t i = 0; i < sizeof(raw); i++)
                        sprintf(f->digest + 7 + 2 * i, "%02x", raw[i]);
        }
        return r;
}

/* Checks one header; returns 1 when it is a regular file to spool (its normalized path in *ret_path), 0 to
 * skip (directories). */
static int entry_check(Spool *s, struct archive_entry *e, char **ret_path)
{
        const char *raw = sym_archive_entry_pathname(e);
        if (!raw || !*raw || strlen(raw) > MAX_PATH_LEN) {
                snprintf(s->message, IMAGE_MESSAGE_MAX,
                         "an entry has an empty, unreadable or overlong path");
                return -EINVAL;
        }
        _cleanup_free_ char *path = strdup(raw);
        if (!path)
                return -ENOMEM;
        int r = image_archive_path_normalize(path);
        if (r < 0) {
                snprintf(s->message, IMAGE_MESSAGE_MAX, "entry \"%s\": %s", raw,
                         raw[0] == '/' ? "absolute paths are not allowed"
                                       : "\"..\" is not allowed in paths");
                return r;
        }
        mode_t type = sym_archive_entry_filetype(e);
        if (sym_archive_entry_hardlink(e)) {
                snprintf(s->message, IMAGE_MESSAGE_MAX, "entry \"%s\": hard links are not allowed", raw);
                return -EINVAL;
        }
        if (type == AE_IFLNK) {
                snprintf(s->message, IMAGE_MESSAGE_MAX, "entry \"%s\": symbolic links are not allowed", raw);
                return -EINVAL;
        }
        if (type == AE_IFDIR)
                return 0;
        if (type != AE_IFREG || r == 1) {
                snprintf(s->message, IMAGE_MESSAGE_MAX,
                         "entry \"%s\": only regular files and directories "
                         "are allowed",
                         raw);
                return -EINVAL;
        }
        *ret_path = TAKE_PTR(path);
        return 1;
}

static int spool_entry(Spool *s, struct archive_entry *e)
{
        _cleanup_free_ char *path = NULL;
        int r = entry_check(s, e, &path);
        if (r <= 0)
                return r;
        if (s->files->n_files >= MAX_ENTRIES) {
                snprintf(s->message, IMAGE_MESSAGE_MAX, "more than %u files in the archive", MAX_ENTRIES);
                return -EINVAL;
        }
        if (s->files->n_files == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                ImageArchiveFile *p = realloc(s->files->files, cap * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                s->files->files = p;
                s->cap = cap;
        }
        ImageArchiveFile *f = &s->files->files[s->files->n_files];
        *f = (ImageArchiveFile){.path = TAKE_PTR(path)};
        s->files->n_files++;
        return spool_entry_data(s, f);
}

static struct archive *archive_reader_new(void)
{
        struct archive *a = sym_archive_read_new();
        if (!a)
                return NULL;
        /* Tar only, and only filters libarchive decodes itself (never an external program). */
        sym_archive_read_support_format_tar(a);
        sym_archive_read_support_filter_gzip(a);
        sym_archive_read_support_filter_bzip2(a);
        sym_archive_read_support_filter_xz(a);
        sym_archive_read_support_filter_zstd(a);
        return a;
}

static int spool_all(Spool *s, int fd)
{
        if (sym_archive_read_open_fd(s->a, fd, READ_BUF_SIZE) != ARCHIVE_OK)
                return archive_fail(s, -EINVAL, "not a tar archive");
        for (size_t n = 0;; n++) {
                struct archive_entry *e;
                int ar = sym_archive_read_next_header(s->a, &e);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN)
                        return n == 0 ? archive_fail(s, -EINVAL, "not a tar archive")
                                      : archive_fail(s, -EIO, "reading the archive");
                if (is_cancelled(s)) {
                        snprintf(s->message, IMAGE_MESSAGE_MAX, "cancelled");
                        return -ECANCELED;
                }
                int r = spool_entry(s, e);
                if (r < 0)
                        return r;
        }
        report(s);
        return 0;
}

int image_archive_spool(int fd, const ImageArchiveOptions *opts, ImageArchiveFiles *files,
                        char message[static IMAGE_MESSAGE_MAX])
{
        *files = (ImageArchiveFiles){.spool_fd = -EBADF};
        const char *unavailable;
        int r = dl_archive_load(&unavailable);
        if (r < 0) {
                snprintf(message, IMAGE_MESSAGE_MAX, "%s", unavailable);
                return r;
        }
        struct stat st;
        Spool s = {.opts = opts, .files = files, .message = message};
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                s.in_total = (uint64_t)st.st_size;
        files->spool_fd = spool_open(opts->tmp_dir);
        if (files->spool_fd < 0) {
                r = files->spool_fd;
                files->spool_fd = -EBADF;
                snprintf(message, IMAGE_MESSAGE_MAX, "cannot create a spool file: %s", strerror(-r));
                return r;
        }
        s.a = archive_reader_new();
        if (!s.a) {
                image_archive_files_done(files);
                return -ENOMEM;
        }
        r = spool_all(&s, fd);
        sym_archive_read_free(s.a);
        if (r < 0) {
                image_archive_files_done(files);
                return r;
        }
        if (files->n_files > 0)
                qsort(files->files, files->n_files, sizeof(*files->files), files_cmp);
        for (size_t i = 1; i < files->n_files; i++)
                if (streq(files->files[i - 1].path, files->files[i].path)) {
                        snprintf(message, IMAGE_MESSAGE_MAX, "entry \"%s\" appears twice",
                                 files->files[i].path);
                        image_archive_files_done(files);
                        return -EINVAL;
                }
        return 0;
}

int image_archive_read(int fd, const ImageArchiveOptions *opts, ImageArchive **ret,
                       char message[static IMAGE_MESSAGE_MAX])
{
        static const ImageArchiveOptions defaults = {0};
        ImageArchiveFiles files;
        if (!opts)
                opts = &defaults;
        message[0] = '\0';
        int r = image_archive_spool(fd, opts, &files, message);
        if (r < 0)
                return r;
        r = image_archive_resolve(&files, opts, ret, message);
        image_archive_files_done(&files);
        return r;
}
