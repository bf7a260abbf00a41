/* From spooled files to an import plan: the OCI image layout (oci-layout, index.json, blobs/sha256/…).
 * The docker archive is in archive-docker.c. Every blob used is checked against its descriptor (sha256
 * and size). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "drivers/containerd/archive-plan.h"
#include "drivers/containerd/ctrd.h"

ImageArchive *image_archive_free(ImageArchive *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_blobs; i++) {
                free(a->blobs[i].media_type);
                for (size_t j = 0; j < a->blobs[i].n_labels; j++) {
                        free(a->blobs[i].labels[j].key);
                        free(a->blobs[i].labels[j].value);
                }
                free(a->blobs[i].labels);
        }
        free(a->blobs);
        for (size_t i = 0; i < a->n_manifests; i++) {
                oci_manifest_done(&a->manifests[i].manifest);
                oci_config_done(&a->manifests[i].config);
        }
        free(a->manifests);
        for (size_t i = 0; i < a->n_images; i++) {
                free(a->images[i].name);
                oci_descriptor_done(&a->images[i].target);
        }
        free(a->images);
        if (a->spool_fd >= 0)
                close(a->spool_fd);
        free(a);
        return NULL;
}

/* Grows an array by one zeroed element. Plans are small: a handful of blobs per image. */
static int grow(void **p, size_t n, size_t size)
{
        void *q = realloc(*p, (n + 1) * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        memset((char *)q + n * size, 0, size);
        return 0;
}

/* ---- the plan ---- */

int plan_add_blob(Resolver *R, const OciDescriptor *d, uint64_t offset, const char *kind,
                  ImageArchiveBlob **ret)
{
        ImageArchive *a = R->out;
        *ret = NULL;
        for (size_t i = 0; i < a->n_blobs; i++)
                if (streq(a->blobs[i].digest, d->digest))
                        return 0;
        if (grow((void **)&a->blobs, a->n_blobs, sizeof(*a->blobs)) < 0)
                return -ENOMEM;
        ImageArchiveBlob *b = &a->blobs[a->n_blobs];
        if (!(b->media_type = strdup(d->media_type)))
                return -ENOMEM;
        memcpy(b->digest, d->digest, SHA256_HEX_MAX);
        b->size = d->size;
        b->offset = offset;
        b->kind = kind;
        a->n_blobs++;
        a->total_size += (uint64_t)d->size;
        *ret = b;
        return 0;
}

int plan_blob_label(ImageArchiveBlob *b, const char *key, const char *value)
{
        if (grow((void **)&b->labels, b->n_labels, sizeof(*b->labels)) < 0)
                return -ENOMEM;
        ImageArchiveLabel *l = &b->labels[b->n_labels];
        l->key = strdup(key);
        l->value = strdup(value);
        b->n_labels++; /* freed by image_archive_free() even when half set */
        return l->key && l->value ? 0 : -ENOMEM;
}

/* Records a selected manifest (taking over m and c), with its layer, config and manifest blobs and the
 * manifest's GC labels (containerd-api.md §3 b3); *ret is its index in the plan. */
int plan_add_manifest(Resolver *R, const OciDescriptor *desc, uint64_t offset, OciManifest *m,
                      OciImageConfig *c, const uint64_t *layer_offsets, uint64_t config_offset, size_t *ret)
{
        ImageArchive *a = R->out;
        for (size_t i = 0; i < a->n_manifests; i++)
                if (streq(a->manifests[i].digest, desc->digest)) {
                        oci_manifest_done(m);
                        oci_config_done(c);
                        *ret = i;
                        return 0;
                }
        ImageArchiveBlob *b;
        int r = 0;
        for (size_t i = 0; r >= 0 && i < m->n_layers; i++)
                r = plan_add_blob(R, &m->layers[i], layer_offsets[i], "layer", &b);
        if (r >= 0)
                r = plan_add_blob(R, &m->config, config_offset, "config", &b);
        if (r >= 0)
                r = plan_add_blob(R, desc, offset, "manifest", &b);
        if (r >= 0 && b)
                r = plan_blob_label(b, "containerd.io/gc.ref.content.config", m->config.digest);
        for (size_t i = 0; r >= 0 && b && i < m->n_layers; i++) {
                char key[64];
                snprintf(key, sizeof(key), "containerd.io/gc.ref.content.l.%zu", i);
                r = plan_blob_label(b, key, m->layers[i].digest);
        }
        if (r >= 0)
                r = grow((void **)&a->manifests, a->n_manifests, sizeof(*a->manifests));
        if (r < 0) {
                oci_manifest_done(m);
                oci_config_done(c);
                return r;
        }
        ImageArchiveManifest *am = &a->manifests[a->n_manifests];
        memcpy(am->digest, desc->digest, SHA256_HEX_MAX);
        am->manifest = *m;
        am->config = *c;
        *m = (OciManifest){0};
        *c = (OciImageConfig){0};
        *ret = a->n_manifests++;
        return 0;
}

/* Adds an image record; a name seen before is pointed at the new target (the last one wins, as in ctr). */
int plan_add_image(Resolver *R, const char *name, const OciDescriptor *target, size_t manifest)
{
        ImageArchive *a = R->out;
        ImageArchiveImage *img = NULL;
        for (size_t i = 0; i < a->n_images && !img; i++)
                if (streq(a->images[i].name, name))
                        img = &a->images[i];
        if (!img) {
                if (grow((void **)&a->images, a->n_images, sizeof(*a->images)) < 0)
                        return -ENOMEM;
                img = &a->images[a->n_images++];
                if (!(img->name = strdup(name)))
                        return -ENOMEM;
        }
        oci_descriptor_done(&img->target);
        img->target.media_type = strdup(target->media_type);
        memcpy(img->target.digest, target->digest, SHA256_HEX_MAX);
        img->target.size = target->size;
        img->manifest = manifest;
        return img->target.media_type ? 0 : -ENOMEM;
}

/* Notes an image left out for its platform. */
void plan_foreign(Resolver *R, const char *os, const char *arch, const char *variant)
{
        if (R->n_foreign++ == 0)
                snprintf(R->foreign, sizeof(R->foreign), "%s/%s%s%s", strempty(os), strempty(arch),
                         variant && *variant ? "/" : "", strempty(variant));
}

/* ---- blobs ---- */

int blob_check(Resolver *R, const ImageArchiveFile *f, const OciDescriptor *d, const char *what)
{
        if (!streq(f->digest, d->digest)) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: %s has digest %s, not %s", what, f->path,
                         f->digest, d->digest);
                return -EBADMSG;
        }
        if (f->size != d->size) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: %s is %lld bytes, not %lld", what, f->path,
                         (long long)f->size, (long long)d->size);
                return -EBADMSG;
        }
        return 0;
}

