/*
 * The "tls" section of the config schema: the HTTPS listener, its certificates (each checked
 * here, so a bad file is a config error with its position), protocol settings, session
 * resumption and the plain-HTTP redirect.
 *
 * docs/config.md documents every row; README "HTTPS" explains the behaviour.
 */
#include "config/internal.h"
#include "tls/tls.h"

#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])
#define TC(field) offsetof(struct gw_tls_conf, field)
#define CC(field) offsetof(struct gw_tls_cert_conf, field)

/* "tls.listen": an address as for the top-level "listen". */
static void parse_tls_listen(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                             const struct gw__cfg_field *f)
{
    struct gw_tls_conf *tc = base;
    struct gw_config tmp;
    memset(&tmp, 0, sizeof tmp);
    gw__cfg_listen_type.parse(ctx, v, &tmp, f);
    if (tmp.listen_host == NULL)
        return;
    free(tc->listen_host);
    tc->listen_host = tmp.listen_host;
    tc->listen_port = tmp.listen_port;
}

static void release_tls_listen(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_tls_conf *tc = base;
    free(tc->listen_host);
    tc->listen_host = NULL;
}

static const struct gw__cfg_type tls_listen_type = {"address", parse_tls_listen,
                                                    release_tls_listen};

/* "redirect_http": false (default), true (every host), or host patterns ("*" = every host). */
static void parse_redirect(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_tls_conf *tc = base;
    if (json_is_boolean(v)) {
        tc->redirect_all = json_is_true(v);
        return;
    }
    if (!json_is_string(v) && !json_is_array(v)) {
        gw__cfg_error(ctx,
                      "expected a boolean or host names (\"api.example.com\", "
                      "\"*.example.com\", \"*\"), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    tc->redirect_hosts = calloc(n ? n : 1, sizeof(char *));
    if (!tc->redirect_hosts) {
        ctx->oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
        if (json_is_array(v))
            gw__cfg_push_index(ctx, i);
        char *s = NULL;
        if (!json_is_string(item)) {
            gw__cfg_error(ctx, "expected a host name, got %s", gw__cfg_json_kind(item));
        } else if (gw__cfg_get_string(ctx, item, &s)) {
            if (!json_is_array(v) && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
                tc->redirect_all = s[0] == 't'; /* the default, or a ${ENV} switch */
                free(s);
            } else if (strcmp(s, "*") == 0) {
                tc->redirect_all = true;
                free(s);
            } else if (gw__cfg_check_host_pattern(ctx, &s)) {
                tc->redirect_hosts[tc->nredirect_hosts++] = s;
            } else {
                free(s);
            }
        }
        if (json_is_array(v))
            gw__cfg_pop(ctx);
    }
}

static void release_redirect(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_tls_conf *tc = base;
    for (size_t i = 0; i < tc->nredirect_hosts; i++)
        free(tc->redirect_hosts[i]);
    free(tc->redirect_hosts);
    tc->redirect_hosts = NULL;
    tc->nredirect_hosts = 0;
}

static const struct gw__cfg_type redirect_type = {"boolean or host names", parse_redirect,
                                                  release_redirect};

static bool check_ciphers(struct gw__cfg_ctx *ctx, char **s)
{
    char why[256];
    if (gw_tls_check_list(*s, false, false, why, sizeof why) == 0)
        return true;
    gw__cfg_error(ctx, "%s", why);
    return false;
}

static bool check_suites(struct gw__cfg_ctx *ctx, char **s)
{
    char why[256];
    if (gw_tls_check_list(*s, true, false, why, sizeof why) == 0)
        return true;
    gw__cfg_error(ctx, "%s", why);
    return false;
}

static bool check_curves(struct gw__cfg_ctx *ctx, char **s)
{
    char why[256];
    if (gw_tls_check_list(*s, false, true, why, sizeof why) == 0)
        return true;
    gw__cfg_error(ctx, "%s", why);
    return false;
}

static const struct gw__cfg_str ciphers_check = {check_ciphers};
static const struct gw__cfg_str suites_check = {check_suites};
static const struct gw__cfg_str curves_check = {check_curves};

/* A certificate and its key are read now: one that does not load, does not match its key or
 * lists its chain out of order is an error at "cert", a staple that is not about it one at
 * "ocsp_staple", so a reload with it changes nothing. */
/* Whether why is about file: it starts with the file's path and a colon, or is cut short
 * within the path (a path longer than why). */
static bool why_names(const char *why, const char *file, size_t *after)
{
    size_t n = strlen(file);
    size_t w = strlen(why);
    *after = n < w ? n : w;
    return w <= n ? strncmp(why, file, w) == 0 : strncmp(why, file, n) == 0 && why[n] == ':';
}

void gw__cfg_cert_error(struct gw__cfg_ctx *ctx, const char *cert, const char *key, const char *why)
{
    size_t at;
    size_t cert_at;
    /* the key file unreadable, or no key: at "key"; a key that does not match the leaf, at
     * "cert" (the leaf may be the one out of place) */
    bool at_key = strcmp(cert, key) != 0 && why_names(why, key, &at) &&
                  !why_names(why, cert, &cert_at) &&
                  (why[at] == '\0' || strncmp(why + at, ": cannot open", 13) == 0 ||
                   strncmp(why + at, ": no PEM private key", 20) == 0);
    gw__cfg_push_key(ctx, at_key ? "key" : "cert");
    gw__cfg_error(ctx, "%s", why);
    gw__cfg_pop(ctx);
}

static void cert_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_tls_cert_conf *cc = obj;
    struct gw_tls_cert_info info;
    char why[512];
    if (!cc->cert || !cc->key)
        return;
    if (gw_tls_cert_check(cc->cert, cc->key, &info, why, sizeof why) < 0) {
        gw__cfg_cert_error(ctx, cc->cert, cc->key, why);
        return;
    }
    /* The staple is read now too: the file is a successful OCSP response about this very
     * certificate, or the config (and a reload with it) is refused. */
    bool stale;
    if (cc->ocsp &&
        gw_tls_ocsp_check(cc->ocsp, cc->cert, NULL, NULL, &stale, why, sizeof why) < 0) {
        gw__cfg_push_key(ctx, "ocsp_staple");
        gw__cfg_error(ctx, "%s", why);
        gw__cfg_pop(ctx);
    }
}

/* A header name we set upstream: a token, stored lowercased (compared case-insensitively). */
static bool check_header_name(struct gw__cfg_ctx *ctx, char **s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    char *v = *s;
    if (!v[0]) {
        gw__cfg_error(ctx, "expected a header name");
        return false;
    }
    for (char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              strchr(tchar, ch))) {
            gw__cfg_error(ctx, "not a header name (letters, digits and !#$%%&'*+-.^_`|~ only)");
            return false;
        }
        if (ch >= 'A' && ch <= 'Z')
            *p = (char)(ch - 'A' + 'a');
    }
    return true;
}
static const struct gw__cfg_str header_check = {check_header_name};

