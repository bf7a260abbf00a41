/* The OCI spec generator, the whole document: golden specs (tests/fixtures/oci/), the busybox default
 * compared field by field with `ctr oci spec`, our fields, privileged, hostNetwork, roles, capabilities,
 * mounts, resources, invalid input and allocation failures. test_oci_spec_process.c covers the rest of
 * the process object.
 *
 * KUKE_UPDATE_GOLDEN=1 rewrites the golden files from the current output (review the diff before
 * committing it). */
#include "oci-spec-util.h"

/* ---- the default spec ---- */

static void test_busybox_default_golden(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);
        assert_golden(spec, "busybox-default.json");
        json_decref(spec);
        json_decref(cfg);
}

/* Every field of `ctr oci spec` is ours unchanged, except the ones listed here (docs/oci-spec.md). */
static void test_busybox_matches_ctr_oci_spec(void **state)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/oci/ctr-oci-spec.json", KUKE_FIXTURES);
        json_error_t e;
        json_t *want = json_load_file(path, 0, &e);
        assert_non_null(want);
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);

        /* WithImageConfig: args from Cmd, env from Env, additionalGids with the primary gid */
        json_t *proc = json_object_get(want, "process");
        json_object_set_new(proc, "args", json_parse("[\"/bin/sh\"]"));
        json_object_set_new(proc, "env",
                            json_parse("[\"" DEFAULT_PATH "\", \"KUKEON_CELL_NAME=wp\","
                                       "\"KUKEON_CONTAINER_ID=app\", \"KUKEON_REALM=main\","
                                       "\"KUKEON_SPACE=blog\", \"KUKEON_STACK=wordpress\","
                                       "\"KUKEON_CGROUP_PATH=" CGROUP_CELL "\"]"));
        json_object_set_new(json_object_get(proc, "user"), "additionalGids", json_parse("[0]"));
        /* WithHostname */
        json_object_set_new(want, "hostname", json_string("wp"));
        /* the cell's managed files */
        json_array_append_new(
                json_object_get(want, "mounts"),
                json_parse("{\"destination\":\"/etc/hostname\",\"type\":\"bind\",\"source\":\"" HOSTNAME_FILE
                           "\",\"options\":[\"rbind\",\"ro\"]}"));
        json_array_append_new(
                json_object_get(want, "mounts"),
                json_parse("{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"" HOSTS_FILE
                           "\",\"options\":[\"rbind\",\"ro\"]}"));
        /* WithDefaultUnixDevices, as `ctr run` adds */
        json_t *devices =
                json_parse("[{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":8,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":7,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":0,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":9,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":1,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rwm\"},"
                           "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":2,\"access\":\"rwm\"}]");
        json_array_extend(jget(want, "linux.resources.devices"), devices);
        json_decref(devices);
        /* our cgroup, and the cell's pinned netns */
        json_object_set_new(json_object_get(want, "linux"), "cgroupsPath", json_string(CGROUP_CELL "/app"));
        json_object_set_new(jget(want, "linux.namespaces.4"), "path", json_string(NETNS));

        /* compared key by key so a failure names the field */
        const char *key;
        json_t *v;
        json_object_foreach (spec, key, v) {
                if (!json_object_get(want, key))
                        fail_msg("unexpected top-level key %s", key);
        }
        json_object_foreach (want, key, v) {
                json_t *ours = json_object_get(spec, key);
                if (json_is_object(v)) {
                        const char *k2;
                        json_t *v2;
                        assert_int_equal(json_object_size(ours), json_object_size(v));
                        json_object_foreach (v, k2, v2) {
                                if (!json_equal(json_object_get(ours, k2), v2))
                                        fail_msg(
                                                "%s.%s differs from `ctr oci spec` + the documented changes",
                                                key, k2);
                        }
                } else if (!json_equal(ours, v))
                        fail_msg("%s differs from `ctr oci spec`", key);
        }
        assert_true(json_equal(spec, want));
        json_decref(spec);
        json_decref(want);
        json_decref(cfg);
}

/* ---- our fields ---- */

