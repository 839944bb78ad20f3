/* Unit tests for src/hub/proto.c: the client messages of the hub protocol and the wire format
 * between instances, with a guard-page test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "hub/proto.h"

static int parse(const char *s, struct gw_hub_cmd *cmd)
{
    return gw_hub_cmd_parse(s, strlen(s), cmd);
}

static void test_commands(void **unused)
{
    (void)unused;
    struct gw_hub_cmd c;
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"news\",\"ref\":\"r1\"}", &c), 0);
    assert_int_equal(c.op, GW_HUB_SUBSCRIBE);
    assert_string_equal(c.channel, "news");
    assert_int_equal(c.channel_len, 4);
    assert_string_equal(c.ref, "r1");
    assert_null(c.data);
    gw_hub_cmd_clear(&c);

    assert_int_equal(parse("{\"type\":\"unsubscribe\",\"channel\":\"a.b\"}", &c), 0);
    assert_int_equal(c.op, GW_HUB_UNSUBSCRIBE);
    assert_string_equal(c.ref, "");
    gw_hub_cmd_clear(&c);

    assert_int_equal(parse("{\"type\":\"publish\",\"channel\":\"chat.x\",\"to\":\"bob\","
                           "\"data\":{\"text\": \"hi \\u00e9\", \"n\": [1, 2]}}",
                           &c),
                     0);
    assert_int_equal(c.op, GW_HUB_PUBLISH);
    assert_string_equal(c.to, "bob");
    assert_string_equal(c.data, "{\"text\":\"hi \xc3\xa9\",\"n\":[1,2]}");
    assert_int_equal(c.data_len, strlen(c.data));
    gw_hub_cmd_clear(&c);
    assert_null(c.data);

    assert_int_equal(parse("{\"type\":\"publish\",\"channel\":\"c\",\"data\":null}", &c), 0);
    assert_string_equal(c.data, "null");
    gw_hub_cmd_clear(&c);

    assert_int_equal(parse("{\"type\":\"ping\",\"ref\":\"p\"}", &c), 0);
    assert_int_equal(c.op, GW_HUB_PING);
    assert_string_equal(c.channel, "");
    gw_hub_cmd_clear(&c);
}

static void test_refusals(void **unused)
{
    (void)unused;
    struct gw_hub_cmd c;
    assert_int_equal(parse("", &c), GW_HUB_EJSON);
    assert_int_equal(parse("[1]", &c), GW_HUB_EJSON);
    assert_int_equal(parse("{\"type\":\"ping\"", &c), GW_HUB_EJSON);
    assert_int_equal(parse("{\"type\":\"ping\",\"type\":\"ping\"}", &c), GW_HUB_EJSON);
    assert_int_equal(parse("{}", &c), GW_HUB_ETYPE);
    assert_int_equal(parse("{\"type\":\"bogus\",\"ref\":\"r9\"}", &c), GW_HUB_ETYPE);
    assert_string_equal(c.ref, "r9"); /* the error event can name it */
    assert_int_equal(parse("{\"type\":3}", &c), GW_HUB_ETYPE);
    assert_int_equal(parse("{\"type\":\"subscribe\"}", &c), GW_HUB_ECHANNEL);
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"\"}", &c), GW_HUB_ECHANNEL);
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"a*\"}", &c), GW_HUB_ECHANNEL);
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":\"a\\u0000b\"}", &c),
                     GW_HUB_EJSON); /* jansson refuses a NUL in a string */
    assert_int_equal(parse("{\"type\":\"subscribe\",\"channel\":7}", &c), GW_HUB_ECHANNEL);
    assert_int_equal(parse("{\"type\":\"publish\",\"channel\":\"c\"}", &c), GW_HUB_EDATA);
    assert_int_equal(
        parse("{\"type\":\"publish\",\"channel\":\"c\",\"to\":\"a b\",\"data\":1}", &c),
        GW_HUB_EREF);
    assert_int_equal(parse("{\"type\":\"ping\",\"ref\":5}", &c), GW_HUB_EREF);
    assert_string_equal(gw_hub_perr_code(GW_HUB_EJSON), "bad_json");
    assert_string_equal(gw_hub_perr_code(GW_HUB_ETYPE), "unknown_type");
    assert_string_equal(gw_hub_perr_code(GW_HUB_ECHANNEL), "bad_channel");
    assert_string_equal(gw_hub_perr_code(GW_HUB_EDATA), "missing_data");
    assert_string_equal(gw_hub_perr_code(GW_HUB_EREF), "bad_ref");
    assert_string_equal(gw_hub_perr_code(GW_HUB_ENOMEM), "internal");
}

static void test_wire(void **unused)
{
    (void)unused;
    struct gw_hub_wire w = {.to = "bob",
                            .to_len = 3,
                            .channel = "news",
                            .channel_len = 4,
                            .event = "{\"type\":\"message\"}",
                            .event_len = 18};
    char buf[64];
    long n = gw_hub_wire_format(&w, buf, sizeof buf);
    assert_int_equal(n, 3 + 1 + 4 + 1 + 18);
    assert_memory_equal(buf, "bob\nnews\n{\"type\":\"message\"}", (size_t)n);
    assert_int_equal(gw_hub_wire_format(&w, buf, 10), -1);
    struct gw_hub_wire r;
    assert_int_equal(gw_hub_wire_parse(buf, (size_t)n, &r), 0);
    assert_int_equal(r.to_len, 3);
    assert_memory_equal(r.channel, "news", 4);
    assert_int_equal(r.event_len, 18);
    /* untargeted */
    assert_int_equal(gw_hub_wire_parse("\nnews\n{}", 8, &r), 0);
    assert_int_equal(r.to_len, 0);
    /* malformed */
    assert_int_equal(gw_hub_wire_parse("", 0, &r), -1);
    assert_int_equal(gw_hub_wire_parse("\nnews", 5, &r), -1);
    assert_int_equal(gw_hub_wire_parse("\n\n{}", 4, &r), -1);
    assert_int_equal(gw_hub_wire_parse("a b\nnews\n{}", 11, &r), -1);
    assert_int_equal(gw_hub_wire_parse("\nnews\n[]", 8, &r), -1);
    assert_int_equal(gw_hub_wire_parse("\nnews\n{", 7, &r), -1);
}

/* The message ends at a page that cannot be read: nothing may look past its end. */
static void test_guard_page(void **unused)
{
    (void)unused;
    long page = sysconf(_SC_PAGESIZE);
    char *mem =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    assert_int_equal(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
    static const char *inputs[] = {
        "{\"type\":\"publish\",\"channel\":\"c\",\"data\":[1,2,3]}",
        "{\"type\":\"subscribe\",\"channel\":\"abc",
        "\nnews\n{\"x\":1}",
        "bob\nnews",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = strlen(inputs[i]);
        char *at = mem + page - n;
        memcpy(at, inputs[i], n);
        struct gw_hub_cmd c;
        if (gw_hub_cmd_parse(at, n, &c) == 0)
            gw_hub_cmd_clear(&c);
        struct gw_hub_wire w;
        (void)gw_hub_wire_parse(at, n, &w);
    }
    munmap(mem, (size_t)page * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_wire),
        cmocka_unit_test(test_guard_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
