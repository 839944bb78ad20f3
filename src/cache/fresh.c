/*
 * RFC 9111 storability, freshness and reuse decisions (see fresh.h).
 */
#include "cache/fresh.h"

#include "cache/date.h"
#include "cache/internal.h"

static bool name_is(const struct gw_http1_header *h, const char *lit)
{
    return gw__cache_ieq(h->name, h->name_len, lit);
}

static int64_t date_of(const struct gw_http1_header *h, int64_t now)
{
    int64_t t;
    return gw_http_date_parse(h->value, h->value_len, now, &t) == 0 ? t : -1;
}

void gw_cache_resp_info_read(struct gw_cache_resp_info *info, const struct gw_http1_message *m,
                             int64_t now)
{
    *info = (struct gw_cache_resp_info){
        .status = m->status, .date = -1, .last_modified = -1, .age = -1};
    gw_cc_init(&info->cc);
    bool seen_date = false, seen_lm = false;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "cache-control")) {
            gw_cc_parse(&info->cc, h->value, h->value_len);
        } else if (name_is(h, "date")) {
            if (!seen_date)
                info->date = date_of(h, now);
            seen_date = true;
        } else if (name_is(h, "expires")) {
            /* 4.2.1: with more than one Expires, the response may be considered stale. */
            int64_t t = date_of(h, now);
            info->expires_bad |= t < 0 || info->has_expires;
            info->has_expires = true;
            info->expires = t;
        } else if (name_is(h, "last-modified")) {
            if (!seen_lm)
                info->last_modified = date_of(h, now);
            seen_lm = true;
        } else if (name_is(h, "age")) {
            if (info->age < 0)
                info->age = gw__cache_delta(h->value, h->value_len);
        } else if (name_is(h, "etag")) {
            info->has_etag = true;
        } else if (name_is(h, "set-cookie")) {
            info->has_set_cookie = true;
        } else if (name_is(h, "vary")) {
            /* "*" as a member of the list (RFC 9110 12.5.5) */
            const char *v = h->value;
            for (uint32_t j = 0; j < h->value_len; j++) {
                if (v[j] != '*')
                    continue;
                uint32_t a = j, b = j + 1;
                while (a > 0 && (v[a - 1] == ' ' || v[a - 1] == '\t'))
                    a--;
                while (b < h->value_len && (v[b] == ' ' || v[b] == '\t'))
                    b++;
                if ((a == 0 || v[a - 1] == ',') && (b == h->value_len || v[b] == ','))
                    info->vary_star = true;
            }
        }
    }
}

void gw_cache_req_info_read(struct gw_cache_req_info *info, const struct gw_http1_message *m)
{
    *info = (struct gw_cache_req_info){0};
    gw_cc_init(&info->cc);
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "cache-control"))
            gw_cc_parse(&info->cc, h->value, h->value_len);
        else if (name_is(h, "authorization"))
            info->has_authorization = true;
        else if (name_is(h, "if-none-match") || name_is(h, "if-modified-since"))
            info->has_conditional = true;
    }
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        if (name_is(h, "pragma"))
            gw_cc_parse_pragma(&info->cc, h->value, h->value_len);
    }
}

const char *gw_cache_nostore_name(enum gw_cache_nostore why)
{
    switch (why) {
    case GW_CACHE_STORE_OK:
        return "stored";
    case GW_CACHE_NS_METHOD:
        return "method";
    case GW_CACHE_NS_STATUS:
        return "status";
    case GW_CACHE_NS_NO_STORE:
        return "no-store";
    case GW_CACHE_NS_PRIVATE:
        return "private";
    case GW_CACHE_NS_AUTHORIZATION:
        return "authorization";
    case GW_CACHE_NS_SET_COOKIE:
        return "set-cookie";
    case GW_CACHE_NS_VARY_STAR:
        return "vary-star";
    case GW_CACHE_NS_NO_FRESHNESS:
        return "no-freshness";
    }
    return "unknown";
}

/* RFC 9110 15.1: "heuristically cacheable" status codes. */
static bool heuristic_status(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return true;
    default:
        return false;
    }
}

/* Status codes this cache stores: final ones, but not 206 (no range support) nor 304 (it only
 * refreshes a stored response, 4.3.4). */
static bool understood_status(int status)
{
    return status >= 200 && status <= 599 && status != 206 && status != 304;
}

static bool explicit_freshness(const struct gw_cache_resp_info *resp)
{
    return resp->cc.max_age >= 0 || resp->cc.s_maxage >= 0 || resp->has_expires ||
           (resp->cc.flags & GW_CC_BAD_FRESHNESS);
}

int64_t gw_cache_freshness_lifetime(const struct gw_cache_resp_info *resp,
                                    const struct gw_cache_fresh_conf *conf, int64_t response_time)
{
    if (resp->cc.flags & GW_CC_BAD_FRESHNESS)
        return 0;
    if (resp->cc.s_maxage >= 0)
        return resp->cc.s_maxage;
    if (resp->cc.max_age >= 0)
        return resp->cc.max_age;
    int64_t date = resp->date >= 0 ? resp->date : response_time;
    if (resp->has_expires) {
        if (resp->expires_bad || resp->expires <= date)
            return 0;
        return resp->expires - date;
    }
    if (!heuristic_status(resp->status) && !(resp->cc.flags & GW_CC_PUBLIC))
        return 0;
    if (conf->heuristic_percent > 0 && resp->last_modified >= 0 && resp->last_modified < date) {
        int64_t since = date - resp->last_modified;
        int64_t h = since / 100 * (int64_t)conf->heuristic_percent +
                    since % 100 * (int64_t)conf->heuristic_percent / 100;
        return h < conf->heuristic_max ? h : conf->heuristic_max;
    }
    return conf->default_ttl > 0 ? conf->default_ttl : 0;
}

