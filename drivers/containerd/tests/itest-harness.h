/* The plumbing of ctrd_tasks_itest: failing checks, running the loop until something happened (with a
 * watchdog), results of asynchronous operations, the event log, small file helpers. Everything is
 * static: one test program includes it. */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/tests/itest-check.h"

/* One event seen on the subscription. */
typedef struct SeenEvent {
        CtrdEventType type;
        char container_id[80];
        uint32_t exit_status;
        uint64_t at; /* uv_now() */
} SeenEvent;

#define MAX_EVENTS 512

typedef struct Itest {
        uv_loop_t loop;
        GrpcConn *conn;
        const char *address, *ns, *scratch, *image, *chain_id, *netns, *runc_root, *cgroup_parent;
        json_t *image_config; /* the "config" object of the image config blob */
        uint64_t available_caps;
        CtrdSubscription *sub;
        SeenEvent events[MAX_EVENTS];
        size_t n_events;
} Itest;

/* The outcome of one asynchronous operation, whatever its kind. */
typedef struct Res {
        Itest *t;
        int n_done; /* callbacks seen: exactly 1 */
        int r;
        char message[512];
        uint32_t pid;
        bool has_exit;
        CtrdTaskExit exit;
        CtrdTask task;
        size_t n;       /* mounts, tasks or containers */
        char ids[2048]; /* listed container or task ids, each followed by a space */
        char image[256], spec_digest[128], group[128], stop_signal[32], runtime[64], cell[64];
        uint64_t done_at;
} Res;

static void res_set(Res *res, int r, const char *message)
{
        res->n_done++;
        res->r = r;
        res->done_at = uv_now(&res->t->loop);
        snprintf(res->message, sizeof(res->message), "%s", message ? message : "(null)");
}

static void on_res_done(int r, const char *message, void *userdata)
{
        res_set(userdata, r, message);
}

static void on_res_pid(int r, const char *message, uint32_t pid, void *userdata)
{
        Res *res = userdata;
        res->pid = pid;
        res_set(res, r, message);
}

static void on_res_exit(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Res *res = userdata;
        res->has_exit = exit != NULL;
        if (exit)
                res->exit = *exit;
        res_set(res, r, message);
}

static void on_res_mounts(int r, const char *message, const CtrdMount *mounts, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        /* Used by the snapshot checks: the rootfs of an overlay snapshot is one overlay mount. */
        if (n > 0)
                snprintf(res->image, sizeof(res->image), "%s", mounts[0].type);
        res_set(res, r, message);
}

/* The lease id goes into res->ids. */
static void on_res_lease(int r, const char *message, const char *id, void *userdata)
{
        Res *res = userdata;
        snprintf(res->ids, sizeof(res->ids), "%s", id ? id : "");
        res_set(res, r, message);
}

static void on_res_task(int r, const char *message, const CtrdTask *task, void *userdata)
{
        Res *res = userdata;
        if (task) {
                res->task = *task;
                res->task.container_id = res->task.stdout_path = res->task.stderr_path = NULL;
        }
        res_set(res, r, message);
}

static void on_res_tasks(int r, const char *message, const CtrdTask *tasks, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        for (size_t i = 0; i < n; i++)
                snprintf(res->ids + strlen(res->ids), sizeof(res->ids) - strlen(res->ids), "%s ",
                         tasks[i].container_id);
        res_set(res, r, message);
}

static void container_copy(Res *res, const CtrdContainer *c)
{
        snprintf(res->ids, sizeof(res->ids), "%s ", c->id);
        snprintf(res->image, sizeof(res->image), "%s", c->image);
        snprintf(res->spec_digest, sizeof(res->spec_digest), "%s", strempty(c->spec_digest));
        snprintf(res->group, sizeof(res->group), "%s", strempty(c->group));
        snprintf(res->stop_signal, sizeof(res->stop_signal), "%s", strempty(c->stop_signal));
        snprintf(res->runtime, sizeof(res->runtime), "%s", c->runtime);
        snprintf(res->cell, sizeof(res->cell), "%s",
                 strempty(ctrd_label_get(c->labels, c->n_labels, CTRD_LABEL_CELL)));
}

static void on_res_container(int r, const char *message, const CtrdContainer *c, void *userdata)
{
        Res *res = userdata;
        if (c)
                container_copy(res, c);
        res_set(res, r, message);
}

static void on_res_containers(int r, const char *message, const CtrdContainer *cs, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        for (size_t i = 0; i < n; i++)
                snprintf(res->ids + strlen(res->ids), sizeof(res->ids) - strlen(res->ids), "%s ", cs[i].id);
        res_set(res, r, message);
}

/* ---- running the loop ---- */

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

