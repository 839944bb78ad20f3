/*
 * Config values with a network or HTTP meaning: the listen address, target URLs, path
 * prefixes, host patterns, method lists, the Host header mode, names and log destinations.
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/url.h"

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
        struct gw_url_authority a;
        const char *why = NULL;
        if (gw_url_parse_authority(s, strlen(s), &a, &why) == 0 && !a.has_port)
            why = "missing port (expected \"host:port\", e.g. \"0.0.0.0:8000\")";
        if (why == NULL && a.host_len > 0 && a.kind == GW_URL_HOST_NAME)
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

void gw__cfg_url_error(struct gw__cfg_ctx *ctx, const char *url, const char *why)
{
    char shown[128];
    char q[96];
    gw_url_redact(url, strlen(url), shown, sizeof shown);
    gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(shown, strlen(shown), q, sizeof q), why);
}

/* Returns NULL or what is wrong with url as a target; fills t's host, authority, port, ipv6 on
 * success (*oom on allocation failure). */
static const char *parse_url(const char *url, struct gw_target_conf *t, bool *oom)
{
    size_t n = strlen(url);
    const char *why = NULL;
    struct gw_url u;

    if (n > 2048)
        return "URL longer than 2048 characters";
    switch (gw_url_scheme_of(url, n)) {
    case GW_URL_HTTP:
        t->tls = false;
        break;
    case GW_URL_HTTPS:
        t->tls = true;
        break;
    default:
        return "not a URL (expected http://host:port or https://host:port)";
    }
    if (gw_url_parse(url, n, &u, &why) < 0)
        return why;
    if (u.user != NULL)
        return "user information (\"user@\") is not allowed in a target URL";
    if (u.query != NULL)
        return "a query is not allowed in a target URL";
    if (u.fragment != NULL)
        return "a fragment is not allowed in a target URL";
    if (u.path_len > 1)
        return "a path is not allowed in a target URL (the request's path is forwarded; see "
               "strip_prefix)";
    t->host = strndup(u.host.host, u.host.host_len);
    t->authority = strndup(u.authority, u.authority_len);
    if (t->host == NULL || t->authority == NULL) {
        *oom = true;
        return NULL;
    }
    lower_n(t->host, u.host.host_len);
    t->port = u.port;
    t->ipv6 = u.host.kind == GW_URL_HOST_IPV6;
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
    const char *why = parse_url(s, t, &oom);
    if (why || oom) {
        if (why)
            gw__cfg_url_error(ctx, s, why);
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
    struct gw_url_authority a;
    const char *why = NULL;
    if (gw_url_parse_authority(s, strlen(s), &a, &why) == 0 && a.host_len == 0)
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
        why = gw_url_check_host_name(name, strlen(name));
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
