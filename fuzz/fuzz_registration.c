/*
 * libFuzzer target for the registry's parsers: the first byte chooses
 *   - even: a registration body (POST /api/registrations, gw_registry_put) against a fixed
 *     configuration with registration on and an encryption key; its "sealed_token" goes
 *     through the opening of tokens sealed by `gantry register --encryption-key` (the seeds
 *     body_sealed* hold one sealed with the configuration's key for their name and url);
 *   - odd: the text of a registration store (registration.store, gw__registry_store_parse).
 * Invariants (any violation traps):
 *   - put answers 200/201 with an entry, or 400 with at least one {"path", "message"}, or
 *     409/503/500 with a reason; an entry has a 16-hex id, a prefix starting with '/', and its
 *     API view never holds the token it was given; the entry is removed again afterwards, so
 *     the registry stays empty between inputs;
 *   - the store parser returns 0 or GW_EINVAL/GW_ENOMEM; every entry it returns has a name, a
 *     url, a prefix starting with '/', and a token box exactly when it has a key id.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "core/error.h"
#include "registry/internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char conf_text[] =
    "{\"services\": [{\"name\": \"filesvc\", \"prefix\": \"/file\", \"targets\": "
    "[\"http://127.0.0.1:9\"]}], \"registration\": {\"encryption_key\": "
    "\"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"max_registrations\": "
    "4}}";

static struct gw_config *cfg;
static struct gw_registry *reg;
static uv_loop_t loop;

static void setup(void)
{
    struct gw_config_errors errs = {0};
    if (reg)
        return;
    CHECK(uv_loop_init(&loop) == 0);
    CHECK(gw_config_load_string("fuzz", conf_text, sizeof conf_text - 1, &cfg, &errs) == 0);
    gw_config_errors_free(&errs);
    CHECK(gw_registry_new(&loop, NULL, NULL, &reg) == 0);
    gw_registry_set_file_doc(reg, cfg->source);
}

static void fuzz_body(const char *text, size_t len)
{
    struct gw_registry_result res;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL)
        return;
    json_t *tok = json_object_get(body, "token");
    char *token =
        json_is_string(tok) && json_string_length(tok) >= 8 ? strdup(json_string_value(tok)) : NULL;
    gw_registry_put(reg, cfg, body, 1000000, &res);
    json_decref(body);
    if (res.status == 200 || res.status == 201) {
        const struct gw_registration *e = res.entry;
        CHECK(e != NULL && strlen(e->id) == GW_REGISTRY_ID_LEN && e->prefix[0] == '/');
        json_t *view = gw_registration_json(e, 1000000);
        char *shown = view ? json_dumps(view, 0) : NULL;
        CHECK(shown == NULL || token == NULL || strstr(shown, token) == NULL);
        free(shown);
        json_decref(view);
        gw_registration_free(res.prev);
        gw_registration_free(gw_registry_remove(reg, e->id));
    } else {
        CHECK(res.status == 400 || res.status == 409 || res.status == 503 || res.status == 500);
        CHECK(res.why[0] != '\0');
        CHECK(res.status != 400 || json_array_size(res.errors) > 0);
        json_decref(res.errors);
    }
    CHECK(gw_registry_count(reg) == 0);
    free(token);
}

static void fuzz_store(const char *text, size_t len)
{
    struct gw_registration **items = NULL;
    size_t n = 0, bad = 0;
    int rc = gw__registry_store_parse(text, len, &items, &n, &bad);
    CHECK(rc == 0 || rc == GW_EINVAL || rc == GW_ENOMEM);
    CHECK(rc == 0 || (items == NULL && n == 0));
    for (size_t i = 0; i < n; i++) {
        const struct gw_registration *e = items[i];
        CHECK(e->name && e->url && e->prefix && e->prefix[0] == '/');
        CHECK((e->token_box != NULL) == (e->key_id[0] != '\0'));
        CHECK(e->token_box == NULL || e->token_box_len > 0);
        gw_registration_free(items[i]);
    }
    free(items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    setup();
    if (data[0] % 2 == 0)
        fuzz_body((const char *)data + 1, size - 1);
    else
        fuzz_store((const char *)data + 1, size - 1);
    return 0;
}
