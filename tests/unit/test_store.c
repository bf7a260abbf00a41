/* The run-path store: path mapping both ways, atomic writes and crash safety, refusal of symlinks, hard
 * links and big files, status files, and scanning a tree where one manifest is bad. Every test works in
 * its own mkdtemp() directory, removed by the teardown whatever the outcome. */
#include "testutil.h"

#include "state/schema.h"
#include "state/store-private.h"
#include "state/store.h"

#define REALM_YAML "apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: main\n"

/* The absolute path of rel below the run path (a few buffers, rotated). */
static const char *path_in(const TestDir *f, const char *rel)
{
        static char buf[4][512];
        static unsigned next;
        char *p = buf[next++ % 4];
        snprintf(p, sizeof(buf[0]), "%s/%s", f->run, rel);
        return p;
}

/* store_read_file() of rel: its result, and the content in *ret (freed when ret is NULL). */
static int read_rel(TestDir *f, const char *rel, char **ret)
{
        char *buf = NULL;
        size_t len;
        int r = store_read_file(f->store, rel, &buf, &len, NULL);
        if (r >= 0 && ret)
                *ret = buf;
        else
                free(buf);
        return r;
}

#define DOC(kind, name, spec) "apiVersion: v1beta1\nkind: " kind "\nmetadata:\n  name: " name "\n" spec

static void test_open(void **state)
{
        TestDir *f = *state;
        char p[256];
        Store *s = NULL;
        assert_string_equal(store_run_path(f->store), f->run);

        snprintf(p, sizeof(p), "%s/a/b/run", f->tmp);
        assert_int_equal(store_open(p, false, &s), -ENOENT);
        assert_int_equal(store_open(p, true, &s), 0);
        s = store_free(s);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));

        write_text(f->tmp, "file", "x");
        snprintf(p, sizeof(p), "%s/file", f->tmp);
        assert_int_equal(store_open(p, false, &s), -ENOTDIR);
        assert_null(store_free(NULL));
}

/* Regression: store.h promises -ELOOP for a run path that is a symlink; store_open() passes on what
 * open(O_DIRECTORY | O_NOFOLLOW) gives, which on Linux is -ENOTDIR for a symlink to a directory (the same
 * code as for a regular file) (fixed). */
static void test_open_symlink(void **state)
{
        TestDir *f = *state;
        char p[256];
        Store *s = NULL;
        snprintf(p, sizeof(p), "%s/link", f->tmp);
        assert_int_equal(symlink(f->run, p), 0);
        int r = store_open(p, false, &s);
        if (r >= 0)
                store_free(s);
        assert_int_equal(r, -ELOOP);
}

/* ---- path mapping ---- */

static const struct {
        Kind kind;
        const char *id, *dir, *spec, *status;
} paths[] = {
        {KIND_REALM, "main", "main", "main/realm.yaml", "main/realm.status.yaml"},
        {KIND_SPACE, "main/blog", "main/blog", "main/blog/space.yaml", "main/blog/space.status.yaml"},
        {KIND_STACK, "main/blog/wp", "main/blog/wp", "main/blog/wp/stack.yaml",
         "main/blog/wp/stack.status.yaml"},
        {KIND_CELL, "main/blog/wp/web", "main/blog/wp/web", "main/blog/wp/web/cell.yaml",
         "main/blog/wp/web/cell.status.yaml"},
        {KIND_IMAGE, "main/busybox", "main/images", "main/images/busybox.yaml",
         "main/images/busybox.status.yaml"},
        {KIND_CONTAINER, "main/blog/wp/web/app", "main/blog/wp/web/containers",
         "main/blog/wp/web/containers/app.yaml", "main/blog/wp/web/containers/app.yaml"},
};

static void test_path_mapping(void **state)
{
        char buf[256];
        for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
                ResourceId id = rid(paths[i].kind, paths[i].id), got;
                FileRole role;
                assert_int_equal(store_dir_path(&id, buf, sizeof(buf)), 0);
                assert_string_equal(buf, paths[i].dir);
                assert_int_equal(store_spec_path(&id, buf, sizeof(buf)), 0);
                assert_string_equal(buf, paths[i].spec);
                assert_int_equal(store_status_path(&id, buf, sizeof(buf)), 0);
                assert_string_equal(buf, paths[i].status);
                /* and back */
                assert_int_equal(store_classify_path(paths[i].spec, &got, &role), 0);
                assert_id_equal(&got, &id);
                assert_int_equal(role, paths[i].kind == KIND_CONTAINER ? FILE_CONTAINER : FILE_SPEC);
                if (paths[i].kind != KIND_CONTAINER) {
                        assert_int_equal(store_classify_path(paths[i].status, &got, &role), 0);
                        assert_id_equal(&got, &id);
                        assert_int_equal(role, FILE_STATUS);
                }
                if (paths[i].kind <= KIND_CELL) {
                        assert_int_equal(store_classify_path(paths[i].dir, &got, &role), 0);
                        assert_id_equal(&got, &id);
                        assert_int_equal(role, FILE_DIR);
                }
        }
        ResourceId id = rid(KIND_CELL, "main/blog/wp/web");
        assert_int_equal(store_spec_path(&id, buf, 10), -ENAMETOOLONG);
}

