/*
 * Internals of src/registry/: shared by its files and its unit tests only.
 */
#ifndef GW_REGISTRY_INTERNAL_H
#define GW_REGISTRY_INTERNAL_H

#include "registry/registry.h"

/* registry.c: stores e (owned) in place of the registration with its id. Returns the one it
 * replaced (detached, owned by the caller), NULL when e is new, or e itself when out of memory
 * (nothing changed). */
struct gw_registration *gw__registry_swap(struct gw_registry *reg, struct gw_registration *e);

/* registry.c: the file's document given to gw_registry_set_file_doc (borrowed), or NULL. */
json_t *gw__registry_file_doc(const struct gw_registry *reg);

/* registry_put.c: "/a/b/" -> "/a/b" in place ("/" stays). */
void gw__registry_trim_prefix(char *p);

/* registry_put.c: the TTL of a request body: a number of seconds or a duration string ("30s",
 * "500ms", "5m", "1h"). True with *ms set, or false. */
bool gw__registry_parse_ttl(json_t *v, uint64_t *ms);

/* registry_token.c: seals token (NUL-terminated) into e under cfg's current key, with e->id as
 * associated data. 0, GW_EINVAL (no key configured) or GW_ENOMEM. */
int gw__registry_seal(const struct gw_config *cfg, struct gw_registration *e, const char *token);

/* registry_token.c: opens e's token with the key of e->key_id among cfg's keys. Returns the
 * plaintext (NUL-terminated, *len bytes; wipe and free it with gw__registry_wipe) or NULL when
 * e has no token, no key matches, or it does not authenticate. */
char *gw__registry_open(const struct gw_config *cfg, const struct gw_registration *e, size_t *len);
void gw__registry_wipe(char *s, size_t len);

/* registry_token.c: opens a "sealed_token" of a request body (gw_registry_token_seal) with
 * the key of its id among cfg's keys, name and url being the body's. Returns the plaintext
 * (NUL-terminated, *len bytes; wipe and free it with gw__registry_wipe), or NULL with *why
 * (malformed, no key of that id, forged or sealed for another name or url, out of memory). */
char *gw__registry_token_unseal(const struct gw_config *cfg, const char *name, const char *url,
                                const char *sealed, size_t *len, const char **why);

/* registry_token.c: the id of the key given as 64 hex digits: 8 hex digits. False when the
 * key is not one. */
bool gw__registry_key_id(const char *hex, unsigned char key[32], char id[9]);

/* registry.c: something the store holds changed: it is written within
 * GW_REGISTRY_SAVE_DELAY_MS (once for a burst). Nothing when there is no store. */
void gw__registry_touch(struct gw_registry *reg);

/* registry.c: the registration id, mutable, or NULL. */
struct gw_registration *gw__registry_find(struct gw_registry *reg, const char *id);

/* registry_store.c: the registrations of a store file's text (see registry_store.c for the
 * format), each checked field by field: *out gets *count detached registrations (free each
 * with gw_registration_free, then the array with free), *bad the number of entries left out.
 * Nothing is checked against a configuration. 0, GW_EINVAL (not a store) or GW_ENOMEM. */
int gw__registry_store_parse(const char *buf, size_t len, struct gw_registration ***out,
                             size_t *count, size_t *bad);

/* registry_store.c: one registration as the store and Redis keep it (never a plaintext token),
 * or NULL when out of memory. */
json_t *gw__registry_entry_json(const struct gw_registration *e);

/* registry_store.c: one registration of that form, checked field by field (detached, owned by
 * the caller), or NULL when it is not one (or out of memory). */
struct gw_registration *gw__registry_entry_parse(json_t *o);

/* registry_store.c: puts e (from the store or another instance) into reg as gw_registry_put
 * would, checked against cfg, with e's own times and sealed token (taken from e). When reg has
 * it already with the same prefix, weight and token, only its times are updated. 1 when
 * routing changed (publish it), 0 when not, GW_EINVAL when refused (logged with from as the
 * source) or GW_ENOMEM. */
int gw__registry_apply(struct gw_registry *reg, const struct gw_config *cfg,
                       struct gw_registration *e, uint64_t now_ms, const char *from);

/* registry.c: the expiry timer follows the registrations' times again (after they were set
 * directly), and the store is written. */
void gw__registry_rearm(struct gw_registry *reg);

/* registry_store.c: writes every registration of reg to path (replaced atomically, 0600).
 * 0 or a negative errno / GW_ENOMEM, logged. */
int gw__registry_store_save(const struct gw_registry *reg, const char *path);

#endif
