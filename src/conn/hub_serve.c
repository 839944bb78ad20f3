/*
 * The WebSocket hub's handshake (hub.path/{client_id}): checked like any WebSocket handshake,
 * run through the policy chain of hub.service (IP rules, rate limits, authentication), the
 * client id bound to the identity, then answered 101 and the connection handed to the hub
 * (hub/hub.h). README "The WebSocket hub".
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn/internal.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "http1/names.h"
#include "http1/upgrade.h"
#include "hub/channel.h"
#include "hub/hub.h"
#include "policy/chain.h"
#include "policy/origin.h"
#include "runtime/server-t.h"
#include "runtime/worker-t.h"

/* The length of hub.path as a prefix of "PATH/{client_id}" ("/" counts as nothing). */
static size_t prefix_len(const char *p)
{
    size_t n = strlen(p);
    return n == 1 ? 0 : n;
}

static void answer(struct gw_request *r, int err, const char *headers, const char *reason)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.headers = headers;
    a.reason = reason;
    r->ds->respond(r, &a);
}

static bool origin_allowed(const struct gw_request *r, const struct gw_hub_conf *hc)
{
    int i = gw_http1_find_header(&r->msg, "origin", 6);
    if (i < 0 || hc->norigins == 0)
        return true; /* not a browser, or no list */
    struct gw_origin o;
    if (gw_origin_parse(r->msg.headers[i].value, r->msg.headers[i].value_len, &o) < 0)
        return false;
    for (size_t k = 0; k < hc->norigins; k++) {
        struct gw_origin_pattern p;
        const char *why;
        if (gw_origin_pattern_parse(hc->origins[k], strlen(hc->origins[k]), &p, &why) == 0 &&
            gw_origin_pattern_match(&p, &o))
            return true;
    }
    return false;
}

/* Sec-WebSocket-Accept (RFC 6455 4.2.2): base64(SHA-1(key + GUID)). */
static void accept_key(const char *key, size_t n, char out[32])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char in[128 + sizeof guid];
    unsigned char md[SHA_DIGEST_LENGTH];
    if (n > 128)
        n = 128; /* gw_http1_ws_check took 24 characters only */
    memcpy(in, key, n);
    memcpy(in + n, guid, sizeof guid - 1);
    SHA1(in, n + sizeof guid - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

/* The subprotocol to confirm. A client that offers protocols fails the handshake unless one
 * comes back (RFC 6455 4.1, and browsers enforce it): the first one offered that is not the
 * token carrier of the service's websocket.token_protocol, else the token carrier itself (a
 * browser that offered only its token), echoed to the client that sent it. */
static size_t pick_protocol(const struct gw_request *r, const char **out)
{
    int i = gw_http1_find_header(&r->msg, "sec-websocket-protocol", 22);
    if (i < 0)
        return 0;
    const char *tp = r->svc ? r->svc->conf->websocket.token_protocol : NULL;
    size_t tpl = tp ? strlen(tp) : 0;
    const char *v = r->msg.headers[i].value;
    const char *end = v + r->msg.headers[i].value_len;
    const char *carrier = NULL;
    size_t carrier_len = 0;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == ','))
            v++;
        const char *e = v;
        while (e < end && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - v);
        bool is_carrier = tp && n > tpl && strncmp(v, tp, tpl) == 0;
        if (n && !is_carrier && n < 64) {
            *out = v;
            return n;
        }
        if (is_carrier && !carrier) {
            carrier = v;
            carrier_len = n;
        }
        v = e;
    }
    *out = carrier;
    return carrier_len;
}

/* The chain let the handshake through (or there is no chain): bind the id, answer 101 and hand
 * the connection to the hub. */
