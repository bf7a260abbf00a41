/* A small YAML node tree built from libyaml's event API, with the position of every node.
 *
 * The builder rejects what our manifests never need and what makes YAML dangerous to a root daemon:
 * anchors and aliases (no alias bombs), duplicate keys, tags other than the core ones, documents over
 * the size cap and nesting deeper than YNODE_MAX_DEPTH. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "state/diag.h"

#define YNODE_MAX_DOC_BYTES (1024 * 1024)
#define YNODE_MAX_DEPTH     64

typedef enum YNodeType {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
} YNodeType;

typedef struct YNode YNode;
struct YNode {
        YNodeType type;
        unsigned line; /* 1-based */
        unsigned col;  /* 1-based */
        char *tag;     /* explicit tag as written, or NULL */
        /* scalar */
        char *value; /* in the node's own allocation */
        size_t len;
        bool plain; /* written without quotes or block style: may be typed */
        /* sequence: items; mapping: keys[i] -> items[i] */
        YNode **keys;
        YNode **items;
        size_t n;
        size_t allocated; /* of keys and items */
};

/* One document of a stream: either root (may be NULL for an empty document) or an error in diag. */
typedef struct YDoc {
        YNode *root;
        Diag diag;
        unsigned line; /* where the document starts */
} YDoc;

typedef struct YStream {
        YDoc *docs;
        size_t n;
} YStream;

/* Parses every document of buf. A document with a structural problem gets its diag set and the others
 * are still returned; a syntax error ends the stream there (libyaml cannot resume), recorded as the
 * diag of a last document. file names the input in messages. Returns 0 or -ENOMEM. */
int ystream_parse(const char *buf, size_t len, const char *file, YStream *ret);
void ystream_done(YStream *s);

YNode *ynode_free(YNode *n);
/* The value for key in a mapping, or NULL. */
YNode *ynode_get(const YNode *map, const char *key);
/* The node a dotted field path ("spec.containers[0].image") names, or the deepest existing node on the
 * way to it. Never NULL when root is not NULL. */
const YNode *ynode_lookup(const YNode *root, const char *path);
/* For a mapping node and a key, the key node (for "unknown field" positions), or NULL. */
const YNode *ynode_get_key(const YNode *map, const char *key);
