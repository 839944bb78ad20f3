/*
 * Unit tests for the backend registry (src/registry/): registering and renewing, ownership of
 * names and prefixes (409), checks by the config loader (400 with the body's key), the limit,
 * expiry, the coalesced publication, and the services added to a config document.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/error.h"
#include "registry/internal.h"

static struct gw_config *load(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    assert_int_equal(gw_config_load_string("t.json", text, strlen(text), &cfg, &errs), 0);
    return cfg;
}

#define FILE_DOC                                                                                   \
    "{\"services\": [{\"name\": \"files\", \"prefix\": [\"/f\", \"/g/\"], \"targets\": "           \
    "[\"http://127.0.0.1:9\"]}], \"registration\": {\"max_registrations\": 3, \"defaults\": "      \
    "{\"strip_prefix\": true}}}"

struct fixture {
    uv_loop_t loop;
    struct gw_registry *reg;
    struct gw_config *cfg;
    int changes;
};

static void on_change(void *arg)
{
    struct fixture *f = arg;
    f->changes++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    assert_int_equal(gw_registry_new(&f->loop, on_change, f, &f->reg), 0);
    f->cfg = load(FILE_DOC);
    gw_registry_set_file_doc(f->reg, f->cfg->source);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    gw_registry_close(f->reg);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left */
    gw_config_free(f->cfg);
    free(f);
    return 0;
}

static int put(struct fixture *f, const char *body, struct gw_registry_result *res)
{
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    gw_registry_put(f->reg, f->cfg, b, 1000000, res);
    json_decref(b);
    gw_registration_free(res->prev);
    res->prev = NULL;
    return res->status;
}

static const char *first_path(struct gw_registry_result *res)
{
    static char buf[128];
    assert_non_null(res->errors);
    snprintf(buf, sizeof buf, "%s",
             json_string_value(json_object_get(json_array_get(res->errors, 0), "path")));
    json_decref(res->errors);
    res->errors = NULL;
    return buf;
}

static void test_register_and_renew(void **state)
{
    struct fixture *f = *state;
    struct gw_registry_result res;
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a/\"}", &res),
        201);
    assert_true(res.changed);
    assert_string_equal(res.entry->prefix, "/a");
    assert_int_equal(res.entry->ttl_ms, 30000);
    assert_int_equal(res.entry->expires_ms, 1030000);
    assert_int_equal(strlen(res.entry->id), GW_REGISTRY_ID_LEN);
    char id[GW_REGISTRY_ID_LEN + 1];
    memcpy(id, res.entry->id, sizeof id);
    /* again: renewed, nothing to publish */
    assert_int_equal(put(f,
                         "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a\", "
                         "\"ttl\": \"5m\"}",
                         &res),
                     200);
    assert_false(res.changed);
    assert_string_equal(res.entry->id, id);
    assert_int_equal(res.entry->ttl_ms, 300000);
    /* another weight changes routing */
    assert_int_equal(put(f,
                         "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a\", "
                         "\"weight\": 5}",
                         &res),
                     200);
    assert_true(res.changed);
    assert_int_equal(gw_registry_count(f->reg), 1);
    assert_non_null(gw_registry_renew(f->reg, id, 2000000));
    assert_int_equal(gw_registry_get(f->reg, id)->expires_ms, 2030000);
    assert_null(gw_registry_renew(f->reg, "0000000000000000", 1));
    struct gw_registration *e = gw_registry_remove(f->reg, id);
    assert_non_null(e);
    gw_registration_free(e);
    assert_int_equal(gw_registry_count(f->reg), 0);
}

static void test_owners(void **state)
{
    struct fixture *f = *state;
    struct gw_registry_result res;
    /* the file's prefix, another name */
    assert_int_equal(
        put(f, "{\"name\": \"x\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/g\"}", &res),
        409);
    assert_non_null(strstr(res.why, "\"files\""));
    /* the file's name, not its prefix */
    assert_int_equal(put(f,
                         "{\"name\": \"files\", \"url\": \"http://127.0.0.1:1\", \"prefix\": "
                         "\"/h\"}",
                         &res),
                     409);
    /* joining the file's service */
    assert_int_equal(put(f,
                         "{\"name\": \"files\", \"url\": \"http://127.0.0.1:1\", \"prefix\": "
                         "\"/g\"}",
                         &res),
                     201);
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a\"}", &res),
        201);
    assert_int_equal(
        put(f, "{\"name\": \"b\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"/a\"}", &res),
        409);
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"/b\"}", &res),
        409);
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"/a\"}", &res),
        201);
    /* max_registrations is 3 */
    assert_int_equal(
        put(f, "{\"name\": \"c\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"/c\"}", &res),
        503);
    assert_int_equal(gw_registry_count(f->reg), 3);
}

