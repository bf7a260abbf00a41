/* The CNI protocol's pure parts: the environment of a plugin, its network configuration (name,
 * cniVersion, prevResult, runtimeConfig), CNI error objects and other output turned into -errno and a
 * message, and the address read from an ADD result. */
#include "cni-test-util.h"

static json_t *parse(const char *s)
{
        json_error_t e;
        json_t *j = json_loads(s, 0, &e);
        if (!j)
                fail_msg("bad test JSON: %s: %s", e.text, s);
        return j;
}

static void assert_json(const json_t *have, const char *want_text)
{
        json_t *want = parse(want_text);
        if (!json_equal(have, want)) {
                char *h = json_dumps(have, JSON_COMPACT | JSON_SORT_KEYS);
                char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
                fail_msg("have %s\nwant %s", h, w);
        }
        json_decref(want);
}

static char *env_joined(char **env)
{
        Buf b = BUF_INIT;
        for (char **p = env; *p; p++)
                assert_int_equal(buf_printf(&b, "%s%s", p == env ? "" : "\n", *p), 0);
        return buf_steal(&b);
}

/* ---- environment ---- */

static void test_env_add(void **state)
{
        CniAttachment att = {.container_id = "kukeon_main_blog_wp_app",
                             .netns_path = "/run/netns/kukeon_main_blog_wp_app",
                             .args = "IgnoreUnknown=1"};
        char **env = NULL;
        assert_int_equal(cni_env_build(CNI_CMD_ADD, &att, "/opt/cni/bin", "/usr/bin:/bin", &env), 0);
        char *s = env_joined(env);
        assert_string_equal(s, "CNI_COMMAND=ADD\n"
                               "CNI_CONTAINERID=kukeon_main_blog_wp_app\n"
                               "CNI_NETNS=/run/netns/kukeon_main_blog_wp_app\n"
                               "CNI_IFNAME=eth0\n"
                               "CNI_ARGS=IgnoreUnknown=1\n"
                               "CNI_PATH=/opt/cni/bin\n"
                               "PATH=/usr/bin:/bin");
        free(s);
        cni_strv_free(env);
}

