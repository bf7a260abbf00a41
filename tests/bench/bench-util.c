/* Helpers of the benchmark programs: see bench-util.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "common/macro.h"
#include "common/sha256.h"
#include "state/schema.h"
#include "tests/bench/bench-util.h"

double bench_now(void)
{
        struct timespec ts;
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_deadline(uv_timer_t *t)
{
        *(bool *)t->data = true;
}

bool bench_run_until(uv_loop_t *loop, bool (*pred)(void *arg), void *arg, uint64_t timeout_ms)
{
        bool expired = false;
        uv_timer_t deadline;
        (void)uv_timer_init(loop, &deadline);
        deadline.data = &expired;
        if (timeout_ms)
                (void)uv_timer_start(&deadline, on_deadline, timeout_ms, 0);
        while (!pred(arg) && !expired)
                (void)uv_run(loop, UV_RUN_ONCE);
        uv_close((uv_handle_t *)&deadline, NULL);
        (void)uv_run(loop, UV_RUN_NOWAIT); /* the timer lives on this stack: complete its close */
        return pred(arg);
}

static void close_walk(uv_handle_t *h, void *userdata)
{
        if (!uv_is_closing(h))
                uv_close(h, NULL);
}

void bench_loop_close(uv_loop_t *loop)
{
        (void)uv_run(loop, UV_RUN_DEFAULT);
        uv_walk(loop, close_walk, NULL);
        (void)uv_run(loop, UV_RUN_DEFAULT);
        (void)uv_loop_close(loop);
}

static bool is_ready(void *arg)
{
        return grpc_conn_get_state(arg) == GRPC_CONN_READY;
}

int bench_conn_open(uv_loop_t *loop, const char *address, uint64_t timeout_ms, GrpcConn **ret)
{
        GrpcConnOptions o = {.address = address, .default_timeout_ms = 60000};
        GrpcConn *conn = NULL;
        int r = grpc_conn_new(loop, &o, &conn);
        if (r < 0)
                return r;
        if (!bench_run_until(loop, is_ready, conn, timeout_ms)) {
                grpc_conn_close(conn);
                return -ETIMEDOUT;
        }
        *ret = conn;
        return 0;
}

static int read_all(const char *path, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return negative_errno();
        char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read(fd, buf, (size_t)st.st_size);
        if (n < 0) {
                free(buf);
                return negative_errno();
        }
        buf[n] = '\0';
        *ret = buf;
        *ret_len = (size_t)n;
        return 0;
}

int bench_cell_load(const char *path, const ResourceId *id, Document **ret, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_all(path, &buf, &len);
        if (r < 0)
                return r;
        _cleanup_(diag_done) Diag diag = DIAG_INIT;
        Document *doc = NULL;
        r = document_parse_one(buf, len, path, KIND_CELL, 0, &doc, &diag);
        if (r >= 0)
                r = document_apply_defaults(doc, id);
        if (r < 0) {
                if (ret_error && diag_is_set(&diag))
                        *ret_error = diag_format(&diag);
                document_free(doc);
                return r;
        }
        *ret = doc;
        return 0;
}

void bench_container_id(const ResourceId *cell, const CellSpec *spec, const ContainerSpec *c,
                        char ret[static 77])
{
        containerd_container_id(cell, c->id, c == cell_root_container(spec), ret);
}

int bench_container_digest(const ContainerSpec *c, char ret[static 72])
{
        json_t *j = schema_to_json(&container_spec_schema, c, SCHEMA_JSON_CANONICAL);
        if (!j)
                return -ENOMEM;
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text)
                return -ENOMEM;
        int r = sha256_digest_string(text, strlen(text), ret);
        free(text);
        return r;
}

void bench_cell_id(const char *realm, const char *space, const char *stack, const char *name,
                   ResourceId *ret)
{
        *ret = (ResourceId){.kind = KIND_CELL};
        snprintf(ret->realm, sizeof(ret->realm), "%s", realm);
        snprintf(ret->space, sizeof(ret->space), "%s", space);
        snprintf(ret->stack, sizeof(ret->stack), "%s", stack);
        snprintf(ret->cell, sizeof(ret->cell), "%s", name);
        snprintf(ret->name, sizeof(ret->name), "%s", name);
}
