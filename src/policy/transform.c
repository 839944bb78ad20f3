/*
 * The transformation stage (docs/transform.md; policy/transform.h has the model).
 *
 * On the request, after authentication and the limits (so $consumer is known), it edits what
 * goes upstream, in the request itself: the header list of r->msg (a copy with room for the
 * added fields), r->query and the path (r->npath, re-packed with its spelling, see
 * route/normalize.h), before request.c's forward builds the upstream path from them. Every
 * template is rendered here, against the request as the client sent it; the response's header
 * values too, since the request's head is gone by the time the answer comes.
 *
 * On the response: on_response_head maps the status and removes and renames the upstream's
 * fields; on_response appends the set and added fields (to gantry's own answers too).
 *
 * A path rewrite replaces strip_prefix for the request it matched: its result is the upstream
 * path. A prefix rewrite keeps the client's spelling of the rest of the path byte for byte; a
 * regular expression works on the normalised path, and its (normalised) result is forwarded.
 */
#include "policy/transform.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/hygiene.h"
#include "http1/names.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/policy.h"
#include "policy/repr.h"
#include "policy/stages.h"
#include "policy/transform_help.h"
#include "route/normalize.h"

/* ---- pure helpers -------------------------------------------------------------------------- */

/* ---- the stage ----------------------------------------------------------------------------- */

struct tf_state {
    const struct gw_tf_layer *layers[GW_TF_MAX_LAYERS];
    size_t nlayers;
    unsigned does; /* the layers' GW_TF_* bits together */
    const struct gw_tf_plan *plan;
    struct gw_http1_header *headers; /* the request's header list when it outgrew its array */
    struct gw_buf values;            /* the values rendered for it */
    char *query;                     /* the edited query, "?..." (owned) */
    struct gw_buf extra_query;       /* parameters a path expression's replacement gave */
    struct gw_buf resp_lines;        /* response header lines rendered for on_response */
    /* JSON bodies: the rendered values of templated "add" fields, per layer, request then
     * response (vals[l] and vals[GW_TF_MAX_LAYERS + l] point into body_vals) */
    struct gw_buf body_vals;
    const char **vals[2 * GW_TF_MAX_LAYERS];
    const char **val_ptrs; /* the one allocation vals[] point into */
    struct gw_body_filter req_filter;
    struct gw_body_filter resp_filter;
};
_Static_assert(sizeof(struct tf_state) <= GW_STAGE_STATE_MAX, "transform state too large");

/* The rule whose match has the longest prefix that matches (the first one on a tie). */
static const struct gw_tf_layer *pick_rule(const struct gw_request *r, const struct gw_tf_plan *pl)
{
    const struct gw_tf_layer *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < pl->nrules; i++) {
        const struct gw_match_conf *m = &pl->rules[i].match;
        if (!gw_policy_match(m, r->npath, r->npath_len, (int)r->msg.method_id))
            continue;
        size_t len = 0;
        for (size_t k = 0; k < m->nprefixes; k++) {
            size_t pl_len = strlen(m->prefixes[k]);
            if (pl_len > len && gw_policy_path_under(r->npath, r->npath_len, m->prefixes[k]))
                len = pl_len;
        }
        if (best == NULL || len > best_len) {
            best = &pl->rule_layers[i];
            best_len = len;
        }
    }
    return best;
}

static void source_of(struct gw_request *r, struct gw_tpl_source *src)
{
    src->request_id = r->id;
    src->client_ip = r->client_ip;
    src->consumer = r->authenticated ? r->identity.consumer : NULL;
    src->user_id = r->authenticated ? r->identity.user : NULL;
    src->service = r->svc->conf->name;
    src->route = r->npath;
    src->route_len = r->prefix_len < r->npath_len ? r->prefix_len : r->npath_len;
    src->trace_id = r->trace_id; /* "" when tracing is off */
    src->msg = &r->msg;
    src->query = r->query;
    src->query_len = r->query_len;
}

/* Renders t for a header value: control characters (CR, LF, NUL, ...) are dropped, so no value
 * can inject a header line. */
static int render_value(const struct gw_template *t, const struct gw_tpl_source *src,
                        struct gw_buf *out)
{
    size_t from = out->len;
    int rc = gw_template_render(t, src, out);
    if (rc < 0)
        return rc;
    size_t w = from;
    for (size_t i = from; i < out->len; i++) {
        unsigned char c = (unsigned char)out->data[i];
        if ((c >= 0x20 && c != 0x7f) || c == '\t')
            out->data[w++] = (char)c;
    }
    out->len = w;
    return 0;
}

