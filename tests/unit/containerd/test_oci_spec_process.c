/* The OCI spec generator, the process object: entrypoint/cmd/args, env precedence, working directory,
 * user resolution (with and without the image's /etc/passwd and /etc/group), and image configs of the
 * wrong shape. */
#include "oci-spec-util.h"

/* ---- process ---- */

static void test_entrypoint_cmd_args(void **state)
{
        static const struct {
                const char *config;
                const char *command;
                bool has_args;
                const char *want;
        } cases[] = {
                /* both unset: Entrypoint + Cmd */
                {"{\"Entrypoint\":[\"/ep\",\"-x\"],\"Cmd\":[\"c1\",\"c2\"]}", NULL, false,
                 "[\"/ep\",\"-x\",\"c1\",\"c2\"]"},
                {"{\"Cmd\":[\"/bin/sh\"]}", NULL, false, "[\"/bin/sh\"]"},
                {"{\"Entrypoint\":[\"/ep\"]}", NULL, false, "[\"/ep\"]"},
                {"{\"Entrypoint\":null,\"Cmd\":[\"/bin/sh\"]}", NULL, false, "[\"/bin/sh\"]"},
                /* args only: Entrypoint + args, Cmd dropped */
                {"{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", NULL, true, "[\"/ep\",\"a1\",\"a2\"]"},
                {"{\"Cmd\":[\"/bin/sh\"]}", NULL, true, "[\"a1\",\"a2\"]"},
                /* command: [command] + args, Entrypoint and Cmd dropped */
                {"{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", "/bin/true", false, "[\"/bin/true\"]"},
                {"{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"c1\"]}", "/bin/echo", true,
                 "[\"/bin/echo\",\"a1\",\"a2\"]"},
                {NULL, "/bin/echo", true, "[\"/bin/echo\",\"a1\",\"a2\"]"},
                {"{}", NULL, true, "[\"a1\",\"a2\"]"},
        };
        ResourceId cell = cell_wp();
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_t *cfg = cases[i].config ? json_parse(cases[i].config) : NULL;
                ContainerSpec c = busybox();
                StrList args = SL("a1", "a2");
                c.command = (char *)cases[i].command;
                if (cases[i].has_args)
                        c.args = args;
                OciSpecInput in = input_for(&c, &cell, cfg);
                json_t *spec = build_ok(&in);
                assert_json(jget(spec, "process.args"), cases[i].want,
                            cases[i].config ? cases[i].config : "(none)");
                json_decref(spec);
                json_decref(cfg);
        }
}

static void test_nothing_to_run(void **state)
{
        static const char *const configs[] = {"{}", "{\"Cmd\":[]}", "{\"Entrypoint\":null,\"Cmd\":null}"};
        ResourceId cell = cell_wp();
        for (size_t i = 0; i <= ARRAY_SIZE(configs); i++) {
                json_t *cfg = i < ARRAY_SIZE(configs) ? json_parse(configs[i]) : NULL;
                ContainerSpec c = busybox();
                OciSpecInput in = input_for(&c, &cell, cfg);
                char *err = build_err(&in);
                assert_prefix(err, "command: nothing to run");
                free(err);
                json_decref(cfg);
        }
}

static void test_env_precedence(void **state)
{
        json_t *cfg = json_parse(
                "{\"Env\":[\"PATH=/image/bin\",\"FOO=image\",\"KUKEON_REALM=image\",\"BAR=image\"],"
                "\"Cmd\":[\"sh\"]}");
        ContainerSpec c = busybox();
        c.env = SL("FOO=user", "NEW=1", "KUKEON_SPACE=user", "EMPTY=", "NEW=2", "EQ=a=b");
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);
        /* image order kept, KUKEON_* replace image keys in place or append, user keys replace in place or
         * append, the last of a repeated user key wins */
        assert_at(spec, "process.env",
                  "[\"PATH=/image/"
                  "bin\",\"FOO=user\",\"KUKEON_REALM=main\",\"BAR=image\",\"KUKEON_CELL_NAME=wp\","
                  "\"KUKEON_CONTAINER_ID=app\",\"KUKEON_SPACE=user\",\"KUKEON_STACK=wordpress\","
                  "\"KUKEON_CGROUP_PATH=" CGROUP_CELL "\",\"NEW=2\",\"EMPTY=\",\"EQ=a=b\"]");
        json_decref(spec);
        json_decref(cfg);
}