static void hub_pass(struct gw_request *r)
{
    const char *path = r->npath;
    const char *id = path + prefix_len(r->snap->cfg->hub.path) + 1;
    if (r->authenticated) {
        const struct gw_identity *who = &r->identity;
        bool mine = (who->user && strcmp(who->user, id) == 0) ||
                    (who->consumer && strcmp(who->consumer, id) == 0);
        if (!mine) {
            answer(r, GW_EHUBCLIENT, NULL, NULL);
            return;
        }
    }
    int k = gw_http1_find_header(&r->msg, "sec-websocket-key", 17);
    char acc[32] = "";
    accept_key(r->msg.headers[k].value, r->msg.headers[k].value_len, acc);
    const char *proto = NULL;
    size_t proto_len = pick_protocol(r, &proto);
    size_t head_cap = 256 + proto_len; /* the fixed part is under 200 bytes */
    char *head = malloc(head_cap);
    int n =
        !head ? -1
              : snprintf(head, head_cap,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%.*s%sX-Request-ID: "
                         "%s\r\n\r\n",
                         acc, proto_len ? "Sec-WebSocket-Protocol: " : "", (int)proto_len,
                         proto_len ? proto : "", proto_len ? "\r\n" : "", r->id);
    uv_stream_t *s;
    const char *rest;
    size_t rest_len;
    struct gw_tls_stream *tls = NULL;
    size_t head_len = r->msg.head_len;
    if (n <= 0 || (size_t)n >= head_cap || r->ds->detach(r, &s, &rest, &rest_len, &tls) < 0) {
        free(head);
        answer(r, GW_EHUBUNAVAIL, NULL, NULL);
        return;
    }
    /* The handshake's own head is still at the front of what the connection read. */
    if (rest_len >= head_len) {
        rest += head_len;
        rest_len -= head_len;
    }
    struct gw_hub_session hs = {.client_id = id,
                                .roles = r->authenticated ? r->identity.roles : NULL,
                                .request_id = r->id,
                                .peer = r->peer[0] ? r->peer : "-",
                                .head = head,
                                .head_len = (size_t)n,
                                .tls = tls};
    int rc = gw_hub_accept(r->w, s, rest, rest_len, &hs);
    free(head); /* the hub copied what it did not write at once */
    if (rc < 0) {
        gw_log_warn("hub: cannot take the connection of client %s: %s (request %s)", id,
                    gw_strerror(rc), r->id);
        r->ds->abort(r);
        return;
    }
    r->status = 101;
    r->ds->finish(r);
}

bool gw__hub_refuse_h2(struct gw_request *r, const char *path, size_t path_len)
{
    const struct gw_hub_conf *hc = &r->snap->cfg->hub;
    size_t pl = prefix_len(hc->path);
    if (path_len <= pl + 1 || memcmp(path, hc->path, pl) != 0 || path[pl] != '/')
        return false;
    if (r->ext_connect)
        answer(r, GW_EHUBH2, NULL, "use HTTP/1.1 for the hub");
    else
        answer(r, GW_EHUBUPGRADE, NULL, NULL);
    return true;
}

bool gw__hub_serve(struct gw_conn *c, struct gw_request *r, const char *path, size_t path_len,
                   const char *query, size_t query_len)
{
    (void)c;
    const struct gw_hub_conf *hc = &r->snap->cfg->hub;
    size_t pl = prefix_len(hc->path);
    if (path_len <= pl + 1 || memcmp(path, hc->path, pl) != 0 || path[pl] != '/')
        return false;
    const char *id = path + pl + 1;
    size_t idl = path_len - pl - 1;
    if (!gw_hub_client_id_valid(id, idl)) {
        answer(r, GW_ENOROUTE, NULL, NULL);
        return true;
    }
    const struct gw_http1_message *m = &r->msg;
    if (!m->upgrade || gw_http1_upgrade_kind(m) != GW_UPGRADE_WEBSOCKET) {
        answer(r, GW_EHUBUPGRADE, "Upgrade: websocket\r\n", NULL);
        return true;
    }
    int rc = gw_http1_ws_check(m);
    if (rc < 0) {
        answer(r, rc,
               rc == GW_EWSVERSION ? "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" : NULL,
               NULL);
        return true;
    }
    if (r->w->hub == NULL) {
        answer(r, GW_EHUBUNAVAIL, "Retry-After: 1\r\n", "the hub was enabled after the start");
        return true;
    }
    if (!origin_allowed(r, hc)) {
        /* the answer depends on the Origin: caches must know (RFC 9110 12.5.5) */
        answer(r, GW_EWSORIGIN, "Vary: Origin\r\n", NULL);
        return true;
    }
    char *npath = malloc(path_len + 1);
    if (!npath) {
        answer(r, GW_ENOMEM, NULL, NULL);
        return true;
    }
    memcpy(npath, path, path_len);
    npath[path_len] = '\0';
    r->npath = npath;
    r->npath_len = path_len;
    r->upgrade = GW_UPGRADE_WEBSOCKET;
    r->query = query;
    r->query_len = query_len;
    const struct gw_service *svc = NULL;
    for (size_t i = 0; hc->service && i < r->snap->nservices && !svc; i++)
        if (strcmp(r->snap->services[i].conf->name, hc->service) == 0)
            svc = &r->snap->services[i];
    if (svc == NULL) {
        hub_pass(r);
        return true;
    }
    r->svc = svc;
    r->prefix_len = 0;
    if (svc->conf->websocket.token_query)
        gw__request_redact_query(r->path, sizeof(r->path), svc->conf->websocket.token_query);
    gw_policy_run(r, hub_pass);
    return true;
}
