/*
 * Compiled router. Layout:
 * - host groups: group 0 holds the any-host routes; every distinct exact host and every
 *   distinct wildcard gets its own group. One open-addressing table maps a host key to its
 *   group: an exact host is stored as is ("api.example.com"), a wildcard without its '*'
 *   (".example.com"). Exact hosts never start with '.', so the two kinds cannot collide.
 * - entries: one per distinct (group, prefix), in one open-addressing table keyed by both;
 *   each entry owns a run of routes (method set, data) whose method sets are disjoint. A slot
 *   holds the entry's index and the high half of its hash, and an entry is one cache line with
 *   its first route and the head of its prefix: with 10,000 routes, where neither table stays
 *   in the first-level cache, a lookup that finds its route reads two lines (slot, entry).
 * Lookups hash the path once, forward, and read the hash of every boundary prefix on the way
 * (FNV-1a is a running state), and hash the host once, backward, reading the hash of every
 * ".suffix" on the way. A versioned entry (API versions, see router.h) keeps its routes apart
 * (count 0, nver routes): the plain match loop finds none of them and the versioned case is
 * decided on the method-not-allowed path, so unversioned prefixes pay nothing for it. Its
 * unversioned routes, if any, are the prefix's default (version NULL in gw_router_match_version).
 * A final 64-bit mix (murmur3's fmix64) spreads FNV's low bits over the
 * table index. Keys come from the configuration, not from clients, and tables are at most half
 * full, so probe sequences stay short; a lookup only reads.
 */
#include "route/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "route/normalize.h"

#define GID_MIX 0x9e3779b97f4a7c15ull

struct route {
    uint32_t methods; /* 0 = any */
    uint32_t version_len;
    const char *version; /* NULL in an unversioned entry */
    void *data;
};

/* One cache line: a lookup that finds its entry reads the slot's line and this one, and no
 * other for a prefix of up to ENTRY_HEAD bytes whose entry has one route (the usual case). */
#define ENTRY_HEAD 20
struct entry {
    const char *prefix; /* the whole prefix (only read past its first ENTRY_HEAD bytes) */
    void *data0;        /* routes[first].data, read without touching routes */
    uint32_t methods0;  /* routes[first].methods */
    uint32_t len;
    uint32_t gid;
    uint32_t first;        /* routes[first .. first + count) */
    uint32_t count;        /* 0 in a versioned entry: its routes are never met by a plain match */
    uint32_t allowed;      /* union of the routes' method sets (no route has 0 when count > 1) */
    uint32_t nver;         /* versioned entry: routes[first .. first + nver), each with a version */
    char head[ENTRY_HEAD]; /* the prefix's first bytes */
};
_Static_assert(sizeof(struct entry) == 64, "an entry is one cache line");

struct group {
    uint64_t hash;   /* gw_hash_mix64 of the backward FNV of key */
    const char *key; /* exact host, ".suffix" for a wildcard, NULL for group 0 (any host) */
    uint32_t key_len;
    uint32_t max_len; /* longest prefix in the group; 0 = the group has no route */
};

struct gw_router {
    size_t nroutes;
    struct route *routes;
    struct entry *entries;
    uint32_t nentries;
    /* entry index + 1 in the low half (0 = empty), the high half of the entry's hash in the
     * high half: a probe that meets another key is told so by the slot alone, without reading
     * the entry (with 10,000 routes the entries are rarely in cache). */
    uint64_t *entry_slots;
    size_t entry_mask;
    struct group *groups;
    uint32_t ngroups;
    uint32_t *host_slots; /* group index + 1; 0 = empty */
    size_t host_mask;
    bool has_wildcards;
    uint32_t max_len;   /* longest prefix over all groups */
    uint32_t max_depth; /* most segments in a prefix */
    uint64_t root_fnv;  /* fnv("/") */
    char *strings;      /* copies of prefixes and host keys */
};

static inline uint64_t key_hash(uint32_t gid, uint64_t prefix_fnv)
{
    return gw_hash_mix64(prefix_fnv ^ ((uint64_t)gid * GID_MIX));
}

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* Case-insensitive equality of request bytes with a stored lowercase key. */
static bool host_eq(const char *s, const char *key, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)key[i])
            return false;
    return true;
}

