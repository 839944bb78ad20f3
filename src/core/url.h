/*
 * One strict URL parser (RFC 3986 syntax, the schemes gantry talks to): target URLs, the URLs
 * gantry fetches (JWKS, introspection) and Redis URLs all go through it, so the config check
 * and the code that uses a URL can never disagree.
 *
 *   scheme "://" [ user [ ":" password ] "@" ] host [ ":" port ] [ path ] [ "?" query ]
 *   [ "#" fragment ]
 *
 * - scheme: http, https, redis or rediss, in any case. Anything else is refused.
 * - user and password: RFC 3986 userinfo characters and %XX escapes (a %00 is refused); the
 *   last "@" before the path ends them, so a password may hold a bare "@".
 * - host: a DNS name (letters, digits, "-", "_" for container names, labels of 1 to 63 bytes,
 *   253 bytes at most, no trailing dot), an IPv4 address in dotted-decimal, or an IPv6 address
 *   in brackets. Percent-escapes, zone ids and IPvFuture are refused.
 * - port: 1 to 65535 in at most 5 digits; absent, the scheme's (http 80, https 443, redis and
 *   rediss 6379).
 * - path, query, fragment: RFC 3986 characters and well-formed %XX escapes only (so no space,
 *   control byte or non-ASCII byte), kept as written.
 * - redis and rediss: the path is empty, "/" or "/DB" with DB a database number 0 to
 *   GW_URL_REDIS_MAX_DB.
 *
 * Errors are short static phrases ("missing port after \":\"") meant to follow a quote of the
 * URL in a config error (gw_url_redact hides the user and password first). Nothing here
 * allocates except gw_url_decode_dup.
 */
#ifndef GW_CORE_URL_H
#define GW_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_URL_REDIS_MAX_DB 100000u

enum gw_url_scheme {
    GW_URL_NONE,  /* no "scheme://" at the start */
    GW_URL_OTHER, /* a scheme gantry does not speak */
    GW_URL_HTTP,
    GW_URL_HTTPS,
    GW_URL_REDIS,
    GW_URL_REDISS,
};

enum gw_url_host_kind {
    GW_URL_HOST_NAME,
    GW_URL_HOST_IPV4,
    GW_URL_HOST_IPV6,
};

/* "host[:port]" or "[v6][:port]"; the parts point into the parsed text. */
struct gw_url_authority {
    /** without the brackets of an IPv6 literal; host_len 0: no host */
    const char *host;
    size_t host_len;
    enum gw_url_host_kind kind;
    bool has_port;
    /** when has_port */
    uint16_t port;
};

/* A parsed URL; every pointer points into the parsed text (not NUL-terminated). */
struct gw_url {
    enum gw_url_scheme scheme;
    /** user and password as written (percent-escapes kept: see gw_url_decode_dup). user is
     * NULL when there is no "@"; password is NULL when the userinfo has no ":". Either may be
     * empty ("redis://:pw@h" has an empty user) */
    const char *user;
    size_t user_len;
    const char *password;
    size_t password_len;
    /** "host[:port]" exactly as written, without the userinfo: a request's Host header */
    const char *authority;
    size_t authority_len;
    /** host (no brackets), its kind, the port (the scheme's when has_port is false) */
    struct gw_url_authority host;
    uint16_t port;
    /** "" or starting with "/" */
    const char *path;
    size_t path_len;
    /** after the "?"; NULL when there is no "?" */
    const char *query;
    size_t query_len;
    /** after the "#"; NULL when there is no "#" */
    const char *fragment;
    size_t fragment_len;
    /** redis and rediss: the database number of the path (0 when there is none) */
    uint32_t db;
};

/* The scheme s[0..n) starts with: GW_URL_NONE without a syntactically valid "scheme://". */
enum gw_url_scheme gw_url_scheme_of(const char *s, size_t n);

/*
 * Parses s[0..n) (see the top of this file). Returns 0 with *u filled, or GW_EINVAL with *why
 * set to what is wrong (static text) and *u unspecified.
 */
int gw_url_parse(const char *s, size_t n, struct gw_url *u, const char **why);

/*
 * Parses an authority on its own, "host[:port]" or "[v6][:port]" (a listen address, a Host
 * header value). An empty host is accepted (host_len 0: the caller decides); a ":" must be
 * followed by a port. Returns 0, or GW_EINVAL with *why.
 */
int gw_url_parse_authority(const char *s, size_t n, struct gw_url_authority *a, const char **why);

/* NULL when s[0..n) is a host name or IPv4 address the parser accepts, else what is wrong. */
const char *gw_url_check_host_name(const char *s, size_t n);

/*
 * A NUL-terminated copy of s[0..n) with %XX escapes decoded, to free(); NULL when out of
 * memory. Meant for the user and password of a parsed URL (escapes valid, no %00); a malformed
 * escape elsewhere is copied as it is.
 */
char *gw_url_decode_dup(const char *s, size_t n);

/*
 * Writes s[0..n) to out[0..cap) (cap >= 1; truncated, always NUL-terminated) with everything
 * between the "://" that comes before the first "@" (or the start, without one) and the last
 * "@" replaced by "***", so that an error message can quote a URL without its user and
 * password, however malformed the URL is.
 */
void gw_url_redact(const char *s, size_t n, char *out, size_t cap);

#endif
