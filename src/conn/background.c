/*
 * Background requests (conn/background.h): a request of their own, with a downstream that has
 * no client. The copy owns every byte it points to: the head's strings, path, query,
 * authority, peer and client certificate names in one block, the normalised path (with its
 * packed spelling, which `forward` turns into the upstream path) in another, and a copy of the
 * identity. Answers and response bytes are counted and dropped.
 */
#include "conn/background.h"

#include <stdlib.h>
#include <string.h>

#include "conn/internal.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "policy/chain.h"
#include "route/normalize.h"
#include "runtime/worker-t.h"
#include "state/token_cache.h"
#include "upstream/proxy.h"

struct bg {
    struct gw_list link; /* in w->background */
    uv_timer_t timer;    /* the start on the next iteration, then the retry backoff */
    struct gw_request *r;
    char *mem; /* the copied strings */
};

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Frees r and what it owns, as the HTTP/1 downstream's request_free does; bg goes when its
 * timer has closed. A stopping worker that waited for it is poked. */
static void bg_free(struct gw_request *r)
{
    struct bg *b = r->downstream;
    struct gw_worker *w = r->w;
    gw_policy_cancel(r);
    gw__request_release(r);
    w->nbackground--;
    gw_list_remove(&b->link);
    free(b->mem);
    free(r);
    b->r = NULL;
    b->timer.data = b;
    uv_close((uv_handle_t *)&b->timer, on_timer_closed);
    if (w->stopping && w->nbackground == 0 && !uv_is_closing((uv_handle_t *)&w->wakeup))
        uv_async_send(&w->wakeup);
}

static void bg_respond(struct gw_request *r, const struct gw_answer *a)
{
    gw_log_debug("background request %s: answered %d (%s)", r->id,
                 a->status ? a->status : gw_err_http_status(a->err), gw_strerror(a->err));
    bg_free(r);
}

static int bg_send(struct gw_request *r, uv_buf_t *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        r->bytes_out += bufs[i].len;
    return 1;
}

static void bg_finish(struct gw_request *r)
{
    bg_free(r);
}

static void bg_abort(struct gw_request *r)
{
    gw_proxy_abort(r);
    bg_free(r);
}

static size_t bg_body_peek(struct gw_request *r, const char **p)
{
    (void)r;
    *p = NULL;
    return 0;
}

static void bg_body_consume(struct gw_request *r, size_t n)
{
    (void)r;
    (void)n;
}

static int bg_body_want(struct gw_request *r)
{
    (void)r;
    return GW_EINVAL; /* it has no body: never asked */
}

static void bg_body_hold(struct gw_request *r)
{
    (void)r;
}

static int bg_send_continue(struct gw_request *r)
{
    (void)r;
    return 0;
}

static void on_retry(uv_timer_t *t)
{
    struct bg *b = t->data;
    gw_proxy_retry_now(b->r);
}

static void bg_defer(struct gw_request *r, uint64_t ms)
{
    struct bg *b = r->downstream;
    uv_timer_start(&b->timer, on_retry, ms, 0);
}

static int bg_detach(struct gw_request *r, uv_stream_t **s, const char **rest, size_t *rest_len,
                     struct gw_tls_stream **tls)
{
    (void)tls;
    (void)r;
    (void)s;
    (void)rest;
    (void)rest_len;
    return GW_EINVAL;
}

static const struct gw_downstream_ops bg_downstream = {
    .respond = bg_respond,
    .send = bg_send,
    .finish = bg_finish,
    .abort = bg_abort,
    .body_peek = bg_body_peek,
    .body_consume = bg_body_consume,
    .body_want = bg_body_want,
    .body_hold = bg_body_hold,
    .send_continue = bg_send_continue,
    .defer = bg_defer,
    .detach = bg_detach,
    .background = NULL,
};

static void on_start(uv_timer_t *t)
{
    struct bg *b = t->data;
    gw_policy_resume(b->r);
}

/* Appends s[0..n) and a NUL at *p; the copy. */
static const char *put(char **p, const char *s, size_t n)
{
    char *at = *p;
    if (n)
        memcpy(at, s, n);
    at[n] = '\0';
    *p = at + n + 1;
    return at;
}

/* The bytes of r's packed path (route/normalize.h): the normalised path, the spelling when
 * it differs, and the NUL that ends them. */
static size_t npath_bytes(const struct gw_request *r)
{
    size_t spell_len;
    const char *spell = gw_path_packed_spelling(r->npath, r->npath_len, &spell_len);
    size_t end = (size_t)(spell + spell_len - r->npath);
    return (end > r->npath_len ? end : r->npath_len) + 1;
}

/* Copies the strings src points into the connection's buffer (or a stage's state) into one
 * block of r's own. */
