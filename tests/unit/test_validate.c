/* document_identity() and document_validate(): names, identity against the path, and the rules of every
 * kind. Each failing case checks the field path, that the message names what was expected, and (where
 * given) the position the diagnostic points at. */
#include "testutil.h"

#define HEAD(kind, name) "apiVersion: v1beta1\nkind: " kind "\nmetadata:\n  name: " name "\n"
#define CELL             HEAD("Cell", "web") "spec:\n" /* spec fields from line 6 */
#define SPACE            HEAD("Space", "blog") "spec:\n"
#define REALM            HEAD("Realm", "main") "spec:\n"
#define IMAGE            HEAD("Image", "busybox") "spec:\n"
#define CPATH            "main/blog/wordpress/web"
#define APP              "    - id: app\n      image: nginx\n"
#define APP2             "    - id: sidecar\n      image: busybox\n"
#define ONE(fields)      CELL "  containers:\n    - id: app\n" fields /* container fields from line 8 */

typedef struct Case {
        const char *name;
        Kind kind;
        const char *path; /* where the manifest sits, see rid() */
        const char *yaml;
        const char *want_path;
        const char *want_msg; /* a substring of the message */
        unsigned line, col;   /* 0: not checked */
} Case;

#define V(n, k, p, y, wp, wm, ...)                                                                          \
        {                                                                                                   \
                .name = n, .kind = k, .path = p, .yaml = y, .want_path = wp, .want_msg = wm, __VA_ARGS__    \
        }
#define VC(n, y, wp, wm, ...) V(n, KIND_CELL, CPATH, y, wp, wm, __VA_ARGS__)
#define AT(l, c)              .line = l, .col = c

static const char name64[] = "a234567890123456789012345678901234567890123456789012345678901234";

