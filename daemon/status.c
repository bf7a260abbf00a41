/* Status files: what each round ends with, written atomically and only when it changed. */
#include <ctype.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "state/schema.h"

static int mark(Document *d, const char *field)
{
        int i = schema_field_index(status_schema(d->kind), field);
        if (i < 0)
                return i;
        field_mark_set(&d->status, (size_t)i);
        return 0;
}

static int set_str(Document *d, char **slot, const char *field, const char *value)
{
        if (!value || !*value)
                return 0;
        if (!(*slot = strdup(value)))
                return -ENOMEM;
        return mark(d, field);
}

static int set_time(Document *d, int64_t *slot, const char *field, int64_t value)
{
        if (!value)
                return 0;
        *slot = value;
        return mark(d, field);
}

/* "cgroup-ensure" → "CgroupEnsureFailed". */
static void failed_reason(int action, char *buf, size_t size)
{
        const char *name = action >= 0 ? action_type_to_string((ActionType)action) : "observe";
        size_t k = 0;
        bool upper = true;
        for (const char *p = name; p && *p && k + 7 < size; p++) {
                if (*p == '-') {
                        upper = true;
                        continue;
                }
                buf[k++] = upper ? (char)toupper((unsigned char)*p) : *p;
                upper = false;
        }
        snprintf(buf + k, size - k, "Failed");
}

static int cs_mark(ContainerStatus *cs, const char *field)
{
        int i = schema_field_index(&container_status_schema, field);
        if (i < 0)
                return i;
        field_mark_set(cs, (size_t)i);
        return 0;
}

static int cs_str(ContainerStatus *cs, char **slot, const char *field, const char *value)
{
        if (!value || !*value)
                return 0;
        if (!(*slot = strdup(value)))
                return -ENOMEM;
        return cs_mark(cs, field);
}

static int cs_int(ContainerStatus *cs, int64_t *slot, const char *field, int64_t value, bool present)
{
        if (!present)
                return 0;
        *slot = value;
        return cs_mark(cs, field);
}

/* "SIGKILL" for an exit status of 137. */
static const char *exit_signal(int32_t code, char *buf, size_t size)
{
        const char *abbrev = code > 128 && code < 128 + 65 ? sigabbrev_np(code - 128) : NULL;
        if (!abbrev)
                return NULL;
        snprintf(buf, size, "SIG%s", abbrev);
        return buf;
}

/* One entry of a cell status' containers, from the daemon's record of it. */
static int container_status_fill(ContainerStatus *cs, const ContainerRecord *cr)
{
        char sig[32];
        int k = cs_str(cs, &cs->name, "name", cr->name);
        if (k >= 0)
                k = cs_str(cs, &cs->containerd_id, "containerdId", cr->containerd_id);
        if (k >= 0) {
                cs->state = cr->state;
                k = cs_mark(cs, "state");
        }
        if (k >= 0)
                k = cs_int(cs, &cs->pid, "pid", cr->pid, cr->pid > 0 && cr->state == STATE_READY);
        if (k >= 0)
                k = cs_str(cs, &cs->image_digest, "imageDigest", cr->image_digest);
        if (k >= 0)
                k = cs_int(cs, &cs->restart_count, "restartCount", cr->restarts.restart_count, true);
        if (k >= 0)
                k = cs_int(cs, &cs->restart_time, "restartTime", cr->restarts.last_restart_at,
                           cr->restarts.last_restart_at > 0);
        if (k >= 0)
                k = cs_int(cs, &cs->start_time, "startTime", cr->started_at, cr->started_at > 0);
        if (k >= 0)
                k = cs_int(cs, &cs->finish_time, "finishTime", cr->finished_at,
                           cr->has_exit && cr->finished_at > 0);
        if (k >= 0)
                k = cs_int(cs, &cs->exit_code, "exitCode", cr->exit_code, cr->has_exit);
        if (k >= 0 && cr->has_exit)
                k = cs_str(cs, &cs->exit_signal, "exitSignal", exit_signal(cr->exit_code, sig, sizeof(sig)));
        return k;
}

/* The cell's containers, in spec order. */
static int add_containers(Document *doc, const Resource *r)
{
        const CellSpec *spec = r->spec && r->desire == DESIRE_PRESENT ? &r->spec->spec.cell : NULL;
        Status *st = &doc->status;
        if (!spec || !spec->n_containers)
                return 0;
        if (!(st->containers = calloc(spec->n_containers, sizeof(*st->containers))))
                return -ENOMEM;
        for (size_t i = 0; i < spec->n_containers; i++) {
                const ContainerSpec *c = &spec->containers[i];
                ContainerRecord none = {.state = STATE_PENDING};
                const ContainerRecord *cr = NULL;
                for (size_t k = 0; k < r->rec.n_containers && !cr; k++)
                        if (streq(r->rec.containers[k].name, c->id))
                                cr = &r->rec.containers[k];
                if (!cr) {
                        snprintf(none.name, sizeof(none.name), "%s", c->id);
                        if (c->external)
                                none.state = STATE_READY;
                        cr = &none;
                }
                st->n_containers++;
                int k = container_status_fill(&st->containers[i], cr);
                if (k < 0)
                        return k;
        }
        return mark(doc, "containers");
}

