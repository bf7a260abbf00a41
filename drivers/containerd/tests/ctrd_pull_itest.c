/* Integration checks of ctrd_image_pull() against the private containerd and the loopback registry of
 * tests/integration/test_containerd_pull.sh, one subcommand per step:
 *
 *   ctrd_pull_itest ADDRESS pull NS REF [WANT_R]   pull; prints "pulled NAME TYPE TARGET MANIFEST CHAIN"
 *                                                  and "r=… message=… progress=DONE/TOTAL"; exits 0 when
 *                                                  r == WANT_R (default: r >= 0)
 *   ctrd_pull_itest ADDRESS cancel NS REF          cancel at the first progress: -ECANCELED
 *   ctrd_pull_itest ADDRESS check NS NAME DIFF_ID  the record, the committed snapshot of the chain id, the
 *                                                  GC and source labels, no lease and no ingest left
 *   ctrd_pull_itest ADDRESS absent NS NAME         no such image, no lease, no ingest
 *
 * Environment: PULL_PLAIN_HTTP=1, PULL_SERVER / PULL_USERNAME / PULL_PASSWORD (credentials),
 * PULL_TIMEOUT_MS. Each step runs the loop until its callback, with a watchdog; the loop is closed
 * (every handle gone) at the end. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "drivers/containerd/ctrd.h"
#include "drivers/containerd/pull.h"
#include "drivers/containerd/tests/itest-check.h"

typedef struct T {
        uv_loop_t loop;
        GrpcConn *conn;
        const char *ns;
} T;

typedef struct Res {
        int n_done;
        int r;
        char message[2048];
        char text[4096];
        size_t n;
        uint64_t done, total;
        size_t n_progress;
        CtrdPull *pull;
        bool cancel_on_progress;
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
                run_until_done_(t, &(res), 180000, __LINE__);                                               \
        } while (0)

/* ---- callbacks ---- */

static void on_pull(int r, const char *message, const CtrdPulledImage *image, void *userdata)
{
        Res *res = userdata;
        if (image)
                printf("pulled %s %s %s %s %s\n", image->name, image->target.media_type,
                       image->target.digest, image->manifest.digest, image->chain_id);
        res->pull = NULL;
        res_set(res, r, message);
}

static void on_pull_progress(uint64_t done, uint64_t total, void *userdata)
{
        Res *res = userdata;
        if (done < res->done || done > total)
                die(__LINE__, "progress went from %llu to %llu of %llu", (unsigned long long)res->done,
                    (unsigned long long)done, (unsigned long long)total);
        res->done = done;
        res->total = total;
        res->n_progress++;
        if (res->cancel_on_progress && res->pull && done > 0) {
                res->cancel_on_progress = false;
                ctrd_image_pull_cancel(res->pull);
        }
}

static void on_image(int r, const char *message, const CtrdImage *image, void *userdata)
{
        Res *res = userdata;
        if (image)
                snprintf(res->text, sizeof(res->text), "%s %s %lld", image->target.media_type,
                         image->target.digest, (long long)image->target.size);
        res_set(res, r, message);
}

static void on_config(int r, const char *message, const CtrdImageConfig *c, void *userdata)
{
        Res *res = userdata;
        if (c) {
                snprintf(res->text, sizeof(res->text), "%s %s %s", c->chain_id, c->manifest.digest,
                         c->config.digest);
                res->n = c->n_layers;
        }
        res_set(res, r, message);
}

