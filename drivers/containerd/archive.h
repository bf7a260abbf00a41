/* Image archives and the JSON documents of images.
 *
 * image_archive_read() turns an OCI image layout tar or a docker-archive tar ("docker save") into a
 * verified import plan: the blobs to write into containerd (children first, with their GC labels), the
 * images to name, and per selected manifest what an unpack needs. It is plain blocking code over
 * libarchive and jansson, meant for a worker thread (ctrd-import.c runs it on the libuv threadpool), and
 * touches neither containerd nor libuv, so the unit tests drive it directly.
 *
 * Every regular file of the tar is spooled into one unlinked temporary file while its sha256 is computed;
 * blobs are then (offset, size) ranges of that file. A docker archive gets a docker schema2 manifest per
 * image, written the way `ctr import` writes it (same bytes, so the same digest), appended to the spool.
 *
 * The oci_* functions parse the image documents (index, manifest, config); the container code and a
 * registry pull use them on blobs read from containerd too.
 *
 * Errors: -EINVAL for a malformed or unsafe archive (absolute or ".." paths, links, special files, an
 * unknown layout, bad JSON), -EIO when the tar stream is truncated or unreadable, -EBADMSG when a blob's
 * sha256 or size is not what its descriptor (or diff_id) says, -ENOENT when a referenced file is missing,
 * -ENOEXEC when no image is for linux/amd64, -EFBIG for an oversized JSON document, -ECANCELED when
 * cancelled; with a message naming the file and the field. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sha256.h"

#define OCI_MEDIA_INDEX         "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_CONFIG        "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_LAYER_ZSTD    "application/vnd.oci.image.layer.v1.tar+zstd"
#define DOCKER_MEDIA_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_LIST       "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_CONFIG     "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_LAYER      "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define ANNOTATION_IMAGE_NAME   "io.containerd.image.name"
#define ANNOTATION_REF_NAME     "org.opencontainers.image.ref.name"

/* The platform we run images for. */
#define IMAGE_PLATFORM_OS   "linux"
#define IMAGE_PLATFORM_ARCH "amd64"

#define IMAGE_MESSAGE_MAX  512
#define IMAGE_JSON_MAX_DEF (4u << 20) /* largest index, manifest or config we parse */

/* ---- image documents (pure) ---- */

typedef struct OciDescriptor {
        char *media_type; /* never NULL after parsing ("" when absent) */
        char digest[SHA256_HEX_MAX];
        int64_t size;
        char *os, *architecture, *variant; /* platform; NULL when the descriptor has none */
        char *image_name;                  /* annotation io.containerd.image.name, or NULL */
        char *ref_name;                    /* annotation org.opencontainers.image.ref.name, or NULL */
} OciDescriptor;

typedef struct OciIndex {
        OciDescriptor *manifests;
        size_t n_manifests;
} OciIndex;

typedef struct OciManifest {
        OciDescriptor config;
        OciDescriptor *layers;
        size_t n_layers;
} OciManifest;

/* The fields of an image config that running it needs. Arrays are NULL when absent or empty. */
typedef struct OciImageConfig {
        char *os, *architecture, *variant; /* NULL when absent */
        char **entrypoint;
        size_t n_entrypoint;
        char **cmd;
        size_t n_cmd;
        char **env;
        size_t n_env;
        char *working_dir, *user, *stop_signal; /* NULL when absent */
        char (*diff_ids)[SHA256_HEX_MAX];
        size_t n_diff_ids;
} OciImageConfig;

typedef enum OciKind {
        OCI_KIND_UNKNOWN,
        OCI_KIND_INDEX,    /* OCI index or docker manifest list */
        OCI_KIND_MANIFEST, /* OCI or docker schema2 manifest */
} OciKind;

OciKind oci_kind_from_media_type(const char *media_type);
/* Whether s is "sha256:" followed by 64 lowercase hex digits. */
bool oci_digest_is_valid(const char *s);
/* Whether os/architecture/variant (variant may be NULL) is linux/amd64. */
bool oci_platform_is_host(const char *os, const char *architecture, const char *variant);

/* Parse the JSON document data[0..len) named file (for messages). Return 0 or -EINVAL with message set;
 * the result owns copies of everything and is released with the matching *_done() (which accepts a
 * zeroed struct). */
int oci_index_parse(const char *data, size_t len, const char *file, OciIndex *ret,
                    char message[static IMAGE_MESSAGE_MAX]);
int oci_manifest_parse(const char *data, size_t len, const char *file, OciManifest *ret,
                       char message[static IMAGE_MESSAGE_MAX]);
int oci_config_parse(const char *data, size_t len, const char *file, OciImageConfig *ret,
                     char message[static IMAGE_MESSAGE_MAX]);
void oci_descriptor_done(OciDescriptor *d);
void oci_index_done(OciIndex *index);
void oci_manifest_done(OciManifest *manifest);
void oci_config_done(OciImageConfig *config);

/* The docker schema2 manifest `ctr import` writes for a docker-archive entry, byte for byte (compact JSON,
 * Go's field order). Returns a new NUL-terminated string in *ret, or -ENOMEM. */
int docker_manifest_build(const OciDescriptor *config, const OciDescriptor *layers, size_t n_layers,
                          char **ret);

