/*
 * Cache keys (see key.h).
 */
#include "cache/key.h"

#include <stdlib.h>
#include <string.h>

#include "cache/internal.h"

struct out {
    char *p;
    size_t len, cap;
    bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->over || n > o->cap - o->len) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

struct param {
    const char *s;
    size_t n;
};

static int cmp_param(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c != 0)
        return c;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    /* equal parameters: keep their order (qsort is not stable) */
    return x->s < y->s ? -1 : x->s > y->s;
}

static bool ignored(const struct gw_cache_key_conf *conf, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t name = eq ? (size_t)(eq - s) : n;
    for (size_t i = 0; i < conf->n_ignore; i++) {
        if (strlen(conf->ignore_params[i]) == name && memcmp(conf->ignore_params[i], s, name) == 0)
            return true;
    }
    return false;
}

static void put_query(struct out *o, const struct gw_cache_key_conf *conf, const char *q, size_t n)
{
    if (!conf->sort_query && conf->n_ignore == 0) {
        put(o, "?", 1);
        put(o, q, n);
        return;
    }
    struct param params[GW_CACHE_KEY_MAX_PARAMS];
    size_t count = 0;
    size_t i = 0;
    bool too_many = false;
    while (i <= n) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t e = amp ? (size_t)(amp - q) : n;
        if (e > i && !ignored(conf, q + i, e - i)) {
            if (count == GW_CACHE_KEY_MAX_PARAMS)
                too_many = true;
            else
                params[count++] = (struct param){q + i, e - i};
        }
        i = e + 1;
    }
    if (too_many) { /* unsorted, as sent: still a correct key, only a less shared one */
        put(o, "?", 1);
        put(o, q, n);
        return;
    }
    if (conf->sort_query)
        qsort(params, count, sizeof params[0], cmp_param);
    for (size_t k = 0; k < count; k++) {
        put(o, k == 0 ? "?" : "&", 1);
        put(o, params[k].s, params[k].n);
    }
}

long gw_cache_key_build(const struct gw_cache_key_conf *conf, const struct gw_cache_key_req *req,
                        char *out, size_t cap)
{
    struct out o = {.p = out, .cap = cap};
    if (conf->host) {
        for (size_t i = 0; i < req->host_len; i++) {
            char c = gw__cache_lower(req->host[i]);
            put(&o, &c, 1);
        }
    }
    put(&o, req->path, req->path_len);
    if (conf->query && req->query != NULL && req->query_len > 0)
        put_query(&o, conf, req->query, req->query_len);
    if (conf->method) {
        const char *m =
            req->method == GW_METHOD_HEAD || req->method == GW_METHOD_GET ? "GET" : "OTHER";
        put(&o, "", 1);
        put(&o, m, strlen(m));
    }
    for (size_t i = 0; i < conf->n_headers; i++) {
        const char *name = conf->headers[i];
        size_t nl = strlen(name);
        put(&o, "", 1);
        put(&o, name, nl);
        put(&o, ":", 1);
        bool seen = false;
        for (uint32_t k = 0; req->msg != NULL && k < req->msg->num_headers; k++) {
            const struct gw_http1_header *h = &req->msg->headers[k];
            if (!gw__cache_ieq(h->name, h->name_len, name))
                continue;
            if (seen)
                put(&o, ",", 1);
            put(&o, h->value, h->value_len);
            seen = true;
        }
    }
    if (req->service != NULL) {
        put(&o, "\0@", 2);
        put(&o, req->service, req->service_len);
    }
    if (req->version != NULL) {
        put(&o, "\0v=", 3);
        put(&o, req->version, req->version_len);
    }
    return o.over ? -1 : (long)o.len;
}

size_t gw_cache_key_url_len(const char *key, size_t len)
{
    const char *nul = memchr(key, '\0', len);
    return nul ? (size_t)(nul - key) : len;
}
