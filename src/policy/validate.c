/*
 * Request validation (docs/config.md "Request validation"): a JSON request body of a route
 * with a schema is taken whole (up to validation.max_body_bytes, through a body filter, after
 * the transformations edited it) and checked against the route's JSON Schema (policy/jschema.h,
 * compiled when the config was loaded). A body over the cap is refused 413, one that is not JSON
 * 400, one that violates the schema 400 with the first violations, each with its JSON pointer
 * and keyword. A request without a JSON Content-Type passes untouched, as does one whose route
 * has no schema.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config-t.h"
#include "control/snapshot-t.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/chain.h"
#include "policy/jschema.h"
#include "policy/policy.h"
#include "policy/stages.h"
#include "policy/transform.h"

/* The errors member of an answer stays under this, so that it fits the answer's body whole
 * (conn/internal.h: 4096 bytes with the other members). */
#define VAL_EXTRA_MAX 3400

struct val_state {
    struct gw_body_filter filter;
    struct gw_body_filter *prev; /* a transformation's filter, run first; or NULL */
    const struct gw_val_rule_conf *rule;
    uint32_t max_errors;
    struct gw_buf extra; /* the answer's "errors" member */
    char reason[192];
};
_Static_assert(sizeof(struct val_state) <= GW_STAGE_STATE_MAX, "validation state too large");

static const struct gw_validation_conf *service_conf(const struct gw_service *svc)
{
    return &svc->conf->validation;
}

bool gw_validate_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_validation_conf *v = service_conf(&s->services[i]);
    return v->enabled && (v->nrules > 0 || (v->inherit && s->cfg->validation.nrules > 0));
}

/* Length of the longest prefix of m that path lies under (0 for a match without prefixes). */
static size_t match_len(const struct gw_match_conf *m, const struct gw_request *r)
{
    size_t len = 0;
    for (size_t k = 0; k < m->nprefixes; k++) {
        size_t pl = strlen(m->prefixes[k]);
        if (pl > len && gw_policy_path_under(r->npath, r->npath_len, m->prefixes[k]))
            len = pl;
    }
    return len;
}

/* The rule whose match accepts r with the longest prefix: the service's rules first, then the
 * gateway's (when inherited); the first one on a tie. */
static const struct gw_val_rule_conf *pick_rule(const struct gw_request *r)
{
    const struct gw_validation_conf *sv = service_conf(r->svc);
    const struct gw_validation_conf *lists[2] = {sv,
                                                 sv->inherit ? &r->snap->cfg->validation : NULL};
    const struct gw_val_rule_conf *best = NULL;
    size_t best_len = 0;
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l] && i < lists[l]->nrules; i++) {
            const struct gw_val_rule_conf *rule = &lists[l]->rules[i];
            if (!gw_policy_match(&rule->match, r->npath, r->npath_len, (int)r->msg.method_id))
                continue;
            size_t len = match_len(&rule->match, r);
            if (best == NULL || len > best_len) {
                best = rule;
                best_len = len;
            }
        }
    }
    return best;
}

/* Appends the violations as {"pointer", "keyword", "message"} objects, as many as fit. */
static int put_errors(struct gw_buf *b, const struct gw_jschema_result *res)
{
    bool more = res->more;
    int rc = gw_buf_append_str(b, "\"errors\":[");
    for (size_t i = 0; i < res->count && rc == 0; i++) {
        const struct gw_jschema_error *e = &res->items[i];
        size_t at = b->len;
        rc = gw_buf_append_str(b, i ? ",{\"pointer\":\"" : "{\"pointer\":\"");
        rc |= gw_buf_append_json_escaped(b, e->pointer, strlen(e->pointer));
        rc |= gw_buf_append_str(b, "\",\"keyword\":\"");
        rc |= gw_buf_append_json_escaped(b, e->keyword, strlen(e->keyword));
        rc |= gw_buf_append_str(b, "\",\"message\":\"");
        rc |= gw_buf_append_json_escaped(b, e->message, strlen(e->message));
        rc |= gw_buf_append_str(b, "\"}");
        if (rc == 0 && b->len > VAL_EXTRA_MAX - 40) {
            b->len = at; /* this one does not fit: say there are more instead */
            more = true;
            break;
        }
    }
    if (rc == 0)
        rc = gw_buf_append_str(b, more ? "],\"more_errors\":true" : "]");
    return rc < 0 ? GW_ENOMEM : 0;
}

