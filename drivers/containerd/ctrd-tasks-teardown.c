/* Removing a container in the one safe order: stop the task, delete it, delete the container record,
 * remove the snapshot. containerd enforces none of it: a record or snapshot deleted under a live task
 * leaves an orphan that Kill/Wait/Delete no longer find (containerd-api.md §3e). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd-tasks-internal.h"

typedef struct Teardown {
        GrpcConn *conn;
        char *ns; /* NULL: the connection's default */
        char *id;
        char *snapshotter;
        char *snapshot_key;
        bool has_changed;
        bool has_exit;
        CtrdTaskExit exit;
        ctrd_task_exit_cb cb;
        void *userdata;
} Teardown;

static Teardown *teardown_free(Teardown *t)
{
        if (!t)
                return NULL;
        free(t->ns);
        free(t->id);
        free(t->snapshotter);
        free(t->snapshot_key);
        free(t);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(Teardown *, teardown_free);

static void teardown_finish(Teardown *t, int r, const char *step, const char *message)
{
        char text[1024];
        if (r < 0)
                snprintf(text, sizeof(text), "%s: %s", step, message);
        else
                r = t->has_changed ? 1 : 0;
        t->cb(r, r >= 0 ? "" : text, r >= 0 && t->has_exit ? &t->exit : NULL, t->userdata);
        teardown_free(t);
}

static void on_snapshot_removed(int r, const char *message, void *userdata)
{
        Teardown *t = userdata;
        if (r < 0) {
                teardown_finish(t, r, "Snapshots.Remove", message);
                return;
        }
        t->has_changed |= r > 0;
        teardown_finish(t, 0, NULL, NULL);
}

static void on_container_deleted(int r, const char *message, void *userdata)
{
        Teardown *t = userdata;
        if (r < 0) {
                teardown_finish(t, r, "Containers.Delete", message);
                return;
        }
        t->has_changed |= r > 0;
        r = ctrd_snapshot_remove(t->conn, t->ns, t->snapshotter, t->snapshot_key, CTRD_MISSING_OK,
                                 on_snapshot_removed, t);
        if (r < 0)
                teardown_finish(t, r, "Snapshots.Remove", "cannot send the request");
}

static void on_task_deleted(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Teardown *t = userdata;
        if (r < 0) {
                teardown_finish(t, r, "Tasks.Delete", message);
                return;
        }
        if (r > 0) {
                bool is_killed = t->exit.is_killed;
                t->has_changed = true;
                t->has_exit = true;
                t->exit = *exit;
                t->exit.is_killed = is_killed;
        }
        r = ctrd_container_delete(t->conn, t->ns, t->id, CTRD_MISSING_OK, on_container_deleted, t);
        if (r < 0)
                teardown_finish(t, r, "Containers.Delete", "cannot send the request");
}

static void on_task_stopped(int r, const char *message, const CtrdTaskExit *exit, void *userdata)
{
        Teardown *t = userdata;
        if (r < 0) {
                teardown_finish(t, r, "stopping the task", message);
                return;
        }
        if (r > 0) {
                t->has_exit = true;
                t->exit = *exit;
        }
        /* Also when Wait found no task: Delete then finds none either (0), and a record without a task
         * still goes. */
        r = ctrd_task_delete(t->conn, t->ns, t->id, CTRD_MISSING_OK, on_task_deleted, t);
        if (r < 0)
                teardown_finish(t, r, "Tasks.Delete", "cannot send the request");
}

int ctrd_container_teardown(GrpcConn *conn, uv_loop_t *loop, const char *ns, const CtrdTeardown *td,
                            ctrd_task_exit_cb cb, void *userdata)
{
        if (!conn || !loop || !td || !td->id || !*td->id || !cb)
                return -EINVAL;
        _cleanup_(teardown_freep) Teardown *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (Teardown){.conn = conn, .cb = cb, .userdata = userdata};
        t->id = strdup(td->id);
        t->snapshotter = strdup(td->snapshotter ? td->snapshotter : CTRD_SNAPSHOTTER_DEFAULT);
        t->snapshot_key = strdup(td->snapshot_key ? td->snapshot_key : td->id);
        if ((ns && !(t->ns = strdup(ns))) || !t->id || !t->snapshotter || !t->snapshot_key)
                return -ENOMEM;
        int r = ctrd_task_stop(conn, loop, t->ns, t->id, td->signal, td->grace_ms, td->kill_timeout_ms,
                               CTRD_MISSING_OK, on_task_stopped, t);
        if (r < 0)
                return r;
        TAKE_PTR(t); /* owned by the steps now */
        return 0;
}
