/* A cell's /etc/hosts and /etc/hostname: the rendering (exact text, order, ambiguous names, what is left
 * out) and the in-place writer (same inode, 1/0 for changed/current, refusals). */
#include <sys/stat.h>

#include "tests/unit/cni/cni-test-util.h"

#define PREAMBLE                                                                                            \
        "127.0.0.1\tlocalhost\n"                                                                            \
        "::1\tlocalhost ip6-localhost ip6-loopback\n"                                                       \
        "fe00::\tip6-localnet\n"                                                                            \
        "ff00::\tip6-mcastprefix\n"                                                                         \
        "ff02::1\tip6-allnodes\n"                                                                           \
        "ff02::2\tip6-allrouters\n"

static char *render(const char *stack, const char *cell, const CniHostEntry *cells, size_t n)
{
        char *text = NULL;
        assert_int_equal(cni_hosts_render(stack, cell, cells, n, &text), 0);
        return text;
}

static void test_render_space(void **state)
{
        /* the seed's WordPress example: wp reaches db by name; cache is not attached yet */
        const CniHostEntry cells[] = {
                {"blog", "wp", "10.88.0.2"},
                {"blog", "db", "10.88.0.3"},
                {"blog", "cache", NULL},
                {"blog", "search", ""},
        };
        _cleanup_free_ char *text = render("blog", "wp", cells, ARRAY_SIZE(cells));
        assert_string_equal(text, PREAMBLE "10.88.0.3\tdb db.blog\n"
                                           "10.88.0.2\twp wp.blog\n");
}

static void test_render_alone_and_unattached(void **state)
{
        _cleanup_free_ char *empty = render("st", "solo", NULL, 0);
        assert_string_equal(empty, PREAMBLE);
        const CniHostEntry self[] = {{"st", "solo", "10.88.3.7"}};
        _cleanup_free_ char *text = render("st", "solo", self, 1);
        assert_string_equal(text, PREAMBLE "10.88.3.7\tsolo solo.st\n");
}

static void test_render_is_deterministic(void **state)
{
        CniHostEntry cells[] = {
                {"a", "zeta", "10.0.0.9"},   {"b", "alpha", "10.0.0.2"}, {"a", "mid", "10.0.0.5"},
                {"a", "alpha2", "10.0.0.3"}, {"c", "beta", "fd00::5"},
        };
        _cleanup_free_ char *first = render("a", "mid", cells, ARRAY_SIZE(cells));
        assert_string_equal(first, PREAMBLE "10.0.0.2\talpha alpha.b\n"
                                            "10.0.0.3\talpha2 alpha2.a\n"
                                            "fd00::5\tbeta beta.c\n"
                                            "10.0.0.5\tmid mid.a\n"
                                            "10.0.0.9\tzeta zeta.a\n");
        /* every rotation of the input gives the same bytes */
        for (size_t k = 1; k < ARRAY_SIZE(cells); k++) {
                CniHostEntry t = cells[0];
                memmove(&cells[0], &cells[1], sizeof(cells) - sizeof(cells[0]));
                cells[ARRAY_SIZE(cells) - 1] = t;
                _cleanup_free_ char *again = render("a", "mid", cells, ARRAY_SIZE(cells));
                assert_string_equal(again, first);
        }
}

static void test_render_ambiguous_names(void **state)
{
        const CniHostEntry cells[] = {
                {"blog", "db", "10.88.0.3"},
                {"shop", "db", "10.88.0.4"},
                {"blog", "wp", "10.88.0.2"},
                {"tools", "db", NULL}, /* not attached, still makes "db" ambiguous */
        };
        /* from blog: its own db gets the short name */
        _cleanup_free_ char *blog = render("blog", "wp", cells, ARRAY_SIZE(cells));
        assert_string_equal(blog, PREAMBLE "10.88.0.3\tdb db.blog\n"
                                           "10.88.0.4\tdb.shop\n"
                                           "10.88.0.2\twp wp.blog\n");
        /* from shop: its own */
        _cleanup_free_ char *shop = render("shop", "db", cells, ARRAY_SIZE(cells));
        assert_string_equal(shop, PREAMBLE "10.88.0.3\tdb.blog\n"
                                           "10.88.0.4\tdb db.shop\n"
                                           "10.88.0.2\twp wp.blog\n");
        /* from a third stack: nobody's */
        _cleanup_free_ char *other = render("ops", "mon", cells, ARRAY_SIZE(cells));
        assert_string_equal(other, PREAMBLE "10.88.0.3\tdb.blog\n"
                                            "10.88.0.4\tdb.shop\n"
                                            "10.88.0.2\twp wp.blog\n");
}

static void test_render_leaves_out_bad_entries(void **state)
{
        const CniHostEntry cells[] = {
                {"st", "ok", "10.1.0.2"},          {"st", "evil", "10.1.0.3\n10.1.0.4 victim"},
                {"st", "Bad_Name", "10.1.0.5"},    {"st", "spaced name", "10.1.0.6"},
                {NULL, "nostack", "10.1.0.7"},     {"st", NULL, "10.1.0.8"},
                {"st", "prefixed", "10.1.0.9/24"}, {"st", "dup", NULL},
                {"st", "dup", "10.1.0.10"},        {"st", "dup", "10.1.0.11"},
        };
        _cleanup_free_ char *text = render("st", "ok", cells, ARRAY_SIZE(cells));
        /* one line per cell: the attached copy of a duplicate, the lowest address of two */
        assert_string_equal(text, PREAMBLE "10.1.0.10\tdup dup.st\n"
                                           "10.1.0.2\tok ok.st\n");
}

