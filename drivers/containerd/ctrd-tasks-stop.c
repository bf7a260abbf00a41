/* Stopping a task without blocking the loop: Tasks.Wait runs while the stop signal goes out, and a uv
 * timer sends SIGKILL when the grace period ends first. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

#define KILL_TIMEOUT_DEFAULT_MS 10000

/* Freed once the caller has its result, every call it started has answered and the timer is closed:
 * replies may come after the result (a kill answering after the wait). */
typedef struct StopCall {
        GrpcConn *conn;
        char *ns; /* NULL: the connection's default */
        char *id;
        int signal;
        unsigned flags;
        uv_timer_t timer;
        unsigned n_pending; /* calls started and not answered yet */
        bool is_done;       /* cb has run */
        bool is_closing;    /* the timer is being closed */
        bool is_killed;     /* SIGKILL was sent */
        ctrd_task_exit_cb cb;
        void *userdata;
} StopCall;

static void on_timer_closed(uv_handle_t *handle)
{
        StopCall *s = handle->data;
        free(s->ns);
        free(s->id);
        free(s);
}

static void stop_maybe_free(StopCall *s)
{
        if (!s->is_done || s->n_pending > 0 || s->is_closing)
                return;
        s->is_closing = true;
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static void stop_finish(StopCall *s, int r, const char *message, const CtrdTaskExit *exit)
{
        if (s->is_done)
                return;
        s->is_done = true;
        uv_timer_stop(&s->timer);
        CtrdTaskExit e;
        if (r > 0 && exit) {
                e = *exit;
                e.is_killed = s->is_killed;
        }
        s->cb(r, r >= 0 ? "" : message, r > 0 && exit ? &e : NULL, s->userdata);
}

static void on_wait(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        StopCall *s = userdata;
        s->n_pending--;
        stop_finish(s, r, message, exit);
        stop_maybe_free(s);
}

static void on_term_sent(int r, const char *message, void *userdata)
{
        StopCall *s = userdata;
        /* Nothing to do on failure: the grace period ends in SIGKILL anyway, and Tasks.Wait tells whether
         * there is a task at all. */
        s->n_pending--;
        stop_maybe_free(s);
}

static void on_kill_sent(int r, const char *message, void *userdata)
{
        StopCall *s = userdata;
        s->n_pending--;
        if (r < 0) {
                char text[512];
                snprintf(text, sizeof(text), "cannot send SIGKILL: %s", message);
                stop_finish(s, r, text, NULL);
        }
        stop_maybe_free(s);
}

static void on_grace_end(uv_timer_t *timer)
{
        StopCall *s = timer->data;
        if (s->is_done)
                return;
        s->is_killed = true;
        /* To every process: with the init process gone the others would be killed by the kernel anyway,
         * but a process that shares the host's pid namespace would not. */
        int r = ctrd_task_kill(s->conn, s->ns, s->id, SIGKILL, true, CTRD_MISSING_OK, on_kill_sent, s);
        if (r < 0) {
                stop_finish(s, r, "cannot send SIGKILL", NULL);
                stop_maybe_free(s);
                return;
        }
        s->n_pending++;
}

int ctrd_task_stop(GrpcConn *conn, uv_loop_t *loop, const char *ns, const char *container_id, int signal,
                   uint64_t grace_ms, uint64_t kill_timeout_ms, unsigned flags, ctrd_task_exit_cb cb,
                   void *userdata)
{
        if (!conn || !loop || !container_id || !*container_id || signal < 0 || signal >= NSIG || !cb)
                return -EINVAL;
        StopCall *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (StopCall){.conn = conn,
                        .signal = signal ? signal : SIGTERM,
                        .flags = flags,
                        .cb = cb,
                        .userdata = userdata};
        s->id = strdup(container_id);
        if ((ns && !(s->ns = strdup(ns))) || !s->id) {
                free(s->ns);
                free(s->id);
                free(s);
                return -ENOMEM;
        }
        if (kill_timeout_ms == 0)
                kill_timeout_ms = KILL_TIMEOUT_DEFAULT_MS;
        /* Started first, so that no exit goes unseen; it answers at once if the task has exited. */
        int r = ctrd_task_wait(conn, s->ns, s->id, (int64_t)(grace_ms + kill_timeout_ms), flags, on_wait, s);
        if (r < 0) {
                free(s->ns);
                free(s->id);
                free(s);
                return r;
        }
        s->n_pending++;
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
        /* From here on errors go to cb. A signal that cannot be sent is followed by SIGKILL anyway. */
        if (grace_ms > 0 &&
            ctrd_task_kill(conn, s->ns, s->id, s->signal, false, CTRD_MISSING_OK, on_term_sent, s) >= 0)
                s->n_pending++;
        uv_timer_start(&s->timer, on_grace_end, grace_ms, 0);
        return 0;
}
