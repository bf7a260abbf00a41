/* The benchmark harness's clock and hands (docs/performance.md): everything contrib/bench times happens
 * here, on CLOCK_MONOTONIC (the clock of kukeond's phase stamps), and every wait is event-driven (the
 * containerd event stream and inotify), never a poll.
 *
 *   kuke-bench-probe mono                      prints CLOCK_MONOTONIC in seconds
 *   kuke-bench-probe exec-stamp FILE CMD...    writes CLOCK_MONOTONIC to FILE, then execs CMD (same pid)
 *   kuke-bench-probe exec-time N CMD...        runs CMD N times (output to /dev/null), times each
 *   kuke-bench-probe OPTIONS drop CELL...      writes each cell's manifest (mkdir, temp file, rename, as
 *                                              `kuke apply` does) in one burst from t0, then waits until
 *                                              every container of every cell has started (the /tasks/start
 *                                              event) and every cell status says Ready
 *   kuke-bench-probe OPTIONS remove CELL...    unlinks each cell.yaml from t0, waits until every cell
 *                                              directory is gone (kukeond removes it last)
 *   kuke-bench-probe OPTIONS kill CELL...      SIGKILLs each cell's root task from t0 (Tasks.Kill, as `ctr
 *                                              task kill`), waits until it is started again
 *   kuke-bench-probe OPTIONS list CELL         times Containers.List and Tasks.List of the namespace, and
 *                                              Containers.List of CELL by its labels (what kukeond asks
 *                                              per cell), three times each: what adopting needs at least
 *
 * CELL is space/stack/cell. OPTIONS: --socket PATH --namespace NS --realm R --run RUN (the run path)
 * --stage DIR (drop: DIR/<cell>.yaml is the manifest) --timeout SECONDS (120) --no-ready (drop: only the
 * tasks) --no-running (drop: only the statuses) --state STATE (drop: the state the statuses must reach,
 * Ready). Prints one JSON line; exits 1 on a timeout or a failed cell.
 *
 *   kuke-bench-probe read-tree DIR             reads every file under DIR (openat from held directory
 *                                              fds, no parsing): the I/O floor of `kuke get` */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/macro.h"
#include "tests/bench/bench-util.h"

extern char **environ;

#define CONTAINERS_MAX 16

typedef struct Probe Probe;

typedef struct Target {
        Probe *p;
        ResourceId id;
        char rel[4 * (NAME_MAX_LEN + 1)]; /* space/stack/cell */
        char dir[PATH_MAX + 80];
        char parent[PATH_MAX];
        char ids[CONTAINERS_MAX][77]; /* containerd ids of its containers */
        bool started[CONTAINERS_MAX];
        size_t n_ids, n_started;
        double t_running, t_ready, t_gone, t_exit;
        bool is_failed;
        uv_fs_event_t watch;
        bool has_watch;
} Target;

typedef enum ProbeOp {
        PROBE_DROP,
        PROBE_REMOVE,
        PROBE_KILL,
} ProbeOp;

struct Probe {
        uv_loop_t loop;
        GrpcConn *conn;
        CtrdSubscription *sub;
        const char *socket, *ns, *realm, *run, *stage;
        unsigned timeout_s;
        bool wait_ready, wait_running;
        const char *state; /* drop: the state the statuses must reach */
        ProbeOp op;
        Target *targets;
        size_t n;
        double t0;
};

static bool target_is_done(const Probe *p, const Target *t)
{
        switch (p->op) {
        case PROBE_DROP:
                return t->is_failed ||
                       ((t->t_running > 0 || !p->wait_running) && (!p->wait_ready || t->t_ready > 0));
        case PROBE_REMOVE:
                return t->t_gone > 0;
        case PROBE_KILL:
                return t->t_running > 0;
        }
        return true;
}

static bool all_done(void *arg)
{
        Probe *p = arg;
        for (size_t i = 0; i < p->n; i++)
                if (!target_is_done(p, &p->targets[i]))
                        return false;
        return true;
}

