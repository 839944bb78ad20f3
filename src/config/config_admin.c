/*
 * The "admin" section: where the admin API listens ("off" turns it off), its API key (which
 * a listener off loopback requires), the dashboard.
 */
#include "config/internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(t) (t), sizeof(t) / sizeof((t)[0])

/* An IP literal in 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
static bool is_loopback(const char *host)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) != 1)
        return false;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
    return memcmp(a, v6_loopback, 16) == 0 || (memcmp(a, v4_mapped, 12) == 0 && a[12] == 127);
}

/* "admin.listen": an address as for "listen", or "off" (also after ${ENV} substitution, so
 * "${ADMIN_LISTEN:-127.0.0.1:9000}" can turn it off). */
static void parse_admin_listen(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                               const struct gw__cfg_field *f)
{
    struct gw_config *cfg = base;
    if (json_is_string(v)) {
        char *s = NULL;
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
        bool off = strcmp(s, "off") == 0;
        free(s);
        if (off) {
            free(cfg->admin.listen_host);
            cfg->admin.listen_host = NULL;
            cfg->admin.listen_port = 0;
            cfg->admin.enabled = false;
            cfg->admin.loopback = false;
            return;
        }
    }
    /* The proxy listener's parser fills listen_host/listen_port of the struct it is given. */
    struct gw_config tmp;
    memset(&tmp, 0, sizeof tmp);
    gw__cfg_listen_type.parse(ctx, v, &tmp, f);
    if (tmp.listen_host == NULL)
        return;
    free(cfg->admin.listen_host);
    cfg->admin.listen_host = tmp.listen_host;
    cfg->admin.listen_port = tmp.listen_port;
    cfg->admin.enabled = true;
    cfg->admin.loopback = is_loopback(tmp.listen_host);
}

static void release_admin_listen(void *base, const struct gw__cfg_field *f)
{
    (void)f;
    struct gw_config *cfg = base;
    free(cfg->admin.listen_host);
    cfg->admin.listen_host = NULL;
}

static const struct gw__cfg_type admin_listen_type = {"address", parse_admin_listen,
                                                      release_admin_listen};

/* An empty key (e.g. "${ADMIN_API_KEY:-}" with the variable unset) means no key. */
static bool check_api_key(struct gw__cfg_ctx *ctx, char **s)
{
    (void)ctx;
    if ((*s)[0] == '\0') {
        free(*s);
        *s = NULL;
    }
    return true;
}
static const struct gw__cfg_str api_key_check = {check_api_key};

/* Anyone who can reach the admin API can reconfigure the gateway: off loopback, a key is
 * mandatory. */
static void admin_check(struct gw__cfg_ctx *ctx, void *obj, json_t *json)
{
    (void)json;
    struct gw_config *cfg = obj;
    if (!cfg->admin.enabled || cfg->admin.loopback || cfg->admin.api_key != NULL)
        return;
    gw__cfg_push_key(ctx, "listen");
    gw__cfg_error(ctx,
                  "the admin API listens on %s, which is not a loopback address: set "
                  "admin.api_key (e.g. \"${ADMIN_API_KEY}\") or listen on 127.0.0.1",
                  cfg->admin.listen_host);
    gw__cfg_pop(ctx);
}

static const struct gw__cfg_field admin_fields[] = {
    {.name = "listen", .type = &admin_listen_type, .def = "127.0.0.1:9000"},
    {.name = "api_key",
     .type = &gw__cfg_string_type,
     .offset = offsetof(struct gw_config, admin.api_key),
     .arg = &api_key_check},
    {.name = "dashboard",
     .type = &gw__cfg_bool_type,
     .offset = offsetof(struct gw_config, admin.dashboard),
     .def = "true"},
};
const struct gw__cfg_object gw__cfg_admin_obj = {
    .what = "admin", ROWS(admin_fields), .check = admin_check};