/* The entry's prefix is p[0..n) (n == e->len): its head first, the rest only when longer. */
static inline bool same_prefix(const struct entry *e, const char *p, size_t n)
{
    size_t k = n < ENTRY_HEAD ? n : ENTRY_HEAD;
    return memcmp(e->head, p, k) == 0 && (n == k || memcmp(e->prefix + k, p + k, n - k) == 0);
}

static const struct group *find_group(const struct gw_router *r, const char *s, size_t n,
                                      uint64_t back_fnv)
{
    uint64_t h = gw_hash_mix64(back_fnv);
    for (size_t i = h & r->host_mask;; i = (i + 1) & r->host_mask) {
        uint32_t v = r->host_slots[i];
        if (v == 0)
            return NULL;
        const struct group *g = &r->groups[v - 1];
        if (g->hash == h && g->key_len == n && host_eq(s, g->key, n))
            return g;
    }
}

static const struct entry *find_entry(const struct gw_router *r, uint32_t gid, const char *p,
                                      size_t n, uint64_t fnv)
{
    uint64_t h = key_hash(gid, fnv);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & r->entry_mask;; i = (i + 1) & r->entry_mask) {
        uint64_t v = r->entry_slots[i];
        if (v == 0)
            return NULL;
        if ((uint32_t)(v >> 32) != tag)
            continue;
        const struct entry *e = &r->entries[(uint32_t)v - 1];
        if (e->gid == gid && e->len == n && same_prefix(e, p, n))
            return e;
    }
}

/* ---- build ---------------------------------------------------------------------------------- */

/* Smallest power of two >= 2 * n, at least 8: tables stay at most half full. */
static size_t table_size(size_t n)
{
    size_t s = 8;
    while (s < 2 * n)
        s *= 2;
    return s;
}

static uint64_t fnv_backward_lower(const char *s, size_t n)
{
    uint64_t h = GW_FNV1A64_OFFSET;
    for (size_t i = n; i-- > 0;)
        h = gw_fnv1a64_step(h, lower((unsigned char)s[i]));
    return h;
}

/* Checks a spec's prefix; scratch holds at least len bytes. Returns the segment count or
 * GW_EINVAL. */
static int check_prefix(const char *p, size_t len, char *scratch)
{
    if (len == 0 || p[0] != '/' || len > UINT32_MAX / 2)
        return GW_EINVAL;
    if (len > 1 && p[len - 1] == '/')
        return GW_EINVAL;
    /* A prefix that normalisation would change could never match a normalised path. */
    size_t nlen = 0;
    if (gw_path_normalize(p, len, scratch, &nlen) != 0 || nlen != len ||
        memcmp(scratch, p, len) != 0)
        return GW_EINVAL;
    int depth = 0;
    for (size_t i = 0; i < len; i++)
        depth += p[i] == '/';
    if (len == 1)
        depth = 0;
    return depth > GW_ROUTE_MAX_DEPTH ? GW_EINVAL : depth;
}

static bool host_char(unsigned char c, bool bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
        return true;
    return bracketed && c == ':';
}

/* Parses a spec's host. key, key_len: the lookup key (lowercased later), "*.x.y" giving
 * ".x.y"; the trailing '.' of a fully qualified name is dropped. 0 or GW_EINVAL. */
static int parse_host(const char *h, const char **key, size_t *key_len, bool *wild)
{
    size_t n = strlen(h);
    if (n > 1 && h[n - 1] == '.')
        n--;
    *wild = n >= 2 && h[0] == '*' && h[1] == '.';
    const char *s = *wild ? h + 2 : h;
    size_t sn = *wild ? n - 2 : n;
    if (sn == 0 || sn > GW_ROUTE_MAX_HOST || s[0] == '.' || s[sn - 1] == '.')
        return GW_EINVAL;
    bool bracketed = s[0] == '[';
    if (bracketed && (*wild || sn < 3 || s[sn - 1] != ']'))
        return GW_EINVAL;
    for (size_t i = bracketed ? 1 : 0; i < (bracketed ? sn - 1 : sn); i++) {
        unsigned char c = lower((unsigned char)s[i]);
        if (!host_char(c, bracketed) || (c == '.' && s[i + 1] == '.'))
            return GW_EINVAL;
    }
    *key = *wild ? h + 1 : h;
    *key_len = *wild ? sn + 1 : sn;
    return 0;
}