static void client_auth_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_tls_client_auth_conf *ca = obj;
    char why[512];
    if (ca->ca && gw_tls_check_ca(ca->ca, why, sizeof why) < 0) {
        gw__cfg_push_key(ctx, "ca");
        gw__cfg_error(ctx, "%s", why);
        gw__cfg_pop(ctx);
    }
    if (ca->subject_header && ca->san_header && strcmp(ca->subject_header, ca->san_header) == 0) {
        gw__cfg_push_key(ctx, "san_header");
        gw__cfg_error(ctx, "must differ from subject_header");
        gw__cfg_pop(ctx);
    }
}

#define CA(field) offsetof(struct gw_tls_client_auth_conf, field)
static const struct gw__cfg_range depth_range = {1, 16};
static const struct gw__cfg_field client_auth_fields[] = {
    {.name = "ca", .type = &gw__cfg_string_type, .offset = CA(ca), .required = true},
    {.name = "required", .type = &gw__cfg_bool_type, .offset = CA(required), .def = "true"},
    {.name = "verify_depth",
     .type = &gw__cfg_uint32_type,
     .offset = CA(verify_depth),
     .arg = &depth_range,
     .def = "4"},
    {.name = "subject_header",
     .type = &gw__cfg_string_type,
     .offset = CA(subject_header),
     .arg = &header_check,
     .def = "x-client-cert-subject"},
    {.name = "san_header",
     .type = &gw__cfg_string_type,
     .offset = CA(san_header),
     .arg = &header_check,
     .def = "x-client-cert-san"},
};
static const struct gw__cfg_object client_auth_obj = {
    .what = "client_auth",
    ROWS(client_auth_fields),
    .check = client_auth_check,
    .toggle = true,
    .enabled_offset = CA(enabled),
};