/* The layout's blob file of d, checked against it. */
static int layout_blob(Resolver *R, const OciDescriptor *d, const char *what, const ImageArchiveFile **ret)
{
        char path[128];
        snprintf(path, sizeof(path), "blobs/sha256/%s", d->digest + 7);
        const ImageArchiveFile *f = image_archive_files_find(R->files, path);
        if (!f) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: blob %s is not in the archive (%s)", what,
                         d->digest, path);
                return -ENOENT;
        }
        *ret = f;
        return blob_check(R, f, d, what);
}

static int layout_blob_load(Resolver *R, const OciDescriptor *d, const char *what,
                            const ImageArchiveFile **ret, char **ret_data)
{
        int r = layout_blob(R, d, what, ret);
        if (r >= 0)
                r = image_archive_file_load(R->files, *ret, R->max_json, ret_data, R->message);
        return r;
}

/* ---- OCI layout ---- */

/* A manifest of the layout with its config and layers. Returns 0, 1 when the config names another
 * platform (skipped), or < 0. */
static int layout_manifest(Resolver *R, const OciDescriptor *desc, size_t *ret)
{
        const ImageArchiveFile *mf, *cf;
        _cleanup_free_ char *mdata = NULL, *cdata = NULL;
        _cleanup_free_ uint64_t *offsets = NULL;
        OciManifest m = {0};
        OciImageConfig c = {0};
        int r = layout_blob_load(R, desc, "manifest", &mf, &mdata);
        if (r >= 0)
                r = oci_manifest_parse(mdata, (size_t)mf->size, mf->path, &m, R->message);
        if (r >= 0)
                r = layout_blob_load(R, &m.config, "config", &cf, &cdata);
        if (r >= 0)
                r = oci_config_parse(cdata, (size_t)cf->size, cf->path, &c, R->message);
        if (r >= 0 && (c.os || c.architecture) && !oci_platform_is_host(c.os, c.architecture, c.variant)) {
                plan_foreign(R, c.os, c.architecture, c.variant);
                r = 1;
        }
        if (r == 0 && c.n_diff_ids != m.n_layers) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "%s: %zu layers but %zu diff_ids in its config %s",
                         mf->path, m.n_layers, c.n_diff_ids, cf->path);
                r = -EINVAL;
        }
        if (r == 0 && !(offsets = calloc(m.n_layers + 1, sizeof(*offsets))))
                r = -ENOMEM;
        for (size_t i = 0; r == 0 && i < m.n_layers; i++) {
                const ImageArchiveFile *lf;
                char what[64];
                snprintf(what, sizeof(what), "layer %zu of manifest %.19s", i, desc->digest);
                if ((r = layout_blob(R, &m.layers[i], what, &lf)) == 0)
                        offsets[i] = lf->offset;
        }
        if (r != 0) {
                oci_manifest_done(&m);
                oci_config_done(&c);
                return r;
        }
        OciDescriptor md = *desc;
        if (!*md.media_type)
                md.media_type = OCI_MEDIA_MANIFEST;
        return plan_add_manifest(R, &md, mf->offset, &m, &c, offsets, cf->offset, ret);
}

