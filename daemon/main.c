/* kukeond: configuration, the pid lock, the loop and its handles, signals and systemd notification.
 * The one Daemon context lives here and is passed down. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/pidlock.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "daemon/watcher.h"

extern char **environ;

static void on_close_nothing(uv_handle_t *h)
{
}

/* The last round has ended after SIGTERM: close every handle; uv_run() returns once they are closed. */
void daemon_on_idle_stopping(Daemon *d)
{
        status_self_stopped(d);
        uv_handle_t *handles[] = {
                (uv_handle_t *)&d->sigterm,        (uv_handle_t *)&d->sigint,
                (uv_handle_t *)&d->sighup,         (uv_handle_t *)&d->scan_timer,
                (uv_handle_t *)&d->resync_timer,   (uv_handle_t *)&d->wake_timer,
                (uv_handle_t *)&d->watchdog_timer, (uv_handle_t *)&d->stop_timer,
                (uv_handle_t *)&d->pump_idle,
        };
        for (size_t i = 0; i < ARRAY_SIZE(handles); i++)
                if (!uv_is_closing(handles[i]))
                        uv_close(handles[i], on_close_nothing);
}

static void on_stop_timer(uv_timer_t *t)
{
        Daemon *d = t->data;
        log_warning(&d->log, "Still waiting for %zu operations to finish", d->n_ops);
}

static void daemon_stop(Daemon *d, const char *why)
{
        if (d->is_stopping)
                return;
        d->is_stopping = true;
        (void)notify_send("STOPPING=1\nSTATUS=Stopping");
        log_info(&d->log, "%s: stopping (containers keep running)", why);
        watcher_stop(d->watcher);
        d->watcher = NULL;
        uv_timer_t *timers[] = {&d->scan_timer, &d->resync_timer, &d->wake_timer, &d->watchdog_timer};
        for (size_t i = 0; i < ARRAY_SIZE(timers); i++)
                uv_timer_stop(timers[i]);
        uv_idle_stop(&d->pump_idle);
        /* in-flight containerd calls end with -ECANCELED now, plugin chains are killed */
        daemon_cancel_ops(d);
        daemon_ctrd_stop(d);
        if (d->n_ops == 0)
                daemon_on_idle_stopping(d);
        else
                (void)uv_timer_start(&d->stop_timer, on_stop_timer, DAEMON_STOP_GRACE_MS,
                                     DAEMON_STOP_GRACE_MS);
}

static void on_resync_timer(uv_timer_t *t)
{
        daemon_request_scan(t->data, true);
}

static void arm_resync(Daemon *d)
{
        uint64_t ms = (uint64_t)d->config.resync_interval_ms;
        if (ms)
                (void)uv_timer_start(&d->resync_timer, on_resync_timer, ms, ms);
        else
                uv_timer_stop(&d->resync_timer);
}

/* SIGHUP: the file again; what can change at run time changes, the rest waits for a restart. */
static void daemon_reload(Daemon *d)
{
        DaemonConfig c;
        _cleanup_free_ char *error = NULL;
        int r = config_load(&d->sources, &c, &error);
        if (r < 0) {
                daemon_set_last_error(d, "reloading the configuration: %s", error ? error : strerror(-r));
                log_error(&d->log, "Failed to reload the configuration, keeping the current one: %s",
                          error ? error : strerror(-r));
                return;
        }
        static const struct {
                ConfigOption o;
                size_t offset;
        } fixed[] = {
                {OPT_RUN_PATH, offsetof(DaemonConfig, run_path)},
                {OPT_CONTAINERD_SOCKET, offsetof(DaemonConfig, containerd_socket)},
                {OPT_STATE_DIR, offsetof(DaemonConfig, state_dir)},
                {OPT_CGROUP_ROOT, offsetof(DaemonConfig, cgroup_root)},
                {OPT_CNI_CONF_DIR, offsetof(DaemonConfig, cni_conf_dir)},
                {OPT_NETNS_DIR, offsetof(DaemonConfig, netns_dir)},
                {OPT_RUNC_ROOT, offsetof(DaemonConfig, runc_root)},
        };
        for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
                char **now = (char **)((char *)&d->config + fixed[i].offset);
                char **want = (char **)((char *)&c + fixed[i].offset);
                if (!streq(*now, *want))
                        log_warning(&d->log, "--%s changes only with a restart (keeping %s)",
                                    config_option_flag(fixed[i].o), *now);
                free(*want);
                *want = TAKE_PTR(*now);
        }
        free(c.config_file);
        c.config_file = TAKE_PTR(d->config.config_file);
        config_done(&d->config);
        d->config = c;
        d->log.max_level = c.log_level;
        arm_resync(d);
        log_info(&d->log, "Reloaded the configuration%s%s: resyncing", c.config_file ? " from " : "",
                 strempty(c.config_file));
        daemon_request_scan(d, true);
}