static void test_classify_other_roles(void **state)
{
        static const struct {
                const char *path;
                Kind kind;
                const char *id;
                FileRole role;
        } rows[] = {
                {"main/blog/network.conflist", KIND_SPACE, "main/blog", FILE_CONFLIST},
                {"main/blog/wp/web/logs/app.log", KIND_CONTAINER, "main/blog/wp/web/app", FILE_LOG},
                {"main/blog/wp/web/containers", KIND_CONTAINER, "main/blog/wp/web", FILE_DIR},
                {"main/blog/wp/web/logs", KIND_CONTAINER, "main/blog/wp/web", FILE_DIR},
                {"main/images", KIND_IMAGE, "main", FILE_DIR},
                {"main//blog/", KIND_SPACE, "main/blog", FILE_DIR}, /* repeated and trailing slashes */
        };
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
                ResourceId id, want = rid(rows[i].kind, rows[i].id);
                FileRole role;
                assert_int_equal(store_classify_path(rows[i].path, &id, &role), 0);
                assert_id_equal(&id, &want);
                assert_int_equal(role, rows[i].role);
        }
}

static void test_classify_rejects(void **state)
{
        /* clang-format off */
        static const char *const bad[] = {
                "", "/", ".main/realm.yaml", "main/.realm.yaml.tmp.a1b2c3", "main/blog/.space.yaml.tmp.000001",
                "main/images/.busybox.yaml.tmp.x", "main/blog/wp/web/containers/.app.yaml", "main/./blog",
                "main/../etc", "run/realm.yaml", "containers", "logs/x.log", "images", "main/run/space.yaml",
                "main/containers/x.yaml", "main/logs", "Main/realm.yaml", "ma_in/realm.yaml", "main/realm.yml",
                "main/blog/realm.yaml", "main/network.conflist", "main/images/Bad.yaml", "main/images/x.txt",
                "main/images/a.b.yaml", "main/images/x.yaml/y", "main/blog/wp/web/logs/app.yaml",
                "main/blog/wp/web/containers/app.status.yaml", "main/blog/wp/web/extra/cell.yaml",
                "main/blog/wp/web/containers/app.yaml/x",
        };
        /* clang-format on */
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                ResourceId id;
                FileRole role;
                int r = store_classify_path(bad[i], &id, &role);
                if (r != -EINVAL)
                        fail_msg("\"%s\": got %d (kind %d role %d), want -EINVAL", bad[i], r, id.kind, role);
        }
}

/* ---- reading and writing ---- */

