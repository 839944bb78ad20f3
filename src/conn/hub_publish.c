/*
 * Publishing to the hub on the proxy port (hub.publish_path, off by default): POST
 * PUBLISH_PATH/{channel}/messages with the admin API's body ({"data": ...[, "client_id": ...]}).
 * The request runs the policy chain of hub.service (IP rules, rate limits, auth), then the
 * channel rules decide as for a hub client with the caller's roles; the body (Content-Length,
 * at most hub.max_message_size) is read whole and published (hub/hub.h gw_hub_publish_body).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/internal.h"
#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "http1/parser.h"
#include "hub/channel.h"
#include "hub/hub.h"
#include "policy/chain.h"

struct gw_hub_publish_serve {
    const char *channel; /* in r->npath */
    size_t channel_len;
    char *body;
    size_t len, want;
};

void gw__hub_publish_free(struct gw_request *r)
{
    struct gw_hub_publish_serve *st = r->hubpub;
    if (st == NULL)
        return;
    free(st->body);
    free(st);
    r->hubpub = NULL;
}

static void answer(struct gw_request *r, int err, const char *headers, bool close)
{
    struct gw_answer a;
    gw_answer_init(&a, err);
    a.headers = headers;
    a.close = a.close || close;
    r->ds->respond(r, &a);
}

static void publish(struct gw_request *r)
{
    struct gw_hub_publish_serve *st = r->hubpub;
    const struct gw_identity *who = &r->identity;
    const char *id = !r->authenticated ? ""
                     : who->user       ? who->user
                     : who->consumer   ? who->consumer
                                       : "";
    struct gw_hub_publisher pub = {.client_id = id, .roles = r->authenticated ? who->roles : NULL};
    char msg_id[33];
    struct gw_hub *hub = gw_hub_of_worker(r->w);
    int rc = hub ? gw_hub_publish_body(hub, st->channel, st->channel_len, st->body, st->len, &pub,
                                       msg_id)
                 : GW_EHUBUNAVAIL;
    if (rc < 0) {
        answer(r, rc == GW_ENOMEM ? GW_EHUBUNAVAIL : rc, NULL, false);
        return;
    }
    char body[256];
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\",\"channel\":\"%.*s\"}", msg_id,
                     (int)st->channel_len, st->channel);
    gw__request_reply(r, 202, "Content-Type: application/json\r\nCache-Control: no-store\r\n", body,
                      (size_t)n, false);
}

void gw__hub_publish_input(struct gw_request *r)
{
    struct gw_hub_publish_serve *st = r->hubpub;
    if (r->body_done)
        return;
    if (gw__request_take_body(r, st->body, &st->len, st->want))
        publish(r);
}

/* The policy chain let the request through: the body is read, then published. */
static void hub_publish_pass(struct gw_request *r)
{
    struct gw_hub_publish_serve *st = r->hubpub;
    st->want = r->msg.body == GW_BODY_LENGTH ? (size_t)r->msg.content_length : 0;
    st->body = malloc(st->want + 1);
    if (st->body == NULL) {
        answer(r, GW_ENOMEM, NULL, true);
        return;
    }
    /* Everything needed from the head is copied: its bytes in the input buffer can go. */
    r->head_built = true;
    r->ds->body_consume(r, r->msg.head_len);
    r->body_done = false;
    gw__hub_publish_input(r);
}

bool gw__hub_publish_serve(struct gw_request *r, const char *path, size_t path_len)
{
    const struct gw_hub_conf *hc = &r->snap->cfg->hub;
    size_t pl = strlen(hc->publish_path);
    static const char tail[] = "/messages";
    const size_t tl = sizeof tail - 1;
    if (path_len <= pl || memcmp(path, hc->publish_path, pl) != 0 || path[pl] != '/')
        return false;
    const char *ch = path + pl + 1;
    size_t chl = path_len - pl - 1;
    if (chl <= tl || memcmp(ch + chl - tl, tail, tl) != 0 || !gw_hub_channel_valid(ch, chl - tl)) {
        answer(r, GW_ENOROUTE, NULL, false);
        return true;
    }
    chl -= tl;
    const struct gw_http1_message *m = &r->msg;
    if (m->method_id != GW_METHOD_POST) {
        answer(r, GW_EMETHODNOTALLOWED, "Allow: POST\r\n", false);
        return true;
    }
    if (m->body == GW_BODY_CHUNKED) {
        answer(r, GW_EHUBLENGTH, NULL, true);
        return true;
    }
    if (m->body != GW_BODY_LENGTH || m->content_length == 0) {
        answer(r, GW_EHUBMESSAGE, NULL, false);
        return true;
    }
    if (m->content_length > hc->max_message_bytes) {
        answer(r, GW_EBODYTOOLARGE, NULL, true);
        return true;
    }
    if (gw_hub_of_worker(r->w) == NULL) {
        answer(r, GW_EHUBUNAVAIL, "Retry-After: 1\r\n", false);
        return true;
    }
    const struct gw_service *svc = NULL;
    for (size_t i = 0; i < r->snap->nservices && !svc; i++)
        if (strcmp(r->snap->services[i].conf->name, hc->service) == 0)
            svc = &r->snap->services[i];
    struct gw_hub_publish_serve *st = calloc(1, sizeof *st);
    char *npath = malloc(path_len + 1);
    if (svc == NULL || st == NULL || npath == NULL) {
        free(st);
        free(npath);
        answer(r, svc ? GW_ENOMEM : GW_EHUBUNAVAIL, NULL, true);
        return true;
    }
    memcpy(npath, path, path_len);
    npath[path_len] = '\0';
    r->npath = npath;
    r->npath_len = path_len;
    st->channel = npath + pl + 1;
    st->channel_len = chl;
    r->hubpub = st;
    r->svc = svc;
    r->prefix_len = 0;
    gw_policy_run(r, hub_publish_pass);
    return true;
}