static const Case cases[] = {
        /* names */
        V("name_uppercase", KIND_REALM, "main", HEAD("Realm", "Main"), "metadata.name",
          "realm name \"Main\" is invalid: expected a DNS-1123 label", AT(4, 9)),
        V("name_underscore", KIND_REALM, "main", HEAD("Realm", "my_realm"), "metadata.name", "DNS-1123",
          AT(4, 9)),
        V("name_slash", KIND_SPACE, "main/blog", HEAD("Space", "a/b"), "metadata.name",
          "space name \"a/b\" is invalid"),
        V("name_leading_dash", KIND_STACK, "main/blog/x", HEAD("Stack", "-wp"), "metadata.name",
          "starting and ending with a letter or digit"),
        V("name_trailing_dash", KIND_CELL, CPATH, HEAD("Cell", "web-"), "metadata.name",
          "cell name \"web-\" is invalid"),
        V("name_64_bytes", KIND_REALM, "main",
          HEAD("Realm", "a234567890123456789012345678901234567890123456789012345678901234"), "metadata.name",
          "at most 63 bytes"),
        V("name_empty", KIND_REALM, "main", HEAD("Realm", "\"\""), "metadata.name",
          "required field is missing"),
        V("name_reserved_run", KIND_REALM, "run", HEAD("Realm", "run"), "metadata.name",
          "realm name \"run\" is reserved"),
        V("name_reserved_containers", KIND_SPACE, "main/containers", HEAD("Space", "containers"),
          "metadata.name", "space name \"containers\" is reserved"),
        V("name_reserved_logs", KIND_CELL, "main/blog/wordpress/logs", HEAD("Cell", "logs"), "metadata.name",
          "cell name \"logs\" is reserved"),
        V("name_reserved_images", KIND_IMAGE, "main/images", HEAD("Image", "images"), "metadata.name",
          "image name \"images\" is reserved"),
        VC("container_id_reserved", CELL "  containers:\n    - id: images\n      image: x\n",
           "spec.containers[0].id", "container name \"images\" is reserved", AT(7, 11)),
        VC("container_id_invalid", CELL "  containers:\n    - id: App\n      image: x\n",
           "spec.containers[0].id", "container name \"App\" is invalid"),
        VC("label_key_invalid",
           HEAD("Cell", "web") "  labels:\n    \"bad key\": x\nspec:\n  containers:\n" APP,
           "metadata.labels.bad key", "invalid label key: expected letters, digits"),
        VC("label_value_too_long",
           HEAD("Cell", "web") "  labels:\n    a: "
                               "a234567890123456789012345678901234567890123456789012345678901234\n",
           "metadata.labels.a", "at most 63 bytes", AT(6, 8)),
        /* identity against the path */
        V("name_path_mismatch", KIND_CELL, "main/blog/wordpress/api", CELL "  containers:\n" APP,
          "metadata.name", "\"web\" does not match the name \"api\" its path gives", AT(4, 9)),
        V("image_name_file_mismatch", KIND_IMAGE, "main/alpine", IMAGE "  reference: busybox\n",
          "metadata.name", "does not match the name \"alpine\""),
        VC("cell_realm_mismatch", CELL "  realmId: other\n  containers:\n" APP, "spec.realmId",
           "\"other\" does not match the realm \"main\"", AT(6, 12)),
        VC("cell_space_mismatch", CELL "  spaceId: other\n", "spec.spaceId",
           "does not match the space \"blog\""),
        VC("cell_stack_mismatch", CELL "  stackId: other\n", "spec.stackId",
           "does not match the stack \"wordpress\""),
        VC("cell_id_mismatch", CELL "  id: other\n", "spec.id", "does not match the cell \"web\""),
        V("stack_space_mismatch", KIND_STACK, "main/blog/wordpress",
          HEAD("Stack", "wordpress") "spec:\n  spaceId: x\n", "spec.spaceId",
          "\"x\" does not match the space \"blog\""),
        V("space_realm_mismatch", KIND_SPACE, "main/blog", SPACE "  realmId: x\n", "spec.realmId",
          "\"x\" does not match the realm \"main\""),
        V("image_realm_mismatch", KIND_IMAGE, "main/busybox", IMAGE "  realmId: x\n  reference: busybox\n",
          "spec.realmId", "does not match the realm \"main\""),
        /* Regression: containers' realmId/spaceId/stackId/cellId are never compared with the cell
           (validate.c check_cell()/check_container()), though the manifest reference (§3 table, §10) says
           they must match the cell (fixed). */
        VC("container_realm_mismatch", ONE("      image: x\n      realmId: other\n"),
           "spec.containers[0].realmId", "does not match"),
        VC("container_cell_mismatch", ONE("      image: x\n      cellId: other\n"),
           "spec.containers[0].cellId", "does not match"),
        /* root container */
        VC("no_containers", CELL "  containers: []\n", "spec.containers", "expected at least one container"),
        VC("two_roots",
           CELL "  containers:\n    - id: a\n      root: true\n      image: x\n"
                "    - id: b\n      root: true\n      image: x\n",
           "spec.containers[1].root", "only one container can be the root (\"a\" already is)", AT(11, 13)),
        VC("root_container_id_missing", CELL "  rootContainerId: db\n  containers:\n" APP,
           "spec.rootContainerId", "no container has the id \"db\"", AT(6, 20)),
        VC("root_container_id_disagrees",
           CELL "  rootContainerId: app\n  containers:\n" APP
                "    - id: side\n      root: true\n      image: x\n",
           "spec.rootContainerId", "\"app\" disagrees with the container marked root: true (\"side\")"),
        VC("duplicate_container_id", CELL "  containers:\n" APP APP, "spec.containers[1].id",
           "duplicate container id \"app\" (also spec.containers[0])", AT(9, 11)),
        VC("non_root_named_root", CELL "  containers:\n" APP "    - id: root\n      image: x\n",
           "spec.containers[1].id", "\"root\" is reserved for the root container"),
        VC("missing_image", ONE("      command: /bin/sh\n"), "spec.containers[0].image",
           "required field is missing", AT(7, 7)),
        VC("bad_image_reference", ONE("      image: \"nginx:\"\n"), "spec.containers[0].image",
           "\"nginx:\" is not an image reference"),
        VC("containerd_id_in_manifest", ONE("      image: x\n      containerdId: a_b_c_d\n"),
           "spec.containers[0].containerdId", "is set by kukeond, not in a manifest"),
        VC("external_not_root", CELL "  containers:\n" APP "    - id: host\n      external: true\n",
           "spec.containers[1].external", "only the root container can be external"),
        VC("external_with_image", ONE("      external: true\n      image: x\n"), "spec.containers[0].image",
           "an external container takes no image"),
        VC("external_with_restart", ONE("      external: true\n      restartPolicy: always\n"),
           "spec.containers[0].restartPolicy", "an external container takes no restartPolicy"),
        /* restart fields */
        VC("backoff_without_policy", ONE("      image: x\n      restartBackoffSeconds: 5\n"),
           "spec.containers[0].restartBackoffSeconds",
           "only meaningful with restartPolicy always or on-failure", AT(9, 30)),
        VC("backoff_with_never",
           ONE("      image: x\n      restartPolicy: never\n      restartBackoffSeconds: 5\n"),
           "spec.containers[0].restartBackoffSeconds", "always or on-failure"),
        VC("max_retries_with_always",
           ONE("      image: x\n      restartPolicy: always\n      restartMaxRetries: 3\n"),
           "spec.containers[0].restartMaxRetries", "only meaningful with restartPolicy on-failure"),
        VC("max_retries_without_policy", ONE("      image: x\n      restartMaxRetries: 3\n"),
           "spec.containers[0].restartMaxRetries", "on-failure"),
        /* resources */
        VC("period_without_quota",
           ONE("      image: x\n      resources:\n        cpuPeriodMicros: 100000\n"),
           "spec.containers[0].resources.cpuPeriodMicros", "only meaningful with cpuQuotaMicros",
           AT(10, 26)),
        VC("cell_period_without_quota",
           CELL "  resources:\n    cpuPeriodMicros: 100000\n  containers:\n" APP,
           "spec.resources.cpuPeriodMicros", "only meaningful with cpuQuotaMicros"),
        /* volumes */
        VC("volume_relative_target",
           ONE("      image: x\n      volumes:\n        - source: /a\n          target: data\n"),
           "spec.containers[0].volumes[0].target", "expected an absolute path other than /, found \"data\"",
           AT(11, 19)),
        VC("volume_root_target", ONE("      image: x\n      volumes:\n        - {source: /a, target: /}\n"),
           "spec.containers[0].volumes[0].target", "other than /"),
        VC("volume_dotdot_target",
           ONE("      image: x\n      volumes:\n        - {source: /a, target: /x/../etc}\n"),
           "spec.containers[0].volumes[0].target", "expected an absolute path"),
        VC("volume_missing_target", ONE("      image: x\n      volumes:\n        - {source: /a}\n"),
           "spec.containers[0].volumes[0].target", "required field is missing"),
        VC("volume_duplicate_target",
           ONE("      image: x\n      volumes:\n        - {source: /a, target: /data}\n"
               "        - {kind: tmpfs, target: /data}\n"),
           "spec.containers[0].volumes[1].target", "\"/data\" is already the target of volumes[0]"),
        VC("bind_without_source", ONE("      image: x\n      volumes:\n        - target: /data\n"),
           "spec.containers[0].volumes[0].source", "required for a bind volume"),
        VC("bind_relative_source",
           ONE("      image: x\n      volumes:\n        - {source: a, target: /data}\n"),
           "spec.containers[0].volumes[0].source", "expected an absolute path, found \"a\""),
        VC("bind_with_mode",
           ONE("      image: x\n      volumes:\n        - {source: /a, target: /d, mode: \"0755\"}\n"),
           "spec.containers[0].volumes[0].mode", "only for tmpfs volumes"),
        VC("tmpfs_with_source",
           ONE("      image: x\n      volumes:\n        - {kind: tmpfs, source: /a, target: /d}\n"),
           "spec.containers[0].volumes[0].source", "a tmpfs volume takes no source"),
        VC("tmpfs_bad_mode",
           ONE("      image: x\n      volumes:\n        - {kind: tmpfs, target: /d, mode: \"0998\"}\n"),
           "spec.containers[0].volumes[0].mode", "expected an octal mode such as \"1777\", found \"0998\""),
        VC("tmpfs_mode_too_long",
           ONE("      image: x\n      volumes:\n        - {kind: tmpfs, target: /d, mode: \"17777\"}\n"),
           "spec.containers[0].volumes[0].mode", "expected an octal mode"),
        /* env, capabilities, paths, network */
        VC("env_without_equals", ONE("      image: x\n      env:\n        - A=1\n        - NOVALUE\n"),
           "spec.containers[0].env[1]", "expected KEY=VALUE, found \"NOVALUE\"", AT(11, 11)),
        VC("env_empty_key", ONE("      image: x\n      env: [\"=x\"]\n"), "spec.containers[0].env[0]",
           "expected KEY=VALUE"),
        VC("capability_unknown",
           ONE("      image: x\n      capabilities:\n        add: [NET_ADMIN, NET_ADMINN]\n"),
           "spec.containers[0].capabilities.add[1]",
           "unknown capability \"NET_ADMINN\": expected a name such as NET_ADMIN or ALL"),
        VC("capability_unknown_drop", ONE("      image: x\n      capabilities:\n        drop: [CAP_FOO]\n"),
           "spec.containers[0].capabilities.drop[0]", "unknown capability \"CAP_FOO\""),
        VC("working_dir_relative", ONE("      image: x\n      workingDir: srv\n"),
           "spec.containers[0].workingDir", "expected an absolute path, found \"srv\""),
        VC("user_with_space", ONE("      image: x\n      user: \"a b\"\n"), "spec.containers[0].user",
           "expected uid[:gid] or a user name"),
        VC("host_network_mismatch",
           CELL "  containers:\n    - id: app\n      image: x\n      hostNetwork: true\n" APP2,
           "spec.containers[1].hostNetwork", "must be the same for every container of a cell"),
        /* Space */
        V("subnet_not_cidr", KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.88.1.0\n",
          "spec.network.subnet", "\"10.88.1.0\" is not an IPv4 CIDR such as 10.88.1.0/24", AT(7, 13)),
        V("subnet_bad_address", KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.88.300.0/24\n",
          "spec.network.subnet", "is not an IPv4 CIDR"),
        V("subnet_host_bits", KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.88.1.1/24\n",
          "spec.network.subnet", "\"10.88.1.1/24\" has host bits set: expected the network address"),
        V("subnet_prefix_29", KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.88.1.0/29\n",
          "spec.network.subnet", "prefix /29 is out of range (/8 to /28)"),
        V("subnet_prefix_7", KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.0.0.0/7\n",
          "spec.network.subnet", "prefix /7 is out of range"),
        /* Regression: parse_cidr() (validate.c) reads the prefix with strtoul(), which skips blanks and
           accepts a sign: "10.88.1.0/ 24" and "10.88.1.0/+24" pass as CIDRs and would reach the CNI config
           (fixed). */
        V("subnet_prefix_with_blank", KIND_SPACE, "main/blog",
          SPACE "  network:\n    subnet: \"10.88.1.0/ 24\"\n", "spec.network.subnet", "is not an IPv4 CIDR"),
        V("egress_host_and_cidr", KIND_SPACE, "main/blog",
          SPACE
          "  network:\n    egress:\n      allow:\n        - host: example.org\n          cidr: 10.0.0.0/8\n",
          "spec.network.egress.allow[0]", "expected exactly one of host and cidr", AT(9, 11)),
        V("egress_neither", KIND_SPACE, "main/blog",
          SPACE "  network:\n    egress:\n      allow:\n        - ports: [80]\n",
          "spec.network.egress.allow[0]", "expected exactly one of host and cidr"),
        V("egress_bad_cidr", KIND_SPACE, "main/blog",
          SPACE "  network:\n    egress:\n      allow:\n        - cidr: 10.0.0.1/8\n",
          "spec.network.egress.allow[0].cidr", "has host bits set"),
        V("egress_bad_host", KIND_SPACE, "main/blog",
          SPACE "  network:\n    egress:\n      allow:\n        - host: \"a b\"\n",
          "spec.network.egress.allow[0].host", "expected a DNS name, found \"a b\""),
        V("egress_duplicate_port", KIND_SPACE, "main/blog",
          SPACE
          "  network:\n    egress:\n      allow:\n        - host: a.org\n          ports: [80, 443, 80]\n",
          "spec.network.egress.allow[0].ports[2]", "duplicate port 80"),
        V("cni_config_path", KIND_SPACE, "main/blog", SPACE "  cniConfigPath: net.conflist\n",
          "spec.cniConfigPath", "expected an absolute path ending in .conflist"),
        V("space_default_capability", KIND_SPACE, "main/blog",
          SPACE "  defaults:\n    container:\n      capabilities:\n        drop: [NOPE]\n",
          "spec.defaults.container.capabilities.drop[0]", "unknown capability \"NOPE\""),
        /* Realm */
        V("namespace_double_separator", KIND_REALM, "main", REALM "  namespace: kukeon--main\n",
          "spec.namespace",
          "\"kukeon--main\" is not a containerd namespace: expected letters and digits joined by single",
          AT(6, 14)),
        V("namespace_leading_separator", KIND_REALM, "main", REALM "  namespace: _main\n", "spec.namespace",
          "is not a containerd namespace"),
        V("credentials_missing_server", KIND_REALM, "main",
          REALM "  registryCredentials:\n    - username: u\n      password: p\n",
          "spec.registryCredentials[0].serverAddress", "required field is missing", AT(7, 7)),
        V("credentials_username_only", KIND_REALM, "main",
          REALM "  registryCredentials:\n    - serverAddress: r.io\n      username: u\n",
          "spec.registryCredentials[0].password", "username and password go together"),
        V("credentials_password_only", KIND_REALM, "main",
          REALM "  registryCredentials:\n    - serverAddress: r.io\n      password: p\n",
          "spec.registryCredentials[0].username", "username and password go together"),
        V("credentials_duplicate_server", KIND_REALM, "main",
          REALM "  registryCredentials:\n    - serverAddress: r.io\n    - serverAddress: r.io\n",
          "spec.registryCredentials[1].serverAddress", "duplicate server \"r.io\""),
        /* Image and Container */
        V("image_missing_reference", KIND_IMAGE, "main/busybox", IMAGE "  source: oci-archive:/a.tar\n",
          "spec.reference", "required field is missing"),
        V("image_bad_reference", KIND_IMAGE, "main/busybox", IMAGE "  reference: \"a b\"\n",
          "spec.reference", "\"a b\" is not an image reference"),
        V("image_bad_source", KIND_IMAGE, "main/busybox",
          IMAGE "  reference: busybox\n  source: http://x/b.tar\n", "spec.source",
          "expected oci-archive:/path/to/image.tar or docker-archive:/path/to/image.tar, found", AT(7, 11)),
        V("image_relative_archive", KIND_IMAGE, "main/busybox",
          IMAGE "  reference: busybox\n  source: docker-archive:b.tar\n", "spec.source", "docker-archive:"),
        V("container_kind_refused", KIND_CONTAINER, "main/blog/wordpress/web/app",
          HEAD("Container", "app") "spec:\n  id: app\n  image: x\n", "kind",
          "Container documents are written by kukeond: put containers in a Cell's spec.containers",
          AT(2, 7)),
};

