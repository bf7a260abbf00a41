/* Resolving a reference on its registry to the documents of a linux/amd64 image (containerd-api.md §3
 * b1), all checked against their digests and sizes, nothing written anywhere:
 *
 *   HEAD /v2/<repo>/manifests/<tag>  (Accept: every manifest and index type) → digest, type, size
 *        (no Docker-Content-Digest, or an error status other than 404 and 401: GET it and hash the
 *        body, and a failing GET's error body names the problem; a digest reference skips this)
 *   GET  /v2/<repo>/manifests/<digest> → the target: a manifest, or an index → its linux/amd64 entry
 *   GET  /v2/<repo>/manifests/<entry digest> → the manifest
 *   GET  /v2/<repo>/blobs/<config digest> → the config (rootfs.diff_ids: as many as layers) */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "drivers/containerd/archive.h"
#include "drivers/containerd/registry-client.h"
#include "drivers/containerd/registry-ref.h"

/* One fetched JSON document with its descriptor. */
typedef struct RegistryDoc {
        char *media_type;
        char digest[SHA256_HEX_MAX];
        char *data; /* NUL-terminated */
        size_t size;
} RegistryDoc;

typedef struct RegistryImage {
        RegistryDoc target;   /* what the reference names: the image record's target */
        bool has_index;       /* target is an index */
        OciIndex index;       /* then: its entries */
        size_t selected;      /* and the one pulled */
        RegistryDoc manifest; /* the linux/amd64 manifest (a copy of target when that is one) */
        OciManifest parsed_manifest;
        RegistryDoc config;
        OciImageConfig parsed_config;
} RegistryImage;

void registry_image_done(RegistryImage *image);

typedef struct RegistryResolve RegistryResolve;

/* image is owned by the resolve and released after cb returns; take parts of it by moving them out
 * (and zeroing them) or take all: *mine = *image, *image = (RegistryImage){0}. Errors: the fetches'
 * (registry-client.h: -ENOENT for an unknown manifest, -EACCES, -ECONNREFUSED, …), -EBADMSG for a
 * document whose digest or size is not what was asked or which does not parse, -ENOTSUP for docker
 * schema 1, -ENOEXEC when there is no linux/amd64 image; the message names the URL. */
typedef void (*registry_resolve_cb)(int r, const char *message, RegistryImage *image, void *userdata);

/* Starts resolving ref with client (which must outlive it). Returns 0 with the resolve in *ret (valid
 * until cb runs; may be NULL), or a negative errno (no callback). */
int registry_resolve(RegistryClient *client, const RegistryRef *ref, registry_resolve_cb cb, void *userdata,
                     RegistryResolve **ret);
/* No callback runs any more. Accepts NULL. */
void registry_resolve_cancel(RegistryResolve *res);
