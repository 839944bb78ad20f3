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

/* AES-256-CBC fetched once from the default provider: EVP_aes_256_cbc() would make every
 * EncryptInit/DecryptInit look the implementation up again (OpenSSL 3's implicit fetch: a name
 * lookup under a lock per ticket). */
static pthread_once_t cipher_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *ticket_cipher;

static void fetch_cipher(void)
{
    ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
}

static const EVP_CIPHER *cipher(void)
{
    pthread_once(&cipher_once, fetch_cipher);
    return ticket_cipher ? ticket_cipher : EVP_aes_256_cbc();
}

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
        /* TLS 1.3: a resumption gets a fresh ticket (RFC 8446 C.4: a client should use a ticket
         * once; OpenSSL's client keeps only the session it resumed with, which then no longer
         * resumes). Without it a client that reconnects in a loop does a full handshake every
         * other time: measured with wrk, half the handshakes resumed instead of 97%. TLS 1.2
         * clients reuse their ticket: no new one. */
        rc = SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
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
        if (EVP_EncryptInit_ex(cctx, cipher(), NULL, k.aes, iv) != 1)
            return -1;
    } else if (EVP_DecryptInit_ex(cctx, cipher(), NULL, k.aes, iv) != 1) {
        return -1;
    }
    if (set_hmac(hctx, k.hmac) != 1)
        return -1;
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}
