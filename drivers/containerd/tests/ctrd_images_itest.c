/* Integration checks of the image operations (leases, content, unpack, import) against the private
 * containerd of tests/integration/test_containerd_images.sh, one subcommand per step so the script can
 * interleave its ctr checks:
 *
 *   ctrd_images_itest ADDRESS import NS TAR [WANT_R]   import; prints "image NAME MEDIATYPE DIGEST CHAIN";
 *                                                       exits 0 when r == WANT_R (default: r >= 0)
 *   ctrd_images_itest ADDRESS check NS NAME DIFF_ID    the record, the snapshot, the labels, the config,
 *                                                       no lease and no ingest left
 *   ctrd_images_itest ADDRESS absent NS NAME           no such image, no lease, no ingest
 *   ctrd_images_itest ADDRESS write NS                 the content writer on its own: a new blob in
 *                                                       chunks from a source, again (exists), cancel
 *
 * Each step runs the loop until its callback, with a watchdog. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/sha256.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/tests/itest-check.h"

typedef struct T {
        uv_loop_t loop;
        GrpcConn *conn;
        const char *ns;
} T;

typedef struct Res {
        int n_done;
        int r;
        char message[1024];
        char text[4096]; /* whatever the step collects */
        size_t n;
        uint64_t progress[3];
} Res;

static void res_set(Res *res, int r, const char *message)
{
        res->n_done++;
        res->r = r;
        snprintf(res->message, sizeof(res->message), "%s", message ? message : "(null)");
}

static void on_watchdog(uv_timer_t *timer)
{
        *(bool *)timer->data = true;
}

static void run_until_done_(T *t, Res *res, uint64_t ms, int line)
{
        bool expired = false;
        uv_timer_t watchdog;
        uv_timer_init(&t->loop, &watchdog);
        watchdog.data = &expired;
        uv_timer_start(&watchdog, on_watchdog, ms, 0);
        while (res->n_done == 0 && !expired)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&watchdog, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
        if (res->n_done == 0)
                die(line, "timed out after %llu ms", (unsigned long long)ms);
        for (int i = 0; i < 10; i++) /* a second callback would show now */
                uv_run(&t->loop, UV_RUN_NOWAIT);
        if (res->n_done != 1)
                die(line, "callback ran %d times", res->n_done);
}
#define RUN(t, res, call)                                                                                   \
        do {                                                                                                \
                (res) = (Res){0};                                                                           \
                int _r = (call);                                                                            \
                if (_r < 0)                                                                                 \
                        die(__LINE__, "%s: %s", #call, strerror(-_r));                                      \
                run_until_done_(t, &(res), 120000, __LINE__);                                               \
        } while (0)

/* ---- callbacks ---- */

static void on_done(int r, const char *message, void *userdata)
{
        res_set(userdata, r, message);
}

static void on_import(int r, const char *message, const CtrdImportedImage *images, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        for (size_t i = 0; i < n; i++)
                printf("image %s %s %s %s\n", images[i].name, images[i].target.media_type,
                       images[i].target.digest, images[i].chain_id);
        res_set(res, r, message);
}

static void on_import_progress(CtrdImportPhase phase, uint64_t done, uint64_t total, void *userdata)
{
        Res *res = userdata;
        res->progress[phase] = done;
}

static void on_image(int r, const char *message, const CtrdImage *image, void *userdata)
{
        Res *res = userdata;
        if (image)
                snprintf(res->text, sizeof(res->text), "%s %s %lld", image->target.media_type,
                         image->target.digest, (long long)image->target.size);
        res_set(res, r, message);
}

static void on_snapshot(int r, const char *message, const CtrdSnapshotInfo *info, void *userdata)
{
        Res *res = userdata;
        if (info)
                snprintf(res->text, sizeof(res->text), "%s kind=%d parent=%s", info->name, info->kind,
                         info->parent);
        res_set(res, r, message);
}

static void on_info(int r, const char *message, const CtrdContentInfo *info, void *userdata)
{
        Res *res = userdata;
        for (size_t i = 0; info && i < info->n_labels; i++) {
                size_t len = strlen(res->text);
                snprintf(res->text + len, sizeof(res->text) - len, "%s=%s\n", info->labels[i].key,
                         info->labels[i].value);
        }
        res_set(res, r, message);
}

static void on_leases(int r, const char *message, const char *const *ids, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(res->text);
                snprintf(res->text + len, sizeof(res->text) - len, "%s ", ids[i]);
        }
        res_set(res, r, message);
}

