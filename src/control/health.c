/*
 * Active health checks: see health.h for the contract.
 *
 * Shape: one `check` per (service, target) with one timer, which waits either for the next
 * probe (interval) or, while a probe runs, for its timeout. Each probe is a separate
 * allocation holding the TCP handle, the request bytes and the response buffer; when a probe
 * ends (any outcome) it is detached from its check and closed, and freed in its close
 * callback. Callbacks of a detached probe (ECANCELED connect or write) do nothing, so a check
 * can start its next probe, change settings or go away while an old probe is still closing.
 */
#include "control/health.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/health_h2.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/list.h"
#include "core/log.h"
#include "core/random.h"
#include "h2/grpc_health.h"
#include "http1/parser.h"
#include "tls/client.h"
#include "tls/stream.h"

/* Response bytes a probe reads at most: the head must fit (a body is never read). */
#define PROBE_BUF_SIZE 16384
#define PROBE_MAX_HEADERS 64

struct check;

struct probe {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct check *check;       /* NULL once the probe has ended */
    struct gw_tls_stream *tls; /* https:// targets: the session, or NULL */
    bool established;          /* the TLS handshake completed (the request went out) */
    struct gw_health_h2 *h2;   /* HTTP/2 targets: the probe's HTTP/2 session, or NULL */
    struct gw_buf h2out;       /* ... and the bytes it sends */
    struct gw_http1_parser parser;
    struct gw_http1_message msg;
    struct gw_http1_header headers[PROBE_MAX_HEADERS];
    size_t head_off; /* start of the head being parsed (after skipped 1xx heads) */
    size_t len;
    char buf[PROBE_BUF_SIZE];
    size_t req_len;
    char req[];
};

struct check {
    struct gw_list link; /* in checker->checks */
    struct gw_health_checker *hc;
    uv_timer_t timer;
    struct probe *probe; /* the running probe, or NULL between probes */
    struct gw_target_state *state;
    char *service;
    char key[300];
    /* settings, refreshed by gw_health_update */
    struct sockaddr_storage addr;
    struct gw_tls_client *tls; /* https:// targets: the service's client context (a reference) */
    char host[256];            /* the target's host: SNI and the name verified */
    bool h2;                   /* the service speaks HTTP/2 to it (h2c, or h2 over TLS) */
    char *h2_path;             /* ... then the check's path, and the target's authority */
    bool grpc;                 /* health_check.type "grpc": a Health/Check call over HTTP/2 */
    char *grpc_service;        /* ... asking about this service (NULL: the server) */
    char h2_authority[300];
    char *request;
    size_t request_len;
    uint64_t interval_ms;
    uint64_t timeout_ms;
    uint32_t healthy_threshold;
    uint32_t unhealthy_threshold;
    uint16_t status_min;
    uint16_t status_max;
    /* progress */
    enum gw_health status;
    uint32_t successes;
    uint32_t failures;
    uint64_t probes;
    uint64_t probe_started;
    char last_error[96];
    bool seen; /* during gw_health_update */
};

struct gw_health_checker {
    uv_loop_t *loop;
    struct gw_target_registry *reg;
    struct gw_list checks;
    size_t count;
};

static void on_timer(uv_timer_t *t);

static const char *health_name(enum gw_health h)
{
    return h == GW_HEALTH_UP ? "UP" : h == GW_HEALTH_DOWN ? "DOWN" : "UNKNOWN";
}

/* Writes the combined verdict of every check of state (see health.h) into it. */
static void publish(struct gw_health_checker *hc, struct gw_target_state *state)
{
    enum gw_health h = GW_HEALTH_UNKNOWN;
    struct gw_list *n;
    for (n = hc->checks.next; n != &hc->checks; n = n->next) {
        struct check *c = gw_container_of(n, struct check, link);
        if (c->state != state)
            continue;
        if (c->status == GW_HEALTH_DOWN) {
            h = GW_HEALTH_DOWN;
            break;
        }
        if (c->status == GW_HEALTH_UP)
            h = GW_HEALTH_UP;
    }
    gw_target_state_set_health(state, h, uv_now(hc->loop));
}

