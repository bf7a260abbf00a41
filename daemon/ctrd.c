/* The containerd connection: created once, reconnecting by itself (drivers/containerd/grpc.h). On READY
 * the daemon subscribes to events first, then resyncs everything (containerd does not replay events). */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"

#define CTRD_TIMEOUT_MS 30000

static void subscribe(Daemon *d);

typedef struct NsMatch {
        Daemon *d;
        const char *ns;
        const char *container_id;
        bool mark; /* mark the targets dirty (else only note that something concerning them happened) */
} NsMatch;

/* The event's targets: the cells of the realm whose namespace is m->ns — when the container id names one
 * (<space>_<stack>_<cell>_<container>), only that cell — and for a namespace event the realm. */
static void on_event_target(Resource *r, void *userdata)
{
        NsMatch *m = userdata;
        char ns[NAME_MAX_LEN + 16], cell_prefix[3 * (NAME_MAX_LEN + 1) + 1];
        if (r->id.kind != KIND_CELL && r->id.kind != KIND_REALM)
                return;
        /* only noting: what matters is a cell that carries an observation or is taking one */
        if (!m->mark && (r->id.kind == KIND_REALM || (!r->op && !r->carry)))
                return;
        ResourceId realm = {.kind = KIND_REALM};
        snprintf(realm.realm, sizeof(realm.realm), "%s", r->id.realm);
        snprintf(realm.name, sizeof(realm.name), "%s", r->id.realm);
        Resource *owner = r->id.kind == KIND_REALM ? r : resource_find(&m->d->table, &realm);
        if (!owner || !streq(resource_namespace(owner, ns, sizeof(ns)), m->ns))
                return;
        if (r->id.kind == KIND_REALM) {
                if (!*m->container_id && m->mark)
                        daemon_mark_dirty(m->d, r); /* a namespace event */
                return;
        }
        snprintf(cell_prefix, sizeof(cell_prefix), "%s_%s_%s_", r->id.space, r->id.stack, r->id.cell);
        if (!*m->container_id || strncmp(m->container_id, cell_prefix, strlen(cell_prefix)) == 0 ||
            !strchr(m->container_id, '_')) {
                r->ctrd_epoch++; /* an observation carried over (observe-cell.c) is stale */
                if (m->mark)
                        daemon_mark_dirty(m->d, r);
        }
}

static void on_event(const CtrdEvent *ev, void *userdata)
{
        Daemon *d = userdata;
        log_stamp(&d->log, "daemon - ctrd-event %s %s/%s", ev->topic, ev->ns,
                  ev->container_id); /* BENCH STAMP */
        d->ctrd_seq++;               /* what namespace snapshots said may be stale now */
        NsMatch m = {d, ev->ns, ev->container_id, false};
        switch (ev->type) {
        case CTRD_EVENT_TASK_EXIT:
        case CTRD_EVENT_TASK_OOM:
        case CTRD_EVENT_TASK_DELETE:
        case CTRD_EVENT_CONTAINER_DELETE:
                log_debug(&d->log, "containerd event %s %s/%s", ev->topic, ev->ns, ev->container_id);
                m.mark = true;
                break;
        case CTRD_EVENT_NAMESPACE_DELETE:
        case CTRD_EVENT_NAMESPACE_CREATE:
                d->ctrd_gen++;
                m = (NsMatch){d, ev->name, "", true};
                break;
        default:
                /* not ours to act on (our own starts and creates, mostly), but what a cell carried
                 * over from its last round may be stale now; a topic that names no container could
                 * concern any cell */
                if (!*ev->container_id) {
                        d->ctrd_gen++;
                        return;
                }
                break;
        }
        resource_foreach(&d->table, on_event_target, &m);
        if (m.mark)
                daemon_pump(d);
}

static void on_events_end(int r, const char *message, void *userdata)
{
        Daemon *d = userdata;
        d->events = NULL;
        if (r == -ECANCELED || d->is_stopping)
                return;
        log_debug(&d->log, "The containerd event stream ended: %s", *message ? message : strerror(-r));
        /* a lost connection re-subscribes on READY; anything else: subscribe again now */
        if (r != -ENOTCONN && d->is_ctrd_ready)
                subscribe(d);
}

static void subscribe(Daemon *d)
{
        static const char *const filters[] = {"topic~=\"^/tasks/\"", "topic~=\"^/containers/\"",
                                              "topic~=\"^/namespaces/\""};
        int r = ctrd_events_subscribe(d->ctrd, filters, ARRAY_SIZE(filters), on_event, on_events_end, d,
                                      &d->events);
        if (r < 0)
                log_warning_errno(&d->log, r, "Failed to subscribe to containerd events: %m");
}

static void on_ctrd_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
        Daemon *d = userdata;
        if (d->is_stopping)
                return;
        if (state == GRPC_CONN_READY) {
                log_stamp(&d->log, "daemon - ctrd-ready"); /* BENCH STAMP */
                d->is_ctrd_ready = true;
                d->ctrd_gen++; /* events may have been missed meanwhile */
                d->ctrd_error[0] = '\0';
                log_info(&d->log, "Connected to containerd at %s: resyncing", d->config.containerd_socket);
                /* subscribe first, then list: what changes in between is in the stream */
                subscribe(d);
                d->is_started = true;
                daemon_request_scan(d, true);
        } else if (state == GRPC_CONN_TRANSIENT_FAILURE) {
                if (d->is_ctrd_ready || !d->ctrd_error[0])
                        log_warning(&d->log, "containerd at %s is not reachable (%s); retrying",
                                    d->config.containerd_socket, strerror(-reason));
                d->is_ctrd_ready = false;
                snprintf(d->ctrd_error, sizeof(d->ctrd_error), "%s", strerror(-reason));
                if (!d->is_started) {
                        /* no containerd to wait for: what needs none converges, the rest says why */
                        d->is_started = true;
                        daemon_request_scan(d, true);
                }
                daemon_self_status_update(d);
        }
}

int daemon_ctrd_start(Daemon *d)
{
        GrpcConnOptions o = {
                .address = d->config.containerd_socket,
                .default_timeout_ms = CTRD_TIMEOUT_MS,
                .on_state = on_ctrd_state,
                .userdata = d,
        };
        int r = grpc_conn_new(&d->loop, &o, &d->ctrd);
        if (r < 0)
                return log_error_errno(&d->log, r, "Failed to set up the containerd connection: %m");
        return 0;
}

void daemon_ctrd_stop(Daemon *d)
{
        if (d->events) {
                ctrd_events_unsubscribe(d->events);
                d->events = NULL;
        }
        if (d->ctrd) {
                GrpcConn *c = TAKE_PTR(d->ctrd);
                d->is_ctrd_ready = false;
                grpc_conn_close(c); /* calls in flight complete with -ECANCELED */
        }
}