static void run_case(void **state)
{
        const Case *c = *state;
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(c->yaml, strlen(c->yaml), "cell.yaml", 0, &ps), 0);
        assert_int_equal(ps.n, 1);
        if (!ps.docs[0].doc) {
                char *s = diag_format(&ps.docs[0].diag);
                fail_msg("%s: does not decode: %s", c->name, s);
        }
        ResourceId id = rid(c->kind, c->path);
        Diag diag = DIAG_INIT;
        int r = document_validate(ps.docs[0].doc, &id, "cell.yaml", ps.docs[0].root, &diag);
        char *got = diag_format(&diag);
        if (r != -EINVAL)
                fail_msg("%s: validated (r=%d), expected %s: %s", c->name, r, c->want_path, c->want_msg);
        if (!streq_ptr(diag.path, c->want_path) || !strstr(diag.message, c->want_msg))
                fail_msg("%s:\n  got  %s\n  want %s: ...%s...", c->name, got, c->want_path, c->want_msg);
        if (c->line && (diag.line != c->line || diag.col != c->col))
                fail_msg("%s: got %s, want position %u:%u", c->name, got, c->line, c->col);
        assert_string_equal(diag.file, "cell.yaml");
        free(got);
        diag_done(&diag);
        parsed_stream_done(&ps);
}

