/*
 * "upstream_tls" of a service: how gantry speaks TLS to the service's https:// targets
 * (certificate verification, CA bundle, SNI, client certificate, session reuse).
 *
 * docs/config.md documents every row; README "TLS to upstreams" explains the behaviour. The
 * files are read here, so a missing CA or a client certificate that does not match its key is a
 * config error with its position, and a reload with it changes nothing.
 */
#include "config/internal.h"
#include "tls/tls.h"

#include <string.h>

#define UT(field) offsetof(struct gw_service_conf, upstream_tls.field)

/* A host name to send as SNI and to verify: DNS syntax, lowercased (no wildcard, no port). */
static bool check_server_name(struct gw__cfg_ctx *ctx, char **s)
{
    char *v = *s;
    size_t n = strlen(v);
    bool ok = n > 0 && n < 254 && v[0] != '.' && v[n - 1] != '.' && !strstr(v, "..");
    for (char *p = v; ok && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 'A' && ch <= 'Z')
            *p = (char)(ch - 'A' + 'a');
        else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
            ok = false;
    }
    if (!ok)
        gw__cfg_error(ctx, "expected a host name (letters, digits, '-' and '.'), e.g. "
                           "\"api.internal.example\"");
    return ok;
}

static const struct gw__cfg_str server_name_check = {check_server_name};

static void upstream_tls_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    const struct gw_upstream_tls_conf *ut = &((struct gw_service_conf *)obj)->upstream_tls;
    char why[512];
    if (ut->ca && gw_tls_check_ca(ut->ca, why, sizeof why) < 0) {
        gw__cfg_push_key(ctx, "ca");
        gw__cfg_error(ctx, "%s", why);
        gw__cfg_pop(ctx);
    }
    if ((ut->cert == NULL) != (ut->key == NULL)) {
        gw__cfg_push_key(ctx, ut->cert ? "cert" : "key");
        gw__cfg_error(ctx, "a client certificate needs both \"cert\" and \"key\"");
        gw__cfg_pop(ctx);
    } else if (ut->cert) {
        struct gw_tls_cert_info info;
        if (gw_tls_cert_check(ut->cert, ut->key, &info, why, sizeof why) < 0)
            gw__cfg_cert_error(ctx, ut->cert, ut->key, why);
    }
}

static const struct gw__cfg_enum upstream_tls_versions[] = {
    {"1.2", 0x0303},
    {"1.3", 0x0304},
    {NULL, 0},
};

static const struct gw__cfg_field upstream_tls_fields[] = {
    {.name = "verify", .type = &gw__cfg_bool_type, .offset = UT(verify), .def = "true"},
    {.name = "ca", .type = &gw__cfg_string_type, .offset = UT(ca)},
    {.name = "server_name",
     .type = &gw__cfg_string_type,
     .offset = UT(server_name),
     .arg = &server_name_check},
    {.name = "cert", .type = &gw__cfg_string_type, .offset = UT(cert)},
    {.name = "key", .type = &gw__cfg_string_type, .offset = UT(key)},
    {.name = "session_reuse",
     .type = &gw__cfg_bool_type,
     .offset = UT(session_reuse),
     .def = "true"},
    {.name = "min_version",
     .type = &gw__cfg_enum_type,
     .offset = UT(min_version),
     .arg = upstream_tls_versions,
     .def = "1.2"},
};

const struct gw__cfg_object gw__cfg_service_upstream_tls_obj = {
    .what = "upstream_tls",
    .fields = upstream_tls_fields,
    .nfields = sizeof upstream_tls_fields / sizeof upstream_tls_fields[0],
    .check = upstream_tls_check,
};

/* ---- "client_cert" of a service -------------------------------------------------------------- */

#define CC(field) offsetof(struct gw_service_conf, client_cert.field)

/* Only a listener that asks for certificates can give a service one to check. */
static void client_cert_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    const struct gw_service_conf *sc = obj;
    char why[512];
    if (!ctx->root->tls.enabled || !ctx->root->tls.client_auth.enabled)
        gw__cfg_error(ctx, "needs tls.client_auth (with \"required\": false, the listener asks "
                           "every client for a certificate and serves other services without "
                           "one)");
    if (sc->client_cert.ca && gw_tls_check_ca(sc->client_cert.ca, why, sizeof why) < 0) {
        gw__cfg_push_key(ctx, "ca");
        gw__cfg_error(ctx, "%s", why);
        gw__cfg_pop(ctx);
    }
}

static const struct gw__cfg_field client_cert_fields[] = {
    {.name = "ca", .type = &gw__cfg_string_type, .offset = CC(ca)},
};

const struct gw__cfg_object gw__cfg_service_client_cert_obj = {
    .what = "client_cert",
    .fields = client_cert_fields,
    .nfields = sizeof client_cert_fields / sizeof client_cert_fields[0],
    .check = client_cert_check,
    .toggle = true,
    .enabled_offset = CC(enabled),
};
