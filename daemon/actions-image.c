/* Images: what a cell's containers need, and Image resources (<realm>/images/<name>.yaml).
 *
 * A container's image comes from the realm's Image manifest with the same reference when there is one
 * (that resource imports or pulls it, and marks the realm's cells when it is Ready), else it is pulled
 * from its registry with the realm's registryCredentials. One job per namespace and image: every round
 * that needs it waits on the same pull or import. Registries on loopback (127.0.0.0/8, localhost, ::1)
 * are spoken to over plain HTTP; every other one over HTTPS. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon/daemon.h"
#include "drivers/containerd/pull.h"

struct ImageJob {
        ImageJob *next;
        Daemon *d;
        char *ns, *name;
        char *archive; /* import from this path; NULL: pull name */
        CtrdPull *pull;
        CtrdImport *import;
        ActionCall **waiters;
        size_t n_waiters;
        bool is_done;
};

typedef struct ImageMatch {
        const ResourceId *cell;
        const char *name; /* normalized */
        Resource *found;
} ImageMatch;

static void match_image(Resource *r, void *userdata)
{
        ImageMatch *m = userdata;
        _cleanup_free_ char *ref = NULL;
        if (m->found || r->id.kind != KIND_IMAGE || !streq(r->id.realm, m->cell->realm) || !r->spec ||
            r->desire != DESIRE_PRESENT || !r->spec->spec.image.reference)
                return;
        if (ctrd_image_ref_normalize(r->spec->spec.image.reference, &ref) >= 0 && streq(ref, m->name))
                m->found = r;
}

Resource *realm_image_for(Daemon *d, const ResourceId *id, const char *ref)
{
        _cleanup_free_ char *name = NULL;
        if (ctrd_image_ref_normalize(ref, &name) < 0)
                return NULL;
        ImageMatch m = {id, name, NULL};
        resource_foreach(&d->table, match_image, &m);
        return m.found;
}

static void job_free(ImageJob *j)
{
        free(j->ns);
        free(j->name);
        free(j->archive);
        free(j->waiters);
        free(j);
}

/* Completes every round waiting on the job and forgets it. */
static void job_finish(ImageJob *j, int r, const char *message)
{
        Daemon *d = j->d;
        for (ImageJob **p = &d->image_jobs; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        break;
                }
        for (size_t i = 0; i < j->n_waiters; i++) {
                Resource *res = j->waiters[i]->op->res;
                res->rec.progress_done = res->rec.progress_total = 0;
                res->progress_written_ms = 0;
                action_call_done(j->waiters[i], r, message);
        }
        job_free(j);
}

static void job_progress(ImageJob *j, uint64_t done, uint64_t total)
{
        char m[512];
        snprintf(m, sizeof(m), "%s %s: %" PRIu64 " of %" PRIu64 " bytes",
                 j->archive ? "importing" : "pulling", j->name, done, total);
        for (size_t i = 0; i < j->n_waiters; i++) {
                Resource *res = j->waiters[i]->op->res;
                res->rec.progress_done = (int64_t)done;
                res->rec.progress_total = (int64_t)total;
                (void)status_progress(j->d, res, m);
        }
}

static void on_pull_progress(uint64_t done, uint64_t total, void *userdata)
{
        job_progress(userdata, done, total);
}

static void on_pulled(int r, const char *message, const CtrdPulledImage *image, void *userdata)
{
        ImageJob *j = userdata;
        (void)image;
        j->pull = NULL;
        job_finish(j, r < 0 ? r : 1, message);
}

static void on_import_progress(CtrdImportPhase phase, uint64_t done, uint64_t total, void *userdata)
{
        if (phase == CTRD_IMPORT_WRITE)
                job_progress(userdata, done, total);
}

static void on_named(int r, const char *message, void *userdata)
{
        ImageJob *j = userdata;
        char m[512];
        snprintf(m, sizeof(m), "naming the imported image %s: %s", j->name, message);
        job_finish(j, r < 0 ? r : 1, m);
}

static void on_imported(int r, const char *message, const CtrdImportedImage *images, size_t n,
                        void *userdata)
{
        ImageJob *j = userdata;
        j->import = NULL;
        if (r < 0) {
                job_finish(j, r, message);
                return;
        }
        const CtrdImportedImage *pick = NULL;
        for (size_t i = 0; i < n && !pick; i++)
                if (streq(images[i].name, j->name))
                        pick = &images[i];
        if (!pick && n == 1)
                pick = &images[0];
        if (!pick) {
                char m[512];
                snprintf(m, sizeof(m), "the archive %s holds %zu images and none is named %s", j->archive, n,
                         j->name);
                job_finish(j, -ENOENT, m);
                return;
        }
        /* the archive may name the image otherwise: the reference containers use must name it too */
        r = ctrd_image_ensure(j->d->ctrd, j->ns, j->name, &pick->target, NULL, 0, on_named, j);
        if (r < 0)
                job_finish(j, r, "naming the imported image");
}

static bool is_loopback_registry(const char *name)
{
        return startswith(name, "127.") || startswith(name, "localhost/") ||
               startswith(name, "localhost:") || startswith(name, "[::1]");
}

static const Resource *realm_resource(Daemon *d, const ResourceId *id)
{
        ResourceId realm = {.kind = KIND_REALM};
        snprintf(realm.realm, sizeof(realm.realm), "%s", id->realm);
        snprintf(realm.name, sizeof(realm.name), "%s", id->realm);
        return resource_find(&d->table, &realm);
}

