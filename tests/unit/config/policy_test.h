/*
 * What the policy-section config tests share (rate limits: test_config_ratelimit.c,
 * test_config_limits.c, test_config_trusted_proxies.c, test_config_redis.c; authentication:
 * test_config_auth_policy.c): one-line configs around a section, the rules
 * the messages quote, and the checks of several errors in one text.
 */
#ifndef GW_TEST_CONFIG_POLICY_TEST_H
#define GW_TEST_CONFIG_POLICY_TEST_H

#include "config_test.h"

#include "policy/jwt.h"
#include "state/ratelimit.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

/* One-line configs around a section. */
#define RL(fields) "{\"rate_limit\": {" fields "}}"
#define LIMIT(fields) "{\"rate_limit\": {\"limits\": [{" fields "}]}}"
#define REDIS(fields) "{\"rate_limit\": {\"redis\": {" fields "}}}"
#define AUTH(fields) "{\"auth\": {" fields "}}"
#define JWT(fields) "{\"auth\": {\"jwt\": {" fields "}}}"
#define KEYS(items) "{\"auth\": {\"jwt\": {\"keys\": [" items "]}}}"
/* A root section followed by one service with more keys. */
#define WITH_SVC(root, fields)                                                                     \
    "{" root ", \"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": "                \
    "[\"http://h:1\"], " fields "}]}"

#define S32 "0123456789abcdef0123456789abcdef" /* an HS256 secret of exactly 32 bytes */
#define S48 S32 "0123456789abcdef"
#define S64 S32 S32
#define HASH_A "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_A_UPPER "sha256:0123456789ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef"
#define HASH_B "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

#define JWT_ROOT "\"auth\": {\"jwt\": {\"keys\": [{\"alg\": \"HS256\", \"secret\": \"" S32 "\"}]}}"

#define PROXY_EXAMPLES " (expected \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\")"
#define PEM_RULES                                                                                  \
    " (RS*: RSA of 2048 bits or more, ES256: P-256, ES384: P-384, EdDSA: Ed25519 or Ed448)"
#define ALG_LIST                                                                                   \
    " (HS256, HS384, HS512, RS256, RS384, RS512, ES256, ES384, EdDSA; \"none\" is never "          \
    "accepted)"
#define HASH_RULE                                                                                  \
    "must be \"sha256:\" and 64 hex digits, as printed by `gantry hash-key KEY` (keys are never "  \
    "stored in clear)"
#define WORD_RULE                                                                                  \
    " must be 1 to 128 visible ASCII characters without spaces, commas, quotes or backslashes"
#define HEADER_RULE " is not a valid header name (letters, digits and !#$%&'*+-.^_`|~)"
#define METHOD_LIST "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH or TRACE"

/* Several errors in a one-line text: each located at the first occurrence of its `at`, given in
 * the order of their positions. */
struct at_msg {
    const char *at;
    const char *msg;
};

static inline void expect_list(const char *text, const struct at_msg *want, size_t n)
{
    char expected[8192];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strstr(text, want[i].at);
        assert_non_null(p);
        int k = snprintf(expected + o, sizeof expected - o, "t.json:1:%d: %s\n",
                         (int)(p - text) + 1, want[i].msg);
        assert_true(k > 0 && (size_t)k < sizeof expected - o);
        o += (size_t)k;
    }
    expect_errors(text, expected);
}

/* Loads text and returns its printed errors (NULL when it loaded). */
static inline char *load_errors(const char *text);

/* For one-line texts: expects the load to fail with, among its errors, this one at the first
 * occurrence of `at`. For the cases where the code also adds a consequential error (see the
 * comments at the calls). */
static inline void expect_contains(const char *text, const char *at, const char *path_and_message)
{
    const char *p = strstr(text, at);
    assert_non_null(p);
    char line[1024];
    snprintf(line, sizeof line, "t.json:1:%d: %s\n", (int)(p - text) + 1, path_and_message);
    char *got = load_errors(text);
    assert_non_null(got);
    if (strstr(got, line) == NULL)
        fail_msg("missing error:\n%sgot:\n%s", line, got);
    free(got);
}

static inline char *load_errors(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    char *got = NULL;
    if (rc == 0) {
        gw_config_free(cfg);
    } else {
        assert_int_equal(rc, GW_ECONFIG);
        got = errors_text(&errs);
    }
    gw_config_errors_free(&errs);
    return got;
}

#endif
