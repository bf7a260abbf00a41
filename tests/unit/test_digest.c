/* document_digest() stability, deterministic emission (YAML and JSON) and the YAML 1.1 quoting rules. */
#include <jansson.h>

#include "testutil.h"

#include "state/emit.h"
#include "state/schema.h"

#define CELL_PATH "main/blog/wordpress/web"

static void digest_of(const Document *d, const char *path, char ret[static 72])
{
        ResourceId id = rid(d->kind, path);
        assert_int_equal(document_digest(d, &id, ret), 0);
}

static char *base_cell(void)
{
        /* the first document of the fixture is the plain form */
        char *all = fixture_read("manifests/cell-equivalent.yaml", NULL);
        char *end = strstr(all, "\n---\n");
        assert_non_null(end);
        end[1] = '\0';
        return all;
}

/* base with the first occurrence of from replaced by to. */
static char *replaced(const char *base, const char *from, const char *to)
{
        const char *p = strstr(base, from);
        if (!p)
                fail_msg("\"%s\" not in the base cell", from);
        Buf b = BUF_INIT;
        assert_int_equal(buf_append(&b, base, (size_t)(p - base)), 0);
        assert_int_equal(buf_puts(&b, to), 0);
        assert_int_equal(buf_puts(&b, p + strlen(from)), 0);
        return buf_steal(&b);
}

static char *digest_text(const char *yaml, char ret[static 72])
{
        Document *d = doc_parse(yaml);
        digest_of(d, CELL_PATH, ret);
        document_free(d);
        return ret;
}

static void test_digest_format(void **state)
{
        char *base = base_cell(), dg[72];
        digest_text(base, dg);
        assert_int_equal(strlen(dg), 71);
        assert_prefix(dg, "sha256:");
        assert_int_equal(strspn(dg + 7, "0123456789abcdef"), 64);
        free(base);
}

static void test_digest_equivalent_spellings(void **state)
{
        size_t len;
        char *buf = fixture_read("manifests/cell-equivalent.yaml", &len);
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(buf, len, "cell-equivalent.yaml", 0, &ps), 0);
        assert_int_equal(ps.n, 8);
        char first[72], dg[72];
        for (size_t i = 0; i < ps.n; i++) {
                if (!ps.docs[i].doc)
                        fail_msg("document %zu: %s", i, diag_format(&ps.docs[i].diag));
                ResourceId id = rid(KIND_CELL, CELL_PATH);
                Diag diag = DIAG_INIT;
                if (document_validate(ps.docs[i].doc, &id, "cell-equivalent.yaml", ps.docs[i].root, &diag) <
                    0)
                        fail_msg("document %zu: %s", i, diag_format(&diag));
                digest_of(ps.docs[i].doc, CELL_PATH, i == 0 ? first : dg);
                if (i > 0 && !streq(first, dg))
                        fail_msg("document %zu (line %u) has digest %s, the first %s", i, ps.docs[i].line,
                                 dg, first);
        }
        parsed_stream_done(&ps);
        free(buf);
}

static void test_digest_changes(void **state)
{
        static const struct {
                const char *from, *to;
        } changes[] = {
                {"image: nginx:1.25", "image: nginx:1.26"},
                {"B=2", "B=3"},
                {"[A=1, B=2]", "[B=2, A=1]"},
                {"tier: front", "tier: back"},
                {"    tier: front\n", ""},
                {"owner: team-a", "owner: team-b"},
                {"    owner: team-a\n",
                 "    owner: team-a\n    kukeon.io/restartedAt: \"2025-06-01T10:00:00Z\"\n"},
                {"    owner: team-a\n",
                 "    owner: team-a\n    kukeon.io/restartedAt: \"2025-06-01T10:00:01Z\"\n"},
                {"mode: \"1777\"", "mode: \"1700\""},
                {"[CAP_NET_ADMIN]", "[CAP_NET_RAW]"},
                {"      image:", "      restartPolicy: always\n      image:"},
                {"      image:", "      root: true\n      image:"},
                {"spec:\n", "spec:\n  stopGracePeriodSeconds: 11\n"},
                {"spec:\n", "spec:\n  runState: Stopped\n"},
                {"spec:\n", "spec:\n  resources: {pidsLimit: 10}\n"},
        };
        char *base = base_cell();
        char seen[ARRAY_SIZE(changes) + 1][72];
        digest_text(base, seen[0]);
        for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
                char *y = replaced(base, changes[i].from, changes[i].to);
                digest_text(y, seen[i + 1]);
                for (size_t k = 0; k <= i; k++)
                        if (streq(seen[k], seen[i + 1]))
                                fail_msg("change %zu (%s -> %s) gives the digest of %s", i, changes[i].from,
                                         changes[i].to, k ? changes[k - 1].to : "the base");
                free(y);
        }
        free(base);
}

