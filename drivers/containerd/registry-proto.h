/* The pure parts of the registry protocol (distribution spec, containerd-api.md §3 b1/b3): the Accept
 * header of manifest requests, what a manifest response is, the linux/amd64 pick from an index, the GC
 * labels of pulled blobs, and the registry's error bodies and statuses as errno values. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/containerd/archive.h"
#include "drivers/containerd/ctrd.h"

/* What containerd's resolver accepts (remotes/docker/resolver.go). Registry 2.8 answers 404 for an OCI
 * manifest when Accept is missing, so it is always sent. */
#define REGISTRY_ACCEPT_MANIFESTS                                                                           \
        DOCKER_MEDIA_MANIFEST ", " DOCKER_MEDIA_LIST ", " OCI_MEDIA_MANIFEST ", " OCI_MEDIA_INDEX ", */*"
#define DOCKER_MEDIA_SCHEMA1        "application/vnd.docker.distribution.manifest.v1+json"
#define DOCKER_MEDIA_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

#define REGISTRY_MESSAGE_MAX 512

#define REGISTRY_LABEL_SOURCE_PREFIX "containerd.io/distribution.source."

/* The media type of a manifest response: the Content-Type (parameters and case ignored) when it names a
 * manifest or an index, else (absent, "application/json", "text/plain") the document's "mediaType",
 * else an index when it has "manifests" and a manifest when it has "config". Returns 0 with a new string
 * in *ret, -ENOTSUP for docker schema 1, -EBADMSG with a message for anything else (an HTML page,
 * garbage), -ENOMEM. */
int registry_manifest_media_type(const char *content_type, const char *body, size_t len, char **ret,
                                 char message[static REGISTRY_MESSAGE_MAX]);

/* The entry of index to pull (containerd's platforms.Default() on linux/amd64): the first manifest entry
 * for linux/amd64 (variant empty or v1), else the first manifest entry without a platform (its config
 * decides). Returns 0 with its position in *ret, -ENOEXEC with a message listing the platforms there
 * are. */
int registry_index_select(const OciIndex *index, size_t *ret, char message[static REGISTRY_MESSAGE_MAX]);

/* Whether Diff.Apply can take a layer of this media type: OCI layer tar, +gzip, +zstd, docker rootfs diff
 * tar and tar.gzip. */
bool registry_layer_is_supported(const char *media_type);

/* Owned labels, viewable as CtrdLabel. */
typedef struct RegistryLabels {
        CtrdLabel *items; /* keys and values owned */
        size_t n;
} RegistryLabels;

int registry_labels_add(RegistryLabels *l, const char *key, const char *value);
void registry_labels_done(RegistryLabels *l);

/* The labels of a pulled blob (containerd-api.md §3 b3): containerd.io/distribution.source.<source_host>
 * = repository on every blob, plus for an index gc.ref.content.m.<i> for every entry (also those not
 * pulled) and for a manifest gc.ref.content.config and gc.ref.content.l.<i>. index and manifest may be
 * NULL. Returns 0 or -ENOMEM. */
int registry_labels_blob(const char *source_host, const char *repository, const OciIndex *index,
                         const OciManifest *manifest, RegistryLabels *ret);

/* A short text for a registry's error body: "MANIFEST_UNKNOWN: manifest unknown" from the distribution
 * spec's {"errors":[{"code","message"}]}, else the body's first line with control characters replaced,
 * cut to size; "" for an empty body. Returns buf. */
char *registry_error_describe(const char *body, size_t len, char *buf, size_t size);

/* The one place an HTTP status becomes an errno: 0 for 2xx, -EACCES for 401/403, -ENOENT for 404,
 * -EINVAL for 400, -EOPNOTSUPP for 405/501, -ETIMEDOUT for 408/504, -EBUSY for 429, -EAGAIN for 502/503,
 * -EIO for other 5xx, -EPROTO for anything else. */
int registry_http_status_to_errno(long status);