/* Runs the loop until pred(t, arg) holds; fails after timeout_ms. */
static void loop_until_(Itest *t, bool (*pred)(Itest *t, const void *arg), const void *arg,
                        uint64_t timeout_ms, const char *what, int line)
{
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&t->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, timeout_ms, 0);
        while (!pred(t, arg) && !expired)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT); /* completes the close: watchdog lives on this stack */
        if (!pred(t, arg))
                die(line, "timed out after %llu ms waiting for %s", (unsigned long long)timeout_ms, what);
}
#define loop_until(t, pred, arg, ms) loop_until_(t, pred, arg, ms, #pred "(" #arg ")", __LINE__)

static bool is_res_done(Itest *t, const void *arg)
{
        return ((const Res *)arg)->n_done > 0;
}

/* Starts an operation with &res as its userdata and runs the loop until it has answered. */
#define SYNC(t, res, call)                                                                                  \
        do {                                                                                                \
                (res) = (Res){.t = (t)};                                                                    \
                int _r = (call);                                                                            \
                if (_r < 0)                                                                                 \
                        die(__LINE__, "%s: %s", #call, strerror(-_r));                                      \
                loop_until(t, is_res_done, &(res), 60000);                                                  \
                CHECK((res).n_done == 1);                                                                   \
        } while (0)

static void on_tick(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

/* Lets the loop run for ms: callbacks that should not come would show. */
static void loop_for(Itest *t, uint64_t ms)
{
        bool done = false;
        uv_timer_t tick;
        uv_timer_init(&t->loop, &tick);
        tick.data = &done;
        uv_timer_start(&tick, on_tick, ms, 0);
        while (!done)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&tick, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
}

/* ---- events ---- */

static void on_event(const CtrdEvent *ev, void *userdata)
{
        Itest *t = userdata;
        printf("   event %s %s exit=%u\n", ev->topic, ev->container_id, ev->exit_status);
        if (t->n_events == MAX_EVENTS)
                return;
        SeenEvent *e = &t->events[t->n_events++];
        *e = (SeenEvent){.type = ev->type, .exit_status = ev->exit_status, .at = uv_now(&t->loop)};
        snprintf(e->container_id, sizeof(e->container_id), "%s", ev->container_id);
}

static void on_events_end(int r, const char *message, void *userdata)
{
        die(__LINE__, "the event subscription ended: %s (%s)", strerror(-r), message);
}

typedef struct EventWant {
        CtrdEventType type;
        const char *container_id;
} EventWant;

static const SeenEvent *event_find(const Itest *t, CtrdEventType type, const char *container_id)
{
        for (size_t i = 0; i < t->n_events; i++)
                if (t->events[i].type == type && streq(t->events[i].container_id, container_id))
                        return &t->events[i];
        return NULL;
}

static bool has_event(Itest *t, const void *arg)
{
        const EventWant *w = arg;
        return event_find(t, w->type, w->container_id) != NULL;
}

/* Waits for an event of type about container_id and returns it. */
static const SeenEvent *event_wait_(Itest *t, CtrdEventType type, const char *container_id, int line)
{
        const EventWant w = {type, container_id};
        loop_until_(t, has_event, &w, 30000, ctrd_event_type_to_string(type), line);
        return event_find(t, type, container_id);
}
#define event_wait(t, type, id) event_wait_(t, type, id, __LINE__)

/* ---- files ---- */

static char *file_read_all(const char *path)
{
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *text = calloc(1, 65536);
        size_t n = text ? fread(text, 1, 65535, f) : 0;
        if (text)
                text[n] = 0;
        fclose(f);
        return text;
}

typedef struct FileWant {
        const char *path;
        const char *needle;
} FileWant;

static bool file_has(Itest *t, const void *arg)
{
        const FileWant *w = arg;
        _cleanup_free_ char *text = file_read_all(w->path);
        return text && strstr(text, w->needle);
}

static void on_poll(uv_timer_t *timer)
{
}

/* Waits until the file at path contains needle (a process announcing that it is ready), looking every
 * 20 ms: a timer wakes the loop, which would otherwise sleep until the next event. */
static void file_wait_(Itest *t, const char *path, const char *needle, int line)
{
        const FileWant w = {path, needle};
        uv_timer_t poll;
        uv_timer_init(&t->loop, &poll);
        uv_timer_start(&poll, on_poll, 20, 20);
        loop_until_(t, file_has, &w, 30000, needle, line);
        uv_close((uv_handle_t *)&poll, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
}
#define file_wait(t, path, needle) file_wait_(t, path, needle, __LINE__)

/* PPid of a process: the shim, for the init process of a task (the shim is its subreaper). */
static long proc_ppid(uint32_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%u/status", pid);
        _cleanup_free_ char *text = file_read_all(path);
        const char *p = text ? strstr(text, "\nPPid:") : NULL;
        return p ? strtol(p + 6, NULL, 10) : -1;
}