static void test_digest_depends_on_path(void **state)
{
        char *base = base_cell(), a[72], b[72];
        Document *d = doc_parse(base);
        digest_of(d, CELL_PATH, a);
        digest_of(d, "main/blog/other/web", b);
        assert_string_not_equal(a, b);
        document_free(d);
        free(base);
}

/* Regression: a container's realmId/spaceId/stackId/cellId default to the cell's (manifest reference §10),
 * but document_apply_defaults() (document.c, case KIND_CELL) does not fill them in and schema_to_json()
 * skips string defaults, so spelling out the default changes the digest (fixed). */
static void test_digest_container_identity_spelled_out(void **state)
{
        char *base = base_cell(), a[72], b[72];
        char *y = replaced(base, "      image:",
                           "      realmId: main\n      spaceId: blog\n      stackId: wordpress\n"
                           "      cellId: web\n      image:");
        digest_text(base, a);
        digest_text(y, b);
        assert_string_equal(a, b);
        free(y);
        free(base);
}

/* ---- emission ---- */

static void test_round_trip_every_kind(void **state)
{
        size_t len;
        char *buf = fixture_read("manifests/valid-all-kinds.yaml", &len);
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(buf, len, "valid-all-kinds.yaml", 0, &ps), 0);
        assert_int_equal(ps.n, 5);
        for (size_t i = 0; i < ps.n; i++) {
                const Document *d = ps.docs[i].doc;
                ResourceId id;
                Diag diag = DIAG_INIT;
                assert_int_equal(document_identity(d, NULL, &id, &diag), 0);
                char before[72], after[72];
                assert_int_equal(document_digest(d, &id, before), 0);
                char *y1 = document_to_yaml(d, EMIT_SPEC);
                assert_non_null(y1);
                Document *d2 = doc_parse(y1);
                assert_int_equal(document_digest(d2, &id, after), 0);
                assert_string_equal(before, after);
                char *y2 = document_to_yaml(d2, EMIT_SPEC);
                assert_string_equal(y1, y2);
                /* the emission is a valid manifest again */
                assert_int_equal(document_validate(d2, &id, "emitted.yaml", NULL, &diag), 0);
                free(y1);
                free(y2);
                document_free(d2);
        }
        parsed_stream_done(&ps);
        free(buf);
}

static void test_round_trip_reordered_input(void **state)
{
        /* every spelling of the equivalent cell that names no default emits the same text */
        size_t len;
        char *buf = fixture_read("manifests/cell-equivalent.yaml", &len);
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(buf, len, "cell-equivalent.yaml", 0, &ps), 0);
        char *first = document_to_yaml(ps.docs[0].doc, EMIT_SPEC);
        for (size_t i = 1; i < 4; i++) {
                char *y = document_to_yaml(ps.docs[i].doc, EMIT_SPEC);
                assert_string_equal(first, y);
                free(y);
        }
        assert_prefix(first,
                      "apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: web\n  labels:\n    app: web\n");
        free(first);
        parsed_stream_done(&ps);
        free(buf);
}

static const char *const retyped[] = {
        "yes",        "Yes",    "NO",        "on",          "Off",  "y",    "n",    "true", "False", "~",
        "null",       "",       "1.10",      "0755",        "10",   "-1",   ".5",   "1e3",  "0x1F",  "12:30",
        "2024-01-01", ".inf",   "-.inf",     "=",           "<<",   "a: b", "#x",   "- x",  "x #y",  "key:",
        " lead",      "trail ", "tab\there", "multi\nline", "*ref", "&a",   "!tag", "%pct", "@at",   "`tick",
        "[a]",        "{a}",    "'q'",       "\"dq\"",      "|",    ">",
};

static void test_needs_quotes(void **state)
{
        for (size_t i = 0; i < ARRAY_SIZE(retyped); i++)
                if (!yaml_string_needs_quotes(retyped[i]))
                        fail_msg("\"%s\" should be quoted", retyped[i]);
        static const char *const plain[] = {
                "nginx:1.25", "web",  "a-b",       "/bin/sh",
                "A=1",        "x#y",  "key:value", "docker.io/kukeon/busybox:test",
                "yess",       "none", "v1beta1",   "ünï"};
        for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
                if (yaml_string_needs_quotes(plain[i]))
                        fail_msg("\"%s\" need not be quoted", plain[i]);
}

