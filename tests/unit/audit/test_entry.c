/* audit/entry.c and audit/query.c: the canonical line and its hash, the chain checker and the
 * streaming verifier, the GET /api/audit filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/internal.h"
#include "core/error.h"

static char *entry(uint64_t seq, const char *prev, char hash[65], const char *action)
{
    struct gw__audit_item it = {.action = (char *)action,
                                .object = "service:users",
                                .actor_key = "sha256:0123456789ab",
                                .actor_addr = "127.0.0.1",
                                .actor_via = "admin",
                                .before = "sha256:aa",
                                .after = "sha256:bb",
                                .detail = "{\"changed\":[\"targets\"]}",
                                .status = 200};
    size_t len = 0;
    char *line = gw__audit_format(&it, seq, "2026-12-06T19:00:00.000Z", prev, hash, &len);
    assert_non_null(line);
    assert_int_equal(strlen(line), len);
    return line;
}

static void test_format_is_canonical_and_hashed(void **state)
{
    (void)state;
    char hash[65];
    char *line = entry(1, GW__AUDIT_ZERO_HASH, hash, "service.patch");
    const char *want_prefix =
        "{\"seq\":1,\"time\":\"2026-12-06T19:00:00.000Z\",\"actor\":{\"key\":\"sha256:"
        "0123456789ab\",\"addr\":\"127.0.0.1\",\"via\":\"admin\"},\"action\":\"service.patch\","
        "\"object\":\"service:users\",\"status\":200,\"before\":\"sha256:aa\",\"after\":"
        "\"sha256:bb\",\"detail\":{\"changed\":[\"targets\"]},\"prev\":\"" GW__AUDIT_ZERO_HASH "\"";
    size_t n = strlen(want_prefix);
    assert_memory_equal(line, want_prefix, n);
    char want_hash[65];
    gw__audit_sha256_hex(want_prefix, n, want_hash);
    assert_string_equal(hash, want_hash);
    char tail[80];
    snprintf(tail, sizeof tail, ",\"hash\":\"%s\"}", hash);
    assert_string_equal(line + n, tail);
    free(line);
}

static void test_check_line(void **state)
{
    (void)state;
    char h1[65], h2[65], got[65], why[160];
    uint64_t seq = 0;
    char *l1 = entry(1, GW__AUDIT_ZERO_HASH, h1, "a");
    char *l2 = entry(2, h1, h2, "b");
    assert_true(gw_audit_check_line(l1, strlen(l1), NULL, 0, got, &seq, why, sizeof why));
    assert_string_equal(got, h1);
    assert_int_equal(seq, 1);
    assert_true(gw_audit_check_line(l2, strlen(l2), h1, 1, got, &seq, why, sizeof why));
    assert_false(gw_audit_check_line(l2, strlen(l2), h2, 1, got, &seq, why, sizeof why));
    assert_non_null(strstr(why, "chain is broken"));
    assert_false(gw_audit_check_line(l2, strlen(l2), h1, 5, got, &seq, why, sizeof why));
    assert_non_null(strstr(why, "seq 2 follows seq 5"));
    char *bad = strdup(l2);
    bad[strlen(bad) / 2] ^= 1;
    assert_false(gw_audit_check_line(bad, strlen(bad), h1, 1, got, &seq, why, sizeof why));
    assert_non_null(strstr(why, "does not match its hash"));
    assert_false(gw_audit_check_line("{}", 2, NULL, 0, got, &seq, why, sizeof why));
    assert_false(gw_audit_check_line(l2, strlen(l2) - 1, NULL, 0, got, &seq, why, sizeof why));
    free(bad);
    free(l1);
    free(l2);
}

static void test_verifier_pieces(void **state)
{
    (void)state;
    char h[4][65];
    char *lines[3];
    lines[0] =
        entry(7, "1111111111111111111111111111111111111111111111111111111111111111", h[0], "a");
    lines[1] = entry(8, h[0], h[1], "b");
    lines[2] = entry(9, h[1], h[2], "c");
    char text[4096];
    snprintf(text, sizeof text, "%s\n%s\n%s\n", lines[0], lines[1], lines[2]);
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut += 7) {
        struct gw_audit_verifier v;
        gw_audit_verifier_init(&v);
        assert_int_equal(gw_audit_verifier_feed(&v, text, cut), 0);
        assert_int_equal(gw_audit_verifier_feed(&v, text + cut, n - cut), 0);
        gw_audit_verifier_finish(&v);
        assert_int_equal(v.result.broken_line, 0);
        assert_int_equal(v.result.entries, 3);
        assert_int_equal(v.result.first_seq, 7);
        assert_int_equal(v.result.last_seq, 9);
        assert_string_equal(v.result.anchor,
                            "1111111111111111111111111111111111111111111111111111111111111111");
        assert_string_equal(v.result.last_hash, h[2]);
    }
    /* The middle line removed: line 2 breaks the chain. No newline at the end: broken too. */
    snprintf(text, sizeof text, "%s\n%s\n", lines[0], lines[2]);
    struct gw_audit_verifier v;
    gw_audit_verifier_init(&v);
    gw_audit_verifier_feed(&v, text, strlen(text));
    gw_audit_verifier_finish(&v);
    assert_int_equal(v.result.broken_line, 2);
    assert_int_equal(v.result.entries, 1);
    snprintf(text, sizeof text, "%s\n%s", lines[0], lines[1]);
    gw_audit_verifier_init(&v);
    gw_audit_verifier_feed(&v, text, strlen(text));
    gw_audit_verifier_finish(&v);
    assert_int_equal(v.result.broken_line, 2);
    assert_non_null(strstr(v.result.why, "no newline"));
    for (int i = 0; i < 3; i++)
        free(lines[i]);
}

