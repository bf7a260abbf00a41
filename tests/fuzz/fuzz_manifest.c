/* state/document.c and state/schema.c: manifests of every kind, several documents per input, decoded,
 * then identified and validated as `kuke apply` does.
 *
 * Invariants: a document decodes or has a diagnostic, never both; a manifest that validates
 *   - re-emits as YAML that decodes to the same kind, identity and canonical digest, validates again and
 *     emits the same text (emission is a fixed point);
 *   - keeps its digest with its defaults spelled out, in the document and in its emission. */
#include <jansson.h>

#include "common/macro.h"
#include "state/document.h"
#include "tests/fuzz/fuzz.h"

static bool id_equal(const ResourceId *a, const ResourceId *b)
{
        return a->kind == b->kind && streq(a->realm, b->realm) && streq(a->space, b->space) &&
               streq(a->stack, b->stack) && streq(a->cell, b->cell) && streq(a->name, b->name);
}

static char *diag_text(Diag *diag)
{
        char *s = diag_format(diag);
        diag_done(diag);
        return s;
}

/* The emission of a valid manifest decodes to the same manifest. */
static void check_round_trip(const Document *d, const ResourceId *id, const char *digest)
{
        _cleanup_free_ char *y1 = document_to_yaml(d, EMIT_SPEC);
        if (!y1)
                return; /* -ENOMEM */
        Document *d2 = NULL;
        Diag diag = DIAG_INIT;
        int r = document_parse_one(y1, strlen(y1), "emitted.yaml", d->kind, 0, &d2, &diag);
        if (r == -ENOMEM)
                return;
        if (r < 0) {
                _cleanup_free_ char *msg = diag_text(&diag);
                FUZZ_CHECK(r == 0, "the emission does not decode: %s\n%s", strempty(msg), y1);
        }
        ResourceId id2;
        r = document_identity(d2, NULL, &id2, &diag);
        FUZZ_CHECK(r == 0 && id_equal(id, &id2), "the emission names another resource:\n%s", y1);
        r = document_validate(d2, &id2, "emitted.yaml", NULL, &diag);
        if (r < 0) {
                _cleanup_free_ char *msg = diag_text(&diag);
                FUZZ_CHECK(r == 0, "the emission does not validate: %s\n%s", strempty(msg), y1);
        }
        char digest2[72];
        if (document_digest(d2, &id2, digest2) == 0)
                FUZZ_CHECK(streq(digest, digest2), "digest %s, after emission %s:\n%s", digest, digest2, y1);
        _cleanup_free_ char *y2 = document_to_yaml(d2, EMIT_SPEC);
        if (y2)
                FUZZ_CHECK(streq(y1, y2), "emission is not a fixed point:\n%s\n---\n%s", y1, y2);
        document_free(d2);
}

/* Spelling the defaults out keeps the digest (document_digest() fills them in too), in the document and
 * in its emission. Validation is for manifests as written: with defaults filled, "only meaningful with"
 * rules see fields the author never set, so it is not checked here. */
static void check_defaults(const Document *d, const ResourceId *id, const char *digest)
{
        Document *c = NULL;
        if (document_copy(d, &c) < 0)
                return;
        char digest2[72];
        if (document_apply_defaults(c, id) == 0 && document_digest(c, id, digest2) == 0) {
                FUZZ_CHECK(streq(digest, digest2), "digest %s, with defaults filled %s", digest, digest2);
                _cleanup_free_ char *y = document_to_yaml(c, EMIT_SPEC);
                Document *c2 = NULL;
                Diag diag = DIAG_INIT;
                int r = y ? document_parse_one(y, strlen(y), "defaults.yaml", d->kind, 0, &c2, &diag)
                          : -ENOMEM;
                if (r < 0 && r != -ENOMEM) {
                        _cleanup_free_ char *msg = diag_text(&diag);
                        FUZZ_CHECK(r == 0, "the emission with defaults does not decode: %s\n%s",
                                   strempty(msg), y);
                }
                if (r == 0 && document_digest(c2, id, digest2) == 0)
                        FUZZ_CHECK(streq(digest, digest2), "digest %s, emitted with defaults %s:\n%s",
                                   digest, digest2, y);
                document_free(c2);
        }
        document_free(c);
}

static void check_document(const ParsedDoc *pd)
{
        ResourceId id;
        Diag diag = DIAG_INIT;
        if (document_identity(pd->doc, NULL, &id, &diag) < 0 ||
            document_validate(pd->doc, &id, "fuzz.yaml", pd->root, &diag) < 0) {
                _cleanup_free_ char *msg = diag_text(&diag);
                FUZZ_CHECK(msg, "a rejected manifest without a diagnostic");
                return;
        }
        /* What `kuke get -o yaml|json` prints, secrets redacted or not. */
        free(document_to_yaml(pd->doc, EMIT_SPEC | EMIT_STATUS | EMIT_REDACT));
        json_decref(document_to_json(pd->doc, EMIT_SPEC | EMIT_STATUS));

        char digest[72];
        if (document_digest(pd->doc, &id, digest) < 0)
                return; /* -ENOMEM */
        FUZZ_CHECK(strlen(digest) == 71 && strncmp(digest, "sha256:", 7) == 0, "digest \"%s\"", digest);
        check_round_trip(pd->doc, &id, digest);
        check_defaults(pd->doc, &id, digest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ParsedStream ps = {0};
        if (documents_parse((const char *)data, size, "fuzz.yaml", 0, &ps) < 0)
                return 0; /* -ENOMEM */
        for (size_t i = 0; i < ps.n; i++) {
                const ParsedDoc *pd = &ps.docs[i];
                FUZZ_CHECK(!pd->doc != !diag_is_set(&pd->diag), "document %zu: a manifest and a diagnostic",
                           i);
                if (pd->doc)
                        check_document(pd);
        }
        parsed_stream_done(&ps);
        return 0;
}