static void on_probe_closed(uv_handle_t *handle)
{
    struct probe *p = handle->data;
    gw_tls_stream_free(p->tls);
    gw_health_h2_free(p->h2);
    gw_buf_free(&p->h2out);
    free(p);
}

/* Detaches the running probe (if any) from c and closes it. */
static void drop_probe(struct check *c)
{
    struct probe *p = c->probe;
    if (p == NULL)
        return;
    c->probe = NULL;
    p->check = NULL;
    uv_close((uv_handle_t *)&p->tcp, on_probe_closed);
}

/* Ends the running probe with its outcome, moves the counters and the verdict, and schedules
 * the next probe one interval after this one started. */
static void finish(struct check *c, bool ok, const char *why)
{
    struct gw_health_checker *hc = c->hc;
    uint64_t now = uv_now(hc->loop);
    drop_probe(c);
    c->probes++;
    enum gw_health before = c->status;
    if (ok) {
        c->failures = 0;
        if (c->successes < UINT32_MAX)
            c->successes++;
        if (c->status != GW_HEALTH_UP && c->successes >= c->healthy_threshold)
            c->status = GW_HEALTH_UP;
    } else {
        c->successes = 0;
        if (c->failures < UINT32_MAX)
            c->failures++;
        snprintf(c->last_error, sizeof(c->last_error), "%s", why);
        if (c->status != GW_HEALTH_DOWN && c->failures >= c->unhealthy_threshold)
            c->status = GW_HEALTH_DOWN;
    }
    if (c->status != before) {
        if (c->status == GW_HEALTH_DOWN)
            gw_log_warn("health: target %s of service %s is DOWN (%" PRIu32
                        " consecutive failure%s: %s)",
                        c->key, c->service, c->failures, c->failures == 1 ? "" : "s", why);
        else
            gw_log_info("health: target %s of service %s is %s (%" PRIu32 " consecutive success%s)",
                        c->key, c->service, health_name(c->status), c->successes,
                        c->successes == 1 ? "" : "es");
        publish(hc, c->state);
    }
    uint64_t elapsed = now - c->probe_started;
    uint64_t delay = c->interval_ms > elapsed ? c->interval_ms - elapsed : 0;
    uv_timer_start(&c->timer, on_timer, delay, 0);
}

/* libuv's lowercase messages ("connection refused") for its codes, gantry's for its own. */
static const char *error_text(int err)
{
    return strcmp(gw_err_name(err), "UNKNOWN") != 0 ? gw_strerror(err) : uv_strerror(err);
}

static void finish_error(struct check *c, const char *what, int err)
{
    char why[96];
    if (what != NULL)
        snprintf(why, sizeof(why), "%s: %s", what, error_text(err));
    else
        snprintf(why, sizeof(why), "%s", error_text(err));
    finish(c, false, why);
}

/* The final status decides. */
static void verdict(struct check *c, int status)
{
    if (status >= c->status_min && status <= c->status_max) {
        finish(c, true, "");
    } else {
        char why[32];
        snprintf(why, sizeof(why), "status %d", status);
        finish(c, false, why);
    }
}

/* Parses what the probe has read; ends the probe when the outcome is known. */
static void parse(struct probe *p)
{
    struct check *c = p->check;
    for (;;) {
        int rc = gw_http1_parse_response(&p->parser, p->buf + p->head_off, p->len - p->head_off,
                                         &p->msg);
        if (rc == GW_HTTP1_PARTIAL) {
            if (p->len == sizeof(p->buf))
                finish(c, false, "response head too large");
            return;
        }
        if (rc < 0) {
            finish_error(c, "invalid response", rc);
            return;
        }
        int status = p->msg.status;
        if (status >= 100 && status < 200 && status != 101) {
            /* An interim response (100 Continue, 103 Early Hints): the final one follows. */
            p->head_off += p->msg.head_len;
            gw_http1_parser_init_response(&p->parser, NULL, GW_METHOD_GET);
            continue;
        }
        verdict(c, status);
        return;
    }
}

/* ---- TLS (https:// targets): the same session the workers use, over the probe's socket --- */

/* Ciphertext is read here, then fed to the session (control thread only). */
static _Thread_local char tls_in[16384];

struct tls_wreq {
    uv_write_t req;
    char data[];
};