struct builder {
    struct gw_router *r;
    char *str_next;
};

static char *copy_string(struct builder *b, const char *s, size_t n, bool lowercase)
{
    char *d = b->str_next;
    for (size_t i = 0; i < n; i++)
        d[i] = lowercase ? (char)lower((unsigned char)s[i]) : s[i];
    d[n] = '\0';
    b->str_next += n + 1;
    return d;
}

/* Group id for a spec's host, adding the group on first sight. */
static uint32_t add_group(struct builder *b, const char *host)
{
    struct gw_router *r = b->r;
    if (host == NULL)
        return 0;
    const char *key;
    size_t n;
    bool wild;
    (void)parse_host(host, &key, &n, &wild); /* validated before */
    uint64_t h = gw_hash_mix64(fnv_backward_lower(key, n));
    size_t i = h & r->host_mask;
    for (;; i = (i + 1) & r->host_mask) {
        uint32_t v = r->host_slots[i];
        if (v == 0)
            break;
        struct group *g = &r->groups[v - 1];
        if (g->hash == h && g->key_len == n && host_eq(key, g->key, n))
            return v - 1;
    }
    uint32_t gid = r->ngroups++;
    struct group *g = &r->groups[gid];
    g->hash = h;
    g->key = copy_string(b, key, n, true);
    g->key_len = (uint32_t)n;
    g->max_len = 0;
    r->host_slots[i] = gid + 1;
    r->has_wildcards |= wild;
    return gid;
}

/* Entry index for (gid, prefix), adding the entry on first sight; counts its routes. */
static uint32_t add_entry(struct builder *b, uint32_t gid, const char *p, size_t n)
{
    struct gw_router *r = b->r;
    uint64_t h = key_hash(gid, gw_fnv1a64(p, n));
    size_t i = h & r->entry_mask;
    for (;; i = (i + 1) & r->entry_mask) {
        uint64_t v = r->entry_slots[i];
        if (v == 0)
            break;
        struct entry *e = &r->entries[(uint32_t)v - 1];
        if (e->gid == gid && e->len == n && same_prefix(e, p, n)) {
            e->count++;
            return (uint32_t)v - 1;
        }
    }
    uint32_t idx = r->nentries++;
    struct entry *e = &r->entries[idx];
    *e = (struct entry){.len = (uint32_t)n, .gid = gid, .count = 1};
    e->prefix = copy_string(b, p, n, false);
    memcpy(e->head, p, n < ENTRY_HEAD ? n : ENTRY_HEAD);
    r->entry_slots[i] = (h >> 32 << 32) | (idx + 1);
    if (r->groups[gid].max_len < n)
        r->groups[gid].max_len = (uint32_t)n;
    if (r->max_len < n)
        r->max_len = (uint32_t)n;
    return idx;
}

/* Validates every spec; sums the bytes the string copies need and the longest prefix. */
static int check_specs(const struct gw_route_spec *specs, size_t n, size_t *str_bytes,
                       uint32_t *max_depth)
{
    size_t max_prefix = 0;
    *str_bytes = 0;
    *max_depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (specs[i].prefix == NULL)
            return GW_EINVAL;
        size_t len = strlen(specs[i].prefix);
        if (len > max_prefix)
            max_prefix = len;
        *str_bytes += len + 1;
        if (specs[i].host != NULL) {
            const char *key;
            size_t klen;
            bool wild;
            if (parse_host(specs[i].host, &key, &klen, &wild) != 0)
                return GW_EINVAL;
            *str_bytes += klen + 1;
        }
        if (specs[i].version != NULL) {
            size_t vl = strlen(specs[i].version);
            if (vl == 0 || vl > UINT32_MAX / 2)
                return GW_EINVAL;
            *str_bytes += vl + 1;
        }
    }
    char *scratch = malloc(max_prefix + 1);
    if (scratch == NULL)
        return GW_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int depth = check_prefix(specs[i].prefix, strlen(specs[i].prefix), scratch);
        if (depth < 0)
            rc = depth;
        else if ((uint32_t)depth > *max_depth)
            *max_depth = (uint32_t)depth;
    }
    free(scratch);
    return rc;
}

