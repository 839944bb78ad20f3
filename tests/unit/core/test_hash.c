/*
 * Unit tests for src/core/hash.h: FNV-1a 64 against the test vectors of the FNV reference
 * code (test_fnv.c of Landon Curt Noll's fnv package), the running state equal to the whole
 * hash, the string form, murmur3's fmix64 and the seeded hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"

static const struct {
    const char *in;
    size_t len;
    uint64_t fnv1a64;
} vectors[] = {
    {"", 0, UINT64_C(0xcbf29ce484222325)},
    {"a", 1, UINT64_C(0xaf63dc4c8601ec8c)},
    {"b", 1, UINT64_C(0xaf63df4c8601f1a5)},
    {"foobar", 6, UINT64_C(0x85944171f73967e8)},
    {"chongo was here!\n", 17, UINT64_C(0x46810940eff5f915)},
    {"\xff\x00\x00\x01", 4, UINT64_C(0x6961196491cc682d)},
};

#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void test_constants(void **state)
{
    (void)state;
    /* The offset basis in decimal, as the FNV page gives it: all twenty digits. */
    assert_true(GW_FNV1A64_OFFSET == UINT64_C(14695981039346656037));
    assert_true(GW_FNV1A64_PRIME == UINT64_C(1099511628211));
}

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVECTORS; i++)
        assert_true(gw_fnv1a64(vectors[i].in, vectors[i].len) == vectors[i].fnv1a64);
}

static void test_string_form(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVECTORS; i++) {
        if (memchr(vectors[i].in, '\0', vectors[i].len) != NULL)
            continue;
        assert_true(gw_fnv1a64_str(vectors[i].in) == vectors[i].fnv1a64);
    }
}

/* Folding byte by byte, or in pieces, gives the hash of every prefix on the way. */
static void test_running_state(void **state)
{
    (void)state;
    const char *s = "chongo was here!\n";
    size_t n = strlen(s);
    uint64_t h = GW_FNV1A64_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h = gw_fnv1a64_step(h, (unsigned char)s[i]);
        assert_true(h == gw_fnv1a64(s, i + 1));
    }
    for (size_t cut = 0; cut <= n; cut++) {
        uint64_t a = gw_fnv1a64_update(GW_FNV1A64_OFFSET, s, cut);
        assert_true(gw_fnv1a64_update(a, s + cut, n - cut) == h);
    }
}

static void test_mix64(void **state)
{
    (void)state;
    assert_true(gw_hash_mix64(0) == 0);
    assert_true(gw_hash_mix64(1) == UINT64_C(0xb456bcfc34c2cb2c));
    assert_true(gw_hash_mix64(GW_FNV1A64_OFFSET) == UINT64_C(0xefd01f60ba992926));
    /* Neighbouring inputs land far apart: about half the bits differ. */
    for (uint64_t x = 1; x < 1000; x++) {
        int diff = __builtin_popcountll(gw_hash_mix64(x) ^ gw_hash_mix64(x + 1));
        assert_true(diff >= 12 && diff <= 52);
    }
}

static void test_seeded(void **state)
{
    (void)state;
    const char *k = "ip:10.0.0.1";
    uint64_t seed = UINT64_C(0x0123456789abcdef);
    assert_true(gw_hash_seeded(seed, k, strlen(k)) == UINT64_C(0x0410b1ec587c2fe6));
    assert_true(gw_hash_seeded(0, k, strlen(k)) == gw_hash_mix64(gw_fnv1a64(k, strlen(k))));
    assert_true(gw_hash_seeded(seed, k, strlen(k)) != gw_hash_seeded(seed + 1, k, strlen(k)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),   cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_string_form), cmocka_unit_test(test_running_state),
        cmocka_unit_test(test_mix64),       cmocka_unit_test(test_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
