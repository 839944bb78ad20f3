/*
 * Unit tests for src/policy/apikey.c: the sha256:<hex> form (known SHA-256 vectors), parsing
 * it strictly, and the digest table (lookups, duplicates, capacity, length limits, digests that
 * differ only in their last byte, lookups from several threads at once).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/apikey.h"

/* FIPS 180-2 / NIST example vectors. */
#define SHA_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"

static void digest_of(const char *key, size_t len, uint8_t d[GW_APIKEY_DIGEST_LEN])
{
    char h[GW_APIKEY_HASH_SIZE];
    assert_int_equal(gw_apikey_hash(key, len, h), 0);
    assert_int_equal(gw_apikey_parse_hash(h, d), 0);
}

static void test_hash_vectors(void **unused)
{
    (void)unused;
    char h[GW_APIKEY_HASH_SIZE];
    assert_int_equal(gw_apikey_hash("abc", 3, h), 0);
    assert_string_equal(h, "sha256:" SHA_ABC);
    assert_int_equal(strlen(h), GW_APIKEY_HASH_SIZE - 1);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(gw_apikey_hash(m, strlen(m), h), 0);
    assert_string_equal(h, "sha256:" SHA_448);
    /* bytes, not strings: an embedded NUL is part of the key */
    char h2[GW_APIKEY_HASH_SIZE];
    assert_int_equal(gw_apikey_hash("abc\0d", 5, h2), 0);
    assert_string_not_equal(h2, "sha256:" SHA_ABC);
}

static void test_hash_limits(void **unused)
{
    (void)unused;
    char h[GW_APIKEY_HASH_SIZE];
    static char big[GW_APIKEY_MAX_LEN + 1];
    memset(big, 'k', sizeof(big));
    assert_int_equal(gw_apikey_hash("", 0, h), GW_EINVAL);
    assert_int_equal(gw_apikey_hash(NULL, 3, h), GW_EINVAL);
    assert_int_equal(gw_apikey_hash(big, sizeof(big), h), GW_EINVAL);
    assert_int_equal(gw_apikey_hash(big, sizeof(big) - 1, h), 0);
}

