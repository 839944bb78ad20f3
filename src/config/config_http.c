/*
 * Config values with a network or HTTP meaning: the listen address, target URLs, path
 * prefixes, host patterns, method lists, the Host header mode, names and log destinations.
 */
#include "config/internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(base, f, T) ((T *)((char *)(base) + (f)->offset))

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void lower_n(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    }
}

static bool ip_literal(int af, const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(af, buf, addr) == 1;
}

static bool only_digits_and_dots(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
            return false;
    }
    return true;
}

/* A DNS name (letters, digits, '-' and, for container names, '_') or an IPv4 literal. Returns
 * NULL or what is wrong. */
static const char *check_host_name(const char *s, size_t n)
{
    if (n == 0)
        return "missing host";
    if (only_digits_and_dots(s, n))
        return ip_literal(AF_INET, s, n) ? NULL : "invalid IPv4 address";
    if (n > 253)
        return "host name longer than 253 characters";
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return "empty label in host name";
            if (s[i - 1] == '-')
                return "a host name label must not end with \"-\"";
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_')
            return "invalid character in host name (letters, digits, \"-\", \"_\" and \".\")";
        if (c == '-' && label == 0)
            return "a host name label must not start with \"-\"";
        if (++label > 63)
            return "host name label longer than 63 characters";
    }
    if (label == 0)
        return "a host name must not end with \".\"";
    if (s[n - 1] == '-')
        return "a host name label must not end with \"-\"";
    return NULL;
}

struct authority {
    const char *host; /* without brackets */
    size_t host_len;
    bool ipv6;
    bool has_port;
    uint16_t port;
};

static const char *parse_port(const char *p, const char *end, uint16_t *port)
{
    unsigned long v = 0;
    if (p == end)
        return "missing port after \":\"";
    for (const char *q = p; q < end; q++) {
        if (*q < '0' || *q > '9')
            return "the port must be a number between 1 and 65535";
        v = v * 10 + (unsigned long)(*q - '0');
        if (v > 65535)
            return "the port must be a number between 1 and 65535";
    }
    if (v == 0)
        return "the port must be a number between 1 and 65535";
    *port = (uint16_t)v;
    return NULL;
}

/* host[:port] or [v6][:port]; the host may be empty (the caller decides). */
static const char *parse_authority(const char *a, size_t n, struct authority *out)
{
    const char *end = a + n;
    const char *rest;
    memset(out, 0, sizeof *out);
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (close == NULL)
            return "unterminated \"[\" in IPv6 address";
        out->host = a + 1;
        out->host_len = (size_t)(close - a - 1);
        out->ipv6 = true;
        if (!ip_literal(AF_INET6, out->host, out->host_len))
            return "invalid IPv6 address";
        rest = close + 1;
        if (rest < end && *rest != ':')
            return "unexpected characters after \"]\"";
    } else {
        const char *colon = memchr(a, ':', n);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return "an IPv6 address must be written in brackets, as in \"[::1]:8000\"";
        out->host = a;
        out->host_len = colon ? (size_t)(colon - a) : n;
        rest = colon ? colon : end;
        if (out->host_len > 0) {
            const char *why = check_host_name(out->host, out->host_len);
            if (why)
                return why;
        }
    }
    if (rest < end) {
        out->has_port = true;
        return parse_port(rest + 1, end, &out->port);
    }
    return NULL;
}

/* ---- listen ---------------------------------------------------------------------------------- */

static void parse_listen(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    char *s = NULL;
    char *host = NULL;
    uint16_t port = 0;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || i > 65535) {
            gw__cfg_error(ctx, "the port must be a number between 1 and 65535");
            return;
        }
        port = (uint16_t)i;
        host = strndup("0.0.0.0", 7);
    } else {
        if (!json_is_string(v)) {
            gw__cfg_error(ctx, "expected a string such as \"0.0.0.0:8000\", got %s",
                          gw__cfg_json_kind(v));
            return;
        }
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
        struct authority a;
        const char *why = parse_authority(s, strlen(s), &a);
        if (why == NULL && !a.has_port)
            why = "missing port (expected \"host:port\", e.g. \"0.0.0.0:8000\")";
        if (why == NULL && a.host_len > 0 && !a.ipv6 && !ip_literal(AF_INET, a.host, a.host_len))
            why = "the listen host must be an IP address (\"0.0.0.0:8000\", \"[::]:8000\")";
        if (why) {
            char q[96];
            gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(s, strlen(s), q, sizeof q), why);
            free(s);
            return;
        }
        port = a.port;
        host = a.host_len > 0 ? strndup(a.host, a.host_len) : strndup("0.0.0.0", 7);
        free(s);
    }
    if (host == NULL) {
        ctx->oom = true;
        return;
    }
    free(cfg->listen_host);
    cfg->listen_host = host;
    cfg->listen_port = port;
}