static int copy_strings(struct bg *b, struct gw_request *r, const struct gw_request *src)
{
    const struct gw_http1_message *m = &src->msg;
    size_t need = m->method_len + m->target_len + src->query_len + src->authority_len + 8;
    need += strlen(src->peer) + 1;
    need += src->client_subject ? strlen(src->client_subject) + 1 : 0;
    need += src->client_san ? strlen(src->client_san) + 1 : 0;
    for (uint32_t i = 0; i < m->num_headers; i++)
        need += m->headers[i].name_len + m->headers[i].value_len + 2;
    b->mem = malloc(need);
    if (b->mem == NULL)
        return GW_ENOMEM;
    char *p = b->mem;
    r->msg.method = put(&p, m->method, m->method_len);
    r->msg.target = put(&p, m->target, m->target_len);
    r->query = src->query ? put(&p, src->query, src->query_len) : NULL;
    r->authority = src->authority ? put(&p, src->authority, src->authority_len) : NULL;
    r->peer = put(&p, src->peer, strlen(src->peer));
    if (src->client_subject)
        r->client_subject = put(&p, src->client_subject, strlen(src->client_subject));
    if (src->client_san)
        r->client_san = put(&p, src->client_san, strlen(src->client_san));
    for (uint32_t i = 0; i < m->num_headers; i++) {
        const struct gw_http1_header *h = &m->headers[i];
        r->msg.headers[i] = *h;
        r->msg.headers[i].name = put(&p, h->name, h->name_len);
        r->msg.headers[i].value = put(&p, h->value, h->value_len);
    }
    r->msg.num_headers = m->num_headers;
    size_t nb = npath_bytes(src);
    r->npath = malloc(nb + src->query_len + 1);
    if (r->npath == NULL)
        return GW_ENOMEM;
    memcpy(r->npath, src->npath, nb);
    r->npath_len = src->npath_len;
    return 0;
}

int gw_background_start(struct gw_request *src)
{
    struct gw_worker *w = src->w;
    const struct gw_http1_message *m = &src->msg;
    if (w->stopping || m->body != GW_BODY_NONE || src->upgrade || src->npath == NULL ||
        src->svc == NULL)
        return GW_EINVAL;
    uint32_t cap = src->headers_capacity;
    if (m->num_headers > cap)
        return GW_EINVAL;
    struct gw_request *r = malloc(sizeof(*r) + 2 * (size_t)cap * sizeof(r->headers[0]));
    struct bg *b = calloc(1, sizeof *b);
    if (r == NULL || b == NULL) {
        free(r);
        free(b);
        return GW_ENOMEM;
    }
    memset(r, 0, offsetof(struct gw_request, arena));
    r->trace_id[0] = '\0';
    r->ds = &bg_downstream;
    r->downstream = b;
    r->w = w;
    r->headers_capacity = cap;
    r->msg.headers = r->headers;
    r->msg.headers_capacity = cap;
    r->rmsg.headers = r->headers + cap;
    r->rmsg.headers_capacity = cap;
    b->r = r;
    if (copy_strings(b, r, src) < 0 || gw_identity_copy(&r->identity, &src->identity) < 0) {
        free(r->npath);
        free(b->mem);
        free(r);
        free(b);
        return GW_ENOMEM;
    }
    r->snap = src->snap;
    gw_snapshot_ref(r->snap);
    r->mx = src->mx;
    r->secure = src->secure;
    r->msg.method_len = m->method_len;
    r->msg.method_id = m->method_id;
    r->msg.target_len = m->target_len;
    r->msg.minor_version = m->minor_version;
    r->msg.head_len = m->head_len;
    r->msg.body = GW_BODY_NONE;
    r->msg.keep_alive = true;
    r->msg.host_index = m->host_index;
    r->msg.origin_index = m->origin_index;
    r->fwd_lines = src->fwd_lines; /* the snapshot's: the copy holds it too */
    r->fwd_lines_len = src->fwd_lines_len;
    r->t_start = uv_hrtime();
    r->svc = src->svc;
    r->api_version = src->api_version; /* the snapshot's, which r holds too */
    r->api_version_len = src->api_version_len;
    r->prefix_index = src->prefix_index;
    r->consumer = src->consumer;
    r->prefix_len = src->prefix_len;
    r->query_len = src->query ? src->query_len : 0;
    r->authority_len = src->authority ? src->authority_len : 0;
    memcpy(r->id, src->id, sizeof r->id);
    memcpy(r->method, src->method, sizeof r->method);
    memcpy(r->path, src->path, sizeof r->path);
    memcpy(r->client_ip, src->client_ip, sizeof r->client_ip);
    r->rl_outcome = src->rl_outcome;
    r->authenticated = src->authenticated;
    r->background = true;
    r->dispatched = true;
    r->keep_alive = true;
    r->body_done = r->body_sent = true;
    r->pass = src->pass;
    r->stage = src->stage;
    r->suspended = true;
    const struct gw_config *cfg = r->snap->cfg;
    gw_buf_init(&r->head, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    gw_buf_init(&r->rhead, (size_t)cfg->http.max_header_bytes * 2 + 4096);
    uv_timer_init(&w->loop, &b->timer);
    b->timer.data = b;
    gw_list_insert_tail(&w->background, &b->link);
    w->nbackground++;
    w->active++;
    uv_timer_start(&b->timer, on_start, 0, 0);
    return 0;
}

void gw_background_abort_all(struct gw_worker *w)
{
    while (!gw_list_empty(&w->background)) {
        struct bg *b = gw_container_of(w->background.next, struct bg, link);
        struct gw_request *r = b->r;
        uv_timer_stop(&b->timer);
        gw_proxy_abort(r);
        bg_free(r);
    }
}