static void on_tls_written(uv_write_t *req, int status)
{
    struct probe *p = req->data;
    free(req);
    if (p->check != NULL && status < 0)
        finish_error(p->check, "send failed", status);
}

/* Sends what the session has for the target (a copy: the session's buffer moves on). */
static int tls_flush(struct probe *p)
{
    const char *out;
    size_t n = gw_tls_stream_out(p->tls, &out);
    if (n == 0)
        return 0;
    struct tls_wreq *wr = malloc(sizeof(*wr) + n);
    if (wr == NULL)
        return GW_ENOMEM;
    memcpy(wr->data, out, n);
    gw_tls_stream_out_consume(p->tls, n);
    wr->req.data = p;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
    int rc = uv_write(&wr->req, (uv_stream_t *)&p->tcp, &b, 1, on_tls_written);
    if (rc < 0)
        free(wr);
    return rc;
}

static void tls_failed(struct probe *p, const char *what, const char *reason)
{
    char why[96];
    snprintf(why, sizeof(why), "%s: %s", what, reason);
    finish(p->check, false, why);
}

/* Feeds ciphertext, moves the handshake on (then sends the request), decrypts the answer into
 * p->buf and parses it. */
static void tls_input(struct probe *p, const char *data, size_t n)
{
    struct check *c = p->check;
    if (gw_tls_stream_feed(p->tls, data, n) < 0) {
        finish(c, false, "out of memory");
        return;
    }
    if (!p->established) {
        int rc = gw_tls_stream_handshake(p->tls);
        if (tls_flush(p) < 0 && rc >= 0)
            rc = GW_EUPRESET;
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc < 0) {
            tls_failed(p, "TLS handshake", gw_tls_stream_error(p->tls));
            return;
        }
        p->established = true;
        const char *req = p->req;
        size_t req_len = p->req_len;
        if (c->h2) {
            /* HTTP/2 over TLS: the server must have chosen h2 in ALPN. */
            if (!gw_tls_stream_alpn_h2(p->tls)) {
                tls_failed(p, "TLS", "the target did not choose h2 in ALPN");
                return;
            }
            p->h2 = c->grpc
                        ? gw_health_h2_start_grpc(c->h2_authority, c->grpc_service, true, &p->h2out)
                        : gw_health_h2_start(c->h2_authority, c->h2_path, true, &p->h2out);
            if (p->h2 == NULL) {
                finish(c, false, "out of memory");
                return;
            }
            req = p->h2out.data;
            req_len = p->h2out.len;
        }
        if (gw_tls_stream_write(p->tls, req, req_len) < 0 || tls_flush(p) < 0) {
            tls_failed(p, "TLS send", gw_tls_stream_error(p->tls));
            return;
        }
    }
    for (;;) {
        size_t got = 0;
        int rc = gw_tls_stream_read(p->tls, p->buf + p->len, sizeof(p->buf) - p->len, &got);
        if (rc == 0 && p->h2 != NULL) {
            /* HTTP/2 frames: p->buf is only the plaintext's way to the session. */
            int st = gw_health_h2_input(p->h2, p->buf, got);
            if (st < 0) {
                finish_error(c, "HTTP/2", st);
            } else if (st > 0 && c->grpc) {
                const char *why = gw_health_h2_grpc_failure(p->h2);
                finish(c, why == NULL, why ? why : "");
            } else if (st > 0) {
                verdict(c, st);
            }
            if (p->check == NULL)
                return;
            continue;
        }
        (void)tls_flush(p);
        if (rc == GW_TLS_WANT_INPUT)
            return;
        if (rc == GW_TLS_CLOSED) {
            finish(c, false, "connection closed before a response head");
            return;
        }
        if (rc < 0) {
            tls_failed(p, "TLS", gw_tls_stream_error(p->tls));
            return;
        }
        p->len += got;
        parse(p);
        if (p->check == NULL)
            return; /* the probe ended */
    }
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct probe *p = handle->data;
    (void)suggested;
    if (p->tls != NULL) {
        *buf = uv_buf_init(tls_in, sizeof(tls_in));
        return;
    }
    /* parse() ends the probe when the buffer is full, so at least one byte is free here. */
    *buf = uv_buf_init(p->buf + p->len, (unsigned)(sizeof(p->buf) - p->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct probe *p = stream->data;
    if (p->check == NULL)
        return;
    if (nread == UV_EOF) {
        finish(p->check, false,
               p->tls && !p->established ? "TLS handshake: connection closed by the target"
                                         : "connection closed before a response head");
        return;
    }
    if (nread < 0) {
        finish_error(p->check, NULL, (int)nread);
        return;
    }
    if (p->tls != NULL) {
        tls_input(p, buf->base, (size_t)nread);
        return;
    }
    if (p->h2 != NULL) {
        int st = gw_health_h2_input(p->h2, buf->base, (size_t)nread);
        if (st < 0) {
            finish_error(p->check, "HTTP/2", st);
        } else if (st > 0 && p->check->grpc) {
            const char *why = gw_health_h2_grpc_failure(p->h2);
            finish(p->check, why == NULL, why ? why : "");
        } else if (st > 0) {
            verdict(p->check, st);
        }
        return;
    }
    p->len += (size_t)nread;
    parse(p);
}

static void on_write(uv_write_t *req, int status)
{
    struct probe *p = req->data;
    if (p->check == NULL || status == 0)
        return;
    finish_error(p->check, "send failed", status);
}

static void on_connect(uv_connect_t *req, int status)
{
    struct probe *p = req->data;
    struct check *c = p->check;
    if (c == NULL)
        return; /* ECANCELED: the probe ended (timeout, stop) before the connect did */
    if (status < 0) {
        finish_error(c, NULL, status);
        return;
    }
    if (c->tls != NULL) {
        /* The request goes out once the handshake completed (tls_input). */
        p->tls = gw_tls_stream_new_client(c->tls, c->host, NULL);
        int rc = p->tls && c->h2 ? gw_tls_stream_offer_h2(p->tls) : 0;
        if (rc == 0)
            rc = p->tls ? uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) : GW_ENOMEM;
        if (rc == 0 && gw_tls_stream_handshake(p->tls) < 0)
            rc = GW_ETLS;
        if (rc == 0)
            rc = tls_flush(p);
        if (rc == GW_ETLS)
            tls_failed(p, "TLS handshake", gw_tls_stream_error(p->tls));
        else if (rc < 0)
            finish_error(c, "TLS", rc);
        return;
    }
    uv_buf_t b = uv_buf_init(p->req, (unsigned)p->req_len);
    if (c->h2) {
        /* The request is a stream of a session of the probe's own (HPACK state included). */
        p->h2 = c->grpc
                    ? gw_health_h2_start_grpc(c->h2_authority, c->grpc_service, false, &p->h2out)
                    : gw_health_h2_start(c->h2_authority, c->h2_path, false, &p->h2out);
        if (p->h2 == NULL) {
            finish(c, false, "out of memory");
            return;
        }
        b = uv_buf_init(p->h2out.data, (unsigned)p->h2out.len);
    }
    p->write_req.data = p;
    int rc = uv_write(&p->write_req, (uv_stream_t *)&p->tcp, &b, 1, on_write);
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    if (rc < 0)
        finish_error(c, "send failed", rc);
}

