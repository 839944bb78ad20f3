/*
 * JSON Schema (a documented subset of draft 2020-12, docs/validation.md): a schema is compiled
 * once, when the configuration is loaded, into an immutable validator that any worker thread
 * may use at the same time; a request body (a jansson value) is then checked against it.
 *
 * Keywords enforced: type (a name or an array of names, "integer" included), enum, const,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength (code points),
 * pattern (PCRE2, unanchored as ECMA-262's search), required, properties,
 * additionalProperties (boolean or schema), minItems, maxItems, items (a schema), prefixItems,
 * $ref to "#" or "#/$defs/<name>", $defs (at the root only). Boolean schemas (true, false).
 * Annotations that assert nothing are accepted and ignored: $schema, $id (at the root),
 * $comment, title, description, default, examples, deprecated, readOnly, writeOnly.
 * Any other keyword is refused, so that no one believes a keyword is enforced when it is not.
 */
#ifndef GW_POLICY_JSCHEMA_H
#define GW_POLICY_JSCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct gw_jschema;

/* Where in the schema document a compile error is: a chain of steps from the error up to the
 * schema's root (up == NULL past the first step). A step is an object key (key != NULL) or an
 * array index. */
struct gw_jschema_where {
    const struct gw_jschema_where *up;
    const char *key;
    size_t index;
};

/* Reports one compile error: at (NULL: the schema itself), whether it concerns the key at the
 * end of `at` rather than its value (an unknown keyword), and a message. */
typedef void (*gw_jschema_error_fn)(void *ud, const struct gw_jschema_where *at, bool at_key,
                                    const char *msg);

/* Compiles schema (not kept: what the validator needs is copied or referenced). Every problem is
 * reported through err (which may be NULL); returns 0 with *out set, GW_ECONFIG when there was
 * at least one problem (*out NULL), or GW_ENOMEM. */
int gw_jschema_compile(json_t *schema, gw_jschema_error_fn err, void *ud, struct gw_jschema **out);

/* Frees a compiled schema (NULL is fine). */
void gw_jschema_free(struct gw_jschema *s);

/* One violation: the instance location (a JSON pointer, RFC 6901: "" is the whole body), the
 * keyword that failed, and a message for people. */
struct gw_jschema_error {
    char *pointer;
    const char *keyword; /* static */
    char *message;
};

/* The violations found, in document order, up to max. */
struct gw_jschema_result {
    struct gw_jschema_error *items;
    size_t count;
    size_t max; /* set by the caller (0: 1) */
    bool more;  /* the check stopped at max: there may be more */
    bool oom;
};

/* Checks v against s, recording up to res->max violations (res zeroed but for max). Returns
 * true when v is valid. Thread-safe for a shared s. Release res with gw_jschema_result_free. */
bool gw_jschema_validate(const struct gw_jschema *s, const json_t *v,
                         struct gw_jschema_result *res);

void gw_jschema_result_free(struct gw_jschema_result *res);

/* Instances nested deeper than this are refused (keyword "$ref"/the nesting keyword, message
 * "nested too deeply"): it bounds the validator's recursion. */
#define GW_JSCHEMA_MAX_DEPTH 128

#endif
