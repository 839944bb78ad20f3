/*
 * Session ticket keys: process-wide, random, rotating (see gw__tls_ticket_cb in internal.h).
 *
 * Tickets are AES-256-CBC + HMAC-SHA256 as OpenSSL's own default ticket format; what this file
 * adds is that the keys are shared by every SSL_CTX of the process (so by every worker and
 * across reloads) and that they rotate: a stolen key opens at most two periods of sessions.
 * The keys never leave memory.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "tls/internal.h"

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    time_t created;
    bool valid;
};

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key cur, prev;

/* Under keys_lock: a fresh current key when there is none or it is older than period. */
static bool rotate_locked(time_t now, uint64_t period)
{
    if (cur.valid && (uint64_t)(now - cur.created) < period)
        return true;
    struct ticket_key k = {.created = now, .valid = true};
    if (RAND_bytes(k.name, sizeof k.name) != 1 || RAND_bytes(k.aes, sizeof k.aes) != 1 ||
        RAND_bytes(k.hmac, sizeof k.hmac) != 1)
        return cur.valid;
    prev = cur;
    cur = k;
    return true;
}

static int set_hmac(EVP_MAC_CTX *hctx, unsigned char *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params);
}

int gw__tls_ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char iv[16],
                      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    uint64_t period = gw__tls_ticket_rotation_s(SSL_get_SSL_CTX(ssl));
    time_t now = time(NULL);
    struct ticket_key k;
    int rc;
    pthread_mutex_lock(&keys_lock);
    bool have = rotate_locked(now, period);
    if (enc) {
        k = cur;
        rc = have ? 1 : -1;
    } else if (cur.valid && memcmp(key_name, cur.name, 16) == 0) {
        k = cur;
        rc = 1;
    } else if (prev.valid && memcmp(key_name, prev.name, 16) == 0 &&
               (uint64_t)(now - prev.created) < 2 * period) {
        k = prev;
        rc = 2; /* accepted, and the client gets a new ticket under the current key */
    } else {
        rc = 0; /* unknown or retired key: a full handshake */
    }
    pthread_mutex_unlock(&keys_lock);
    if (rc <= 0)
        return rc;
    if (enc) {
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH < 16 ? EVP_MAX_IV_LENGTH : 16) != 1)
            return -1;
        memcpy(key_name, k.name, 16);
        if (EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            return -1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1) {
        return -1;
    }
    if (set_hmac(hctx, k.hmac) != 1)
        return -1;
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}