static bool same_version(const struct route *rt, const char *v, size_t vl)
{
    if (rt->version == NULL || v == NULL)
        return rt->version == v;
    return rt->version_len == vl && memcmp(rt->version, v, vl) == 0;
}

/* Places each spec's route in its entry's run; refuses overlapping method sets within one
 * version (the unversioned routes of a versioned entry, its default, count as one version). */
static int place_routes(struct builder *b, const struct gw_route_spec *specs, size_t n,
                        const uint32_t *spec_entry)
{
    struct gw_router *r = b->r;
    uint32_t next = 0;
    for (uint32_t i = 0; i < r->nentries; i++) {
        r->entries[i].first = next;
        next += r->entries[i].count;
        r->entries[i].count = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = &r->entries[spec_entry[i]];
        uint32_t m = specs[i].methods;
        const char *v = specs[i].version;
        size_t vl = v ? strlen(v) : 0;
        for (uint32_t k = 0; k < e->count; k++) {
            const struct route *o = &r->routes[e->first + k];
            if (!same_version(o, v, vl))
                continue;
            if (m == 0 || o->methods == 0 || (m & o->methods) != 0)
                return GW_EINVAL;
        }
        r->routes[e->first + e->count] = (struct route){
            .methods = m,
            .version_len = (uint32_t)vl,
            .version = v ? copy_string(b, v, vl, false) : NULL,
            .data = specs[i].data,
        };
        e->count++;
        e->allowed |= m;
    }
    for (uint32_t i = 0; i < r->nentries; i++) {
        struct entry *e = &r->entries[i];
        bool versioned = false;
        for (uint32_t k = 0; k < e->count && !versioned; k++)
            versioned = r->routes[e->first + k].version != NULL;
        if (versioned) {
            e->nver = e->count;
            e->count = 0;
            e->allowed = 0;
        }
        if (e->count > 0) {
            e->data0 = r->routes[e->first].data;
            e->methods0 = r->routes[e->first].methods;
        }
    }
    return 0;
}

int gw_router_build(const struct gw_route_spec *specs, size_t n, struct gw_router **out)
{
    struct gw_router *r = NULL;
    uint32_t *spec_entry = NULL;
    size_t str_bytes;
    uint32_t max_depth;
    int rc;

    *out = NULL;
    if (n > UINT32_MAX / 4 || (n > 0 && specs == NULL))
        return GW_EINVAL;
    rc = check_specs(specs, n, &str_bytes, &max_depth);
    if (rc < 0)
        return rc;

    rc = GW_ENOMEM;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto fail;
    r->nroutes = n;
    r->max_depth = max_depth;
    r->root_fnv = gw_fnv1a64("/", 1);
    r->entry_mask = table_size(n) - 1;
    r->host_mask = table_size(n + 1) - 1;
    r->routes = calloc(n + 1, sizeof(*r->routes));
    /* 64-byte aligned: each entry is one cache line. */
    r->entries = aligned_alloc(64, (n + 1) * sizeof(*r->entries));
    if (r->entries)
        memset(r->entries, 0, (n + 1) * sizeof(*r->entries));
    r->groups = calloc(n + 1, sizeof(*r->groups));
    r->entry_slots = calloc(r->entry_mask + 1, sizeof(*r->entry_slots));
    r->host_slots = calloc(r->host_mask + 1, sizeof(*r->host_slots));
    r->strings = malloc(str_bytes + 1);
    spec_entry = calloc(n + 1, sizeof(*spec_entry));
    if (r->routes == NULL || r->entries == NULL || r->groups == NULL || r->entry_slots == NULL ||
        r->host_slots == NULL || r->strings == NULL || spec_entry == NULL)
        goto fail;

    struct builder b = {.r = r, .str_next = r->strings};
    r->ngroups = 1; /* group 0: any host */
    for (size_t i = 0; i < n; i++) {
        uint32_t gid = add_group(&b, specs[i].host);
        spec_entry[i] = add_entry(&b, gid, specs[i].prefix, strlen(specs[i].prefix));
    }
    rc = place_routes(&b, specs, n, spec_entry);
    if (rc < 0)
        goto fail;
    free(spec_entry);
    *out = r;
    return 0;

fail:
    free(spec_entry);
    gw_router_free(r);
    return rc;
}