/* An index of the layout: the first linux/amd64 manifest in it. Every child is named in the index blob's
 * GC labels, fetched or not (as containerd does). Returns 0, 1 when none is for this platform, or < 0. */
static int layout_index(Resolver *R, const OciDescriptor *desc, size_t *ret)
{
        const ImageArchiveFile *f;
        _cleanup_free_ char *data = NULL;
        OciIndex idx = {0};
        int r = layout_blob_load(R, desc, "index", &f, &data);
        if (r >= 0)
                r = oci_index_parse(data, (size_t)f->size, f->path, &idx, R->message);
        if (r < 0)
                return r;
        r = 1;
        for (size_t i = 0; r == 1 && i < idx.n_manifests; i++) {
                const OciDescriptor *m = &idx.manifests[i];
                if (oci_kind_from_media_type(m->media_type) != OCI_KIND_MANIFEST)
                        continue;
                if (m->os && !oci_platform_is_host(m->os, m->architecture, m->variant)) {
                        plan_foreign(R, m->os, m->architecture, m->variant);
                        continue;
                }
                r = layout_manifest(R, m, ret);
        }
        ImageArchiveBlob *b = NULL;
        if (r == 0)
                r = plan_add_blob(R, desc, f->offset, "index", &b);
        for (size_t i = 0; r == 0 && b && i < idx.n_manifests; i++) {
                char key[64];
                snprintf(key, sizeof(key), "containerd.io/gc.ref.content.m.%zu", i);
                r = plan_blob_label(b, key, idx.manifests[i].digest);
        }
        oci_index_done(&idx);
        return r;
}

/* The name of an index.json entry: io.containerd.image.name, else org.opencontainers.image.ref.name (a
 * tag alone only with a base name). NULL when it has none. */
static int layout_entry_name(Resolver *R, const OciDescriptor *d, size_t i, char **ret)
{
        _cleanup_free_ char *joined = NULL;
        const char *name = d->image_name;
        *ret = NULL;
        if (!name && d->ref_name) {
                if (strpbrk(d->ref_name, "/:@"))
                        name = d->ref_name;
                else if (R->opts->base_name) {
                        if (asprintf(&joined, "%s:%s", R->opts->base_name, d->ref_name) < 0)
                                return -ENOMEM;
                        name = joined;
                }
        }
        if (!name)
                return 0;
        int r = ctrd_image_ref_normalize(name, ret);
        if (r < 0)
                snprintf(R->message, IMAGE_MESSAGE_MAX,
                         "index.json: manifests[%zu]: invalid image name \"%s\"", i, name);
        return r;
}

