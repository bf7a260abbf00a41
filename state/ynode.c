#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <yaml.h>

#include "common/buf.h"

#include "state/ynode.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct Frame {
        YNode *node;
        YNode *pending_key;
} Frame;

typedef struct Builder {
        const char *file;
        Frame stack[YNODE_MAX_DEPTH];
        size_t depth;
        YNode *root;
        bool has_root;
        Diag diag;
        size_t doc_start;
} Builder;

YNode *ynode_free(YNode *n)
{
        if (!n)
                return NULL;
        for (size_t i = 0; i < n->n; i++) {
                if (n->keys)
                        ynode_free(n->keys[i]);
                ynode_free(n->items[i]);
        }
        free(n->keys);
        free(n->items);
        free(n->tag);
        free(n); /* and a scalar's value with it */
        return NULL;
}

static void builder_reset(Builder *b)
{
        for (size_t i = 0; i < b->depth; i++) {
                ynode_free(b->stack[i].pending_key);
                ynode_free(b->stack[i].node);
        }
        b->depth = 0;
        b->root = ynode_free(b->root);
        b->has_root = false;
}

static int builder_fail(Builder *b, const yaml_mark_t *m, const char *fmt, ...) _printf_(3, 4);
static int builder_fail(Builder *b, const yaml_mark_t *m, const char *fmt, ...)
{
        if (diag_is_set(&b->diag))
                return -EINVAL;
        va_list ap;
        va_start(ap, fmt);
        int r = diag_setv(&b->diag, -EINVAL, b->file, (unsigned)m->line + 1, (unsigned)m->column + 1, NULL,
                          fmt, ap);
        va_end(ap);
        return r;
}

static int check_tag(Builder *b, const yaml_mark_t *m, const yaml_char_t *tag)
{
        static const char *const allowed[] = {"str", "int", "bool", "null", "map", "seq"};
        if (!tag || streq((const char *)tag, "!"))
                return 0;
        const char *t = (const char *)tag;
        if (strncmp(t, TAG_PREFIX, strlen(TAG_PREFIX)) == 0) {
                for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
                        if (streq(t + strlen(TAG_PREFIX), allowed[i]))
                                return 0;
        }
        return builder_fail(b, m, "unsupported tag \"%s\"", t);
}

/* A node; a scalar's value (len bytes) lives in the same allocation, one malloc per node. */
static YNode *node_new(YNodeType type, const yaml_mark_t *m, const yaml_char_t *tag, const char *value,
                       size_t len)
{
        YNode *n = calloc(1, sizeof(*n) + (value ? len + 1 : 0));
        if (!n)
                return NULL;
        if (value) {
                n->value = memcpy((char *)(n + 1), value, len);
                n->value[len] = '\0';
                n->len = len;
        }
        n->type = type;
        n->line = (unsigned)m->line + 1;
        n->col = (unsigned)m->column + 1;
        if (tag && !streq((const char *)tag, "!")) {
                n->tag = strdup((const char *)tag);
                if (!n->tag)
                        return ynode_free(n);
        }
        return n;
}

static int node_push(YNode *parent, YNode *key, YNode *item)
{
        if (parent->n == parent->allocated) {
                size_t n = parent->allocated ? parent->allocated * 2 : 8;
                YNode **items = realloc(parent->items, n * sizeof(*items));
                if (!items)
                        return -ENOMEM;
                parent->items = items;
                if (parent->type == YNODE_MAPPING) {
                        YNode **keys = realloc(parent->keys, n * sizeof(*keys));
                        if (!keys)
                                return -ENOMEM;
                        parent->keys = keys;
                }
                parent->allocated = n;
        }
        if (parent->type == YNODE_MAPPING)
                parent->keys[parent->n] = key;
        parent->items[parent->n++] = item;
        return 0;
}