static void test_all_fields_golden(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        Volume vols[] = {
                {.kind = VOLUME_BIND, .source = "/srv/data", .target = "/data", .read_only = true},
                {.kind = VOLUME_BIND, .source = "/srv/cache", .target = "/cache"},
                {.kind = VOLUME_TMPFS,
                 .target = "/www",
                 .size_bytes = 1048576,
                 .mode = "755",
                 .read_only = true},
                {.kind = VOLUME_TMPFS, .target = "/scratch"},
        };
        ContainerSpec c = busybox();
        c.command = "/bin/httpd";
        c.args = SL("-f", "-p", "80", "-h", "/www");
        c.working_dir = "/www";
        c.env = SL("GREETING=hello", "PATH=/opt/bin:/bin");
        c.user = "1000:1000";
        c.volumes = vols;
        c.n_volumes = ARRAY_SIZE(vols);
        c.resources = (Resources){.memory_limit_bytes = 268435456,
                                  .cpu_shares = 512,
                                  .cpu_quota_micros = 50000,
                                  .cpu_period_micros = 200000,
                                  .pids_limit = 64};
        c.read_only_root_filesystem = true;
        c.capabilities =
                (Capabilities){.add = SL("NET_ADMIN", "cap_sys_time"), .drop = SL("CAP_NET_RAW", "mknod")};
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);

        assert_golden(spec, "all-fields.json");
        assert_at(spec, "process.args", "[\"/bin/httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]");
        assert_at(spec, "process.cwd", "\"/www\"");
        assert_at(spec, "process.user", "{\"uid\": 1000, \"gid\": 1000, \"additionalGids\": [1000]}");
        assert_at(spec, "root", "{\"path\": \"rootfs\", \"readonly\": true}");
        assert_json(mount_at(spec, "/data"),
                    "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/"
                    "data\",\"options\":[\"rbind\",\"ro\"]}",
                    "/data");
        assert_json(mount_at(spec, "/cache"),
                    "{\"destination\":\"/cache\",\"type\":\"bind\",\"source\":\"/srv/"
                    "cache\",\"options\":[\"rbind\",\"rw\"]}",
                    "/cache");
        assert_json(mount_at(spec, "/www"),
                    "{\"destination\":\"/www\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                    "\"options\":[\"size=1048576\",\"mode=0755\",\"ro\"]}",
                    "/www");
        assert_json(mount_at(spec, "/scratch"),
                    "{\"destination\":\"/"
                    "scratch\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"rw\"]}",
                    "/scratch");
        assert_at(spec, "linux.resources.memory", "{\"limit\": 268435456}");
        assert_at(spec, "linux.resources.cpu", "{\"shares\": 512, \"quota\": 50000, \"period\": 200000}");
        assert_at(spec, "linux.resources.pids", "{\"limit\": 64}");
        assert_at(spec, "process.capabilities.bounding",
                  "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_SETGID\",\"CAP_"
                  "SETUID\","
                  "\"CAP_SETFCAP\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\","
                  "\"CAP_AUDIT_WRITE\",\"CAP_NET_ADMIN\",\"CAP_SYS_TIME\"]");
        assert_true(json_equal(jget(spec, "process.capabilities.bounding"),
                               jget(spec, "process.capabilities.effective")));
        assert_true(json_equal(jget(spec, "process.capabilities.bounding"),
                               jget(spec, "process.capabilities.permitted")));
        json_decref(spec);
        json_decref(cfg);
}

static void test_privileged_golden(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        c.privileged = true;
        c.capabilities.drop = SL("ALL"); /* ignored when privileged, as in Docker */
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);

        assert_golden(spec, "privileged.json");
        assert_int_equal(json_array_size(jget(spec, "process.capabilities.bounding")), 41);
        assert_int_equal(json_array_size(jget(spec, "process.capabilities.effective")), 41);
        assert_at(spec, "process.capabilities.bounding.40", "\"CAP_CHECKPOINT_RESTORE\"");
        assert_null(jget(spec, "linux.maskedPaths"));
        assert_null(jget(spec, "linux.readonlyPaths"));
        assert_at(spec, "linux.resources.devices", "[{\"allow\": true, \"access\": \"rwm\"}]");
        assert_json(json_object_get(mount_at(spec, "/sys"), "options"),
                    "[\"nosuid\",\"noexec\",\"nodev\",\"rw\"]", "/sys options");
        assert_at(spec, "process.noNewPrivileges", "true");
        json_decref(spec);
        json_decref(cfg);
}

