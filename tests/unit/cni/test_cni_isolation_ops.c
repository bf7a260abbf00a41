/* The isolation operations against a fake iptables: a shell script that keeps chains and rules in files
 * (in iptables' order: -I on top, -A at the end), answers -C with 0/1 and lists with -S as iptables does.
 * No root, no netfilter: what is checked is which commands run, in which order, and what the rule set
 * looks like after each operation. */
#include <sys/stat.h>

#include "tests/unit/cni/cni-test-util.h"

typedef struct Fake {
        char tmp[64];
        char iptables[128];
        char log[128];
        CniIsolation *iso;
} Fake;

/* iptables [-w N] [-t T] -X CHAIN [args]: rules are "CHAIN args" lines; shell built-ins only, so each
 * run is one process. */
static const char fake_body[] =
        "d=${0%/*}\n"
        "echo \"$*\" >> \"$d/log\"\n"
        "if [ -f \"$d/fail\" ]; then read -r code < \"$d/fail\"; echo 'Another app is currently holding the "
        "xtables lock.' >&2; exit \"$code\"; fi\n"
        "[ \"$1\" = -w ] && shift 2\n"
        "[ \"$1\" = -t ] && shift 2\n"
        "op=$1; chain=$2; shift 2\n"
        "[ \"$op\" = -I ] && shift\n"
        "rule=\"$chain $*\"\n"
        ": >> \"$d/rules\"; : >> \"$d/chains\"\n"
        "nl='\n"
        "'\n"
        "has_line() { while IFS= read -r l; do [ \"$l\" = \"$1\" ] && return 0; done < \"$2\"; return 1; }\n"
        "has_chain() { [ \"$1\" = FORWARD ] || has_line \"$1\" \"$d/chains\"; }\n"
        "case $op in\n"
        "-N) has_chain \"$chain\" && exit 1; echo \"$chain\" >> \"$d/chains\";;\n"
        "-X) has_chain \"$chain\" || exit 1\n"
        "    while IFS= read -r l; do case \"$l\" in \"$chain \"*|*\" -j $chain\") exit 1;; esac; done < "
        "\"$d/rules\"\n"
        "    out=; while IFS= read -r l; do [ \"$l\" = \"$chain\" ] || out=\"$out$l$nl\"; done < "
        "\"$d/chains\"\n"
        "    printf %s \"$out\" > \"$d/chains\";;\n"
        "-F) has_chain \"$chain\" || exit 1\n"
        "    out=; while IFS= read -r l; do case \"$l\" in \"$chain \"*) ;; *) out=\"$out$l$nl\";; esac; "
        "done < \"$d/rules\"\n"
        "    printf %s \"$out\" > \"$d/rules\";;\n"
        "-S) has_chain \"$chain\" || exit 1; echo \"-N $chain\"\n"
        "    while IFS= read -r l; do case \"$l\" in \"$chain \"*) echo \"-A $l\";; esac; done < "
        "\"$d/rules\";;\n"
        "-C) has_chain \"$chain\" || exit 1; has_line \"$rule\" \"$d/rules\";;\n"
        "-A) has_chain \"$chain\" || exit 1; echo \"$rule\" >> \"$d/rules\";;\n"
        "-I) has_chain \"$chain\" || exit 1\n"
        "    out=\"$rule$nl\"; while IFS= read -r l; do out=\"$out$l$nl\"; done < \"$d/rules\"\n"
        "    printf %s \"$out\" > \"$d/rules\";;\n"
        "-D) has_line \"$rule\" \"$d/rules\" || exit 1\n"
        "    out=; found=; while IFS= read -r l; do\n"
        "    if [ -z \"$found\" ] && [ \"$l\" = \"$rule\" ]; then found=1; else out=\"$out$l$nl\"; fi; done "
        "< \"$d/rules\"\n"
        "    printf %s \"$out\" > \"$d/rules\";;\n"
        "*) echo \"bad option $op\" >&2; exit 2;;\n"
        "esac\n";

static int fake_setup(void **state)
{
        Fake *f = calloc(1, sizeof(Fake));
        if (!f)
                return -1;
        snprintf(f->tmp, sizeof(f->tmp), "/tmp/kuke-iso-XXXXXX");
        if (!mkdtemp(f->tmp))
                return -1;
        *state = f;
        fake_plugin(f->tmp, "iptables", fake_body);
        snprintf(f->iptables, sizeof(f->iptables), "%s/iptables", f->tmp);
        snprintf(f->log, sizeof(f->log), "%s/log", f->tmp);
        CniIsolationConfig c = {.iptables = f->iptables, .chain = "KT-ISO", .timeout_ms = 10000};
        return cni_isolation_new(&c, &f->iso) < 0 ? -1 : 0;
}