static int layout_entry(Resolver *R, const OciDescriptor *d, size_t i)
{
        _cleanup_free_ char *name = NULL;
        int r = layout_entry_name(R, d, i, &name);
        if (r < 0 || !name)
                return r;
        if (d->os && !oci_platform_is_host(d->os, d->architecture, d->variant)) {
                plan_foreign(R, d->os, d->architecture, d->variant);
                return 0;
        }
        size_t manifest;
        switch (oci_kind_from_media_type(d->media_type)) {
        case OCI_KIND_INDEX:
                r = layout_index(R, d, &manifest);
                break;
        case OCI_KIND_MANIFEST:
                r = layout_manifest(R, d, &manifest);
                break;
        default:
                snprintf(R->message, IMAGE_MESSAGE_MAX,
                         "index.json: manifests[%zu]: unsupported media type \"%s\"", i, d->media_type);
                return -EINVAL;
        }
        return r == 0 ? plan_add_image(R, name, d, manifest) : r < 0 ? r : 0;
}

static int layout_version(Resolver *R, const ImageArchiveFile *f)
{
        _cleanup_free_ char *data = NULL;
        int r = image_archive_file_load(R->files, f, 4096, &data, R->message);
        if (r < 0)
                return r;
        if (!strstr(data, "\"imageLayoutVersion\"") || !strstr(data, "\"1.0.0\"")) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "oci-layout: expected imageLayoutVersion 1.0.0");
                return -EINVAL;
        }
        return 0;
}

int layout_resolve(Resolver *R, const ImageArchiveFile *layout)
{
        int r = layout_version(R, layout);
        if (r < 0)
                return r;
        const ImageArchiveFile *f = image_archive_files_find(R->files, "index.json");
        if (!f) {
                snprintf(R->message, IMAGE_MESSAGE_MAX, "index.json is missing from the OCI image layout");
                return -ENOENT;
        }
        _cleanup_free_ char *data = NULL;
        OciIndex idx = {0};
        r = image_archive_file_load(R->files, f, R->max_json, &data, R->message);
        if (r >= 0)
                r = oci_index_parse(data, (size_t)f->size, "index.json", &idx, R->message);
        for (size_t i = 0; r >= 0 && i < idx.n_manifests; i++)
                r = layout_entry(R, &idx.manifests[i], i);
        oci_index_done(&idx);
        return r;
}

/* ---- both ---- */

int image_archive_resolve(ImageArchiveFiles *files, const ImageArchiveOptions *opts, ImageArchive **ret,
                          char message[static IMAGE_MESSAGE_MAX])
{
        Resolver R = {.files = files, .opts = opts, .message = message};
        R.max_json = opts->max_json_size ? opts->max_json_size : IMAGE_JSON_MAX_DEF;
        R.out = calloc(1, sizeof(*R.out));
        if (!R.out)
                return -ENOMEM;
        R.out->spool_fd = -EBADF;
        const ImageArchiveFile *layout = image_archive_files_find(files, "oci-layout");
        const ImageArchiveFile *docker = image_archive_files_find(files, "manifest.json");
        int r;
        if (layout) {
                R.out->format = IMAGE_ARCHIVE_OCI_LAYOUT;
                r = layout_resolve(&R, layout);
        } else if (docker) {
                R.out->format = IMAGE_ARCHIVE_DOCKER;
                r = docker_resolve(&R, docker);
        } else {
                snprintf(message, IMAGE_MESSAGE_MAX,
                         "unknown archive format: neither an OCI image layout "
                         "(oci-layout) nor a docker archive (manifest.json)");
                r = -EINVAL;
        }
        if (r >= 0 && R.out->n_images == 0) {
                if (R.n_foreign > 0) {
                        snprintf(message, IMAGE_MESSAGE_MAX, "no image for %s/%s in the archive (found %s)",
                                 IMAGE_PLATFORM_OS, IMAGE_PLATFORM_ARCH, R.foreign);
                        r = -ENOEXEC;
                } else {
                        snprintf(message, IMAGE_MESSAGE_MAX, "the archive names no image");
                        r = -EINVAL;
                }
        }
        if (r < 0) {
                image_archive_free(R.out);
                return r;
        }
        R.out->spool_fd = TAKE_FD(files->spool_fd);
        *ret = R.out;
        return 0;
}
