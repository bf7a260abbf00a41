/* Importing an image archive (containerd-api.md §3 c):
 *
 *   threadpool: image_archive_read() — untar into a spool file, check everything (archive.h)
 *   loop:       Leases.Create → each blob: ctrd_content_write() (children first, GC labels on manifests and
 *               indexes) → each manifest: ctrd_image_unpack() → each name: ctrd_image_ensure() →
 *               Leases.Delete
 *
 * Nothing reaches containerd before the whole archive has been read and checked, so a truncated, unsafe
 * or inconsistent archive leaves no trace. A failure after that deletes the lease synchronously (the
 * writer has already aborted its ingest), which makes containerd collect whatever the import wrote. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/containerd/archive.h"
#include "drivers/containerd/ctrd-internal.h"

struct CtrdImport {
        GrpcConn *conn;
        uv_loop_t *loop;
        char *ns, *path, *tmp_dir, *base_name, *snapshotter;
        bool no_unpack;
        ctrd_import_progress_cb on_progress;
        ctrd_import_cb cb;
        void *userdata;

        /* reading, on the threadpool */
        uv_work_t work;
        uv_async_t progress_async; /* the worker's progress, to the loop */
        atomic_bool cancel;
        _Atomic uint64_t read_done, read_total;
        int work_result;
        char message[IMAGE_MESSAGE_MAX];
        ImageArchive *archive;

        /* writing, on the loop */
        char lease[CTRD_LEASE_ID_MAX];
        bool has_lease;
        bool is_cancelled;
        bool is_changed;
        size_t step; /* the blob, manifest or image being worked on */
        uint64_t written;
        size_t layers_done, layers_total;
        CtrdContentWriter *writer;
        char (*chains)[SHA256_HEX_MAX]; /* per manifest */
        int result;
};

static void import_free(CtrdImport *imp)
{
        image_archive_free(imp->archive);
        free(imp->chains);
        free(imp->ns);
        free(imp->path);
        free(imp->tmp_dir);
        free(imp->base_name);
        free(imp->snapshotter);
        free(imp);
}

static void on_async_closed(uv_handle_t *h)
{
        import_free(h->data);
}

static void import_report(CtrdImport *imp, int r, const char *message)
{
        const ImageArchive *a = imp->archive;
        size_t n = r >= 0 && a ? a->n_images : 0;
        _cleanup_free_ CtrdImportedImage *images = calloc(n + 1, sizeof(*images));
        if (!images) {
                r = -ENOMEM;
                message = "out of memory";
                n = 0;
        }
        for (size_t i = 0; i < n; i++) {
                const ImageArchiveImage *img = &a->images[i];
                images[i] =
                        (CtrdImportedImage){img->name,
                                            {img->target.media_type, img->target.digest, img->target.size},
                                            imp->no_unpack ? "" : imp->chains[img->manifest]};
        }
        imp->cb(r, message, images, n, imp->userdata);
        uv_close((uv_handle_t *)&imp->progress_async, on_async_closed);
}

static void on_lease_deleted(int r, const char *message, void *userdata)
{
        CtrdImport *imp = userdata;
        if (imp->result >= 0 && r < 0) {
                snprintf(imp->message, sizeof(imp->message), "deleting the import lease: %s", message);
                imp->result = r;
        }
        import_report(imp, imp->result, imp->result < 0 ? imp->message : "");
}

/* Ends the import with r: the lease goes (synchronously on failure, so that containerd collects at once
 * what it held), then cb. */
static void import_end(CtrdImport *imp, int r, const char *message)
{
        imp->writer = NULL;
        imp->result = r;
        if (message != imp->message)
                snprintf(imp->message, sizeof(imp->message), "%s", message);
        if (!imp->has_lease || ctrd_lease_delete(imp->conn, imp->ns, imp->lease, r < 0, CTRD_MISSING_OK,
                                                 on_lease_deleted, imp) < 0)
                import_report(imp, r, imp->message);
}

static void import_fail(CtrdImport *imp, int r, const char *what, const char *detail)
{
        snprintf(imp->message, sizeof(imp->message), "%s%s%s", what, detail ? ": " : "", strempty(detail));
        import_end(imp, r, imp->message);
}

static void progress(CtrdImport *imp, CtrdImportPhase phase, uint64_t done, uint64_t total)
{
        if (imp->on_progress)
                imp->on_progress(phase, done, total, imp->userdata);
}

/* ---- image records ---- */

static void images_next(CtrdImport *imp);

static void on_image_ensured(int r, const char *message, void *userdata)
{
        CtrdImport *imp = userdata;
        if (r < 0) {
                char what[300];
                snprintf(what, sizeof(what), "image %s", imp->archive->images[imp->step].name);
                import_fail(imp, r, what, message);
                return;
        }
        imp->is_changed |= r > 0;
        imp->step++;
        images_next(imp);
}