/* Regression: yaml_string_needs_quotes() (emit.c) skips one leading sign or dot before looking for a digit,
 * so "+.5" is emitted plain, and its word list lacks the capitalised signed infinities ("+.Inf", "+.INF")
 * (fixed). */
static void test_needs_quotes_signed_floats(void **state)
{
        assert_true(yaml_string_needs_quotes("+.5"));
        assert_true(yaml_string_needs_quotes("+.Inf"));
        assert_true(yaml_string_needs_quotes("-.Inf") && yaml_string_needs_quotes("+.INF"));
}

static void test_retyped_strings_round_trip(void **state)
{
        Document *d = NULL;
        assert_int_equal(document_new(KIND_CELL, "web", &d), 0);
        ContainerSpec *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        d->spec.cell.containers = c;
        d->spec.cell.n_containers = 1;
        field_mark_set(d, (size_t)schema_field_index(document_schema(KIND_CELL), "spec"));
        field_mark_set(&d->spec.cell, (size_t)schema_field_index(spec_schema(KIND_CELL), "containers"));
        c->id = strdup("app");
        c->image = strdup("1.10");
        field_mark_set(c, (size_t)schema_field_index(&container_spec_schema, "id"));
        field_mark_set(c, (size_t)schema_field_index(&container_spec_schema, "image"));
        field_mark_set(c, (size_t)schema_field_index(&container_spec_schema, "args"));
        field_mark_set(&d->metadata, (size_t)schema_field_index(&metadata_schema, "labels"));
        for (size_t i = 0; i < ARRAY_SIZE(retyped); i++) {
                assert_int_equal(strlist_push(&c->args, retyped[i]), 0);
                char key[16];
                snprintf(key, sizeof(key), "k%02zu", i);
                assert_int_equal(strmap_set(&d->metadata.labels, key, retyped[i]), 0);
        }
        assert_int_equal(strmap_set(&d->metadata.labels, "yes", "key"), 0);

        char *y = document_to_yaml(d, EMIT_SPEC);
        assert_non_null(y);
        /* every such scalar is quoted in the text */
        YStream ys = {0};
        assert_int_equal(ystream_parse(y, strlen(y), "emitted.yaml", &ys), 0);
        const YNode *args = ynode_lookup(ys.docs[0].root, "spec.containers[0].args");
        assert_int_equal(args->n, ARRAY_SIZE(retyped));
        for (size_t i = 0; i < args->n; i++) {
                assert_string_equal(args->items[i]->value, retyped[i]);
                if (args->items[i]->plain)
                        fail_msg("\"%s\" emitted plain", retyped[i]);
        }
        const YNode *key = ynode_get_key(ynode_lookup(ys.docs[0].root, "metadata.labels"), "yes");
        assert_non_null(key);
        assert_false(key->plain);
        assert_false(ynode_lookup(ys.docs[0].root, "spec.containers[0].image")->plain);
        ystream_done(&ys);

        /* and read back as the same strings */
        Document *d2 = doc_parse(y);
        const ContainerSpec *c2 = &d2->spec.cell.containers[0];
        assert_string_equal(c2->image, "1.10");
        assert_int_equal(c2->args.n, ARRAY_SIZE(retyped));
        for (size_t i = 0; i < ARRAY_SIZE(retyped); i++) {
                assert_string_equal(c2->args.items[i], retyped[i]);
                char key2[16];
                snprintf(key2, sizeof(key2), "k%02zu", i);
                assert_string_equal(strmap_get(&d2->metadata.labels, key2), retyped[i]);
        }
        assert_string_equal(strmap_get(&d2->metadata.labels, "yes"), "key");
        char *y2 = document_to_yaml(d2, EMIT_SPEC);
        assert_string_equal(y, y2);
        free(y2);
        free(y);
        document_free(d2);
        document_free(d);
}

/* Asserts the keys of obj follow the order of the table s. */
static void assert_table_order(json_t *obj, const Schema *s)
{
        const char *key;
        json_t *v;
        int last = -1;
        json_object_foreach (obj, key, v) {
                int i = schema_field_index(s, key);
                if (i <= last)
                        fail_msg("key \"%s\" of %s out of table order (index %d after %d)", key, s->name, i,
                                 last);
                last = i;
        }
}