static void test_env_del_without_netns_and_defaults(void **state)
{
        CniAttachment att = {.container_id = "c1", .ifname = "net1"};
        char **env = NULL;
        assert_int_equal(cni_env_build(CNI_CMD_DEL, &att, NULL, NULL, &env), 0);
        char *s = env_joined(env);
        assert_string_equal(s, "CNI_COMMAND=DEL\n"
                               "CNI_CONTAINERID=c1\n"
                               "CNI_IFNAME=net1\n"
                               "CNI_PATH=" CNI_DEFAULT_PLUGIN_PATH "\n"
                               "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        free(s);
        cni_strv_free(env);
}

static void test_env_version(void **state)
{
        CniAttachment none = {0};
        char **env = NULL;
        assert_int_equal(cni_env_build(CNI_CMD_VERSION, &none, "/p", "/b", &env), 0);
        char *s = env_joined(env);
        assert_string_equal(s, "CNI_COMMAND=VERSION\nCNI_PATH=/p\nPATH=/b");
        free(s);
        cni_strv_free(env);
}

static void test_env_invalid(void **state)
{
        char **env = NULL;
        CniAttachment bad[] = {
                {.container_id = NULL, .netns_path = "/run/netns/x"},
                {.container_id = "-x", .netns_path = "/run/netns/x"},
                {.container_id = "a b", .netns_path = "/run/netns/x"},
                {.container_id = "x", .netns_path = NULL}, /* ADD needs one */
                {.container_id = "x", .netns_path = "run/netns/x"},
                {.container_id = "x", .netns_path = "/run/netns/x", .ifname = "this-is-too-long0"},
                {.container_id = "x", .netns_path = "/run/netns/x", .args = "A=1\nB=2"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                if (cni_env_build(CNI_CMD_ADD, &bad[i], NULL, NULL, &env) != -EINVAL)
                        fail_msg("case %zu accepted", i);
        assert_null(env);
        assert_int_equal(cni_env_build(_CNI_CMD_MAX, &bad[0], NULL, NULL, &env), -EINVAL);
        assert_true(cni_container_id_is_valid("kukeon_main_blog_wp_app.1-x"));
        assert_false(cni_container_id_is_valid("_x"));
        assert_false(cni_container_id_is_valid(""));
}

/* ---- network configuration per plugin ---- */

#define LIST                                                                                                \
        "{\"cniVersion\":\"1.0.0\",\"name\":\"main-blog\",\"plugins\":["                                    \
        "{\"type\":\"bridge\",\"bridge\":\"kuke-main-blog\"},"                                              \
        "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true,\"bandwidth\":false}}]}"

static void test_plugin_config(void **state)
{
        json_t *list = parse(LIST);
        json_t *c = NULL;
        assert_int_equal(cni_plugin_config(list, 0, NULL, NULL, &c), 0);
        assert_json(c, "{\"type\":\"bridge\",\"bridge\":\"kuke-main-blog\",\"cniVersion\":\"1.0.0\","
                       "\"name\":\"main-blog\"}");
        json_decref(c);

        json_t *prev = parse("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.88.0.2/24\"}]}");
        json_t *rc =
                parse("{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}],"
                      "\"bandwidth\":{\"ingressRate\":1}, \"other\":1}");
        assert_int_equal(cni_plugin_config(list, 1, prev, rc, &c), 0);
        /* only the capabilities the plugin enables are passed */
        assert_json(c, "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true,\"bandwidth\":false},"
                       "\"cniVersion\":\"1.0.0\",\"name\":\"main-blog\","
                       "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.88.0.2/24\"}]},"
                       "\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
                       "\"protocol\":\"tcp\"}]}}");
        json_decref(c);
        /* a plugin without capabilities gets no runtimeConfig */
        assert_int_equal(cni_plugin_config(list, 0, prev, rc, &c), 0);
        assert_null(json_object_get(c, "runtimeConfig"));
        json_decref(c);
        json_decref(prev);
        json_decref(rc);
        json_decref(list);
}

static void test_conflist_shape(void **state)
{
        static const struct {
                const char *json;
                const char *error;
        } cases[] = {
                {"[]", "conflist: expected an object"},
                {"{\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"b\"}]}",
                 "conflist: name: expected a string"},
                {"{\"name\":\"n\",\"plugins\":[{\"type\":\"b\"}]}",
                 "conflist: cniVersion: expected a string"},
                {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[]}",
                 "conflist: plugins: expected a non-empty array"},
                {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[{\"type\":\"b\"},{\"type\":\"../"
                 "x\"}]}",
                 "conflist: plugins[1].type: expected a plugin name"},
                {"{\"name\":\"n\",\"cniVersion\":\"1.0.0\",\"plugins\":[1]}",
                 "conflist: plugins[0].type: expected a plugin name"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_t *j = parse(cases[i].json);
                char *error = NULL;
                assert_int_equal(cni_conflist_check_shape(j, &error), -EINVAL);
                assert_string_equal(error, cases[i].error);
                free(error);
                json_decref(j);
        }
}

/* ---- plugin output ---- */

static int parse_outcome(CniCommand cmd, CniProcOutcome o, json_t **ret_json, char **ret_message)
{
        o.out_len = o.out ? strlen(o.out) : 0;
        o.err_len = o.err ? strlen(o.err) : 0;
        if (!o.out)
                o.out = "";
        if (!o.err)
                o.err = "";
        return cni_outcome_parse("bridge", cmd, 2500, &o, ret_json, ret_message);
}

static void test_outcome_cni_errors(void **state)
{
        static const struct {
                const char *out;
                int r;
                const char *message;
        } cases[] = {
                {"{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"failed to allocate for range 0\","
                 "\"details\":\"no IP addresses available in range set: 10.88.0.1-10.88.0.14\"}",
                 -EAGAIN,
                 "bridge: failed to allocate for range 0: no IP addresses available in range set: "
                 "10.88.0.1-10.88.0.14 (CNI error 11)"},
                {"{\"code\":1,\"msg\":\"incompatible CNI versions\"}", -EPROTONOSUPPORT,
                 "bridge: incompatible CNI versions (CNI error 1)"},
                {"{\"code\":3,\"msg\":\"unknown container\"}", -ENOENT,
                 "bridge: unknown container (CNI error 3)"},
                {"{\"code\":7,\"msg\":\"bad config\",\"details\":\"bad config\"}", -EINVAL,
                 "bridge: bad config (CNI error 7)"},
                {"{\"code\":999,\"msg\":\"plugin specific\"}", -EIO,
                 "bridge: plugin specific (CNI error 999)"},
                {"{\"code\":4}", -EINVAL, "bridge: failed (CNI error 4)"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *message = NULL;
                json_t *j = NULL;
                int r = parse_outcome(CNI_CMD_ADD, (CniProcOutcome){.exit_status = 1, .out = cases[i].out},
                                      &j, &message);
                assert_int_equal(r, cases[i].r);
                assert_string_equal(message, cases[i].message);
                assert_null(j);
                free(message);
        }
        assert_int_equal(cni_error_to_errno(2), -EOPNOTSUPP);
        assert_int_equal(cni_error_to_errno(5), -EIO);
        assert_int_equal(cni_error_to_errno(6), -EBADMSG);
}

static void test_outcome_other_failures(void **state)
{
        static const struct {
                CniCommand cmd;
                CniProcOutcome o;
                int r;
                const char *message;
        } cases[] = {
                {CNI_CMD_ADD,
                 {.exit_status = 2, .out = "panic: oops", .err = "line one\nit broke\n\n"},
                 -EIO,
                 "bridge: exited with status 2 without a CNI error: it broke"},
                {CNI_CMD_ADD,
                 {.exit_status = 0, .out = "garbage"},
                 -EBADMSG,
                 "bridge: ADD printed something that is not a JSON object"},
                {CNI_CMD_ADD,
                 {.exit_status = 0, .out = "[1]"},
                 -EBADMSG,
                 "bridge: ADD printed something that is not a JSON object"},
                {CNI_CMD_VERSION, {.exit_status = 0}, -EBADMSG, "bridge: VERSION printed nothing"},
                {CNI_CMD_ADD,
                 {.timed_out = true, .term_signal = 9, .err = "waiting"},
                 -ETIMEDOUT,
                 "bridge: ADD did not finish within 2500 ms, killed: waiting"},
                {CNI_CMD_DEL, {.cancelled = true, .term_signal = 9}, -ECANCELED, "bridge: cancelled"},
                {CNI_CMD_ADD, {.term_signal = 11}, -EIO, "bridge: killed by signal 11"},
                {CNI_CMD_ADD,
                 {.spawn_error = -EACCES},
                 -EACCES,
                 "bridge: cannot execute: Permission denied"},
                {CNI_CMD_ADD, {.truncated = true}, -E2BIG, "bridge: printed more than 1048576 bytes"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                char *message = NULL;
                json_t *j = NULL;
                assert_int_equal(parse_outcome(cases[i].cmd, cases[i].o, &j, &message), cases[i].r);
                assert_string_equal(message, cases[i].message);
                assert_null(j);
                free(message);
        }
}

static void test_outcome_success(void **state)
{
        char *message = NULL;
        json_t *j = NULL;
        assert_int_equal(parse_outcome(CNI_CMD_ADD, (CniProcOutcome){.out = "{\"cniVersion\":\"1.0.0\"}"},
                                       &j, &message),
                         0);
        assert_null(message);
        assert_json(j, "{\"cniVersion\":\"1.0.0\"}");
        json_decref(j);
        /* DEL and CHECK: stdout does not matter */
        assert_int_equal(parse_outcome(CNI_CMD_DEL, (CniProcOutcome){.out = "whatever"}, &j, &message), 0);
        assert_null(j);
        assert_int_equal(parse_outcome(CNI_CMD_CHECK, (CniProcOutcome){0}, &j, &message), 0);
        assert_null(message);
}

/* ---- results ---- */

static void test_result_ipv4(void **state)
{
        /* what the bridge plugin prints: the bridge, the host veth, then eth0 in the sandbox */
        json_t *res =
                parse("{\"cniVersion\":\"1.0.0\",\"interfaces\":["
                      "{\"name\":\"kuke-main-blog\",\"mac\":\"02:e0:fe:aa:aa:f1\"},"
                      "{\"name\":\"veth1\",\"mac\":\"be:de:28:d5:2e:07\"},"
                      "{\"name\":\"eth0\",\"mac\":\"da:a2:f3:ca:00:0b\",\"sandbox\":\"/run/netns/x\"}],"
                      "\"ips\":[{\"interface\":2,\"address\":\"fd00::2/64\"},"
                      "{\"interface\":0,\"address\":\"10.88.0.1/24\"},"
                      "{\"interface\":2,\"address\":\"10.88.0.2/24\",\"gateway\":\"10.88.0.1\"}],"
                      "\"routes\":[{\"dst\":\"0.0.0.0/0\"}],\"dns\":{}}");
        char ip[CNI_IP_MAX], gw[CNI_IP_MAX];
        unsigned prefix = 0;
        assert_int_equal(cni_result_ipv4(res, "eth0", ip, &prefix, gw), 0);
        assert_string_equal(ip, "10.88.0.2");
        assert_int_equal(prefix, 24);
        assert_string_equal(gw, "10.88.0.1");
        /* another interface name: still the sandbox's address */
        assert_int_equal(cni_result_ipv4(res, "net1", ip, &prefix, gw), 0);
        assert_string_equal(ip, "10.88.0.2");
        json_decref(res);

        /* without interfaces (an old or minimal plugin): the first IPv4, no gateway */
        res = parse("{\"ips\":[{\"address\":\"10.1.2.3/16\"}]}");
        assert_int_equal(cni_result_ipv4(res, NULL, ip, &prefix, gw), 0);
        assert_string_equal(ip, "10.1.2.3");
        assert_int_equal(prefix, 16);
        assert_string_equal(gw, "");
        json_decref(res);

        static const char *const none[] = {"{}", "{\"ips\":[]}", "{\"ips\":[{\"address\":\"fd00::1/64\"}]}",
                                           "{\"ips\":[{\"address\":42}]}"};
        for (size_t i = 0; i < ARRAY_SIZE(none); i++) {
                res = parse(none[i]);
                assert_int_equal(cni_result_ipv4(res, "eth0", ip, &prefix, gw), -ENOENT);
                json_decref(res);
        }
}

static void test_version_supported(void **state)
{
        json_t *v =
                parse("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.1\",\"0.4.0\",\"1.0.0\"]}");
        assert_true(cni_version_supported(v, "1.0.0"));
        assert_false(cni_version_supported(v, "1.1.0"));
        json_decref(v);
        assert_string_equal(cni_command_to_string(CNI_CMD_CHECK), "CHECK");
        assert_null(cni_command_to_string(_CNI_CMD_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_env_add),
                cmocka_unit_test(test_env_del_without_netns_and_defaults),
                cmocka_unit_test(test_env_version),
                cmocka_unit_test(test_env_invalid),
                cmocka_unit_test(test_plugin_config),
                cmocka_unit_test(test_conflist_shape),
                cmocka_unit_test(test_outcome_cni_errors),
                cmocka_unit_test(test_outcome_other_failures),
                cmocka_unit_test(test_outcome_success),
                cmocka_unit_test(test_result_ipv4),
                cmocka_unit_test(test_version_supported),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