static void images_next(CtrdImport *imp)
{
        const ImageArchive *a = imp->archive;
        if (imp->is_cancelled) {
                import_fail(imp, -ECANCELED, "cancelled", NULL);
                return;
        }
        if (imp->step == a->n_images) {
                import_end(imp, imp->is_changed, "");
                return;
        }
        const ImageArchiveImage *img = &a->images[imp->step];
        const CtrdDescriptor target = {img->target.media_type, img->target.digest, img->target.size};
        int r = ctrd_image_ensure(imp->conn, imp->ns, img->name, &target, NULL, 0, on_image_ensured, imp);
        if (r < 0)
                import_fail(imp, r, "cannot create the image record", NULL);
}

/* ---- unpack ---- */

static void unpack_next(CtrdImport *imp);

static void on_unpack_progress(uint64_t done, uint64_t total, void *userdata)
{
        CtrdImport *imp = userdata;
        progress(imp, CTRD_IMPORT_UNPACK, imp->layers_done + done, imp->layers_total);
}

static void on_unpacked(int r, const char *message, const char *chain_id, void *userdata)
{
        CtrdImport *imp = userdata;
        if (r < 0) {
                char what[128];
                snprintf(what, sizeof(what), "unpacking manifest %s",
                         imp->archive->manifests[imp->step].digest);
                import_fail(imp, r, what, message);
                return;
        }
        imp->is_changed |= r > 0;
        snprintf(imp->chains[imp->step], SHA256_HEX_MAX, "%s", chain_id);
        imp->layers_done += imp->archive->manifests[imp->step].manifest.n_layers;
        imp->step++;
        unpack_next(imp);
}

static void unpack_next(CtrdImport *imp)
{
        const ImageArchive *a = imp->archive;
        if (imp->is_cancelled) {
                import_fail(imp, -ECANCELED, "cancelled", NULL);
                return;
        }
        if (imp->no_unpack || imp->step == a->n_manifests) {
                imp->step = 0;
                images_next(imp);
                return;
        }
        const ImageArchiveManifest *m = &a->manifests[imp->step];
        _cleanup_free_ CtrdDescriptor *layers = calloc(m->manifest.n_layers + 1, sizeof(*layers));
        _cleanup_free_ const char **ids = calloc(m->manifest.n_layers + 1, sizeof(*ids));
        if (!layers || !ids) {
                import_fail(imp, -ENOMEM, "out of memory", NULL);
                return;
        }
        for (size_t i = 0; i < m->manifest.n_layers; i++) {
                const OciDescriptor *l = &m->manifest.layers[i];
                layers[i] = (CtrdDescriptor){l->media_type, l->digest, l->size};
                ids[i] = m->config.diff_ids[i];
        }
        const CtrdUnpack u = {.snapshotter = imp->snapshotter,
                              .lease = imp->lease,
                              .layers = layers,
                              .diff_ids = ids,
                              .n_layers = m->manifest.n_layers,
                              .config_digest = m->manifest.config.digest,
                              .on_progress = on_unpack_progress};
        int r = ctrd_image_unpack(imp->conn, imp->ns, &u, on_unpacked, imp);
        if (r < 0)
                import_fail(imp, r, "cannot start the unpack", NULL);
}

/* ---- blobs ---- */

static void blobs_next(CtrdImport *imp);

static void on_blob_progress(uint64_t done, uint64_t total, void *userdata)
{
        CtrdImport *imp = userdata;
        progress(imp, CTRD_IMPORT_WRITE, imp->written + done, imp->archive->total_size);
}

static void on_blob_written(int r, const char *message, void *userdata)
{
        CtrdImport *imp = userdata;
        const ImageArchiveBlob *b = &imp->archive->blobs[imp->step];
        imp->writer = NULL;
        if (r < 0) {
                char what[128];
                snprintf(what, sizeof(what), "writing %s %s", b->kind, b->digest);
                import_fail(imp, r, what, message);
                return;
        }
        imp->is_changed |= r > 0;
        imp->written += (uint64_t)b->size;
        progress(imp, CTRD_IMPORT_WRITE, imp->written, imp->archive->total_size);
        imp->step++;
        blobs_next(imp);
}

static void blobs_next(CtrdImport *imp)
{
        const ImageArchive *a = imp->archive;
        if (imp->is_cancelled) {
                import_fail(imp, -ECANCELED, "cancelled", NULL);
                return;
        }
        if (imp->step == a->n_blobs) {
                imp->step = 0;
                unpack_next(imp);
                return;
        }
        const ImageArchiveBlob *b = &a->blobs[imp->step];
        char ref[128];
        /* The Go client's ref names (remotes.MakeRefKey): one writer per blob across pulls and imports. */
        snprintf(ref, sizeof(ref), "%s-%s", b->kind, b->digest);
        _cleanup_free_ CtrdLabel *labels = calloc(b->n_labels + 1, sizeof(*labels));
        if (!labels) {
                import_fail(imp, -ENOMEM, "out of memory", NULL);
                return;
        }
        for (size_t i = 0; i < b->n_labels; i++)
                labels[i] = (CtrdLabel){b->labels[i].key, b->labels[i].value};
        const CtrdContentWrite w = {.ns = imp->ns,
                                    .lease = imp->lease,
                                    .ref = ref,
                                    .digest = b->digest,
                                    .size = b->size,
                                    .labels = labels,
                                    .n_labels = b->n_labels,
                                    .fd = a->spool_fd,
                                    .fd_offset = b->offset,
                                    .on_progress = on_blob_progress};
        int r = ctrd_content_write(imp->conn, imp->loop, &w, on_blob_written, imp, &imp->writer);
        if (r < 0)
                import_fail(imp, r, "cannot start writing a blob", NULL);
}