/* "Every capability" is every capability the daemon holds: here one without CAP_SYS_RESOURCE (24). */
static void test_all_caps_limited_to_available(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        in.available_caps = UINT64_C(0x1fffeffffff);

        c.privileged = true;
        json_t *spec = build_ok(&in);
        json_t *b = jget(spec, "process.capabilities.bounding");
        assert_int_equal(json_array_size(b), 40);
        size_t k;
        json_t *v;
        json_array_foreach (b, k, v) {
                assert_string_not_equal(json_string_value(v), "CAP_SYS_RESOURCE");
        }
        json_decref(spec);

        c.privileged = false;
        c.capabilities.add = SL("ALL");
        c.capabilities.drop = SL("NET_RAW");
        spec = build_ok(&in);
        assert_int_equal(json_array_size(jget(spec, "process.capabilities.bounding")), 39);
        json_decref(spec);

        /* named explicitly: kept, runc reports it */
        c.capabilities.add = SL("SYS_RESOURCE");
        c.capabilities.drop = (StrList){0};
        spec = build_ok(&in);
        assert_at(spec, "process.capabilities.bounding.14", "\"CAP_SYS_RESOURCE\"");
        json_decref(spec);
        json_decref(cfg);
}

static void test_host_network_golden(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        c.host_network = true;
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        assert_null(in.netns_path);
        json_t *spec = build_ok(&in);

        assert_golden(spec, "host-network.json");
        assert_false(has_namespace(spec, "network"));
        assert_true(has_namespace(spec, "uts"));
        assert_true(has_namespace(spec, "pid"));
        assert_null(mount_at(spec, "/etc/hosts"));
        assert_non_null(mount_at(spec, "/etc/hostname"));
        assert_at(spec, "hostname", "\"wp\"");
        json_decref(spec);
        json_decref(cfg);
}

/* The role changes nothing but what the daemon passes differently: the cgroup leaf and the id. */
static void test_root_and_member_differ_only_by_inputs(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec root = busybox(), member = busybox();
        root.id = "db";
        root.root = true;
        ResourceId cell = cell_wp();
        OciSpecInput rin = input_for(&root, &cell, cfg), min = input_for(&member, &cell, cfg);
        rin.is_root = true;
        rin.containerd_id = "blog_wordpress_wp_root";
        rin.cgroups_path = CGROUP_CELL "/wp_root";
        json_t *rspec = build_ok(&rin), *mspec = build_ok(&min);

        assert_at(rspec, "linux.cgroupsPath", "\"" CGROUP_CELL "/wp_root\"");
        assert_at(mspec, "linux.cgroupsPath", "\"" CGROUP_CELL "/app\"");
        assert_at(rspec, "process.env.2", "\"KUKEON_CONTAINER_ID=db\"");
        assert_at(rspec, "process.env.6", "\"KUKEON_CGROUP_PATH=" CGROUP_CELL "\"");
        assert_at(mspec, "process.env.6", "\"KUKEON_CGROUP_PATH=" CGROUP_CELL "\"");
        json_object_set_new(json_object_get(rspec, "linux"), "cgroupsPath", json_string(CGROUP_CELL "/app"));
        json_array_set_new(jget(rspec, "process.env"), 2, json_string("KUKEON_CONTAINER_ID=app"));
        assert_true(json_equal(rspec, mspec));
        /* both join the cell's netns by path */
        assert_at(rspec, "linux.namespaces.4", "{\"type\": \"network\", \"path\": \"" NETNS "\"}");
        json_decref(rspec);
        json_decref(mspec);
        json_decref(cfg);
}

/* ---- capabilities, resources, mounts ---- */

