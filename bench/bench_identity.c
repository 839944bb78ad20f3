/*
 * Built-in identity micro-benchmark (issue 17, "Must hold"): the cost of what gantry does per
 * token and per login, on one core.
 *
 *   - verification of an access token as identity issues it (HS256, EdDSA, ES256), with
 *     gw_jwt_verify and the policy gantry's JWT authentication uses: ns per token;
 *   - signing one (what login and refresh pay): ns per token;
 *   - the revocation check (two gw_revoked_has per request, jti and sid) with 0 and 100,000
 *     entries in the set: ns per request;
 *   - raw argon2id (crypto_pwhash_str) at the default cost (opslimit 2, 64 MiB): hashes/s on
 *     one thread, the bound for logins per thread-pool thread.
 *
 *   bench_identity            print the table
 *   bench_identity 0.2        seconds per cell
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include "policy/jwt.h"
#include "policy/jwt_signer.h"
#include "state/revoked.h"

static double secs = 0.5;
static volatile uintptr_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(struct gw_jwt_signer *s, const char *kid, enum gw_jwt_alg alg, const char *type,
                const char *group)
{
    EVP_PKEY *k =
        group ? EVP_PKEY_Q_keygen(NULL, NULL, type, group) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    const char *why;
    if (k == NULL || bio == NULL ||
        PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1)
        return -1;
    long n = BIO_get_mem_data(bio, &pem);
    int rc = gw_jwt_signer_pem(s, kid, alg, pem, (size_t)n, &why);
    BIO_free(bio);
    EVP_PKEY_free(k);
    return rc;
}

/* The claims identity puts in an access token. */
static const char PAYLOAD[] =
    "{\"iss\":\"https://api.example.com\",\"aud\":\"api\",\"sub\":\"1234\",\"name\":\"alice\","
    "\"iat\":1796580000,\"nbf\":1796580000,\"exp\":4102444800,\"jti\":"
    "\"6b1f0c5e2a9d4e7f8a3b2c1d0e9f8a7b\",\"sid\":\"0f1e2d3c4b5a69788796a5b4c3d2e1f0\","
    "\"roles\":[\"user\"]}";

static void row(const char *name, struct gw_jwt_signer *s)
{
    static char *roles_names[] = {"roles"};
    static char *perms_names[] = {"permissions"};
    const struct gw_jwt_policy pol = {.leeway_s = 30,
                                      .iss = "https://api.example.com",
                                      .aud = "api",
                                      .require_exp = true,
                                      .roles = {roles_names, 1},
                                      .perms = {perms_names, 1}};
    struct gw_jwt_key k;
    struct gw_jwt_claims cl;
    char *tok = NULL;
    if (gw_jwt_signer_sign(s, PAYLOAD, &tok) != 0 || gw_jwt_signer_verify_key(s, &k) != 0) {
        fprintf(stderr, "%s: cannot sign\n", name);
        exit(1);
    }
    size_t len = strlen(tok);
    unsigned long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 64; i++)
            sink += (uintptr_t)gw_jwt_verify(tok, len, &k, 1, &pol, 1796580100, &cl);
        n += 64;
    } while ((t = now()) - t0 < secs);
    double verify_ns = (t - t0) * 1e9 / (double)n;
    unsigned long m = 0;
    t0 = now();
    do {
        char *x = NULL;
        sink += (uintptr_t)gw_jwt_signer_sign_object(s, PAYLOAD, sizeof PAYLOAD - 1, &x);
        free(x);
        m++;
    } while ((t = now()) - t0 < secs);
    double sign_ns = (t - t0) * 1e9 / (double)m;
    printf("%-8s %5zu B  verify %9.0f ns (%8.0f/s)   sign %9.0f ns (%8.0f/s)\n", name, len,
           verify_ns, 1e9 / verify_ns, sign_ns, 1e9 / sign_ns);
    free(tok);
    gw_jwt_key_free(&k);
}

static void revocation(unsigned entries)
{
    gw_revoked_reset();
    for (unsigned i = 1; i <= entries; i++)
        gw_revoked_add(gw_revoked_key("x") + i * 0x9e3779b97f4a7c15ull, 4102444800);
    uint64_t jti = gw_revoked_key("6b1f0c5e2a9d4e7f8a3b2c1d0e9f8a7b");
    uint64_t sid = gw_revoked_key("0f1e2d3c4b5a69788796a5b4c3d2e1f0");
    unsigned long n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 256; i++) {
            /* what policy/auth.c's revoked() does */
            if (gw_revoked_any())
                sink += gw_revoked_has(jti, 1796580100) || gw_revoked_has(sid, 1796580100);
        }
        n += 256;
    } while ((t = now()) - t0 < secs);
    printf("revocation check, %6u entries: %6.1f ns per request\n", entries,
           (t - t0) * 1e9 / (double)n);
    gw_revoked_reset();
}

int main(int argc, char **argv)
{
    if (argc > 1)
        secs = atof(argv[1]);
    if (sodium_init() < 0)
        return 1;
    struct gw_jwt_signer hs, ed, es;
    if (gw_jwt_signer_hmac(&hs, "hs", "0123456789abcdef0123456789abcdef", 32) != 0 ||
        load(&ed, "ed", GW_JWT_EDDSA, "ED25519", NULL) != 0 ||
        load(&es, "es", GW_JWT_ES256, "EC", "P-256") != 0)
        return 1;
    row("HS256", &hs);
    row("EdDSA", &ed);
    row("ES256", &es);
    revocation(0);
    revocation(100000);
    /* argon2id at the default cost, one thread */
    char out[crypto_pwhash_STRBYTES];
    unsigned long n = 0;
    double t0 = now(), t;
    do {
        if (crypto_pwhash_str(out, "correct horse battery", 21, 2, 64ull << 20) != 0)
            return 1;
        n++;
    } while ((t = now()) - t0 < 2 * secs || n < 5);
    printf("argon2id opslimit 2, 64 MiB: %.1f hashes/s on one thread (%.1f ms each)\n",
           (double)n / (t - t0), (t - t0) * 1e3 / (double)n);
    gw_jwt_signer_free(&hs);
    gw_jwt_signer_free(&ed);
    gw_jwt_signer_free(&es);
    return 0;
}