/* ---- containerd events ---- */

static void on_event(const CtrdEvent *ev, void *userdata)
{
        Probe *p = userdata;
        double now = bench_now();
        if (ev->type != CTRD_EVENT_TASK_START && ev->type != CTRD_EVENT_TASK_EXIT)
                return;
        if (*ev->exec_id)
                return;
        for (size_t i = 0; i < p->n; i++) {
                Target *t = &p->targets[i];
                for (size_t k = 0; k < t->n_ids; k++) {
                        if (!streq(t->ids[k], ev->container_id))
                                continue;
                        if (ev->type == CTRD_EVENT_TASK_EXIT) {
                                if (!t->t_exit)
                                        t->t_exit = now;
                                continue;
                        }
                        if (t->started[k])
                                continue;
                        t->started[k] = true;
                        if (++t->n_started == t->n_ids)
                                t->t_running = now;
                }
        }
}

static void on_events_end(int r, const char *message, void *userdata)
{
        Probe *p = userdata;
        p->sub = NULL;
        if (r != -ECANCELED)
                fprintf(stderr, "kuke-bench-probe: the event stream ended: %s\n", message);
}

/* ---- the file system ---- */

static bool status_says(const Target *t, const char *state, bool *ret_failed)
{
        char path[PATH_MAX + 128], buf[16384], want[128];
        snprintf(path, sizeof(path), "%s/cell.status.yaml", t->dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return false;
        buf[n] = '\0';
        *ret_failed = strstr(buf, "\n  state: Failed\n") != NULL;
        snprintf(want, sizeof(want), "\n  state: %s\n", state);
        return strstr(buf, want) != NULL;
}

static void on_dir_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
        Target *t = h->data;
        Probe *p = t->p;
        double now = bench_now();
        if (p->op == PROBE_DROP && !t->t_ready && filename && streq(filename, "cell.status.yaml")) {
                bool failed = false;
                if (status_says(t, p->state, &failed))
                        t->t_ready = now;
                else if (failed) {
                        fprintf(stderr, "kuke-bench-probe: cell %s failed\n", t->rel);
                        t->is_failed = true;
                }
        }
        if (p->op == PROBE_REMOVE && !t->t_gone) {
                struct stat st;
                if (lstat(t->dir, &st) < 0 && errno == ENOENT)
                        t->t_gone = now;
        }
}

static int watch(Target *t, const char *path)
{
        int r = uv_fs_event_init(&t->p->loop, &t->watch);
        if (r < 0)
                return r;
        t->watch.data = t;
        t->has_watch = true;
        return uv_fs_event_start(&t->watch, on_dir_event, path, 0);
}

static int mkdir_p(const char *path)
{
        char buf[PATH_MAX + 128];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *s = strchr(buf + 1, '/');; s = strchr(s + 1, '/')) {
                if (s)
                        *s = '\0';
                if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                if (!s)
                        return 0;
                *s = '/';
        }
}

static int copy_file(const char *from, const char *to)
{
        char buf[65536];
        _cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (in < 0 || out < 0)
                return negative_errno();
        ssize_t n;
        while ((n = read(in, buf, sizeof(buf))) > 0)
                if (write(out, buf, (size_t)n) != n)
                        return negative_errno();
        return n < 0 ? negative_errno() : 0;
}

/* The burst: what `kuke apply` does per cell (mkdir -p, a temp file, rename), the watch in between. */
static int drop_one(Target *t)
{
        char tmp[PATH_MAX + 128], dst[PATH_MAX + 128], src[PATH_MAX + 128];
        int r = mkdir_p(t->dir);
        if (r < 0 || (r = watch(t, t->dir)) < 0)
                return r;
        snprintf(src, sizeof(src), "%s/%s.yaml", t->p->stage, t->id.cell);
        snprintf(tmp, sizeof(tmp), "%s/.cell.yaml.tmp", t->dir);
        snprintf(dst, sizeof(dst), "%s/cell.yaml", t->dir);
        if ((r = copy_file(src, tmp)) < 0)
                return r;
        return rename(tmp, dst) < 0 ? negative_errno() : 0;
}

