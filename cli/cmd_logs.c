/* kuke logs CELL: prints a container's log, <run-path>/<realm>/<space>/<stack>/<cell>/logs/<c>.log
 * (stdout and stderr in one file, written by kukeond), only its last lines with --tail, and follows it
 * with -f like tail -f. Every directory on the way is opened with O_NOFOLLOW from the run path, and
 * the log itself must be a regular file with no other hard links (as the store reads its files). */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "cli/cli.h"

#define LOG_CHUNK (64 * 1024)

/* What the follower wakes up for. Events only wake it: it then looks at what is on disk, so a missed
 * or coalesced event (or IN_Q_OVERFLOW) costs nothing. IN_MODIFY on a directory watch also reports
 * writes to the files in it, so the log needs no watch of its own. */
#define CELL_DIR_EVENTS                                                                                     \
        (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define LOGS_DIR_EVENTS (CELL_DIR_EVENTS | IN_MODIFY)

typedef struct LogsOpts {
        const char *container; /* NULL: the root container */
        bool follow;
        bool has_tail;
        uint64_t tail;
} LogsOpts;

/* The log being read and the directories on its way, held open. */
typedef struct LogTarget {
        ResourceId cell;
        char qname[QNAME_MAX];       /* the cell's qualified name, for messages */
        char file[NAME_MAX_LEN + 5]; /* "<container>.log" */
        char path[PATH_MAX];         /* the log's full path, for messages */
        int cell_fd;
        int logs_fd; /* -EBADF while logs/ does not exist */
        int fd;      /* the log; -EBADF while it does not exist */
        off_t offset;
        bool tail_pending; /* --tail applies to the first log opened */
        uint64_t tail;
        bool has_write_error; /* the last error was writing to stdout, not reading the log */
} LogTarget;

#define LOG_TARGET_INIT ((LogTarget){.cell_fd = -EBADF, .logs_fd = -EBADF, .fd = -EBADF})

static void log_target_done(LogTarget *t)
{
        closep(&t->fd);
        closep(&t->logs_fd);
        closep(&t->cell_fd);
}

static void help(void)
{
        printf("Usage: kuke logs CELL [-c CONTAINER] [-f] [--tail N] [--realm R] [--space S] [--stack T]\n"
               "\n"
               "Prints the log of one container of a cell: its standard output and error, as kukeond "
               "writes\n"
               "them to <run-path>/<realm>/<space>/<stack>/<cell>/logs/<container>.log.\n"
               "CELL may be qualified (r/s/t/c); without scope flags every scope is searched.\n"
               "\n"
               "Options:\n"
               "  -c, --container NAME   the container (default: the cell's root container; a cell with\n"
               "                         several containers shows its root's log unless one is named)\n"
               "  -f, --follow           keep printing what is appended (like tail -f); waits for a log\n"
               "                         that does not exist yet, starts over when it is truncated or\n"
               "                         replaced, and ends (exit 0) when it is removed\n"
               "      --tail N           only the last N lines\n"
               "      --realm NAME, --space NAME, --stack NAME\n"
               "                         where the cell is, when its name is used in several places\n"
               "      --run-path PATH    run path (default $KUKEON_RUN_PATH or " KUKE_DEFAULT_RUN_PATH ")\n"
               "\n"
               "Exit codes: 0 ok (also when a followed log is removed), 1 no such cell or container, or no "
               "log\n"
               "yet without -f, 2 usage error.\n");
}

/* ---- opening without following links ---- */

/* openat(O_DIRECTORY|O_NOFOLLOW); a symlink is -ELOOP rather than -ENOTDIR. */
static int dir_open_at(int dfd, const char *name, int *ret_fd)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();
                struct stat st;
                if (r == -ENOTDIR && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISLNK(st.st_mode))
                        return -ELOOP;
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/* The cell's directory, walked level by level from the run path. The store's own walker is private to
 * state/ and its public reader loads whole files of at most 1 MiB, which does not fit a log. */
static int cell_dir_open(const char *run_path, const ResourceId *cell, int *ret_fd)
{
        const char *levels[] = {cell->realm, cell->space, cell->stack, cell->cell};
        _cleanup_close_ int fd = -EBADF;
        int r = dir_open_at(AT_FDCWD, run_path, &fd);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
                int next;
                if ((r = dir_open_at(fd, levels[i], &next)) < 0)
                        return r;
                close(fd);
                fd = next;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Opens the log in t->logs_fd: -ENOENT when missing, -ELOOP for a symlink, -EINVAL when it is not a
 * regular file, -EMLINK when it has other hard links. */
static int log_file_open(LogTarget *t, int *ret_fd, struct stat *ret_st)
{
        _cleanup_close_ int fd =
                openat(t->logs_fd, t->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        if (!S_ISREG(ret_st->st_mode))
                return -EINVAL;
        if (ret_st->st_nlink > 1)
                return -EMLINK;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static const char *open_error_text(int r)
{
        switch (r) {
        case -ELOOP:
                return "a symlink in the run path is not followed";
        case -EINVAL:
                return "not a regular file";
        case -EMLINK:
                return "the file has other hard links; refused";
        default:
                return strerror(-r);
        }
}

/* Prints why the log could not be read or printed. Returns r. */
static int log_target_error(const LogTarget *t, int r)
{
        if (t->has_write_error)
                return log_error_errno(r, "cannot write to standard output: %m");
        return log_error_errno(r, "%s: %s", t->path, open_error_text(r));
}

/* ---- reading ---- */

static int write_all(int fd, const char *p, size_t len)
{
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

/* Reads len bytes at off; fewer only at the end of the file. Returns the count or -errno. */
static ssize_t pread_full(int fd, char *buf, size_t len, off_t off)
{
        size_t done = 0;
        while (done < len) {
                ssize_t k = pread(fd, buf + done, len - done, off + (off_t)done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                done += (size_t)k;
        }
        return (ssize_t)done;
}

/* Where the last n lines of the first size bytes of fd start, reading backwards one block at a time.
 * A last line without a newline counts as a line. */
static int tail_offset(int fd, off_t size, uint64_t n, off_t *ret)
{
        _cleanup_free_ char *buf = malloc(LOG_CHUNK);
        uint64_t seen = 0;
        if (!buf)
                return -ENOMEM;
        if (n == 0) {
                *ret = size;
                return 0;
        }
        for (off_t end = size; end > 0;) {
                size_t len = end > LOG_CHUNK ? LOG_CHUNK : (size_t)end;
                off_t start = end - (off_t)len;
                ssize_t k = pread_full(fd, buf, len, start);
                if (k < 0)
                        return (int)k;
                if ((size_t)k < len)
                        break; /* truncated under us: print what there is */
                for (size_t i = len; i-- > 0;) {
                        /* the newline that ends the last line starts no line of its own */
                        if (buf[i] != '\n' || start + (off_t)i == size - 1)
                                continue;
                        if (++seen == n) {
                                *ret = start + (off_t)i + 1;
                                return 0;
                        }
                }
                end = start;
        }
        *ret = 0;
        return 0;
}

/* Prints the log from t->offset to its end. A file shorter than what was printed was truncated: it is
 * printed again from its start. */
static int log_copy(LogTarget *t)
{
        _cleanup_free_ char *buf = malloc(LOG_CHUNK);
        struct stat st;
        if (!buf)
                return -ENOMEM;
        if (fstat(t->fd, &st) < 0)
                return negative_errno();
        if (st.st_size < t->offset) {
                log_note("%s was truncated; printing it from its start", t->path);
                t->offset = 0;
        }
        for (;;) {
                ssize_t k = pread(t->fd, buf, LOG_CHUNK, t->offset);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        return 0;
                int r = write_all(STDOUT_FILENO, buf, (size_t)k);
                if (r < 0) {
                        t->has_write_error = true;
                        return r;
                }
                t->offset += k;
        }
}

/* Opens logs/ and the log and prints it (its last lines when --tail is still pending). Returns 0,
 * -ENOENT when either does not exist, or another -errno. */
static int log_open_and_copy(LogTarget *t)
{
        struct stat st;
        int r;
        if (t->logs_fd < 0 && (r = dir_open_at(t->cell_fd, "logs", &t->logs_fd)) < 0)
                return r;
        if ((r = log_file_open(t, &t->fd, &st)) < 0)
                return r;
        t->offset = 0;
        if (t->tail_pending) {
                t->tail_pending = false;
                if ((r = tail_offset(t->fd, st.st_size, t->tail, &t->offset)) < 0)
                        return r;
        }
        return log_copy(t);
}

/* ---- following ---- */

/* Watches a directory we hold open. The watch goes through /proc/self/fd (as systemd's
 * inotify_add_watch_fd() does), so it is on the directory opened without following links rather than
 * on whatever its path names by now. */
static int watch_dir_fd(int ifd, int fd, uint32_t mask)
{
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        return inotify_add_watch(ifd, proc, mask) < 0 ? negative_errno() : 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* True when the cell is gone: its directory removed, or its manifest. */
static bool cell_is_deleted(const LogTarget *t)
{
        struct stat st;
        if (fstat(t->cell_fd, &st) < 0 || st.st_nlink == 0)
                return true;
        return fstatat(t->cell_fd, "cell.yaml", &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
}

/* logs/ as it is now: reopened (and watched) when it appeared or was replaced, closed when gone. */
static int follow_logs_dir(LogTarget *t, int ifd)
{
        struct stat now, held;
        if (fstatat(t->cell_fd, "logs", &now, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(now.st_mode)) {
                closep(&t->logs_fd);
                t->logs_fd = -EBADF;
                return 0;
        }
        if (t->logs_fd >= 0 && fstat(t->logs_fd, &held) == 0 && same_file(&now, &held))
                return 0;
        closep(&t->logs_fd);
        t->logs_fd = -EBADF;
        int r = dir_open_at(t->cell_fd, "logs", &t->logs_fd);
        if (r < 0)
                return r == -ENOENT ? 0 : r; /* gone again already */
        return watch_dir_fd(ifd, t->logs_fd, LOGS_DIR_EVENTS);
}

/* Brings the output up to date with what is on disk. Returns 1 when following ends (the log or the
 * cell was removed), 0 to wait for the next event, or -errno. */
static int follow_sync(LogTarget *t, int ifd)
{
        struct stat now, held;
        int r;
        if (t->fd >= 0 && (r = log_copy(t)) < 0)
                return r;
        if ((r = follow_logs_dir(t, ifd)) < 0)
                return r;
        bool exists = t->logs_fd >= 0 && fstatat(t->logs_fd, t->file, &now, AT_SYMLINK_NOFOLLOW) == 0;
        if (t->fd >= 0 && !exists) {
                bool deleted = cell_is_deleted(t);
                log_note("%s was removed%s", t->path, deleted ? " (the cell was deleted)" : "");
                return 1;
        }
        if (t->fd >= 0 && fstat(t->fd, &held) == 0 && same_file(&now, &held))
                return 0;
        if (exists) {
                if (t->fd >= 0)
                        log_note("%s was replaced; printing the new file", t->path);
                closep(&t->fd);
                t->fd = -EBADF;
                r = log_open_and_copy(t);
                return r == -ENOENT ? 0 : r;
        }
        if (cell_is_deleted(t)) {
                log_note("Cell \"%s\" was deleted before its log appeared", t->qname);
                return 1;
        }
        return 0;
}

/* tail -f with inotify(7) directly rather than libinotifytools: that library keeps process-global
 * state that cli/wait.c alone wraps (STYLE 9), and this needs no more than one fd, two watches and
 * a blocking read — events only wake follow_sync(), which looks at the files themselves. */
static int logs_follow(LogTarget *t)
{
        _cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC);
        if (ifd < 0)
                return log_error_errno(negative_errno(), "cannot watch %s: %m", t->path);
        int r = watch_dir_fd(ifd, t->cell_fd, CELL_DIR_EVENTS);
        if (r < 0)
                return log_error_errno(r, "cannot watch the directory of cell \"%s\": %m", t->qname);
        if (t->logs_fd >= 0 && (r = watch_dir_fd(ifd, t->logs_fd, LOGS_DIR_EVENTS)) < 0)
                return log_error_errno(r, "cannot watch the directory of %s: %m", t->path);
        for (;;) {
                r = follow_sync(t, ifd);
                if (r > 0)
                        return 0;
                if (r < 0)
                        return log_target_error(t, r);
                char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
                if (read(ifd, buf, sizeof(buf)) < 0 && errno != EINTR)
                        return log_error_errno(negative_errno(), "cannot watch %s: %m", t->path);
        }
}

/* ---- choosing the cell and the container ---- */

/* The container to show: the named one, or the root. Prints what is wrong. */
static int pick_container(const TreeEntry *e, const char *want, const char **ret)
{
        _cleanup_(buf_done) Buf names = BUF_INIT;
        char q[QNAME_MAX];
        if (!e->spec) {
                _cleanup_free_ char *why = diag_format(&e->error);
                if (want) {
                        *ret = want; /* its log can still be read */
                        return 0;
                }
                log_error("Cell \"%s\": its manifest is invalid (%s); name the container with --container",
                          resource_id_qualified(&e->id, q), why ? why : "unknown error");
                return -EINVAL;
        }
        const CellSpec *c = &e->spec->spec.cell;
        bool found = false;
        for (size_t i = 0; i < c->n_containers; i++) {
                found = found || (want && streq_ptr(c->containers[i].id, want));
                if (buf_printf(&names, "%s%s", i ? ", " : "", strempty(c->containers[i].id)) < 0)
                        return log_error_errno(-ENOMEM, "out of memory");
        }
        const ContainerSpec *root = cell_root_container(c);
        if (want && !found) {
                log_error("Cell \"%s\" has no container \"%s\" (its containers: %s)",
                          resource_id_qualified(&e->id, q), want, names.len ? names.data : "none");
                return -ENOENT;
        }
        if (want) {
                *ret = want;
                return 0;
        }
        if (!root || !root->id) {
                log_error("Cell \"%s\" has no containers", resource_id_qualified(&e->id, q));
                return -ENOENT;
        }
        if (c->n_containers > 1)
                log_note("showing container \"%s\", the root of cell \"%s\" (its containers: %s); choose "
                         "another with --container",
                         root->id, resource_id_qualified(&e->id, q), names.data);
        *ret = root->id;
        return 0;
}

static int logs_run(const Cli *cli, const Query *q, const LogsOpts *o)
{
        _cleanup_(store_freep) Store *s = NULL;
        _cleanup_(tree_done) Tree tree = {0};
        _cleanup_(log_target_done) LogTarget t = LOG_TARGET_INIT;
        const char *container = NULL;
        int r = store_open(cli->run_path, false, &s);
        if (r >= 0)
                r = store_scan(s, 0, &tree);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot read %s: %m", cli->run_path), EXIT_FAIL;
        ssize_t i = resolve_one(&tree, q);
        if (i < 0)
                return EXIT_FAIL;
        const TreeEntry *e = &tree.entries[i];
        if (pick_container(e, o->container, &container) < 0)
                return EXIT_FAIL;

        t.cell = e->id;
        t.tail_pending = o->has_tail;
        t.tail = o->tail;
        resource_id_qualified(&e->id, t.qname);
        snprintf(t.file, sizeof(t.file), "%s.log", container);
        snprintf(t.path, sizeof(t.path), "%s/%s/%s/%s/%s/logs/%s", cli->run_path, e->id.realm, e->id.space,
                 e->id.stack, e->id.cell, t.file);
        r = cell_dir_open(cli->run_path, &e->id, &t.cell_fd);
        if (r < 0)
                return log_error_errno(r, "Cell \"%s\": %s", t.qname, open_error_text(r)), EXIT_FAIL;

        r = log_open_and_copy(&t);
        if (r == -ENOENT && !o->follow) {
                log_error("no log yet for container \"%s\" of cell \"%s\": %s does not exist (the container "
                          "has not started; -f waits for it)",
                          container, t.qname, t.path);
                return EXIT_FAIL;
        }
        if (r == -ENOENT)
                log_note("no log yet for container \"%s\" of cell \"%s\"; waiting for %s", container,
                         t.qname, t.path);
        else if (r < 0)
                return log_target_error(&t, r), EXIT_FAIL;
        if (!o->follow)
                return EXIT_OK;
        return logs_follow(&t) < 0 ? EXIT_FAIL : EXIT_OK;
}

static int tail_parse(const char *s, uint64_t *ret)
{
        char *end = NULL;
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int verb_logs(Cli *cli, int argc, char **argv)
{
        enum { ARG_TAIL = 0x200 };
        static const struct option options[] = {
                CLI_OPTIONS_GLOBAL,
                CLI_OPTIONS_SCOPE,
                {"container", required_argument, NULL, 'c'},
                {"follow", no_argument, NULL, 'f'},
                {"tail", required_argument, NULL, ARG_TAIL},
                {},
        };
        LogsOpts o = {0};
        Scope sc = {0};
        Query q;
        int c;
        optind = 0;
        while ((c = getopt_long(argc, argv, ":hc:f", options, NULL)) >= 0) {
                int r = option_common(cli, NULL, &sc, c, optarg);
                if (r < 0)
                        return EXIT_USAGE;
                if (r > 0)
                        continue;
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case 'c':
                        o.container = optarg;
                        break;
                case 'f':
                        o.follow = true;
                        break;
                case ARG_TAIL:
                        if (tail_parse(optarg, &o.tail) < 0)
                                return log_usage("logs", "--tail takes a number of lines, not \"%s\"",
                                                 optarg);
                        o.has_tail = true;
                        break;
                default:
                        return option_error("logs", c, argv);
                }
        }
        if (optind >= argc)
                return log_usage("logs", "expected CELL");
        if (argc - optind > 1)
                return log_usage("logs", "unexpected argument \"%s\"", argv[optind + 1]);
        if (o.container && !name_is_valid(o.container))
                return log_usage("logs", "\"%s\" is not a container name", o.container);
        if (query_init(&q, KIND_CELL, argv[optind], &sc) < 0)
                return EXIT_USAGE;
        return logs_run(cli, &q, &o);
}