/* ---- valid manifests ---- */

static void test_valid_example_of_every_kind(void **state)
{
        size_t len;
        char *buf = fixture_read("manifests/valid-all-kinds.yaml", &len);
        ParsedStream ps = {0};
        assert_int_equal(documents_parse(buf, len, "valid-all-kinds.yaml", 0, &ps), 0);
        assert_int_equal(ps.n, 5);
        static const Kind kinds[] = {KIND_REALM, KIND_SPACE, KIND_STACK, KIND_CELL, KIND_IMAGE};
        static const char *const paths[] = {"main", "main/blog", "main/blog/wordpress",
                                            "main/blog/wordpress/wp", "main/busybox"};
        for (size_t i = 0; i < ps.n; i++) {
                const Document *d = ps.docs[i].doc;
                assert_non_null(d);
                assert_int_equal(d->kind, kinds[i]);
                ResourceId id, want = rid(kinds[i], paths[i]);
                Diag diag = DIAG_INIT;
                assert_int_equal(document_identity(d, NULL, &id, &diag), 0);
                assert_id_equal(&id, &want);
                if (document_validate(d, &id, "valid-all-kinds.yaml", ps.docs[i].root, &diag) < 0)
                        fail_msg("%s does not validate: %s", paths[i], diag_format(&diag));
        }
        parsed_stream_done(&ps);
        free(buf);
}