/* The primitives a resource maps to, from its record. */
static int add_primitives(Document *doc, const Resource *r)
{
        Status *st = &doc->status;
        const Recorded *rec = &r->rec;
        int k = set_str(doc, &st->cgroup_path, "cgroupPath", rec->cgroup_path);
        switch (r->id.kind) {
        case KIND_REALM: {
                char ns[sizeof(rec->namespace)];
                if (k >= 0)
                        k = set_str(doc, &st->namespace, "namespace", resource_namespace(r, ns, sizeof(ns)));
                break;
        }
        case KIND_SPACE:
                if (k >= 0)
                        k = set_str(doc, &st->network, "network", rec->network);
                if (k >= 0)
                        k = set_str(doc, &st->bridge, "bridge", rec->bridge);
                if (k >= 0)
                        k = set_str(doc, &st->subnet, "subnet", rec->subnet);
                if (k >= 0)
                        k = set_str(doc, &st->gateway, "gateway", rec->gateway);
                if (k >= 0)
                        k = set_str(doc, &st->cni_config_path, "cniConfigPath", rec->conflist_path);
                break;
        case KIND_CELL: {
                const ContainerSpec *root = r->spec ? cell_root_container(&r->spec->spec.cell) : NULL;
                if (k >= 0 && rec->netns[0] && r->spec && !(root && root->host_network))
                        k = set_str(doc, &st->netns, "netns", rec->netns);
                if (k >= 0)
                        k = set_str(doc, &st->ip, "ip", rec->ip);
                if (k >= 0 && root)
                        k = set_str(doc, &st->root_container_id, "rootContainerId", root->id);
                if (k >= 0)
                        k = set_str(doc, &st->restarted_at, "restartedAt", rec->restarted_at);
                if (k >= 0)
                        k = add_containers(doc, r);
                break;
        }
        case KIND_IMAGE:
                k = set_str(doc, &st->digest, "digest", rec->image_digest);
                if (k >= 0 && rec->progress_total > 0) {
                        st->progress.bytes_done = rec->progress_done;
                        st->progress.bytes_total = rec->progress_total;
                        st->progress.set = 3; /* bytesDone, bytesTotal */
                        k = mark(doc, "progress");
                }
                break;
        default:
                break;
        }
        return k;
}

/* Builds the status document; writes it when it differs from the last one (updatedAt aside). */
static int status_write(Daemon *d, Resource *r, const char *digest, State state, const char *reason,
                        const char *message)
{
        char rel[PATH_MAX];
        _cleanup_document_ Document *doc = NULL;
        int64_t now = time_now();

        /* Never write into a directory that is going: store_write_file() would create it again, and a
         * file (or a temp file) written while `rm -r` empties it makes the rm fail. So a resource whose
         * manifest is gone gets no new status; its teardown ends by removing the old one. */
        if (!r->in_tree || (r->desire == DESIRE_ABSENT && !r->has_spec_file))
                return 0;
        int k = document_new(r->id.kind, r->id.name, &doc);
        if (k < 0)
                return k;
        Status *st = &doc->status;
        if (!r->rec.created_at)
                r->rec.created_at = now;
        if (state == STATE_READY &&
            (!r->status || r->status->status.state != STATE_READY || !r->rec.ready_at))
                r->rec.ready_at = now;
        st->state = state;
        if ((k = set_str(doc, &st->observed_digest, "observedDigest", digest)) < 0 ||
            (k = mark(doc, "state")) < 0 || (k = set_str(doc, &st->reason, "reason", reason)) < 0 ||
            (k = set_str(doc, &st->message, "message", message)) < 0 ||
            (k = set_time(doc, &st->created_at, "createdAt", r->rec.created_at)) < 0 ||
            (k = set_time(doc, &st->ready_at, "readyAt", r->rec.ready_at)) < 0 ||
            (k = add_primitives(doc, r)) < 0)
                return k;
        field_mark_set(doc, (size_t)schema_field_index(document_schema(r->id.kind), "status"));

        /* compare with updatedAt taken from the old one */
        int64_t old_updated = r->status ? r->status->status.updated_at : 0;
        (void)set_time(doc, &st->updated_at, "updatedAt", old_updated);
        _cleanup_free_ char *new_text = document_to_yaml(doc, EMIT_STATUS_FILE);
        _cleanup_free_ char *old_text = r->status ? document_to_yaml(r->status, EMIT_STATUS_FILE) : NULL;
        if (!new_text)
                return -ENOMEM;
        if (old_text && streq(old_text, new_text) && !r->needs_status_write)
                return 0;
        /* the last scan may be a moment old: the manifest is looked for right before the write, so
         * that a status does not land in a directory whose manifest an `rm -r` has already removed */
        if (store_spec_path(&r->id, rel, sizeof(rel)) < 0 || !store_exists(d->store, rel))
                return 0;
        st->updated_at = now;
        (void)mark(doc, "updatedAt");
        if ((k = store_write_status(d->store, &r->id, doc)) < 0)
                return k;
        document_free(r->status);
        r->status = TAKE_PTR(doc);
        r->needs_status_write = false;
        return 1;
}