static void test_capabilities(void **state)
{
        const struct {
                StrList add, drop;
                const char *want;
        } cases[] = {
                /* drop ALL, then add */
                {SL("NET_BIND_SERVICE", "CAP_CHOWN"), SL("ALL"), "[\"CAP_CHOWN\",\"CAP_NET_BIND_SERVICE\"]"},
                {{0}, SL("all"), "[]"},
                /* add ALL: everything but what is dropped by name */
                {SL("ALL"), SL("SYS_ADMIN", "NET_ADMIN"), NULL},
                /* in both: add wins (drop first, then add) */
                {SL("NET_RAW"), SL("NET_RAW", "KILL"),
                 "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\",\"CAP_NET_"
                 "RAW\","
                 "\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\","
                 "\"CAP_SYS_CHROOT\",\"CAP_AUDIT_WRITE\"]"},
                /* adding a default capability changes nothing */
                {SL("chown"),
                 {0},
                 "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\",\"CAP_NET_"
                 "RAW\","
                 "\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\","
                 "\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]"},
        };
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ResourceId cell = cell_wp();
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ContainerSpec c = busybox();
                c.capabilities = (Capabilities){.add = cases[i].add, .drop = cases[i].drop};
                OciSpecInput in = input_for(&c, &cell, cfg);
                json_t *spec = build_ok(&in), *b = jget(spec, "process.capabilities.bounding");
                if (cases[i].want)
                        assert_json(b, cases[i].want, "bounding");
                else {
                        assert_int_equal(json_array_size(b), 39);
                        size_t k;
                        json_t *v;
                        json_array_foreach (b, k, v) {
                                assert_string_not_equal(json_string_value(v), "CAP_SYS_ADMIN");
                                assert_string_not_equal(json_string_value(v), "CAP_NET_ADMIN");
                        }
                }
                assert_true(json_equal(b, jget(spec, "process.capabilities.effective")));
                assert_true(json_equal(b, jget(spec, "process.capabilities.permitted")));
                assert_null(jget(spec, "process.capabilities.inheritable"));
                assert_null(jget(spec, "process.capabilities.ambient"));
                json_decref(spec);
        }
        json_decref(cfg);
}

static void test_resources(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ResourceId cell = cell_wp();
        ContainerSpec c = busybox();
        OciSpecInput in = input_for(&c, &cell, cfg);

        json_t *spec = build_ok(&in); /* none set: only the device rules */
        assert_int_equal(json_object_size(jget(spec, "linux.resources")), 1);
        json_decref(spec);

        c.resources = (Resources){.cpu_quota_micros = 25000};
        spec = build_ok(&in);
        assert_at(spec, "linux.resources.cpu", "{\"quota\": 25000, \"period\": 100000}");
        assert_null(jget(spec, "linux.resources.memory"));
        assert_null(jget(spec, "linux.resources.pids"));
        json_decref(spec);

        c.resources = (Resources){.cpu_shares = 2};
        spec = build_ok(&in);
        assert_at(spec, "linux.resources.cpu", "{\"shares\": 2}");
        json_decref(spec);

        c.resources = (Resources){.memory_limit_bytes = INT64_C(17179869184)};
        spec = build_ok(&in);
        assert_at(spec, "linux.resources.memory", "{\"limit\": 17179869184}");
        assert_null(jget(spec, "linux.resources.cpu"));
        json_decref(spec);
        json_decref(cfg);
}

static void test_volumes_replace_defaults(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        Volume vols[] = {
                {.kind = VOLUME_TMPFS, .target = "/run/", .size_bytes = 4096, .mode = "1777"},
                {.kind = VOLUME_BIND, .source = "/srv/hosts", .target = "/etc/hosts", .read_only = true},
                {.kind = VOLUME_TMPFS, .target = "/dev/shm", .size_bytes = 1 << 20},
        };
        ContainerSpec c = busybox();
        c.volumes = vols;
        c.n_volumes = ARRAY_SIZE(vols);
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);
        json_t *mounts = json_object_get(spec, "mounts");
        /* 7 defaults + /etc/hostname + /etc/hosts, three of them replaced in place */
        assert_int_equal(json_array_size(mounts), 9);
        assert_at(spec, "mounts.1.destination", "\"/dev\"");
        assert_json(json_array_get(mounts, 3),
                    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                    "\"options\":[\"size=1048576\",\"rw\"]}",
                    "/dev/shm");
        assert_at(spec, "mounts.4.destination", "\"/dev/mqueue\"");
        assert_json(json_array_get(mounts, 6),
                    "{\"destination\":\"/run/\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
                    "\"options\":[\"size=4096\",\"mode=1777\",\"rw\"]}",
                    "/run");
        assert_at(spec, "mounts.7.destination", "\"/etc/hostname\"");
        assert_json(json_array_get(mounts, 8),
                    "{\"destination\":\"/etc/hosts\",\"type\":\"bind\",\"source\":\"/srv/hosts\","
                    "\"options\":[\"rbind\",\"ro\"]}",
                    "/etc/hosts");
        json_decref(spec);
        json_decref(cfg);
}

static void test_managed_files_optional(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ContainerSpec c = busybox();
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        in.hosts_path = NULL;
        in.hostname_path = NULL;
        in.hostname = NULL;
        json_t *spec = build_ok(&in);
        assert_int_equal(json_array_size(json_object_get(spec, "mounts")), 7);
        assert_null(json_object_get(spec, "hostname"));
        assert_true(has_namespace(spec, "uts"));
        json_decref(spec);
        json_decref(cfg);
}