/* ---- archives ---- */

typedef enum ImageArchiveFormat {
        IMAGE_ARCHIVE_OCI_LAYOUT,
        IMAGE_ARCHIVE_DOCKER,
} ImageArchiveFormat;

typedef struct ImageArchiveLabel {
        char *key;
        char *value;
} ImageArchiveLabel;

/* One blob to write: bytes [offset, offset + size) of the archive's spool file. */
typedef struct ImageArchiveBlob {
        char *media_type;
        char digest[SHA256_HEX_MAX];
        int64_t size;
        uint64_t offset;
        const char *kind;          /* "layer", "config", "manifest", "index": the ingest ref prefix */
        ImageArchiveLabel *labels; /* GC labels (containerd-api.md §3 b3) */
        size_t n_labels;
} ImageArchiveBlob;

/* One selected linux/amd64 manifest: what an unpack needs. */
typedef struct ImageArchiveManifest {
        char digest[SHA256_HEX_MAX];
        OciManifest manifest; /* config and layer descriptors */
        OciImageConfig config;
} ImageArchiveManifest;

/* One image record to create. */
typedef struct ImageArchiveImage {
        char *name;           /* normalized: docker.io/library/busybox:latest */
        OciDescriptor target; /* the manifest or index it names */
        size_t manifest;      /* index into ImageArchive.manifests */
} ImageArchiveImage;

typedef struct ImageArchive {
        ImageArchiveFormat format;
        int spool_fd;            /* every blob's bytes; owned, close-on-exec */
        ImageArchiveBlob *blobs; /* children before parents, each digest once */
        size_t n_blobs;
        ImageArchiveManifest *manifests;
        size_t n_manifests;
        ImageArchiveImage *images;
        size_t n_images;
        uint64_t total_size; /* sum of the blob sizes */
} ImageArchive;

typedef void (*image_archive_progress_cb)(uint64_t done, uint64_t total, void *userdata);

typedef struct ImageArchiveOptions {
        const char *tmp_dir;       /* where the spool file lives; NULL: $TMPDIR, else /var/tmp */
        const char *base_name;     /* "docker.io/kukeon/busybox": a tag-only ref name "v1" becomes
                                    * "docker.io/kukeon/busybox:v1"; NULL: such entries stay unnamed */
        size_t max_json_size;      /* 0: IMAGE_JSON_MAX_DEF */
        const atomic_bool *cancel; /* polled: when true, stop with -ECANCELED */
        image_archive_progress_cb on_progress; /* archive bytes consumed; runs on the reading thread */
        void *userdata;
} ImageArchiveOptions;

/* Reads the tar (optionally gzip/bzip2/xz/zstd-compressed) from fd (not closed; read sequentially), checks
 * it and returns the plan in *ret (free with image_archive_free()). Entries without a usable name are not
 * imported; an archive with no named linux/amd64 image fails. See the top of this file for the errors.
 * Blocking. */
int image_archive_read(int fd, const ImageArchiveOptions *opts, ImageArchive **ret,
                       char message[static IMAGE_MESSAGE_MAX]);
/* Closes the spool file and frees everything. Accepts NULL; returns NULL. */
ImageArchive *image_archive_free(ImageArchive *archive);

/* ---- internals shared by archive-read.c and archive-layout.c ---- */

/* One regular file of the tar, spooled. */
typedef struct ImageArchiveFile {
        char *path; /* normalized: "blobs/sha256/<hex>", "index.json" */
        uint64_t offset;
        int64_t size;
        char digest[SHA256_HEX_MAX];
} ImageArchiveFile;

typedef struct ImageArchiveFiles {
        int spool_fd;
        uint64_t spool_size;     /* where the next file goes */
        ImageArchiveFile *files; /* sorted by path after image_archive_spool() */
        size_t n_files;
} ImageArchiveFiles;

/* Normalizes an entry path in place ("./a//b/" -> "a/b"). Returns 0, 1 when nothing is left (the root
 * directory), or -EINVAL for absolute paths and ".." components. */
int image_archive_path_normalize(char *path);
/* Reads every entry of the tar into files (regular files spooled, directories skipped). */
int image_archive_spool(int fd, const ImageArchiveOptions *opts, ImageArchiveFiles *files,
                        char message[static IMAGE_MESSAGE_MAX]);
void image_archive_files_done(ImageArchiveFiles *files);
/* The file at path (normalized first; NULL when absent or the path is invalid). */
const ImageArchiveFile *image_archive_files_find(const ImageArchiveFiles *files, const char *path);
/* Reads a spooled file into a new NUL-terminated buffer, refusing files over max bytes (-EFBIG). */
int image_archive_file_load(const ImageArchiveFiles *files, const ImageArchiveFile *f, size_t max,
                            char **ret, char message[static IMAGE_MESSAGE_MAX]);
/* Appends generated bytes to the spool (the docker manifests); sets *ret_offset. */
int image_archive_spool_append(ImageArchiveFiles *files, const void *data, size_t len, uint64_t *ret_offset);
/* Builds the plan of an archive from its spooled files (takes over files->spool_fd). */
int image_archive_resolve(ImageArchiveFiles *files, const ImageArchiveOptions *opts, ImageArchive **ret,
                          char message[static IMAGE_MESSAGE_MAX]);
