/* The dirty queue: deletions deepest first, then creations shallowest first, first come first served
 * within a class, one round per item, the cap, and marks made while an item runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/queue.h"

typedef struct Item {
        QueueItem qi;
        const char *name;
} Item;

static Item *pop(DirtyQueue *q)
{
        QueueItem *it = dirty_queue_pop(q);
        return it ? (Item *)((char *)it - offsetof(Item, qi)) : NULL;
}

static void expect_pops(DirtyQueue *q, const char *const *names)
{
        for (; *names; names++) {
                Item *it = pop(q);
                if (!it)
                        fail_msg("expected %s, the queue is empty", *names);
                assert_string_equal(it->name, *names);
        }
}

static void test_order(void **state)
{
        DirtyQueue q;
        Item realm = {.name = "realm"}, space = {.name = "space"}, stack = {.name = "stack"},
             cell = {.name = "cell"}, gone_cell = {.name = "gone-cell"}, gone_space = {.name = "gone-space"},
             cell2 = {.name = "cell2"};
        dirty_queue_init(&q, 100);
        /* marked in the worst order */
        dirty_queue_mark(&q, &cell.qi, 3, false);
        dirty_queue_mark(&q, &gone_space.qi, 1, true);
        dirty_queue_mark(&q, &stack.qi, 2, false);
        dirty_queue_mark(&q, &space.qi, 1, false);
        dirty_queue_mark(&q, &gone_cell.qi, 3, true);
        dirty_queue_mark(&q, &realm.qi, 0, false);
        dirty_queue_mark(&q, &cell2.qi, 3, false);
        /* marking again keeps the place */
        dirty_queue_mark(&q, &cell.qi, 3, false);
        expect_pops(&q, (const char *const[]){"gone-cell", "gone-space", "realm", "space", "stack", "cell",
                                              "cell2", NULL});
        assert_null(pop(&q));
        assert_int_equal(q.n_running, 7);
}

static void test_class_change_moves(void **state)
{
        DirtyQueue q;
        Item a = {.name = "a"}, b = {.name = "b"}, c = {.name = "c"};
        dirty_queue_init(&q, 10);
        dirty_queue_mark(&q, &a.qi, 2, false);
        dirty_queue_mark(&q, &b.qi, 2, false);
        dirty_queue_mark(&q, &c.qi, 2, false);
        /* a's manifest went away: it is now a deletion, and deletions come first */
        dirty_queue_mark(&q, &a.qi, 2, true);
        assert_int_equal(q.n_queued, 3);
        expect_pops(&q, (const char *const[]){"a", "b", "c", NULL});
}

static void test_one_round_per_item(void **state)
{
        DirtyQueue q;
        Item a = {.name = "a"}, b = {.name = "b"};
        dirty_queue_init(&q, 10);
        dirty_queue_mark(&q, &a.qi, 0, false);
        assert_ptr_equal(pop(&q), &a);
        /* marked while running: not runnable twice, queued again when done */
        dirty_queue_mark(&q, &a.qi, 0, false);
        dirty_queue_mark(&q, &b.qi, 1, false);
        assert_ptr_equal(pop(&q), &b);
        assert_null(pop(&q));
        assert_true(dirty_queue_done(&q, &a.qi));
        assert_ptr_equal(pop(&q), &a);
        assert_false(dirty_queue_done(&q, &a.qi));
        assert_false(dirty_queue_done(&q, &b.qi));
        assert_true(dirty_queue_is_idle(&q));
}

static void test_cap(void **state)
{
        DirtyQueue q;
        Item items[6];
        dirty_queue_init(&q, 4);
        for (int i = 0; i < 6; i++) {
                items[i] = (Item){.name = "x"};
                dirty_queue_mark(&q, &items[i].qi, 3, false);
        }
        for (int i = 0; i < 4; i++)
                assert_ptr_equal(pop(&q), &items[i]);
        assert_null(pop(&q)); /* the cap */
        assert_false(dirty_queue_done(&q, &items[1].qi));
        assert_ptr_equal(pop(&q), &items[4]);
        assert_null(pop(&q));
        assert_int_equal(q.n_queued, 1);
}

static void test_remove(void **state)
{
        DirtyQueue q;
        Item a = {.name = "a"}, b = {.name = "b"};
        dirty_queue_init(&q, 4);
        dirty_queue_mark(&q, &a.qi, 1, false);
        dirty_queue_mark(&q, &b.qi, 1, false);
        dirty_queue_remove(&q, &a.qi);
        dirty_queue_remove(&q, &a.qi); /* twice is fine */
        expect_pops(&q, (const char *const[]){"b", NULL});
        assert_null(pop(&q));
        assert_false(dirty_queue_done(&q, &b.qi));
        assert_true(dirty_queue_is_idle(&q));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order),
                cmocka_unit_test(test_class_change_moves),
                cmocka_unit_test(test_one_round_per_item),
                cmocka_unit_test(test_cap),
                cmocka_unit_test(test_remove),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