/*
 * The request's header list edited by every layer. The list is edited where it is (the
 * request's own array has room for max_headers entries; a longer result moves to memory of the
 * state's), so the common case allocates nothing: names and constant values point into the
 * config (it lives as long as the request's snapshot), values with variables are rendered first
 * into st->values, each followed by a NUL, and taken in the same order when they are added.
 */
static int edit_request_headers(struct gw_request *r, struct tf_state *st,
                                const struct gw_tpl_source *src)
{
    struct gw_http1_message *m = &r->msg;
    size_t need = m->num_headers;
    bool render = false;
    for (size_t l = 0; l < st->nlayers; l++) {
        const struct gw_tf_fields *f = &st->layers[l]->set->request.headers;
        need += f->nset + f->nadd;
        for (size_t i = 0; i < f->nset; i++)
            render |= !gw_template_is_constant(f->set[i].value);
        for (size_t i = 0; i < f->nadd; i++)
            render |= !gw_template_is_constant(f->add[i].value);
    }
    int rc = 0;
    if (render) {
        gw_buf_init(&st->values, (size_t)r->snap->cfg->http.max_header_bytes);
        for (size_t l = 0; l < st->nlayers && rc == 0; l++) {
            const struct gw_tf_fields *f = &st->layers[l]->set->request.headers;
            const struct gw_tf_value *lists[2] = {f->set, f->add};
            size_t counts[2] = {f->nset, f->nadd};
            for (size_t k = 0; k < 2 && rc == 0; k++) {
                for (size_t i = 0; i < counts[k] && rc == 0; i++) {
                    if (gw_template_is_constant(lists[k][i].value))
                        continue;
                    rc = render_value(lists[k][i].value, src, &st->values);
                    rc |= gw_buf_append(&st->values, "", 1);
                }
            }
        }
        if (rc < 0)
            return GW_ETRANSFORM; /* the values outgrew the header limit */
    }
    struct gw_http1_header *h = m->headers;
    if (need > m->headers_capacity) {
        h = malloc(need * sizeof *h);
        if (h == NULL)
            return GW_ENOMEM;
        memcpy(h, m->headers, m->num_headers * sizeof *h);
        st->headers = h;
        m->headers = h;
        m->headers_capacity = (uint32_t)need;
    }
    size_t n = m->num_headers;
    const char *cursor = st->values.data;
    bool renamed = false;
    size_t before_drops = 0, after_drops = 0; /* fields in, fields kept: one went if they differ */
    for (size_t l = 0; l < st->nlayers; l++) {
        const struct gw_tf_fields *f = &st->layers[l]->set->request.headers;
        before_drops += n;
        for (size_t i = 0; i < f->nremove; i++)
            n = gw__tf_drop_named(h, n, f->remove[i], strlen(f->remove[i]));
        for (size_t i = 0; i < f->nrename; i++) {
            for (size_t k = 0; k < n; k++) {
                if (gw__tf_header_is(h[k].name, h[k].name_len, f->rename[i].from)) {
                    h[k].name = f->rename[i].to;
                    h[k].name_len = (uint32_t)strlen(f->rename[i].to);
                    renamed = true;
                }
            }
        }
        for (size_t i = 0; i < f->nset; i++)
            n = gw__tf_drop_named(h, n, f->set[i].name, strlen(f->set[i].name));
        after_drops += n;
        const struct gw_tf_value *lists[2] = {f->set, f->add};
        size_t counts[2] = {f->nset, f->nadd};
        for (size_t k = 0; k < 2; k++) {
            for (size_t i = 0; i < counts[k]; i++) {
                const struct gw_template *t = lists[k][i].value;
                h[n].name = lists[k][i].name;
                h[n].name_len = (uint32_t)strlen(lists[k][i].name);
                if (gw_template_is_constant(t)) {
                    h[n].value = t->text;
                    h[n].value_len = (uint32_t)t->text_len;
                } else {
                    size_t len = strlen(cursor);
                    h[n].value = cursor;
                    h[n].value_len = (uint32_t)len;
                    cursor += len + 1;
                }
                n++;
            }
        }
    }
    /* Kept fields keep their order and added ones go after them: Host's index changed only if
     * a field went away or a rename touched a name. */
    bool moved = renamed || after_drops != before_drops;
    m->num_headers = (uint32_t)n;
    if (moved)
        m->host_index = gw_http1_find_header(m, "host", 4);
    m->origin_index = gw_http1_origin_index(m);
    return 0;
}

