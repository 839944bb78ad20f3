/*
 * Unit tests for src/identity/body.c (gw_idp_parse) and src/identity/password.c: each
 * endpoint's members, the field named by every refusal, username and email folding, login by
 * "login", "username" or "email", and the password rules (length in code points, the common
 * list in any case, not the username), with a real argon2id hash, verify and needs-rehash; a
 * chunked body (gw_idp_body_dechunk) fed whole and byte by byte, its cap and broken framing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http1/chunked.h"
#include "identity/internal.h"

static const char *field, *why;

static int parse(enum gw_idp_endpoint ep, const char *body, struct gw_idp_input *in)
{
    return gw_idp_parse(ep, body, strlen(body), in, &field, &why);
}

static void refused(enum gw_idp_endpoint ep, const char *body, const char *want_field)
{
    struct gw_idp_input in;
    assert_int_equal(parse(ep, body, &in), GW_EIDINPUT);
    assert_string_equal(field, want_field);
    assert_non_null(why);
}

static void test_register(void **state)
{
    (void)state;
    struct gw_idp_input in;
    assert_int_equal(parse(GW_IDP_EP_REGISTER,
                           "{\"username\": \"Al.Ice_9-\", \"email\": \"Al@Example.COM\", "
                           "\"password\": \"pässwörd long\", \"invite_code\": \"c\"}",
                           &in),
                     0);
    assert_string_equal(in.username, "al.ice_9-");
    assert_string_equal(in.email, "al@example.com");
    assert_int_equal(in.password_len, strlen("pässwörd long"));
    assert_string_equal(in.invite, "c");
    refused(GW_IDP_EP_REGISTER, "", "body");
    refused(GW_IDP_EP_REGISTER, "{", "body");
    refused(GW_IDP_EP_REGISTER, "\"x\"", "body");
    refused(GW_IDP_EP_REGISTER, "{\"a\":1,\"a\":2}", "body");
    refused(GW_IDP_EP_REGISTER, "{\"email\": \"a@b\", \"password\": \"p\"}", "username");
    refused(GW_IDP_EP_REGISTER, "{\"username\": \"ab\", \"email\": \"a@b\", \"password\": \"p\"}",
            "username");
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"j\\u00f6rg\", \"email\": \"a@b\", \"password\": \"p\"}", "username");
    /* All digits: the admin API's {user} takes a digit-only value as an id. */
    refused(GW_IDP_EP_REGISTER, "{\"username\": \"006\", \"email\": \"a@b\", \"password\": \"p\"}",
            "username");
    assert_int_equal(parse(GW_IDP_EP_REGISTER,
                           "{\"username\": \"006a\", \"email\": \"a@b\", \"password\": \"p\"}",
                           &in),
                     0);
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"abc\\u0000d\", \"email\": \"a@b\", \"password\": \"p\"}",
            "body"); /* jansson refuses an escaped NUL: not JSON we take */
    refused(GW_IDP_EP_REGISTER, "{\"username\": \"abc\", \"email\": \"@b\", \"password\": \"p\"}",
            "email");
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"abc\", \"email\": \"a@b@c\", \"password\": \"p\"}", "email");
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"abc\", \"email\": \"a b@c\", \"password\": \"p\"}", "email");
    refused(GW_IDP_EP_REGISTER, "{\"username\": \"abc\", \"email\": \"a@b\", \"password\": \"\"}",
            "password");
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"abc\", \"email\": \"a@b\", \"password\": [\"p\"]}", "password");
    refused(GW_IDP_EP_REGISTER,
            "{\"username\": \"abc\", \"email\": \"a@b\", \"password\": \"p\", \"invite_code\": "
            "7}",
            "invite_code");
    char big[600];
    memset(big, 'x', sizeof big);
    static const char head[] = "{\"username\": \"abc\", \"email\": \"a@b\", \"password\": \"";
    memcpy(big, head, sizeof head - 1);
    memcpy(big + sizeof big - 3, "\"}", 3);
    refused(GW_IDP_EP_REGISTER, big, "password");
}