static void test_bad_input(void **state)
{
    struct fixture *f = *state;
    struct gw_registry_result res;
    assert_int_equal(put(f, "[]", &res), 400);
    assert_string_equal(first_path(&res), "");
    assert_int_equal(put(f, "{\"name\": \"a\", \"url\": \"gopher://h\", \"prefix\": \"/a\"}", &res),
                     400);
    assert_string_equal(first_path(&res), "url");
    assert_int_equal(put(f, "{\"name\": \"a\", \"url\": \"http://h:1\", \"prefix\": 7}", &res),
                     400);
    assert_string_equal(first_path(&res), "prefix");
    assert_int_equal(put(f, "{\"name\": 1, \"url\": \"http://h:1\", \"prefix\": \"/a\"}", &res),
                     400);
    assert_string_equal(first_path(&res), "name");
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://h:1\", \"prefix\": \"/a\", \"weight\": 1001}",
            &res),
        400);
    assert_string_equal(first_path(&res), "weight");
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://h:1\", \"prefix\": \"/a\", \"ttl\": \"48h\"}",
            &res),
        400);
    assert_string_equal(first_path(&res), "ttl");
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://$X:1\", \"prefix\": \"/a\"}", &res), 400);
    assert_string_equal(first_path(&res), "url");
    assert_int_equal(put(f, "{\"url\": \"http://h:1\", \"prefix\": \"/a\"}", &res), 400);
    assert_string_equal(first_path(&res), "name");
    assert_int_equal(gw_registry_count(f->reg), 0);
}

static void test_ttl_syntax(void **state)
{
    (void)state;
    uint64_t ms = 0;
    json_t *v = json_string("1.5s");
    assert_true(gw__registry_parse_ttl(v, &ms));
    assert_int_equal(ms, 1500);
    json_decref(v);
    v = json_integer(30);
    assert_true(gw__registry_parse_ttl(v, &ms));
    assert_int_equal(ms, 30000);
    json_decref(v);
    v = json_string("2x");
    assert_false(gw__registry_parse_ttl(v, &ms));
    json_decref(v);
    v = json_integer(-1);
    assert_false(gw__registry_parse_ttl(v, &ms));
    json_decref(v);
}

static void test_extend_and_expire(void **state)
{
    struct fixture *f = *state;
    struct gw_registry_result res;
    assert_int_equal(put(f,
                         "{\"name\": \"files\", \"url\": \"http://127.0.0.1:3\", \"prefix\": "
                         "\"/f\", \"weight\": 2}",
                         &res),
                     201);
    assert_int_equal(put(f,
                         "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1\", \"prefix\": \"/a\", "
                         "\"ttl\": 10}",
                         &res),
                     201);
    assert_int_equal(
        put(f, "{\"name\": \"a\", \"url\": \"http://127.0.0.1:2\", \"prefix\": \"/a\"}", &res),
        201);
    json_t *doc = json_deep_copy(f->cfg->source);
    assert_int_equal(gw_registry_extend(f->reg, f->cfg, doc), 0);
    char *text = json_dumps(doc, JSON_COMPACT);
    struct gw_config *merged = load(text);
    assert_int_equal(merged->nservices, 2);
    assert_string_equal(merged->services[0].name, "files");
    assert_int_equal(merged->services[0].ntargets, 2);
    assert_int_equal(merged->services[0].targets[1].weight, 2);
    assert_string_equal(merged->services[1].name, "a");
    assert_true(merged->services[1].strip_prefix); /* registration.defaults */
    assert_int_equal(merged->services[1].ntargets, 2);
    gw_config_free(merged);
    free(text);
    json_decref(doc);
    /* the 10 s registration expires first */
    assert_false(gw_registry_expire(f->reg, 1000000 + 9999));
    assert_true(gw_registry_expire(f->reg, 1000000 + 10000));
    assert_int_equal(gw_registry_count(f->reg), 2);
    /* registration off: nothing is added */
    struct gw_config *off = load("{}");
    doc = json_object();
    assert_int_equal(gw_registry_extend(f->reg, off, doc), 0);
    assert_int_equal(json_object_size(doc), 0);
    json_decref(doc);
    gw_config_free(off);
}

static void test_changes_are_coalesced(void **state)
{
    struct fixture *f = *state;
    gw_registry_changed(f->reg, 0);
    gw_registry_changed(f->reg, 0);
    gw_registry_changed(f->reg, 0);
    assert_true(gw_registry_pending(f->reg));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->changes, 1);
    assert_false(gw_registry_pending(f->reg));
}

#define KA "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
#define KB "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"