static void release_listen(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->listen_host);
    cfg->listen_host = NULL;
}

const struct gw__cfg_type gw__cfg_listen_type = {"address", parse_listen, release_listen};

/* ---- target URL ------------------------------------------------------------------------------ */

static bool starts_with_nocase(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

/* Returns NULL or what is wrong with url; fills t's host, authority, port, ipv6 on success
 * (*oom on allocation failure). */
static const char *parse_url(const char *url, struct gw_target_conf *t, bool *oom)
{
    size_t n = strlen(url);
    const char *end = url + n;
    if (!starts_with_nocase(url, n, "http://")) {
        if (starts_with_nocase(url, n, "https://"))
            return "https targets are not supported yet (expected http://host:port)";
        return "not a URL (expected http://host:port)";
    }
    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *tail = auth + alen;
    if (memchr(auth, '@', alen))
        return "user information (\"user@\") is not allowed in a target URL";
    if (*tail == '?')
        return "a query is not allowed in a target URL";
    if (*tail == '#')
        return "a fragment is not allowed in a target URL";
    if (*tail == '/' && tail + 1 != end)
        return "a path is not allowed in a target URL (the request's path is forwarded; see "
               "strip_prefix)";
    struct authority a;
    const char *bad = parse_authority(auth, alen, &a);
    if (bad)
        return bad;
    if (a.host_len == 0)
        return "missing host (expected http://host:port)";
    t->host = strndup(a.host, a.host_len);
    t->authority = strndup(auth, alen);
    if (t->host == NULL || t->authority == NULL) {
        *oom = true;
        return NULL;
    }
    lower_n(t->host, a.host_len);
    t->port = a.has_port ? a.port : 80;
    t->ipv6 = a.ipv6;
    return NULL;
}

static void release_url(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_target_conf *t = base;
    free(t->url);
    free(t->host);
    free(t->authority);
    t->url = NULL;
    t->host = NULL;
    t->authority = NULL;
}

static void parse_url_value(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                            const struct gw__cfg_field *f)
{
    struct gw_target_conf *t = base;
    char *s;
    bool oom = false;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    release_url(base, f);
    const char *why = strlen(s) > 2048 ? "URL longer than 2048 characters" : parse_url(s, t, &oom);
    if (why || oom) {
        char q[96];
        if (why)
            gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(s, strlen(s), q, sizeof q), why);
        else
            ctx->oom = true;
        free(s);
        release_url(base, f);
        return;
    }
    t->url = s;
}

const struct gw__cfg_type gw__cfg_url_type = {"URL", parse_url_value, release_url};

/* ---- methods --------------------------------------------------------------------------------- */

static const char method_list[] = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH or TRACE";

static void parse_methods(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                          const struct gw__cfg_field *f)
{
    uint32_t mask = 0;
    bool is_array = json_is_array(v);
    size_t n = is_array ? json_array_size(v) : 1;
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string or an array of strings, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (n == 0) {
        gw__cfg_error(ctx, "must not be empty (leave \"methods\" out to allow every method)");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *s;
        if (is_array)
            gw__cfg_push_index(ctx, i);
        if (gw__cfg_get_string(ctx, is_array ? json_array_get(v, i) : v, &s)) {
            size_t len = strlen(s);
            char up[16];
            enum gw_http_method m = GW_METHOD_OTHER;
            if (len < sizeof up) {
                for (size_t k = 0; k <= len; k++)
                    up[k] = (s[k] >= 'a' && s[k] <= 'z') ? (char)(s[k] - 'a' + 'A') : s[k];
                m = gw_http_method_id(up, len);
            }
            char q[96];
            if (m == GW_METHOD_CONNECT)
                gw__cfg_error(ctx, "CONNECT is not supported (expected %s)", method_list);
            else if (m == GW_METHOD_OTHER)
                gw__cfg_error(ctx, "unknown method %s (expected %s)",
                              gw__cfg_quote(s, len, q, sizeof q), method_list);
            else if (mask & (1u << m))
                gw__cfg_error(ctx, "%s is listed twice", gw__cfg_quote(s, len, q, sizeof q));
            else
                mask |= 1u << m;
            free(s);
        }
        if (is_array)
            gw__cfg_pop(ctx);
    }
    *FIELD(base, f, uint32_t) = mask;
}

const struct gw__cfg_type gw__cfg_methods_type = {"string or array of strings", parse_methods,
                                                  NULL};

/* ---- Host header ----------------------------------------------------------------------------- */

