/* The watcher thread (libinotifytools) against a temp dir, no root: directories created and filled at
 * once by another thread, a burst of thousands of files, dot-files ignored, a renamed directory, and a
 * clean stop (uv_loop_close() == 0). Lost events must show up as WATCHER_RESYNC, never silently. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/watcher.h"

typedef struct Fixture {
        uv_loop_t loop;
        uv_timer_t tick;
        Watcher *w;
        char root[64], wake[64];
        char **paths;
        size_t n, cap;
        bool ready, resync, failed;
        bool (*until)(struct Fixture *f);
        uint64_t deadline;
        const char *expect_prefix; /* until_all(): which paths count */
        size_t expect_n;
} Fixture;

static void on_event(const char *relpath, uint32_t mask, void *userdata)
{
        Fixture *f = userdata;
        if (mask & WATCHER_READY)
                f->ready = true;
        if (mask & WATCHER_RESYNC)
                f->resync = true;
        if (mask & WATCHER_FAILED)
                f->failed = true;
        if (!*relpath || (mask & (WATCHER_READY | WATCHER_FAILED)))
                return;
        if (f->n == f->cap) {
                f->cap = f->cap ? f->cap * 2 : 1024;
                f->paths = realloc(f->paths, f->cap * sizeof(char *));
                assert_non_null(f->paths);
        }
        f->paths[f->n++] = strdup(relpath);
}

static void on_tick(uv_timer_t *t)
{
        Fixture *f = t->data;
        if (f->until(f) || uv_now(&f->loop) >= f->deadline)
                uv_stop(&f->loop);
}

/* Runs the loop until f->until(f) or seconds pass. Returns whether the condition held. */
static bool run_until(Fixture *f, bool (*until)(Fixture *), unsigned seconds)
{
        f->until = until;
        f->deadline = uv_now(&f->loop) + seconds * 1000;
        uv_timer_start(&f->tick, on_tick, 10, 10);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        uv_timer_stop(&f->tick);
        return until(f);
}

static bool is_ready(Fixture *f)
{
        return f->ready || f->failed;
}

static bool seen(const Fixture *f, const char *path)
{
        for (size_t i = f->n; i-- > 0;)
                if (strcmp(f->paths[i], path) == 0)
                        return true;
        return false;
}

static size_t count_prefix(const Fixture *f, const char *prefix, const char *suffix)
{
        size_t k = 0, pl = strlen(prefix), sl = strlen(suffix);
        for (size_t i = 0; i < f->n; i++) {
                size_t l = strlen(f->paths[i]);
                if (strncmp(f->paths[i], prefix, pl) == 0 && l >= sl &&
                    strcmp(f->paths[i] + l - sl, suffix) == 0)
                        k++;
        }
        return k;
}

static int setup(void **state)
{
        Fixture *f = calloc(1, sizeof(*f));
        strcpy(f->root, "/tmp/kukeond-watch.XXXXXX");
        strcpy(f->wake, "/tmp/kukeond-wake.XXXXXX");
        assert_non_null(mkdtemp(f->root));
        assert_non_null(mkdtemp(f->wake));
        assert_int_equal(uv_loop_init(&f->loop), 0);
        uv_timer_init(&f->loop, &f->tick);
        f->tick.data = f;
        assert_int_equal(watcher_start(&f->loop, f->root, f->wake, on_event, f, &f->w), 0);
        assert_true(run_until(f, is_ready, 10));
        assert_false(f->failed);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        Fixture *f = *state;
        watcher_stop(f->w);
        uv_close((uv_handle_t *)&f->tick, NULL);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&f->loop), 0);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->root, f->wake);
        assert_int_equal(system(cmd), 0);
        for (size_t i = 0; i < f->n; i++)
                free(f->paths[i]);
        free(f->paths);
        free(f);
        return 0;
}

static void write_file(const char *path)
{
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("x\n", fp);
        fclose(fp);
}

/* ---- directories created and filled at once, from another thread ---- */

#define N_TREES 200

static void *make_trees(void *userdata)
{
        Fixture *f = userdata;
        for (int i = 0; i < N_TREES; i++) {
                char p[256];
                snprintf(p, sizeof(p), "%s/r%d", f->root, i);
                mkdir(p, 0755);
                snprintf(p, sizeof(p), "%s/r%d/s", f->root, i);
                mkdir(p, 0755);
                snprintf(p, sizeof(p), "%s/r%d/s/t", f->root, i);
                mkdir(p, 0755);
                snprintf(p, sizeof(p), "%s/r%d/s/t/c", f->root, i);
                mkdir(p, 0755);
                snprintf(p, sizeof(p), "%s/r%d/s/t/c/cell.yaml", f->root, i);
                write_file(p);
                snprintf(p, sizeof(p), "%s/r%d/realm.yaml", f->root, i);
                write_file(p);
                snprintf(p, sizeof(p), "%s/r%d/.realm.yaml.tmp.x", f->root, i);
                write_file(p);
        }
        return NULL;
}