static void on_statuses(int r, const char *message, const CtrdContentStatus *st, size_t n, void *userdata)
{
        Res *res = userdata;
        res->n = n;
        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(res->text);
                snprintf(res->text + len, sizeof(res->text) - len, "%s ", st[i].ref);
        }
        res_set(res, r, message);
}

static void on_config(int r, const char *message, const CtrdImageConfig *c, void *userdata)
{
        Res *res = userdata;
        if (c) {
                char *process = c->process ? json_dumps(c->process, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                snprintf(res->text, sizeof(res->text), "%s %s %s", c->chain_id, c->manifest.digest,
                         process ? process : "null");
                free(process);
                res->n = c->n_layers;
        }
        res_set(res, r, message);
}

/* ---- steps ---- */

static bool has_label(const char *labels, const char *key, const char *value)
{
        char want[512];
        snprintf(want, sizeof(want), "%s=%s\n", key, value);
        return strstr(labels, want) != NULL;
}

/* No lease and no ingest left in the namespace. */
static void check_nothing_pending(T *t)
{
        Res res;
        RUN(t, res, ctrd_lease_list(t->conn, t->ns, on_leases, &res));
        CHECK_R(res, 0);
        if (res.n != 0)
                die(__LINE__, "leases left: %s", res.text);
        RUN(t, res, ctrd_content_list_statuses(t->conn, t->ns, NULL, on_statuses, &res));
        CHECK_R(res, 0);
        if (res.n != 0)
                die(__LINE__, "ingests left: %s", res.text);
}

static int step_import(T *t, const char *tar, const char *want)
{
        Res res;
        const CtrdImportOptions o = {.ns = t->ns, .path = tar, .on_progress = on_import_progress};
        RUN(t, res, ctrd_image_import(t->conn, &t->loop, &o, on_import, &res, NULL));
        printf("r=%d message=%s read=%llu written=%llu layers=%llu\n", res.r, res.message,
               (unsigned long long)res.progress[CTRD_IMPORT_READ],
               (unsigned long long)res.progress[CTRD_IMPORT_WRITE],
               (unsigned long long)res.progress[CTRD_IMPORT_UNPACK]);
        if (want)
                return res.r == atoi(want) ? 0 : 1;
        return res.r >= 0 ? 0 : 1;
}

static void step_check(T *t, const char *name, const char *diff_id)
{
        Res res, img, cfg;
        RUN(t, img, ctrd_image_get(t->conn, t->ns, name, on_image, &img));
        CHECK_R(img, 0);
        printf("target %s\n", img.text);

        /* One layer: its chain id is its diff_id. */
        RUN(t, cfg, ctrd_image_config_get(t->conn, t->ns, name, on_config, &cfg));
        CHECK_R(cfg, 0);
        char chain[SHA256_HEX_MAX], manifest[SHA256_HEX_MAX], process[2048];
        CHECK(sscanf(cfg.text, "%71s %71s %2047s", chain, manifest, process) == 3);
        CHECK(streq(chain, diff_id));
        CHECK(cfg.n == 1);
        CHECK(strstr(process, "\"Cmd\":[\"/bin/sh\"]") != NULL);
        printf("config chain=%s manifest=%s process=%s\n", chain, manifest, process);

        RUN(t, res, ctrd_snapshot_stat(t->conn, t->ns, NULL, chain, on_snapshot, &res));
        CHECK_R(res, 0);
        CHECK(strstr(res.text, "kind=3") != NULL); /* committed */

        /* The GC labels of b3: manifest → config and layer, layer → diff_id, config → snapshot. */
        Res m;
        RUN(t, m, ctrd_content_info(t->conn, t->ns, manifest, on_info, &m));
        CHECK_R(m, 0);
        const char *config_digest = strstr(m.text, "containerd.io/gc.ref.content.config=");
        const char *layer_digest = strstr(m.text, "containerd.io/gc.ref.content.l.0=");
        CHECK(config_digest && layer_digest);
        char cd[SHA256_HEX_MAX], ld[SHA256_HEX_MAX];
        CHECK(sscanf(strchr(config_digest, '=') + 1, "%71s", cd) == 1);
        CHECK(sscanf(strchr(layer_digest, '=') + 1, "%71s", ld) == 1);
        RUN(t, res, ctrd_content_info(t->conn, t->ns, ld, on_info, &res));
        CHECK_R(res, 0);
        CHECK(has_label(res.text, "containerd.io/uncompressed", diff_id));
        RUN(t, res, ctrd_content_info(t->conn, t->ns, cd, on_info, &res));
        CHECK_R(res, 0);
        CHECK(has_label(res.text, "containerd.io/gc.ref.snapshot.overlayfs", chain));
        check_nothing_pending(t);
        printf("ok %s: record, committed snapshot %s, labels, config, no lease or ingest left\n", name,
               chain);
}

static void step_absent(T *t, const char *name)
{
        Res res;
        RUN(t, res, ctrd_image_get(t->conn, t->ns, name, on_image, &res));
        CHECK_R(res, -ENOENT);
        check_nothing_pending(t);
        printf("ok %s absent, no lease or ingest left\n", name);
}

/* ---- the writer on its own ---- */

typedef struct Source {
        const char *data;
        size_t len;
        size_t n_asked;
        bool is_async; /* answer from the next loop iteration */
        uv_idle_t idle;
        CtrdContentWriter *w;
        uint64_t offset;
        size_t max;
} Source;

typedef struct WriteRes {
        Res res;
        Source *src;
} WriteRes;

static void on_idle(uv_idle_t *idle)
{
        Source *s = idle->data;
        uv_idle_stop(idle);
        size_t n = s->len - s->offset < s->max ? s->len - s->offset : s->max;
        CHECK(ctrd_content_writer_supply(s->w, s->data + s->offset, n < 7 ? n : 7) == 0);
}

static void on_source(CtrdContentWriter *w, uint64_t offset, size_t max, void *userdata)
{
        Source *s = ((WriteRes *)userdata)->src;
        s->n_asked++;
        s->w = w;
        s->offset = offset;
        s->max = max;
        if (s->is_async)
                uv_idle_start(&s->idle, on_idle);
        else
                CHECK(ctrd_content_writer_supply(w, s->data + offset, max) == 0);
}

static void step_write(T *t)
{
        static const char blob[] = "kukeon content writer integration check: a blob of a few bytes\n";
        char digest[SHA256_HEX_MAX];
        CHECK(sha256_digest_string(blob, strlen(blob), digest) == 0);
        Source src = {.data = blob, .len = strlen(blob), .is_async = true};
        uv_idle_init(&t->loop, &src.idle);
        src.idle.data = &src;
        WriteRes wr = {.src = &src};
        const CtrdLabel labels[] = {{"kukeon.io/test", "1"}};
        CtrdContentWrite w = {.ns = t->ns,
                              .ref = "itest-blob",
                              .digest = digest,
                              .size = (int64_t)strlen(blob),
                              .labels = labels,
                              .n_labels = 1,
                              .fd = -1,
                              .source = on_source};
        RUN(t, wr.res, ctrd_content_write(t->conn, &t->loop, &w, on_done, &wr, NULL));
        CHECK_R(wr.res, 1);
        CHECK(src.n_asked == (strlen(blob) + 6) / 7); /* 7 bytes per answer */
        Res info;
        RUN(t, info, ctrd_content_info(t->conn, t->ns, digest, on_info, &info));
        CHECK_R(info, 0);
        CHECK(has_label(info.text, "kukeon.io/test", "1"));

        /* Again with another label: ALREADY_EXISTS at STAT, the label is added by Content.Update. */
        src.n_asked = 0;
        const CtrdLabel labels2[] = {{"kukeon.io/again", "2"}};
        w.labels = labels2;
        RUN(t, wr.res, ctrd_content_write(t->conn, &t->loop, &w, on_done, &wr, NULL));
        CHECK_R(wr.res, 0);
        CHECK(src.n_asked == 0);
        RUN(t, info, ctrd_content_info(t->conn, t->ns, digest, on_info, &info));
        CHECK(has_label(info.text, "kukeon.io/test", "1") && has_label(info.text, "kukeon.io/again", "2"));

        /* A wrong digest: COMMIT fails, the ingest is aborted. */
        char wrong[SHA256_HEX_MAX];
        CHECK(sha256_digest_string("other", 5, wrong) == 0);
        w.digest = wrong;
        w.ref = "itest-wrong";
        src.is_async = false;
        RUN(t, wr.res, ctrd_content_write(t->conn, &t->loop, &w, on_done, &wr, NULL));
        CHECK(wr.res.r < 0);
        printf("   wrong digest: %d %s\n", wr.res.r, wr.res.message);

        /* Cancelled while the source is asked: -ECANCELED, the ingest is aborted. */
        src.is_async = true;
        CtrdContentWriter *writer;
        w.ref = "itest-cancel";
        w.digest = digest;
        w.size += 1000; /* so that it is not "already there" */
        CHECK(sha256_digest_string("cancelled", 9, wrong) == 0);
        w.digest = wrong;
        wr.res = (Res){0};
        CHECK(ctrd_content_write(t->conn, &t->loop, &w, on_done, &wr, &writer) == 0);
        while (src.n_asked == 0)
                uv_run(&t->loop, UV_RUN_ONCE);
        uv_idle_stop(&src.idle);
        ctrd_content_writer_cancel(writer);
        run_until_done_(t, &wr.res, 30000, __LINE__);
        CHECK_R(wr.res, -ECANCELED);
        check_nothing_pending(t);
        uv_close((uv_handle_t *)&src.idle, NULL);
        uv_run(&t->loop, UV_RUN_NOWAIT);
        printf("ok content writer: chunked from a source, again (labels updated), wrong digest, cancel\n");
}

/* ---- main ---- */

static void on_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
}

int main(int argc, char **argv)
{
        if (argc < 4) {
                fprintf(stderr, "usage: %s ADDRESS import|check|absent|write NS ...\n", argv[0]);
                return 2;
        }
        T t = {.ns = argv[3]};
        CHECK(uv_loop_init(&t.loop) == 0);
        const GrpcConnOptions opts = {.address = argv[1], .default_timeout_ms = 60000, .on_state = on_state};
        CHECK(grpc_conn_new(&t.loop, &opts, &t.conn) == 0);
        int rc = 0;
        const char *cmd = argv[2];
        if (streq(cmd, "import") && argc >= 5)
                rc = step_import(&t, argv[4], argc >= 6 ? argv[5] : NULL);
        else if (streq(cmd, "check") && argc >= 6)
                step_check(&t, argv[4], argv[5]);
        else if (streq(cmd, "absent") && argc >= 5)
                step_absent(&t, argv[4]);
        else if (streq(cmd, "write"))
                step_write(&t);
        else
                die(__LINE__, "unknown command %s", cmd);
        grpc_conn_close(t.conn);
        uv_run(&t.loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&t.loop) == 0);
        return rc;
}
