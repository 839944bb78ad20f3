/* The byte form of a stored response (cache/entry.h). */
#include "cache/entry.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cache/internal.h"
#include "cache/key.h"
#include "core/error.h"

#define MAGIC "GWC\x01"
#define VARY_PART_MAX 1024u
#define KNOWN_FLAGS ((1u << 13) - 1u)

static char *put32(char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (char)(v >> (8 * i));
    return p;
}

static char *put64(char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (char)(v >> (8 * i));
    return p;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t gw_cache_entry_size(const struct gw_cache_obj *o)
{
    return GW_CACHE_ENTRY_FIXED + o->key_len + o->vary_names_len + o->vary_sig_len + o->head_len +
           o->tags_len + o->body_len;
}

size_t gw_cache_entry_encode(const struct gw_cache_obj *o, char *out, size_t cap)
{
    size_t n = gw_cache_entry_size(o);
    if (n > cap || o->head_len == 0 || o->head[o->head_len - 1] != '\0' ||
        o->head_len > UINT32_MAX || o->tags_len > UINT32_MAX)
        return 0;
    char *p = out;
    memcpy(p, MAGIC, 4);
    p += 4;
    p = put32(p, (uint32_t)o->status);
    p = put32(p, o->cc.flags);
    const int64_t nums[] = {o->cc.max_age,
                            o->cc.s_maxage,
                            o->cc.max_stale,
                            o->cc.min_fresh,
                            o->cc.stale_while_revalidate,
                            o->cc.stale_if_error,
                            o->lifetime,
                            o->initial_age,
                            o->response_time};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        p = put64(p, (uint64_t)nums[i]);
    p = put32(p, o->key_len);
    p = put32(p, o->vary_names_len);
    p = put32(p, o->vary_sig_len);
    p = put32(p, (uint32_t)o->head_len);
    p = put32(p, (uint32_t)o->tags_len);
    p = put64(p, (uint64_t)o->body_len);
    const struct {
        const char *s;
        size_t n;
    } parts[] = {{o->key, o->key_len},           {o->vary_names, o->vary_names_len},
                 {o->vary_sig, o->vary_sig_len}, {o->head, o->head_len},
                 {o->tags, o->tags_len},         {o->body, o->body_len}};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].n)
            memcpy(p, parts[i].s, parts[i].n);
        p += parts[i].n;
    }
    return (size_t)(p - out);
}

/* A Cache-Control number: -1 (absent) up to 2^31 (RFC 9111 1.2.2). */
static bool cc_number_ok(int64_t v)
{
    return v >= -1 && v <= GW__CACHE_DELTA_MAX;
}

/* The head: lines "name: value" each ended by CRLF, then its NUL; nothing else. */
static bool head_ok(const char *h, size_t n)
{
    if (n == 0 || h[n - 1] != '\0')
        return false;
    for (size_t i = 0; i + 1 < n; i++) {
        if (h[i] == '\0')
            return false;
        if (h[i] == '\r' && (i + 2 >= n || h[i + 1] != '\n'))
            return false;
        if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r'))
            return false;
    }
    return n == 1 || (n >= 3 && h[n - 3] == '\r' && h[n - 2] == '\n');
}

int gw_cache_entry_decode(const char *buf, size_t len, struct gw_cache_entry *e)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (len < GW_CACHE_ENTRY_FIXED || memcmp(buf, MAGIC, 4) != 0)
        return GW_EINVAL;
    memset(e, 0, sizeof *e);
    uint32_t status = get32(p + 4);
    if (status < 100 || status > 599)
        return GW_EINVAL;
    e->status = (int)status;
    e->cc.flags = get32(p + 8);
    if (e->cc.flags & ~KNOWN_FLAGS)
        return GW_EINVAL;
    int64_t nums[9];
    for (size_t i = 0; i < 9; i++)
        nums[i] = (int64_t)get64(p + 12 + 8 * i);
    for (size_t i = 0; i < 6; i++) {
        if (!cc_number_ok(nums[i]))
            return GW_EINVAL;
    }
    for (size_t i = 6; i < 9; i++) {
        if (nums[i] < 0)
            return GW_EINVAL;
    }
    e->cc.max_age = nums[0];
    e->cc.s_maxage = nums[1];
    e->cc.max_stale = nums[2];
    e->cc.min_fresh = nums[3];
    e->cc.stale_while_revalidate = nums[4];
    e->cc.stale_if_error = nums[5];
    e->lifetime = nums[6];
    e->initial_age = nums[7];
    e->response_time = nums[8];
    const unsigned char *l = p + 84;
    uint64_t lens[6] = {get32(l),      get32(l + 4),  get32(l + 8),
                        get32(l + 12), get32(l + 16), get64(l + 20)};
    if (lens[0] == 0 || lens[0] > GW_CACHE_KEY_MAX || lens[1] > VARY_PART_MAX ||
        lens[2] > VARY_PART_MAX || lens[4] > 65536)
        return GW_EINVAL;
    size_t left = len - GW_CACHE_ENTRY_FIXED;
    const char *s = buf + GW_CACHE_ENTRY_FIXED;
    const char **dst[] = {&e->key, &e->vary_names, &e->vary_sig, &e->head, &e->tags, &e->body};
    size_t *dlen[] = {&e->key_len,  &e->vary_names_len, &e->vary_sig_len,
                      &e->head_len, &e->tags_len,       &e->body_len};
    for (size_t i = 0; i < 6; i++) {
        if (lens[i] > left)
            return GW_EINVAL;
        *dst[i] = s;
        *dlen[i] = (size_t)lens[i];
        s += lens[i];
        left -= (size_t)lens[i];
    }
    if (left != 0 || !head_ok(e->head, e->head_len))
        return GW_EINVAL;
    return 0;
}

struct gw_cache_obj *gw_cache_entry_obj(const struct gw_cache_entry *e)
{
    char *body = NULL;
    if (e->body_len) {
        body = malloc(e->body_len);
        if (body == NULL)
            return NULL;
        memcpy(body, e->body, e->body_len);
    }
    struct gw_cache_obj_init in = {
        .key = e->key,
        .key_len = e->key_len,
        .vary_names = e->vary_names,
        .vary_names_len = e->vary_names_len,
        .vary_sig = e->vary_sig,
        .vary_sig_len = e->vary_sig_len,
        .head = e->head,
        .head_len = e->head_len,
        .tags = e->tags,
        .tags_len = e->tags_len,
        .body = body,
        .body_len = e->body_len,
        .status = e->status,
        .cc = e->cc,
        .lifetime = e->lifetime,
        .initial_age = e->initial_age,
        .response_time = e->response_time,
    };
    return gw_cache_obj_new(&in);
}