static void start_probe(struct check *c)
{
    struct gw_health_checker *hc = c->hc;
    c->probe_started = uv_now(hc->loop);
    struct probe *p = malloc(sizeof(*p) + c->request_len);
    if (p == NULL) {
        finish(c, false, "out of memory");
        return;
    }
    memset(p, 0, offsetof(struct probe, buf));
    gw_buf_init(&p->h2out, 65536);
    p->req_len = c->request_len;
    memcpy(p->req, c->request, c->request_len);
    p->msg.headers = p->headers;
    p->msg.headers_capacity = PROBE_MAX_HEADERS;
    struct gw_http1_limits lim = {
        .max_request_line = GW_HTTP1_DEFAULT_MAX_REQUEST_LINE,
        .max_header_bytes = GW_HTTP1_DEFAULT_MAX_HEADER_BYTES,
        .max_headers = PROBE_MAX_HEADERS,
    };
    gw_http1_parser_init_response(&p->parser, &lim, GW_METHOD_GET);
    int rc = uv_tcp_init(hc->loop, &p->tcp);
    if (rc < 0) {
        free(p);
        finish_error(c, "socket", rc);
        return;
    }
    p->tcp.data = p;
    p->connect_req.data = p;
    p->check = c;
    c->probe = p;
    uv_timer_start(&c->timer, on_timer, c->timeout_ms, 0);
    rc = uv_tcp_connect(&p->connect_req, &p->tcp, (const struct sockaddr *)&c->addr, on_connect);
    if (rc < 0)
        finish_error(c, NULL, rc);
}