/* ---- invalid input ---- */

typedef void (*Mutate)(ContainerSpec *c, OciSpecInput *in);

static void m_external(ContainerSpec *c, OciSpecInput *in)
{
        c->external = true;
}
static void m_no_cgroup(ContainerSpec *c, OciSpecInput *in)
{
        in->cgroups_path = NULL;
}
static void m_relative_cgroup(ContainerSpec *c, OciSpecInput *in)
{
        in->cgroups_path = "kukeon/x";
}
static void m_no_netns(ContainerSpec *c, OciSpecInput *in)
{
        in->netns_path = NULL;
}
static void m_host_net_with_netns(ContainerSpec *c, OciSpecInput *in)
{
        c->host_network = true;
}
/* The lists must outlive the mutator: static arrays, not compound literals. */
static void m_unknown_cap(ContainerSpec *c, OciSpecInput *in)
{
        static char *add[] = {"NET_ADMIN", "CAP_FLY"};
        c->capabilities.add = (StrList){add, ARRAY_SIZE(add)};
}
static void m_unknown_drop(ContainerSpec *c, OciSpecInput *in)
{
        static char *drop[] = {""};
        c->capabilities.drop = (StrList){drop, ARRAY_SIZE(drop)};
}
static void m_bad_env(ContainerSpec *c, OciSpecInput *in)
{
        static char *env[] = {"A=1", "NOVALUE"};
        c->env = (StrList){env, ARRAY_SIZE(env)};
}
static void m_bad_env_key(ContainerSpec *c, OciSpecInput *in)
{
        static char *env[] = {"=x"};
        c->env = (StrList){env, ARRAY_SIZE(env)};
}
static void m_relative_cwd(ContainerSpec *c, OciSpecInput *in)
{
        c->working_dir = "srv";
}
static void m_bind_no_source(ContainerSpec *c, OciSpecInput *in)
{
        static Volume v = {.kind = VOLUME_BIND, .target = "/data"};
        c->volumes = &v;
        c->n_volumes = 1;
}
static void m_relative_target(ContainerSpec *c, OciSpecInput *in)
{
        static Volume v = {.kind = VOLUME_TMPFS, .target = "data"};
        c->volumes = &v;
        c->n_volumes = 1;
}
static void m_bad_mode(ContainerSpec *c, OciSpecInput *in)
{
        static Volume v[] = {{.kind = VOLUME_TMPFS, .target = "/a"},
                             {.kind = VOLUME_TMPFS, .target = "/b", .mode = "0789"}};
        c->volumes = v;
        c->n_volumes = 2;
}
static void m_big_mode(ContainerSpec *c, OciSpecInput *in)
{
        static Volume v = {.kind = VOLUME_TMPFS, .target = "/a", .mode = "17777"};
        c->volumes = &v;
        c->n_volumes = 1;
}
static void m_bad_kind(ContainerSpec *c, OciSpecInput *in)
{
        static Volume v = {.kind = 7, .target = "/a"};
        c->volumes = &v;
        c->n_volumes = 1;
}
static void m_period_only(ContainerSpec *c, OciSpecInput *in)
{
        c->resources.cpu_period_micros = 100000;
}
static void m_negative_memory(ContainerSpec *c, OciSpecInput *in)
{
        c->resources.memory_limit_bytes = -1;
}

static void test_invalid_input(void **state)
{
        static const struct {
                Mutate mutate;
                const char *want;
        } cases[] = {
                {m_external, "external: container blog_wordpress_wp_app is not started by kukeon"},
                {m_no_cgroup,
                 "cgroupsPath: expected an absolute cgroup path for blog_wordpress_wp_app, found \"\""},
                {m_relative_cgroup, "cgroupsPath: expected an absolute cgroup path"},
                {m_no_netns, "hostNetwork: container blog_wordpress_wp_app needs the cell's netns path"},
                {m_host_net_with_netns,
                 "hostNetwork: container blog_wordpress_wp_app uses the host network but"},
                {m_unknown_cap, "capabilities.add[1]: unknown capability \"CAP_FLY\""},
                {m_unknown_drop, "capabilities.drop[0]: unknown capability \"\""},
                {m_bad_env, "env[1]: expected KEY=VALUE, found \"NOVALUE\""},
                {m_bad_env_key, "env[0]: expected KEY=VALUE"},
                {m_relative_cwd, "workingDir: expected an absolute path, found \"srv\""},
                {m_bind_no_source, "volumes[0].source: a bind volume needs an absolute host path"},
                {m_relative_target, "volumes[0].target: expected an absolute path, found \"data\""},
                {m_bad_mode, "volumes[1].mode: expected octal digits up to 7777, found \"0789\""},
                {m_big_mode, "volumes[0].mode: expected octal digits"},
                {m_bad_kind, "volumes[0].kind: unknown kind 7"},
                {m_period_only, "resources.cpuPeriodMicros: only meaningful with cpuQuotaMicros"},
                {m_negative_memory, "resources.memoryLimitBytes: must not be negative"},
        };
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        ResourceId cell = cell_wp();
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                ContainerSpec c = busybox();
                OciSpecInput in = input_for(&c, &cell, cfg);
                cases[i].mutate(&c, &in);
                char *err = build_err(&in);
                assert_prefix(err, cases[i].want);
                free(err);
        }
        json_decref(cfg);
}

