/*
 * Transformations (docs/transform.md): what the stage of policy/transform.c applies, compiled
 * per snapshot, and the pure editing functions it is made of (the unit tests' way in).
 *
 * A service's transformations are layers applied in order: the gateway's ("transform", unless
 * the service says "inherit": false), the service's, then the one route rule whose match has
 * the longest prefix. Each layer edits headers (remove, rename, set, add), query parameters,
 * the path, the status and JSON bodies.
 */
#ifndef GW_POLICY_TRANSFORM_H
#define GW_POLICY_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config-t.h"
#include "core/buf.h"
#include "http1/parser.h"
#include "policy/template.h"

struct gw_policy;
struct gw_snapshot;

/* A layer: a set of transformations and its compiled path expression. */
/* What a layer does (gw_tf_layer.does), worked out when the snapshot is built. */
enum {
    GW_TF_REQ_HEADERS = 1u << 0, /* edits the request's headers */
    GW_TF_REQ_QUERY = 1u << 1,   /* edits its query */
    GW_TF_REQ_PATH = 1u << 2,    /* rewrites its path */
    GW_TF_REQ_BODY = 1u << 3,    /* edits its JSON body */
    GW_TF_RESP_LINES = 1u << 4,  /* sets or adds response headers (rendered at request time) */
    GW_TF_RESP_HEAD = 1u << 5,   /* edits the response head: status, header removals/renames/sets */
    GW_TF_RESP_BODY = 1u << 6,   /* edits the response's JSON body */
};

struct gw_tf_layer {
    const struct gw_tf_set *set;
    unsigned does;                           /* GW_TF_* bits */
    struct pcre2_real_code_8 *re;            /* request.path_regex, JIT-compiled, or NULL */
    struct pcre2_real_match_context_8 *mctx; /* its match limits */
};

/* Most layers one request gets: the gateway's, the service's, a rule's. */
#define GW_TF_MAX_LAYERS 3

/* One service's transformations. */
struct gw_tf_plan {
    bool on; /* something to do for this service */
    struct gw_tf_layer base[2];
    size_t nbase;
    const struct gw_tf_rule_conf *rules;
    struct gw_tf_layer *rule_layers; /* one per rule */
    size_t nrules;
    uint64_t max_body; /* JSON bodies are edited up to this size */
    uint32_t uses;     /* the kinds of variables its templates use (1u << enum gw_tpl_kind) */
    /* Only constant request-header edits without renames, and no rule: applied in place with no
     * per-request state (the common "set a header" case), as worked out when the snapshot is
     * built: the request's fields named in drop go (every layer's remove and set names), the
     * fields of added (every layer's set and add values, less those a later layer removes)
     * come after the kept ones. */
    bool const_headers;
    struct gw_tf_name {
        const char *s;
        uint32_t n;
    } * drop;
    size_t ndrop;
    uint64_t drop_lens; /* bit min(n, 63) for each name of drop: most fields are let go by it */
    struct gw_http1_header *added;
    size_t nadded;
    bool adds_origin; /* one of added is an Origin: the request's origin_index is found again */
    /* added as header lines ("Name: value\r\n"...), when every added name is one the upstream
     * request carries as it is (not Host, a hop-by-hop or an identity field, ...): a request no
     * later row reads the fields of gets them as r->fwd_lines, not in its field list. Or NULL. */
    char *fwd_block;
    size_t fwd_block_len;
};

/* Builds p->transforms (one plan per service of s): compiles the path expressions with their
 * match limit. 0, or a negative code with why. */
int gw_transform_build(struct gw_policy *p, const struct gw_snapshot *s, char *why, size_t why_cap);
void gw_transform_free(struct gw_policy *p);

/* Most backtracking steps one path expression may take on one request (PCRE2's match limit):
 * an expression that needs more fails the request (500) instead of burning the worker. */
#define GW_TF_MATCH_LIMIT 100000

/* ---- pure editing functions ---------------------------------------------------------------- */

/*
 * One layer's query edits f on query parameters q[0..n) (without the '?'), appended to out
 * (without a '?'; "" when none is left). Names are compared percent-decoded; values of set and
 * add are rendered from src and percent-encoded. 0 or GW_ENOMEM.
 */
int gw_tf_query_edit(const char *q, size_t n, const struct gw_tf_fields *f,
                     const struct gw_tpl_source *src, struct gw_buf *out);

/*
 * The prefix rewrite from -> to of the normalised path norm[0..nn) and its spelling (the
 * client's, spell[0..sn), which may equal norm): when norm is from or lies under it on a
 * segment boundary, appends to + the rest of norm to *norm_out and to + the rest of the
 * spelling (byte for byte) to *spell_out and returns 1; else 0. GW_ENOMEM.
 */
int gw_tf_path_prefix(const char *norm, size_t nn, const char *spell, size_t sn, const char *from,
                      const char *to, struct gw_buf *norm_out, struct gw_buf *spell_out);

/*
 * Expands replacement repl for a match of subject s whose ovector (pairs of offsets, ngroups
 * pairs; PCRE2_UNSET for a group that did not take part) is given: "$0".."$9" are groups, "$$"
 * is '$'. Appends to out. 0 or GW_ENOMEM.
 */
int gw_tf_expand(const char *repl, const char *s, const size_t *ovector, size_t ngroups,
                 struct gw_buf *out);

/* One layer's body edits, with the values of its templated "add" fields already rendered
 * (vals[i] for add[i]: a NUL-terminated string, or NULL when add[i] is not a template). */
struct gw_tf_json_layer {
    const struct gw_tf_body *body;
    const char *const *vals;
};

/*
 * Applies the body edits of layers[0..n) to the JSON text body[0..len) and appends the result
 * to out. Returns 1 when edited, 0 when the body is not a JSON object (or has duplicate
 * member names, or numbers jansson cannot hold): then out is untouched and the body should
 * pass as it is. GW_ENOMEM.
 */
int gw_tf_json_edit(const char *body, size_t len, const struct gw_tf_json_layer *layers, size_t n,
                    struct gw_buf *out);

/* True when a Content-Type value is JSON: application/json or application/<x>+json, with
 * parameters. */
bool gw_tf_is_json(const char *v, size_t n);

#endif