static void on_timer(uv_timer_t *t)
{
    struct check *c = t->data;
    if (c->probe == NULL) {
        start_probe(c);
        return;
    }
    char why[64];
    snprintf(why, sizeof(why), "timed out after %" PRIu64 " ms", c->timeout_ms);
    finish(c, false, why);
}

/* Copies the settings of target t of svc into c. 0 or GW_ENOMEM (c keeps its old request). */
static int apply_settings(struct check *c, const struct gw_service *svc, const struct gw_target *t)
{
    const struct gw_service_conf *sc = svc->conf;
    bool grpc = sc->health_check.type == GW_HEALTH_CHECK_GRPC;
    /* A gRPC check has no path of its own (the config refuses one): its call's is shown. */
    const char *path = grpc ? GW_GRPC_HEALTH_PATH : sc->health_check.path;
#define REQUEST_FMT                                                                                \
    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gantry-health\r\nConnection: close\r\n\r\n"
    int n = snprintf(NULL, 0, REQUEST_FMT, path, t->conf->authority);
    if (n < 0)
        return GW_EINVAL;
    char *req = malloc((size_t)n + 1);
    if (req == NULL)
        return GW_ENOMEM;
    snprintf(req, (size_t)n + 1, REQUEST_FMT, path, t->conf->authority);
#undef REQUEST_FMT
    char *h2_path = NULL, *grpc_service = NULL;
    if (((t->h2 || grpc) && (h2_path = strdup(path)) == NULL) ||
        (grpc && sc->health_check.grpc_service &&
         (grpc_service = strdup(sc->health_check.grpc_service)) == NULL)) {
        free(h2_path);
        free(req);
        return GW_ENOMEM;
    }
    free(c->h2_path);
    c->h2_path = h2_path;
    free(c->grpc_service);
    c->grpc_service = grpc_service;
    c->grpc = grpc;
    /* gRPC is HTTP/2: the config check holds such services to upstream_protocol "h2c" or "h2". */
    c->h2 = t->h2 != 0 || grpc;
    snprintf(c->h2_authority, sizeof(c->h2_authority), "%s", t->conf->authority);
    free(c->request);
    c->request = req;
    c->request_len = (size_t)n;
    memset(&c->addr, 0, sizeof(c->addr));
    memcpy(&c->addr, &t->addr, t->addrlen < sizeof(c->addr) ? t->addrlen : sizeof(c->addr));
    /* The probe in flight holds the session (and its own reference to the old context). */
    gw_tls_client_unref(c->tls);
    c->tls = t->tls ? gw_tls_client_ref(t->tls) : NULL;
    snprintf(c->host, sizeof(c->host), "%s", t->conf && t->conf->host ? t->conf->host : "");
    c->interval_ms = sc->health_check.interval_ms;
    c->timeout_ms = sc->health_check.timeout_ms;
    c->healthy_threshold = sc->health_check.healthy_threshold;
    c->unhealthy_threshold = sc->health_check.unhealthy_threshold;
    c->status_min = sc->health_check.status_min;
    c->status_max = sc->health_check.status_max;
    return 0;
}

static void on_check_closed(uv_handle_t *handle)
{
    struct check *c = handle->data;
    gw_target_state_unref(c->state);
    gw_tls_client_unref(c->tls);
    free(c->request);
    free(c->h2_path);
    free(c->grpc_service);
    free(c->service);
    free(c);
}

/* Stops c and unlinks it; its memory goes in the timer's close callback. */
static void remove_check(struct check *c)
{
    gw_list_remove(&c->link);
    c->hc->count--;
    drop_probe(c);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_check_closed);
}

