/*
 * API keys: the "sha256:<hex>" form kept in the configuration, and the table that maps a
 * presented key to its consumer.
 *
 * The configuration never holds a key, only its SHA-256 (`gantry hash-key` prints it). An
 * API key is a long random secret, so an unsalted fast hash is enough: nobody can search its
 * space, and a leaked configuration gives no key that the gateway would accept.
 *
 * The table is built once (new, add...), then immutable: worker threads share it without
 * locks. A lookup hashes the presented key, finds the one candidate by the digest and confirms
 * it with CRYPTO_memcmp over all 32 bytes, so its timing does not depend on how many leading
 * bytes of a stored digest the presented key's digest shares.
 */
#ifndef GW_POLICY_APIKEY_H
#define GW_POLICY_APIKEY_H

#include <stddef.h>
#include <stdint.h>

/* Longest key accepted, in bytes; longer (and empty) keys never match. */
#define GW_APIKEY_MAX_LEN 4096

#define GW_APIKEY_DIGEST_LEN 32

/* Size of the buffer gw_apikey_hash writes: "sha256:" + 64 hex digits + NUL. */
#define GW_APIKEY_HASH_SIZE 72

struct gw_apikey_table;

/*
 * Writes "sha256:<64 lowercase hex digits>" and a NUL for key[0..len) into out. Returns 0, or
 * GW_EINVAL when len is 0 or over GW_APIKEY_MAX_LEN (such a key could never be presented).
 */
int gw_apikey_hash(const void *key, size_t len, char out[GW_APIKEY_HASH_SIZE]);

/*
 * Parses "sha256:" followed by exactly 64 hex digits (either case) into digest. Returns 0 or
 * GW_EINVAL for anything else (other prefix, length, character); digest is unspecified then.
 */
int gw_apikey_parse_hash(const char *s, uint8_t digest[GW_APIKEY_DIGEST_LEN]);

/* Creates an empty table for at most n keys (n >= 1). Returns 0, GW_EINVAL or GW_ENOMEM. */
int gw_apikey_table_new(struct gw_apikey_table **out, size_t n);

/*
 * Adds a key by its digest, mapped to consumer_index. Returns 0, or GW_EINVAL when the digest
 * is already in the table or the table already holds the n keys it was created for. Only while
 * building: never concurrently with another call on the same table.
 */
int gw_apikey_table_add(struct gw_apikey_table *t, const uint8_t digest[GW_APIKEY_DIGEST_LEN],
                        uint32_t consumer_index);

/*
 * Looks up the presented key[0..len). Returns 0 and stores its consumer in *consumer_index, or
 * GW_EAPIKEY (unknown key, empty key, key over GW_APIKEY_MAX_LEN). Thread-safe once built.
 */
int gw_apikey_table_lookup(const struct gw_apikey_table *t, const void *key, size_t len,
                           uint32_t *consumer_index);

/* Number of keys in the table. */
size_t gw_apikey_table_count(const struct gw_apikey_table *t);

/* Frees the table (digests are wiped first). NULL is a no-op. */
void gw_apikey_table_free(struct gw_apikey_table *t);

#endif