static int job_start(ImageJob *j, const ResourceId *id, char *msg, size_t msg_size)
{
        Daemon *d = j->d;
        int r;
        if (j->archive) {
                CtrdImportOptions o = {.ns = j->ns, .path = j->archive, .on_progress = on_import_progress};
                r = ctrd_image_import(d->ctrd, &d->loop, &o, on_imported, j, &j->import);
                if (r < 0)
                        snprintf(msg, msg_size, "importing %s: %s", j->archive, strerror(-r));
                return r;
        }
        const Resource *realm = realm_resource(d, id);
        const RealmSpec *rs = realm && realm->spec ? &realm->spec->spec.realm : NULL;
        size_t n_creds = rs ? rs->n_registry_credentials : 0;
        _cleanup_free_ PullCredentials *creds = n_creds ? calloc(n_creds, sizeof(*creds)) : NULL;
        if (n_creds && !creds)
                return -ENOMEM;
        for (size_t i = 0; i < n_creds; i++)
                creds[i] = (PullCredentials){rs->registry_credentials[i].server_address,
                                             rs->registry_credentials[i].username,
                                             rs->registry_credentials[i].password};
        const PullCredentials *c = creds ? pull_credentials_select(creds, n_creds, j->name) : NULL;
        PullOptions o = {.plain_http = is_loopback_registry(j->name), .on_progress = on_pull_progress};
        r = ctrd_image_pull(d->ctrd, &d->loop, j->ns, j->name, c, &o, on_pulled, j, &j->pull);
        if (r < 0)
                snprintf(msg, msg_size, "pulling %s: %s", j->name, strerror(-r));
        return r;
}

/* Joins the job for (ns, name), or starts one. */
static int image_job_join(Op *op, const Action *a, const char *ns, const char *name, const char *archive,
                          char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        ImageJob *j;
        for (j = d->image_jobs; j; j = j->next)
                if (streq(j->ns, ns) && streq(j->name, name))
                        break;
        bool is_new = !j;
        if (is_new) {
                if (!(j = calloc(1, sizeof(*j))))
                        return -ENOMEM;
                j->d = d;
                j->ns = strdup(ns);
                j->name = strdup(name);
                j->archive = archive ? strdup(archive) : NULL;
                if (!j->ns || !j->name || (archive && !j->archive)) {
                        job_free(j);
                        return -ENOMEM;
                }
        }
        ActionCall **w = realloc(j->waiters, (j->n_waiters + 1) * sizeof(*w));
        ActionCall *call = w ? action_call_new(op, a) : NULL;
        if (w)
                j->waiters = w;
        if (!call) {
                if (is_new)
                        job_free(j);
                return -ENOMEM;
        }
        j->waiters[j->n_waiters++] = call;
        if (!is_new)
                return ACTION_ASYNC;
        int r = job_start(j, &a->id, msg, msg_size);
        if (r < 0) {
                free(call);
                job_free(j);
                return r;
        }
        j->next = d->image_jobs;
        d->image_jobs = j;
        return ACTION_ASYNC;
}

void image_jobs_cancel(Daemon *d)
{
        for (ImageJob *j = d->image_jobs; j; j = j->next) {
                if (j->pull)
                        ctrd_image_pull_cancel(j->pull);
                else if (j->import)
                        ctrd_image_import_cancel(j->import);
        }
}

/* The archive path of an Image's source, NULL for a registry; -EINVAL when malformed. */
static int image_source_archive(const ImageSpec *spec, const char **ret)
{
        *ret = NULL;
        if (!spec->source)
                return 0;
        const char *prefixes[] = {"oci-archive:", "docker-archive:"};
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
                if (startswith(spec->source, prefixes[i])) {
                        *ret = spec->source + strlen(prefixes[i]);
                        return 0;
                }
        return -EINVAL;
}

int action_image_ensure(Op *op, const Action *a, char *msg, size_t msg_size)
{
        Daemon *d = op->d;
        Resource *res = op->res;
        char ns[NAME_MAX_LEN + 16];
        if (!d->ctrd || !d->is_ctrd_ready) {
                snprintf(msg, msg_size, "containerd is not reachable at %s", d->config.containerd_socket);
                return -ENOTCONN;
        }
        realm_namespace(d, &a->id, ns, sizeof(ns));
        if (res->id.kind == KIND_IMAGE) {
                const ImageSpec *spec = &res->spec->spec.image;
                const char *archive = NULL;
                _cleanup_free_ char *name = NULL;
                int r = ctrd_image_ref_normalize(spec->reference, &name);
                if (r < 0) {
                        snprintf(msg, msg_size, "spec.reference: not an image reference: %s",
                                 spec->reference);
                        return r;
                }
                if (image_source_archive(spec, &archive) < 0) {
                        snprintf(msg, msg_size,
                                 "spec.source: expected oci-archive:PATH or docker-archive:PATH");
                        return -EINVAL;
                }
                return image_job_join(op, a, ns, name, archive, msg, msg_size);
        }
        const ContainerSpec *spec = op_container_spec(op, a->container);
        const CellImage *im = spec ? cell_image_find(op, spec->image) : NULL;
        if (!spec || !im)
                return 0;
        if (realm_image_for(d, &a->id, spec->image))
                return 0; /* its Image resource brings it, and marks this cell when it is there */
        return image_job_join(op, a, ns, im->name, NULL, msg, msg_size);
}

/* ---- observing an Image resource ---- */

void observe_image(Op *op)
{
        Resource *r = op->res;
        if (op->desire != DESIRE_PRESENT || !r->spec || !r->spec->spec.image.reference) {
                op_observed(op, 0, NULL);
                return;
        }
        int k = cell_image_add(op, r->spec->spec.image.reference);
        if (k < 0) {
                char m[320];
                snprintf(m, sizeof(m), "spec.reference: not an image reference: %s",
                         r->spec->spec.image.reference);
                op_observed(op, k, m);
                return;
        }
        observe_images_lookup(op);
}