static void test_env_default_path(void **state)
{
        static const char *const configs[] = {"{\"Cmd\":[\"sh\"]}", "{\"Env\":[],\"Cmd\":[\"sh\"]}",
                                              "{\"Env\":null,\"Cmd\":[\"sh\"]}", NULL};
        ResourceId cell = cell_wp();
        for (size_t i = 0; i < ARRAY_SIZE(configs); i++) {
                json_t *cfg = configs[i] ? json_parse(configs[i]) : NULL;
                ContainerSpec c = busybox();
                c.command = "sh";
                OciSpecInput in = input_for(&c, &cell, cfg);
                json_t *spec = build_ok(&in);
                assert_at(spec, "process.env.0", "\"" DEFAULT_PATH "\"");
                json_decref(spec);
                json_decref(cfg);
        }
        /* an image with Env but no PATH gets none (containerd does the same) */
        json_t *cfg = json_parse("{\"Env\":[\"A=1\"],\"Cmd\":[\"sh\"]}");
        ContainerSpec c = busybox();
        OciSpecInput in = input_for(&c, &cell, cfg);
        json_t *spec = build_ok(&in);
        assert_at(spec, "process.env.0", "\"A=1\"");
        assert_at(spec, "process.env.1", "\"KUKEON_CELL_NAME=wp\"");
        json_decref(spec);
        json_decref(cfg);
}

static void test_working_dir(void **state)
{
        ResourceId cell = cell_wp();
        json_t *with = json_parse("{\"Cmd\":[\"sh\"],\"WorkingDir\":\"/img\"}");
        json_t *without = json_parse("{\"Cmd\":[\"sh\"],\"WorkingDir\":\"\"}");
        ContainerSpec c = busybox();
        OciSpecInput in = input_for(&c, &cell, with);
        json_t *spec = build_ok(&in);
        assert_at(spec, "process.cwd", "\"/img\"");
        json_decref(spec);
        c.working_dir = "/mine";
        spec = build_ok(&in);
        assert_at(spec, "process.cwd", "\"/mine\"");
        json_decref(spec);
        c.working_dir = NULL;
        in.image_config = without;
        spec = build_ok(&in);
        assert_at(spec, "process.cwd", "\"/\"");
        json_decref(spec);
        json_decref(with);
        json_decref(without);
}

/* ---- user ---- */

/* The container's user, the image's User, whether /etc/passwd and /etc/group are given, and the
 * expected process.user (or error message prefix). */
typedef struct UserCase {
        const char *ours, *image;
        bool files;
        const char *want;
} UserCase;

static void check_user_case(const UserCase *uc, size_t i, bool expect_ok)
{
        char cfgtext[256], what[128];
        snprintf(cfgtext, sizeof(cfgtext), "{\"Cmd\":[\"sh\"],\"User\":\"%s\"}", strempty(uc->image));
        snprintf(what, sizeof(what), "case %zu (%s / %s)", i, strempty(uc->ours), strempty(uc->image));
        json_t *cfg = json_parse(cfgtext);
        ContainerSpec c = busybox();
        c.user = (char *)uc->ours;
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, cfg);
        if (uc->files) {
                in.etc_passwd = passwd_text;
                in.etc_group = group_text;
        }
        if (expect_ok) {
                json_t *spec = build_ok(&in);
                assert_json(jget(spec, "process.user"), uc->want, what);
                json_decref(spec);
        } else {
                char *err = build_err(&in);
                assert_prefix(err, uc->want);
                free(err);
        }
        json_decref(cfg);
}

