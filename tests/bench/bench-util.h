/* What the benchmark programs (tests/bench/floor.c, tests/bench/probe.c) share: the clock, a containerd
 * connection driven to READY, running a loop until a condition holds, and a cell manifest read the way
 * kukeond reads it. Test programs: they print and exit on their own errors in main(); these helpers
 * return -errno like the libraries they call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "drivers/containerd/ctrd.h"
#include "state/document.h"

/* CLOCK_MONOTONIC in seconds: the clock of kukeond's phase stamps, so times of two processes compare. */
double bench_now(void);

/* Opens a connection to the containerd at address and runs loop until it is READY (at most timeout_ms).
 * Returns 0 with *ret set, -ETIMEDOUT, or the error of grpc_conn_new(). */
int bench_conn_open(uv_loop_t *loop, const char *address, uint64_t timeout_ms, GrpcConn **ret);

/* Runs loop until pred(arg) holds or timeout_ms passes (0: no limit). Returns true when pred holds. */
bool bench_run_until(uv_loop_t *loop, bool (*pred)(void *arg), void *arg, uint64_t timeout_ms);

/* Runs loop until every handle is closed and closes it (the handles must be closing already). */
void bench_loop_close(uv_loop_t *loop);

/* Reads a cell manifest as kukeond does (one Cell document, defaults applied for cell id; its own name
 * is not checked against id, so one manifest serves many cells). Returns 0
 * with *ret owned by the caller, or -errno with *ret_error (may be NULL) owning the reason. */
int bench_cell_load(const char *path, const ResourceId *id, Document **ret, char **ret_error);

/* The containerd id of container c of a cell (kukeond's naming rule). */
void bench_container_id(const ResourceId *cell, const CellSpec *spec, const ContainerSpec *c,
                        char ret[static 77]);

/* "sha256:<hex>" of an effective container spec, as the label kukeond sets (kukeon.io/spec-digest). */
int bench_container_digest(const ContainerSpec *c, char ret[static 72]);

/* A cell id: realm/space/stack/name. */
void bench_cell_id(const char *realm, const char *space, const char *stack, const char *name,
                   ResourceId *ret);