static int remove_one(Target *t)
{
        char path[PATH_MAX + 128];
        int r = watch(t, t->parent);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/cell.yaml", t->dir);
        return unlink(path) < 0 ? negative_errno() : 0;
}

static void on_killed(int r, const char *message, void *userdata)
{
        Target *t = userdata;
        if (r < 0) {
                fprintf(stderr, "kuke-bench-probe: Tasks.Kill %s: %s\n", t->ids[0], message);
                t->is_failed = true;
                t->t_running = bench_now();
        }
}

/* ---- set-up ---- */

static int target_init(Probe *p, Target *t, const char *rel)
{
        char space[NAME_MAX_LEN + 1], stack[NAME_MAX_LEN + 1], cell[NAME_MAX_LEN + 1];
        if (sscanf(rel, "%63[^/]/%63[^/]/%63s", space, stack, cell) != 3)
                return -EINVAL;
        t->p = p;
        snprintf(t->rel, sizeof(t->rel), "%s", rel);
        bench_cell_id(p->realm, space, stack, cell, &t->id);
        snprintf(t->parent, sizeof(t->parent), "%s/%s/%s/%s", p->run, p->realm, space, stack);
        snprintf(t->dir, sizeof(t->dir), "%s/%s", t->parent, cell);
        if (p->op == PROBE_REMOVE)
                return 0;
        if (p->op == PROBE_KILL || !p->stage) {
                /* the root container of a one-container cell; kill only restarts the root */
                containerd_container_id(&t->id, "", true, t->ids[0]);
                t->n_ids = 1;
                return 0;
        }
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/%s.yaml", p->stage, cell);
        _cleanup_free_ char *error = NULL;
        _cleanup_document_ Document *doc = NULL;
        int r = bench_cell_load(path, &t->id, &doc, &error);
        if (r < 0) {
                fprintf(stderr, "kuke-bench-probe: %s: %s\n", path, error ? error : strerror(-r));
                return r;
        }
        const CellSpec *cs = &doc->spec.cell;
        for (size_t i = 0; i < cs->n_containers && t->n_ids < CONTAINERS_MAX; i++)
                bench_container_id(&t->id, cs, &cs->containers[i], t->ids[t->n_ids++]);
        return 0;
}

static void on_settle(uv_timer_t *h)
{
        *(bool *)h->data = true;
}

static bool flag_set(void *arg)
{
        return *(bool *)arg;
}

/* Lets the event subscription reach containerd before t0. */
static void settle(Probe *p, uint64_t ms)
{
        bool done = false;
        uv_timer_t t;
        (void)uv_timer_init(&p->loop, &t);
        t.data = &done;
        (void)uv_timer_start(&t, on_settle, ms, 0);
        (void)bench_run_until(&p->loop, flag_set, &done, 0);
        uv_close((uv_handle_t *)&t, NULL);
        (void)uv_run(&p->loop, UV_RUN_NOWAIT);
}

static double ms_after(double t, double t0)
{
        return t > 0 ? (t - t0) * 1e3 : -1;
}