static const struct gw__cfg_field cert_fields[] = {
    {.name = "cert", .type = &gw__cfg_string_type, .offset = CC(cert), .required = true},
    {.name = "key", .type = &gw__cfg_string_type, .offset = CC(key), .required = true},
    {.name = "server_names",
     .type = &gw__cfg_strlist_type,
     .offset = CC(names),
     .arg = &(const struct gw__cfg_strlist){.count_offset = CC(nnames),
                                            .check = gw__cfg_check_host_pattern,
                                            .unique = true}},
    {.name = "ocsp_staple", .type = &gw__cfg_string_type, .offset = CC(ocsp)},
};
static const struct gw__cfg_object cert_obj = {.what = "certificate",
                                               ROWS(cert_fields),
                                               .size = sizeof(struct gw_tls_cert_conf),
                                               .check = cert_check};

static const struct gw__cfg_enum tls_versions[] = {
    {"1.2", 0x0303},
    {"1.3", 0x0304},
    {NULL, 0},
};

static const struct gw__cfg_range rotation_range = {60 * 1000, 7 * 24 * 3600 * 1000ull};
static const struct gw__cfg_range session_timeout_range = {1000, 7 * 24 * 3600 * 1000ull};
static const struct gw__cfg_range cache_range = {0, 10 * 1000 * 1000};

/* The HTTPS port must not be the plain one. */
static void tls_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_tls_conf *tc = obj;
    const struct gw_config *cfg = ctx->root;
    if (tc->listen_host && cfg->listen_host && tc->listen_port == cfg->listen_port) {
        gw__cfg_push_key(ctx, "listen");
        gw__cfg_error(ctx, "the HTTPS listener needs its own port (\"listen\" uses %u)",
                      (unsigned)cfg->listen_port);
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_field tls_fields[] = {
    {.name = "listen", .type = &tls_listen_type, .def = "0.0.0.0:8443"},
    {.name = "certificates",
     .type = &gw__cfg_list_type,
     .offset = TC(certs),
     .arg = &(const struct gw__cfg_list){.elem = &cert_obj, .count_offset = TC(ncerts), .min = 1},
     .required = true},
    {.name = "min_version",
     .type = &gw__cfg_enum_type,
     .offset = TC(min_version),
     .arg = tls_versions,
     .def = "1.2"},
    {.name = "ciphers",
     .type = &gw__cfg_string_type,
     .offset = TC(ciphers),
     .arg = &ciphers_check,
     .def = GW_TLS_DEFAULT_CIPHERS},
    {.name = "ciphersuites",
     .type = &gw__cfg_string_type,
     .offset = TC(ciphersuites),
     .arg = &suites_check,
     .def = GW_TLS_DEFAULT_CIPHERSUITES},
    {.name = "curves",
     .type = &gw__cfg_string_type,
     .offset = TC(curves),
     .arg = &curves_check,
     .def = GW_TLS_DEFAULT_CURVES},
    {.name = "session_tickets",
     .type = &gw__cfg_bool_type,
     .offset = TC(session_tickets),
     .def = "true"},
    {.name = "ticket_key_rotation",
     .type = &gw__cfg_duration_type,
     .offset = TC(ticket_key_rotation_ms),
     .arg = &rotation_range,
     .def = "1h"},
    {.name = "session_cache",
     .type = &gw__cfg_uint32_type,
     .offset = TC(session_cache),
     .arg = &cache_range,
     .def = "20000"},
    {.name = "session_timeout",
     .type = &gw__cfg_duration_type,
     .offset = TC(session_timeout_ms),
     .arg = &session_timeout_range,
     .def = "1h"},
    {.name = "redirect_http", .type = &redirect_type, .def = "false"},
    {.name = "client_auth",
     .type = &gw__cfg_object_type,
     .offset = TC(client_auth),
     .arg = &client_auth_obj,
     .def = "false"},
};

const struct gw__cfg_object gw__cfg_tls_obj = {
    .what = "tls",
    ROWS(tls_fields),
    .check = tls_check,
    .toggle = true,
    .enabled_offset = TC(enabled),
};