static void test_tokens_sealed(void **state)
{
    (void)state;
    struct gw_config *a = load("{\"registration\": {\"encryption_key\": \"" KA "\"}}");
    struct gw_config *b = load("{\"registration\": {\"encryption_key\": \"" KB "\"}}");
    struct gw_config *ba = load("{\"registration\": {\"encryption_key\": \"" KB
                                "\", \"previous_keys\": [\"" KA "\"]}}");
    struct gw_config *none = load("{\"registration\": true}");
    struct gw_registration e = {.id = "0123456789abcdef"};
    const char *token = "the-token-1234567890";
    assert_int_equal(gw__registry_seal(none, &e, token), GW_EINVAL);
    assert_int_equal(gw__registry_seal(a, &e, token), 0);
    assert_int_equal(strlen(e.key_id), 8);
    assert_null(memmem(e.token_box, e.token_box_len, token, strlen(token))); /* not in clear */
    size_t n = 0;
    char *t = gw__registry_open(a, &e, &n);
    assert_non_null(t);
    assert_string_equal(t, token);
    assert_int_equal(n, strlen(token));
    gw__registry_wipe(t, n + 1);
    assert_null(gw__registry_open(b, &e, &n)); /* another key */
    t = gw__registry_open(ba, &e, &n);         /* the previous key still opens it */
    assert_non_null(t);
    gw__registry_wipe(t, n + 1);
    e.id[0] = '1'; /* the box belongs to its registration */
    assert_null(gw__registry_open(a, &e, &n));
    e.id[0] = '0';
    e.token_box[e.token_box_len - 1] ^= 1; /* tampered */
    assert_null(gw__registry_open(a, &e, &n));
    free(e.token_box);
    gw_config_free(a);
    gw_config_free(b);
    gw_config_free(ba);
    gw_config_free(none);
}

/* A token sealed by the registering client (gantry register --encryption-key): opened with the
 * key of its id (current or previous), sealed again under the current key; refused when
 * malformed, sealed for another name or url, under an unknown key, or sent with "token". */
static void test_sealed_token_in_transit(void **state)
{
    struct fixture *f = *state;
    struct gw_registry_result res;
    const char *token = "tok-Transit.42";
    const char *url = "http://127.0.0.1:1";
    gw_registry_set_file_doc(f->reg, NULL);
    gw_config_free(f->cfg);
    f->cfg = load("{\"registration\": {\"encryption_key\": \"" KB "\", \"previous_keys\": [\"" KA
                  "\"]}}");
    gw_registry_set_file_doc(f->reg, f->cfg->source);
    char *sa = gw_registry_token_seal(KA, "s", url, token);
    char *sb = gw_registry_token_seal(KB, "s", url, token);
    char *other_url = gw_registry_token_seal(KB, "s", "http://127.0.0.1:2", token);
    char *unknown = gw_registry_token_seal(
        "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3", "s", url, token);
    assert_null(gw_registry_token_seal("c3", "s", url, token)); /* not a key */
    assert_non_null(sa);
    assert_non_null(sb);
    assert_null(strstr(sa, token));
    assert_int_equal(strncmp(sa, "v1.", 3), 0);
    char body[1024];
    const char *ok[] = {sa, sb};
    for (size_t i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"name\": \"s\", \"url\": \"%s\", \"prefix\": \"/s\", \"sealed_token\": \"%s\"}",
                 url, ok[i]);
        assert_in_range(put(f, body, &res), 200, 201);
        char kb[9];
        unsigned char key[32];
        assert_true(gw__registry_key_id(KB, key, kb));
        assert_string_equal(res.entry->key_id, kb); /* sealed again under the current key */
        size_t n = 0;
        char *t = gw__registry_open(f->cfg, res.entry, &n);
        assert_non_null(t);
        assert_string_equal(t, token);
        gw__registry_wipe(t, n + 1);
    }
    /* the same token again is no change; sealed otherwise it still is the same token */
    assert_false(res.changed);
    const char *bad[] = {other_url, unknown, "v1.zz", "v1.0123abcd.AAAA", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"name\": \"s\", \"url\": \"%s\", \"prefix\": \"/s\", \"sealed_token\": \"%s\"}",
                 url, bad[i]);
        assert_int_equal(put(f, body, &res), 400);
        assert_string_equal(first_path(&res), "sealed_token");
    }
    snprintf(body, sizeof body,
             "{\"name\": \"s\", \"url\": \"%s\", \"prefix\": \"/s\", \"sealed_token\": \"%s\", "
             "\"token\": \"x\"}",
             url, sb);
    assert_int_equal(put(f, body, &res), 400);
    assert_string_equal(first_path(&res), "sealed_token");
    free(sa);
    free(sb);
    free(other_url);
    free(unknown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_register_and_renew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_ttl_syntax),
        cmocka_unit_test_setup_teardown(test_extend_and_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_are_coalesced, setup, teardown),
        cmocka_unit_test(test_tokens_sealed),
        cmocka_unit_test_setup_teardown(test_sealed_token_in_transit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
