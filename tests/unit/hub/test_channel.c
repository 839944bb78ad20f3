/* Unit tests for src/hub/channel.c: channel names, client ids, access patterns, roles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hub/channel.h"

static bool ch_ok(const char *s)
{
    return gw_hub_channel_valid(s, strlen(s));
}

static void test_names(void **unused)
{
    (void)unused;
    assert_true(ch_ok("news"));
    assert_true(ch_ok("org:42/room.general_1@eu-west"));
    assert_false(ch_ok(""));
    assert_false(ch_ok("a b"));
    assert_false(ch_ok("a\"b"));
    assert_false(ch_ok("a\\b"));
    assert_false(ch_ok("a\nb"));
    assert_false(ch_ok("news*"));
    char big[200];
    memset(big, 'a', sizeof big);
    assert_true(gw_hub_channel_valid(big, 128));
    assert_false(gw_hub_channel_valid(big, 129));
    assert_true(gw_hub_client_id_valid(big, 64));
    assert_false(gw_hub_client_id_valid(big, 65));
    /* a NUL inside is not a name character */
    assert_false(gw_hub_channel_valid("a\0b", 3));
}

static void test_pattern_check(void **unused)
{
    (void)unused;
    const char *why = NULL;
    assert_int_equal(gw_hub_pattern_check("news", &why), 0);
    assert_int_equal(gw_hub_pattern_check("room.*", &why), 0);
    assert_int_equal(gw_hub_pattern_check("user.{client_id}.*", &why), 0);
    assert_int_equal(gw_hub_pattern_check("*", &why), 0);
    assert_int_equal(gw_hub_pattern_check("", &why), -1);
    assert_int_equal(gw_hub_pattern_check("a b", &why), -1);
    assert_int_equal(gw_hub_pattern_check("x.{id}", &why), -1);
    assert_non_null(strstr(why, "{client_id}"));
    assert_int_equal(gw_hub_pattern_check("x.{client_id", &why), -1);
}

static bool m(const char *pat, const char *ch, const char *id)
{
    return gw_hub_pattern_match(pat, ch, strlen(ch), id);
}

static void test_pattern_match(void **unused)
{
    (void)unused;
    assert_true(m("news", "news", "a"));
    assert_false(m("news", "news2", "a"));
    assert_false(m("news", "new", "a"));
    assert_true(m("room.*", "room.", "a"));
    assert_true(m("room.*", "room.general", "a"));
    assert_false(m("room.*", "rooms", "a"));
    assert_true(m("*", "anything", "a"));
    assert_true(m("*.log", "a.b.log", "a"));
    assert_false(m("*.log", "a.b.logs", "a"));
    assert_true(m("a*b*c", "aXXbYYc", "a"));
    assert_false(m("a*b*c", "aXXbYY", "a"));
    assert_true(m("user.{client_id}", "user.alice", "alice"));
    assert_false(m("user.{client_id}", "user.bob", "alice"));
    assert_false(m("user.{client_id}", "user.alice2", "alice"));
    assert_false(m("user.{client_id}", "user.", "alice"));
    assert_true(m("user.{client_id}.*", "user.alice.inbox", "alice"));
    assert_false(m("user.{client_id}", "user.alice", NULL));
    /* the placeholder matches the id only, never a '{' in a name */
    assert_false(m("{client_id}", "{client_id}", "x"));
    /* backtracking stays bounded on a long mismatch */
    char name[129];
    memset(name, 'a', 128);
    name[128] = '\0';
    assert_false(m("*a*a*a*a*a*a*a*a*b", name, "x"));
}

static void test_roles(void **unused)
{
    (void)unused;
    char *any[] = {"*"};
    char *editors[] = {"editor", "admin"};
    assert_true(gw_hub_roles_allow(any, 1, NULL));
    assert_true(gw_hub_roles_allow(editors, 2, "viewer admin"));
    assert_true(gw_hub_roles_allow(editors, 2, "editor"));
    assert_false(gw_hub_roles_allow(editors, 2, "editors admins"));
    assert_false(gw_hub_roles_allow(editors, 2, "edit"));
    assert_false(gw_hub_roles_allow(editors, 2, NULL));
    assert_false(gw_hub_roles_allow(editors, 2, ""));
    assert_false(gw_hub_roles_allow(NULL, 0, "admin"));
    assert_true(gw_hub_roles_allow(editors, 2, "  admin  "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_pattern_check),
        cmocka_unit_test(test_pattern_match),
        cmocka_unit_test(test_roles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
