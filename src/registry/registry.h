/*
 * The backend registry: backends that register themselves with the gateway (admin API
 * /api/registrations, `gantry register`), each for a TTL that renewals extend.
 *
 * Contract
 * - Control thread only, no locks. The registry holds the registrations and a timer on the
 *   control loop; it never builds or publishes a snapshot itself. It turns its registrations
 *   into services of the config document (gw_registry_extend), which the server merges into
 *   every reload, so a registration goes through the same loader, snapshot and atomic
 *   publication as the file: it is a target like any other.
 * - A registration is (name, url): its id is derived from both, so registering again renews.
 *   name is the service it is a target of: the service of the file with that name (joining
 *   it), or one made from registration.defaults for its prefix.
 * - Every registration is checked by the config loader (a document holding the service it
 *   would create), so bad input is refused with the key path the loader gives.
 */
#ifndef GW_REGISTRY_REGISTRY_H
#define GW_REGISTRY_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct gw_config;

#define GW_REGISTRY_ID_LEN 16

struct gw_registration {
    char id[GW_REGISTRY_ID_LEN + 1]; /* hex, from name and url */
    char *name;
    char *url;
    char *prefix; /* without a trailing '/' (unless "/") */
    uint32_t weight;
    uint64_t ttl_ms;
    uint64_t created_ms; /* wall clock, ms since the epoch */
    uint64_t renewed_ms;
    uint64_t expires_ms;
    /* The backend's token, sealed (XChaCha20-Poly1305, registry_token.c): nonce then
     * ciphertext, under the key whose id is key_id; NULL when none. Never shown, never logged. */
    unsigned char *token_box;
    size_t token_box_len;
    char key_id[9];
};

struct gw_registry;

/* Any thread (`gantry register --encryption-key`). token sealed by the registering client for
 * its way to the gateway, the "sealed_token" of POST /api/registrations: "v1.KEYID.BOX", BOX
 * the unpadded base64url of XChaCha20-Poly1305 (nonce, ciphertext, tag) under key_hex (64 hex
 * digits: the gateway's registration.encryption_key or one of its previous_keys) with the
 * registration's name and url (exactly as sent) as associated data, KEYID the key's id as the
 * gateway computes it. A string to free(), or NULL when key_hex is not 64 hex digits or out
 * of memory. */
char *gw_registry_token_seal(const char *key_hex, const char *name, const char *url,
                             const char *token);

/* Called (control thread) when changes are due to be published (see gw_registry_changed). */
typedef void (*gw_registry_change_fn)(void *arg);

/* Control thread. A registry whose timers run on loop. 0 or GW_ENOMEM. */
int gw_registry_new(uv_loop_t *loop, gw_registry_change_fn on_change, void *arg,
                    struct gw_registry **out);

/* Control thread. Routing changed: on_change runs once, interval_ms after the previous
 * publication ended, or as long after it as that publication took when that is longer (at
 * the next loop iteration when that is past), however many changes come before it, so a
 * burst of registrations costs one reload and reloads never take more than half the control
 * thread. Expiries call it too (with the last interval given). */
void gw_registry_changed(struct gw_registry *reg, uint64_t interval_ms);

/* Control thread. True while changes wait for publication. */
bool gw_registry_pending(const struct gw_registry *reg);

/* Control thread. Drops every registration and closes the timer; the memory is freed by the
 * close callback, so the loop must run afterwards. NULL is ignored. */
void gw_registry_close(struct gw_registry *reg);

/* The outcome of gw_registry_put: status 200 (renewed), 201 (new), or an HTTP status with why
 * and, for 400, errors ([{"path", "message"}], owned by the caller; NULL otherwise). */
struct gw_registry_result {
    int status;
    char why[512];
    json_t *errors;
    const struct gw_registration *entry; /* on 200/201: borrowed until the next change */
    bool changed;                        /* routing changed (new, or another prefix or weight) */
    /* On 200/201: what was there before (NULL when new), detached and owned by the caller
     * (gw_registration_free). */
    struct gw_registration *prev;
};

/* Control thread. Registers or renews from a request body {"name", "url", "prefix", "weight",
 * "ttl"} against cfg (the file's configuration: its services own their prefixes, its
 * registration section gives defaults and limits). now_ms: wall clock. Refusals: 400 (bad
 * input, errors by key path), 409 (the prefix or the name belongs to a service of the file or
 * to another registration name), 503 (registration.max_registrations reached), 500. */
void gw_registry_put(struct gw_registry *reg, const struct gw_config *cfg, json_t *body,
                     uint64_t now_ms, struct gw_registry_result *res);

