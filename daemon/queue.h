/* The dirty queue: which resources need an observe → plan → execute round, in which order, and at most
 * one round per resource at a time under a cap on rounds in flight.
 *
 * Items are embedded in their owners (the daemon's Resource). Order: deletions first, deepest first
 * (cells before stacks before spaces before realms: children go before their parents); then creations,
 * shallowest first (parents come up before their children); first marked, first served within a class.
 * A resource marked while its round runs is queued again when the round ends, with what it was marked
 * with last. Pure: no libuv, unit-tested in tests/unit/daemon/. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define QUEUE_DEPTHS 4 /* realm, space (and image), stack, cell */

typedef struct QueueItem {
        struct QueueItem *prev, *next; /* in one class list while queued */
        unsigned depth;                /* 0 (realm) .. QUEUE_DEPTHS - 1 (cell) */
        bool is_delete;
        bool is_queued;
        bool is_running;
        bool is_marked; /* marked while running */
} QueueItem;

typedef struct DirtyQueue {
        QueueItem heads[2][QUEUE_DEPTHS]; /* [0] deletions, [1] creations: circular lists */
        size_t n_queued;
        size_t n_running;
        size_t max_running;
} DirtyQueue;

void dirty_queue_init(DirtyQueue *q, size_t max_running);

/* Marks an item dirty with its depth and direction. A queued item stays where it is unless its class
 * changed (then it moves to the end of the new class); a running one is queued when it is done. */
void dirty_queue_mark(DirtyQueue *q, QueueItem *it, unsigned depth, bool is_delete);

/* The next item to run, now marked running; NULL when nothing is queued or max_running are running. */
QueueItem *dirty_queue_pop(DirtyQueue *q);

/* The round of a running item ended. Returns true when it was marked meanwhile (it is queued again). */
bool dirty_queue_done(DirtyQueue *q, QueueItem *it);

/* Takes a queued item out (its owner goes away). Running items must be done first. */
void dirty_queue_remove(DirtyQueue *q, QueueItem *it);

/* True when nothing is queued or running. */
bool dirty_queue_is_idle(const DirtyQueue *q);