/* A NULL ret_error is allowed: only the code comes back. */
/* Fails the n-th jansson allocation of each build, for every n until a build succeeds: each failure must
 * be -ENOMEM with nothing allocated left behind (ASan's leak checker runs the suite). */
static size_t alloc_count, alloc_fail_at;

static void *failing_malloc(size_t n)
{
        return alloc_count++ == alloc_fail_at ? NULL : malloc(n);
}

static void test_allocation_failures(void **state)
{
        json_t *cfg = json_parse(BUSYBOX_CONFIG);
        Volume vols[] = {{.kind = VOLUME_BIND, .source = "/srv", .target = "/srv", .read_only = true},
                         {.kind = VOLUME_TMPFS, .target = "/run", .size_bytes = 4096, .mode = "700"}};
        ContainerSpec c = busybox();
        c.command = "/bin/httpd";
        c.args = SL("-f");
        c.env = SL("A=1", "PATH=/bin");
        c.user = "app:staff";
        c.volumes = vols;
        c.n_volumes = ARRAY_SIZE(vols);
        c.resources = (Resources){.memory_limit_bytes = 1 << 30,
                                  .cpu_shares = 100,
                                  .cpu_quota_micros = 1000,
                                  .pids_limit = 10};
        c.capabilities.add = SL("NET_ADMIN");
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        in.etc_passwd = passwd_text;
        in.etc_group = group_text;

        for (int privileged = 0; privileged <= 1; privileged++) {
                c.privileged = privileged;
                size_t failures = 0;
                for (alloc_fail_at = 0;; alloc_fail_at++) {
                        json_t *spec = NULL;
                        char *err = NULL;
                        alloc_count = 0;
                        json_set_alloc_funcs(failing_malloc, free);
                        int r = oci_spec_build(&in, &spec, &err);
                        json_set_alloc_funcs(malloc, free);
                        if (r == 0) {
                                json_decref(spec);
                                break;
                        }
                        assert_int_equal(r, -ENOMEM);
                        assert_null(spec);
                        assert_null(err);
                        failures++;
                }
                assert_true(failures > 100); /* every allocation of the build was failed once */
        }
        json_decref(cfg);
}

static void test_stop_signal(void **state)
{
        json_t *with = json_parse("{\"StopSignal\":\"SIGQUIT\"}"),
               *empty = json_parse("{\"StopSignal\":\"\"}");
        assert_string_equal(oci_image_stop_signal(NULL), "SIGTERM");
        assert_string_equal(oci_image_stop_signal(empty), "SIGTERM");
        assert_string_equal(oci_image_stop_signal(with), "SIGQUIT");
        json_decref(with);
        json_decref(empty);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_busybox_default_golden),
                cmocka_unit_test(test_busybox_matches_ctr_oci_spec),
                cmocka_unit_test(test_all_fields_golden),
                cmocka_unit_test(test_privileged_golden),
                cmocka_unit_test(test_all_caps_limited_to_available),
                cmocka_unit_test(test_host_network_golden),
                cmocka_unit_test(test_root_and_member_differ_only_by_inputs),
                cmocka_unit_test(test_capabilities),
                cmocka_unit_test(test_resources),
                cmocka_unit_test(test_volumes_replace_defaults),
                cmocka_unit_test(test_managed_files_optional),
                cmocka_unit_test(test_invalid_input),
                cmocka_unit_test(test_allocation_failures),
                cmocka_unit_test(test_stop_signal),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