/* Control thread. Extends the TTL of id from now_ms. The entry, or NULL when unknown. */
const struct gw_registration *gw_registry_renew(struct gw_registry *reg, const char *id,
                                                uint64_t now_ms);

/* Control thread. Removes id and returns it detached (owned by the caller), or NULL. */
struct gw_registration *gw_registry_remove(struct gw_registry *reg, const char *id);

/* Control thread. The registration id, or NULL. */
const struct gw_registration *gw_registry_get(const struct gw_registry *reg, const char *id);

/* Control thread. Number of registrations, and the i-th (in registration order). */
size_t gw_registry_count(const struct gw_registry *reg);
const struct gw_registration *gw_registry_at(const struct gw_registry *reg, size_t i);

/* A registration as the API shows it (never a secret). NULL when out of memory. */
json_t *gw_registration_json(const struct gw_registration *e, uint64_t now_ms);

/* Frees a detached registration. NULL is ignored. */
void gw_registration_free(struct gw_registration *e);

/* Control thread. Adds the registrations to doc, a copy of the file's config document that
 * loaded as cfg: a registration whose name is a service of doc becomes one more of its
 * targets; the others become services (registration.defaults plus name, prefix and targets),
 * one per name. Nothing is added while cfg's registration section is off.
 * 0 or GW_ENOMEM. */
int gw_registry_extend(const struct gw_registry *reg, const struct gw_config *cfg, json_t *doc);

/* Control thread. The config document of the file (cfg->source of the file's configuration,
 * without registrations): its services own their names and prefixes. A reference is taken.
 * gw_registry_extend sets it too. */
void gw_registry_set_file_doc(struct gw_registry *reg, json_t *doc);

/* Control thread. Gives every registered target with a token its header line in merged (the
 * configuration loaded from gw_registry_extend's document): secret_header of the target,
 * secret_name of its service. Tokens sealed with a previous key are sealed again with the
 * current one. A token no configured key opens is left out (logged once per registration).
 * 0 or GW_ENOMEM. */
int gw_registry_decorate(struct gw_registry *reg, struct gw_config *merged);

/* Removes the registrations whose TTL passed at now_ms (logging each); true when some were.
 * The timer calls it; exposed for tests. */
bool gw_registry_expire(struct gw_registry *reg, uint64_t now_ms);

/* Control thread. Keeps the registrations in the file at path (registration.store): every
 * change, renewal and expiry is written there within GW_REGISTRY_SAVE_DELAY_MS, and once more
 * by gw_registry_close. NULL: in memory only. 0 or GW_ENOMEM. */
int gw_registry_set_store(struct gw_registry *reg, const char *path);

#define GW_REGISTRY_SAVE_DELAY_MS 200

/* Control thread, at start. Reads the registrations stored at path and registers those whose
 * TTL has not passed at now_ms again against cfg (as gw_registry_put would: refusals are
 * logged and left out), with their stored times and sealed tokens. Does not publish: call
 * gw_registry_changed when it returns more than 0. The number restored, or a negative
 * error when the file cannot be read or is not a store (logged; a missing file is 0). */
int gw_registry_restore(struct gw_registry *reg, const struct gw_config *cfg, const char *path,
                        uint64_t now_ms);

/* ---- sharing through Redis (registry_redis.c) ---------------------------------------------- */

struct gw_registry_share;

/* The file's configuration now (registration on, publish_interval, defaults), or NULL. */
typedef const struct gw_config *(*gw_registry_cfg_fn)(void *arg);

/* Control thread. Shares reg's registrations with the other instances using Redis at
 * cfg->registration.redis (connecting from the loop; nothing blocks): changes they make are
 * applied to reg (checked against cfg_of(arg)) and published with gw_registry_changed; the
 * current set is read at start and after each reconnect. 0, GW_EINVAL or GW_ENOMEM. */
int gw_registry_share_start(struct gw_registry *reg, uv_loop_t *loop, const struct gw_config *cfg,
                            gw_registry_cfg_fn cfg_of, void *arg, struct gw_registry_share **out);

/* Control thread. e was registered or renewed here: tell the others (nothing while Redis is
 * down: the resynchronisation after it writes it). NULL sh is ignored. */
void gw_registry_share_put(struct gw_registry_share *sh, const struct gw_registration *e);

/* Control thread. id was removed here: tell the others. NULL sh is ignored. */
void gw_registry_share_del(struct gw_registry_share *sh, const char *id);

/* Control thread. Stops sharing (before gw_registry_close of its registry); the memory goes
 * when the loop runs. NULL is ignored. */
void gw_registry_share_close(struct gw_registry_share *sh);

/* Wall clock in ms since the epoch. */
uint64_t gw_registry_now_ms(void);

#endif
