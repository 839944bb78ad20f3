/*
 * Value templates of the transformations (docs/transform.md): a string with variables, compiled
 * once when the config is loaded and rendered per request without parsing.
 *
 * Syntax: "$name" is a variable, name being a letter or '_' followed by letters, digits and
 * '_' (the longest such run); "$$" is a literal '$'; a '$' followed by anything else is itself.
 * Variables, named as nginx names them:
 *   $request_id  the request id (X-Request-ID)      $client_ip  the client address
 *   $consumer    the authenticated consumer id       $user_id    the authenticated user id
 *   $service     the service's name                  $route      the matched service prefix
 *   $trace_id    the W3C trace id (r->trace_id: "" when tracing is off)
 *   $http_<name> the request header <name> (any case, '_' matches '-'; several joined by ", ")
 *   $arg_<name>  the query parameter <name>, as sent (first one; names compared decoded)
 * A variable with no value renders as "". Any other name is refused at load time.
 *
 * Pure code: parsing touches nothing but its arguments (the fuzz target's way in), rendering
 * reads only the struct gw_tpl_source it is given.
 */
#ifndef GW_POLICY_TEMPLATE_H
#define GW_POLICY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "http1/parser.h"

enum gw_tpl_kind {
    GW_TPL_TEXT = 0,
    GW_TPL_REQUEST_ID,
    GW_TPL_CLIENT_IP,
    GW_TPL_CONSUMER,
    GW_TPL_USER_ID,
    GW_TPL_SERVICE,
    GW_TPL_ROUTE,
    GW_TPL_TRACE_ID,
    GW_TPL_HTTP, /* a request header */
    GW_TPL_ARG,  /* a query parameter */
};

/* One piece: literal text, or a variable (for HTTP and ARG, its header or parameter name). */
struct gw_tpl_part {
    enum gw_tpl_kind kind;
    uint32_t off; /* into gw_template.text: the literal, or the name */
    uint32_t len;
};

struct gw_template {
    char *text; /* literals (unescaped) and names, back to back (may hold NUL bytes) */
    size_t text_len;
    struct gw_tpl_part *parts;
    size_t nparts;
    uint32_t uses; /* bit (1u << kind) for each kind of part it has */
};

/* Longest template source accepted (the config's strings are bounded by it). */
#define GW_TEMPLATE_MAX 4096

/*
 * Compiles s[0..n) into *out (free with gw_template_free). Returns 0, GW_ENOMEM, or GW_EINVAL
 * with *err_at the offset in s of what is wrong (the '$' of an unknown variable) and why a
 * message naming it (why_cap bytes, NUL-terminated).
 */
int gw_template_parse(const char *s, size_t n, struct gw_template **out, size_t *err_at, char *why,
                      size_t why_cap);

void gw_template_free(struct gw_template *t);

/* True when t has no variable: it renders to the same text for every request. */
static inline bool gw_template_is_constant(const struct gw_template *t)
{
    return (t->uses & ~(1u << GW_TPL_TEXT)) == 0;
}

/* What variables read: a request's values. Strings may be NULL (rendered as ""). */
struct gw_tpl_source {
    const char *request_id;
    const char *client_ip;
    const char *consumer;
    const char *user_id;
    const char *service;
    const char *route; /* route_len bytes */
    size_t route_len;
    const char *trace_id;
    const struct gw_http1_message *msg; /* request headers, or NULL */
    const char *query;                  /* "?a=1&b=2" (with the '?') or NULL */
    size_t query_len;
};

/* Appends t rendered for src to out. 0 or GW_ENOMEM (out's cap). */
int gw_template_render(const struct gw_template *t, const struct gw_tpl_source *src,
                       struct gw_buf *out);

/*
 * The first parameter of query (as in gw_tpl_source) whose name, percent-decoded, equals
 * name[0..n): its raw value in *val (may be empty). False when there is none.
 */
bool gw_template_query_value(const char *query, size_t query_len, const char *name, size_t n,
                             const char **val, size_t *val_len);

/* True when query parameter name raw[0..rn) (as sent, maybe with escapes) decodes to
 * name[0..n). */
bool gw_template_query_name_is(const char *raw, size_t rn, const char *name, size_t n);

#endif
