/*
 * libFuzzer target for the JSON Schema compiler and validator (policy/jschema.h). The input is
 * a schema and an instance separated by the first NUL byte (no NUL: the input is the schema and
 * is also checked against itself). A schema that does not compile must have said why; one that
 * compiles checks the instance, and then: at most max errors are recorded, each with a keyword,
 * a message and a JSON pointer that resolves to a value of the instance; a valid verdict has no
 * errors; the same check gives the same errors twice. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "policy/jschema.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static size_t reported;

static void on_error(void *ud, const struct gw_jschema_where *at, bool at_key, const char *msg)
{
    (void)ud;
    (void)at_key;
    size_t depth = 0;
    for (const struct gw_jschema_where *w = at; w; w = w->up)
        depth++;
    CHECK(depth < 100000); /* the chain ends */
    CHECK(msg && msg[0]);
    reported++;
}

/* The value the RFC 6901 pointer p designates in v, or NULL. */
static const json_t *resolve(const json_t *v, const char *p)
{
    while (*p) {
        CHECK(*p == '/');
        p++;
        char *tok = malloc(strlen(p) + 1);
        size_t n = 0;
        if (tok == NULL)
            return v; /* out of memory: not the validator's fault */
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~') {
                CHECK(*p == '0' || *p == '1');
                c = *p++ == '0' ? '~' : '/';
            }
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            v = *end == '\0' && n > 0 ? json_array_get(v, i) : NULL;
        } else {
            v = NULL;
        }
        free(tok);
        if (v == NULL)
            return NULL;
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t slen = nul ? (size_t)(nul - text) : size;
    json_error_t je;
    json_t *schema = json_loadb(text, slen, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (schema == NULL)
        return 0;
    struct gw_jschema *s = NULL;
    reported = 0;
    int rc = gw_jschema_compile(schema, on_error, NULL, &s);
    if (rc == GW_ENOMEM) {
        json_decref(schema);
        return 0;
    }
    if (rc != 0) {
        CHECK(s == NULL && reported > 0 && rc == GW_ECONFIG);
        json_decref(schema);
        return 0;
    }
    CHECK(s != NULL && reported == 0);
    json_t *inst =
        nul ? json_loadb(nul + 1, size - slen - 1, JSON_DECODE_ANY, &je) : json_incref(schema);
    json_decref(schema); /* the compiled schema must not need it */
    if (inst != NULL) {
        struct gw_jschema_result a = {.max = 5}, b = {.max = 5};
        bool ok = gw_jschema_validate(s, inst, &a);
        bool ok2 = gw_jschema_validate(s, inst, &b);
        if (!a.oom && !b.oom) {
            CHECK(ok == ok2 && a.count == b.count && a.more == b.more);
            CHECK(ok == (a.count == 0));
            CHECK(a.count <= 5 && (!a.more || a.count == 5));
            for (size_t i = 0; i < a.count; i++) {
                CHECK(a.items[i].keyword && a.items[i].keyword[0]);
                CHECK(a.items[i].message && a.items[i].message[0]);
                CHECK(strcmp(a.items[i].pointer, b.items[i].pointer) == 0);
                CHECK(resolve(inst, a.items[i].pointer) != NULL);
            }
        }
        gw_jschema_result_free(&a);
        gw_jschema_result_free(&b);
        json_decref(inst);
    }
    gw_jschema_free(s);
    return 0;
}