static int body_done(struct gw_request *r, struct gw_body_filter *f, struct gw_answer *a)
{
    struct val_state *st = (struct val_state *)((char *)f - offsetof(struct val_state, filter));
    /* The transformation's edit first: validation sees the body the upstream would. Its filter
     * takes the body for the time of its edit. */
    if (st->prev && f->body.len <= st->prev->max) {
        struct gw_buf mine = f->body;
        f->body = st->prev->body;
        st->prev->body = mine;
        int rc = st->prev->done(r, st->prev, a);
        mine = f->body;
        f->body = st->prev->body;
        st->prev->body = mine;
        if (rc < 0)
            return rc;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(f->body.data ? f->body.data : "", f->body.len,
                             JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        snprintf(st->reason, sizeof st->reason, "line %d, column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        gw_answer_init(a, GW_EVALJSON);
        a->reason = st->reason;
        return GW_EVALJSON;
    }
    struct gw_jschema_result res = {.max = st->max_errors};
    bool ok = gw_jschema_validate(st->rule->schema, doc, &res);
    json_decref(doc);
    int rc = 0;
    if (res.oom) {
        rc = GW_ENOMEM;
    } else if (!ok) {
        gw_buf_init(&st->extra, VAL_EXTRA_MAX + 4096);
        rc = put_errors(&st->extra, &res) < 0 ? GW_ENOMEM : GW_EVALIDATION;
        if (rc == GW_EVALIDATION && gw_buf_append(&st->extra, "", 1) == 0) {
            gw_answer_init(a, GW_EVALIDATION);
            a->extra = st->extra.data;
        }
    }
    gw_jschema_result_free(&res);
    return rc;
}

/* An encoded body (gzip, ...) is not JSON to us: "identity" is the only coding we can read. */
static bool encoded(const struct gw_http1_message *m)
{
    int ce = gw_http1_find_header(m, "content-encoding", 16);
    return ce >= 0 && !(m->headers[ce].value_len == 8 &&
                        strncasecmp(m->headers[ce].value, "identity", 8) == 0);
}

enum gw_stage_result gw_validate_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    const struct gw_val_rule_conf *rule = pick_rule(r);
    if (rule == NULL)
        return GW_STAGE_CONTINUE;
    const struct gw_http1_message *m = &r->msg;
    int ct = gw_http1_find_header(m, "content-type", 12);
    if (ct < 0 || !gw_tf_is_json(m->headers[ct].value, m->headers[ct].value_len))
        return GW_STAGE_CONTINUE;
    const struct gw_validation_conf *v = service_conf(r->svc);
    if (encoded(m)) {
        gw_answer_init(a, GW_EVALENCODING);
        return GW_STAGE_RESPOND;
    }
    if (m->body == GW_BODY_LENGTH && m->content_length > v->max_body_bytes) {
        gw_answer_init(a, GW_EBODYTOOLARGE);
        return GW_STAGE_RESPOND;
    }
    if (m->body == GW_BODY_NONE) {
        gw_answer_init(a, GW_EVALJSON);
        a->reason = "the body is empty";
        return GW_STAGE_RESPOND;
    }
    struct val_state *st = gw_stage_alloc(r, sizeof *st);
    if (st == NULL) {
        gw_answer_init(a, GW_ENOMEM);
        return GW_STAGE_RESPOND;
    }
    *slot = st;
    st->rule = rule;
    st->max_errors = v->max_errors;
    st->prev = r->req_filter;
    st->filter.max = v->max_body_bytes;
    st->filter.refuse_larger = true;
    st->filter.done = body_done;
    r->req_filter = &st->filter;
    return GW_STAGE_CONTINUE;
}

void gw_validate_cancel(struct gw_request *r, void *slot)
{
    struct val_state *st = slot;
    (void)r;
    gw_buf_free(&st->filter.body);
    gw_buf_free(&st->extra);
}
