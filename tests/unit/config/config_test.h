/* Helpers shared by the config unit tests (test_config.c, test_config_values.c). */
#ifndef GW_TEST_CONTROL_CONFIG_TEST_H
#define GW_TEST_CONTROL_CONFIG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "core/error.h"

static inline char *errors_text(const struct gw_config_errors *errs)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    gw_config_errors_print(errs, f);
    fclose(f);
    return buf;
}

static inline struct gw_config *load_ok(const char *text)
{
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    if (rc != 0) {
        char *got = errors_text(&errs);
        fprintf(stderr, "unexpected errors:\n%s", got);
        free(got);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(errs.count, 0);
    assert_non_null(cfg);
    gw_config_errors_free(&errs);
    return cfg;
}

/* Loads text, expects it to fail with exactly these printed errors. */
static inline void expect_errors(const char *text, const char *expected)
{
    struct gw_config *cfg = (struct gw_config *)&cfg;
    struct gw_config_errors errs;
    int rc = gw_config_load_string("t.json", text, strlen(text), &cfg, &errs);
    char *got = errors_text(&errs);
    assert_string_equal(got, expected);
    assert_int_equal(rc, GW_ECONFIG);
    assert_null(cfg);
    free(got);
    gw_config_errors_free(&errs);
}

/* For one-line texts: expects one error located at the first occurrence of `at` in text. */
static inline void expect_one(const char *text, const char *at, const char *path_and_message)
{
    const char *p = strstr(text, at);
    assert_non_null(p);
    char expected[1024];
    snprintf(expected, sizeof expected, "t.json:1:%d: %s\n", (int)(p - text) + 1, path_and_message);
    expect_errors(text, expected);
}

/* A service wrapped in a config, to test service keys in one line. */
#define SVC(fields)                                                                                \
    "{\"services\": [{\"name\": \"s\", \"prefix\": \"/p\", \"targets\": [\"http://h:1\"], " fields \
    "}]}"

/* A path under the source tree: $GW_SOURCE_DIR/rel, or found from this file's path. */
static inline char *source_path(const char *rel)
{
    const char *root = getenv("GW_SOURCE_DIR");
    char buf[4096];
    if (root && root[0]) {
        snprintf(buf, sizeof buf, "%s/%s", root, rel);
    } else {
        const char *me = __FILE__;
        const char *tail = strstr(me, "tests/unit/control/");
        int n = tail ? (int)(tail - me) : 0;
        snprintf(buf, sizeof buf, "%.*s%s", n, me, rel);
    }
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

#endif