static void report(const Probe *p, bool ok)
{
        static const char *const names[] = {"drop", "remove", "kill"};
        double running = 0, ready = 0, gone = 0;
        for (size_t i = 0; i < p->n; i++) {
                const Target *t = &p->targets[i];
                running = t->t_running > running ? t->t_running : running;
                ready = t->t_ready > ready ? t->t_ready : ready;
                gone = t->t_gone > gone ? t->t_gone : gone;
        }
        printf("{\"tool\":\"probe\",\"op\":\"%s\",\"ok\":%s,\"t0\":%.6f,\"cells\":%zu,\"running_ms\":%.3f,"
               "\"ready_ms\":%.3f,\"gone_ms\":%.3f,\"per_cell\":[",
               names[p->op], ok ? "true" : "false", p->t0, p->n, ms_after(running, p->t0),
               ms_after(ready, p->t0), ms_after(gone, p->t0));
        for (size_t i = 0; i < p->n; i++) {
                const Target *t = &p->targets[i];
                printf("%s{\"cell\":\"%s\",\"running_ms\":%.3f,\"ready_ms\":%.3f,\"gone_ms\":%.3f,"
                       "\"exit_ms\":%.3f,\"failed\":%s}",
                       i ? "," : "", t->rel, ms_after(t->t_running, p->t0), ms_after(t->t_ready, p->t0),
                       ms_after(t->t_gone, p->t0), ms_after(t->t_exit, p->t0),
                       t->is_failed ? "true" : "false");
        }
        printf("]}\n");
}

static int probe_run(Probe *p, char **cells)
{
        int r = uv_loop_init(&p->loop);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n; i++)
                if ((r = target_init(p, &p->targets[i], cells[i])) < 0)
                        return r;
        if (p->op != PROBE_REMOVE) {
                if ((r = bench_conn_open(&p->loop, p->socket, 10000, &p->conn)) < 0)
                        return r;
                _cleanup_free_ char *filter = ctrd_filter_task_events(p->ns);
                const char *filters[] = {filter};
                if (!filter)
                        return -ENOMEM;
                r = ctrd_events_subscribe(p->conn, filters, 1, on_event, on_events_end, p, &p->sub);
                if (r < 0)
                        return r;
                settle(p, 100);
        }
        p->t0 = bench_now();
        for (size_t i = 0; i < p->n; i++) {
                Target *t = &p->targets[i];
                if (p->op == PROBE_DROP)
                        r = drop_one(t);
                else if (p->op == PROBE_REMOVE)
                        r = remove_one(t);
                else
                        r = ctrd_task_kill(p->conn, p->ns, t->ids[0], SIGKILL, false, 0, on_killed, t);
                if (r < 0) {
                        fprintf(stderr, "kuke-bench-probe: %s: %s\n", t->rel, strerror(-r));
                        return r;
                }
        }
        if (p->op == PROBE_REMOVE)
                for (size_t i = 0; i < p->n; i++) /* gone before the watch was set */
                        on_dir_event(&p->targets[i].watch, NULL, 0, 0);
        bool ok = bench_run_until(&p->loop, all_done, p, (uint64_t)p->timeout_s * 1000);
        for (size_t i = 0; i < p->n; i++)
                ok = ok && !p->targets[i].is_failed;
        report(p, ok);
        return ok ? 0 : -ETIMEDOUT;
}

/* ---- list: what a restarted daemon must at least ask containerd ---- */

typedef struct ListCall {
        bool is_done;
        int r;
        size_t n;
} ListCall;

static void on_list_containers(int r, const char *message, const CtrdContainer *list, size_t n,
                               void *userdata)
{
        *(ListCall *)userdata = (ListCall){true, r, n};
}

static void on_list_tasks(int r, const char *message, const CtrdTask *tasks, size_t n, void *userdata)
{
        *(ListCall *)userdata = (ListCall){true, r, n};
}

static bool list_done(void *arg)
{
        return ((ListCall *)arg)->is_done;
}

/* Times one call (kind 0: Containers.List of the namespace, 1: Tasks.List, 2: Containers.List of one
 * cell by its labels, as kukeond asks per cell). Returns ms, or -1. */
