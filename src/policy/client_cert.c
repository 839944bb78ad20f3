/*
 * mTLS per service ("services[].client_cert"): a request to such a service needs a client
 * certificate the listener verified (tls.client_auth, usually with "required": false so other
 * services are served without one), and, with "ca", one that also chains to the service's own
 * bundle. Runs first in the auth row (policy/auth.c): no state, answers at once.
 *
 *   no certificate (plain listener, or the client sent none)  -> 401 client certificate required
 *   a certificate the service's bundle does not accept        -> 403
 */
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/chain.h"
#include "policy/stages.h"
#include "tls/peer_ca.h"

enum gw_stage_result gw_client_cert_on_request(struct gw_request *r, struct gw_answer *a)
{
    if (!r->client_subject) {
        gw_log_info("request %s: %s %s: no client certificate for service %s", r->id, r->method,
                    r->path, r->svc->conf->name);
        gw_answer_init(a, GW_ECLIENTCERT);
        a->service = r->svc->conf->name;
        return GW_STAGE_RESPOND;
    }
    const struct gw_tls_peer_ca *ca = r->svc->client_ca;
    if (ca && !(r->client_tls && gw_tls_peer_ca_verifies(ca, r->client_tls))) {
        gw_log_info("request %s: %s %s: client certificate \"%s\" not accepted by service %s",
                    r->id, r->method, r->path, r->client_subject, r->svc->conf->name);
        gw_answer_init(a, GW_ECLIENTCERTCA);
        a->service = r->svc->conf->name;
        return GW_STAGE_RESPOND;
    }
    return GW_STAGE_CONTINUE;
}
