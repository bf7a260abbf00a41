/* Running one short command (iptables) to its end, synchronously, with a deadline: stdout and stderr
 * captured, the process in a session of its own, killed as a group when it overruns. It blocks the
 * calling thread for as long as the command runs, so the daemon calls it from a worker thread
 * (cni_isolation_submit()), never from the loop. Raw process I/O of the isolation code lives here only. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>

#include "drivers/cni/cni-internal.h"

#define COMMAND_SEARCH_PATH "/usr/sbin:/sbin:/usr/bin:/bin"
#define COMMAND_OUT_MAX     (1u << 20)
#define COMMAND_ERR_MAX     (64u << 10)

void cni_command_outcome_done(CniCommandOutcome *o)
{
        free(o->out);
        free(o->err);
        *o = (CniCommandOutcome){0};
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int spawn_actions_init(posix_spawn_file_actions_t *fa, int out_fd, int err_fd)
{
        int r = posix_spawn_file_actions_init(fa);
        if (r != 0)
                return -r;
        r = posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, out_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(fa, err_fd, STDERR_FILENO);
        if (r != 0)
                posix_spawn_file_actions_destroy(fa);
        return -r;
}

/* Starts argv[0] (resolved already) with the pipes' write ends as stdout and stderr. */
static int command_spawn(const char *file, char *const argv[], int out_fd, int err_fd, pid_t *ret_pid)
{
        static char *const env[] = {"PATH=" COMMAND_SEARCH_PATH, "LC_ALL=C", NULL};
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t fa;
        int r = cni_spawn_attr_init(&attr);
        if (r < 0)
                return r;
        r = spawn_actions_init(&fa, out_fd, err_fd);
        if (r < 0) {
                posix_spawnattr_destroy(&attr);
                return r;
        }
        r = -posix_spawn(ret_pid, file, &fa, &attr, argv, env);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return r;
}

typedef struct Capture {
        int fd;
        Buf buf;
        size_t limit;
} Capture;

/* Reads what is there; closes the fd at EOF. Output past the limit is dropped. */
static void capture_read(Capture *c)
{
        char chunk[8192];
        ssize_t k = read(c->fd, chunk, sizeof(chunk));
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (k <= 0) {
                close(c->fd);
                c->fd = -EBADF;
                return;
        }
        size_t room = c->buf.len < c->limit ? c->limit - c->buf.len : 0;
        (void)buf_append(&c->buf, chunk, (size_t)k < room ? (size_t)k : room);
}

/* Whether pid has exited, without reaping it (the caller's waitpid() does). */
static bool has_exited(pid_t pid)
{
        siginfo_t info = {0};
        return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* Waits for the process to exit and both pipes to end, until deadline. Returns 0 or -ETIMEDOUT. Without
 * a pidfd (pidfd < 0: a kernel or a sandbox without pidfd_open()), the exit is polled every 10 ms. */
static int command_wait(pid_t pid, int pidfd, Capture *out, Capture *err, uint64_t deadline)
{
        bool exited = false;
        while (!exited || out->fd >= 0 || err->fd >= 0) {
                uint64_t now = now_ms();
                if (now >= deadline)
                        return -ETIMEDOUT;
                if (!exited && pidfd < 0 && has_exited(pid)) {
                        exited = true;
                        continue;
                }
                struct pollfd p[3] = {
                        {.fd = exited ? -1 : pidfd, .events = POLLIN},
                        {.fd = out->fd, .events = POLLIN},
                        {.fd = err->fd, .events = POLLIN},
                };
                uint64_t wait = deadline - now;
                if (!exited && pidfd < 0 && wait > 10)
                        wait = 10;
                int k = poll(p, 3, (int)wait);
                if (k < 0 && errno != EINTR)
                        return -errno;
                if (k <= 0)
                        continue;
                if (p[0].revents)
                        exited = true;
                if (p[1].revents)
                        capture_read(out);
                if (p[2].revents)
                        capture_read(err);
        }
        return 0;
}

static void capture_done(Capture *c)
{
        if (c->fd >= 0)
                close(c->fd);
        buf_done(&c->buf);
}

/* The file to execute: argv0 itself when it has a '/', else the first executable of that name in
 * COMMAND_SEARCH_PATH (the daemon's own PATH does not decide what runs as root). */
static int command_resolve(const char *argv0, char **ret)
{
        if (strchr(argv0, '/'))
                return (*ret = strdup(argv0)) ? 0 : -ENOMEM;
        return cni_plugin_find(COMMAND_SEARCH_PATH, argv0, ret);
}

static int command_run_spawned(pid_t pid, int pidfd, Capture *out, Capture *err, uint64_t timeout_ms,
                               CniCommandOutcome *ret)
{
        int r = command_wait(pid, pidfd, out, err, now_ms() + timeout_ms);
        if (r < 0)
                (void)kill(-pid, SIGKILL); /* the whole group: helpers holding the pipes go too */
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                return r;
        ret->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        ret->out = buf_steal(&out->buf);
        ret->err = buf_steal(&err->buf);
        return ret->out && ret->err ? 0 : -ENOMEM;
}

int cni_command_run(char *const argv[], uint64_t timeout_ms, CniCommandOutcome *ret)
{
        if (!argv || !argv[0] || !ret)
                return -EINVAL;
        *ret = (CniCommandOutcome){0};
        _cleanup_free_ char *file = NULL;
        int r = command_resolve(argv[0], &file);
        if (r < 0)
                return r;
        int out_pipe[2], err_pipe[2];
        if (pipe2(out_pipe, O_CLOEXEC) < 0)
                return -errno;
        if (pipe2(err_pipe, O_CLOEXEC) < 0) {
                r = -errno;
                close(out_pipe[0]);
                close(out_pipe[1]);
                return r;
        }
        Capture out = {.fd = out_pipe[0], .buf = BUF_INIT, .limit = COMMAND_OUT_MAX};
        Capture err = {.fd = err_pipe[0], .buf = BUF_INIT, .limit = COMMAND_ERR_MAX};
        pid_t pid = 0;
        r = command_spawn(file, argv, out_pipe[1], err_pipe[1], &pid);
        close(out_pipe[1]);
        close(err_pipe[1]);
        if (r >= 0) {
                _cleanup_close_ int pidfd = pidfd_open(pid, 0);
                if (pidfd < 0 && (errno == ENOSYS || errno == EPERM)) {
                        r = command_run_spawned(pid, -1, &out, &err, timeout_ms, ret);
                } else if (pidfd < 0) {
                        r = -errno;
                        (void)kill(-pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                } else
                        r = command_run_spawned(pid, pidfd, &out, &err, timeout_ms, ret);
        }
        capture_done(&out);
        capture_done(&err);
        if (r < 0)
                cni_command_outcome_done(ret);
        return r;
}
