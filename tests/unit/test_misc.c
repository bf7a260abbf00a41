/* Label selectors, derived names (containerd ids, netns, cgroup paths), RFC 3339 times and ages, Buf,
 * SHA-256 strings, and the daemon's pid lock. */
#include <regex.h>
#include <sys/wait.h>

#include "testutil.h"

#include "common/pidlock.h"
#include "common/sha256.h"
#include "common/timeutil.h"
#include "state/schema.h"
#include "state/selector.h"

/* ---- selectors ---- */

static StrMap labels_of(const char *const *kv)
{
        StrMap m = {0};
        for (size_t i = 0; kv[i]; i += 2)
                assert_int_equal(strmap_set(&m, kv[i], kv[i + 1]), 0);
        return m;
}

static bool sel_matches(const char *selector, const char *const *kv)
{
        Selector *s = NULL;
        Diag diag = DIAG_INIT;
        if (selector_parse(selector, &s, &diag) < 0)
                fail_msg("\"%s\": %s", selector, diag.message);
        StrMap m = labels_of(kv);
        bool r = selector_matches(s, &m);
        strmap_done(&m);
        selector_free(s);
        return r;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE   ((const char *const[]){NULL})

static void test_selector_matches(void **state)
{
        assert_true(sel_matches("app=web", L("app", "web", "tier", "front")));
        assert_false(sel_matches("app=web", L("app", "db")));
        assert_false(sel_matches("app=web", NONE));
        assert_true(sel_matches("app==web", L("app", "web")));
        assert_false(sel_matches("app==web", L("app", "webx")));
        assert_true(sel_matches("app!=web", L("app", "db")));
        assert_true(sel_matches("app!=web", NONE)); /* absent counts as different, as in kubectl */
        assert_false(sel_matches("app!=web", L("app", "web")));
        assert_true(sel_matches("app", L("app", "")));
        assert_false(sel_matches("app", L("apps", "x")));
        assert_true(sel_matches("!app", L("apps", "x")));
        assert_false(sel_matches("!app", L("app", "x")));
        assert_true(sel_matches("app=", L("app", "")));
        assert_false(sel_matches("app=", L("app", "x")));
        assert_true(sel_matches("kukeon.io/role=root", L("kukeon.io/role", "root")));
        /* every term must hold; blanks around terms and operators are ignored */
        assert_true(sel_matches("app=web,tier!=db, !legacy", L("app", "web", "tier", "front")));
        assert_false(sel_matches("app=web,tier!=db,!legacy", L("app", "web", "tier", "db")));
        assert_false(sel_matches("app=web,tier!=db,!legacy", L("app", "web", "legacy", "1")));
        assert_true(sel_matches(" app = web ,, tier ", L("app", "web", "tier", "x")));
        StrMap m = labels_of(L("a", "b"));
        assert_true(selector_matches(NULL, &m));
        strmap_done(&m);
}

static void test_selector_invalid(void **state)
{
        static const char *const bad[] = {"",       ",",     " , ",      "=web",    "app=web=x",
                                          "a b=c",  "!",     "app=we b", "app!==x", "app in (a,b)",
                                          "!app=x", "app=@", "a:b"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                Selector *s = NULL;
                Diag diag = DIAG_INIT;
                int r = selector_parse(bad[i], &s, &diag);
                if (r != -EINVAL)
                        fail_msg("\"%s\": got %d, want -EINVAL", bad[i], r);
                assert_null(s);
                assert_non_null(diag.message);
                diag_done(&diag);
        }
        Selector *s = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(selector_parse("", &s, &diag), -EINVAL);
        assert_string_equal(diag.message, "empty selector");
        assert_int_equal(selector_parse("a b", &s, &diag), -EINVAL);
        assert_string_equal(diag.message,
                            "invalid selector term \"a b\": expected key=value, key!=value, key or !key");
        diag_done(&diag);
}

/* Regression: parse_requirement() (selector.c) cuts the term at its operator before it reports it, so the
 * message names only the key: `invalid selector term "app"` for "app=web=x" (fixed). */
static void test_selector_invalid_names_whole_term(void **state)
{
        Selector *s = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(selector_parse("tier=front,app=web=x", &s, &diag), -EINVAL);
        assert_contains(diag.message, "\"app=web=x\"");
        diag_done(&diag);
}

/* ---- derived names ---- */

static bool is_containerd_identifier(const char *s)
{
        regex_t re;
        assert_int_equal(regcomp(&re, "^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$", REG_EXTENDED | REG_NOSUB), 0);
        bool ok = regexec(&re, s, 0, NULL, 0) == 0 && strlen(s) <= 76;
        regfree(&re);
        return ok;
}

static const char long63[] = "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh";

static void test_containerd_id_short(void **state)
{
        ResourceId cell = rid(KIND_CELL, "main/blog/wordpress/wp");
        char id[77];
        containerd_container_id(&cell, "nginx", false, id);
        assert_string_equal(id, "blog_wordpress_wp_nginx");
        assert_true(is_containerd_identifier(id));
        containerd_container_id(&cell, "php-fpm", true, id);
        assert_string_equal(id, "blog_wordpress_wp_root");

        /* exactly 76 bytes stays as it is, 77 is shortened */
        ResourceId c76 = cell;
        snprintf(c76.space, sizeof(c76.space), "%.54s", long63); /* 54 + "_wordpress_wp_" (14) + 8 */
        containerd_container_id(&c76, "abcdefgh", false, id);
        assert_int_equal(strlen(id), 76);
        assert_prefix(id, c76.space);
        char shorter[77];
        containerd_container_id(&c76, "abcdefghi", false, shorter);
        assert_int_equal(strlen(shorter), 76);
        assert_int_equal(strncmp(id, shorter, 60), 0);
        assert_string_not_equal(id, shorter);
}

static void test_containerd_id_long(void **state)
{
        ResourceId cell = {.kind = KIND_CELL};
        snprintf(cell.realm, sizeof(cell.realm), "%s", long63);
        snprintf(cell.space, sizeof(cell.space), "%s", long63);
        snprintf(cell.stack, sizeof(cell.stack), "%s", long63);
        snprintf(cell.cell, sizeof(cell.cell), "%s", long63);
        snprintf(cell.name, sizeof(cell.name), "%s", long63);
        char a[77], a2[77], b[77], root[77], root2[77];
        char other[64];
        snprintf(other, sizeof(other), "%.62sx", long63); /* differs only in its last byte */
        containerd_container_id(&cell, long63, false, a);
        containerd_container_id(&cell, long63, false, a2);
        containerd_container_id(&cell, other, false, b);
        containerd_container_id(&cell, long63, true, root);
        containerd_container_id(&cell, other, true, root2);
        assert_true(strlen(a) <= 76);
        assert_true(strlen(root) <= 76);
        assert_string_equal(a, a2);    /* stable */
        assert_string_not_equal(a, b); /* distinct inputs, distinct ids */
        assert_string_not_equal(a, root);
        assert_string_equal(root, root2); /* the root container's id does not depend on its name */
        assert_int_equal(strspn(a + strlen(a) - 12, "0123456789abcdef"), 12);
        assert_int_equal(a[strlen(a) - 13], '_');
        assert_true(is_containerd_identifier(a));
        assert_true(is_containerd_identifier(b));
        assert_true(is_containerd_identifier(root));
        /* a cut that falls on a separator does not leave two in a row */
        ResourceId c2 = cell;
        snprintf(c2.space, sizeof(c2.space), "%.62s", long63);
        containerd_container_id(&c2, long63, false, a);
        assert_true(is_containerd_identifier(a));
}

/* Names are DNS-1123 labels without repeated hyphens: containerd identifiers allow no two separators in
 * a row, and names become parts of them (ids, the default namespace kukeon-<realm>). */
static void test_containerd_id_double_dash(void **state)
{
        ResourceId cell = rid(KIND_CELL, "main/blog/wp/web");
        char id[77];
        assert_false(name_is_valid("my--app"));
        assert_true(name_is_valid("my-app"));
        containerd_container_id(&cell, "my-app", false, id);
        assert_true(is_containerd_identifier(id));
}

static void test_netns_and_cgroup_names(void **state)
{
        ResourceId cell = rid(KIND_CELL, "main/blog/wordpress/wp");
        char buf[128];
        assert_int_equal(cell_netns_name(&cell, buf, sizeof(buf)), 0);
        assert_string_equal(buf, "kukeon_main_blog_wordpress_wp");
        assert_int_equal(cell_netns_name(&cell, buf, 10), -ENAMETOOLONG);
        assert_int_equal(cell_netns_name(&cell, buf, strlen("kukeon_main_blog_wordpress_wp")),
                         -ENAMETOOLONG);
        assert_int_equal(cell_netns_name(&cell, buf, strlen("kukeon_main_blog_wordpress_wp") + 1), 0);

        static const struct {
                Kind kind;
                const char *id, *want;
        } rows[] = {
                {KIND_REALM, "main", "/kukeon/main"},
                {KIND_SPACE, "main/blog", "/kukeon/main/blog"},
                {KIND_STACK, "main/blog/wordpress", "/kukeon/main/blog/wordpress"},
                {KIND_CELL, "main/blog/wordpress/wp", "/kukeon/main/blog/wordpress/wp"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                ResourceId id = rid(rows[i].kind, rows[i].id);
                assert_int_equal(resource_cgroup_path("kukeon", &id, buf, sizeof(buf)), 0);
                assert_string_equal(buf, rows[i].want);
        }
        assert_int_equal(resource_cgroup_path("kukeon", &cell, buf, 20), -ENAMETOOLONG);
        assert_int_equal(resource_cgroup_path("kukeon", &cell, buf, strlen(rows[3].want)), -ENAMETOOLONG);
}

/* ---- time ---- */

static void test_time_parse(void **state)
{
        static const struct {
                const char *s;
                int64_t t;
        } good[] = {
                {"1970-01-01T00:00:00Z", 0},
                {"2006-01-02T15:04:05Z", 1136214245},
                {"2006-01-02T15:04:05+07:00", 1136214245 - 7 * 3600},
                {"2006-01-02T15:04:05-07:30", 1136214245 + 7 * 3600 + 1800},
                {"2006-01-02T15:04:05+00:00", 1136214245},
                {"2006-01-02T15:04:05.999999999Z", 1136214245},
                {"2006-01-02T15:04:05.5+01:00", 1136214245 - 3600},
                {"2006-01-02t15:04:05z", 1136214245},
                {"2006-01-02 15:04:05Z", 1136214245},
                {"2024-02-29T23:59:59Z", 1709251199},
                {"2000-02-29T00:00:00Z", 951782400},
                {"1969-12-31T23:59:59Z", -1},
                {"2100-01-01T00:00:00Z", 4102444800},
        };
        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                int64_t t = 42;
                if (time_parse_rfc3339(good[i].s, &t) < 0)
                        fail_msg("\"%s\" refused", good[i].s);
                if (t != good[i].t)
                        fail_msg("\"%s\": got %lld, want %lld", good[i].s, (long long)t,
                                 (long long)good[i].t);
        }
        /* clang-format off */
        static const char *const bad[] = {
                "", "2006-01-02", "2006-01-02T15:04:05", "2006-01-02T15:04Z", "2006-1-02T15:04:05Z",
                "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-04-31T00:00:00Z", "2023-13-01T00:00:00Z",
                "2023-00-10T00:00:00Z", "2023-01-00T00:00:00Z", "2023-01-32T00:00:00Z", "2023-01-01T24:00:00Z",
                "2023-01-01T23:60:00Z", "2023-01-01T23:59:61Z", "2023-01-01T00:00:00.Z", "2023-01-01T00:00:00+0100",
                "2023-01-01T00:00:00+01", "2023-01-01T00:00:00+24:00", "2023-01-01T00:00:00+01:60",
                "2023-01-01T00:00:00Zx", "2023-01-01X00:00:00Z", " 2023-01-01T00:00:00Z", "2023-01-01T00:00:00 Z",
                "abcd-01-01T00:00:00Z",
        };
        /* clang-format on */
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                int64_t t = 42;
                if (time_parse_rfc3339(bad[i], &t) != -EINVAL)
                        fail_msg("\"%s\" accepted as %lld", bad[i], (long long)t);
                assert_int_equal(t, 42);
        }
}