static int fake_teardown(void **state)
{
        Fake *f = *state;
        cni_isolation_free(f->iso);
        int r = rm_rf(f->tmp);
        free(f);
        return r;
}

/* The fake's rules: FORWARD's, then the other chain's, each in its order (what "iptables -S" shows). */
static char *fake_rules(Fake *f)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/rules", f->tmp);
        if (access(path, F_OK) < 0)
                return strdup("");
        _cleanup_free_ char *text = file_read(path, NULL);
        Buf b = BUF_INIT;
        for (int pass = 0; pass < 2; pass++)
                for (const char *line = text; *line;) {
                        size_t len = strcspn(line, "\n");
                        bool forward = strncmp(line, "FORWARD ", 8) == 0;
                        if (forward == (pass == 0))
                                assert_int_equal(buf_printf(&b, "%.*s\n", (int)len, line), 0);
                        line += len + (line[len] == '\n');
                }
        return buf_steal(&b);
}

static char *fake_chains(Fake *f)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/chains", f->tmp);
        if (access(path, F_OK) < 0)
                return strdup("");
        return file_read(path, NULL);
}

/* The commands run since the last call, one per line, with "-w 5 -t filter " cut out. */
static char *fake_log_take(Fake *f)
{
        if (access(f->log, F_OK) < 0)
                return strdup("");
        _cleanup_free_ char *text = file_read(f->log, NULL);
        unlink(f->log);
        Buf b = BUF_INIT;
        const char *head = "-w 5 -t filter ";
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                assert_int_equal(
                        buf_printf(&b, "%s\n",
                                   strncmp(line, head, strlen(head)) == 0 ? line + strlen(head) : line),
                        0);
        return buf_steal(&b);
}

#define BRIDGE_RULE(b)                                                                                      \
        "KT-ISO -i " b " -o " b " -m comment --comment kukeon:isolation:bridge:" b " -j RETURN\n"
#define ESTAB_RULE                                                                                          \
        "KT-ISO -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "                           \
        "kukeon:isolation:established "                                                                     \
        "-j RETURN\n"
#define DROP_RULE(b) "KT-ISO -i " b " -m comment --comment kukeon:isolation:drop:" b " -j DROP\n"
#define JUMP_RULE    "FORWARD -i kuke-+ -o kuke-+ -m comment --comment kukeon:isolation:jump -j KT-ISO\n"

/* error: where the operation put its message (read after the call) */
static void assert_ok(int want, int r, char **error)
{
        if (r < 0)
                fail_msg("%s", *error ? *error : strerror(-r));
        free(*error);
        *error = NULL;
        assert_int_equal(r, want);
}

static void test_ensure_from_nothing_and_again(void **state)
{
        Fake *f = *state;
        char *error = NULL;
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        _cleanup_free_ char *log = fake_log_take(f);
        /* the chain, then its rules (checked first), the jump last */
        assert_string_equal(
                log,
                "-S KT-ISO\n"
                "-N KT-ISO\n"
                "-C " ESTAB_RULE "-I KT-ISO 1 -m conntrack --ctstate RELATED,ESTABLISHED -m "
                "comment --comment kukeon:isolation:established -j RETURN\n"
                "-C " BRIDGE_RULE(
                        "kuke-a") "-I KT-ISO 1 -i kuke-a -o kuke-a -m comment --comment "
                                  "kukeon:isolation:bridge:kuke-a -j RETURN\n"
                                  "-C " DROP_RULE("kuke-a") "-A " DROP_RULE(
                                          "kuke-a") "-C " JUMP_RULE
                                                    "-I FORWARD 1 -i kuke-+ -o kuke-+ -m comment --comment "
                                                    "kukeon:isolation:jump -j KT-ISO\n");
        _cleanup_free_ char *rules = fake_rules(f);
        assert_string_equal(rules, JUMP_RULE BRIDGE_RULE("kuke-a") ESTAB_RULE DROP_RULE("kuke-a"));

        /* again: only looks */
        assert_ok(0, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        _cleanup_free_ char *again = fake_log_take(f);
        assert_string_equal(again, "-S KT-ISO\n-C " ESTAB_RULE
                                   "-C " BRIDGE_RULE("kuke-a") "-C " DROP_RULE("kuke-a") "-C " JUMP_RULE);
}

static void test_two_spaces_and_repair(void **state)
{
        Fake *f = *state;
        char *error = NULL;
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-b", &error), &error);
        _cleanup_free_ char *rules = fake_rules(f);
        assert_string_equal(rules, JUMP_RULE BRIDGE_RULE("kuke-b") BRIDGE_RULE("kuke-a")
                                           ESTAB_RULE DROP_RULE("kuke-a") DROP_RULE("kuke-b"));

        char **v = NULL;
        size_t n = 0;
        assert_ok(0, cni_isolation_list(f->iso, &v, &n, &error), &error);
        assert_int_equal(n, 2);
        assert_string_equal(v[0], "kuke-a");
        assert_string_equal(v[1], "kuke-b");
        cni_strv_free(v);

        /* someone deletes a DROP and the jump: the next ensure puts them back, the DROPs below */
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "%s -D KT-ISO -i kuke-a -m comment --comment kukeon:isolation:drop:kuke-a -j DROP && %s -D "
                 "FORWARD -i kuke-+ -o kuke-+ -m comment --comment kukeon:isolation:jump -j KT-ISO",
                 f->iptables, f->iptables);
        assert_int_equal(system(cmd), 0);
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        _cleanup_free_ char *repaired = fake_rules(f);
        assert_string_equal(repaired, JUMP_RULE BRIDGE_RULE("kuke-b") BRIDGE_RULE("kuke-a")
                                              ESTAB_RULE DROP_RULE("kuke-b") DROP_RULE("kuke-a"));
}

