/*
 * Registrations at rest (registration.store): a JSON file that a restart reads back, so that
 * live registrations survive it until their TTL.
 *
 *   {"version": 1, "registrations": [{"name", "url", "prefix", "weight", "ttl_ms",
 *     "created_ms", "renewed_ms", "expires_ms", "key_id", "token_box"}, ...]}
 *
 * token_box is the sealed token (registry_token.c) in base64, as it is held in memory: the
 * plaintext never reaches the file. The file is replaced whole (temporary file in the same
 * directory, mode 0600, fsync, rename), at most once per GW_REGISTRY_SAVE_DELAY_MS and once
 * more when the registry closes, so a burst of registrations costs one write.
 *
 * Reading back does not trust the file: gw__registry_store_parse checks every field, and each
 * registration still live then goes through gw_registry_put like one sent to the API (the
 * config loader, ownership, max_ttl, the address resolving), so a registration the current
 * configuration refuses is dropped with a log line instead of failing the gateway.
 */
#include "registry/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

#define STORE_VERSION 1
#define MAX_STORE_BYTES (64u * 1024 * 1024)
#define MAX_BOX 8192

static bool get_u64(json_t *o, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static char *get_str(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return strdup(json_string_value(v));
}

struct gw_registration *gw__registry_entry_parse(json_t *o)
{
    struct gw_registration *e = calloc(1, sizeof *e);
    uint64_t weight = 0;
    if (e == NULL || !json_is_object(o))
        goto fail;
    e->name = get_str(o, "name", 256);
    e->url = get_str(o, "url", 2048);
    e->prefix = get_str(o, "prefix", 2048);
    if (e->name == NULL || e->url == NULL || e->prefix == NULL || e->prefix[0] != '/')
        goto fail;
    if (!get_u64(o, "weight", &weight) || weight > 1000000 || !get_u64(o, "ttl_ms", &e->ttl_ms) ||
        !get_u64(o, "created_ms", &e->created_ms) || !get_u64(o, "renewed_ms", &e->renewed_ms) ||
        !get_u64(o, "expires_ms", &e->expires_ms))
        goto fail;
    e->weight = (uint32_t)weight;
    json_t *box = json_object_get(o, "token_box");
    json_t *kid = json_object_get(o, "key_id");
    if (box == NULL && kid == NULL)
        return e;
    if (!json_is_string(box) || !json_is_string(kid) || json_string_length(kid) != 8 ||
        json_string_length(box) > MAX_BOX)
        goto fail;
    const char *k = json_string_value(kid);
    for (size_t i = 0; i < 8; i++) {
        if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f')))
            goto fail;
    }
    memcpy(e->key_id, k, 9);
    size_t cap = json_string_length(box); /* base64 decodes to fewer bytes */
    size_t n = 0;
    e->token_box = malloc(cap ? cap : 1);
    if (e->token_box == NULL || sodium_init() < 0 ||
        sodium_base642bin(e->token_box, cap, json_string_value(box), json_string_length(box), NULL,
                          &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        n == 0)
        goto fail;
    e->token_box_len = n;
    return e;
fail:
    gw_registration_free(e);
    return NULL;
}

int gw__registry_store_parse(const char *buf, size_t len, struct gw_registration ***out,
                             size_t *count, size_t *bad)
{
    json_error_t jerr;
    struct gw_registration **items = NULL;
    size_t n = 0;
    *out = NULL;
    *count = *bad = 0;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *version = json_object_get(doc, "version");
    json_t *regs = json_object_get(doc, "registrations");
    if (!json_is_integer(version) || json_integer_value(version) != STORE_VERSION ||
        !json_is_array(regs)) {
        json_decref(doc);
        return GW_EINVAL;
    }
    if (json_array_size(regs) > 0) {
        items = calloc(json_array_size(regs), sizeof *items);
        if (items == NULL) {
            json_decref(doc);
            return GW_ENOMEM;
        }
    }
    size_t i;
    json_t *o;
    json_array_foreach(regs, i, o)
    {
        struct gw_registration *e = gw__registry_entry_parse(o);
        if (e)
            items[n++] = e;
        else
            (*bad)++;
    }
    json_decref(doc);
    *out = items;
    *count = n;
    return 0;
}

json_t *gw__registry_entry_json(const struct gw_registration *e)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "name", e->name, "url", e->url,
                  "prefix", e->prefix, "weight", (json_int_t)e->weight, "ttl_ms",
                  (json_int_t)e->ttl_ms, "created_ms", (json_int_t)e->created_ms, "renewed_ms",
                  (json_int_t)e->renewed_ms, "expires_ms", (json_int_t)e->expires_ms);
    if (o == NULL || e->token_box == NULL)
        return o;
    size_t cap = sodium_base64_ENCODED_LEN(e->token_box_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (b64 == NULL) {
        json_decref(o);
        return NULL;
    }
    sodium_bin2base64(b64, cap, e->token_box, e->token_box_len, sodium_base64_VARIANT_ORIGINAL);
    if (json_object_set_new(o, "token_box", json_string(b64)) != 0 ||
        json_object_set_new(o, "key_id", json_string(e->key_id)) != 0) {
        json_decref(o);
        o = NULL;
    }
    free(b64);
    return o;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* path replaced by data: a temporary file beside it (0600), fsync, rename. */
static int replace_file(const char *path, const char *data, size_t len)
{
    char tmp[PATH_MAX];
    int rc = 0;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return -ENAMETOOLONG;
    int fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0)
        return -errno;
    rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int gw__registry_store_save(const struct gw_registry *reg, const char *path)
{
    int rc = GW_ENOMEM;
    char *text = NULL;
    json_t *arr = json_array();
    json_t *doc =
        arr ? json_pack("{s:i, s:o}", "version", STORE_VERSION, "registrations", arr) : NULL;
    if (doc == NULL)
        goto fail;
    for (size_t i = 0; i < gw_registry_count(reg); i++) {
        if (json_array_append_new(arr, gw__registry_entry_json(gw_registry_at(reg, i))) != 0)
            goto fail;
    }
    text = json_dumps(doc, JSON_COMPACT);
    if (text == NULL)
        goto fail;
    rc = replace_file(path, text, strlen(text));
    if (rc < 0)
        gw_log_error("registration.store %s: cannot write it: %s (the registrations stay in "
                     "memory; the next change tries again)",
                     path, strerror(-rc));
fail:
    if (rc == GW_ENOMEM)
        gw_log_error("registration.store %s: out of memory while saving", path);
    free(text);
    json_decref(doc);
    return rc;
}

/* The whole file, or NULL with *err (a negative errno, or GW_EINVAL when too large). */
static char *read_store(const char *path, size_t *len, int *err)
{
    char *buf = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *err = 0;
    if (fd < 0) {
        *err = -errno;
        return NULL;
    }
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > MAX_STORE_BYTES) {
        *err = GW_EINVAL;
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        *err = GW_ENOMEM;
        goto fail;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *err = r < 0 ? -errno : GW_EINVAL;
            goto fail;
        }
        got += (size_t)r;
    }
    close(fd);
    *len = got;
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

/* Do a and b carry the same token (both none, or boxes that open to the same text)? */
static bool same_token(const struct gw_config *cfg, const struct gw_registration *a,
                       const struct gw_registration *b)
{
    if (a->token_box == NULL || b->token_box == NULL)
        return a->token_box == NULL && b->token_box == NULL;
    if (a->token_box_len == b->token_box_len &&
        memcmp(a->token_box, b->token_box, a->token_box_len) == 0)
        return true;
    size_t na = 0, nb = 0;
    char *ta = gw__registry_open(cfg, a, &na);
    char *tb = gw__registry_open(cfg, b, &nb);
    bool same = ta && tb && na == nb && sodium_memcmp(ta, tb, na) == 0;
    gw__registry_wipe(ta, na + 1);
    gw__registry_wipe(tb, nb + 1);
    return same;
}

int gw__registry_apply(struct gw_registry *reg, const struct gw_config *cfg,
                       struct gw_registration *e, uint64_t now_ms, const char *from)
{
    struct gw_registry_result res;
    char ttl[32];
    for (size_t i = 0; i < gw_registry_count(reg); i++) {
        const struct gw_registration *o = gw_registry_at(reg, i);
        if (strcmp(o->name, e->name) != 0 || strcmp(o->url, e->url) != 0)
            continue;
        if (strcmp(o->prefix, e->prefix) != 0 || o->weight != e->weight || !same_token(cfg, o, e))
            break; /* changed: through gw_registry_put below */
        struct gw_registration *live = gw__registry_find(reg, o->id);
        if (live->expires_ms == e->expires_ms)
            return 0;
        live->ttl_ms = e->ttl_ms;
        live->renewed_ms = e->renewed_ms;
        live->expires_ms = e->expires_ms;
        gw__registry_rearm(reg);
        return 0;
    }
    snprintf(ttl, sizeof ttl, "%llums", (unsigned long long)e->ttl_ms);
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:s}", "name", e->name, "url", e->url, "prefix",
                             e->prefix, "weight", (json_int_t)e->weight, "ttl", ttl);
    if (body == NULL)
        return GW_ENOMEM;
    gw_registry_put(reg, cfg, body, now_ms, &res);
    json_decref(body);
    gw_registration_free(res.prev);
    if (res.status != 201 && res.status != 200) {
        gw_log_error("%s: %s at %s (%s) left out: %s", from, e->url, e->prefix, e->name, res.why);
        json_decref(res.errors);
        return GW_EINVAL;
    }
    struct gw_registration *live = gw__registry_find(reg, res.entry->id);
    live->created_ms = e->created_ms;
    live->renewed_ms = e->renewed_ms;
    live->expires_ms = e->expires_ms;
    live->token_box = e->token_box;
    live->token_box_len = e->token_box_len;
    memcpy(live->key_id, e->key_id, sizeof live->key_id);
    e->token_box = NULL;
    e->token_box_len = 0;
    gw__registry_rearm(reg);
    return 1;
}