static bool all_trees(Fixture *f)
{
        if (f->resync)
                return true;
        for (int i = 0; i < N_TREES; i++) {
                char p[64], q[64];
                snprintf(p, sizeof(p), "r%d/s/t/c/cell.yaml", i);
                snprintf(q, sizeof(q), "r%d/realm.yaml", i);
                if (!seen(f, p) || !seen(f, q))
                        return false;
        }
        return true;
}

static void test_created_and_filled_at_once(void **state)
{
        Fixture *f = *state;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, make_trees, f), 0);
        bool ok = run_until(f, all_trees, 20);
        pthread_join(t, NULL);
        if (!ok)
                ok = run_until(f, all_trees, 10);
        assert_true(ok);
        if (!f->resync)
                for (int i = 0; i < N_TREES; i++) {
                        char p[64], q[64];
                        snprintf(p, sizeof(p), "r%d/s/t/c/cell.yaml", i);
                        snprintf(q, sizeof(q), "r%d/realm.yaml", i);
                        if (!seen(f, p) || !seen(f, q))
                                fail_msg("r%d was missed", i);
                }
        for (size_t i = 0; i < f->n; i++)
                if (strstr(f->paths[i], "/.") || f->paths[i][0] == '.')
                        fail_msg("a dot-file was reported: %s", f->paths[i]);
}

/* ---- a burst ---- */

#define N_BURST 5000

static void *make_burst(void *userdata)
{
        Fixture *f = userdata;
        char p[256];
        snprintf(p, sizeof(p), "%s/burst", f->root);
        mkdir(p, 0755);
        for (int i = 0; i < N_BURST; i++) {
                snprintf(p, sizeof(p), "%s/burst/f%d.yaml", f->root, i);
                write_file(p);
        }
        return NULL;
}

static bool all_burst(Fixture *f)
{
        if (f->resync)
                return true;
        if (count_prefix(f, "burst/f", ".yaml") < N_BURST)
                return false;
        for (int i = 0; i < N_BURST; i++) {
                char p[64];
                snprintf(p, sizeof(p), "burst/f%d.yaml", i);
                if (!seen(f, p))
                        return false;
        }
        return true;
}

static void test_burst(void **state)
{
        Fixture *f = *state;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, make_burst, f), 0);
        bool ok = run_until(f, all_burst, 30);
        pthread_join(t, NULL);
        if (!ok)
                ok = run_until(f, all_burst, 10);
        assert_true(ok);
        assert_false(f->failed);
}

/* ---- a renamed directory: its watches' names are stale, so everything is rescanned ---- */

static bool got_resync(Fixture *f)
{
        return f->resync;
}

static bool new_name_seen(Fixture *f)
{
        return seen(f, "b/later.yaml");
}

static void test_renamed_dir(void **state)
{
        Fixture *f = *state;
        char a[128], b[128], p[160];
        snprintf(a, sizeof(a), "%s/a", f->root);
        snprintf(b, sizeof(b), "%s/b", f->root);
        assert_int_equal(mkdir(a, 0755), 0);
        snprintf(p, sizeof(p), "%s/x.yaml", a);
        write_file(p);
        (void)run_until(f, got_resync, 1); /* let a/x.yaml through */
        assert_true(seen(f, "a/x.yaml"));
        assert_int_equal(rename(a, b), 0);
        assert_true(run_until(f, got_resync, 10));
        snprintf(p, sizeof(p), "%s/later.yaml", b);
        write_file(p);
        assert_true(run_until(f, new_name_seen, 10));
}

/* ---- a directory removed and made again under the same name: its new watch is its own ---- */

static char again_file[32];
static size_t again_made;

static bool again_seen(Fixture *f)
{
        return seen(f, again_file);
}

static bool again_dir_seen(Fixture *f)
{
        size_t n = 0;
        for (size_t i = 0; i < f->n; i++)
                n += strcmp(f->paths[i], "again") == 0;
        return n >= again_made;
}

static void test_dir_made_again(void **state)
{
        Fixture *f = *state;
        char d[128], p[192];
        snprintf(d, sizeof(d), "%s/again", f->root);
        for (int round = 0; round < 3; round++) {
                assert_int_equal(mkdir(d, 0755), 0);
                again_made++;
                /* the thread watches the directory right after reporting it; then a file written in
                 * it is seen only through that watch */
                snprintf(again_file, sizeof(again_file), "again/w%d.yaml", round);
                assert_true(run_until(f, again_dir_seen, 10));
                usleep(50 * 1000);
                snprintf(p, sizeof(p), "%s/w%d.yaml", d, round);
                write_file(p);
                assert_true(run_until(f, again_seen, 10));
                assert_int_equal(unlink(p), 0);
                assert_int_equal(rmdir(d), 0);
        }
        assert_false(f->failed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_created_and_filled_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_burst, setup, teardown),
                cmocka_unit_test_setup_teardown(test_renamed_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dir_made_again, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