static void test_json_key_order(void **state)
{
        size_t len;
        char *buf = fixture_read("manifests/cell-equivalent.yaml", &len);
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(buf, len, "cell-equivalent.yaml", 0, &ps), 0);
        /* document 1 has its keys in reverse order at every level, document 4 spells out every field */
        for (size_t k = 1; k <= 4; k += 3) {
                json_t *j = document_to_json(ps.docs[k].doc, EMIT_SPEC | EMIT_STATUS);
                assert_non_null(j);
                assert_table_order(j, document_schema(KIND_CELL));
                assert_table_order(json_object_get(j, "metadata"), &metadata_schema);
                json_t *spec = json_object_get(j, "spec");
                assert_table_order(spec, spec_schema(KIND_CELL));
                json_t *c = json_array_get(json_object_get(spec, "containers"), 0);
                assert_table_order(c, &container_spec_schema);
                json_t *caps = json_object_get(c, "capabilities");
                assert_non_null(caps);
                assert_int_equal(json_object_size(caps), 1);
                /* no status yet: Pending */
                assert_string_equal(
                        json_string_value(json_object_get(json_object_get(j, "status"), "state")),
                        "Pending");
                json_decref(j);
        }
        /* without EMIT_STATUS there is no status, without EMIT_SPEC no spec */
        json_t *j = document_to_json(ps.docs[0].doc, EMIT_SPEC);
        assert_null(json_object_get(j, "status"));
        json_decref(j);
        j = document_to_json(ps.docs[0].doc, EMIT_STATUS);
        assert_null(json_object_get(j, "spec"));
        assert_non_null(json_object_get(j, "status"));
        json_decref(j);
        parsed_stream_done(&ps);
        free(buf);
}

/* Regression (fuzz_status): document_to_json() appends the metadata of a status file, so one read without
 * metadata emitted its status first, and what it read back emitted another text; kukeond rewrites a status
 * file whose text changed (fixed). */
static void test_status_file_key_order(void **state)
{
        static const char text[] =
                "apiVersion: v1beta1\nkind: StackStatus\nmetadata:\nstatus: {state: Ready}\n";
        Document *d = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(
                document_parse_one(text, strlen(text), "s.yaml", KIND_STACK, PARSE_STATUS, &d, &diag), 0);
        char *y = document_to_yaml(d, EMIT_STATUS_FILE);
        assert_string_equal(y, "apiVersion: v1beta1\nkind: StackStatus\n"
                               "metadata:\n  name: \"\"\nstatus:\n  state: Ready\n");
        free(y);
        document_free(d);
}

static void test_redact(void **state)
{
        char *buf = fixture_read("manifests/valid-all-kinds.yaml", NULL);
        char *end = strstr(buf, "\n---\n");
        end[1] = '\0';
        Document *realm = doc_parse(buf);
        assert_int_equal(realm->kind, KIND_REALM);

        char *plain = document_to_yaml(realm, EMIT_SPEC);
        assert_contains(plain, "password: s3cret");
        char *red = document_to_yaml(realm, EMIT_SPEC | EMIT_REDACT);
        assert_null(strstr(red, "s3cret"));
        assert_contains(red, "    username: deploy\n    password: <redacted>\n");

        json_t *j = document_to_json(realm, EMIT_SPEC | EMIT_REDACT);
        json_t *cred = json_array_get(json_object_get(json_object_get(j, "spec"), "registryCredentials"), 0);
        assert_string_equal(json_string_value(json_object_get(cred, "password")), "<redacted>");
        assert_string_equal(json_string_value(json_object_get(cred, "username")), "deploy");
        /* a credential without a password gets none */
        cred = json_array_get(json_object_get(json_object_get(j, "spec"), "registryCredentials"), 1);
        assert_null(json_object_get(cred, "password"));
        json_decref(j);

        /* redaction changes the output only, never the digest */
        char a[72], b[72];
        digest_of(realm, "main", a);
        Document *again = doc_parse(plain);
        digest_of(again, "main", b);
        assert_string_equal(a, b);
        document_free(again);
        free(red);
        free(plain);
        document_free(realm);
        free(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_digest_format),
                cmocka_unit_test(test_digest_equivalent_spellings),
                cmocka_unit_test(test_digest_changes),
                cmocka_unit_test(test_digest_depends_on_path),
                cmocka_unit_test(test_digest_container_identity_spelled_out),
                cmocka_unit_test(test_round_trip_every_kind),
                cmocka_unit_test(test_round_trip_reordered_input),
                cmocka_unit_test(test_needs_quotes),
                cmocka_unit_test(test_needs_quotes_signed_floats),
                cmocka_unit_test(test_retyped_strings_round_trip),
                cmocka_unit_test(test_json_key_order),
                cmocka_unit_test(test_status_file_key_order),
                cmocka_unit_test(test_redact),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