/* The response's set and added fields, rendered now: the request's head is gone later. */
static int render_response_lines(struct gw_request *r, struct tf_state *st,
                                 const struct gw_tpl_source *src)
{
    gw_buf_init(&st->resp_lines, (size_t)r->snap->cfg->http.max_header_bytes);
    int rc = 0;
    for (size_t l = 0; l < st->nlayers && rc == 0; l++) {
        const struct gw_tf_fields *f = &st->layers[l]->set->response.headers;
        const struct gw_tf_value *lists[2] = {f->set, f->add};
        size_t counts[2] = {f->nset, f->nadd};
        for (size_t s = 0; s < 2 && rc == 0; s++) {
            for (size_t i = 0; i < counts[s] && rc == 0; i++) {
                rc |= gw_buf_append_str(&st->resp_lines, lists[s][i].name);
                rc |= gw_buf_append(&st->resp_lines, ": ", 2);
                rc |= render_value(lists[s][i].value, src, &st->resp_lines);
                rc |= gw_buf_append(&st->resp_lines, "\r\n", 2);
            }
        }
    }
    return rc ? GW_ETRANSFORM : 0;
}

/* Applies the path rewrites in order to the normalised path and its spelling. Returns 1 when
 * one matched (norm and spell hold the new path), 0 when none did, or a negative code. */
static int rewrite_path(struct gw_request *r, struct tf_state *st, struct gw_buf *norm,
                        struct gw_buf *spell)
{
    size_t sl;
    const char *s = gw_path_packed_spelling(r->npath, r->npath_len, &sl);
    int rc = gw_buf_append(norm, r->npath, r->npath_len);
    rc |= gw_buf_append(spell, s, sl);
    if (rc)
        return GW_ENOMEM;
    bool changed = false;
    struct gw_buf nn, ns;
    gw_buf_init(&nn, norm->max);
    gw_buf_init(&ns, spell->max);
    for (size_t l = 0; l < st->nlayers && rc >= 0; l++) {
        const struct gw_tf_layer *ly = st->layers[l];
        const struct gw_tf_request_conf *rq = &ly->set->request;
        gw_buf_reset(&nn);
        gw_buf_reset(&ns);
        if (rq->path_kind == GW_TF_PATH_PREFIX) {
            rc = gw_tf_path_prefix(norm->data, norm->len, spell->data, spell->len, rq->path_from,
                                   rq->path_to, &nn, &ns);
        } else if (rq->path_kind == GW_TF_PATH_REGEX && ly->re) {
            pcre2_match_data *md = pcre2_match_data_create_from_pattern(ly->re, NULL);
            if (md == NULL) {
                rc = GW_ENOMEM;
                break;
            }
            int mr = pcre2_match(ly->re, (PCRE2_SPTR)norm->data, norm->len, 0, 0, md, ly->mctx);
            if (mr >= 0) {
                struct gw_buf out;
                gw_buf_init(&out, norm->max);
                rc = gw_tf_expand(rq->path_replace, norm->data, pcre2_get_ovector_pointer(md),
                                  pcre2_get_ovector_count(md), &out);
                size_t len = 0;
                /* A '?' in the result starts parameters that go before the client's (as
                 * nginx's rewrite does). */
                const char *qm = out.data ? memchr(out.data, '?', out.len) : NULL;
                if (rc == 0 && qm) {
                    size_t ql = out.len - (size_t)(qm + 1 - out.data);
                    gw_buf_reset(&st->extra_query);
                    rc = gw_buf_append(&st->extra_query, qm + 1, ql);
                    out.len = (size_t)(qm - out.data);
                }
                /* The result is normalised (a group may hold anything the path held): what
                 * goes upstream is a path the router would take as it is. */
                if (rc == 0 && gw_buf_reserve(&nn, out.len + 1) == 0 &&
                    gw_path_normalize(out.data ? out.data : "", out.len, nn.data, &len) == 0) {
                    nn.len = len;
                    rc = gw_buf_append(&ns, nn.data, len) == 0 ? 1 : GW_ENOMEM;
                } else if (rc == 0) {
                    gw_log_warn("request %s: path rewrite %s gave %.*s, not a valid path", r->id,
                                rq->path_regex, (int)(out.len > 200 ? 200 : out.len),
                                out.data ? out.data : "");
                    rc = GW_ETRANSFORM;
                }
                gw_buf_free(&out);
            } else if (mr == PCRE2_ERROR_MATCHLIMIT || mr == PCRE2_ERROR_DEPTHLIMIT) {
                /* The configured expression, not the client, is at fault: gantry's own 500. */
                gw_log_warn("request %s: path rewrite %s hit its match limit (%u steps) on %.*s: "
                            "refused (500)",
                            r->id, rq->path_regex, (unsigned)GW_TF_MATCH_LIMIT,
                            (int)(norm->len > 200 ? 200 : norm->len), norm->data);
                rc = GW_ETRANSFORM;
            } else if (mr != PCRE2_ERROR_NOMATCH) {
                gw_log_warn("request %s: path rewrite %s failed (PCRE2 error %d): refused", r->id,
                            rq->path_regex, mr);
                rc = GW_ETRANSFORM;
            } else {
                rc = 0;
            }
            pcre2_match_data_free(md);
        }
        if (rc == 1) {
            changed = true;
            struct gw_buf t = *norm;
            *norm = nn;
            nn = t;
            t = *spell;
            *spell = ns;
            ns = t;
        }
    }
    gw_buf_free(&nn);
    gw_buf_free(&ns);
    return rc < 0 ? rc : changed;
}

