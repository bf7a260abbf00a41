/* The daemon's own status: <state-dir>/kukeond.yaml, and the STATUS= line systemd shows. Both change only
 * when something in them does. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/timeutil.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "state/emit.h"

int write_file_atomic(const char *path, const char *buf, size_t len, mode_t mode)
{
        char tmp[PATH_MAX];
        const char *slash = strrchr(path, '/');
        int n = slash ? snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp.%d", (int)(slash - path), path, slash + 1,
                                 (int)getpid())
                      : snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", path, (int)getpid());
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return negative_errno();
        for (size_t done = 0; done < len;) {
                ssize_t k = write(fd, buf + done, len - done);
                if (k < 0) {
                        int r = negative_errno();
                        (void)unlink(tmp);
                        return r;
                }
                done += (size_t)k;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = negative_errno();
                (void)unlink(tmp);
                return r;
        }
        return 0;
}

void daemon_set_last_error(Daemon *d, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->last_error, sizeof(d->last_error), fmt, ap);
        va_end(ap);
}

typedef struct Counts {
        size_t by_state[_STATE_MAX];
        size_t total, failed;
} Counts;

static void count_one(Resource *r, void *userdata)
{
        Counts *c = userdata;
        if (!r->in_tree || !r->has_spec_file)
                return;
        c->total++;
        int s = r->status ? r->status->status.state : STATE_PENDING;
        if (s >= 0 && s < _STATE_MAX)
                c->by_state[s]++;
}

static json_t *build(Daemon *d, const Counts *c)
{
        char started[RFC3339_MAX];
        json_t *states = json_object();
        for (int s = 0; s < _STATE_MAX && states; s++)
                if (c->by_state[s])
                        json_object_set_new(states, state_to_string((State)s),
                                            json_integer((json_int_t)c->by_state[s]));
        json_t *ctrd = json_pack("{s:s, s:b}", "socket", d->config.containerd_socket, "connected",
                                 d->is_ctrd_ready);
        if (ctrd && !d->is_ctrd_ready && d->ctrd_error[0])
                json_object_set_new(ctrd, "error", json_string(d->ctrd_error));
        json_t *root =
                json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:{s:i, s:o}}", "apiVersion",
                          KUKEON_API_VERSION, "kind", "DaemonStatus", "version", KUKEON_VERSION, "pid",
                          (int)getpid(), "startedAt", time_format_rfc3339(d->started_at, started), "runPath",
                          d->config.run_path, "stateDir", d->config.state_dir, "containerd", ctrd,
                          "resources", "total", (int)c->total, "byState", states);
        if (root && d->last_error[0])
                json_object_set_new(root, "lastError", json_string(d->last_error));
        return root;
}

void daemon_self_status_update(Daemon *d)
{
        Counts c = {0};
        resource_foreach(&d->table, count_one, &c);
        json_t *j = build(d, &c);
        _cleanup_free_ char *text = j ? yaml_from_json(j) : NULL;
        json_decref(j);
        if (!text || (d->self_status && streq(d->self_status, text)))
                return;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/kukeond.yaml", d->config.state_dir);
        int r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0) {
                log_warning_errno(&d->log, r, "Failed to write %s: %m", path);
                return;
        }
        free(d->self_status);
        d->self_status = TAKE_PTR(text);
        (void)notify_sendf("STATUS=%zu resources, %zu ready, %zu in flight; containerd %s", c.total,
                           c.by_state[STATE_READY], d->n_ops,
                           d->is_ctrd_ready ? "connected" : "not connected");
}
