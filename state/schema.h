/* Field tables for the model, and the generic engine that decodes, encodes, copies, defaults and frees
 * any struct a table describes (in the spirit of systemd's JSON dispatch tables).
 *
 * One table per struct, in the order fields are emitted: this order is the canonical key order of our
 * YAML and JSON and of the observedDigest. Every described struct starts with a FieldSet whose bit i
 * says field i is present. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/diag.h"
#include "state/model.h"
#include "state/ynode.h"

typedef enum FieldType {
        FT_STRING,  /* char * */
        FT_BOOL,    /* bool */
        FT_INT,     /* int64_t within [min, max] */
        FT_ENUM,    /* int, spelled by names[] */
        FT_TIME,    /* int64_t seconds since the epoch, RFC 3339 on the wire */
        FT_STRLIST, /* StrList */
        FT_INTLIST, /* IntList within [min, max] */
        FT_STRMAP,  /* StrMap */
        FT_OBJECT,  /* an embedded struct described by schema */
        FT_OBJLIST, /* T *items at offset, size_t count at count_offset */
} FieldType;

enum {
        FIELD_SECRET = 1u << 0, /* redacted in output meant for people */
};

typedef struct Schema Schema;

typedef struct Field {
        const char *name;
        FieldType type;
        size_t offset;
        size_t count_offset;
        const Schema *schema;
        int64_t min, max;
        const char *const *names; /* NULL-terminated */
        bool has_default;
        int64_t def_int;
        const char *def_str;
        unsigned flags;
} Field;

struct Schema {
        const char *name;
        size_t size;
        const Field *fields;
        size_t n_fields;
};

static inline bool field_is_set(const void *obj, size_t i)
{
        return (*(const FieldSet *)obj >> i) & 1;
}

static inline void field_mark_set(void *obj, size_t i)
{
        *(FieldSet *)obj |= (FieldSet)1 << i;
}

static inline void field_mark_unset(void *obj, size_t i)
{
        *(FieldSet *)obj &= ~((FieldSet)1 << i);
}

/* The index of name in s, or -ENOENT. */
int schema_field_index(const Schema *s, const char *name);
/* True when the named field of obj is present. */
bool schema_has(const Schema *s, const void *obj, const char *name);

/* Decodes a YAML node into obj (zero-initialised by the caller). path is the field path of node ("" for
 * a document). On error sets diag (positioned in file) and returns -EINVAL; -ENOMEM on allocation
 * failure. obj must still be freed with schema_free_fields() either way. */
int schema_decode(const Schema *s, void *obj, const YNode *node, const char *file, const char *path,
                  Diag *diag);

enum {
        SCHEMA_JSON_CANONICAL = 1u << 0, /* defaults filled, empty lists, maps and objects dropped */
        SCHEMA_JSON_REDACT = 1u << 1,    /* FIELD_SECRET values replaced */
};

/* Encodes obj as a JSON object in table order. Returns a new reference or NULL on -ENOMEM. */
json_t *schema_to_json(const Schema *s, const void *obj, unsigned flags);
/* Fills every absent field that has a default, recursively in present objects and lists. */
void schema_apply_defaults(const Schema *s, void *obj);
/* Deep-copies src into dst (dst uninitialised). Returns 0 or -ENOMEM (dst then holds nothing). */
int schema_copy(const Schema *s, void *dst, const void *src);
/* Frees what obj owns (not obj itself) and zeroes it. */
void schema_free_fields(const Schema *s, void *obj);

/* The tables. */
extern const Schema metadata_schema;
extern const Schema resources_schema;
extern const Schema container_spec_schema;
extern const Schema container_status_schema;
/* Whole documents, per kind: apiVersion, kind, metadata, spec, status. */
const Schema *document_schema(Kind kind);
/* The spec and status tables of a kind. */
const Schema *spec_schema(Kind kind);
const Schema *status_schema(Kind kind);

/* String helpers on the model's containers. All return 0 or -ENOMEM. */
int strlist_push(StrList *l, const char *s);
void strlist_done(StrList *l);
const char *strmap_get(const StrMap *m, const char *key);
int strmap_set(StrMap *m, const char *key, const char *value); /* keeps the map sorted */
int strmap_unset(StrMap *m, const char *key);                  /* 1 removed, 0 absent */
void strmap_done(StrMap *m);