static void test_atomic_write(void **state)
{
        TestDir *f = *state;
        assert_int_equal(store_write_file(f->store, "main/realm.yaml", "one\n", 4, 0644), 0);
        assert_int_equal(store_write_file(f->store, "main/realm.yaml", REALM_YAML, strlen(REALM_YAML), 0644),
                         0);
        struct stat st;
        assert_int_equal(stat(path_in(f, "main/realm.yaml"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(stat(path_in(f, "main"), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_no_dot_files(path_in(f, "main"));

        char *buf = NULL;
        size_t len = 0;
        int64_t mtime = 0;
        assert_int_equal(store_read_file(f->store, "main/realm.yaml", &buf, &len, &mtime), 0);
        assert_int_equal(len, strlen(REALM_YAML));
        assert_string_equal(buf, REALM_YAML);
        assert_true(mtime > 0);
        free(buf);

        assert_int_equal(store_write_file(f->store, "main/secret.yaml", "x", 1, 0600), 0);
        assert_int_equal(stat(path_in(f, "main/secret.yaml"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);

        assert_true(store_exists(f->store, "main/secret.yaml"));
        assert_int_equal(store_remove_file(f->store, "main/secret.yaml"), 1);
        assert_false(store_exists(f->store, "main/secret.yaml"));
        assert_int_equal(store_remove_file(f->store, "main/secret.yaml"), 0);
        assert_int_equal(store_remove_file(f->store, "nowhere/x.yaml"), 0);
        assert_int_equal(read_rel(f, "main/secret.yaml", NULL), -ENOENT);
        assert_int_equal(store_write_file(f->store, "main/../x", "x", 1, 0644), -EINVAL);
        assert_int_equal(store_write_file(f->store, "/etc/x", "x", 1, 0644), -EINVAL);
}

/* Asserts the content of rel. */
static void assert_content(TestDir *f, const char *rel, const char *want)
{
        char *buf = NULL;
        assert_int_equal(read_rel(f, rel, &buf), 0);
        assert_string_equal(buf, want);
        free(buf);
}

static void test_crash_between_temp_and_rename(void **state)
{
        TestDir *f = *state;
        static const char next[] = REALM_YAML "  labels:\n    v: \"2\"\n";
        assert_int_equal(store_write_file(f->store, "main/realm.yaml", REALM_YAML, strlen(REALM_YAML), 0644),
                         0);
        char *tmp = NULL, rel[128];
        assert_int_equal(store_write_temp(f->store, "main/realm.yaml", next, strlen(next), 0644, &tmp), 0);
        assert_prefix(tmp, ".realm.yaml.tmp.");

        /* the "crash": no commit. The old file is intact, the temp file holds the new content. */
        assert_content(f, "main/realm.yaml", REALM_YAML);
        snprintf(rel, sizeof(rel), "main/%s", tmp);
        assert_content(f, rel, next);
        ResourceId id;
        FileRole role;
        assert_int_equal(store_classify_path(rel, &id, &role), -EINVAL);

        /* the scan sees the old manifest and nothing of the temp file */
        Tree t = {0};
        assert_int_equal(store_scan(f->store, 0, &t), 0);
        assert_int_equal(t.n, 1);
        assert_non_null(t.entries[0].spec);
        assert_int_equal(t.entries[0].spec->metadata.labels.n, 0);
        tree_done(&t);

        /* finishing the write replaces the file and leaves no temp file */
        assert_int_equal(store_commit(f->store, "main/realm.yaml", tmp), 0);
        assert_content(f, "main/realm.yaml", next);
        assert_no_dot_files(path_in(f, "main"));
        free(tmp);
}

#define LINK_MSG "a symlink in the run path is not followed"

static void test_symlinks_refused(void **state)
{
        TestDir *f = *state;
        char evil[256], outside[256];
        snprintf(evil, sizeof(evil), "%s/outside/evil", f->tmp);
        snprintf(outside, sizeof(outside), "%s/outside/realm.yaml", f->tmp);
        write_text(f->tmp, "outside/realm.yaml", REALM_YAML);
        write_text(f->tmp, "outside/evil/realm.yaml", DOC("Realm", "evil", ""));
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        write_text(f->run, "main/blog/space.yaml", DOC("Space", "blog", ""));
        write_text(f->run, "main/blog/wp/stack.yaml", DOC("Stack", "wp", ""));
        write_text(f->run, "main/blog/wp/other/cell.yaml",
                   DOC("Cell", "web", "spec:\n  containers: [{id: a, image: x}]\n"));
        assert_int_equal(mkdir(path_in(f, "main/blog/wp/web"), 0755), 0);
        assert_int_equal(mkdir(path_in(f, "ext"), 0755), 0);
        /* a symlinked realm directory, a manifest linked to a file outside the tree, a cell.yaml linked to
         * another cell's inside the tree */
        assert_int_equal(symlink(evil, path_in(f, "evil")), 0);
        assert_int_equal(symlink(outside, path_in(f, "ext/realm.yaml")), 0);
        assert_int_equal(symlink("../other/cell.yaml", path_in(f, "main/blog/wp/web/cell.yaml")), 0);

        assert_int_equal(read_rel(f, "evil/realm.yaml", NULL), -ELOOP);
        assert_int_equal(read_rel(f, "ext/realm.yaml", NULL), -ELOOP);
        assert_int_equal(read_rel(f, "main/blog/wp/web/cell.yaml", NULL), -ELOOP);
        assert_int_equal(read_rel(f, "main/../evil/realm.yaml", NULL), -EINVAL);
        assert_false(store_exists(f->store, "evil/realm.yaml"));
        assert_int_equal(store_write_file(f->store, "evil/realm.yaml", "x", 1, 0644), -ELOOP);
        assert_int_equal(store_write_file(f->store, "evil/new/realm.yaml", "x", 1, 0644), -ELOOP);
        ResourceId ext = rid(KIND_REALM, "ext");
        Document *d = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(store_read_spec(f->store, &ext, &d, &diag), -ELOOP);
        assert_diag(&diag, "ext/realm.yaml: " LINK_MSG);
        diag_done(&diag);

        /* the scan reports each as an error entry and never follows them */
        Tree t = {0};
        assert_int_equal(store_scan(f->store, 0, &t), 0);
        assert_int_equal(t.n, 7); /* evil, ext, main, blog, wp, other, web */
        TreeEntry *e = tree_find(&t, &(ResourceId){.kind = KIND_REALM, .realm = "evil", .name = "evil"});
        assert_non_null(e);
        assert_null(e->spec);
        assert_int_equal(e->digest[0], '\0');
        assert_diag(&e->error, "evil: " LINK_MSG);
        e = tree_find(&t, &ext);
        assert_true(e && !e->spec && e->has_spec_file);
        assert_diag(&e->error, "ext/realm.yaml: " LINK_MSG);
        ResourceId web = rid(KIND_CELL, "main/blog/wp/web");
        e = tree_find(&t, &web);
        assert_true(e && !e->spec && !e->blocked);
        assert_diag(&e->error, "main/blog/wp/web/cell.yaml: " LINK_MSG);
        /* the link target itself is read where it is, and judged against its own path */
        e = tree_find(&t, &(ResourceId){.kind = KIND_CELL,
                                        .realm = "main",
                                        .space = "blog",
                                        .stack = "wp",
                                        .cell = "other",
                                        .name = "other"});
        assert_true(e && !e->spec);
        assert_string_equal(e->error.path, "metadata.name");
        tree_done(&t);

        /* writing over a link replaces the link, never the file it points to */
        assert_int_equal(store_write_file(f->store, "ext/realm.yaml", "new\n", 4, 0644), 0);
        assert_content(f, "ext/realm.yaml", "new\n");
        char *text = file_read(outside, NULL);
        assert_string_equal(text, REALM_YAML);
        free(text);
}

static void test_hard_link_and_size_refused(void **state)
{
        TestDir *f = *state;
        char other[256];
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        snprintf(other, sizeof(other), "%s/hard.yaml", f->tmp);
        assert_int_equal(link(path_in(f, "main/realm.yaml"), other), 0);
        assert_int_equal(read_rel(f, "main/realm.yaml", NULL), -EMLINK);
        ResourceId id = rid(KIND_REALM, "main");
        Document *d = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(store_read_spec(f->store, &id, &d, &diag), -EMLINK);
        assert_diag(&diag, "main/realm.yaml: file has other hard links; refused");
        assert_int_equal(unlink(other), 0);
        assert_int_equal(store_read_spec(f->store, &id, &d, &diag), 0);
        d = document_free(d);

        /* exactly 1 MiB is read, one byte more is not */
        char *big = malloc(STORE_MAX_FILE_BYTES + 1), *buf = NULL;
        assert_non_null(big);
        memset(big, '#', STORE_MAX_FILE_BYTES + 1);
        assert_int_equal(store_write_file(f->store, "main/images/big.yaml", big, STORE_MAX_FILE_BYTES, 0644),
                         0);
        assert_int_equal(read_rel(f, "main/images/big.yaml", &buf), 0);
        assert_int_equal(strlen(buf), STORE_MAX_FILE_BYTES);
        free(buf);
        assert_int_equal(
                store_write_file(f->store, "main/images/big.yaml", big, STORE_MAX_FILE_BYTES + 1, 0644), 0);
        assert_int_equal(read_rel(f, "main/images/big.yaml", NULL), -EFBIG);
        id = rid(KIND_IMAGE, "main/big");
        assert_int_equal(store_read_spec(f->store, &id, &d, &diag), -EFBIG);
        assert_diag(&diag, "main/images/big.yaml: file larger than 1 MiB");
        free(big);

        /* not a regular file */
        assert_int_equal(mkdir(path_in(f, "main/images/dir.yaml"), 0755), 0);
        assert_int_equal(read_rel(f, "main/images/dir.yaml", NULL), -EINVAL);
        assert_int_equal(mkfifo(path_in(f, "main/images/fifo.yaml"), 0644), 0);
        assert_int_equal(read_rel(f, "main/images/fifo.yaml", NULL), -EINVAL);
        diag_done(&diag);
}

/* A realm manifest with registry passwords is written 0640, any other 0644. */
static void test_spec_modes(void **state)
{
        TestDir *f = *state;
        ResourceId lab = rid(KIND_REALM, "lab"), main = rid(KIND_REALM, "main");
        Document *secret = doc_parse("apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: lab\nspec:\n"
                                     "  registryCredentials:\n    - serverAddress: registry.example.com\n"
                                     "      username: bob\n      password: hunter2\n");
        Document *plain = doc_parse("apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: main\n");
        assert_int_equal(store_write_spec(f->store, &lab, secret), 0);
        assert_int_equal(store_write_spec(f->store, &main, plain), 0);
        struct stat st;
        assert_int_equal(stat(path_in(f, "lab/realm.yaml"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(stat(path_in(f, "main/realm.yaml"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        document_free(secret);
        document_free(plain);
}

static void test_spec_read_write(void **state)
{
        TestDir *f = *state;
        ResourceId id = rid(KIND_SPACE, "main/blog");
        Document *d = doc_parse("apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: blog\nspec:\n"
                                "  network: {subnet: 10.88.1.0/24}\n");
        assert_int_equal(store_write_spec(f->store, &id, d), 0);
        Document *back = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(store_read_spec(f->store, &id, &back, &diag), 0);
        assert_string_equal(back->spec.space.network.subnet, "10.88.1.0/24");
        char a[72], b[72];
        assert_int_equal(document_digest(d, &id, a), 0);
        assert_int_equal(document_digest(back, &id, b), 0);
        assert_string_equal(a, b);
        back = document_free(back);

        /* the same manifest at another path, a wrong kind, two documents: positioned errors */
        ResourceId other = rid(KIND_SPACE, "main/shop");
        write_text(f->run, "main/shop/space.yaml",
                   "apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: blog\n");
        assert_int_equal(store_read_spec(f->store, &other, &back, &diag), -EINVAL);
        assert_diag(&diag,
                    "main/shop/space.yaml:4:9: metadata.name: \"blog\" does not match the name \"shop\" its "
                    "path gives");
        write_text(f->run, "main/shop/space.yaml", REALM_YAML);
        assert_int_equal(store_read_spec(f->store, &other, &back, &diag), -EINVAL);
        assert_diag(&diag, "main/shop/space.yaml:2:7: kind: expected Space in this file, found Realm");
        write_text(f->run, "main/shop/space.yaml", REALM_YAML "---\n" REALM_YAML);
        assert_int_equal(store_read_spec(f->store, &other, &back, &diag), -EINVAL);
        assert_diag(&diag,
                    "main/shop/space.yaml:5:1: expected exactly one document in a manifest file, found 2");
        assert_int_equal(
                store_read_spec(
                        f->store,
                        &(ResourceId){.kind = KIND_SPACE, .realm = "main", .space = "x", .name = "x"}, &back,
                        &diag),
                -ENOENT);
        diag_done(&diag);
        document_free(d);
}

static void test_status_round_trip(void **state)
{
        TestDir *f = *state;
        ResourceId id = rid(KIND_REALM, "main");
        Document *d = NULL;
        assert_int_equal(document_new(KIND_REALM, "main", &d), 0);
        const Schema *ss = status_schema(KIND_REALM);
        Status *st = &d->status;
        st->state = STATE_READY;
        st->observed_digest = strdup("sha256:0123");
        st->namespace = strdup("kukeon-main");
        st->created_at = 1748772001;
        st->usage.memory_bytes = 1843200;
        field_mark_set(&st->usage, 0);
        static const char *const set[] = {"state", "observedDigest", "namespace", "createdAt", "usage"};
        for (size_t i = 0; i < ARRAY_SIZE(set); i++)
                field_mark_set(st, (size_t)schema_field_index(ss, set[i]));
        field_mark_set(d, (size_t)schema_field_index(document_schema(KIND_REALM), "status"));
        assert_int_equal(store_write_status(f->store, &id, d), 0);

        assert_content(
                f, "main/realm.status.yaml",
                "apiVersion: v1beta1\nkind: RealmStatus\nmetadata:\n  name: main\nstatus:\n"
                "  observedDigest: sha256:0123\n  state: Ready\n  createdAt: \"2025-06-01T10:00:01Z\"\n"
                "  namespace: kukeon-main\n  usage:\n    memoryBytes: 1843200\n");

        Document *back = NULL;
        Diag diag = DIAG_INIT;
        assert_int_equal(store_read_status(f->store, &id, &back, &diag), 0);
        assert_int_equal(back->kind, KIND_REALM);
        assert_int_equal(back->status.state, STATE_READY);
        assert_string_equal(back->status.observed_digest, "sha256:0123");
        assert_string_equal(back->status.namespace, "kukeon-main");
        assert_int_equal(back->status.created_at, 1748772001);
        assert_int_equal(back->status.usage.memory_bytes, 1843200);
        assert_false(schema_has(ss, &back->status, "updatedAt"));
        document_free(back);

        /* a status file of the wrong kind is refused; no status file is -ENOENT */
        write_text(f->run, "main/realm.status.yaml",
                   "apiVersion: v1beta1\nkind: SpaceStatus\nmetadata:\n  name: main\n");
        assert_int_equal(store_read_status(f->store, &id, &back, &diag), -EINVAL);
        assert_string_equal(diag.path, "kind");
        ResourceId img = rid(KIND_IMAGE, "main/busybox");
        assert_int_equal(store_read_status(f->store, &img, &back, &diag), -ENOENT);
        diag_done(&diag);
        document_free(d);
}

/* ---- scanning ---- */

static void test_scan_tree(void **state)
{
        TestDir *f = *state;
        static const char cell[] =
                DOC("Cell", "c1", "spec:\n  containers:\n    - id: app\n      image: nginx\n");
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        write_text(f->run, "main/images/busybox.yaml",
                   DOC("Image", "busybox", "spec:\n  reference: busybox\n"));
        write_text(f->run, "main/images/busybox.status.yaml", "ignored by the image scan\n");
        write_text(f->run, "main/bad/space.yaml",
                   DOC("Space", "bad", "spec:\n  network:\n    subnet: [x]\n"));
        write_text(f->run, "main/bad/st/stack.yaml", DOC("Stack", "st", ""));
        write_text(f->run, "main/bad/st/c1/cell.yaml", cell);
        write_text(f->run, "main/good/space.yaml", DOC("Space", "good", ""));
        write_text(f->run, "main/good/st/stack.yaml", DOC("Stack", "st", ""));
        write_text(f->run, "main/good/st/c1/cell.yaml", cell);
        write_text(f->run, "main/good/st/c1/containers/app.yaml", "not read without TREE_WITH_CONTAINERS\n");
        write_text(f->run, "main/good/st/c1/logs/app.log", "log\n");
        write_text(f->run, "main/good/nospec/c2/cell.yaml", cell); /* a stack directory without stack.yaml */
        write_text(f->run, "main/good/.hidden/space.yaml", DOC("Space", "hidden", ""));
        write_text(f->run, "main/good/Upper/stack.yaml", DOC("Stack", "Upper", ""));
        write_text(f->run, "other/readme.txt", "a realm directory without realm.yaml\n");
        write_text(f->run, "main/good/st/.cell.yaml.tmp.123456", cell);

        ResourceId rid_main = rid(KIND_REALM, "main");
        Document *st = NULL;
        assert_int_equal(document_new(KIND_REALM, "main", &st), 0);
        assert_int_equal(store_write_status(f->store, &rid_main, st), 0);
        document_free(st);

        Tree t = {0};
        assert_int_equal(store_scan(f->store, TREE_WITH_STATUS, &t), 0);
        static const struct {
                Kind kind;
                const char *id;
                ssize_t parent;
                bool ok, blocked;
        } want[] = {
                {KIND_REALM, "main", -1, true, false},        {KIND_IMAGE, "main/busybox", 0, true, false},
                {KIND_SPACE, "main/bad", 0, false, false},    {KIND_STACK, "main/bad/st", 2, true, true},
                {KIND_CELL, "main/bad/st/c1", 3, true, true}, {KIND_SPACE, "main/good", 0, true, false},
                {KIND_STACK, "main/good/st", 5, true, false}, {KIND_CELL, "main/good/st/c1", 6, true, false},
        };
        assert_int_equal(t.n, ARRAY_SIZE(want));
        for (size_t i = 0; i < t.n; i++) {
                const TreeEntry *e = &t.entries[i];
                ResourceId id = rid(want[i].kind, want[i].id);
                assert_id_equal(&e->id, &id);
                assert_int_equal(e->parent, want[i].parent);
                assert_true(e->has_spec_file);
                assert_int_equal(e->blocked, want[i].blocked);
                assert_int_equal(e->spec != NULL, want[i].ok);
                assert_int_equal(diag_is_set(&e->error), !want[i].ok || want[i].blocked);
                if (e->spec) {
                        char dg[72];
                        assert_int_equal(document_digest(e->spec, &e->id, dg), 0);
                        assert_string_equal(e->digest, dg);
                } else {
                        assert_string_equal(e->digest, "");
                }
                assert_true(tree_find(&t, &id) == e);
        }
        /* the malformed space: positioned error, no spec */
        assert_diag(&t.entries[2].error,
                    "main/bad/space.yaml:7:13: spec.network.subnet: expected a string, found a list");
        /* its stack and cell are blocked with an error naming their parent */
        assert_string_equal(t.entries[3].error.message, "its parent Space \"main/bad\" is invalid");
        assert_contains(t.entries[4].error.message, "its parent Stack \"main/bad/st\"");
        /* status files come with TREE_WITH_STATUS */
        assert_non_null(t.entries[0].status);
        assert_int_equal(t.entries[0].status->status.state, STATE_PENDING);
        assert_null(t.entries[5].status);

        size_t counts[_KIND_MAX];
        tree_count_children(&t, 0, counts);
        assert_int_equal(counts[KIND_SPACE], 2);
        assert_int_equal(counts[KIND_IMAGE], 1);
        assert_int_equal(counts[KIND_STACK], 0);
        tree_count_children(&t, 5, counts);
        assert_int_equal(counts[KIND_STACK], 1);
        tree_count_children(&t, 7, counts);
        for (int k = 0; k < _KIND_MAX; k++)
                assert_int_equal(counts[k], 0);
        assert_null(tree_find(&t, &(ResourceId){.kind = KIND_REALM, .realm = "other", .name = "other"}));
        tree_done(&t);

        /* without TREE_WITH_STATUS no status is read (a second Store: see test_scan_twice) */
        Store *s2 = NULL;
        assert_int_equal(store_open(f->run, false, &s2), 0);
        assert_int_equal(store_scan(s2, 0, &t), 0);
        store_free(s2);
        assert_int_equal(t.n, ARRAY_SIZE(want));
        assert_null(t.entries[0].status);
        tree_done(&t);
        assert_int_equal(t.n, 0);
}

/* Regression: a second store_scan() on the same Store finds nothing (fixed). */
static void test_scan_twice(void **state)
{
        TestDir *f = *state;
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        Tree t = {0};
        assert_int_equal(store_scan(f->store, 0, &t), 0);
        assert_int_equal(t.n, 1);
        tree_done(&t);
        assert_int_equal(store_scan(f->store, 0, &t), 0);
        assert_int_equal(t.n, 1);
        tree_done(&t);
}

/* Regression: TreeEntry.spec_mtime is never set: load_entry() (scan.c) reads the manifest through
 * store_read_spec(), which passes NULL for the mtime, so it stays 0 (cli/cmd_get.c works around it with
 * tree_fill_mtimes()) (fixed). */
static void test_scan_sets_spec_mtime(void **state)
{
        TestDir *f = *state;
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        struct stat st;
        assert_int_equal(lstat(path_in(f, "main/realm.yaml"), &st), 0);
        Tree t = {0};
        assert_int_equal(store_scan(f->store, 0, &t), 0);
        assert_int_equal(t.n, 1);
        assert_int_equal(t.entries[0].spec_mtime, (int64_t)st.st_mtim.tv_sec);
        tree_done(&t);
}

/* ---- no symlink at any level, with openat2() and with the walk that replaces it ---- */

/* store_setup(), with the store walking component by component as on kernels without openat2() */
static int store_walk_setup(void **state)
{
        if (store_setup(state) < 0)
                return -1;
        TestDir *f = *state;
        store_set_openat2(f->store, false);
        return 0;
}

#define CELL_YAML DOC("Cell", "web", "spec:\n  containers:\n    - id: app\n      image: nginx\n")
#define OUTSIDE   "  labels:\n    from: outside\n"

/* A tree with one resource of every level, and below <tmp>/outside a copy whose manifests all carry the
 * label from=outside. */
static void write_levels(TestDir *f)
{
        static const struct {
                const char *rel, *kind, *name, *spec;
        } files[] = {
                {"main/realm.yaml", "Realm", "main", ""},
                {"main/images/busybox.yaml", "Image", "busybox", "spec:\n  reference: busybox\n"},
                {"main/blog/space.yaml", "Space", "blog", ""},
                {"main/blog/wp/stack.yaml", "Stack", "wp", ""},
                {"main/blog/wp/web/cell.yaml", "Cell", "web",
                 "spec:\n  containers:\n    - id: app\n      image: nginx\n"},
                {"main/blog/wp/web/containers/app.yaml", "Container", "app", "spec:\n  image: nginx\n"},
        };
        char text[512], out[128];
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                snprintf(text, sizeof(text), "apiVersion: v1beta1\nkind: %s\nmetadata:\n  name: %s\n%s",
                         files[i].kind, files[i].name, files[i].spec);
                write_text(f->run, files[i].rel, text);
                snprintf(text, sizeof(text),
                         "apiVersion: v1beta1\nkind: %s\nmetadata:\n  name: %s\n" OUTSIDE "%s",
                         files[i].kind, files[i].name, files[i].spec);
                snprintf(out, sizeof(out), "outside/%s", files[i].rel);
                write_text(f->tmp, out, text);
        }
        write_text(
                f->run, "main/blog/wp/web/cell.status.yaml",
                "apiVersion: v1beta1\nkind: CellStatus\nmetadata:\n  name: web\nstatus:\n  state: Ready\n");
        write_text(
                f->tmp, "outside/main/blog/wp/web/cell.status.yaml",
                "apiVersion: v1beta1\nkind: CellStatus\nmetadata:\n  name: web\nstatus:\n  state: Failed\n");
}

/* Fails when any entry of t was read from <tmp>/outside. */
static void assert_nothing_outside(const Tree *t)
{
        for (size_t i = 0; i < t->n; i++) {
                const TreeEntry *e = &t->entries[i];
                if (e->spec && strmap_get(&e->spec->metadata.labels, "from"))
                        fail_msg("entry %zu (%s) was read through a symlink", i, e->id.name);
                if (e->status)
                        assert_int_not_equal(e->status->status.state, STATE_FAILED);
        }
}

/* Each directory level in turn replaced by a symlink to its copy outside the tree: reads through it are
 * -ELOOP, the scan reports the resource whose directory it is and reads nothing below it. */
static void test_symlinked_dir_at_each_level(void **state)
{
        TestDir *f = *state;
        static const struct {
                const char *dir, *file; /* the directory made a symlink, a file below it */
                Kind kind;              /* the resource the directory is, or the kind it lists */
                const char *id;
                size_t n; /* entries the scan still finds */
        } levels[] = {
                {"main", "main/realm.yaml", KIND_REALM, "main", 1},
                {"main/images", "main/images/busybox.yaml", KIND_IMAGE, "main/busybox", 5},
                {"main/blog", "main/blog/space.yaml", KIND_SPACE, "main/blog", 3},
                {"main/blog/wp", "main/blog/wp/stack.yaml", KIND_STACK, "main/blog/wp", 4},
                {"main/blog/wp/web", "main/blog/wp/web/cell.yaml", KIND_CELL, "main/blog/wp/web", 5},
                {"main/blog/wp/web/containers", "main/blog/wp/web/containers/app.yaml", KIND_CONTAINER,
                 "main/blog/wp/web/app", 5},
        };
        write_levels(f);
        Tree t = {0};
        assert_int_equal(store_scan(f->store, TREE_WITH_STATUS | TREE_WITH_CONTAINERS, &t), 0);
        assert_int_equal(t.n, 6);
        assert_nothing_outside(&t);
        tree_done(&t);

        for (size_t i = 0; i < ARRAY_SIZE(levels); i++) {
                char target[256], aside[256];
                snprintf(target, sizeof(target), "%s/outside/%s", f->tmp, levels[i].dir);
                snprintf(aside, sizeof(aside), "%s/aside", f->tmp);
                assert_int_equal(rename(path_in(f, levels[i].dir), aside), 0);
                assert_int_equal(symlink(target, path_in(f, levels[i].dir)), 0);

                assert_int_equal(read_rel(f, levels[i].file, NULL), -ELOOP);
                assert_false(store_exists(f->store, levels[i].file));
                int fd = -EBADF;
                assert_int_equal(store_open_dir(f->store, levels[i].dir, &fd), -ELOOP);
                assert_int_equal(
                        store_open_at(f->store, f->store->fd, levels[i].dir, O_RDONLY | O_DIRECTORY),
                        -ELOOP);
                assert_int_equal(store_write_file(f->store, levels[i].file, "x", 1, 0644), -ELOOP);

                assert_int_equal(store_scan(f->store, TREE_WITH_STATUS | TREE_WITH_CONTAINERS, &t), 0);
                assert_nothing_outside(&t);
                assert_int_equal(t.n, levels[i].n);
                ResourceId id = rid(levels[i].kind, levels[i].id);
                TreeEntry *e = tree_find(&t, &id);
                if (levels[i].kind == KIND_IMAGE || levels[i].kind == KIND_CONTAINER) {
                        assert_null(e); /* a listing directory: nothing listed */
                } else {
                        char want[256];
                        snprintf(want, sizeof(want), "%s: " LINK_MSG, levels[i].dir);
                        assert_true(e && !e->spec && !e->status && e->has_spec_file);
                        assert_diag(&e->error, want);
                }
                tree_done(&t);

                assert_int_equal(unlink(path_in(f, levels[i].dir)), 0);
                assert_int_equal(rename(aside, path_in(f, levels[i].dir)), 0);
        }
        /* the files outside are untouched */
        char out[256];
        snprintf(out, sizeof(out), "%s/outside/main/realm.yaml", f->tmp);
        char *text = file_read(out, NULL);
        assert_contains(text, "from: outside");
        free(text);
}

/* Files read once, then each replaced by a symlink (to a copy outside, or to another file of the tree):
 * every read after the swap is -ELOOP, and the scan never takes the target's content. */
static void test_file_swapped_for_symlink(void **state)
{
        TestDir *f = *state;
        static const char *const files[] = {
                "main/realm.yaml",
                "main/images/busybox.yaml",
                "main/blog/wp/web/cell.yaml",
                "main/blog/wp/web/cell.status.yaml",
                "main/blog/wp/web/containers/app.yaml",
        };
        write_levels(f);
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                char target[256], link[256];
                assert_int_equal(read_rel(f, files[i], NULL), 0);
                snprintf(target, sizeof(target), "%s/outside/%s", f->tmp, files[i]);
                snprintf(link, sizeof(link), "%s.new", path_in(f, files[i]));
                assert_int_equal(symlink(i % 2 ? target : path_in(f, "main/blog/space.yaml"), link), 0);
                assert_int_equal(rename(link, path_in(f, files[i])), 0);

                assert_int_equal(read_rel(f, files[i], NULL), -ELOOP);
                assert_true(store_exists(f->store, files[i])); /* the link itself is there */

                Tree t = {0};
                assert_int_equal(store_scan(f->store, TREE_WITH_STATUS | TREE_WITH_CONTAINERS, &t), 0);
                assert_nothing_outside(&t);
                for (size_t k = 0; k < t.n; k++) {
                        char spec[256], status[256];
                        const TreeEntry *e = &t.entries[k];
                        assert_int_equal(store_spec_path(&e->id, spec, sizeof(spec)), 0);
                        assert_int_equal(store_status_path(&e->id, status, sizeof(status)), 0);
                        if (streq(spec, files[i])) {
                                struct stat st;
                                assert_int_equal(lstat(path_in(f, files[i]), &st), 0);
                                assert_true(e->has_spec_file && !e->spec);
                                assert_string_equal(e->error.message, LINK_MSG);
                                assert_string_equal(e->error.file, files[i]);
                                if (e->id.kind != KIND_CONTAINER && e->id.kind != KIND_IMAGE)
                                        assert_int_equal(e->spec_mtime, (int64_t)st.st_mtim.tv_sec);
                        } else if (streq(status, files[i])) {
                                assert_non_null(e->spec);
                                assert_null(e->status);
                        } else if (!e->blocked) {
                                assert_non_null(e->spec);
                        }
                }
                tree_done(&t);
                assert_int_equal(unlink(path_in(f, files[i])), 0);
                write_levels(f);
        }
}

/* Paths that would leave the directory, or name it oddly, are refused before any system call. */
static void test_open_at_refuses(void **state)
{
        TestDir *f = *state;
        char longpath[PATH_MAX + 8];
        static const char *const bad[] = {
                "",
                "/etc/passwd",
                "..",
                "../run",
                "main/../main/realm.yaml",
                ".",
                "./main",
                "main/./realm.yaml",
                "main//realm.yaml",
                "main/",
                "main/realm.yaml/",
        };
        write_text(f->run, "main/realm.yaml", REALM_YAML);
        write_text(f->run, "main/file", "x");
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                int fd = store_open_at(f->store, f->store->fd, bad[i], O_RDONLY);
                if (fd >= 0)
                        close(fd);
                if (fd != -EINVAL)
                        fail_msg("\"%s\": got %d, want -EINVAL", bad[i], fd);
                assert_int_equal(read_rel(f, bad[i], NULL), -EINVAL);
        }
        memset(longpath, 'a', sizeof(longpath) - 1);
        longpath[sizeof(longpath) - 1] = '\0';
        assert_int_equal(store_open_at(f->store, f->store->fd, longpath, O_RDONLY), -ENAMETOOLONG);

        /* a file on the way is -ENOTDIR; a file opened as a directory too */
        assert_int_equal(read_rel(f, "main/file/realm.yaml", NULL), -ENOTDIR);
        assert_int_equal(store_open_at(f->store, f->store->fd, "main/file", O_RDONLY | O_DIRECTORY),
                         -ENOTDIR);
        /* a symlink inside the tree to a directory or a file inside the tree: still refused */
        assert_int_equal(symlink("main", path_in(f, "alias")), 0);
        assert_int_equal(symlink("realm.yaml", path_in(f, "main/alias.yaml")), 0);
        assert_int_equal(store_open_at(f->store, f->store->fd, "alias", O_RDONLY | O_DIRECTORY), -ELOOP);
        assert_int_equal(read_rel(f, "alias/realm.yaml", NULL), -ELOOP);
        assert_int_equal(read_rel(f, "main/alias.yaml", NULL), -ELOOP);
        /* relative to a held directory */
        int dfd = store_open_at(f->store, f->store->fd, "main", O_RDONLY | O_DIRECTORY);
        assert_true(dfd >= 0);
        char *buf = NULL;
        size_t len;
        assert_int_equal(store_read_file_at(f->store, dfd, "realm.yaml", &buf, &len, NULL), 0);
        assert_string_equal(buf, REALM_YAML);
        free(buf);
        assert_int_equal(store_read_file_at(f->store, dfd, "../main/realm.yaml", &buf, &len, NULL), -EINVAL);
        assert_int_equal(store_read_file_at(f->store, dfd, "alias.yaml", &buf, &len, NULL), -ELOOP);
        close(dfd);
        /* an empty file is read as "" */
        write_text(f->run, "main/empty", "");
        assert_int_equal(store_read_file(f->store, "main/empty", &buf, &len, NULL), 0);
        assert_int_equal(len, 0);
        assert_string_equal(buf, "");
        free(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_open_symlink, store_setup, testdir_teardown),
                cmocka_unit_test(test_path_mapping),
                cmocka_unit_test(test_classify_other_roles),
                cmocka_unit_test(test_classify_rejects),
                cmocka_unit_test_setup_teardown(test_atomic_write, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_crash_between_temp_and_rename, store_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_symlinks_refused, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_hard_link_and_size_refused, store_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_modes, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_read_write, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_status_round_trip, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_scan_tree, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_scan_twice, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_scan_sets_spec_mtime, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_dir_at_each_level, store_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_dir_at_each_level, store_walk_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_file_swapped_for_symlink, store_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_file_swapped_for_symlink, store_walk_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_open_at_refuses, store_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_open_at_refuses, store_walk_setup, testdir_teardown),
                /* the tests before, again without openat2() */
                cmocka_unit_test_setup_teardown(test_symlinks_refused, store_walk_setup, testdir_teardown),
                cmocka_unit_test_setup_teardown(test_hard_link_and_size_refused, store_walk_setup,
                                                testdir_teardown),
                cmocka_unit_test_setup_teardown(test_scan_tree, store_walk_setup, testdir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