static void test_time_format(void **state)
{
        char buf[RFC3339_MAX];
        assert_string_equal(time_format_rfc3339(0, buf), "1970-01-01T00:00:00Z");
        assert_string_equal(time_format_rfc3339(1136214245, buf), "2006-01-02T15:04:05Z");
        assert_string_equal(time_format_rfc3339(1748772001, buf), "2025-06-01T10:00:01Z");
        assert_string_equal(time_format_rfc3339(-1, buf), "1969-12-31T23:59:59Z");
        static const int64_t round[] = {0, 1, 951782400, 1709251199, 4102444800, 253402300799};
        for (size_t i = 0; i < ARRAY_SIZE(round); i++) {
                int64_t back = 0;
                assert_int_equal(time_parse_rfc3339(time_format_rfc3339(round[i], buf), &back), 0);
                assert_int_equal(back, round[i]);
        }
        assert_true(time_now() > 1700000000);
}

static void test_time_age(void **state)
{
        static const struct {
                int64_t d;
                const char *want;
        } rows[] = {
                {0, "0s"},
                {45, "45s"},
                {59, "59s"},
                {60, "1m"},
                {179, "2m"},
                {3599, "59m"},
                {3600, "1h"},
                {5 * 3600 + 59, "5h"},
                {86399, "23h"},
                {86400, "1d"},
                {2 * 86400 + 43200, "2d"},
                {400 * 86400, "400d"},
                {-30, "0s"},
        };
        char buf[16];
        int64_t now = 1748772001;
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
                assert_string_equal(time_format_age(now, now - rows[i].d, buf, sizeof(buf)), rows[i].want);
        assert_string_equal(time_format_age(now, 0, buf, sizeof(buf)), "-");
        assert_string_equal(time_format_age(now, now - 400 * 86400, buf, 3), "40");
}

