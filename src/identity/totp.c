/*
 * TOTP for built-in identity: HOTP values (RFC 4226, HMAC-SHA1 through OpenSSL), their check
 * over a window of time steps (RFC 6238), the secrets sealed at rest with core/seal.c under
 * identity.totp.encryption_key (the user id as associated data), and recovery codes (50 random
 * bits in base32; only their SHA-256 is stored, which their entropy makes sufficient).
 */
#include "identity/internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/base32.h"
#include "core/error.h"
#include "core/seal.h"

#define KEY_LABEL "gantry totp key id"

static const uint32_t POW10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

uint32_t gw__idp_hotp(const unsigned char *key, size_t n, uint64_t counter, unsigned digits)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    for (int i = 7; i >= 0; i--, counter >>= 8)
        msg[i] = (unsigned char)(counter & 0xff);
    if (HMAC(EVP_sha1(), key, (int)n, msg, sizeof msg, mac, &len) == NULL || len < 20)
        return UINT32_MAX; /* no code of digits digits is this */
    /* Dynamic truncation (RFC 4226 5.3): 31 bits at the offset the last nibble names. */
    unsigned off = mac[len - 1] & 0x0f;
    uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
                   ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
    if (digits > 8)
        digits = 8;
    return bin % POW10[digits];
}

bool gw__idp_totp_check(const unsigned char *key, size_t n, const char *code, int64_t now,
                        uint32_t period, uint32_t window, unsigned digits, int64_t last,
                        int64_t *step)
{
    if (strlen(code) != digits || period == 0 || now < 0)
        return false;
    int64_t t = now / period;
    bool ok = false;
    /* Every step of the window is computed and compared, whichever matches. */
    for (int64_t s = t - (int64_t)window; s <= t + (int64_t)window; s++) {
        char want[12];
        uint32_t v = s < 0 ? UINT32_MAX : gw__idp_hotp(key, n, (uint64_t)s, digits);
        if (v == UINT32_MAX)
            continue;
        snprintf(want, sizeof want, "%0*u", (int)digits, (unsigned)v);
        bool match = sodium_memcmp(want, code, digits) == 0;
        if (match && s > last && !ok) {
            ok = true;
            *step = s;
        }
    }
    return ok;
}

static void ad_of(int64_t user, char *ad, size_t cap)
{
    snprintf(ad, cap, "gantry-totp:%lld", (long long)user);
}

int gw__idp_totp_seal(const struct gw_identity_conf *ic, int64_t user, const unsigned char *secret,
                      unsigned char *box)
{
    unsigned char key[GW_SEAL_KEY_BYTES];
    char id[9], ad[40];
    if (!gw_seal_key(ic->totp_key, KEY_LABEL, key, id))
        return GW_EINVAL;
    ad_of(user, ad, sizeof ad);
    memcpy(box, id, 8);
    int rc = gw_seal(key, ad, strlen(ad), secret, GW__IDP_TOTP_SECRET, box + 8);
    sodium_memzero(key, sizeof key);
    return rc == 0 ? 0 : GW_EINVAL;
}

static int open_with(const char *hex, int64_t user, const unsigned char *box, unsigned char *secret)
{
    unsigned char key[GW_SEAL_KEY_BYTES];
    char id[9], ad[40];
    int rc = GW_EINVAL;
    if (gw_seal_key(hex, KEY_LABEL, key, id) && memcmp(id, box, 8) == 0) {
        ad_of(user, ad, sizeof ad);
        if (gw_seal_open(key, ad, strlen(ad), box + 8, GW__IDP_TOTP_BOX - 8, secret) == 0)
            rc = 0;
    }
    sodium_memzero(key, sizeof key);
    return rc;
}

int gw__idp_totp_open(const struct gw_identity_conf *ic, int64_t user, const unsigned char *box,
                      unsigned char *secret)
{
    if (open_with(ic->totp_key, user, box, secret) == 0)
        return 0;
    for (size_t i = 0; i < ic->ntotp_previous_keys; i++) {
        if (open_with(ic->totp_previous_keys[i], user, box, secret) == 0)
            return 0;
    }
    return GW_EINVAL;
}

void gw__idp_recovery_hash(const char *code, char *hash)
{
    gw__idp_refresh_hash(code, strlen(code), hash);
}

void gw__idp_recovery_new(char *code, char *hash)
{
    unsigned char b[7]; /* 56 bits, of which the first 50 become 10 characters */
    char enc[GW_BASE32_ENCODED_LEN(sizeof b) + 1];
    randombytes_buf(b, sizeof b);
    (void)gw_base32_encode(b, sizeof b, enc, sizeof enc);
    for (size_t i = 0; i < GW_IDP_RECOVERY_LEN; i++)
        code[i] = (char)(enc[i] >= 'A' && enc[i] <= 'Z' ? enc[i] - 'A' + 'a' : enc[i]);
    code[GW_IDP_RECOVERY_LEN] = '\0';
    sodium_memzero(b, sizeof b);
    gw__idp_recovery_hash(code, hash);
}