/* Attaches a finished node to its parent (or makes it the root). Takes ownership of n. */
static int builder_attach(Builder *b, YNode *n)
{
        if (b->depth == 0) {
                b->root = n;
                b->has_root = true;
                return 0;
        }
        Frame *f = &b->stack[b->depth - 1];
        if (f->node->type == YNODE_SEQUENCE) {
                int r = node_push(f->node, NULL, n);
                if (r < 0)
                        ynode_free(n);
                return r;
        }
        if (!f->pending_key) {
                yaml_mark_t m = {.line = n->line - 1, .column = n->col - 1};
                if (n->type != YNODE_SCALAR) {
                        ynode_free(n);
                        return builder_fail(b, &m, "mapping keys must be plain strings");
                }
                for (size_t i = 0; i < f->node->n; i++)
                        if (streq(f->node->keys[i]->value, n->value)) {
                                int r = builder_fail(b, &m, "duplicate key \"%s\"", n->value);
                                ynode_free(n);
                                return r;
                        }
                f->pending_key = n;
                return 0;
        }
        int r = node_push(f->node, f->pending_key, n);
        if (r < 0) {
                ynode_free(n);
                return r;
        }
        f->pending_key = NULL;
        return 0;
}

static int builder_event(Builder *b, const yaml_event_t *e)
{
        const yaml_mark_t *m = &e->start_mark;
        YNode *n;
        int r;

        switch (e->type) {
        case YAML_ALIAS_EVENT:
                return builder_fail(b, m, "aliases are not supported (found \"*%s\")",
                                    (const char *)e->data.alias.anchor);
        case YAML_SCALAR_EVENT:
                if (e->data.scalar.anchor)
                        return builder_fail(b, m, "anchors are not supported (found \"&%s\")",
                                            (const char *)e->data.scalar.anchor);
                r = check_tag(b, m, e->data.scalar.tag);
                if (r < 0)
                        return r;
                n = node_new(YNODE_SCALAR, m, e->data.scalar.tag, (const char *)e->data.scalar.value,
                             e->data.scalar.length);
                if (!n)
                        return -ENOMEM;
                n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !n->tag;
                if (strlen(n->value) != n->len) {
                        ynode_free(n);
                        return builder_fail(b, m, "strings must not contain NUL bytes");
                }
                return builder_attach(b, n);
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool seq = e->type == YAML_SEQUENCE_START_EVENT;
                const yaml_char_t *anchor =
                        seq ? e->data.sequence_start.anchor : e->data.mapping_start.anchor;
                const yaml_char_t *tag = seq ? e->data.sequence_start.tag : e->data.mapping_start.tag;
                if (anchor)
                        return builder_fail(b, m, "anchors are not supported (found \"&%s\")",
                                            (const char *)anchor);
                r = check_tag(b, m, tag);
                if (r < 0)
                        return r;
                if (b->depth >= YNODE_MAX_DEPTH)
                        return builder_fail(b, m, "nesting deeper than %d levels", YNODE_MAX_DEPTH);
                if (b->depth > 0) {
                        Frame *f = &b->stack[b->depth - 1];
                        if (f->node->type == YNODE_MAPPING && !f->pending_key)
                                return builder_fail(b, m, "mapping keys must be plain strings");
                }
                n = node_new(seq ? YNODE_SEQUENCE : YNODE_MAPPING, m, tag, NULL, 0);
                if (!n)
                        return -ENOMEM;
                b->stack[b->depth++] = (Frame){.node = n};
                return 0;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (b->depth == 0)
                        return -EINVAL;
                n = b->stack[--b->depth].node;
                ynode_free(b->stack[b->depth].pending_key);
                return builder_attach(b, n);
        default:
                return 0;
        }
}

static int stream_push(YStream *s, YDoc *d)
{
        YDoc *docs = realloc(s->docs, (s->n + 1) * sizeof(*docs));
        if (!docs)
                return -ENOMEM;
        s->docs = docs;
        docs[s->n++] = *d;
        *d = (YDoc){0};
        return 0;
}