static void test_remove_tears_down_with_the_last(void **state)
{
        Fake *f = *state;
        char *error = NULL;
        assert_ok(0, cni_isolation_remove(f->iso, "kuke-a", &error), &error); /* nothing there */
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-b", &error), &error);

        assert_ok(1, cni_isolation_remove(f->iso, "kuke-a", &error), &error);
        _cleanup_free_ char *rules = fake_rules(f);
        assert_string_equal(rules, JUMP_RULE BRIDGE_RULE("kuke-b") ESTAB_RULE DROP_RULE("kuke-b"));
        assert_ok(0, cni_isolation_remove(f->iso, "kuke-a", &error), &error);

        assert_ok(1, cni_isolation_remove(f->iso, "kuke-b", &error), &error);
        _cleanup_free_ char *none = fake_rules(f);
        assert_string_equal(none, "");
        _cleanup_free_ char *chains = fake_chains(f);
        assert_string_equal(chains, "");
        assert_ok(0, cni_isolation_remove_all(f->iso, &error), &error);

        char **v = NULL;
        size_t n = 9;
        assert_ok(0, cni_isolation_list(f->iso, &v, &n, &error), &error);
        assert_int_equal(n, 0);
        cni_strv_free(v);
}

static void test_remove_all(void **state)
{
        Fake *f = *state;
        char *error = NULL;
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-a", &error), &error);
        assert_ok(1, cni_isolation_ensure(f->iso, "kuke-b", &error), &error);
        /* a second jump added behind our back goes too */
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "%s -A FORWARD -i kuke-+ -o kuke-+ -m comment --comment "
                 "kukeon:isolation:jump -j KT-ISO",
                 f->iptables);
        assert_int_equal(system(cmd), 0);
        assert_ok(1, cni_isolation_remove_all(f->iso, &error), &error);
        _cleanup_free_ char *rules = fake_rules(f);
        assert_string_equal(rules, "");
        _cleanup_free_ char *chains = fake_chains(f);
        assert_string_equal(chains, "");
}

static void test_errors(void **state)
{
        Fake *f = *state;
        char *error = NULL;
        assert_int_equal(cni_isolation_ensure(f->iso, "eth0", &error), -EINVAL);
        assert_null(error);

        char path[256];
        snprintf(path, sizeof(path), "%s/fail", f->tmp);
        write_text(f->tmp, "fail", "4\n");
        assert_int_equal(cni_isolation_ensure(f->iso, "kuke-a", &error), -EAGAIN);
        char want[512];
        snprintf(want, sizeof(want),
                 "%s -w 5 -t filter -S KT-ISO: exit status 4: Another app is currently holding the xtables "
                 "lock.",
                 f->iptables);
        assert_string_equal(error, want);
        free(error);
        write_text(f->tmp, "fail", "2\n");
        assert_int_equal(cni_isolation_remove_all(f->iso, &error), -EIO);
        assert_contains(error, "exit status 2");
        free(error);
        unlink(path);

        /* not root: iptables' exit 4 says so */
        fake_plugin(f->tmp, "denied",
                    "echo 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission "
                    "denied "
                    "(you must be root)' >&2; exit 4");
        char denied_path[256];
        snprintf(denied_path, sizeof(denied_path), "%s/denied", f->tmp);
        CniIsolation *denied = NULL;
        assert_int_equal(cni_isolation_new(&(CniIsolationConfig){.iptables = denied_path}, &denied), 0);
        assert_int_equal(cni_isolation_remove_all(denied, &error), -EPERM);
        assert_contains(error, "exit status 4: iptables v1.8.9 (nf_tables): Could not fetch");
        free(error);
        cni_isolation_free(denied);

        CniIsolation *missing = NULL;
        CniIsolationConfig c = {.iptables = "/nonexistent/iptables"};
        assert_int_equal(cni_isolation_new(&c, &missing), 0);
        assert_int_equal(cni_isolation_ensure(missing, "kuke-a", &error), -ENOENT);
        assert_string_equal(error,
                            "/nonexistent/iptables -w 15 -t filter -S KUKEON-ISOLATION: cannot run: No "
                            "such file or directory");
        free(error);
        cni_isolation_free(missing);
}