static void parse_host_header(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                              const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    free(svc->host_value);
    svc->host_value = NULL;
    if (strcmp(s, "client") == 0) {
        svc->host_mode = GW_HOST_CLIENT;
        free(s);
        return;
    }
    if (strcmp(s, "target") == 0) {
        svc->host_mode = GW_HOST_TARGET;
        free(s);
        return;
    }
    struct authority a;
    const char *why = parse_authority(s, strlen(s), &a);
    if (why == NULL && a.host_len == 0)
        why = "missing host";
    if (why) {
        char q[96];
        gw__cfg_error(ctx,
                      "%s: %s (expected \"client\", \"target\" or a fixed host such as "
                      "\"api.example.com\")",
                      gw__cfg_quote(s, strlen(s), q, sizeof q), why);
        free(s);
        return;
    }
    svc->host_mode = GW_HOST_FIXED;
    svc->host_value = s;
}

static void release_host_header(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_service_conf *svc = base;
    free(svc->host_value);
    svc->host_value = NULL;
}

const struct gw__cfg_type gw__cfg_host_header_type = {"string", parse_host_header,
                                                      release_host_header};

/* ---- string checks --------------------------------------------------------------------------- */

bool gw__cfg_check_name(struct gw__cfg_ctx *ctx, char **s)
{
    size_t n = strlen(*s);
    bool ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++) {
        char c = (*s)[i];
        ok = is_alnum(c) || c == '_' || c == '.' || c == '-';
    }
    if (!ok) {
        char q[96];
        gw__cfg_error(ctx,
                      "%s is not a valid name (1 to 64 letters, digits, \"_\", \".\" or \"-\")",
                      gw__cfg_quote(*s, n, q, sizeof q));
    }
    return ok;
}

/* RFC 3986 pchar without pct-encoded, plus '/'. */
static bool is_path_char(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

bool gw__cfg_check_prefix(struct gw__cfg_ctx *ctx, char **s)
{
    char *p = *s;
    size_t n = strlen(p);
    char q[96];
    if (p[0] != '/') {
        gw__cfg_error(ctx, "%s: a prefix must start with \"/\"", gw__cfg_quote(p, n, q, sizeof q));
        return false;
    }
    if (n > 1024) {
        gw__cfg_error(ctx, "a prefix must not be longer than 1024 characters");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '?' || c == '#' || c == '%') {
            gw__cfg_error(ctx, "%s: a prefix must not contain \"%c\"",
                          gw__cfg_quote(p, n, q, sizeof q), c);
            return false;
        }
        if (!is_path_char(c)) {
            gw__cfg_error(ctx,
                          "%s: a prefix may only contain letters, digits, \"/\" and "
                          "-._~!$&'()*+,;=:@",
                          gw__cfg_quote(p, n, q, sizeof q));
            return false;
        }
    }
    if (strstr(p, "//")) {
        gw__cfg_error(ctx, "%s: a prefix must not contain \"//\"",
                      gw__cfg_quote(p, n, q, sizeof q));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '/')
            continue;
        const char *seg = p + i + 1;
        size_t len = strcspn(seg, "/");
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')) {
            gw__cfg_error(ctx, "%s: a prefix must not contain \".\" or \"..\" segments",
                          gw__cfg_quote(p, n, q, sizeof q));
            return false;
        }
    }
    if (n > 1 && p[n - 1] == '/')
        p[n - 1] = '\0';
    return true;
}

bool gw__cfg_check_host_pattern(struct gw__cfg_ctx *ctx, char **s)
{
    char *p = *s;
    size_t n = strlen(p);
    char q[96];
    const char *why = NULL;
    lower_n(p, n);
    if (strcmp(p, "*") == 0)
        why = "\"*\" would match every host: leave \"hosts\" out instead";
    else if (n >= 2 && p[0] == '*' && p[1] == '.')
        why = strchr(p + 2, '*') ? "a wildcard is only allowed as the first label" : NULL;
    else if (strchr(p, '*'))
        why = "a wildcard is only allowed as the whole first label, as in \"*.example.com\"";
    else if (strchr(p, ':'))
        why = "a host pattern must not contain a port";
    if (why == NULL) {
        const char *name = (p[0] == '*') ? p + 2 : p;
        why = check_host_name(name, strlen(name));
    }
    if (why)
        gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(p, n, q, sizeof q), why);
    return why == NULL;
}

bool gw__cfg_check_access_log(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0') {
        gw__cfg_error(ctx, "must not be empty (\"stdout\", \"stderr\", \"off\" or a file path)");
        return false;
    }
    return true;
}

bool gw__cfg_check_error_log(struct gw__cfg_ctx *ctx, char **s)
{
    if ((*s)[0] == '\0') {
        gw__cfg_error(ctx, "must not be empty (\"stderr\", \"stdout\" or a file path)");
        return false;
    }
    if (strcmp(*s, "off") == 0) {
        gw__cfg_error(ctx, "the error log cannot be turned off (\"stderr\", \"stdout\" or a file "
                           "path)");
        return false;
    }
    return true;
}
