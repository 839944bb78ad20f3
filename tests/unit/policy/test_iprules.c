/*
 * Unit tests for src/policy/iprules.c: compiling "ip_rules" (a service inherits the gateway's
 * lists key by key, false drops one, "ip_rules": false drops all, rules inherit the service's)
 * and the decision (deny wins over allow, an allow list refuses everything else, an unknown
 * address passes only where no allow list applies, IPv4-mapped clients and entries).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config/config.h"
#include "control/snapshot-t.h"
#include "net/addr.h"
#include "policy/iprules.h"
#include "policy/policy.h"

struct built {
    struct gw_config *cfg;
    struct gw_snapshot snap;
    struct gw_policy policy;
};

static struct built *build(const char *text)
{
    struct built *b = calloc(1, sizeof *b);
    struct gw_config_errors errs;
    assert_non_null(b);
    int rc = gw_config_load_string("t.json", text, strlen(text), &b->cfg, &errs);
    if (rc != 0) {
        gw_config_errors_print(&errs, stderr);
        fail_msg("config does not load");
    }
    gw_config_errors_free(&errs);
    b->snap.cfg = b->cfg;
    b->snap.nservices = b->cfg->nservices;
    b->policy.cfg = b->cfg;
    assert_int_equal(gw_iprules_build(&b->policy, &b->snap), 0);
    return b;
}

static void built_free(struct built *b)
{
    gw_iprules_free(b->policy.iprules);
    gw_config_free(b->cfg);
    free(b);
}

static const struct gw_iprules_svc *svc(const struct built *b, size_t i)
{
    assert_true(i < b->policy.iprules->nsvc);
    return &b->policy.iprules->svc[i];
}

static bool allows(const struct gw_iprules_lists *l, const char *ip)
{
    int family;
    uint8_t a[16];
    if (!gw_addr_parse(ip, strlen(ip), &family, a))
        fail_msg("not an address: %s", ip);
    return gw_iprules_allows(l, true, family, a);
}

#define S(name, prefix, extra)                                                                     \
    "{\"name\": \"" name "\", \"prefix\": \"" prefix "\", \"targets\": [\"http://h:1\"]" extra "}"

static void test_decisions(void **state)
{
    (void)state;
    struct built *b = build("{\"ip_rules\": {\"allow\": [\"10.0.0.0/8\", \"2001:db8::/32\"], "
                            "\"deny\": [\"10.6.6.0/24\", \"::ffff:10.7.0.0/112\"]},"
                            "\"services\": [" S("a", "/a", "") "]}");
    const struct gw_iprules_lists *l = &svc(b, 0)->base;
    assert_true(svc(b, 0)->any);
    assert_true(allows(l, "10.1.2.3"));
    assert_true(allows(l, "::ffff:10.1.2.3")); /* a mapped client is IPv4 */
    assert_false(allows(l, "10.6.6.6"));       /* deny wins over allow */
    assert_false(allows(l, "10.7.0.1"));       /* a mapped entry is IPv4 */
    assert_false(allows(l, "192.0.2.1"));      /* outside the allow list */
    assert_true(allows(l, "2001:db8::5"));
    assert_false(allows(l, "2001:db9::5"));
    /* an address that is not one: refused under an allow list, else let through */
    assert_false(gw_iprules_allows(l, false, 0, NULL));
    struct gw_iprules_lists deny_only = {NULL, l->deny};
    assert_true(gw_iprules_allows(&deny_only, false, 0, NULL));
    assert_false(allows(&deny_only, "10.6.6.1"));
    assert_true(allows(&deny_only, "192.0.2.1"));
    struct gw_iprules_lists none = {NULL, NULL};
    assert_true(allows(&none, "10.6.6.1"));
    built_free(b);
}

