/*
 * Web origins (RFC 6454), as browsers send them in Origin and imply in Referer, and the
 * origin patterns a config lists for CORS and the CSRF check: exact ("https://app.example.com"),
 * subdomain wildcards (host "*.example.com" after the scheme), the opaque origin "null", and
 * "*".
 *
 * Pure code over (pointer, length): no allocation, no I/O; fuzzed (fuzz/fuzz_origin.c).
 * Comparison follows the origin's tuple (scheme, host, port): scheme and host without regard to
 * ASCII case, and a port equal to the scheme's default (80 for http and ws, 443 for https and
 * wss) the same as no port, so "https://a.example:443" is "https://a.example".
 */
#ifndef GW_POLICY_ORIGIN_H
#define GW_POLICY_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest origin gantry considers (scheme, "://", a 253-byte DNS name, ":65535"). An Origin
 * header longer than this matches nothing. */
#define GW_ORIGIN_MAX 272

/* An origin: a tuple (scheme, host, port), or the opaque origin "null". The slices point into
 * the parsed text. */
struct gw_origin {
    bool opaque;        /** "null": the rest is empty */
    const char *scheme; /** "https" (any case) */
    size_t scheme_len;
    const char *host; /** "app.example.com", "192.0.2.1" or "[2001:db8::1]" (brackets kept) */
    size_t host_len;
    uint32_t port; /** the port, or the scheme's default; 0: no port and no default known */
};

/* Parses a serialized origin, as an Origin header carries it: "scheme://host[:port]" (exactly
 * that: no path, no trailing '/', no user information), or "null" (opaque). Returns 0 and fills
 * *o, or -1. */
int gw_origin_parse(const char *s, size_t n, struct gw_origin *o);

/* The origin of an absolute URL ("https://app.example.com/page?q" gives
 * "https://app.example.com"), as a Referer header carries it. -1 when s is not an absolute URL
 * with a host (scheme://host...), or has user information (browsers never send one). */
int gw_origin_of_url(const char *s, size_t n, struct gw_origin *o);

/* Writes o's serialization as a browser sends it (RFC 6454 6.2: scheme and host lowercased,
 * ":port" only when not the scheme's default) into out (cap bytes, NUL-terminated). Returns its
 * length, or 0 when o is opaque or it does not fit. */
size_t gw_origin_serialize(const struct gw_origin *o, char *out, size_t cap);

/* True when a and b are the same tuple origin (an opaque origin is never the same as any). */
bool gw_origin_same(const struct gw_origin *a, const struct gw_origin *b);

/* True when the request's Host header value (host[:port]) names o's host and port: a Host
 * without a port matches an origin on its scheme's default port. */
bool gw_origin_is_host(const struct gw_origin *o, const char *host, size_t host_len);

enum gw_origin_pattern_kind {
    GW_ORIGIN_EXACT = 0, /* one origin */
    GW_ORIGIN_WILDCARD,  /* host "*.suffix": hosts strictly under suffix (same scheme, port) */
    GW_ORIGIN_NULL,      /* "null": the opaque origin (sandboxed frames, file: and data: pages) */
    GW_ORIGIN_ANY,       /* "*" */
};

struct gw_origin_pattern {
    enum gw_origin_pattern_kind kind;
    struct gw_origin o; /** EXACT, WILDCARD (host: the suffix, after "*.") */
};

/* Parses a configured origin pattern from s (which it keeps pointing into). Returns 0, or -1
 * with *why saying what is wrong in words fit for a config error. */
int gw_origin_pattern_parse(const char *s, size_t n, struct gw_origin_pattern *p, const char **why);

/* True when origin o matches p. The opaque origin matches only "null" and "*"; a wildcard
 * matches hosts strictly under its suffix (host "*.example.com" matches "a.b.example.com", not
 * "example.com" nor "badexample.com"), with the same scheme and port. */
bool gw_origin_pattern_match(const struct gw_origin_pattern *p, const struct gw_origin *o);

#endif