/* Rebuilds r->npath (packed: route/normalize.h) with room for r->query after it, from the
 * path edits; edits the query. */
static int edit_path_and_query(struct gw_request *r, struct tf_state *st,
                               const struct gw_tpl_source *src, bool path, bool query)
{
    size_t max = (size_t)r->snap->cfg->http.max_request_line * 2 + 1024;
    struct gw_buf norm, spell, q, q2;
    gw_buf_init(&norm, max);
    gw_buf_init(&spell, max);
    gw_buf_init(&q, max);
    gw_buf_init(&q2, max);
    int rc = 0;
    gw_buf_init(&st->extra_query, max);
    int moved = path ? rewrite_path(r, st, &norm, &spell) : 0;
    if (moved < 0)
        rc = moved;
    if (rc == 0 && st->extra_query.len) {
        /* The replacement's parameters, then the client's: the query edits see both. */
        rc = gw_buf_append(&q, st->extra_query.data, st->extra_query.len);
        if (rc == 0 && r->query_len > 1) {
            rc |= gw_buf_append(&q, "&", 1);
            rc |= gw_buf_append(&q, r->query + 1, r->query_len - 1);
        }
        query = true;
    }
    if (rc == 0 && query) {
        const char *cur = q.len ? q.data : r->query ? r->query + 1 : "";
        size_t cl = q.len ? q.len : r->query_len ? r->query_len - 1 : 0;
        for (size_t l = 0; l < st->nlayers && rc == 0; l++) {
            const struct gw_tf_fields *f = &st->layers[l]->set->request.query;
            if (gw__tf_fields_empty(f))
                continue;
            gw_buf_reset(&q2);
            rc = gw_tf_query_edit(cur, cl, f, src, &q2);
            struct gw_buf t = q;
            q = q2;
            q2 = t;
            cur = q.data ? q.data : "";
            cl = q.len;
        }
        if (rc == 0) {
            st->query = malloc(cl + 2);
            if (st->query == NULL) {
                rc = GW_ENOMEM;
            } else {
                st->query[0] = '?';
                memcpy(st->query + 1, cur, cl);
                r->query = cl ? st->query : NULL;
                r->query_len = cl ? cl + 1 : 0;
            }
        }
    }
    if (rc == 0 && moved) {
        /* forward() moves the spelling to the front and appends the query: room for both. */
        bool same = norm.len == spell.len && memcmp(norm.data, spell.data, norm.len) == 0;
        size_t cap = norm.len + 1 + (same ? 0 : spell.len + 1) + r->query_len + 1;
        char *buf = malloc(cap);
        if (buf == NULL) {
            rc = GW_ENOMEM;
        } else {
            memcpy(buf, norm.data, norm.len);
            buf[norm.len] = '\0';
            if (!same) {
                memcpy(buf + norm.len, spell.data, spell.len);
                buf[norm.len + spell.len] = '\0';
            }
            gw_request_path_free(r, r->npath);
            r->npath = buf;
            r->npath_len = norm.len;
            r->prefix_len = 0; /* the rewrite is the upstream path: strip_prefix is done */
        }
    } else if (rc == 0 && query && r->query_len) {
        /* The query may have grown: forward() needs room for it behind the path. */
        size_t sl;
        const char *sp = gw_path_packed_spelling(r->npath, r->npath_len, &sl);
        size_t used = r->npath_len + 1 + (sp == r->npath ? 0 : sl); /* with the last NUL */
        char *buf = malloc(used + r->query_len + 1);
        if (buf == NULL) {
            rc = GW_ENOMEM;
        } else {
            memcpy(buf, r->npath, used);
            gw_request_path_free(r, r->npath);
            r->npath = buf;
        }
    }
    gw_buf_free(&norm);
    gw_buf_free(&spell);
    gw_buf_free(&q);
    gw_buf_free(&q2);
    return rc;
}

