/* state/ynode.c: libyaml's events into the positioned node tree, every document of a stream.
 *
 * Invariants: a document has a tree or a diagnostic, never both; positions are 1-based; a scalar's len is
 * its strlen (no NUL inside); mapping keys are unique scalars and ynode_get() finds each; collections nest
 * at most YNODE_MAX_DEPTH deep; ynode_lookup() of a top-level key finds its value. */
#include <stdbool.h>

#include "common/macro.h"
#include "state/ynode.h"
#include "tests/fuzz/fuzz.h"

/* depth: the collections from the root down to n, n included. */
static void check_node(const YNode *n, unsigned depth)
{
        FUZZ_CHECK(n->line >= 1 && n->col >= 1, "node at %u:%u", n->line, n->col);
        switch (n->type) {
        case YNODE_SCALAR:
                FUZZ_CHECK(n->value && strlen(n->value) == n->len && n->n == 0, "scalar at %u:%u", n->line,
                           n->col);
                FUZZ_CHECK(!n->plain || !n->tag, "a tagged scalar at %u:%u is plain", n->line, n->col);
                return;
        case YNODE_SEQUENCE:
                FUZZ_CHECK(depth <= YNODE_MAX_DEPTH, "a sequence %u deep", depth);
                FUZZ_CHECK(!n->keys && !n->value, "sequence at %u:%u", n->line, n->col);
                for (size_t i = 0; i < n->n; i++)
                        check_node(n->items[i], depth + 1);
                return;
        case YNODE_MAPPING:
                FUZZ_CHECK(depth <= YNODE_MAX_DEPTH, "a mapping %u deep", depth);
                FUZZ_CHECK(!n->value && (n->n == 0 || n->keys), "mapping at %u:%u", n->line, n->col);
                for (size_t i = 0; i < n->n; i++) {
                        const YNode *k = n->keys[i];
                        FUZZ_CHECK(k->type == YNODE_SCALAR, "a key at %u:%u is not a scalar", k->line,
                                   k->col);
                        check_node(k, depth + 1);
                        for (size_t j = 0; j < i; j++)
                                FUZZ_CHECK(!streq(n->keys[j]->value, k->value),
                                           "duplicate key \"%s\" at %u:%u", k->value, k->line, k->col);
                        FUZZ_CHECK(ynode_get(n, k->value) == n->items[i], "ynode_get(\"%s\")", k->value);
                        FUZZ_CHECK(ynode_get_key(n, k->value) == k, "ynode_get_key(\"%s\")", k->value);
                        check_node(n->items[i], depth + 1);
                }
                return;
        }
        FUZZ_CHECK(false, "node type %d", (int)n->type);
}

static void check_lookup(const YNode *root)
{
        if (root->type != YNODE_MAPPING)
                return;
        for (size_t i = 0; i < root->n; i++) {
                const char *key = root->keys[i]->value;
                /* A path segment is a key without '.' or '[', shorter than ynode_lookup()'s buffer. */
                if (!*key || strpbrk(key, ".[") || strlen(key) >= 255)
                        continue;
                FUZZ_CHECK(ynode_lookup(root, key) == root->items[i], "ynode_lookup(\"%s\")", key);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        YStream s = {0};
        if (ystream_parse((const char *)data, size, "fuzz.yaml", &s) < 0)
                return 0; /* -ENOMEM */
        for (size_t i = 0; i < s.n; i++) {
                const YDoc *d = &s.docs[i];
                FUZZ_CHECK(!(d->root && diag_is_set(&d->diag)), "document %zu has a tree and a diagnostic",
                           i);
                if (diag_is_set(&d->diag)) {
                        char *msg = diag_format(&d->diag);
                        FUZZ_CHECK(msg && strncmp(msg, "fuzz.yaml:", 10) == 0, "diagnostic \"%s\"",
                                   strempty(msg));
                        free(msg);
                        continue;
                }
                if (!d->root)
                        continue;
                check_node(d->root, 1);
                check_lookup(d->root);
        }
        ystream_done(&s);
        return 0;
}
