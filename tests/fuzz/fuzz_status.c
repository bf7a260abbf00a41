/* state/document.c and state/schema.c: status files (kind "<Kind>Status", metadata and status), as
 * store_read_status() reads what kukeond wrote.
 *
 * Invariants: a document decodes or has a diagnostic, never both; what decodes re-emits as a status file
 * that decodes again and emits the same text, and the same holds for the container record form (spec and
 * status in one file). kukeond compares emitted texts to skip writes, so a second emission that differs
 * would rewrite the file on every pass. */
#include <jansson.h>

#include "common/macro.h"
#include "state/document.h"
#include "tests/fuzz/fuzz.h"

/* emit_flags emitted, decoded with parse_flags and emitted again gives the same text. */
static void check_fixed_point(const Document *d, unsigned emit_flags, unsigned parse_flags)
{
        _cleanup_free_ char *y1 = document_to_yaml(d, emit_flags);
        if (!y1)
                return; /* -ENOMEM */
        Document *d2 = NULL;
        Diag diag = DIAG_INIT;
        int r = document_parse_one(y1, strlen(y1), "emitted.yaml", d->kind, parse_flags, &d2, &diag);
        if (r == -ENOMEM)
                return;
        if (r < 0) {
                _cleanup_free_ char *msg = diag_format(&diag);
                diag_done(&diag);
                FUZZ_CHECK(r == 0, "the emission does not decode: %s\n%s", strempty(msg), y1);
        }
        _cleanup_free_ char *y2 = document_to_yaml(d2, emit_flags);
        if (y2)
                FUZZ_CHECK(streq(y1, y2), "emission is not a fixed point:\n%s\n---\n%s", y1, y2);
        document_free(d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        ParsedStream ps = {0};
        if (documents_parse((const char *)data, size, "fuzz.status", PARSE_STATUS, &ps) < 0)
                return 0; /* -ENOMEM */
        for (size_t i = 0; i < ps.n; i++) {
                const ParsedDoc *pd = &ps.docs[i];
                FUZZ_CHECK(!pd->doc != !diag_is_set(&pd->diag), "document %zu: a status and a diagnostic",
                           i);
                if (!pd->doc) {
                        free(diag_format(&pd->diag));
                        continue;
                }
                check_fixed_point(pd->doc, EMIT_STATUS_FILE, PARSE_STATUS);
                check_fixed_point(pd->doc, EMIT_SPEC | EMIT_STATUS, 0);
                json_decref(document_to_json(pd->doc, EMIT_STATUS | EMIT_REDACT));
        }
        parsed_stream_done(&ps);
        return 0;
}
