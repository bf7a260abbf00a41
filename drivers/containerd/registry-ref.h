/* Image references of a registry pull (pure; a fuzz target): which registry to talk to, which repository
 * and which tag or digest, and which of the realm's credentials belong to that registry.
 *
 *   "busybox"                          → docker.io/library/busybox:latest, from registry-1.docker.io
 *   "127.0.0.1:5055/kukeon/busybox:t"  → 127.0.0.1:5055/kukeon/busybox:t, from 127.0.0.1:5055
 *   "x/y@sha256:<hex>"                 → docker.io/x/y@sha256:<hex>, resolved by digest
 *
 * Normalization is ctrd_image_ref_normalize()'s (docker's rules); this splits its result. */
#pragma once

#include <stdbool.h>

#define REGISTRY_DOCKER_DOMAIN "docker.io"
#define REGISTRY_DOCKER_HOST   "registry-1.docker.io"

typedef struct RegistryRef {
        char *name;       /* normalized, the image record's name: "docker.io/library/busybox:latest" */
        char *domain;     /* "docker.io", "127.0.0.1:5055" */
        char *host;       /* what to connect to: "registry-1.docker.io", "127.0.0.1:5055" */
        char *repository; /* "library/busybox" */
        char *tag;        /* "latest"; NULL for a reference by digest only */
        char *digest;     /* "sha256:<hex>" when the reference names one, else NULL */
} RegistryRef;

/* Parses and normalizes ref into *ret (release with registry_ref_done(), which accepts a zeroed struct).
 * Returns 0, -EINVAL for an invalid reference, -ENOMEM. */
int registry_ref_parse(const char *ref, RegistryRef *ret);
void registry_ref_done(RegistryRef *ref);

/* What the manifest is fetched by: the digest when the reference has one, else the tag. */
const char *registry_ref_object(const RegistryRef *ref);

/* The domain without its port ("127.0.0.1:5055" → "127.0.0.1"), as containerd names the
 * containerd.io/distribution.source.<host> label. Returns a new string or NULL when out of memory. */
char *registry_ref_source_host(const RegistryRef *ref);

/* Whether host ("localhost:5000", "127.0.0.1", "[::1]:80") is a loopback name or address. */
bool registry_host_is_loopback(const char *host);

/* Whether a credential entry for server (a realm's registryCredentials[].serverAddress: "r.io",
 * "r.io:5000", "https://r.io/v1/", "docker.io", "index.docker.io", …) belongs to the registry of ref.
 * Scheme, trailing path and case are ignored; docker.io's aliases are one registry. */
bool registry_server_matches(const char *server, const RegistryRef *ref);
