/* Unit tests for src/core/list.h: the intrusive circular doubly linked list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/list.h"

struct item {
    int value;
    struct gw_list link;
};

/* Asserts that the list holds exactly want[0..n), walking both directions. */
static void assert_list(const struct gw_list *head, const int *want, size_t n)
{
    size_t i = 0;
    for (const struct gw_list *it = head->next; it != head; it = it->next, i++) {
        assert_true(i < n);
        assert_ptr_equal(it->next->prev, it);
        assert_int_equal(gw_container_of(it, struct item, link)->value, want[i]);
    }
    assert_int_equal(i, n);
    for (const struct gw_list *it = head->prev; it != head; it = it->prev) {
        assert_true(i > 0);
        i--;
        assert_ptr_equal(it->prev->next, it);
        assert_int_equal(gw_container_of(it, struct item, link)->value, want[i]);
    }
    assert_int_equal(i, 0);
    assert_int_equal(gw_list_empty(head), n == 0);
}

static void test_init_is_empty(void **state)
{
    (void)state;
    struct gw_list head;
    gw_list_init(&head);
    assert_true(gw_list_empty(&head));
    assert_ptr_equal(head.next, &head);
    assert_ptr_equal(head.prev, &head);
    assert_list(&head, NULL, 0);
}

static void test_insert_head_and_tail(void **state)
{
    (void)state;
    struct gw_list head;
    struct item it[4] = {{1, {0}}, {2, {0}}, {3, {0}}, {4, {0}}};
    gw_list_init(&head);
    gw_list_insert_tail(&head, &it[1].link); /* 2 */
    gw_list_insert_tail(&head, &it[2].link); /* 2 3 */
    gw_list_insert_head(&head, &it[0].link); /* 1 2 3 */
    gw_list_insert_tail(&head, &it[3].link); /* 1 2 3 4 */
    assert_list(&head, (const int[]){1, 2, 3, 4}, 4);
}

static void test_remove_anywhere(void **state)
{
    (void)state;
    struct gw_list head;
    struct item it[5];
    gw_list_init(&head);
    for (int i = 0; i < 5; i++) {
        it[i].value = i;
        gw_list_insert_tail(&head, &it[i].link);
    }
    gw_list_remove(&it[2].link); /* middle */
    assert_list(&head, (const int[]){0, 1, 3, 4}, 4);
    /* a removed node points at itself: removing it again changes nothing */
    assert_ptr_equal(it[2].link.next, &it[2].link);
    assert_ptr_equal(it[2].link.prev, &it[2].link);
    gw_list_remove(&it[2].link);
    assert_list(&head, (const int[]){0, 1, 3, 4}, 4);
    gw_list_remove(&it[0].link); /* first */
    gw_list_remove(&it[4].link); /* last */
    assert_list(&head, (const int[]){1, 3}, 2);
    /* a removed node can go back in */
    gw_list_insert_head(&head, &it[4].link);
    assert_list(&head, (const int[]){4, 1, 3}, 3);
    /* the usual drain loop */
    while (!gw_list_empty(&head))
        gw_list_remove(head.next);
    assert_list(&head, NULL, 0);
}

static void test_container_of(void **state)
{
    (void)state;
    struct outer {
        char pad[13];
        struct gw_list a;
        double d;
        struct gw_list b;
    } o;
    assert_ptr_equal(gw_container_of(&o.a, struct outer, a), &o);
    assert_ptr_equal(gw_container_of(&o.b, struct outer, b), &o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_is_empty),
        cmocka_unit_test(test_insert_head_and_tail),
        cmocka_unit_test(test_remove_anywhere),
        cmocka_unit_test(test_container_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