/* ---- Buf and SHA-256 ---- */

static void test_buf(void **state)
{
        Buf b = BUF_INIT;
        char *s;
        assert_int_equal(buf_printf(&b, "%s-%d", "a", 1), 0);
        assert_int_equal(buf_puts(&b, "|"), 0);
        assert_int_equal(buf_append(&b, "xyz", 0), 0);
        assert_int_equal(buf_printf(&b, "%05.1f%%", 2.3), 0);
        assert_string_equal(b.data, "a-1|002.3%");
        assert_int_equal(b.len, strlen(b.data));
        for (int i = 0; i < 1000; i++)
                assert_int_equal(buf_printf(&b, "%03d", i), 0);
        assert_int_equal(b.len, 10 + 3000);
        assert_true(b.cap > b.len);
        assert_int_equal(strncmp(b.data + 10, "000001002", 9), 0);
        assert_string_equal(b.data + b.len - 3, "999");
        assert_int_equal(buf_append(&b, "a\0b", 3), 0);
        assert_int_equal(b.len, 3013);
        assert_int_equal(b.data[3011], '\0');
        assert_int_equal(b.data[3012], 'b');
        assert_int_equal(b.data[3013], '\0');
        s = buf_steal(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        free(s);
        buf_done(&b);
        assert_int_equal(buf_printf(&b, "%s", ""), 0);
        assert_string_equal(b.data, "");
        buf_done(&b);
        assert_null(b.data);
}

/* Regression: buf_steal() of a Buf nothing was written to returns an unterminated buffer, not "" as buf.h
 * promises: buf_reserve(b, 0) (buf.c) allocates 64 bytes but writes no NUL (fixed). */
static void test_buf_steal_empty(void **state)
{
        Buf b = BUF_INIT;
        char *s = buf_steal(&b);
        assert_non_null(s);
        assert_int_equal(s[0], '\0');
        free(s);
}

static void test_sha256(void **state)
{
        char hex[SHA256_HEX_MAX];
        assert_int_equal(sha256_digest_string("abc", 3, hex), 0);
        assert_string_equal(hex, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(sha256_digest_string("", 0, hex), 0);
        assert_string_equal(hex, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        unsigned char raw[32];
        assert_int_equal(sha256_digest_raw("abc", 3, raw), 0);
        assert_int_equal(raw[0], 0xba);
        assert_int_equal(raw[31], 0xad);
}

/* ---- pid lock ---- */

static pid_t child_holding_lock(const char *dir, int *ret_release)
{
        int ready[2], release[2];
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(release, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(ready[0]);
                close(release[1]);
                pid_t holder = 0;
                int fd = pidlock_acquire(dir, &holder);
                if (fd < 0)
                        _exit(1);
                char c = 'r';
                if (write(ready[1], &c, 1) != 1)
                        _exit(2);
                if (read(release[0], &c, 1) < 0) /* until the parent says so, or goes away */
                        _exit(3);
                _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        char c;
        ssize_t n = read(ready[0], &c, 1);
        close(ready[0]);
        if (n != 1) {
                close(release[1]);
                waitpid(pid, NULL, 0);
                fail_msg("the child could not take the lock");
        }
        *ret_release = release[1];
        return pid;
}

static void test_pidlock(void **state)
{
        TestDir *d = *state;
        char dir[128], file[160];
        snprintf(dir, sizeof(dir), "%s/state", d->tmp);
        snprintf(file, sizeof(file), "%s/kukeond.pid", dir);
        pid_t holder = 123;

        /* nobody: no file, and testing creates none */
        assert_int_equal(pidlock_test(dir, &holder), 0);
        assert_int_equal(access(dir, F_OK), -1);

        int release;
        pid_t child = child_holding_lock(dir, &release);
        assert_int_equal(pidlock_test(dir, &holder), 1);
        assert_int_equal(holder, child);
        holder = 0;
        assert_int_equal(pidlock_acquire(dir, &holder), -EWOULDBLOCK);
        assert_int_equal(holder, child);
        assert_int_equal(pidlock_test(dir, NULL), 1);

        /* the child lets go by exiting */
        close(release);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(pidlock_test(dir, &holder), 0);

        /* now we take it: our pid in the file, and a test from another open file sees it held */
        int fd = pidlock_acquire(dir, &holder);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        char *text = file_read(file, NULL);
        char want[32];
        snprintf(want, sizeof(want), "%d\n", (int)getpid());
        assert_string_equal(text, want);
        free(text);
        assert_int_equal(pidlock_test(dir, &holder), 1);
        assert_int_equal(holder, getpid());
        assert_int_equal(pidlock_acquire(dir, NULL), -EWOULDBLOCK);
        close(fd);
        assert_int_equal(pidlock_test(dir, &holder), 0);

        /* a state dir whose parent is missing is not created */
        snprintf(dir, sizeof(dir), "%s/missing/state", d->tmp);
        assert_int_equal(pidlock_acquire(dir, &holder), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_selector_matches),
                cmocka_unit_test(test_selector_invalid),
                cmocka_unit_test(test_selector_invalid_names_whole_term),
                cmocka_unit_test(test_containerd_id_short),
                cmocka_unit_test(test_containerd_id_long),
                cmocka_unit_test(test_containerd_id_double_dash),
                cmocka_unit_test(test_netns_and_cgroup_names),
                cmocka_unit_test(test_time_parse),
                cmocka_unit_test(test_time_format),
                cmocka_unit_test(test_time_age),
                cmocka_unit_test(test_buf),
                cmocka_unit_test(test_buf_steal_empty),
                cmocka_unit_test(test_sha256),
                cmocka_unit_test_setup_teardown(test_pidlock, testdir_setup, testdir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