/* ---- on a loop ---- */

typedef struct Done {
        int calls;
        int r;
        char message[512];
        char bridges[4][16];
        size_t n_bridges;
} Done;

static void on_done(int r, const char *message, char *const *bridges, void *userdata)
{
        Done *d = userdata;
        d->calls++;
        d->r = r;
        snprintf(d->message, sizeof(d->message), "%s", message);
        for (size_t i = 0; bridges && bridges[i] && i < 4; i++)
                snprintf(d->bridges[d->n_bridges++], sizeof(d->bridges[0]), "%s", bridges[i]);
}

static void run_op(Fake *f, CniIsolationOp op, const char *bridge, Done *d)
{
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        *d = (Done){0};
        assert_int_equal(cni_isolation_submit(&loop, f->iso, op, bridge, on_done, d), 0);
        assert_int_equal(d->calls, 0); /* never from inside the call */
        loop_drain_and_close(&loop);
        assert_int_equal(d->calls, 1);
}

static void test_submit(void **state)
{
        Fake *f = *state;
        Done d;
        run_op(f, CNI_ISOLATION_ENSURE, "kuke-a", &d);
        assert_int_equal(d.r, 1);
        assert_string_equal(d.message, "");
        run_op(f, CNI_ISOLATION_ENSURE, "kuke-b", &d);
        run_op(f, CNI_ISOLATION_LIST, NULL, &d);
        assert_int_equal(d.r, 0);
        assert_int_equal(d.n_bridges, 2);
        assert_string_equal(d.bridges[0], "kuke-a");
        assert_string_equal(d.bridges[1], "kuke-b");
        run_op(f, CNI_ISOLATION_REMOVE, "kuke-a", &d);
        assert_int_equal(d.r, 1);
        run_op(f, CNI_ISOLATION_REMOVE_ALL, NULL, &d);
        assert_int_equal(d.r, 1);

        write_text(f->tmp, "fail", "1\n");
        run_op(f, CNI_ISOLATION_ENSURE, "kuke-a", &d);
        assert_int_equal(d.r, -EIO);
        assert_contains(d.message, ": exit status 1: Another app");

        /* several at once on one loop: serialised by the CniIsolation, each reported once */
        char fail[256];
        snprintf(fail, sizeof(fail), "%s/fail", f->tmp);
        unlink(fail);
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        static const char *const bridges[] = {"kuke-a", "kuke-b", "kuke-c", "kuke-d"};
        Done many[4] = {0};
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(cni_isolation_submit(&loop, f->iso, CNI_ISOLATION_ENSURE, bridges[i],
                                                      on_done, &many[i]),
                                 0);
        loop_drain_and_close(&loop);
        for (size_t i = 0; i < 4; i++) {
                assert_int_equal(many[i].calls, 1);
                assert_int_equal(many[i].r, 1);
        }
        run_op(f, CNI_ISOLATION_LIST, NULL, &d);
        assert_int_equal(d.n_bridges, 4);

        assert_int_equal(cni_isolation_submit(&loop, f->iso, CNI_ISOLATION_ENSURE, "eth0", on_done, &d),
                         -EINVAL);
        assert_int_equal(cni_isolation_submit(&loop, f->iso, _CNI_ISOLATION_OP_MAX, NULL, on_done, &d),
                         -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_ensure_from_nothing_and_again, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_two_spaces_and_repair, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_remove_tears_down_with_the_last, fake_setup,
                                                fake_teardown),
                cmocka_unit_test_setup_teardown(test_remove_all, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_errors, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(test_submit, fake_setup, fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
