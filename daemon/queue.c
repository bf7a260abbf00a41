/* The dirty queue: class lists by direction and depth. */
#include <assert.h>

#include "daemon/queue.h"

void dirty_queue_init(DirtyQueue *q, size_t max_running)
{
        *q = (DirtyQueue){.max_running = max_running ? max_running : 1};
        for (int c = 0; c < 2; c++)
                for (int d = 0; d < QUEUE_DEPTHS; d++)
                        q->heads[c][d].prev = q->heads[c][d].next = &q->heads[c][d];
}

static QueueItem *head_of(DirtyQueue *q, const QueueItem *it)
{
        unsigned depth = it->depth < QUEUE_DEPTHS ? it->depth : QUEUE_DEPTHS - 1;
        return &q->heads[it->is_delete ? 0 : 1][depth];
}

static void unlink_item(DirtyQueue *q, QueueItem *it)
{
        it->prev->next = it->next;
        it->next->prev = it->prev;
        it->prev = it->next = NULL;
        it->is_queued = false;
        q->n_queued--;
}

static void append_item(DirtyQueue *q, QueueItem *it)
{
        QueueItem *h = head_of(q, it);
        it->prev = h->prev;
        it->next = h;
        h->prev->next = it;
        h->prev = it;
        it->is_queued = true;
        q->n_queued++;
}

void dirty_queue_mark(DirtyQueue *q, QueueItem *it, unsigned depth, bool is_delete)
{
        bool moved = it->depth != depth || it->is_delete != is_delete;
        if (it->is_queued && moved)
                unlink_item(q, it);
        it->depth = depth;
        it->is_delete = is_delete;
        if (it->is_running)
                it->is_marked = true;
        else if (!it->is_queued)
                append_item(q, it);
}

QueueItem *dirty_queue_pop(DirtyQueue *q)
{
        if (q->n_running >= q->max_running || q->n_queued == 0)
                return NULL;
        for (int d = QUEUE_DEPTHS - 1; d >= 0; d--) /* deletions: children first */
                if (q->heads[0][d].next != &q->heads[0][d]) {
                        QueueItem *it = q->heads[0][d].next;
                        unlink_item(q, it);
                        it->is_running = true;
                        q->n_running++;
                        return it;
                }
        for (int d = 0; d < QUEUE_DEPTHS; d++) /* creations: parents first */
                if (q->heads[1][d].next != &q->heads[1][d]) {
                        QueueItem *it = q->heads[1][d].next;
                        unlink_item(q, it);
                        it->is_running = true;
                        q->n_running++;
                        return it;
                }
        return NULL;
}

bool dirty_queue_done(DirtyQueue *q, QueueItem *it)
{
        assert(it->is_running);
        it->is_running = false;
        q->n_running--;
        if (!it->is_marked)
                return false;
        it->is_marked = false;
        append_item(q, it);
        return true;
}

void dirty_queue_remove(DirtyQueue *q, QueueItem *it)
{
        assert(!it->is_running);
        if (it->is_queued)
                unlink_item(q, it);
        it->is_marked = false;
}

bool dirty_queue_is_idle(const DirtyQueue *q)
{
        return q->n_queued == 0 && q->n_running == 0;
}
