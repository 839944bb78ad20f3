/*
 * Unit tests for "rate_limit.trusted_proxies" (src/config/config_ratelimit.c): addresses and
 * CIDR blocks are normalised to their network, and each malformed one is an error at its
 * position.
 */
#include "policy_test.h"

static void assert_cidr(const struct gw_cidr *c, int family, const char *addr, unsigned bits)
{
    uint8_t want[16] = {0};
    assert_int_equal(inet_pton(family, addr, want), 1);
    assert_int_equal(c->family, family);
    assert_int_equal(c->bits, bits);
    assert_memory_equal(c->addr, want, sizeof want);
}

static void test_trusted_proxies(void **state)
{
    (void)state;
    struct gw_config *cfg = load_ok(
        RL("\"trusted_proxies\": [\"10.1.2.3/8\", \"192.0.2.7\", \"::1\", \"fd12:3456::1/8\", "
           "\"2001:db8:aaaa::1234/32\", \"192.168.1.255/23\", \"0.0.0.0/0\", \"172.16.9.9/12\", "
           "\"10.0.0.1/32\", \"::/0\", \"2001:db8::1/127\"]"));
    const struct gw_cidr *t = cfg->rate_limit.trusted;
    assert_int_equal(cfg->rate_limit.ntrusted, 11);
    assert_cidr(&t[0], AF_INET, "10.0.0.0", 8); /* masks are normalised */
    assert_cidr(&t[1], AF_INET, "192.0.2.7", 32);
    assert_cidr(&t[2], AF_INET6, "::1", 128);
    assert_cidr(&t[3], AF_INET6, "fd00::", 8);
    assert_cidr(&t[4], AF_INET6, "2001:db8::", 32);
    assert_cidr(&t[5], AF_INET, "192.168.0.0", 23);
    assert_cidr(&t[6], AF_INET, "0.0.0.0", 0);
    assert_cidr(&t[7], AF_INET, "172.16.0.0", 12);
    assert_cidr(&t[8], AF_INET, "10.0.0.1", 32);
    assert_cidr(&t[9], AF_INET6, "::", 0);
    assert_cidr(&t[10], AF_INET6, "2001:db8::", 127);
    gw_config_free(cfg);

    cfg = load_ok(RL("\"trusted_proxies\": \"10.9.8.7/16\""));
    assert_int_equal(cfg->rate_limit.ntrusted, 1);
    assert_cidr(&cfg->rate_limit.trusted[0], AF_INET, "10.9.0.0", 16);
    gw_config_free(cfg);

    cfg = load_ok(RL("\"trusted_proxies\": []"));
    assert_int_equal(cfg->rate_limit.ntrusted, 0);
    gw_config_free(cfg);

    expect_list(
        RL("\"trusted_proxies\": [\"10.0.0.0/8\", \"10.0.0.0/33\", \"fe80::1%eth0\", \"1.2.3.4/\", "
           "\"1.2.3.4/x\", 7, \"::/129\", \"/8\", \"1.2.3.4/0008\", \"example.com\", \"\", "
           "\"1.2.3.4/-1\"]"),
        (const struct at_msg[]){
            {"\"10.0.0.0/33\"", "rate_limit.trusted_proxies[1]: \"10.0.0.0/33\" has a prefix "
                                "length longer than the address" PROXY_EXAMPLES},
            {"\"fe80::1%eth0\"", "rate_limit.trusted_proxies[2]: \"fe80::1%eth0\" is not an IP "
                                 "address or CIDR block" PROXY_EXAMPLES},
            {"\"1.2.3.4/\"", "rate_limit.trusted_proxies[3]: \"1.2.3.4/\" has an invalid prefix "
                             "length" PROXY_EXAMPLES},
            {"\"1.2.3.4/x\"", "rate_limit.trusted_proxies[4]: \"1.2.3.4/x\" has an invalid "
                              "prefix length" PROXY_EXAMPLES},
            {"7,", "rate_limit.trusted_proxies[5]: expected a string, got an integer"},
            {"\"::/129\"", "rate_limit.trusted_proxies[6]: \"::/129\" has a prefix length "
                           "longer than the address" PROXY_EXAMPLES},
            {"\"/8\"", "rate_limit.trusted_proxies[7]: \"/8\" is not an IP address or CIDR "
                       "block" PROXY_EXAMPLES},
            {"\"1.2.3.4/0008\"", "rate_limit.trusted_proxies[8]: \"1.2.3.4/0008\" has an "
                                 "invalid prefix length" PROXY_EXAMPLES},
            {"\"example.com\"", "rate_limit.trusted_proxies[9]: \"example.com\" is not an IP "
                                "address or CIDR block" PROXY_EXAMPLES},
            {"\"\",", "rate_limit.trusted_proxies[10]: \"\" is not an IP address or CIDR "
                      "block" PROXY_EXAMPLES},
            {"\"1.2.3.4/-1\"", "rate_limit.trusted_proxies[11]: \"1.2.3.4/-1\" has an invalid "
                               "prefix length" PROXY_EXAMPLES},
        },
        11);
    expect_one(RL("\"trusted_proxies\": \"10.0.0.0/99\""), "\"10.0.0.0/99\"",
               "rate_limit.trusted_proxies: \"10.0.0.0/99\" has a prefix length longer than the "
               "address" PROXY_EXAMPLES);
    expect_one(RL("\"trusted_proxies\": {}"), "{}",
               "rate_limit.trusted_proxies: expected a string or an array of strings, got an "
               "object");
}

int main(void)
{
    unsetenv("GATEWAY_PORT");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trusted_proxies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