static void test_login_refresh_logout_me(void **state)
{
    (void)state;
    struct gw_idp_input in;
    assert_int_equal(parse(GW_IDP_EP_LOGIN, "{\"login\": \"ALICE\", \"password\": \"p\"}", &in), 0);
    assert_string_equal(in.login, "alice");
    assert_false(in.login_is_email);
    assert_int_equal(parse(GW_IDP_EP_LOGIN, "{\"email\": \"A@B.c\", \"password\": \"p\"}", &in), 0);
    assert_string_equal(in.login, "a@b.c");
    assert_true(in.login_is_email);
    assert_int_equal(parse(GW_IDP_EP_LOGIN, "{\"username\": \"bob\", \"password\": \"p\"}", &in),
                     0);
    assert_string_equal(in.login, "bob");
    refused(GW_IDP_EP_LOGIN, "{\"password\": \"p\"}", "login");
    refused(GW_IDP_EP_LOGIN, "{\"login\": \"bob\"}", "password");
    assert_int_equal(parse(GW_IDP_EP_REFRESH, "{\"refresh_token\": \"abc\"}", &in), 0);
    assert_string_equal(in.refresh, "abc");
    refused(GW_IDP_EP_REFRESH, "{}", "refresh_token");
    assert_int_equal(parse(GW_IDP_EP_LOGOUT, "", &in), 0);
    assert_false(in.all);
    assert_int_equal(parse(GW_IDP_EP_LOGOUT, "{\"all\": true}", &in), 0);
    assert_true(in.all);
    refused(GW_IDP_EP_LOGOUT, "{\"all\": 1}", "all");
    assert_int_equal(parse(GW_IDP_EP_ME, "", &in), 0);
    assert_int_equal(parse(GW_IDP_EP_PASSWORD,
                           "{\"current_password\": \"old one\", \"new_password\": \"new one!\"}",
                           &in),
                     0);
    assert_string_equal(in.password, "old one");
    assert_int_equal(in.password_len, 7);
    assert_string_equal(in.new_password, "new one!");
    assert_int_equal(in.new_password_len, 8);
    refused(GW_IDP_EP_PASSWORD, "{\"current_password\": \"old one\"}", "new_password");
    refused(GW_IDP_EP_PASSWORD, "{\"new_password\": \"x\"}", "current_password");
}

static void test_totp_bodies(void **state)
{
    (void)state;
    struct gw_idp_input in;
    /* login: optional codes */
    assert_int_equal(parse(GW_IDP_EP_LOGIN,
                           "{\"login\": \"a@b.c\", \"password\": \"p\", \"totp_code\": \"012345\"}",
                           &in),
                     0);
    assert_string_equal(in.totp, "012345");
    assert_string_equal(in.recovery, "");
    assert_int_equal(parse(GW_IDP_EP_LOGIN,
                           "{\"login\": \"al\", \"password\": \"p\", \"recovery_code\": "
                           "\"ABCDE-fgh 23\"}",
                           &in),
                     0);
    assert_string_equal(in.recovery, "abcdefgh23");
    refused(GW_IDP_EP_LOGIN, "{\"login\": \"al\", \"password\": \"p\", \"totp_code\": \"12345\"}",
            "totp_code");
    refused(GW_IDP_EP_LOGIN,
            "{\"login\": \"al\", \"password\": \"p\", \"totp_code\": \"123456789\"}", "totp_code");
    refused(GW_IDP_EP_LOGIN, "{\"login\": \"al\", \"password\": \"p\", \"totp_code\": 123456}",
            "totp_code");
    refused(GW_IDP_EP_LOGIN,
            "{\"login\": \"al\", \"password\": \"p\", \"recovery_code\": \"abcde-fgh1j\"}",
            "recovery_code");
    refused(GW_IDP_EP_LOGIN,
            "{\"login\": \"al\", \"password\": \"p\", \"recovery_code\": \"abcde-fghijk\"}",
            "recovery_code");
    /* confirm: a code */
    assert_int_equal(parse(GW_IDP_EP_TOTP_CONFIRM, "{\"code\": \"87654321\"}", &in), 0);
    assert_string_equal(in.totp, "87654321");
    refused(GW_IDP_EP_TOTP_CONFIRM, "{}", "code");
    refused(GW_IDP_EP_TOTP_CONFIRM, "{\"code\": \"abcdef\"}", "code");
    refused(GW_IDP_EP_TOTP_CONFIRM, "", "body");
    /* disable: the password, or a TOTP code, or a recovery code */
    assert_int_equal(parse(GW_IDP_EP_TOTP_DISABLE, "{\"password\": \"pw\"}", &in), 0);
    assert_int_equal(in.password_len, 2);
    assert_int_equal(parse(GW_IDP_EP_TOTP_DISABLE, "{\"code\": \"123456\"}", &in), 0);
    assert_string_equal(in.totp, "123456");
    assert_string_equal(in.recovery, "");
    assert_int_equal(parse(GW_IDP_EP_TOTP_DISABLE, "{\"code\": \"22222-77777\"}", &in), 0);
    assert_string_equal(in.recovery, "2222277777");
    assert_string_equal(in.totp, "");
    refused(GW_IDP_EP_TOTP_DISABLE, "{}", "password");
    refused(GW_IDP_EP_TOTP_DISABLE, "{\"code\": \"1234567890\"}", "code");
    refused(GW_IDP_EP_TOTP_DISABLE, "{\"code\": \"!\"}", "code");
    /* enrol: the current password */
    assert_int_equal(parse(GW_IDP_EP_TOTP_ENROL, "{\"password\": \"pw\"}", &in), 0);
    assert_string_equal(in.password, "pw");
    refused(GW_IDP_EP_TOTP_ENROL, "", "body");
    refused(GW_IDP_EP_TOTP_ENROL, "{}", "password");
}