static void test_inheritance(void **state)
{
    (void)state;
    struct built *b = build(
        "{\"ip_rules\": {\"allow\": \"10.0.0.0/8\", \"deny\": \"10.6.6.6\"},"
        "\"services\": [" S("inherits", "/a", "") "," S("own-allow", "/b", ", \"ip_rules\": {\"allow\": \"192.0.2.0/24\"}") "," S(
            "drops-allow", "/c",
            ", \"ip_rules\": {\"allow\": false}") "," S("off", "/d",
                                                        ", \"ip_rules\": false") "," S("rules",
                                                                                       "/e",
                                                                                       ", "
                                                                                       "\"ip_"
                                                                                       "rules\": "
                                                                                       "{\"deny\": "
                                                                                       "false, "
                                                                                       "\"rules\": "
                                                                                       "["
                                                                                       "{\"match\":"
                                                                                       " {"
                                                                                       "\"prefix\":"
                                                                                       " \"/e/"
                                                                                       "open\"}, "
                                                                                       "\"allow\": "
                                                                                       "false},"
                                                                                       "{\"match\":"
                                                                                       " {"
                                                                                       "\"prefix\":"
                                                                                       " \"/e/"
                                                                                       "closed\"}, "
                                                                                       "\"deny\": "
                                                                                       "\"0.0.0.0/"
                                                                                       "0\"}]}") "]"
                                                                                                 "}");
    const struct gw_iprules_lists *gw = &svc(b, 0)->base;
    assert_false(allows(gw, "10.6.6.6"));
    assert_true(allows(gw, "10.6.6.7"));
    assert_false(allows(gw, "192.0.2.1"));

    const struct gw_iprules_lists *own = &svc(b, 1)->base;
    assert_ptr_equal(own->deny, gw->deny); /* the gateway's deny list, shared */
    assert_true(allows(own, "192.0.2.1"));
    assert_false(allows(own, "10.1.1.1"));

    const struct gw_iprules_lists *drops = &svc(b, 2)->base;
    assert_null(drops->allow);
    assert_true(allows(drops, "192.0.2.1"));
    assert_false(allows(drops, "10.6.6.6"));

    assert_false(svc(b, 3)->any);
    assert_null(svc(b, 3)->base.allow);
    assert_null(svc(b, 3)->base.deny);

    const struct gw_iprules_svc *r = svc(b, 4);
    assert_true(r->any);
    assert_int_equal(r->nrules, 2);
    assert_true(allows(&r->base, "10.6.6.6")); /* its deny: false */
    assert_false(allows(&r->base, "192.0.2.1"));
    assert_null(r->rules[0].lists.allow);
    assert_null(r->rules[0].lists.deny); /* inherits the service's: none */
    assert_true(allows(&r->rules[0].lists, "192.0.2.1"));
    assert_ptr_equal(r->rules[1].lists.allow, gw->allow);
    assert_false(allows(&r->rules[1].lists, "10.1.1.1"));
    /* four lists built: the gateway's two, own-allow's, the closed rule's deny */
    assert_int_equal(b->policy.iprules->nsets, 4);
    built_free(b);

    b = build("{\"services\": [" S("a", "/a", "") "]}");
    assert_false(svc(b, 0)->any);
    built_free(b);
}

/* 10,000 entries: a decision must not walk them (net/addr.c bisects; the bench shows it). */
static void test_large_list(void **state)
{
    (void)state;
    size_t cap = 400000, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "{\"ip_rules\": {\"deny\": [");
    for (unsigned i = 0; i < 10000; i++)
        n += (size_t)snprintf(text + n, cap - n, "%s\"10.%u.%u.0/24\"", i ? ", " : "",
                              (i >> 8) & 255, i & 255);
    n += (size_t)snprintf(text + n, cap - n, "]}, \"services\": [" S("a", "/a", "") "]}");
    assert_true(n < cap);
    struct built *b = build(text);
    const struct gw_iprules_lists *l = &svc(b, 0)->base;
    assert_false(allows(l, "10.0.0.1"));
    assert_false(allows(l, "10.39.15.255")); /* entry 9999 */
    assert_true(allows(l, "10.39.16.0"));
    assert_true(allows(l, "11.0.0.0"));
    assert_int_equal(gw_cidr_set_ranges(l->deny, AF_INET), 1); /* adjacent /24s merge */
    built_free(b);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_large_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