void gw_router_free(struct gw_router *r)
{
    if (r == NULL)
        return;
    free(r->routes);
    free(r->entries);
    free(r->groups);
    free(r->entry_slots);
    free(r->host_slots);
    free(r->strings);
    free(r);
}

size_t gw_router_count(const struct gw_router *r)
{
    return r->nroutes;
}

/* ---- match ---------------------------------------------------------------------------------- */

/* A boundary prefix of the path that some route could have: its length and its FNV. */
struct cand {
    size_t len;
    uint64_t fnv;
};

/* Fills c with the path's candidate prefixes, longest first, "/" last. A candidate longer than
 * the longest route prefix, or with more segments than the deepest one, cannot match. */
static size_t path_candidates(const struct gw_router *r, const char *path, size_t path_len,
                              struct cand *c)
{
    struct cand fwd[GW_ROUTE_MAX_DEPTH + 1];
    size_t nf = 0;
    uint64_t h = GW_FNV1A64_OFFSET;
    uint32_t slashes = 0;
    bool whole = path_len <= r->max_len && path[path_len - 1] != '/';

    /* k == max_len is still looked at: a '/' there ends a candidate of the longest length. */
    for (size_t k = 0; k < path_len && k <= r->max_len; k++) {
        if (path[k] == '/') {
            if (k > 1)
                fwd[nf++] = (struct cand){k, h};
            if (++slashes > r->max_depth) {
                whole = false;
                break;
            }
        }
        if (k == r->max_len)
            break;
        h = gw_fnv1a64_step(h, (unsigned char)path[k]);
    }
    size_t nc = 0;
    if (whole && path_len > 1)
        c[nc++] = (struct cand){path_len, h};
    while (nf > 0)
        c[nc++] = fwd[--nf];
    c[nc++] = (struct cand){1, r->root_fnv};
    return nc;
}

/* Longest prefix of group gid among the candidates, or NULL. */
static const struct entry *match_group(const struct gw_router *r, uint32_t gid, const char *path,
                                       const struct cand *c, size_t nc)
{
    uint32_t max_len = r->groups[gid].max_len;
    if (max_len == 0)
        return NULL;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].len > max_len)
            continue;
        const struct entry *e = find_entry(r, gid, path, c[i].len, c[i].fnv);
        if (e != NULL)
            return e;
    }
    return NULL;
}

/* The request host without port and trailing dot; 0 when it cannot name a host group. */
static size_t host_key_len(const char *host, size_t host_len)
{
    if (host == NULL || host_len == 0)
        return 0;
    size_t end = host_len;
    const char *cut = memchr(host, host[0] == '[' ? ']' : ':', host_len);
    if (cut != NULL)
        end = (size_t)(cut - host) + (host[0] == '[');
    if (end > 1 && host[end - 1] == '.')
        end--;
    if (end > GW_ROUTE_MAX_HOST || host[0] == '.')
        return 0;
    return end;
}