static void test_user(void **state)
{
        static const UserCase cases[] = {
                {NULL, NULL, false, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
                {"", "", false, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
                {"1000", NULL, false, "{\"uid\":1000,\"gid\":0,\"additionalGids\":[0]}"},
                {"1000:50", NULL, false, "{\"uid\":1000,\"gid\":50,\"additionalGids\":[50]}"},
                {NULL, "65534:65534", false, "{\"uid\":65534,\"gid\":65534,\"additionalGids\":[65534]}"},
                {"7", "65534", false, "{\"uid\":7,\"gid\":0,\"additionalGids\":[0]}"}, /* ours wins */
                {"root", NULL, false, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
                {"0:root", NULL, false, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
                /* with /etc/passwd and /etc/group: names, primary gids, supplementary groups */
                {"www-data", NULL, true, "{\"uid\":33,\"gid\":33,\"additionalGids\":[33,50]}"},
                {NULL, "app", true, "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,50,29]}"},
                {"1000", NULL, true, "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,50,29]}"},
                {"app:staff", NULL, true, "{\"uid\":1000,\"gid\":50,\"additionalGids\":[50,29]}"},
                {"33:29", NULL, true, "{\"uid\":33,\"gid\":29,\"additionalGids\":[29,50]}"},
                {"4242", NULL, true, "{\"uid\":4242,\"gid\":0,\"additionalGids\":[0]}"},
                {NULL, NULL, true, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                check_user_case(&cases[i], i, true);
}

static void test_user_errors(void **state)
{
        static const UserCase cases[] = {
                {"www-data", NULL, false,
                 "user: \"www-data\" names a user; resolving it needs the image's /etc/passwd, or use a "
                 "numeric uid[:gid]"},
                {NULL, "nobody", false, "image config User: \"nobody\" names a user; resolving it needs"},
                {"1000:staff", NULL, false,
                 "user: \"1000:staff\" names a group; resolving it needs the image's /etc/group"},
                {"nobody", NULL, true, "user: no user \"nobody\" in the image's /etc/passwd"},
                {"broken", NULL, true, "user: no user \"broken\" in the image's /etc/passwd"},
                {"app:wheel", NULL, true, "user: no group \"wheel\" in the image's /etc/group"},
                {"2147483648", NULL, false,
                 "user: uid in \"2147483648\" is out of range (at most 2147483647)"},
                {"1:99999999999", NULL, false, "user: gid in \"1:99999999999\" is out of range"},
                {"1:2:3", NULL, false, "user: \"1:2:3\" is not uid, uid:gid, name or name:group"},
                {":5", NULL, false, "user: \":5\" is not uid"},
                {"5:", NULL, false, "user: \"5:\" is not uid"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                check_user_case(&cases[i], i, false);
}

static void test_needs_passwd(void **state)
{
        json_t *named = json_parse("{\"User\":\"nobody\"}"), *numeric = json_parse("{\"User\":\"65534\"}");
        ContainerSpec c = busybox();
        assert_false(oci_spec_needs_passwd(&c, NULL));
        assert_false(oci_spec_needs_passwd(&c, numeric));
        assert_true(oci_spec_needs_passwd(&c, named));
        c.user = "1000:1000";
        assert_false(oci_spec_needs_passwd(&c, named)); /* ours wins */
        c.user = "root";
        assert_false(oci_spec_needs_passwd(&c, NULL));
        c.user = "0:root";
        assert_false(oci_spec_needs_passwd(&c, NULL));
        c.user = "www-data";
        assert_true(oci_spec_needs_passwd(&c, NULL));
        c.user = "1000:staff";
        assert_true(oci_spec_needs_passwd(&c, NULL));
        json_decref(named);
        json_decref(numeric);
}

static void test_invalid_image_config(void **state)
{
        static const struct {
                const char *config, *want;
        } cases[] = {
                {"{\"Cmd\":\"/bin/sh\"}", "image config Cmd: expected an array of strings"},
                {"{\"Entrypoint\":[\"/ep\", 1]}", "image config Entrypoint[1]: expected a string"},
                {"{\"Cmd\":[\"sh\"],\"Env\":{\"A\":\"1\"}}",
                 "image config Env: expected an array of strings"},
                {"{\"Cmd\":[\"sh\"],\"User\":1000}", "image config User: expected a string"},
                {"{\"Cmd\":[\"sh\"],\"WorkingDir\":\"app\"}",
                 "image config WorkingDir: expected an absolute path"},
                {"{\"Cmd\":[\"sh\"],\"WorkingDir\":[]}", "image config WorkingDir: expected a string"},
        };
        ResourceId cell = cell_wp();
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_t *cfg = json_parse(cases[i].config);
                ContainerSpec c = busybox();
                OciSpecInput in = input_for(&c, &cell, cfg);
                char *err = build_err(&in);
                assert_prefix(err, cases[i].want);
                free(err);
                json_decref(cfg);
        }
}

/* A NULL ret_error is allowed: only the code comes back. */
static void test_error_without_message(void **state)
{
        ContainerSpec c = busybox();
        ResourceId cell = cell_wp();
        OciSpecInput in = input_for(&c, &cell, NULL);
        json_t *spec = NULL;
        assert_int_equal(oci_spec_build(&in, &spec, NULL), -EINVAL);
        assert_null(spec);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_entrypoint_cmd_args),  cmocka_unit_test(test_nothing_to_run),
                cmocka_unit_test(test_env_precedence),       cmocka_unit_test(test_env_default_path),
                cmocka_unit_test(test_working_dir),          cmocka_unit_test(test_user),
                cmocka_unit_test(test_user_errors),          cmocka_unit_test(test_needs_passwd),
                cmocka_unit_test(test_invalid_image_config), cmocka_unit_test(test_error_without_message),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