/* ---- JSON bodies ---- */

static const struct gw_tf_body *layer_body(const struct tf_state *st, size_t l, bool response)
{
    const struct gw_tf_set *set = st->layers[l]->set;
    return response ? &set->response.body : &set->request.body;
}

/* Renders the templated "add" values of the body edits now, while the request's head is here:
 * the body comes later (the response's much later). */
static int render_body_values(struct gw_request *r, struct tf_state *st,
                              const struct gw_tpl_source *src)
{
    size_t total = 0;
    for (size_t side = 0; side < 2; side++)
        for (size_t l = 0; l < st->nlayers; l++)
            total += layer_body(st, l, side)->nadd;
    st->val_ptrs = calloc(total ? total : 1, sizeof *st->val_ptrs);
    size_t *offs = calloc(total ? total : 1, sizeof *offs);
    if (st->val_ptrs == NULL || offs == NULL) {
        free(offs);
        return GW_ENOMEM;
    }
    gw_buf_init(&st->body_vals, (size_t)r->snap->cfg->http.max_header_bytes * 2);
    int rc = 0;
    size_t k = 0;
    for (size_t side = 0; side < 2 && rc == 0; side++) {
        for (size_t l = 0; l < st->nlayers && rc == 0; l++) {
            const struct gw_tf_body *b = layer_body(st, l, side);
            st->vals[side * GW_TF_MAX_LAYERS + l] = st->val_ptrs + k;
            for (size_t i = 0; i < b->nadd && rc == 0; i++, k++) {
                offs[k] = SIZE_MAX;
                if (b->add_tpl[i] == NULL)
                    continue;
                offs[k] = st->body_vals.len;
                rc = gw_template_render(b->add_tpl[i], src, &st->body_vals);
                rc |= gw_buf_append(&st->body_vals, "", 1);
            }
        }
    }
    for (size_t i = 0; i < k && rc == 0; i++)
        st->val_ptrs[i] = offs[i] == SIZE_MAX ? NULL : st->body_vals.data + offs[i];
    free(offs);
    return rc ? GW_ETRANSFORM : 0;
}

static int filter_done(struct gw_request *r, struct tf_state *st, struct gw_body_filter *f,
                       bool response)
{
    struct gw_tf_json_layer jl[GW_TF_MAX_LAYERS];
    for (size_t l = 0; l < st->nlayers; l++) {
        jl[l].body = layer_body(st, l, response);
        jl[l].vals = st->vals[response * GW_TF_MAX_LAYERS + l];
    }
    struct gw_buf out;
    gw_buf_init(&out, f->max * 2 + 4096);
    int rc = gw_tf_json_edit(f->body.data ? f->body.data : "", f->body.len, jl, st->nlayers, &out);
    if (rc == 1) {
        gw_buf_free(&f->body);
        f->body = out;
        return 0;
    }
    gw_buf_free(&out);
    if (rc < 0)
        gw_log_warn("request %s: %s body transformation failed: %s", r->id,
                    response ? "response" : "request", gw_strerror(rc));
    return rc < 0 ? GW_ETRANSFORM : 0; /* not a JSON object: it passes as it came */
}