static void expect_valid(Kind kind, const char *path, const char *yaml)
{
        Document *d = doc_parse(yaml);
        ResourceId id = rid(kind, path);
        Diag diag = DIAG_INIT;
        if (document_validate(d, &id, "cell.yaml", NULL, &diag) < 0)
                fail_msg("%s does not validate: %s", path, diag_format(&diag));
        document_free(d);
}

static void test_valid_edge_cases(void **state)
{
        char y[512];
        /* 63 bytes is the longest name */
        snprintf(y, sizeof(y), HEAD("Realm", "%.63s"), name64);
        char path[64];
        snprintf(path, sizeof(path), "%.63s", name64);
        expect_valid(KIND_REALM, path, y);
        /* a single container may be called root; so may the root container named by rootContainerId */
        expect_valid(KIND_CELL, CPATH, CELL "  containers:\n    - id: root\n      image: x\n");
        expect_valid(KIND_CELL, CPATH,
                     CELL "  rootContainerId: root\n  containers:\n" APP "    - id: root\n      image: x\n");
        /* rootContainerId agreeing with root: true; the root container may be external */
        expect_valid(KIND_CELL, CPATH,
                     CELL "  rootContainerId: app\n  containers:\n    - id: app\n      root: true\n"
                          "      external: true\n" APP2);
        /* spelled-out identity equal to the path */
        expect_valid(KIND_CELL, CPATH,
                     CELL "  id: web\n  realmId: main\n  spaceId: blog\n  stackId: wordpress\n"
                          "  containers:\n" APP);
        /* restart fields with the policy they belong to; ALL and CAP_ spellings; empty env value */
        expect_valid(KIND_CELL, CPATH,
                     ONE("      image: x\n      restartPolicy: on-failure\n      restartBackoffSeconds: 0\n"
                         "      restartMaxRetries: 1\n      env: [A=]\n"
                         "      capabilities: {add: [cap_sys_admin], drop: [all]}\n"));
        /* host network on every container */
        expect_valid(KIND_CELL, CPATH,
                     CELL "  containers:\n    - {id: a, image: x, hostNetwork: true}\n"
                          "    - {id: b, image: x, hostNetwork: true}\n");
        /* /8 and /28 are the subnet bounds; egress cidr /0 and /32 */
        expect_valid(KIND_SPACE, "main/blog",
                     SPACE "  network:\n    subnet: 10.0.0.0/8\n    egress:\n      allow:\n"
                           "        - cidr: 0.0.0.0/0\n        - cidr: 1.2.3.4/32\n");
        expect_valid(KIND_SPACE, "main/blog", SPACE "  network:\n    subnet: 10.88.1.16/28\n");
        expect_valid(KIND_IMAGE, "main/busybox",
                     IMAGE "  reference: busybox\n  source: docker-archive:/b.tar\n");
        expect_valid(KIND_STACK, "main/blog/wordpress", HEAD("Stack", "wordpress"));
}