int ystream_parse(const char *buf, size_t len, const char *file, YStream *ret)
{
        yaml_parser_t parser;
        Builder b = {.file = file};
        YStream s = {0};
        YDoc doc = {0};
        bool in_doc = false;
        int r = 0;

        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        for (;;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&parser, &e)) {
                        if (parser.error == YAML_MEMORY_ERROR) {
                                r = -ENOMEM;
                                break;
                        }
                        builder_reset(&b);
                        diag_done(&b.diag);
                        doc = (YDoc){.line = (unsigned)parser.problem_mark.line + 1};
                        r = diag_set(&doc.diag, 0, file, (unsigned)parser.problem_mark.line + 1,
                                     (unsigned)parser.problem_mark.column + 1, NULL, "invalid YAML: %s%s%s",
                                     strempty(parser.problem), parser.context ? " " : "",
                                     strempty(parser.context));
                        if (r >= 0)
                                r = stream_push(&s, &doc);
                        break;
                }
                yaml_event_type_t type = e.type;
                if (type == YAML_DOCUMENT_START_EVENT) {
                        in_doc = true;
                        b.doc_start = e.start_mark.index;
                        doc = (YDoc){.line = (unsigned)e.start_mark.line + 1};
                } else if (type == YAML_DOCUMENT_END_EVENT) {
                        in_doc = false;
                        if (diag_is_set(&b.diag)) {
                                builder_reset(&b);
                                diag_move(&doc.diag, &b.diag);
                        } else {
                                doc.root = TAKE_PTR(b.root);
                                b.has_root = false;
                        }
                        r = stream_push(&s, &doc);
                } else if (in_doc && !diag_is_set(&b.diag)) {
                        if (e.end_mark.index - b.doc_start > YNODE_MAX_DOC_BYTES) {
                                yaml_mark_t m = {.line = doc.line - 1};
                                builder_reset(&b);
                                r = builder_fail(&b, &m, "document larger than 1 MiB");
                        } else {
                                r = builder_event(&b, &e);
                        }
                        if (r == -EINVAL)
                                r = 0; /* recorded in b.diag; keep reading to the document's end */
                }
                yaml_event_delete(&e);
                if (r < 0 || type == YAML_STREAM_END_EVENT)
                        break;
        }
        yaml_parser_delete(&parser);
        builder_reset(&b);
        diag_done(&b.diag);
        ynode_free(doc.root);
        diag_done(&doc.diag);
        if (r < 0) {
                ystream_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

void ystream_done(YStream *s)
{
        for (size_t i = 0; i < s->n; i++) {
                ynode_free(s->docs[i].root);
                diag_done(&s->docs[i].diag);
        }
        free(s->docs);
        *s = (YStream){0};
}

YNode *ynode_get(const YNode *map, const char *key)
{
        if (!map || map->type != YNODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < map->n; i++)
                if (streq(map->keys[i]->value, key))
                        return map->items[i];
        return NULL;
}

const YNode *ynode_get_key(const YNode *map, const char *key)
{
        if (!map || map->type != YNODE_MAPPING)
                return NULL;
        for (size_t i = 0; i < map->n; i++)
                if (streq(map->keys[i]->value, key))
                        return map->keys[i];
        return NULL;
}

const YNode *ynode_lookup(const YNode *root, const char *path)
{
        const YNode *cur = root;
        const char *p = path;
        char seg[256];

        while (cur && p && *p) {
                if (*p == '.') {
                        p++;
                        continue;
                }
                if (*p == '[') {
                        char *end;
                        unsigned long idx = strtoul(p + 1, &end, 10);
                        if (*end != ']' || cur->type != YNODE_SEQUENCE || idx >= cur->n)
                                return cur;
                        cur = cur->items[idx];
                        p = end + 1;
                        continue;
                }
                size_t n = strcspn(p, ".[");
                if (n >= sizeof(seg))
                        return cur;
                memcpy(seg, p, n);
                seg[n] = '\0';
                const YNode *next = ynode_get(cur, seg);
                if (!next)
                        return cur;
                cur = next;
                p += n;
        }
        return cur;
}