static int request_body_done(struct gw_request *r, struct gw_body_filter *f, struct gw_answer *a)
{
    (void)a;
    struct tf_state *st = (struct tf_state *)((char *)f - offsetof(struct tf_state, req_filter));
    return filter_done(r, st, f, false);
}

static int response_body_done(struct gw_request *r, struct gw_body_filter *f, struct gw_answer *a)
{
    (void)a;
    struct tf_state *st = (struct tf_state *)((char *)f - offsetof(struct tf_state, resp_filter));
    return filter_done(r, st, f, true);
}

/* Whether a body of message m may be taken whole for a JSON edit: JSON, not encoded, and not
 * known to be larger than max (a chunked or close-delimited one is tried up to max). */
static bool json_body_fits(const struct gw_http1_message *m, uint64_t max)
{
    if (m->body == GW_BODY_NONE || (m->body == GW_BODY_LENGTH && m->content_length > max))
        return false;
    int ct = gw_http1_find_header(m, "content-type", 12);
    if (ct < 0 || !gw_tf_is_json(m->headers[ct].value, m->headers[ct].value_len))
        return false;
    int ce = gw_http1_find_header(m, "content-encoding", 16);
    return ce < 0 ||
           (m->headers[ce].value_len == 8 && strncasecmp(m->headers[ce].value, "identity", 8) == 0);
}

/* json_body_fits for the answer to a HEAD, which has no body: would its GET's body be edited?
 * Judged by the Content-Length field the GET's answer would carry (none: a chunked body, tried). */
static bool json_head_fits(const struct gw_http1_message *m, uint64_t max)
{
    int cl = gw_http1_find_header(m, "content-length", 14);
    uint64_t n = 0;
    for (uint32_t i = 0; cl >= 0 && i < m->headers[cl].value_len; i++) {
        char c = m->headers[cl].value[i];
        if (c < '0' || c > '9' || n > max)
            return false;
        n = n * 10 + (uint64_t)(c - '0');
    }
    if (n > max)
        return false;
    struct gw_http1_message as_get = *m;
    as_get.body = GW_BODY_CHUNKED;
    return json_body_fits(&as_get, max);
}

/* A field of the request that a const_headers plan drops (one of plan->drop by name). */
static bool const_dropped(const struct gw_tf_plan *plan, const struct gw_http1_header *h)
{
    for (size_t i = 0; i < plan->ndrop; i++) {
        if (plan->drop[i].n == h->name_len &&
            gw__tf_header_is(h->name, h->name_len, plan->drop[i].s))
            return true;
    }
    return false;
}

/* A plan of constant request-header edits only (plan->const_headers), applied in place: the
 * fields it drops go in one pass (a field whose name length no dropped name has is kept after
 * one test), then its prepared fields come after the kept ones, copied into the request's field
 * array (add_fields: when it has room) or, as lines, into r->fwd_lines (else). The same result
 * as edit_request_headers, without state. */
__attribute__((always_inline)) static inline void
edit_const_headers(struct gw_request *r, const struct gw_tf_plan *plan, bool add_fields)
{
    struct gw_http1_message *m = &r->msg;
    uint32_t n = m->num_headers, w = 0;
    struct gw_http1_header *h = m->headers;
    /* most requests have none of the names: find the first before moving anything */
    while (w < n && !(((plan->drop_lens >> (h[w].name_len < 63 ? h[w].name_len : 63)) & 1) &&
                      const_dropped(plan, &h[w])))
        w++;
    for (uint32_t i = w; i < n; i++) {
        uint32_t len = h[i].name_len < 63 ? h[i].name_len : 63;
        if (((plan->drop_lens >> len) & 1) && const_dropped(plan, &h[i]))
            continue;
        h[w++] = h[i];
    }
    m->num_headers = w;
    if (add_fields) {
        memcpy(h + w, plan->added, plan->nadded * sizeof *h);
        m->num_headers = w + (uint32_t)plan->nadded;
    } else {
        r->fwd_lines = plan->fwd_block;
        r->fwd_lines_len = plan->fwd_block_len;
    }
    /* Kept fields keep their order and added ones go after them: Host moved only if a field
     * went away. */
    if (w != n)
        m->host_index = gw_http1_find_header(m, "host", 4);
    if (w != n || (add_fields && plan->adds_origin))
        m->origin_index = gw_http1_origin_index(m);
}

/* The rows after this one that may read the request's fields (all but the security headers',
 * which read its path): with none, fields added as lines (r->fwd_lines) are as good as fields
 * in the list. */