static void on_snapshot(int r, const char *message, const CtrdSnapshotInfo *info, void *userdata)
{
        Res *res = userdata;
        if (info)
                snprintf(res->text, sizeof(res->text), "%s kind=%d", info->name, info->kind);
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

static void pull_options(PullOptions *o, PullCredentials *c)
{
        const char *timeout = getenv("PULL_TIMEOUT_MS");
        *o = (PullOptions){.plain_http = streq_ptr(getenv("PULL_PLAIN_HTTP"), "1"),
                           .timeout_ms = timeout ? atoll(timeout) : 0,
                           .on_progress = on_pull_progress};
        *c = (PullCredentials){getenv("PULL_SERVER"), getenv("PULL_USERNAME"), getenv("PULL_PASSWORD")};
}

static int step_pull(T *t, const char *ref, const char *want)
{
        Res res;
        PullOptions o;
        PullCredentials c;
        pull_options(&o, &c);
        RUN(t, res,
            ctrd_image_pull(t->conn, &t->loop, t->ns, ref, c.username ? &c : NULL, &o, on_pull, &res, NULL));
        printf("r=%d message=%s progress=%llu/%llu\n", res.r, res.message, (unsigned long long)res.done,
               (unsigned long long)res.total);
        if (res.r >= 0 && (res.done != res.total || res.n_progress < 2))
                die(__LINE__, "progress ended at %llu of %llu after %zu reports",
                    (unsigned long long)res.done, (unsigned long long)res.total, res.n_progress);
        if (want)
                return res.r == atoi(want) ? 0 : 1;
        return res.r >= 0 ? 0 : 1;
}

static void step_cancel(T *t, const char *ref)
{
        Res res = {0};
        PullOptions o;
        PullCredentials c;
        pull_options(&o, &c);
        res.cancel_on_progress = true;
        CHECK(ctrd_image_pull(t->conn, &t->loop, t->ns, ref, NULL, &o, on_pull, &res, &res.pull) == 0);
        run_until_done_(t, &res, 180000, __LINE__);
        printf("r=%d message=%s\n", res.r, res.message);
        CHECK_R(res, -ECANCELED);
        check_nothing_pending(t);
        printf("ok cancelled pull: -ECANCELED, no lease or ingest left\n");
}

static void check_labels(T *t, const char *name, const char *diff_id, const char *chain,
                         const char *manifest, const char *config)
{
        char source_key[300];
        const char *slash = strchr(name, '/');
        CHECK(slash);
        int host_len = (int)strcspn(name, ":/");
        snprintf(source_key, sizeof(source_key), "containerd.io/distribution.source.%.*s", host_len, name);
        char repo[256];
        snprintf(repo, sizeof(repo), "%.*s", (int)strcspn(slash + 1, ":@"), slash + 1);

        Res m, res;
        RUN(t, m, ctrd_content_info(t->conn, t->ns, manifest, on_info, &m));
        CHECK_R(m, 0);
        CHECK(has_label(m.text, "containerd.io/gc.ref.content.config", config));
        CHECK(has_label(m.text, source_key, repo));
        const char *l0 = strstr(m.text, "containerd.io/gc.ref.content.l.0=");
        CHECK(l0);
        char layer[SHA256_HEX_MAX];
        CHECK(sscanf(strchr(l0, '=') + 1, "%71s", layer) == 1);
        RUN(t, res, ctrd_content_info(t->conn, t->ns, layer, on_info, &res));
        CHECK_R(res, 0);
        CHECK(has_label(res.text, "containerd.io/uncompressed", diff_id));
        CHECK(has_label(res.text, source_key, repo));
        RUN(t, res, ctrd_content_info(t->conn, t->ns, config, on_info, &res));
        CHECK_R(res, 0);
        CHECK(has_label(res.text, "containerd.io/gc.ref.snapshot.overlayfs", chain));
        CHECK(has_label(res.text, source_key, repo));
}

static void step_check(T *t, const char *name, const char *diff_id)
{
        Res img, cfg, res;
        RUN(t, img, ctrd_image_get(t->conn, t->ns, name, on_image, &img));
        CHECK_R(img, 0);
        printf("target %s\n", img.text);
        RUN(t, cfg, ctrd_image_config_get(t->conn, t->ns, name, on_config, &cfg));
        CHECK_R(cfg, 0);
        char chain[SHA256_HEX_MAX], manifest[SHA256_HEX_MAX], config[SHA256_HEX_MAX];
        CHECK(sscanf(cfg.text, "%71s %71s %71s", chain, manifest, config) == 3);
        CHECK(cfg.n == 1);
        CHECK(streq(chain, diff_id)); /* one layer: the chain id is its diff_id */
        RUN(t, res, ctrd_snapshot_stat(t->conn, t->ns, NULL, chain, on_snapshot, &res));
        CHECK_R(res, 0);
        CHECK(strstr(res.text, "kind=3") != NULL); /* committed */
        check_labels(t, name, diff_id, chain, manifest, config);
        check_nothing_pending(t);
        printf("ok %s: record, committed snapshot %s, GC and source labels, no lease or ingest left\n", name,
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

/* ---- main ---- */

static void on_state(GrpcConn *conn, GrpcConnState state, int reason, void *userdata)
{
}

int main(int argc, char **argv)
{
        if (argc < 5) {
                fprintf(stderr, "usage: %s ADDRESS pull|cancel|check|absent NS ...\n", argv[0]);
                return 2;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        T t = {.ns = argv[3]};
        CHECK(uv_loop_init(&t.loop) == 0);
        const GrpcConnOptions opts = {.address = argv[1], .default_timeout_ms = 60000, .on_state = on_state};
        CHECK(grpc_conn_new(&t.loop, &opts, &t.conn) == 0);
        int rc = 0;
        const char *cmd = argv[2];
        if (streq(cmd, "pull"))
                rc = step_pull(&t, argv[4], argc >= 6 ? argv[5] : NULL);
        else if (streq(cmd, "cancel"))
                step_cancel(&t, argv[4]);
        else if (streq(cmd, "check") && argc >= 6)
                step_check(&t, argv[4], argv[5]);
        else if (streq(cmd, "absent"))
                step_absent(&t, argv[4]);
        else
                die(__LINE__, "unknown command %s", cmd);
        grpc_conn_close(t.conn);
        uv_run(&t.loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&t.loop) == 0);
        return rc;
}
