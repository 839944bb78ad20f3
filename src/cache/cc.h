/*
 * Cache-Control (RFC 9111 5.2), request and response directives, and Pragma (5.4).
 *
 * Contract
 * - gw_cc_parse reads one field value into *cc; call it once per field line (several lines
 *   are one list, RFC 9110 5.3), after gw_cc_init. A pure function over (value, len): no
 *   allocation, never reads outside the value, any byte string is accepted.
 * - Directive names are compared case-insensitively; arguments may be tokens or quoted
 *   strings ("recipients ought to accept both forms", 5.2), so max-age="60" is 60.
 * - Numbers are delta-seconds (1.2.2): a value above 2^31 reads as 2^31.
 * - Malformed freshness (RFC 9111 4.2.1: "caches are encouraged to consider responses that
 *   have invalid freshness information (e.g., a max-age directive with non-integer content) to
 *   be stale"): a max-age or s-maxage without a number, with a bad number, or given twice with
 *   different values sets GW_CC_BAD_FRESHNESS, and gw_cache_freshness_lifetime (fresh.h) then
 *   gives 0. The smallest value seen is kept, which is what a request directive means when
 *   duplicated ("the most restrictive directive should be honored").
 * - no-cache and private with a field-name list are read as their unqualified forms (what
 *   RFC 9111 5.2.2.4 notes most caches do; it is the more restrictive reading).
 * - Unknown directives (extensions) and malformed elements are skipped; the rest of the list
 *   still counts.
 */
#ifndef GW_CACHE_CC_H
#define GW_CACHE_CC_H

#include <stddef.h>
#include <stdint.h>

enum {
    GW_CC_NO_STORE = 1u << 0,
    GW_CC_NO_CACHE = 1u << 1,
    GW_CC_PRIVATE = 1u << 2,
    GW_CC_PUBLIC = 1u << 3,
    GW_CC_MUST_REVALIDATE = 1u << 4,
    GW_CC_PROXY_REVALIDATE = 1u << 5,
    GW_CC_ONLY_IF_CACHED = 1u << 6,
    GW_CC_NO_TRANSFORM = 1u << 7,
    GW_CC_IMMUTABLE = 1u << 8,
    GW_CC_MUST_UNDERSTAND = 1u << 9,
    /** max-stale without an argument: any staleness is acceptable (5.2.1.2) */
    GW_CC_MAX_STALE_ANY = 1u << 10,
    /** max-age or s-maxage malformed or duplicated with different values */
    GW_CC_BAD_FRESHNESS = 1u << 11,
    /** at least one Cache-Control field line was seen (gw_cc_parse was called) */
    GW_CC_PRESENT = 1u << 12,
};

/* The directives of one message. Numbers are seconds, -1 when the directive is absent. */
struct gw_cc {
    uint32_t flags;
    int64_t max_age;
    int64_t s_maxage;
    int64_t max_stale; /* -1 also when GW_CC_MAX_STALE_ANY */
    int64_t min_fresh;
    int64_t stale_while_revalidate; /* RFC 5861 */
    int64_t stale_if_error;         /* RFC 5861 */
};

/* An empty set: no flags, every number -1. */
void gw_cc_init(struct gw_cc *cc);

/* Adds the directives of one Cache-Control field value (see the contract above). */
void gw_cc_parse(struct gw_cc *cc, const char *v, size_t n);

/*
 * Adds one Pragma field value of a request: "no-cache" there means Cache-Control: no-cache
 * when the request has no Cache-Control field (RFC 9111 5.4 leaves it to the cache; HTTP/1.0
 * clients send it). Call after every Cache-Control line was parsed.
 */
void gw_cc_parse_pragma(struct gw_cc *cc, const char *v, size_t n);

#endif