/* ---- the lease ---- */

static void on_lease(int r, const char *message, const char *id, void *userdata)
{
        CtrdImport *imp = userdata;
        if (r < 0) {
                import_fail(imp, r, "creating the import lease", message);
                return;
        }
        snprintf(imp->lease, sizeof(imp->lease), "%s", id);
        imp->has_lease = true;
        imp->step = 0;
        blobs_next(imp);
}

/* ---- reading, on the threadpool ---- */

static void on_read_progress(uint64_t done, uint64_t total, void *userdata)
{
        CtrdImport *imp = userdata;
        atomic_store(&imp->read_done, done);
        atomic_store(&imp->read_total, total);
        (void)uv_async_send(&imp->progress_async);
}

static void on_progress_async(uv_async_t *async)
{
        CtrdImport *imp = async->data;
        progress(imp, CTRD_IMPORT_READ, atomic_load(&imp->read_done), atomic_load(&imp->read_total));
}

static void read_work(uv_work_t *work)
{
        CtrdImport *imp = work->data;
        int fd = open(imp->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                imp->work_result = negative_errno();
                snprintf(imp->message, sizeof(imp->message), "%s: %s", imp->path,
                         strerror(-imp->work_result));
                return;
        }
        const ImageArchiveOptions opts = {.tmp_dir = imp->tmp_dir,
                                          .base_name = imp->base_name,
                                          .cancel = &imp->cancel,
                                          .on_progress = on_read_progress,
                                          .userdata = imp};
        imp->work_result = image_archive_read(fd, &opts, &imp->archive, imp->message);
        close(fd);
}

static void on_read_done(uv_work_t *work, int status)
{
        CtrdImport *imp = work->data;
        on_progress_async(&imp->progress_async); /* the last count, if the async was coalesced away */
        int r = status < 0 ? status : imp->work_result;
        if (r >= 0 && imp->is_cancelled)
                r = -ECANCELED;
        if (r < 0) {
                import_end(imp, r, imp->message[0] ? imp->message : strerror(-r));
                return;
        }
        if (!(imp->chains = calloc(imp->archive->n_manifests + 1, SHA256_HEX_MAX)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < imp->archive->n_manifests; i++)
                imp->layers_total += imp->archive->manifests[i].manifest.n_layers;
        if (r >= 0)
                r = ctrd_lease_create(imp->conn, imp->ns, 0, on_lease, imp);
        if (r < 0)
                import_fail(imp, r, "cannot create the import lease", NULL);
}

/* ---- the operation ---- */

static int import_copy(CtrdImport *imp, const CtrdImportOptions *o)
{
        imp->ns = o->ns ? strdup(o->ns) : NULL;
        imp->path = strdup(o->path);
        imp->tmp_dir = o->tmp_dir ? strdup(o->tmp_dir) : NULL;
        imp->base_name = o->base_name ? strdup(o->base_name) : NULL;
        imp->snapshotter = o->snapshotter ? strdup(o->snapshotter) : NULL;
        return (o->ns && !imp->ns) || !imp->path || (o->tmp_dir && !imp->tmp_dir) ||
                               (o->base_name && !imp->base_name) || (o->snapshotter && !imp->snapshotter)
                       ? -ENOMEM
                       : 0;
}

int ctrd_image_import(GrpcConn *conn, uv_loop_t *loop, const CtrdImportOptions *o, ctrd_import_cb cb,
                      void *userdata, CtrdImport **ret)
{
        if (!conn || !loop || !o || !o->path || !*o->path || !cb)
                return -EINVAL;
        CtrdImport *imp = calloc(1, sizeof(*imp));
        if (!imp)
                return -ENOMEM;
        *imp = (CtrdImport){.conn = conn,
                            .loop = loop,
                            .no_unpack = o->no_unpack,
                            .on_progress = o->on_progress,
                            .cb = cb,
                            .userdata = userdata};
        atomic_init(&imp->cancel, false);
        int r = import_copy(imp, o);
        if (r >= 0)
                r = uv_async_init(loop, &imp->progress_async, on_progress_async);
        if (r < 0) {
                import_free(imp);
                return r;
        }
        imp->progress_async.data = imp;
        imp->work.data = imp;
        r = uv_queue_work(loop, &imp->work, read_work, on_read_done);
        if (r < 0) {
                uv_close((uv_handle_t *)&imp->progress_async, on_async_closed);
                return r;
        }
        if (ret)
                *ret = imp;
        return 0;
}

void ctrd_image_import_cancel(CtrdImport *imp)
{
        if (!imp || imp->is_cancelled)
                return;
        imp->is_cancelled = true;
        atomic_store(&imp->cancel, true);
        if (imp->writer)
                ctrd_content_writer_cancel(imp->writer);
        /* Otherwise the step under way ends and the next one sees is_cancelled. */
}
