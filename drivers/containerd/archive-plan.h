/* Internals of the archive resolver shared by archive-layout.c (OCI image layout, the plan) and
 * archive-docker.c (docker archive). */
#pragma once

#include "drivers/containerd/archive.h"

typedef struct Resolver {
        ImageArchiveFiles *files;
        const ImageArchiveOptions *opts;
        ImageArchive *out;
        size_t max_json;
        size_t n_foreign; /* images left out for their platform */
        char foreign[64]; /* the first such platform, for the message */
        char *message;    /* IMAGE_MESSAGE_MAX bytes */
} Resolver;

/* Adds a blob to write (once per digest); *ret is the new blob, NULL when it was there already. */
int plan_add_blob(Resolver *R, const OciDescriptor *d, uint64_t offset, const char *kind,
                  ImageArchiveBlob **ret);
int plan_blob_label(ImageArchiveBlob *b, const char *key, const char *value);
/* Records a selected manifest (desc, at offset in the spool), taking over m and c, with the blobs of its
 * layers, config and itself and the manifest's GC labels; *ret is its index in the plan. */
int plan_add_manifest(Resolver *R, const OciDescriptor *desc, uint64_t offset, OciManifest *m,
                      OciImageConfig *c, const uint64_t *layer_offsets, uint64_t config_offset, size_t *ret);
int plan_add_image(Resolver *R, const char *name, const OciDescriptor *target, size_t manifest);
void plan_foreign(Resolver *R, const char *os, const char *arch, const char *variant);
/* -EBADMSG unless file f has d's digest and size. */
int blob_check(Resolver *R, const ImageArchiveFile *f, const OciDescriptor *d, const char *what);

int layout_resolve(Resolver *R, const ImageArchiveFile *layout);
int docker_resolve(Resolver *R, const ImageArchiveFile *manifest_json);