int gw_registry_restore(struct gw_registry *reg, const struct gw_config *cfg, const char *path,
                        uint64_t now_ms)
{
    size_t len = 0, n = 0, bad = 0, kept = 0, expired = 0;
    struct gw_registration **items = NULL;
    int err = 0;
    char *buf = read_store(path, &len, &err);
    if (buf == NULL) {
        if (err == -ENOENT) {
            gw_log_info("registration.store %s: no file yet, no registrations to restore", path);
            return 0;
        }
        gw_log_error("registration.store %s: cannot read it (%s): starting without the stored "
                     "registrations",
                     path, err == GW_EINVAL ? "larger than 64 MiB" : strerror(-err));
        return err;
    }
    int rc = gw__registry_store_parse(buf, len, &items, &n, &bad);
    free(buf);
    if (rc < 0) {
        gw_log_error("registration.store %s: %s: starting without the stored registrations (the "
                     "file is replaced at the next change)",
                     path, rc == GW_ENOMEM ? "out of memory" : "not a registration store");
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i]->expires_ms <= now_ms)
            expired++;
        else if (gw__registry_apply(reg, cfg, items[i], now_ms, "registration.store") >= 0)
            kept++;
        gw_registration_free(items[i]);
    }
    free(items);
    gw_log_info("registration.store %s: %zu registration%s restored, %zu expired meanwhile, %zu "
                "malformed left out",
                path, kept, kept == 1 ? "" : "s", expired, bad);
    return (int)(kept > INT_MAX ? INT_MAX : kept);
}
