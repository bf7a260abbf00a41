/* One plugin process on the caller's loop: found in CNI_PATH, spawned in a session of its own with its
 * configuration on stdin, stdout and stderr read into buffers, killed as a whole process group at its
 * deadline. Raw process I/O lives here only. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "drivers/cni/cni-internal.h"

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
        uv_process_t process;
        uv_pipe_t out;
        uv_pipe_t err;
        uv_timer_t timer;
        unsigned open_handles;
        bool exited;
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

static void on_process_exit(uv_process_t *h, int64_t exit_status, int term_signal)
{
        CniProc *p = h->data;
        p->exited = true;
        p->outcome.exit_status = exit_status;
        p->outcome.term_signal = term_signal;
        uv_close((uv_handle_t *)h, on_handle_closed);
        proc_maybe_close_timer(p);
}

/* Kills the whole group (the plugin called setsid through UV_PROCESS_DETACHED: its pid is the group id)
 * and stops waiting for output. */
static void proc_kill(CniProc *p)
{
        /* pid 0 (never started) must not reach kill(): -0 is our own group */
        if (p->process.pid > 0 && (!p->exited || !p->out_closed || !p->err_closed))
                (void)kill(-p->process.pid, SIGKILL);
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

static int proc_start(CniProc *p, uv_loop_t *loop, const char *file, char *const *env, int in_fd,
                      uint64_t timeout_ms)
{
        uv_stdio_container_t stdio[3] = {
                {.flags = UV_INHERIT_FD, .data.fd = in_fd},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->out},
                {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&p->err},
        };
        char *args[] = {(char *)file, NULL};
        uv_process_options_t o = {
                .exit_cb = on_process_exit,
                .file = file,
                .args = args,
                .env = (char **)env,
                .cwd = "/",
                .flags = UV_PROCESS_DETACHED, /* setsid(): a process group to kill as one */
                .stdio_count = 3,
                .stdio = stdio,
        };
        int r = uv_spawn(loop, &p->process, &o);
        if (r < 0)
                return r;
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
        /* Every handle is initialised up front, and all of them end through uv_close: one path to cb,
         * also when the spawn fails. */
        uv_pipe_init(loop, &p->out, 0);
        uv_pipe_init(loop, &p->err, 0);
        uv_timer_init(loop, &p->timer);
        p->process.data = p->out.data = p->err.data = p->timer.data = p;
        p->open_handles = 4;

        _cleanup_close_ int in_fd = stdin_memfd(input, input_len);
        int r = in_fd;
        if (r >= 0) {
                r = proc_start(p, loop, file, env, in_fd, timeout_ms);
                if (r < 0 && p->process.pid <= 0) {
                        /* uv_spawn failed: its handle is initialised, but no exit will come */
                        p->exited = true;
                        uv_close((uv_handle_t *)&p->process, on_handle_closed);
                }
        } else {
                p->exited = true; /* no process handle to close */
                p->open_handles--;
        }
        if (r < 0) {
                p->outcome.spawn_error = r;
                proc_kill(p); /* a started process ends through on_process_exit */
        }
        if (ret)
                *ret = p;
        return 0;
}