/* ---- document_identity ---- */

static void test_identity_defaults_and_fallback(void **state)
{
        Document *d = doc_parse(CELL "  containers:\n" APP);
        ResourceId id, want = rid(KIND_CELL, "default/default/default/web");
        Diag diag = DIAG_INIT;
        assert_int_equal(document_identity(d, NULL, &id, &diag), 0);
        assert_id_equal(&id, &want);
        ResourceId fb = rid(KIND_CELL, "r1/s1/t1/ignored");
        want = rid(KIND_CELL, "r1/s1/t1/web");
        assert_int_equal(document_identity(d, &fb, &id, &diag), 0);
        assert_id_equal(&id, &want);
        document_free(d);

        /* given parent ids win over the fallback */
        d = doc_parse(CELL "  realmId: main\n  spaceId: blog\n");
        want = rid(KIND_CELL, "main/blog/t1/web");
        assert_int_equal(document_identity(d, &fb, &id, &diag), 0);
        assert_id_equal(&id, &want);
        document_free(d);

        d = doc_parse(IMAGE "  realmId: main\n  reference: busybox\n");
        want = rid(KIND_IMAGE, "main/busybox");
        assert_int_equal(document_identity(d, &fb, &id, &diag), 0);
        assert_id_equal(&id, &want);
        document_free(d);

        d = doc_parse(HEAD("Space", "blog"));
        want = rid(KIND_SPACE, "default/blog");
        assert_int_equal(document_identity(d, NULL, &id, &diag), 0);
        assert_id_equal(&id, &want);
        document_free(d);
        assert_false(diag_is_set(&diag));
}