static void on_signal(uv_signal_t *s, int signum)
{
        Daemon *d = s->data;
        if (signum == SIGHUP) {
                (void)notify_send("RELOADING=1");
                daemon_reload(d);
                (void)notify_send("READY=1");
                return;
        }
        daemon_stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void on_watchdog_timer(uv_timer_t *t)
{
        (void)notify_send("WATCHDOG=1");
}

static int setup_handles(Daemon *d)
{
        uv_timer_t *timers[] = {&d->scan_timer, &d->resync_timer, &d->wake_timer, &d->watchdog_timer,
                                &d->stop_timer};
        for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
                uv_timer_init(&d->loop, timers[i]);
                timers[i]->data = d;
        }
        uv_idle_init(&d->loop, &d->pump_idle);
        d->pump_idle.data = d;
        struct {
                uv_signal_t *h;
                int signum;
        } sigs[] = {{&d->sigterm, SIGTERM}, {&d->sigint, SIGINT}, {&d->sighup, SIGHUP}};
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
                uv_signal_init(&d->loop, sigs[i].h);
                sigs[i].h->data = d;
                int r = uv_signal_start(sigs[i].h, on_signal, sigs[i].signum);
                if (r < 0)
                        return log_error_errno(&d->log, r, "Failed to handle signal %d: %m", sigs[i].signum);
        }
        arm_resync(d);
        if (notify_watchdog_enabled(&d->watchdog_usec) > 0 && d->watchdog_usec >= 2000) {
                uint64_t ms = d->watchdog_usec / 2000;
                (void)uv_timer_start(&d->watchdog_timer, on_watchdog_timer, ms, ms);
        }
        return 0;
}

static int open_drivers(Daemon *d)
{
        int r = store_open(d->config.run_path, true, &d->store);
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to open the run path %s: %m", d->config.run_path);
        r = cg_manager_new(NULL, d->config.cgroup_root, &d->cg);
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to set up the cgroup driver (%s): %m",
                                       d->config.cgroup_root);
        log_info(&d->log, "cgroups: %s mode, root \"%s\"", cg_mode_to_string(cg_mode(d->cg)),
                 d->config.cgroup_root);
        r = cni_isolation_new(&(CniIsolationConfig){0}, &d->iso);
        if (r < 0)
                log_warning_errno(&d->log, r, "Spaces will not be isolated from each other (iptables): %m");
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        dirty_queue_init(&d->queue, 2 * (size_t)(n > 0 ? n : 1));
        return resource_table_init(&d->table);
}

static int daemon_run(Daemon *d)
{
        pid_t holder = 0;
        int r = pidlock_acquire(d->config.state_dir, &holder);
        if (r == -EWOULDBLOCK) {
                fprintf(stderr, "kukeond is already running (pid %d) on %s\n", (int)holder,
                        d->config.state_dir);
                return r;
        }
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to lock %s/kukeond.pid: %m", d->config.state_dir);
        d->pid_fd = r;
        d->started_at = time_now();
        struct timespec now;
        (void)clock_gettime(CLOCK_REALTIME, &now);
        d->started_at_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        log_stamp(&d->log, "daemon - start pid=%d", (int)getpid()); /* BENCH STAMP */
        if ((r = open_drivers(d)) < 0 || (r = uv_loop_init(&d->loop)) < 0)
                return r;
        d->has_loop = true;
        if ((r = setup_handles(d)) < 0)
                return r;
        r = watcher_start(&d->loop, d->config.run_path, d->config.state_dir, daemon_on_watch_event, d,
                          &d->watcher);
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to watch %s: %m", d->config.run_path);
        if ((r = daemon_scan(d, false)) < 0 || (r = daemon_ctrd_start(d)) < 0)
                return r;
        log_info(&d->log, "kukeond %s started: run path %s, state dir %s, containerd %s", KUKEON_VERSION,
                 d->config.run_path, d->config.state_dir, d->config.containerd_socket);
        daemon_self_status_update(d);
        (void)notify_send("READY=1");
        return uv_run(&d->loop, UV_RUN_DEFAULT);
}

static void walk_report(uv_handle_t *h, void *userdata)
{
        Daemon *d = userdata;
        log_error(&d->log, "A %s handle is still open at exit", uv_handle_type_name(h->type));
}

static int daemon_done(Daemon *d)
{
        int r = 0;
        if (d->has_loop) {
                if (!d->is_stopping)
                        daemon_stop(d, "exiting");
                (void)uv_run(&d->loop, UV_RUN_DEFAULT);
                if ((r = uv_loop_close(&d->loop)) < 0)
                        uv_walk(&d->loop, walk_report, d);
        }
        ns_snapshots_done(d);
        resource_table_done(&d->table);
        cg_manager_free(d->cg);
        if (d->iso)
                cni_isolation_free(d->iso);
        store_free(d->store);
        free(d->self_status);
        if (d->pid_fd >= 0)
                close(d->pid_fd);
        config_done(&d->config);
        config_sources_done(&d->sources);
        return r;
}

int main(int argc, char **argv)
{
        Daemon d = {.pid_fd = -EBADF};
        _cleanup_free_ char *error = NULL;
        log_init(&d.log);
        (void)signal(SIGPIPE, SIG_IGN); /* a peer going away is EPIPE, not our death */

        int r = config_parse_args(argc, argv, &d.sources, &error);
        if (r == CONFIG_HELP || r == CONFIG_VERSION) {
                fputs(r == CONFIG_HELP ? config_usage() : "kukeond " KUKEON_VERSION "\n", stdout);
                config_sources_done(&d.sources);
                return 0;
        }
        if (r >= 0)
                r = config_read_env(&d.sources, environ);
        if (r >= 0)
                r = config_load(&d.sources, &d.config, &error);
        if (r < 0) {
                fprintf(stderr, "kukeond: error: %s\n", error ? error : strerror(-r));
                config_sources_done(&d.sources);
                return 2;
        }
        d.log.max_level = d.config.log_level;
        notify_open(&d.log);
        r = daemon_run(&d);
        int k = daemon_done(&d);
        return r < 0 || k < 0 ? 1 : 0;
}