static double time_list(Probe *p, int kind, const ResourceId *cell, size_t *ret_n)
{
        ListCall c = {0};
        const CtrdLabel labels[] = {{CTRD_LABEL_REALM, cell->realm},
                                    {CTRD_LABEL_SPACE, cell->space},
                                    {CTRD_LABEL_STACK, cell->stack},
                                    {CTRD_LABEL_CELL, cell->cell}};
        _cleanup_free_ char *filter = ctrd_filter_labels(labels, ARRAY_SIZE(labels));
        const char *filters[] = {filter};
        double t0 = bench_now();
        int r = kind == 1   ? ctrd_task_list(p->conn, p->ns, on_list_tasks, &c)
                : kind == 0 ? ctrd_container_list(p->conn, p->ns, NULL, 0, on_list_containers, &c)
                            : ctrd_container_list(p->conn, p->ns, filters, 1, on_list_containers, &c);
        if (r < 0 || !bench_run_until(&p->loop, list_done, &c, 30000) || c.r < 0)
                return -1;
        *ret_n = c.n;
        return (bench_now() - t0) * 1e3;
}

static int probe_list(Probe *p, const char *cell)
{
        static const char *const names[] = {"containers", "tasks", "cell_containers"};
        Target t = {.p = p};
        p->op = PROBE_KILL; /* target_init(): the ids only, no manifest */
        int r = uv_loop_init(&p->loop);
        if (r < 0 || (r = target_init(p, &t, cell)) < 0 ||
            (r = bench_conn_open(&p->loop, p->socket, 10000, &p->conn)) < 0)
                return r;
        printf("{\"tool\":\"probe\",\"op\":\"list\"");
        for (int kind = 0; kind < 3; kind++) {
                size_t n = 0;
                printf(",\"%s_ms\":[", names[kind]);
                for (int i = 0; i < 3; i++)
                        printf("%s%.3f", i ? "," : "", time_list(p, kind, &t.id, &n));
                printf("],\"%s\":%zu", names[kind], n);
        }
        printf("}\n");
        return 0;
}

static void probe_done(Probe *p)
{
        if (p->sub)
                ctrd_events_unsubscribe(p->sub);
        if (p->conn)
                grpc_conn_close(p->conn);
        for (size_t i = 0; i < p->n; i++)
                if (p->targets[i].has_watch)
                        uv_close((uv_handle_t *)&p->targets[i].watch, NULL);
        bench_loop_close(&p->loop);
        free(p->targets);
}

/* ---- exec ---- */

static int exec_time(int n, char **argv)
{
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        int failed = 0;
        printf("{\"tool\":\"probe\",\"op\":\"exec\",\"cmd\":\"%s\",\"ms\":[", argv[0]);
        for (int i = 0; i < n; i++) {
                pid_t pid;
                int status = 0;
                double t0 = bench_now();
                int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
                if (r == 0 && waitpid(pid, &status, 0) < 0)
                        r = errno;
                double t1 = bench_now();
                if (r != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        failed++;
                printf("%s%.3f", i ? "," : "", (t1 - t0) * 1e3);
        }
        printf("],\"failed\":%d}\n", failed);
        posix_spawn_file_actions_destroy(&fa);
        return failed ? 1 : 0;
}

static int exec_stamp(const char *file, char **argv)
{
        FILE *f = fopen(file, "we");
        if (!f)
                return 1;
        fprintf(f, "%.6f\n", bench_now());
        if (fclose(f) != 0)
                return 1;
        execvp(argv[0], argv);
        fprintf(stderr, "kuke-bench-probe: exec %s: %m\n", argv[0]);
        return 127;
}

/* Reads every regular file below the directory dir_fd, as a reader of the run path must at least. */
static int read_tree_at(int dir_fd, size_t *ret_files, size_t *ret_bytes)
{
        DIR *d = fdopendir(dir_fd);
        if (!d) {
                close(dir_fd);
                return negative_errno();
        }
        struct dirent *de;
        char buf[65536];
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (fd < 0)
                        continue;
                struct stat st;
                if (fstat(fd, &st) < 0) {
                        close(fd);
                        continue;
                }
                if (S_ISDIR(st.st_mode)) {
                        (void)read_tree_at(fd, ret_files, ret_bytes);
                        continue;
                }
                ssize_t n;
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        *ret_bytes += (size_t)n;
                (*ret_files)++;
                close(fd);
        }
        closedir(d);
        return 0;
}