enum gw_cache_nostore gw_cache_storable(enum gw_http_method method,
                                        const struct gw_cache_req_info *req,
                                        const struct gw_cache_resp_info *resp,
                                        const struct gw_cache_fresh_conf *conf,
                                        int64_t response_time)
{
    uint32_t rf = resp->cc.flags;
    if (method != GW_METHOD_GET)
        return GW_CACHE_NS_METHOD;
    if (!understood_status(resp->status))
        return GW_CACHE_NS_STATUS;
    if ((rf & GW_CC_NO_STORE) || (req->cc.flags & GW_CC_NO_STORE))
        return GW_CACHE_NS_NO_STORE;
    if (rf & GW_CC_PRIVATE)
        return GW_CACHE_NS_PRIVATE;
    /* 3.5: "A shared cache MUST NOT use a cached response to a request with an Authorization
     * header field ... unless ... the response contains ... must-revalidate ... public ...
     * s-maxage". */
    if (req->has_authorization && !(rf & (GW_CC_PUBLIC | GW_CC_MUST_REVALIDATE)) &&
        resp->cc.s_maxage < 0)
        return GW_CACHE_NS_AUTHORIZATION;
    if (resp->has_set_cookie && !conf->allow_set_cookie)
        return GW_CACHE_NS_SET_COOKIE;
    if (resp->vary_star)
        return GW_CACHE_NS_VARY_STAR;
    if (gw_cache_freshness_lifetime(resp, conf, response_time) > 0)
        return GW_CACHE_STORE_OK;
    bool validator = resp->has_etag || resp->last_modified >= 0;
    if (validator && ((rf & GW_CC_NO_CACHE) || explicit_freshness(resp)))
        return GW_CACHE_STORE_OK;
    return GW_CACHE_NS_NO_FRESHNESS;
}

int64_t gw_cache_initial_age(const struct gw_cache_resp_info *resp, int64_t request_time,
                             int64_t response_time)
{
    int64_t apparent =
        resp->date >= 0 && response_time > resp->date ? response_time - resp->date : 0;
    int64_t delay = response_time > request_time ? response_time - request_time : 0;
    int64_t corrected = (resp->age >= 0 ? resp->age : 0) + delay;
    return apparent > corrected ? apparent : corrected;
}

/* 4.2.4: "A cache MUST NOT generate a stale response if it is prohibited by an explicit
 * in-protocol directive (e.g., by a no-cache response directive, a must-revalidate response
 * directive, or an applicable s-maxage or proxy-revalidate response directive". */
static bool stale_forbidden(const struct gw_cc *resp_cc)
{
    return (resp_cc->flags & (GW_CC_NO_CACHE | GW_CC_MUST_REVALIDATE | GW_CC_PROXY_REVALIDATE)) ||
           resp_cc->s_maxage >= 0;
}

static int64_t min_pos(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

enum gw_cache_use gw_cache_usable(const struct gw_cc *resp_cc, int64_t lifetime, int64_t age,
                                  const struct gw_cc *req_cc, int64_t max_swr)
{
    if ((resp_cc->flags & GW_CC_NO_CACHE) || (req_cc->flags & GW_CC_NO_CACHE))
        return GW_CACHE_USE_VALIDATE;
    /* 5.2.1.1: a request max-age says how old an answer may be; with max-stale it still
     * bounds the age. A malformed one asks for a fresh answer from the origin. */
    if (req_cc->flags & GW_CC_BAD_FRESHNESS)
        return GW_CACHE_USE_VALIDATE;
    if (req_cc->max_age >= 0 && age > req_cc->max_age)
        return GW_CACHE_USE_VALIDATE;
    if (req_cc->min_fresh >= 0 && lifetime - age < req_cc->min_fresh)
        return GW_CACHE_USE_VALIDATE;
    if (lifetime > age)
        return GW_CACHE_USE_FRESH;
    if (stale_forbidden(resp_cc))
        return GW_CACHE_USE_VALIDATE;
    int64_t staleness = age - lifetime;
    if ((req_cc->flags & GW_CC_MAX_STALE_ANY) ||
        (req_cc->max_stale >= 0 && staleness <= req_cc->max_stale))
        return GW_CACHE_USE_STALE;
    if (resp_cc->stale_while_revalidate >= 0 &&
        staleness < min_pos(resp_cc->stale_while_revalidate, max_swr))
        return GW_CACHE_USE_SWR;
    return GW_CACHE_USE_VALIDATE;
}

bool gw_cache_stale_if_error(const struct gw_cc *resp_cc, int64_t lifetime, int64_t age,
                             const struct gw_cc *req_cc, int64_t max_sie)
{
    if (stale_forbidden(resp_cc))
        return false;
    int64_t allowed = resp_cc->stale_if_error > req_cc->stale_if_error ? resp_cc->stale_if_error
                                                                       : req_cc->stale_if_error;
    if (allowed < 0)
        return false;
    return age - lifetime <= min_pos(allowed, max_sie);
}