static void test_password_rules(void **state)
{
    (void)state;
    assert_null(gw__idp_password_weak("correct horse", 13, 10, "alice"));
    assert_string_equal(gw__idp_password_weak("short", 5, 10, NULL), "is too short");
    /* Ten code points in more bytes: long enough. */
    assert_null(gw__idp_password_weak("äöüäöüäöüä", strlen("äöüäöüäöüä"), 10, NULL));
    assert_non_null(gw__idp_password_weak("äöü", strlen("äöü"), 4, NULL));
    assert_string_equal(gw__idp_password_weak("PassWord123", 11, 8, NULL),
                        "is a commonly used password");
    assert_string_equal(gw__idp_password_weak("alice-the-admin", 15, 8, "alice-the-admin"),
                        "must not be the username");
    char big[GW_IDP_PASSWORD_MAX + 2];
    memset(big, 'a', sizeof big);
    assert_string_equal(gw__idp_password_weak(big, sizeof big, 8, NULL), "is too long");
}

static void test_password_hash(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    char h[crypto_pwhash_STRBYTES];
    bool rehash = true;
    assert_int_equal(gw__idp_password_hash("secret pw", 9, 1, 8192, h), 0);
    assert_memory_equal(h, "$argon2id$", 10);
    assert_true(gw__idp_password_check(h, "secret pw", 9, 1, 8192, &rehash));
    assert_false(rehash);
    assert_false(gw__idp_password_check(h, "secret pX", 9, 1, 8192, &rehash));
    assert_true(gw__idp_password_check(h, "secret pw", 9, 2, 8192, &rehash));
    assert_true(rehash); /* the cost changed */
}

/* Feeds in[0..n) in pieces of step bytes: the outcome, the payload in out (*len), and in *used
 * the bytes taken. */
static int dechunk(const char *in, size_t n, size_t step, char *out, size_t *len, size_t cap,
                   size_t *used)
{
    struct gw_chunked_decoder d;
    gw_chunked_init(&d, 0, 0);
    *len = 0;
    *used = 0;
    int rc = 0;
    while (*used < n) {
        size_t k = n - *used < step ? n - *used : step, u = 0;
        rc = gw_idp_body_dechunk(&d, in + *used, k, &u, out, len, cap);
        *used += u;
        if (rc != 0)
            break;
        assert_int_equal(u, k); /* more needed: every byte was taken */
    }
    return rc;
}

static void test_dechunk(void **state)
{
    (void)state;
    static const char body[] = "5\r\n{\"a\":\r\n3;ext=1\r\n\"b\"\r\n1\r\n}\r\n0\r\nx-t: 1\r\n\r\n"
                               "GET /next HTTP/1.1\r\n";
    size_t n = sizeof body - 1, whole = strstr(body, "GET") - body;
    char out[64];
    size_t len, used;
    for (size_t step = 1; step <= n; step++) {
        assert_int_equal(dechunk(body, n, step, out, &len, sizeof out, &used), 1);
        assert_int_equal(len, 9);
        assert_memory_equal(out, "{\"a\":\"b\"}", 9);
        assert_int_equal(used, whole); /* the next request is not taken */
    }
    /* Not ended yet: more is needed. */
    assert_int_equal(dechunk(body, 10, 3, out, &len, sizeof out, &used), 0);
    assert_int_equal(used, 10);
    /* The cap: 9 bytes of payload do not fit in 8; 9 fit in 9. */
    assert_int_equal(dechunk(body, n, 4, out, &len, 8, &used), GW_EBODYTOOLARGE);
    assert_true(len <= 8);
    assert_int_equal(dechunk(body, n, 4, out, &len, 9, &used), 1);
    /* Broken framing. */
    static const char bad[] = "zz\r\nabc\r\n0\r\n\r\n";
    assert_true(dechunk(bad, sizeof bad - 1, 1, out, &len, sizeof out, &used) < 0);
    static const char nocrlf[] = "3\r\nabcX\r\n0\r\n\r\n";
    assert_true(dechunk(nocrlf, sizeof nocrlf - 1, 2, out, &len, sizeof out, &used) < 0);
}

/* The media types identity's POST endpoints take: application/json, with parameters, a charset
 * only utf-8. */
static void test_json_media_type(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "application/json ; charset=\"utf-8\"",
        "application/json; foo=bar",
        "  application/json  ",
        "application/json;",
    };
    static const char *const refused[] = {
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "application/json; charset=utf-16",
        "application/json; charset=",
        "application/json; charset=latin1",
        "application/json x",
        "application/ json",
        "application/json; charset=utf-8; charset=utf-16",
        "application/*",
        "json",
        "application/json; =x",
        "application/json; charset=\"utf-8",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(gw_idp_json_media(ok[i], strlen(ok[i])));
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_false(gw_idp_json_media(refused[i], strlen(refused[i])));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),        cmocka_unit_test(test_login_refresh_logout_me),
        cmocka_unit_test(test_totp_bodies),     cmocka_unit_test(test_password_rules),
        cmocka_unit_test(test_password_hash),   cmocka_unit_test(test_dechunk),
        cmocka_unit_test(test_json_media_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