static const struct entry *select_entry(const struct gw_router *r, const char *host,
                                        size_t host_len, const char *path, const struct cand *c,
                                        size_t nc)
{
    const struct entry *e = NULL;
    size_t n = r->ngroups > 1 ? host_key_len(host, host_len) : 0;
    if (n > 0) {
        /* One backward pass: wildcard groups are met from the shortest suffix to the longest,
         * the exact host last. */
        uint32_t wild[GW_ROUTE_MAX_HOST];
        size_t nw = 0;
        uint64_t h = GW_FNV1A64_OFFSET;
        for (size_t i = n; i-- > 0;) {
            unsigned char ch = lower((unsigned char)host[i]);
            h = gw_fnv1a64_step(h, ch);
            if (ch == '.' && i > 0 && r->has_wildcards) {
                const struct group *g = find_group(r, host + i, n - i, h);
                if (g != NULL)
                    wild[nw++] = (uint32_t)(g - r->groups);
            }
        }
        const struct group *g = find_group(r, host, n, h);
        if (g != NULL)
            e = match_group(r, (uint32_t)(g - r->groups), path, c, nc);
        while (e == NULL && nw > 0)
            e = match_group(r, wild[--nw], path, c, nc);
    }
    if (e == NULL)
        e = match_group(r, 0, path, c, nc);
    return e;
}

enum gw_route_result gw_router_match(const struct gw_router *r, const char *host, size_t host_len,
                                     const char *path, size_t path_len, enum gw_http_method method,
                                     struct gw_route_match *m)
{
    m->data = NULL;
    m->prefix_len = 0;
    m->allowed = 0;
    if (path_len == 0 || path[0] != '/' || r->nentries == 0)
        return GW_ROUTE_NOT_FOUND;

    struct cand c[GW_ROUTE_MAX_DEPTH + 2];
    size_t nc = path_candidates(r, path, path_len, c);
    const struct entry *e = select_entry(r, host, host_len, path, c, nc);
    if (e == NULL)
        return GW_ROUTE_NOT_FOUND;

    m->prefix_len = e->len == 1 ? 0 : e->len;
    uint32_t bit = (unsigned)method < 32 ? GW_ROUTE_METHOD((unsigned)method) : 0;
    if (e->count > 0 && (e->methods0 == 0 || (e->methods0 & bit) != 0)) {
        m->data = e->data0;
        return GW_ROUTE_FOUND;
    }
    for (uint32_t i = 1; i < e->count; i++) {
        const struct route *rt = &r->routes[e->first + i];
        if (rt->methods == 0 || (rt->methods & bit) != 0) {
            m->data = rt->data;
            return GW_ROUTE_FOUND;
        }
    }
    if (e->nver > 0) {
        m->entry = e;
        return GW_ROUTE_VERSION;
    }
    m->allowed = e->allowed;
    return GW_ROUTE_METHOD_NOT_ALLOWED;
}

enum gw_route_result gw_router_match_version(const struct gw_router *r, const char *ver,
                                             size_t ver_len, enum gw_http_method method,
                                             struct gw_route_match *m)
{
    const struct entry *e = m->entry;
    uint32_t bit = (unsigned)method < 32 ? GW_ROUTE_METHOD((unsigned)method) : 0;
    bool known = false;
    m->data = NULL;
    m->allowed = 0;
    for (uint32_t i = 0; i < e->nver; i++) {
        const struct route *rt = &r->routes[e->first + i];
        if (!same_version(rt, ver, ver_len))
            continue;
        if (rt->methods == 0 || (rt->methods & bit) != 0) {
            m->data = rt->data;
            return GW_ROUTE_FOUND;
        }
        known = true;
        m->allowed |= rt->methods;
    }
    return known ? GW_ROUTE_METHOD_NOT_ALLOWED : GW_ROUTE_VERSION_UNKNOWN;
}

const char *gw_router_version(const struct gw_router *r, const struct gw_route_match *m, size_t i)
{
    const struct entry *e = m->entry;
    size_t seen = 0;
    for (uint32_t k = 0; k < e->nver; k++) {
        const struct route *rt = &r->routes[e->first + k];
        if (rt->version == NULL)
            continue; /* the prefix's default */
        bool dup = false;
        for (uint32_t j = 0; j < k && !dup; j++)
            dup = same_version(&r->routes[e->first + j], rt->version, rt->version_len);
        if (dup)
            continue;
        if (seen++ == i)
            return rt->version;
    }
    return NULL;
}