static void test_filter_parse(void **state)
{
    (void)state;
    struct gw_audit_filter f;
    char why[200];
    const char *q = "action=service.*&actor=sha256%3Aab&object=service%3Ausers&since=2026-12-"
                    "06T19:00:00Z&until=1800000000&cursor=42&limit=7";
    assert_int_equal(gw_audit_filter_parse(q, strlen(q), &f, why, sizeof why), 0);
    assert_string_equal(f.action, "service.*");
    assert_string_equal(f.actor, "sha256:ab");
    assert_string_equal(f.object, "service:users");
    assert_string_equal(f.since, "2026-12-06T19:00:00.000Z");
    assert_string_equal(f.until, "2027-01-15T08:00:00.000Z");
    assert_int_equal(f.cursor, 42);
    assert_int_equal(f.limit, 7);
    assert_int_equal(gw_audit_filter_parse("", 0, &f, why, sizeof why), 0);
    assert_int_equal(f.limit, 100);
    assert_int_equal(gw_audit_filter_parse("since=2026-12-06T19:00:00.5Z", 28, &f, why, sizeof why),
                     0);
    assert_string_equal(f.since, "2026-12-06T19:00:00.500Z");
    static const char *const bad[] = {
        "limit=0",   "limit=1001", "cursor=-1",   "since=soon",
        "action=%4", "x=1",        "action=%00a", "until=2026-13-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gw_audit_filter_parse(bad[i], strlen(bad[i]), &f, why, sizeof why),
                         GW_EINVAL);
}

static void test_matches(void **state)
{
    (void)state;
    json_t *e = json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "time", "2026-12-06T19:00:00.000Z",
                          "action", "service.patch", "object", "service:users", "actor", "key",
                          "sha256:ab", "addr", "10.0.0.1");
    struct gw_audit_filter f;
    char why[100];
    const char *yes[] = {"",
                         "action=service.*",
                         "action=service.patch",
                         "actor=10.0.0.1",
                         "actor=sha256%3Aab",
                         "object=service%3A*",
                         "since=1765047600",
                         "until=2026-12-06T19:00:00.001Z"};
    const char *no[] = {"action=service.",
                        "action=target.*",
                        "actor=10.0.0.2",
                        "object=service:user",
                        "since=2026-12-06T19:00:00.001Z",
                        "until=2026-12-06T19:00:00Z"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        assert_int_equal(gw_audit_filter_parse(yes[i], strlen(yes[i]), &f, why, sizeof why), 0);
        assert_true(gw__audit_matches(&f, e));
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        assert_int_equal(gw_audit_filter_parse(no[i], strlen(no[i]), &f, why, sizeof why), 0);
        assert_false(gw__audit_matches(&f, e));
    }
    json_decref(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_is_canonical_and_hashed),
        cmocka_unit_test(test_check_line),
        cmocka_unit_test(test_verifier_pieces),
        cmocka_unit_test(test_filter_parse),
        cmocka_unit_test(test_matches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
