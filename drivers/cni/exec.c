/* One plugin process on the caller's loop: found in CNI_PATH, spawned in a session of its own with its
 * configuration on stdin, stdout and stderr read into buffers, killed as a whole process group at its
 * deadline. Raw process I/O lives here only.
 *
 * posix_spawn(), not fork(): glibc's clones the daemon without copying its page tables, where a fork()
 * costs a copy of them and then a fault on every page either side writes next (15 ms of CPU a plugin on a
 * paravirtualised guest). The exit comes through a pidfd polled on the loop; without pidfd_open() (old
 * kernels, sandboxes) it is polled with a timer. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "drivers/cni/cni-internal.h"

#define EXIT_POLL_MS 5 /* without a pidfd */

int cni_plugin_find(const char *plugin_path, const char *type, char **ret)
{
        if (!type || !*type || strchr(type, '/') || type[0] == '.')
                return -EINVAL;
        plugin_path = plugin_path ? plugin_path : CNI_DEFAULT_PLUGIN_PATH;
        for (const char *p = plugin_path; *p;) {
                size_t n = strcspn(p, ":");
                if (n > 0) {
                        _cleanup_free_ char *file = NULL;
                        if (asprintf(&file, "%.*s/%s", (int)n, p, type) < 0)
                                return -ENOMEM;
                        struct stat st;
                        if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0) {
                                *ret = TAKE_PTR(file);
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

struct CniProc {
        pid_t pid;
        int pidfd;
        uv_poll_t exit_poll;   /* on the pidfd */
        uv_timer_t exit_timer; /* or polling the exit without one */
        bool uses_pidfd;
        uv_pipe_t out;
        uv_pipe_t err;
        uv_timer_t timer;
        unsigned open_handles;
        bool exited;
        bool exit_closed;
        bool out_closed;
        bool err_closed;
        bool timer_closed;
        Buf out_buf;
        Buf err_buf;
        char scratch[16384];
        CniProcOutcome outcome;
        cni_proc_cb cb;
        void *userdata;
};

static void proc_free(CniProc *p)
{
        if (p->pidfd >= 0)
                close(p->pidfd);
        buf_done(&p->out_buf);
        buf_done(&p->err_buf);
        free(p);
}

static void on_handle_closed(uv_handle_t *h)
{
        CniProc *p = h->data;
        if (--p->open_handles > 0)
                return;
        CniProcOutcome *o = &p->outcome;
        o->out = p->out_buf.data ? p->out_buf.data : "";
        o->out_len = p->out_buf.len;
        o->err = p->err_buf.data ? p->err_buf.data : "";
        o->err_len = p->err_buf.len;
        p->cb(o, p->userdata);
        proc_free(p);
}

static void proc_close(CniProc *p, uv_handle_t *h, bool *closed)
{
        if (*closed)
                return;
        *closed = true;
        uv_close(h, on_handle_closed);
}

/* The timer stays while anything may still need the deadline: the process, or a pipe a straggler of its
 * group holds open. */
static void proc_maybe_close_timer(CniProc *p)
{
        if (p->exited && p->out_closed && p->err_closed)
                proc_close(p, (uv_handle_t *)&p->timer, &p->timer_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
        CniProc *p = h->data;
        *buf = uv_buf_init(p->scratch, sizeof(p->scratch));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
        CniProc *p = s->data;
        bool is_out = s == (uv_stream_t *)&p->out;
        Buf *b = is_out ? &p->out_buf : &p->err_buf;
        size_t limit = is_out ? CNI_STDOUT_MAX : CNI_STDERR_MAX;
        if (nread > 0) {
                size_t room = b->len < limit ? limit - b->len : 0;
                size_t take = (size_t)nread < room ? (size_t)nread : room;
                if (take < (size_t)nread && is_out)
                        p->outcome.truncated = true;
                if (take > 0 && buf_append(b, buf->base, take) < 0 && is_out)
                        p->outcome.truncated = true; /* out of memory: the output is not whole */
                return;
        }
        if (nread == 0)
                return;
        proc_close(p, (uv_handle_t *)s, is_out ? &p->out_closed : &p->err_closed);
        proc_maybe_close_timer(p);
}

/* Reaps the process if it has exited: 1 when it had, 0 when it runs on. */
static int proc_reap(CniProc *p)
{
        siginfo_t info = {0};
        int r = p->uses_pidfd ? waitid(P_PIDFD, (id_t)p->pidfd, &info, WEXITED | WNOHANG)
                              : waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG);
        if (r < 0 && errno == EINTR)
                return 0;
        if (r == 0 && info.si_pid == 0)
                return 0; /* still running */
        p->exited = true;
        if (r == 0 && info.si_code == CLD_EXITED)
                p->outcome.exit_status = info.si_status;
        else if (r == 0)
                p->outcome.term_signal = info.si_status;
        else
                p->outcome.term_signal = SIGKILL; /* reaped behind our back: it is gone, how is unknown */
        proc_close(p, p->uses_pidfd ? (uv_handle_t *)&p->exit_poll : (uv_handle_t *)&p->exit_timer,
                   &p->exit_closed);
        proc_maybe_close_timer(p);
        return 1;
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
        (void)proc_reap(h->data);
}

static void on_exit_poll(uv_timer_t *t)
{
        (void)proc_reap(t->data);
}

/* Kills the whole group (the plugin was started in a session of its own: its pid is the group id)
 * and stops waiting for output. */
static void proc_kill(CniProc *p)
{
        /* pid 0 (never started) must not reach kill(): -0 is our own group */
        if (p->pid > 0 && (!p->exited || !p->out_closed || !p->err_closed))
                (void)kill(-p->pid, SIGKILL);
        proc_close(p, (uv_handle_t *)&p->out, &p->out_closed);
        proc_close(p, (uv_handle_t *)&p->err, &p->err_closed);
        proc_maybe_close_timer(p);
}

static void on_deadline(uv_timer_t *t)
{
        CniProc *p = t->data;
        p->outcome.timed_out = true;
        proc_kill(p);
}

void cni_proc_cancel(CniProc *p)
{
        if (p->outcome.cancelled || p->outcome.timed_out || p->outcome.spawn_error < 0)
                return;
        p->outcome.cancelled = true;
        proc_kill(p);
}

/* stdin as a memory file: the plugin reads it to the end whenever it likes, nothing to feed, no pipe
 * that could fill or break. */
static int stdin_memfd(const char *input, size_t len)
{
        _cleanup_close_ int fd = memfd_create("cni-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t k = write(fd, input, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                input += k;
                len -= (size_t)k;
        }
        if (lseek(fd, 0, SEEK_SET) < 0 ||
            fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int cni_spawn_attr_init(posix_spawnattr_t *attr)
{
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        int r = posix_spawnattr_init(attr);
        if (r != 0)
                return -r;
        /* a session (and process group) of its own to kill as one; the signal state of a fresh process,
         * whatever the calling thread blocks or ignores */
        r = posix_spawnattr_setflags(attr,
                                     POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setsigmask(attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(attr, &all);
        if (r != 0)
                posix_spawnattr_destroy(attr);
        return -r;
}

/* The plugin with in_fd as stdin and the pipes' write ends as stdout and stderr, in / and in a session of
 * its own, with the signal state of a fresh process. */
static int proc_posix_spawn(const char *file, char *const *env, int in_fd, int out_fd, int err_fd,
                            pid_t *ret_pid)
{
        char *args[] = {(char *)file, NULL};
        posix_spawnattr_t attr;
        posix_spawn_file_actions_t fa;
        int r = cni_spawn_attr_init(&attr);
        if (r < 0)
                return r;
        r = -posix_spawn_file_actions_init(&fa);
        if (r < 0) {
                posix_spawnattr_destroy(&attr);
                return r;
        }
        r = -posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO);
        if (r == 0)
                r = -posix_spawn_file_actions_addchdir_np(&fa, "/");
        if (r == 0)
                r = -posix_spawn(ret_pid, file, &fa, &attr, args, env ? env : environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return r;
}

/* Watches for the process's exit: its pidfd on the loop, else a timer that polls. */
static void proc_watch_exit(CniProc *p, uv_loop_t *loop)
{
        p->pidfd = pidfd_open(p->pid, 0);
        if (p->pidfd >= 0 && uv_poll_init(loop, &p->exit_poll, p->pidfd) >= 0) {
                p->exit_poll.data = p;
                p->uses_pidfd = true;
                /* it fails only for an fd the loop polls already (EEXIST), never for a new one */
                (void)uv_poll_start(&p->exit_poll, UV_READABLE, on_pidfd);
                return;
        }
        uv_timer_init(loop, &p->exit_timer);
        p->exit_timer.data = p;
        (void)uv_timer_start(&p->exit_timer, on_exit_poll, EXIT_POLL_MS, EXIT_POLL_MS);
}

static int proc_start(CniProc *p, uv_loop_t *loop, const char *file, char *const *env, int in_fd,
                      uint64_t timeout_ms)
{
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        out_r = fds[0], out_w = fds[1];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        err_r = fds[0], err_w = fds[1];
        int r = proc_posix_spawn(file, env, in_fd, out_w, err_w, &p->pid);
        if (r < 0)
                return r;
        proc_watch_exit(p, loop);
        if ((r = uv_pipe_open(&p->out, out_r)) < 0)
                return r;
        out_r = -EBADF; /* the handle has it */
        if ((r = uv_pipe_open(&p->err, err_r)) < 0)
                return r;
        err_r = -EBADF;
        r = uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
        if (r >= 0)
                r = uv_read_start((uv_stream_t *)&p->err, on_alloc, on_read);
        if (r >= 0)
                r = uv_timer_start(&p->timer, on_deadline, timeout_ms, 0);
        return r;
}

int cni_proc_spawn(uv_loop_t *loop, const char *file, char *const *env, const char *input, size_t input_len,
                   uint64_t timeout_ms, cni_proc_cb cb, void *userdata, CniProc **ret)
{
        CniProc *p = calloc(1, sizeof(CniProc));
        if (!p)
                return -ENOMEM;
        p->cb = cb;
        p->userdata = userdata;
        p->out_buf = BUF_INIT;
        p->err_buf = BUF_INIT;
        p->pidfd = -EBADF;
        /* Every handle is initialised up front (the exit watcher once the process runs), and all of them
         * end through uv_close: one path to cb, also when the spawn fails. */
        uv_pipe_init(loop, &p->out, 0);
        uv_pipe_init(loop, &p->err, 0);
        uv_timer_init(loop, &p->timer);
        p->out.data = p->err.data = p->timer.data = p;
        p->open_handles = 4;

        _cleanup_close_ int in_fd = stdin_memfd(input, input_len);
        int r = in_fd >= 0 ? proc_start(p, loop, file, env, in_fd, timeout_ms) : in_fd;
        if (r < 0 && p->pid <= 0) {
                p->exited = p->exit_closed = true; /* nothing was started: no exit watcher */
                p->open_handles--;
        }
        if (r < 0) {
                p->outcome.spawn_error = r;
                proc_kill(p); /* a started process ends through its exit watcher */
        }
        if (ret)
                *ret = p;
        return 0;
}