static int add_check(struct gw_health_checker *hc, const struct gw_service *svc,
                     const struct gw_target *t)
{
    int rc = GW_ENOMEM;
    struct check *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return GW_ENOMEM;
    c->hc = hc;
    snprintf(c->key, sizeof(c->key), "%s", t->key);
    c->service = strdup(svc->conf->name);
    c->state = gw_target_state_get(hc->reg, t->key, uv_now(hc->loop));
    if (c->service == NULL || c->state == NULL || apply_settings(c, svc, t) != 0)
        goto fail;
    rc = uv_timer_init(hc->loop, &c->timer);
    if (rc < 0)
        goto fail;
    c->timer.data = c;
    gw_list_insert_tail(&hc->checks, &c->link);
    hc->count++;
    c->seen = true;
    uint64_t spread = c->interval_ms / 10;
    uint64_t jitter = spread > 0 ? gw_random_u64() % (spread + 1) : 0;
    c->probe_started = uv_now(hc->loop);
    uv_timer_start(&c->timer, on_timer, jitter, 0);
    return 0;
fail:
    gw_target_state_unref(c->state);
    gw_tls_client_unref(c->tls);
    free(c->request);
    free(c->h2_path);
    free(c->grpc_service);
    free(c->service);
    free(c);
    return rc;
}

static struct check *find_check(const struct gw_health_checker *hc, const char *service,
                                const char *key)
{
    const struct gw_list *n;
    for (n = hc->checks.next; n != &hc->checks; n = n->next) {
        struct check *c = gw_container_of(n, struct check, link);
        if (strcmp(c->key, key) == 0 && strcmp(c->service, service) == 0)
            return c;
    }
    return NULL;
}

int gw_health_update(struct gw_health_checker *h, const struct gw_snapshot *snap)
{
    int result = 0;
    struct gw_list *n;
    for (n = h->checks.next; n != &h->checks; n = n->next)
        gw_container_of(n, struct check, link)->seen = false;

    for (size_t s = 0; s < snap->nservices; s++) {
        const struct gw_service *svc = &snap->services[s];
        if (!svc->conf->health_check.enabled)
            continue;
        for (size_t i = 0; i < svc->ntargets; i++) {
            const struct gw_target *t = &svc->targets[i];
            struct check *c = find_check(h, svc->conf->name, t->key);
            int rc = 0;
            if (c == NULL) {
                rc = add_check(h, svc, t);
            } else if (!c->seen) {
                c->seen = true;
                rc = apply_settings(c, svc, t);
            }
            if (rc < 0)
                result = rc;
        }
    }

    struct gw_list *next;
    for (n = h->checks.next; n != &h->checks; n = next) {
        next = n->next;
        struct check *c = gw_container_of(n, struct check, link);
        if (c->seen)
            continue;
        struct gw_target_state *state = c->state; /* alive until the close callback */
        remove_check(c);
        publish(h, state);
    }
    return result;
}

struct gw_health_checker *gw_health_start(uv_loop_t *loop, struct gw_target_registry *reg,
                                          const struct gw_snapshot *snap)
{
    struct gw_health_checker *hc = calloc(1, sizeof(*hc));
    if (hc == NULL)
        return NULL;
    hc->loop = loop;
    hc->reg = reg;
    gw_list_init(&hc->checks);
    if (gw_health_update(hc, snap) != 0) {
        gw_health_stop(hc);
        return NULL;
    }
    return hc;
}

void gw_health_stop(struct gw_health_checker *h)
{
    if (h == NULL)
        return;
    while (!gw_list_empty(&h->checks))
        remove_check(gw_container_of(h->checks.next, struct check, link));
    free(h);
}

int gw_health_check_info(const struct gw_health_checker *h, const char *service, const char *key,
                         struct gw_health_check_info *out)
{
    const struct check *c = find_check(h, service, key);
    if (c == NULL)
        return GW_EINVAL;
    out->status = c->status;
    out->successes = c->successes;
    out->failures = c->failures;
    out->probes = c->probes;
    snprintf(out->last_error, sizeof(out->last_error), "%s", c->last_error);
    return 0;
}

size_t gw_health_count(const struct gw_health_checker *h)
{
    return h->count;
}
