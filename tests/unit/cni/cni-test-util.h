/* Helpers of the CNI driver's tests (unit and integration): fake plugins, running an operation to its
 * end on a private loop. Everything is static inline so each test executable takes what it uses. */
#pragma once

#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <uv.h>

#include "tests/unit/testutil.h"

#include "drivers/cni/cni-internal.h"
#include "drivers/cni/cni.h"

/* Writes an executable shell script <dir>/<name>. */
static inline void fake_plugin(const char *dir, const char *name, const char *body)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        if (!f)
                fail_msg("cannot create %s: %s", path, strerror(errno));
        fprintf(f, "#!/bin/sh\n%s\n", body);
        fclose(f);
        assert_int_equal(chmod(path, 0755), 0);
}

/* What an operation's callback got. */
typedef struct OpResult {
        bool done;
        int calls;
        int r;
        char message[4096];
        char ip[CNI_IP_MAX];
        unsigned prefix;
        char gateway[CNI_IP_MAX];
        json_t *json; /* the ADD's result, owned */
} OpResult;

static inline void on_op_result(int r, const char *message, const CniResult *result, void *userdata)
{
        OpResult *o = userdata;
        o->done = true;
        o->calls++;
        o->r = r;
        snprintf(o->message, sizeof(o->message), "%s", message);
        if (result) {
                snprintf(o->ip, sizeof(o->ip), "%s", result->ip);
                snprintf(o->gateway, sizeof(o->gateway), "%s", result->gateway);
                o->prefix = result->prefix;
                o->json = json_deep_copy(result->json);
        }
}

static inline void op_result_done(OpResult *o)
{
        json_decref(o->json);
        o->json = NULL;
}

/* Runs the loop until it has nothing left, then closes it: every handle the driver used must be closed
 * by then. */
static inline void loop_drain_and_close(uv_loop_t *loop)
{
        assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(uv_loop_close(loop), 0);
}

enum { OP_ADD, OP_DEL, OP_CHECK, OP_VERSION };

/* Runs one operation on a private loop to its end and returns what its callback got. */
static inline OpResult op_run(int which, const CniRuntime *rt, const json_t *conflist,
                              const CniAttachment *att, const json_t *prev_result)
{
        uv_loop_t loop;
        assert_int_equal(uv_loop_init(&loop), 0);
        OpResult o = {0};
        int r = which == OP_ADD ? cni_exec_add(&loop, rt, conflist, att, on_op_result, &o, NULL)
                : which == OP_DEL
                        ? cni_exec_del(&loop, rt, conflist, att, prev_result, on_op_result, &o, NULL)
                : which == OP_CHECK
                        ? cni_exec_check(&loop, rt, conflist, att, prev_result, on_op_result, &o, NULL)
                        : cni_exec_version(&loop, rt, conflist, on_op_result, &o, NULL);
        assert_int_equal(r, 0);
        assert_false(o.done); /* never from inside the call */
        loop_drain_and_close(&loop);
        assert_int_equal(o.calls, 1);
        return o;
}

/* Whether process pid exists (and is no zombie of ours). */
static inline bool pid_alive(pid_t pid)
{
        char path[64], state = 0;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        int k = fscanf(f, "%*d %*s %c", &state);
        fclose(f);
        return k == 1 && state != 'Z';
}