#define FIELD_READERS_AFTER                                                                        \
    ((uint32_t)(((1ull << GW_STAGE__COUNT) - 1u) & ~((2ull << GW_STAGE_TRANSFORM) - 1u)) &         \
     ~(1u << GW_STAGE_SECHDR))

static enum gw_stage_result transform_request(struct gw_request *r, void **slot,
                                              struct gw_answer *a, const struct gw_tf_plan *plan);

static enum gw_stage_result const_or_general(struct gw_request *r, void **slot, struct gw_answer *a,
                                             const struct gw_tf_plan *plan);

enum gw_stage_result gw_transform_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_tf_plan *plan = &r->snap->policy->transforms[r->svc - r->snap->services];
    if (plan->fwd_block && !(r->svc->stages & FIELD_READERS_AFTER)) {
        /* the common case: no field of the request has a length of a name the plan drops, so
         * nothing moves; the added fields go as lines (no call, no stack frame) */
        const struct gw_http1_header *h = r->msg.headers;
        uint32_t i = 0, n = r->msg.num_headers;
        while (i < n && !((plan->drop_lens >> (h[i].name_len < 63 ? h[i].name_len : 63)) & 1))
            i++;
        if (i == n) {
            r->fwd_lines = plan->fwd_block;
            r->fwd_lines_len = plan->fwd_block_len;
            return GW_STAGE_CONTINUE;
        }
    }
    return const_or_general(r, slot, a, plan);
}

/* The rest of gw_transform_on_request, out of line. */
__attribute__((noinline)) static enum gw_stage_result
const_or_general(struct gw_request *r, void **slot, struct gw_answer *a,
                 const struct gw_tf_plan *plan)
{
    if (plan->const_headers) {
        /* no state: no cancel, no response hooks for this request */
        if (plan->fwd_block && !(r->svc->stages & FIELD_READERS_AFTER)) {
            edit_const_headers(r, plan, false);
            return GW_STAGE_CONTINUE;
        }
        if (r->msg.num_headers + plan->nadded <= r->msg.headers_capacity) {
            edit_const_headers(r, plan, true);
            return GW_STAGE_CONTINUE;
        }
    }
    return transform_request(r, slot, a, plan); /* (the general path grows the array) */
}