static void test_parse(void **unused)
{
    (void)unused;
    uint8_t d[GW_APIKEY_DIGEST_LEN], u[GW_APIKEY_DIGEST_LEN];
    assert_int_equal(gw_apikey_parse_hash("sha256:" SHA_ABC, d), 0);
    assert_int_equal(d[0], 0xba);
    assert_int_equal(d[31], 0xad);
    /* either case of hex digits, same digest */
    assert_int_equal(
        gw_apikey_parse_hash("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015"
                             "aD",
                             u),
        0);
    assert_memory_equal(d, u, sizeof(d));

    static const char *const bad[] = {
        "",
        "sha256:",
        SHA_ABC,                /* no prefix */
        "SHA256:" SHA_ABC,      /* the prefix is lowercase */
        "sha-256:" SHA_ABC,     /* another algorithm name */
        "sha512:" SHA_ABC,      /* another algorithm */
        " sha256:" SHA_ABC,     /* leading space */
        "sha256: " SHA_ABC,     /* space after the colon */
        "sha256:" SHA_ABC " ",  /* trailing space */
        "sha256:" SHA_ABC "\n", /* trailing newline */
        "sha256:" SHA_ABC "0",  /* 65 digits */
        "sha256:" SHA_ABC "00", /* 66 digits */
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",  /* 63 */
        "sha256:ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", /* g */
        "sha256:0x7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", /* 0x */
        "sha256:+a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gw_apikey_parse_hash(bad[i], d) != GW_EINVAL)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(gw_apikey_parse_hash(NULL, d), GW_EINVAL);
}

static void test_table_basic(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = NULL;
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    uint32_t who = 0;

    assert_int_equal(gw_apikey_table_new(&t, 0), GW_EINVAL);
    assert_int_equal(gw_apikey_table_new(&t, 3), 0);
    digest_of("alpha-key", 9, d);
    assert_int_equal(gw_apikey_table_add(t, d, 7), 0);
    /* the same digest twice, even for another consumer, is a configuration error */
    assert_int_equal(gw_apikey_table_add(t, d, 8), GW_EINVAL);
    digest_of("beta-key", 8, d);
    assert_int_equal(gw_apikey_table_add(t, d, 0), 0);
    digest_of("gamma-key", 9, d);
    assert_int_equal(gw_apikey_table_add(t, d, UINT32_MAX), 0);
    /* full: created for 3 keys */
    digest_of("delta-key", 9, d);
    assert_int_equal(gw_apikey_table_add(t, d, 3), GW_EINVAL);
    assert_int_equal(gw_apikey_table_count(t), 3);

    assert_int_equal(gw_apikey_table_lookup(t, "alpha-key", 9, &who), 0);
    assert_int_equal(who, 7);
    assert_int_equal(gw_apikey_table_lookup(t, "beta-key", 8, &who), 0);
    assert_int_equal(who, 0);
    assert_int_equal(gw_apikey_table_lookup(t, "gamma-key", 9, &who), 0);
    assert_int_equal(who, UINT32_MAX);

    who = 12345;
    assert_int_equal(gw_apikey_table_lookup(t, "delta-key", 9, &who), GW_EAPIKEY);
    assert_int_equal(gw_apikey_table_lookup(t, "alpha-ke", 8, &who), GW_EAPIKEY);
    assert_int_equal(gw_apikey_table_lookup(t, "alpha-key ", 10, &who), GW_EAPIKEY);
    assert_int_equal(gw_apikey_table_lookup(t, "ALPHA-KEY", 9, &who), GW_EAPIKEY);
    assert_int_equal(gw_apikey_table_lookup(t, "", 0, &who), GW_EAPIKEY);
    assert_int_equal(gw_apikey_table_lookup(t, NULL, 0, &who), GW_EAPIKEY);
    assert_int_equal(who, 12345); /* untouched on failure */
    gw_apikey_table_free(t);
    gw_apikey_table_free(NULL);
}

/* A configured hash (uppercase hex) matches the key it was made from. */
static void test_table_from_config_text(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = NULL;
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    uint32_t who = 0;
    assert_int_equal(gw_apikey_table_new(&t, 1), 0);
    assert_int_equal(
        gw_apikey_parse_hash("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F200"
                             "15AD",
                             d),
        0);
    assert_int_equal(gw_apikey_table_add(t, d, 42), 0);
    assert_int_equal(gw_apikey_table_lookup(t, "abc", 3, &who), 0);
    assert_int_equal(who, 42);
    gw_apikey_table_free(t);
}

static void test_length_limits(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = NULL;
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    uint32_t who = 0;
    static char big[GW_APIKEY_MAX_LEN + 1];
    memset(big, 'z', sizeof(big));

    assert_int_equal(gw_apikey_table_new(&t, 2), 0);
    digest_of(big, GW_APIKEY_MAX_LEN, d);
    assert_int_equal(gw_apikey_table_add(t, d, 1), 0);
    assert_int_equal(gw_apikey_table_lookup(t, big, GW_APIKEY_MAX_LEN, &who), 0);
    assert_int_equal(who, 1);
    assert_int_equal(gw_apikey_table_lookup(t, big, GW_APIKEY_MAX_LEN + 1, &who), GW_EAPIKEY);
    gw_apikey_table_free(t);
}

/*
 * A stored digest that equals the presented key's digest in every byte but one (the last, or
 * the first) is no match: the comparison covers all 32 bytes. The probe starts from a slot
 * chosen by the first 8 bytes, so the last-byte variant sits in the real key's probe run and
 * is really compared.
 */
static void test_near_miss_digests(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = NULL;
    uint8_t d[GW_APIKEY_DIGEST_LEN], near[GW_APIKEY_DIGEST_LEN];
    uint32_t who = 0;

    digest_of("the-real-key", 12, d);
    assert_int_equal(gw_apikey_table_new(&t, 4), 0);
    for (int i = 0; i < GW_APIKEY_DIGEST_LEN; i += GW_APIKEY_DIGEST_LEN - 1) {
        memcpy(near, d, sizeof(d));
        near[i] ^= 0x01;
        assert_int_equal(gw_apikey_table_add(t, near, (uint32_t)i), 0);
    }
    assert_int_equal(gw_apikey_table_lookup(t, "the-real-key", 12, &who), GW_EAPIKEY);
    /* now the real one too: found, and mapped to its own consumer */
    assert_int_equal(gw_apikey_table_add(t, d, 99), 0);
    assert_int_equal(gw_apikey_table_lookup(t, "the-real-key", 12, &who), 0);
    assert_int_equal(who, 99);
    gw_apikey_table_free(t);
}

#define MANY 2000

static struct gw_apikey_table *many_table(void)
{
    struct gw_apikey_table *t = NULL;
    char key[64];
    uint8_t d[GW_APIKEY_DIGEST_LEN];
    assert_int_equal(gw_apikey_table_new(&t, MANY), 0);
    for (int i = 0; i < MANY; i++) {
        int n = snprintf(key, sizeof(key), "key-%d-secret", i);
        digest_of(key, (size_t)n, d);
        assert_int_equal(gw_apikey_table_add(t, d, (uint32_t)i), 0);
    }
    return t;
}

static void test_many_keys(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = many_table();
    char key[64];
    uint32_t who;
    for (int i = 0; i < MANY; i++) {
        int n = snprintf(key, sizeof(key), "key-%d-secret", i);
        assert_int_equal(gw_apikey_table_lookup(t, key, (size_t)n, &who), 0);
        assert_int_equal(who, (uint32_t)i);
        n = snprintf(key, sizeof(key), "key-%d-secreT", i);
        assert_int_equal(gw_apikey_table_lookup(t, key, (size_t)n, &who), GW_EAPIKEY);
    }
    gw_apikey_table_free(t);
}

#define THREADS 4

struct reader {
    const struct gw_apikey_table *t;
    int id;
    int errors; /* cmocka asserts only on the main thread */
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    char key[64];
    uint32_t who;
    for (int round = 0; round < 5; round++) {
        for (int i = r->id; i < MANY; i += THREADS / 2) {
            int n = snprintf(key, sizeof(key), "key-%d-secret", i);
            if (gw_apikey_table_lookup(r->t, key, (size_t)n, &who) != 0 || who != (uint32_t)i)
                r->errors++;
            n = snprintf(key, sizeof(key), "nokey-%d", i);
            if (gw_apikey_table_lookup(r->t, key, (size_t)n, &who) != GW_EAPIKEY)
                r->errors++;
        }
    }
    return NULL;
}

/* The built table is shared by worker threads without locks. */
static void test_concurrent_lookups(void **unused)
{
    (void)unused;
    struct gw_apikey_table *t = many_table();
    pthread_t th[THREADS];
    struct reader r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct reader){.t = t, .id = i % 2, .errors = 0};
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(r[i].errors, 0);
    }
    gw_apikey_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_hash_limits),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_table_basic),
        cmocka_unit_test(test_table_from_config_text),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_near_miss_digests),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_concurrent_lookups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
