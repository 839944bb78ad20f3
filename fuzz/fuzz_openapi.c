/*
 * libFuzzer target for openapi/merge.c: arbitrary JSON text as a service's OpenAPI document,
 * merged beside a fixed well-formed one. Invariants (any violation traps):
 *   - a document gw_openapi_check refuses is never merged; one it accepts merges without error
 *     (or runs out of memory);
 *   - the merged document is an object with "openapi", "info", "servers", "paths" and
 *     "components", and serializes;
 *   - every "$ref" to a namespaced component kind ("#/components/schemas/...") inside the
 *     merged paths and components names a component of one of the two namespaces;
 *   - the input document is not modified by the merge.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "openapi/merge.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static const char fixed_text[] =
    "{\"openapi\": \"3.0.3\", \"paths\": {\"/a\": {\"get\": {\"operationId\": \"a\", "
    "\"responses\": {\"200\": {\"$ref\": \"#/components/responses/R\"}}}}}, \"components\": "
    "{\"responses\": {\"R\": {\"description\": \"r\"}}}}";

static const char *const kinds[] = {"schemas",  "responses",     "parameters",
                                    "examples", "requestBodies", "headers",
                                    "links",    "callbacks",     "pathItems"};

static void check_refs(const json_t *v)
{
    static const char head[] = "#/components/";
    if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            const char *s = json_string_value(val);
            if (strcmp(key, "$ref") == 0 && s && strncmp(s, head, sizeof head - 1) == 0) {
                const char *kind = s + sizeof head - 1;
                const char *slash = strchr(kind, '/');
                for (size_t k = 0; slash && slash[1] && k < sizeof kinds / sizeof kinds[0]; k++) {
                    if (strlen(kinds[k]) == (size_t)(slash - kind) &&
                        memcmp(kinds[k], kind, (size_t)(slash - kind)) == 0)
                        CHECK(strncmp(slash + 1, "fix.", 4) == 0 ||
                              strncmp(slash + 1, "fz.", 3) == 0);
                }
            } else {
                check_refs(val);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *val;
        json_array_foreach((json_t *)v, i, val) check_refs(val);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        return 0;
    json_t *fixed = json_loads(fixed_text, 0, NULL);
    json_t *before = json_deep_copy(doc);
    CHECK(fixed != NULL);
    bool ok = gw_openapi_check(doc) == NULL;
    struct gw_openapi_service svcs[] = {
        {.name = "fix", .mount = "/f", .doc = fixed, .auth = GW_AUTH_JWT, .auth_required = true},
        {.name = "fz",
         .mount = "/z",
         .doc = ok ? doc : NULL,
         .auth = GW_AUTH_API_KEY,
         .api_key_header = "x-api-key"},
    };
    const struct gw_openapi_info info = {"t", "1", "/"};
    json_t *m = NULL;
    if (gw_openapi_merge(&info, svcs, 2, &m) == 0) {
        CHECK(json_is_object(m));
        CHECK(json_object_get(m, "openapi") && json_object_get(m, "info") &&
              json_object_get(m, "servers") && json_is_object(json_object_get(m, "paths")) &&
              json_is_object(json_object_get(m, "components")));
        CHECK(json_object_get(json_object_get(m, "paths"), "/f/a") != NULL);
        check_refs(json_object_get(m, "paths"));
        check_refs(json_object_get(m, "components"));
        char *text = json_dumps(m, JSON_COMPACT);
        free(text);
        json_decref(m);
    }
    if (before != NULL)
        CHECK(json_equal(before, doc));
    json_decref(before);
    json_decref(fixed);
    json_decref(doc);
    return 0;
}