/* The general case, with state (out of line: the common case above needs no stack frame). */
__attribute__((noinline)) static enum gw_stage_result
transform_request(struct gw_request *r, void **slot, struct gw_answer *a,
                  const struct gw_tf_plan *plan)
{
    struct tf_state *st = gw_stage_alloc(r, sizeof *st);
    if (st == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    *slot = st;
    st->plan = plan;
    for (size_t i = 0; i < plan->nbase; i++)
        st->layers[st->nlayers++] = &plan->base[i];
    const struct gw_tf_layer *rule = pick_rule(r, plan);
    if (rule)
        st->layers[st->nlayers++] = rule;

    for (size_t l = 0; l < st->nlayers; l++)
        st->does |= st->layers[l]->does;
    bool headers = st->does & GW_TF_REQ_HEADERS, query = st->does & GW_TF_REQ_QUERY;
    bool path = st->does & GW_TF_REQ_PATH, resp = st->does & GW_TF_RESP_LINES;
    bool req_body = st->does & GW_TF_REQ_BODY, resp_body = st->does & GW_TF_RESP_BODY;
    req_body = req_body && json_body_fits(&r->msg, plan->max_body);
    if (r->client_ip[0] == '\0' && (plan->uses & (1u << GW_TPL_CLIENT_IP)))
        gw_policy_client_ip(r);
    struct gw_tpl_source src;
    source_of(r, &src);
    /* Response values first: they read the request as the client sent it, as all do. */
    int rc = resp ? render_response_lines(r, st, &src) : 0;
    if (rc == 0 && (req_body || resp_body))
        rc = render_body_values(r, st, &src);
    if (rc == 0 && req_body) {
        st->req_filter.max = plan->max_body;
        st->req_filter.done = request_body_done;
        r->req_filter = &st->req_filter;
    }
    if (rc == 0 && (path || query))
        rc = edit_path_and_query(r, st, &src, path, query);
    if (rc == 0 && headers)
        rc = edit_request_headers(r, st, &src);
    if (rc < 0) {
        gw_answer_init(a, rc == GW_ENOMEM ? GW_ENOMEM : GW_ETRANSFORM);
        return GW_STAGE_RESPOND;
    }
    return GW_STAGE_CONTINUE;
}

/* A response field that a layer removes, or replaces with its own ("set"). */
static bool dropped(const struct gw_http1_header *h, const struct gw_tf_fields *f)
{
    for (size_t i = 0; i < f->nremove; i++) {
        if (gw__tf_header_is(h->name, h->name_len, f->remove[i]))
            return true;
    }
    for (size_t i = 0; i < f->nset; i++) {
        if (gw__tf_header_is(h->name, h->name_len, f->set[i].name))
            return true;
    }
    return false;
}

int gw_transform_on_response_head(struct gw_request *r, void *slot, struct gw_http1_message *m)
{
    struct tf_state *st = slot;
    if (!(st->does & GW_TF_RESP_HEAD))
        return 0; /* request edits only */
    bool body = false;
    for (size_t l = 0; l < st->nlayers; l++) {
        body |= !gw__tf_body_empty(&st->layers[l]->set->response.body);
        const struct gw_tf_response_conf *rs = &st->layers[l]->set->response;
        for (size_t i = 0; i < rs->nstatus; i++) {
            if (m->status == rs->status[i].from) {
                m->status = rs->status[i].to;
                m->reason = gw_http_reason(m->status);
                m->reason_len = (uint32_t)strlen(m->reason);
                break;
            }
        }
        const struct gw_tf_fields *f = &rs->headers;
        if (gw__tf_fields_empty(f))
            continue;
        size_t n = m->num_headers, w = 0;
        for (size_t i = 0; i < n; i++) {
            struct gw_http1_header *h = &m->headers[i];
            if (dropped(h, f))
                continue;
            for (size_t k = 0; k < f->nrename; k++) {
                if (gw__tf_header_is(h->name, h->name_len, f->rename[k].from)) {
                    h->name = f->rename[k].to;
                    h->name_len = (uint32_t)strlen(f->rename[k].to);
                    break;
                }
            }
            m->headers[w++] = *h;
        }
        m->num_headers = (uint32_t)w;
    }
    /* st->val_ptrs: the values were rendered, so a body edit was planned for this request. */
    if (!body || !st->val_ptrs || m->status == 206)
        return 0; /* a range is of bytes the edit would move: it passes as it came */
    /* The edited body is other bytes: its validator and digests change (policy/repr.h), and the
     * answer to a HEAD cannot know the edited length. */
    if (r->msg.method_id == GW_METHOD_HEAD) {
        if (json_head_fits(m, st->plan->max_body))
            gw_repr_fields_changed(
                r, m, GW_REPR_WEAKEN_ETAG | GW_REPR_DROP_BYTE_FIELDS | GW_REPR_DROP_LENGTH);
        return 0;
    }
    if (json_body_fits(m, st->plan->max_body)) {
        gw_repr_fields_changed(r, m, GW_REPR_WEAKEN_ETAG | GW_REPR_DROP_BYTE_FIELDS);
        st->resp_filter.max = st->plan->max_body;
        st->resp_filter.done = response_body_done;
        r->resp_filter = &st->resp_filter;
    }
    return 0;
}

int gw_transform_on_response(struct gw_request *r, void *slot, struct gw_buf *head)
{
    struct tf_state *st = slot;
    (void)r;
    return st->resp_lines.len ? gw_buf_append(head, st->resp_lines.data, st->resp_lines.len) : 0;
}

bool gw_transform_adds_response_lines(const struct gw_request *r)
{
    const struct tf_state *st = r->slot[GW_STAGE_TRANSFORM];
    return st && st->resp_lines.len > 0;
}

void gw_transform_cancel(struct gw_request *r, void *slot)
{
    struct tf_state *st = slot;
    (void)r;
    if (st->does == GW_TF_REQ_HEADERS && st->headers == NULL && st->values.data == NULL)
        return; /* constant header edits in the request's own list: nothing was allocated */
    free(st->headers);
    gw_buf_free(&st->values);
    free(st->query);
    gw_buf_free(&st->extra_query);
    gw_buf_free(&st->resp_lines);
    gw_buf_free(&st->body_vals);
    free(st->val_ptrs);
    gw_buf_free(&st->req_filter.body);
    gw_buf_free(&st->resp_filter.body);
}