static void test_render_refuses_bad_self(void **state)
{
        char *text = NULL;
        assert_int_equal(cni_hosts_render("st", "Bad_Self", NULL, 0, &text), -EINVAL);
        assert_int_equal(cni_hosts_render(NULL, "ok", NULL, 0, &text), -EINVAL);
        assert_int_equal(cni_hosts_render("st", "ok", NULL, 2, &text), -EINVAL);
        assert_null(text);

        assert_int_equal(cni_hostname_render("wp", &text), 0);
        assert_string_equal(text, "wp\n");
        free(text);
        assert_int_equal(cni_hostname_render("a\nb", &text), -EINVAL);
        assert_int_equal(cni_hostname_render("", &text), -EINVAL);
}

/* ---- the writer ---- */

static int dir_setup(void **state)
{
        char *tmp = strdup("/tmp/kuke-hosts-XXXXXX");
        if (!tmp || !mkdtemp(tmp))
                return -1;
        *state = tmp;
        return 0;
}

static int dir_teardown(void **state)
{
        int r = rm_rf(*state);
        free(*state);
        return r;
}

static ino_t inode_of(int dfd, const char *name)
{
        struct stat st;
        assert_int_equal(fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
        return st.st_ino;
}

static void test_write_in_place(void **state)
{
        _cleanup_close_ int dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", "one\ntwo\nthree\n"), 1);
        struct stat st;
        assert_int_equal(fstatat(dfd, "etc-hosts", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        ino_t ino = inode_of(dfd, "etc-hosts");

        /* what a bind mount would keep: the open file */
        _cleanup_close_ int held = openat(dfd, "etc-hosts", O_RDONLY | O_CLOEXEC);
        assert_true(held >= 0);

        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", "one\ntwo\nthree\n"), 0);
        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", "1\n"), 1); /* shorter: truncated */
        assert_int_equal(inode_of(dfd, "etc-hosts"), ino);
        char buf[64] = {0};
        assert_int_equal(pread(held, buf, sizeof(buf) - 1, 0), 2);
        assert_string_equal(buf, "1\n");

        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", "a longer text than before\n"), 1);
        assert_int_equal(inode_of(dfd, "etc-hosts"), ino);
        memset(buf, 0, sizeof(buf));
        assert_int_equal(pread(held, buf, sizeof(buf) - 1, 0), 26);
        assert_string_equal(buf, "a longer text than before\n");
        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", ""), 1);
        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", ""), 0);
        assert_no_dot_files(*state);
}

static void test_write_refuses(void **state)
{
        _cleanup_close_ int dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        /* a symlink planted in the cell directory is never written through */
        assert_int_equal(symlinkat("/etc/passwd", dfd, "etc-hosts"), 0);
        assert_int_equal(cni_etc_file_write(dfd, "etc-hosts", "x\n"), -ELOOP);
        assert_int_equal(mkfifoat(dfd, "fifo", 0644), 0);
        assert_int_equal(cni_etc_file_write(dfd, "fifo", "x\n"), -EBADFD);
        assert_int_equal(mkdirat(dfd, "dir", 0755), 0);
        assert_int_equal(cni_etc_file_write(dfd, "dir", "x\n"), -EISDIR);
        assert_int_equal(cni_etc_file_write(dfd, "a/b", "x\n"), -EINVAL);
        assert_int_equal(cni_etc_file_write(dfd, "..", "x\n"), -EINVAL);
        assert_int_equal(cni_etc_file_write(dfd, "", "x\n"), -EINVAL);
        assert_int_equal(cni_etc_file_write(dfd, "ok", NULL), -EINVAL);
        assert_int_equal(cni_etc_file_write(-1, "ok", "x\n"), -EBADF);
}

static void test_cell_etc_write(void **state)
{
        _cleanup_close_ int dfd = open(*state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        CniHostEntry cells[] = {{"blog", "wp", NULL}, {"blog", "db", "10.88.0.3"}};
        assert_int_equal(cni_cell_etc_write(dfd, "blog", "wp", cells, 2), 1);
        assert_int_equal(cni_cell_etc_write(dfd, "blog", "wp", cells, 2), 0);
        ino_t ino = inode_of(dfd, CNI_HOSTS_FILE);

        char path[4096];
        snprintf(path, sizeof(path), "%s/" CNI_HOSTNAME_FILE, (char *)*state);
        _cleanup_free_ char *hostname = file_read(path, NULL);
        assert_string_equal(hostname, "wp\n");

        /* wp got its address: the same file, one more line */
        cells[0].ip = "10.88.0.2";
        assert_int_equal(cni_cell_etc_write(dfd, "blog", "wp", cells, 2), 1);
        assert_int_equal(inode_of(dfd, CNI_HOSTS_FILE), ino);
        snprintf(path, sizeof(path), "%s/" CNI_HOSTS_FILE, (char *)*state);
        _cleanup_free_ char *hosts = file_read(path, NULL);
        assert_string_equal(hosts, PREAMBLE "10.88.0.3\tdb db.blog\n"
                                            "10.88.0.2\twp wp.blog\n");
        assert_int_equal(cni_cell_etc_write(dfd, "blog", "Bad", cells, 2), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_render_space),
                cmocka_unit_test(test_render_alone_and_unattached),
                cmocka_unit_test(test_render_is_deterministic),
                cmocka_unit_test(test_render_ambiguous_names),
                cmocka_unit_test(test_render_leaves_out_bad_entries),
                cmocka_unit_test(test_render_refuses_bad_self),
                cmocka_unit_test_setup_teardown(test_write_in_place, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_write_refuses, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_cell_etc_write, dir_setup, dir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