static void test_identity_errors(void **state)
{
        ResourceId id;
        Diag diag = DIAG_INIT;
        char y[512];

        snprintf(y, sizeof(y), HEAD("Realm", "%s"), name64);
        Document *d = doc_parse(y);
        assert_int_equal(document_identity(d, NULL, &id, &diag), -EINVAL);
        assert_string_equal(diag.path, "metadata.name");
        assert_contains(diag.message, "is longer than 63 bytes");
        document_free(d);

        snprintf(y, sizeof(y), CELL "  spaceId: %s\n", name64);
        d = doc_parse(y);
        assert_int_equal(document_identity(d, NULL, &id, &diag), -EINVAL);
        assert_string_equal(diag.path, "spec.spaceId");
        assert_contains(diag.message, "is longer than 63 bytes");
        document_free(d);

        d = doc_parse("apiVersion: v1beta1\nkind: Realm\nmetadata:\n  labels: {a: b}\n");
        assert_int_equal(document_identity(d, NULL, &id, &diag), -EINVAL);
        assert_string_equal(diag.path, "metadata.name");
        assert_string_equal(diag.message, "required field is missing");
        document_free(d);
        diag_done(&diag);
}

static void test_name_rules(void **state)
{
        assert_true(name_is_valid("a"));
        assert_true(name_is_valid("0"));
        assert_true(name_is_valid("web-1"));
        assert_false(name_is_valid(""));
        assert_false(name_is_valid(NULL));
        assert_false(name_is_valid("Web"));
        assert_false(name_is_valid("a.b"));
        assert_false(name_is_valid("-a"));
        assert_false(name_is_valid("a-"));
        assert_false(name_is_valid("a b"));
        assert_false(name_is_valid(name64));
        assert_true(name_is_valid(name64 + 1));
        assert_true(name_is_reserved("run"));
        assert_true(name_is_reserved("containers"));
        assert_true(name_is_reserved("logs"));
        assert_true(name_is_reserved("images"));
        assert_true(name_is_reserved(".hidden"));
        assert_false(name_is_reserved("image"));
}

int main(void)
{
        static const struct CMUnitTest fixed[] = {
                cmocka_unit_test(test_valid_example_of_every_kind),
                cmocka_unit_test(test_valid_edge_cases),
                cmocka_unit_test(test_identity_defaults_and_fallback),
                cmocka_unit_test(test_identity_errors),
                cmocka_unit_test(test_name_rules),
        };
        struct CMUnitTest tests[ARRAY_SIZE(cases) + ARRAY_SIZE(fixed)];
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                tests[i] = (struct CMUnitTest){
                        .name = cases[i].name, .test_func = run_case, .initial_state = (void *)&cases[i]};
        memcpy(tests + ARRAY_SIZE(cases), fixed, sizeof(fixed));
        return _cmocka_run_group_tests("test_validate", tests, ARRAY_SIZE(tests), NULL, NULL);
}
