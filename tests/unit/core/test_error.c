/* Unit tests for src/core/error.c: the one table of gantry's error codes. Every code has a name,
 * a message and the HTTP status the gateway answers with; codes outside the table and libuv's
 * negated errno values get the documented fallbacks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

/* The rows of GW_ERROR_MAP, as written in the header. */
static const struct {
    int code;
    const char *name;
    int status;
    const char *msg;
} rows[] = {
#define ROW(name, status, msg) {GW_##name, #name, status, msg},
    GW_ERROR_MAP(ROW)
#undef ROW
};

#define NROWS (sizeof rows / sizeof rows[0])

static void test_codes_are_dense_negative_and_apart_from_errno(void **state)
{
    (void)state;
    assert_int_equal(GW__ERR_LAST - GW__ERR_FIRST - 1, NROWS);
    for (size_t i = 0; i < NROWS; i++) {
        assert_int_equal(rows[i].code, GW__ERR_FIRST + 1 + (int)i);
        assert_true(rows[i].code < 0);
        /* libuv passes negated errno values (> -4096) and its own UV_E* (above -5000) */
        assert_true(rows[i].code < -5000);
    }
    assert_int_equal(GW_OK, 0);
}

static void test_every_error_has_a_name_a_message_and_a_status(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++) {
        int code = rows[i].code;
        const char *name = gw_err_name(code);
        const char *msg = gw_strerror(code);
        int status = gw_err_http_status(code);
        assert_string_equal(name, rows[i].name);
        assert_string_equal(msg, rows[i].msg);
        assert_int_equal(status, rows[i].status);
        /* names: E + upper-case letters and digits */
        assert_int_equal(name[0], 'E');
        assert_true(strlen(name) >= 3);
        for (const char *p = name; *p; p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                fail_msg("%s: name has %c", name, *p);
        /* messages: a lower-case phrase without a final period, as error bodies show them
         * (a capital only where a protocol word starts it) */
        assert_true(strlen(msg) >= 5);
        if (msg[0] >= 'A' && msg[0] <= 'Z' && strncmp(msg, "HTTP ", 5) != 0 &&
            strncmp(msg, "CONNECT ", 8) != 0 && strncmp(msg, "Content-Length ", 15) != 0 &&
            strncmp(msg, "Transfer-Encoding ", 18) != 0)
            fail_msg("%s: message starts with a capital: %s", name, msg);
        assert_true(msg[strlen(msg) - 1] != '.');
        /* every answer the gateway generates from an error is a 4xx or 5xx, except the one
         * redirect (tls.redirect_http: plain HTTP to HTTPS) */
        if ((status < 400 || status > 599) &&
            !(status == 308 && strcmp(name, "EHTTPSREDIRECT") == 0))
            fail_msg("%s: status %d", name, status);
    }
}

static void test_names_and_messages_are_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < NROWS; i++)
        for (size_t j = i + 1; j < NROWS; j++) {
            if (strcmp(rows[i].name, rows[j].name) == 0)
                fail_msg("name %s twice", rows[i].name);
            if (strcmp(rows[i].msg, rows[j].msg) == 0)
                fail_msg("%s and %s share the message \"%s\"", rows[i].name, rows[j].name,
                         rows[i].msg);
        }
}

static void test_statuses_of_some_errors(void **state)
{
    (void)state;
    assert_int_equal(gw_err_http_status(GW_ENOMEM), 500);
    assert_int_equal(gw_err_http_status(GW_EBARELF), 400);
    assert_int_equal(gw_err_http_status(GW_EURITOOLONG), 414);
    assert_int_equal(gw_err_http_status(GW_EHDRTOOLARGE), 431);
    assert_int_equal(gw_err_http_status(GW_EVERSIONUNSUP), 505);
    assert_int_equal(gw_err_http_status(GW_ETEUNSUP), 501);
    assert_int_equal(gw_err_http_status(GW_EBODYTOOLARGE), 413);
    assert_int_equal(gw_err_http_status(GW_EHDRTIMEOUT), 408);
    assert_int_equal(gw_err_http_status(GW_ENOROUTE), 404);
    assert_int_equal(gw_err_http_status(GW_EMETHODNOTALLOWED), 405);
    assert_int_equal(gw_err_http_status(GW_EEXPECT), 417);
    assert_int_equal(gw_err_http_status(GW_EUPCONNECT), 502);
    assert_int_equal(gw_err_http_status(GW_ENOTARGET), 503);
    assert_int_equal(gw_err_http_status(GW_EUPTIMEOUT), 504);
    assert_int_equal(gw_err_http_status(GW_EJWTEXPIRED), 401);
    assert_int_equal(gw_err_http_status(GW_EFORBIDDEN), 403);
    assert_int_equal(gw_err_http_status(GW_ERATELIMITED), 429);
    assert_int_equal(gw_err_http_status(GW_EREDISDOWN), 503);
    assert_string_equal(gw_err_name(GW_ECHUNKSIZE), "ECHUNKSIZE");
    assert_string_equal(gw_strerror(GW_ECHUNKSIZE), "invalid chunk size");
}

static void test_codes_outside_the_table(void **state)
{
    (void)state;
    static const int outside[] = {
        GW__ERR_FIRST, GW__ERR_LAST, GW__ERR_LAST + 1, GW__ERR_FIRST - 1, -30000, INT32_MIN, -4096};
    for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
        assert_string_equal(gw_err_name(outside[i]), "UNKNOWN");
        assert_string_equal(gw_strerror(outside[i]), "unknown error");
        assert_int_equal(gw_err_http_status(outside[i]), 500);
    }
    assert_string_equal(gw_strerror(0), "success");
    assert_string_equal(gw_err_name(0), "UNKNOWN");
    assert_int_equal(gw_err_http_status(0), 500);
    assert_string_equal(gw_strerror(1), "unknown error");
    assert_string_equal(gw_strerror(INT32_MAX), "unknown error");
}

/* libuv's codes are negated errno values: gw_strerror gives the system's message for them. */
static void test_negated_errno_values(void **state)
{
    (void)state;
    static const int errs[] = {EPIPE, ECONNREFUSED, ECONNRESET, EMFILE, ETIMEDOUT, EADDRINUSE};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        assert_string_equal(gw_strerror(-errs[i]), strerror(errs[i]));
        assert_string_equal(gw_err_name(-errs[i]), "UNKNOWN");
        assert_int_equal(gw_err_http_status(-errs[i]), 500);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_are_dense_negative_and_apart_from_errno),
        cmocka_unit_test(test_every_error_has_a_name_a_message_and_a_status),
        cmocka_unit_test(test_names_and_messages_are_unique),
        cmocka_unit_test(test_statuses_of_some_errors),
        cmocka_unit_test(test_codes_outside_the_table),
        cmocka_unit_test(test_negated_errno_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