static int read_tree(const char *dir)
{
        size_t files = 0, bytes = 0;
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || read_tree_at(fd, &files, &bytes) < 0)
                return 1;
        printf("%zu files, %zu bytes\n", files, bytes);
        return 0;
}

static void usage(FILE *out)
{
        fputs("Usage: kuke-bench-probe mono\n"
              "       kuke-bench-probe exec-stamp FILE CMD [ARG...]\n"
              "       kuke-bench-probe exec-time N CMD [ARG...]\n"
              "       kuke-bench-probe OPTIONS drop|remove|kill SPACE/STACK/CELL...\n"
              "       kuke-bench-probe OPTIONS list SPACE/STACK/CELL\n"
              "       kuke-bench-probe read-tree DIR\n"
              "  --socket PATH --namespace NS --realm R --run RUN --stage DIR --timeout SECONDS --no-ready\n"
              "  --no-running --state STATE\n",
              out);
}

int main(int argc, char **argv)
{
        if (argc >= 2 && streq(argv[1], "mono")) {
                printf("%.6f\n", bench_now());
                return 0;
        }
        if (argc >= 4 && streq(argv[1], "exec-stamp"))
                return exec_stamp(argv[2], argv + 3);
        if (argc == 3 && streq(argv[1], "read-tree"))
                return read_tree(argv[2]);
        if (argc >= 4 && streq(argv[1], "exec-time"))
                return exec_time(atoi(argv[2]), argv + 3);
        static const struct option opts[] = {
                {"socket", required_argument, NULL, 's'},
                {"namespace", required_argument, NULL, 'n'},
                {"realm", required_argument, NULL, 'R'},
                {"run", required_argument, NULL, 'r'},
                {"stage", required_argument, NULL, 'S'},
                {"timeout", required_argument, NULL, 't'},
                {"no-ready", no_argument, NULL, 'x'},
                {"no-running", no_argument, NULL, 'X'},
                {"state", required_argument, NULL, 'A'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        Probe p = {.timeout_s = 120, .wait_ready = true, .wait_running = true, .state = "Ready"};
        int k;
        while ((k = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (k) {
                case 's':
                        p.socket = optarg;
                        break;
                case 'n':
                        p.ns = optarg;
                        break;
                case 'R':
                        p.realm = optarg;
                        break;
                case 'r':
                        p.run = optarg;
                        break;
                case 'S':
                        p.stage = optarg;
                        break;
                case 't':
                        p.timeout_s = (unsigned)strtoul(optarg, NULL, 10);
                        break;
                case 'x':
                        p.wait_ready = false;
                        break;
                case 'X':
                        p.wait_running = false;
                        break;
                case 'A':
                        p.state = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (argc - optind < 2 || !p.realm || !p.run) {
                usage(stderr);
                return 2;
        }
        const char *verb = argv[optind++];
        if (streq(verb, "drop"))
                p.op = PROBE_DROP;
        else if (streq(verb, "remove"))
                p.op = PROBE_REMOVE;
        else if (streq(verb, "kill"))
                p.op = PROBE_KILL;
        else if (streq(verb, "list") && p.socket && p.ns && argc - optind == 1) {
                int r = probe_list(&p, argv[optind]);
                probe_done(&p);
                return r < 0 ? 1 : 0;
        } else {
                usage(stderr);
                return 2;
        }
        if ((p.op != PROBE_REMOVE && (!p.socket || !p.ns)) || (p.op == PROBE_DROP && !p.stage)) {
                usage(stderr);
                return 2;
        }
        (void)signal(SIGPIPE, SIG_IGN);
        p.n = (size_t)(argc - optind);
        p.targets = calloc(p.n, sizeof(*p.targets));
        if (!p.targets)
                return 1;
        int r = probe_run(&p, argv + optind);
        if (r < 0 && r != -ETIMEDOUT)
                fprintf(stderr, "kuke-bench-probe: %s: %s\n", verb, strerror(-r));
        probe_done(&p);
        return r < 0 ? 1 : 0;
}
