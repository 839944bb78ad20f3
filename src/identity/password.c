/* Passwords: argon2id through libsodium's crypto_pwhash_str (its own salt, and the parameters
 * in the string, so a change of opslimit/memlimit is noticed at the next login), and the
 * strength rules for a new one. */
#include "identity/internal.h"

#include <string.h>
#include <strings.h>

#include "core/error.h"

/* A small built-in list of the most common passwords (from the public top-lists that every
 * credential-stuffing tool starts with), compared without regard to ASCII case. */
static const char *const common[] = {
    "123456",      "123456789",     "12345678",
    "1234567890",  "password",      "password1",
    "password123", "qwerty",        "qwerty123",
    "qwertyuiop",  "111111",        "1234567",
    "123123",      "abc123",        "iloveyou",
    "admin",       "admin123",      "welcome",
    "welcome1",    "letmein",       "monkey",
    "dragon",      "football",      "baseball",
    "sunshine",    "princess",      "master",
    "superman",    "trustno1",      "passw0rd",
    "p@ssw0rd",    "p@ssword",      "changeme",
    "secret",      "000000",        "654321",
    "1q2w3e4r",    "1q2w3e4r5t",    "zaq12wsx",
    "asdfghjkl",   "correcthorse",  "correcthorsebatterystaple",
    "letmein123",  "administrator", "password12345",
    "1qaz2wsx",    "qazwsx",        "whatever",
    "starwars",    "hello123",      "freedom",
    "shadow",      "michael",       "jennifer",
};

/* Code points of UTF-8 text: the bytes that do not continue a sequence. */
static size_t code_points(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

const char *gw__idp_password_weak(const char *pw, size_t len, uint32_t min_length,
                                  const char *username)
{
    if (code_points(pw, len) < min_length)
        return "is too short";
    if (len > GW_IDP_PASSWORD_MAX)
        return "is too long";
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        if (strlen(common[i]) == len && strncasecmp(common[i], pw, len) == 0)
            return "is a commonly used password";
    }
    if (username && strlen(username) == len && strncasecmp(username, pw, len) == 0)
        return "must not be the username";
    return NULL;
}

int gw__idp_password_hash(const char *pw, size_t len, uint64_t ops, uint64_t mem, char *out)
{
    if (crypto_pwhash_str(out, pw, len, ops, (size_t)mem) != 0)
        return GW_ENOMEM;
    return 0;
}

bool gw__idp_password_check(const char *hash, const char *pw, size_t len, uint64_t ops,
                            uint64_t mem, bool *rehash)
{
    bool ok = crypto_pwhash_str_verify(hash, pw, len) == 0;
    *rehash = ok && crypto_pwhash_str_needs_rehash(hash, ops, (size_t)mem) != 0;
    return ok;
}
