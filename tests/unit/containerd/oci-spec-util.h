/* Helpers shared by the OCI spec tests: a busybox container in cell main/blog/wordpress/wp, its
 * OciSpecInput, building, JSON paths and comparisons, golden files (tests/fixtures/oci/). */
#pragma once

#include <jansson.h>

#include "../testutil.h"

#include "drivers/containerd/spec.h"

#define BUSYBOX_CONFIG                                                                                      \
        "{\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"],"                 \
        "\"Cmd\":[\"/bin/sh\"],\"WorkingDir\":\"/\"}"
#define DEFAULT_PATH  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define NETNS         "/run/netns/kukeon_main_blog_wordpress_wp"
#define CGROUP_CELL   "/kukeon/main/blog/wordpress/wp"
#define HOSTS_FILE    "/run/kukeon/main/blog/wordpress/wp/hosts"
#define HOSTNAME_FILE "/run/kukeon/main/blog/wordpress/wp/hostname"

#define SL(...)                                                                                             \
        ((StrList){.items = (char *[]){__VA_ARGS__}, .n = sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

static const char passwd_text[] = "root:x:0:0:root:/root:/bin/sh\n"
                                  "# a comment\n"
                                  "\n"
                                  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                  "app:x:1000:1000::/home/app:/bin/sh\n"
                                  "broken:x:notanumber:1::/:/bin/sh\n";
static const char group_text[] = "root:x:0:\n"
                                 "www-data:x:33:\n"
                                 "staff:x:50:app,www-data\n"
                                 "app:x:1000:app\n"
                                 "audio:x:29:app\n";

/* ---- helpers ---- */

static inline json_t *json_parse(const char *text)
{
        json_error_t e;
        json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
        if (!j)
                fail_msg("bad JSON in the test: %s: %s", e.text, text);
        return j;
}

static inline ContainerSpec busybox(void)
{
        return (ContainerSpec){.id = "app", .image = "docker.io/kukeon/busybox:test"};
}

static inline ResourceId cell_wp(void)
{
        return rid(KIND_CELL, "main/blog/wordpress/wp");
}

/* The input the daemon passes for container c of cell wp, with the busybox image config. */
static inline OciSpecInput input_for(const ContainerSpec *c, const ResourceId *cell, const json_t *config)
{
        return (OciSpecInput){
                .container = c,
                .cell = cell,
                .containerd_id = "blog_wordpress_wp_app",
                .image_config = config,
                .netns_path = c->host_network ? NULL : NETNS,
                .cgroups_path = CGROUP_CELL "/app",
                .hostname = "wp",
                .hosts_path = HOSTS_FILE,
                .hostname_path = HOSTNAME_FILE,
        };
}

static inline json_t *build_ok(const OciSpecInput *in)
{
        json_t *spec = NULL;
        char *err = NULL;
        int r = oci_spec_build(in, &spec, &err);
        if (r < 0)
                fail_msg("oci_spec_build: %d %s", r, err ? err : "(no message)");
        assert_null(err);
        assert_non_null(spec);
        return spec;
}

/* The message of a build that must fail with -EINVAL. Caller frees. */
static inline char *build_err(const OciSpecInput *in)
{
        json_t *spec = NULL;
        char *err = NULL;
        int r = oci_spec_build(in, &spec, &err);
        if (r >= 0) {
                char *s = json_dumps(spec, JSON_INDENT(2));
                fail_msg("expected -EINVAL, got a spec:\n%s", s);
        }
        assert_int_equal(r, -EINVAL);
        assert_null(spec);
        assert_non_null(err);
        return err;
}

/* A value by a dotted path; numeric parts index arrays. NULL when absent. */
static inline json_t *jget(json_t *j, const char *path)
{
        char buf[256], *save = NULL;
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = strtok_r(buf, ".", &save); j && p; p = strtok_r(NULL, ".", &save))
                j = json_is_array(j) ? json_array_get(j, strtoul(p, NULL, 10)) : json_object_get(j, p);
        return j;
}

static inline void assert_json(json_t *got, const char *want_text, const char *what)
{
        json_t *want = json_parse(want_text);
        if (!json_equal(got, want)) {
                char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
                fail_msg("%s: got %s, want %s", what, g ? g : "(absent)", want_text);
        }
        json_decref(want);
}

#define assert_at(spec, path, want) assert_json(jget((spec), (path)), (want), (path))

/* The mount at a destination, or NULL. */
static inline json_t *mount_at(json_t *spec, const char *destination)
{
        size_t i;
        json_t *m;
        json_array_foreach (json_object_get(spec, "mounts"), i, m) {
                if (streq(json_string_value(json_object_get(m, "destination")), destination))
                        return m;
        }
        return NULL;
}

static inline bool has_namespace(json_t *spec, const char *type)
{
        size_t i;
        json_t *ns;
        json_array_foreach (jget(spec, "linux.namespaces"), i, ns) {
                if (streq(json_string_value(json_object_get(ns, "type")), type))
                        return true;
        }
        return false;
}

/* Compares spec with tests/fixtures/oci/<name>, or rewrites it under KUKE_UPDATE_GOLDEN. */
static inline void assert_golden(json_t *spec, const char *name)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/oci/%s", KUKE_FIXTURES, name);
        char *got = json_dumps(spec, JSON_INDENT(4));
        assert_non_null(got);
        if (getenv("KUKE_UPDATE_GOLDEN")) {
                FILE *f = fopen(path, "we");
                assert_non_null(f);
                fprintf(f, "%s\n", got);
                fclose(f);
        }
        json_error_t e;
        json_t *want = json_load_file(path, 0, &e);
        if (!want)
                fail_msg("%s: %s (KUKE_UPDATE_GOLDEN=1 writes it)", path, e.text);
        if (!json_equal(spec, want))
                fail_msg("%s differs; got:\n%s", path, got);
        json_decref(want);
        free(got);
}
