/*
 * Unit tests for registrations at rest (src/registry/registry_store.c): the store file's
 * parser (every field checked, bad entries left out and counted, what is not a store refused),
 * a save read back with the same fields and the sealed token, and a restore that drops what
 * has expired and keeps the stored times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/error.h"
#include "registry/internal.h"

#define KEY "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define CONF "{\"services\": [], \"registration\": {\"encryption_key\": \"" KEY "\"}}"

static struct gw_config *load(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs), 0);
    return cfg;
}

static void test_parse_checks_every_field(void **state)
{
    (void)state;
    struct gw_registration **items = NULL;
    size_t n = 0, bad = 0;
    static const char text[] =
        "{\"version\": 1, \"registrations\": ["
        "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a\", \"weight\": 2, "
        "\"ttl_ms\": 5000, \"created_ms\": 1, \"renewed_ms\": 2, \"expires_ms\": 5002},"
        "{\"name\": \"b\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"b\", \"weight\": 1, "
        "\"ttl_ms\": 5000, \"created_ms\": 1, \"renewed_ms\": 2, \"expires_ms\": 5002},"
        "{\"name\": \"c\", \"url\": \"http://127.0.0.1:3\", \"prefix\": \"/c\", \"weight\": 1, "
        "\"ttl_ms\": 5000, \"created_ms\": 1, \"renewed_ms\": 2, \"expires_ms\": 5002, "
        "\"key_id\": \"0011aabb\", \"token_box\": \"AAEC\"},"
        "{\"name\": \"d\", \"url\": \"http://127.0.0.1:4\", \"prefix\": \"/d\", \"weight\": 1, "
        "\"ttl_ms\": 5000, \"created_ms\": 1, \"renewed_ms\": 2, \"expires_ms\": 5002, "
        "\"key_id\": \"XYZ\", \"token_box\": \"AAEC\"},"
        "7]}";
    assert_int_equal(gw__registry_store_parse(text, strlen(text), &items, &n, &bad), 0);
    assert_int_equal(n, 2);
    assert_int_equal(bad, 3);
    assert_string_equal(items[0]->name, "a");
    assert_int_equal(items[0]->weight, 2);
    assert_int_equal(items[0]->expires_ms, 5002);
    assert_null(items[0]->token_box);
    assert_string_equal(items[1]->key_id, "0011aabb");
    assert_int_equal(items[1]->token_box_len, 3);
    for (size_t i = 0; i < n; i++)
        gw_registration_free(items[i]);
    free(items);
    assert_int_equal(
        gw__registry_store_parse("{\"version\": 2, \"registrations\": []}", 36, &items, &n, &bad),
        GW_EINVAL);
    assert_int_equal(gw__registry_store_parse("[]", 2, &items, &n, &bad), GW_EINVAL);
}

static void test_save_restore(void **state)
{
    (void)state;
    uv_loop_t loop;
    struct gw_registry *reg = NULL, *again = NULL;
    struct gw_registry_result res;
    char path[] = "/tmp/gw-store-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    struct gw_config *cfg = load(CONF);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(gw_registry_new(&loop, NULL, NULL, &reg), 0);
    gw_registry_set_file_doc(reg, cfg->source);
    uint64_t now = gw_registry_now_ms();
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:i, s:s}", "name", "kept", "url", "http://127.0.0.1:7",
                  "prefix", "/kept", "ttl", 600, "token", "plain-token-123");
    gw_registry_put(reg, cfg, body, now - 1000, &res);
    json_decref(body);
    assert_int_equal(res.status, 201);
    body = json_pack("{s:s, s:s, s:s, s:s}", "name", "gone", "url", "http://127.0.0.1:8", "prefix",
                     "/gone", "ttl", "1s");
    gw_registry_put(reg, cfg, body, now - 5000, &res); /* expired 4 s ago */
    json_decref(body);
    assert_int_equal(res.status, 201);
    assert_int_equal(gw__registry_store_save(reg, path), 0);
    FILE *f = fopen(path, "r");
    char text[4096];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    assert_null(strstr(text, "plain-token-123"));
    assert_non_null(strstr(text, "token_box"));

    assert_int_equal(gw_registry_new(&loop, NULL, NULL, &again), 0);
    gw_registry_set_file_doc(again, cfg->source);
    assert_int_equal(gw_registry_restore(again, cfg, path, now), 1);
    assert_int_equal(gw_registry_count(again), 1);
    const struct gw_registration *e = gw_registry_at(again, 0);
    const struct gw_registration *o = gw_registry_at(reg, 0);
    assert_string_equal(e->id, o->id);
    assert_int_equal(e->created_ms, o->created_ms);
    assert_int_equal(e->expires_ms, o->expires_ms);
    size_t n = 0;
    char *tok = gw__registry_open(cfg, e, &n);
    assert_non_null(tok);
    assert_string_equal(tok, "plain-token-123");
    gw__registry_wipe(tok, n + 1);
    /* a missing file is no error */
    unlink(path);
    assert_int_equal(gw_registry_restore(again, cfg, path, now), 0);
    gw_registry_close(reg);
    gw_registry_close(again);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    gw_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_checks_every_field),
        cmocka_unit_test(test_save_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
