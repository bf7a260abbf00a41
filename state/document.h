/* Documents: parsing manifests and status files, identity, defaults, validation, canonical digest and
 * deterministic emission. */
#pragma once

#include <stdbool.h>

#include "state/diag.h"
#include "state/model.h"
#include "state/ynode.h"

/* Where a resource sits in the hierarchy. Unused levels are "". name is the resource's own name (for a
 * realm the same as realm, for a cell the same as cell; for a container or an image its own name). */
typedef struct ResourceId {
        Kind kind;
        char realm[NAME_MAX_LEN + 1];
        char space[NAME_MAX_LEN + 1];
        char stack[NAME_MAX_LEN + 1];
        char cell[NAME_MAX_LEN + 1];
        char name[NAME_MAX_LEN + 1];
} ResourceId;

/* One document of a parsed stream: doc, or the reason it could not be decoded in diag. root keeps the
 * YAML tree so later diagnostics can be positioned. */
typedef struct ParsedDoc {
        Document *doc;
        YNode *root;
        Diag diag;
        unsigned line;
} ParsedDoc;

typedef struct ParsedStream {
        ParsedDoc *docs;
        size_t n;
} ParsedStream;

enum {
        PARSE_STATUS = 1u << 0, /* status files: kind "<Kind>Status", only metadata and status */
};

/* Parses a stream of documents of any kind. Empty documents are skipped. Every document that fails to
 * parse or decode gets its diag; the others are decoded (not yet validated). Returns 0 or -ENOMEM. */
int documents_parse(const char *buf, size_t len, const char *file, unsigned flags, ParsedStream *ret);
void parsed_stream_done(ParsedStream *s);

/* Parses exactly one document of the expected kind (or any kind when kind < 0). Returns 0, -EINVAL with
 * diag set, or -ENOMEM. */
int document_parse_one(const char *buf, size_t len, const char *file, Kind kind, unsigned flags,
                       Document **ret, Diag *diag);

DEFINE_TRIVIAL_CLEANUP_FUNC(Document *, document_free);
#define _cleanup_document_ _cleanup_(document_freep)

/* Allocates an empty document of a kind with apiVersion, kind and metadata.name set. */
int document_new(Kind kind, const char *name, Document **ret);
/* Deep copy. */
int document_copy(const Document *d, Document **ret);

/* The identity a document names for itself: metadata.name and the spec's parent ids, with a parent that
 * is not given taken from fallback (may be NULL: then "default"). Returns 0 or -EINVAL (with diag) when
 * a name is too long to be one. */
int document_identity(const Document *d, const ResourceId *fallback, ResourceId *ret, Diag *diag);

/* Validates d as a manifest that sits at id (from its path or from document_identity()). The first
 * problem goes to diag with its field path; file and root (may be NULL) position it. Returns 0 or
 * -EINVAL. */
int document_validate(const Document *d, const ResourceId *id, const char *file, const YNode *root,
                      Diag *diag);

/* Fills defaults: the parent ids from id, the realm namespace (kukeon-<realm>), the root container id,
 * and every field default of the tables. */
int document_apply_defaults(Document *d, const ResourceId *id);

/* "sha256:<hex>" of the canonical spec: metadata (name, labels, annotations) and spec, defaults filled
 * (identity from id), empty values dropped, keys in table order. Reformatting the file, reordering keys
 * or spelling out defaults does not change it. Returns 0 or -ENOMEM. */
int document_digest(const Document *d, const ResourceId *id, char ret[static 72]);

enum {
        EMIT_SPEC = 1u << 0,        /* apiVersion, kind, metadata, spec */
        EMIT_STATUS = 1u << 1,      /* status */
        EMIT_REDACT = 1u << 2,      /* secrets replaced */
        EMIT_STATUS_FILE = 1u << 3, /* kind "<Kind>Status", metadata.name and status only */
};

/* Deterministic YAML of d (key order from the tables; scalars that YAML 1.1 would re-type are quoted).
 * Returns a NUL-terminated string the caller frees, or NULL on -ENOMEM. */
char *document_to_yaml(const Document *d, unsigned emit_flags);
/* The same as a JSON object (a new reference), or NULL. */
struct json_t *document_to_json(const Document *d, unsigned emit_flags);

/* Names */
/* True for a DNS-1123 label of at most 63 bytes. */
bool name_is_valid(const char *s);
/* True for names reserved by the on-disk layout ("run", "containers", "logs", "images"). */
bool name_is_reserved(const char *s);
/* The root container of a cell spec: rootContainerId, else the one marked root, else the first; NULL
 * when there is none. */
const ContainerSpec *cell_root_container(const CellSpec *c);
/* The containerd id of a container: <space>_<stack>_<cell>_<container> ("root" for the root container),
 * shortened with a hash suffix when over containerd's 76 bytes. ret holds 77 bytes. */
void containerd_container_id(const ResourceId *cell, const char *container, bool is_root,
                             char ret[static 77]);
/* The pinned netns name of a cell: kukeon_<realm>_<space>_<stack>_<cell>. */
int cell_netns_name(const ResourceId *cell, char *ret, size_t size);
/* The cgroup path of a resource under root ("/kukeon/<realm>/<space>/<stack>/<cell>"). */
int resource_cgroup_path(const char *root, const ResourceId *id, char *ret, size_t size);