static bool parent_is_busy(Daemon *d, const Resource *r)
{
        const Resource *p = resource_parent(d, r);
        return p && (p->op || p->qi.is_queued);
}

int status_update(Daemon *d, Resource *r, const Op *op)
{
        char reason[64];
        const char *message = op->plan.message;
        State state = op->plan.state;
        snprintf(reason, sizeof(reason), "%s", op->plan.reason);

        if (op->did_remove_files && !r->has_spec_file)
                return 0; /* gone, status file and all */
        if (op->error) {
                bool transient = (op->error == -ENOTCONN || op->error == -ECANCELED) && !d->is_ctrd_ready;
                state = op->desire != DESIRE_PRESENT ? STATE_DELETING
                        : transient                  ? STATE_PENDING
                                                     : STATE_FAILED;
                if (transient)
                        snprintf(reason, sizeof(reason), "ContainerdUnavailable");
                else
                        failed_reason(op->failed_action, reason, sizeof(reason));
                message = op->message;
        } else if (op->missing) {
                char m[512];
                snprintf(m, sizeof(m), "%s: %s", action_type_to_string((ActionType)op->missing_action),
                         op->missing);
                return status_write(d, r, op->digest, STATE_PENDING, "NotImplemented", m);
        } else if (op->plan.n > 0 && !r->needs_status_write) {
                /* the next round follows at once: only where it settles is worth a write (and a
                 * repair of what was Ready never flaps through Pending) */
                return 0;
        } else if (streq(op->plan.reason, "WaitingForParent") && parent_is_busy(d, r)) {
                /* the parent is on its way: it marks its children when it is up */
                return 0;
        } else if (op->desire == DESIRE_ABSENT && r->has_spec_file && op->did_remove_files) {
                state = STATE_FAILED;
                snprintf(reason, sizeof(reason), "ParentMissing");
                message = r->error ? r->error : "its parent's manifest is missing";
        }
        return status_write(d, r, op->digest, state, reason, message);
}

int status_update_frozen(Daemon *d, Resource *r)
{
        return status_write(d, r, r->digest, STATE_FAILED,
                            r->desire == DESIRE_INVALID ? "InvalidManifest" : "InvalidParent",
                            r->error ? r->error : "invalid manifest");
}

static void self_cell_stopped(Resource *r, void *userdata)
{
        Daemon *d = userdata;
        const CellSpec *spec = r->id.kind == KIND_CELL && r->spec && r->desire == DESIRE_PRESENT && r->status
                                       ? &r->spec->spec.cell
                                       : NULL;
        bool is_self = false;
        for (size_t i = 0; spec && i < spec->n_containers; i++) {
                ContainerRecord *cr = spec->containers[i].external
                                              ? cell_container_record(r, spec->containers[i].id, true)
                                              : NULL;
                if (!cr)
                        continue;
                cr->state = STATE_STOPPED;
                cr->pid = 0;
                cr->finished_at = time_now();
                is_self = true;
        }
        if (is_self &&
            status_write(d, r, r->digest, STATE_STOPPED, "DaemonStopped", "kukeond is not running") < 0)
                log_warning(&d->log, "Failed to write the status of the kukeond cell");
}

void status_self_stopped(Daemon *d)
{
        resource_foreach(&d->table, self_cell_stopped, d);
}

int status_progress(Daemon *d, Resource *r, const char *message)
{
        uint64_t now = uv_now(&d->loop);
        if (r->progress_written_ms && now - r->progress_written_ms < STATUS_PROGRESS_INTERVAL_MS)
                return 0; /* at most one write a second */
        r->progress_written_ms = now;
        return status_write(d, r, r->digest, STATE_PENDING,
                            r->id.kind == KIND_IMAGE ? "Pulling" : "PullingImage", message);
}
