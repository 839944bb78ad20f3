/*
 * IP rules: the first stage of the chain. A routed request whose client address (after
 * trusted_proxies, policy/client_addr.h) is in the deny list, or outside the allow list when
 * there is one, is answered 403 before anything else looks at it.
 *
 * The lists are compiled when the snapshot is built into sets of merged ranges (net/addr.h):
 * a lookup is a bisection, so a list of thousands of blocks costs a request a dozen
 * comparisons. A service without lists costs nothing (the stage does not apply to it).
 */
#include "policy/iprules.h"

#include <stdlib.h>
#include <string.h>

#include "conn/request-t.h"
#include "control/snapshot-t.h"
#include "core/error.h"
#include "core/log.h"
#include "net/addr.h"
#include "policy/chain.h"
#include "policy/client_addr.h"
#include "policy/policy.h"
#include "policy/stages.h"

/* ---- compiling ------------------------------------------------------------------------------- */

/* The set for list l at a level whose enclosing level gives inherited: a new set (owned by ip),
 * NULL for false, or inherited when absent. 0 or GW_ENOMEM. */
static int level_set(struct gw_iprules_policy *ip, size_t cap, const struct gw_iplist_conf *l,
                     const struct gw_cidr_set *inherited, const struct gw_cidr_set **out)
{
    *out = inherited;
    if (l->state == GW_IPLIST_OFF)
        *out = NULL;
    if (l->state != GW_IPLIST_SET)
        return 0;
    if (ip->nsets == cap)
        return GW_ENOMEM; /* cannot happen: cap counts every list */
    int rc = gw_cidr_set_new(l->items, l->n, &ip->sets[ip->nsets]);
    if (rc < 0)
        return rc;
    *out = ip->sets[ip->nsets++];
    return 0;
}

static int level_lists(struct gw_iprules_policy *ip, size_t cap, const struct gw_iplist_conf *allow,
                       const struct gw_iplist_conf *deny, const struct gw_iprules_lists *inherited,
                       struct gw_iprules_lists *out)
{
    int rc = level_set(ip, cap, allow, inherited->allow, &out->allow);
    if (rc == 0)
        rc = level_set(ip, cap, deny, inherited->deny, &out->deny);
    return rc;
}

static bool has_list(const struct gw_iprules_lists *l)
{
    return l->allow != NULL || l->deny != NULL;
}

int gw_iprules_build(struct gw_policy *p, const struct gw_snapshot *s)
{
    const struct gw_config *cfg = s->cfg;
    struct gw_iprules_policy *ip = calloc(1, sizeof *ip);
    if (ip == NULL)
        return GW_ENOMEM;
    p->iprules = ip;
    size_t cap = 2;
    for (size_t i = 0; i < cfg->nservices; i++)
        cap += 2 + 2 * cfg->services[i].ip_rules.nrules;
    ip->sets = calloc(cap, sizeof *ip->sets);
    ip->svc = calloc(cfg->nservices ? cfg->nservices : 1, sizeof *ip->svc);
    if (ip->sets == NULL || ip->svc == NULL)
        return GW_ENOMEM;
    ip->nsvc = cfg->nservices;

    struct gw_iprules_lists none = {NULL, NULL}, gw;
    int rc = level_lists(ip, cap, &cfg->ip_rules.allow, &cfg->ip_rules.deny, &none, &gw);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < cfg->nservices; i++) {
        const struct gw_iprules_conf *sc = &cfg->services[i].ip_rules;
        struct gw_iprules_svc *sv = &ip->svc[i];
        if (!sc->enabled)
            continue;
        rc = level_lists(ip, cap, &sc->allow, &sc->deny, &gw, &sv->base);
        if (rc < 0)
            return rc;
        sv->any = has_list(&sv->base);
        if (sc->nrules == 0)
            continue;
        sv->rules = calloc(sc->nrules, sizeof *sv->rules);
        if (sv->rules == NULL)
            return GW_ENOMEM;
        sv->nrules = sc->nrules;
        for (size_t k = 0; k < sc->nrules; k++) {
            const struct gw_iprule_conf *rule = &sc->rules[k];
            sv->rules[k].match = &rule->match;
            rc = level_lists(ip, cap, &rule->allow, &rule->deny, &sv->base, &sv->rules[k].lists);
            if (rc < 0)
                return rc;
            sv->any = sv->any || has_list(&sv->rules[k].lists);
        }
    }
    return 0;
}

void gw_iprules_free(struct gw_iprules_policy *ip)
{
    if (ip == NULL)
        return;
    for (size_t i = 0; i < ip->nsets; i++)
        gw_cidr_set_free(ip->sets[i]);
    for (size_t i = 0; ip->svc && i < ip->nsvc; i++)
        free(ip->svc[i].rules);
    free(ip->sets);
    free(ip->svc);
    free(ip);
}

/* ---- deciding -------------------------------------------------------------------------------- */

bool gw_iprules_allows(const struct gw_iprules_lists *l, bool known, int family,
                       const uint8_t *addr)
{
    if (!known) /* no address to vouch for: only a service without an allow list takes it */
        return l->allow == NULL;
    if (l->deny && gw_cidr_set_has(l->deny, family, addr))
        return false;
    return l->allow == NULL || gw_cidr_set_has(l->allow, family, addr);
}

bool gw_iprules_applies(const struct gw_snapshot *s, size_t i)
{
    const struct gw_iprules_policy *ip = s->policy ? s->policy->iprules : NULL;
    return ip && i < ip->nsvc && ip->svc[i].any;
}

enum gw_stage_result gw_iprules_on_request(struct gw_request *r, void **slot, struct gw_answer *a)
{
    (void)slot; /* decided at once: no state */
    const struct gw_iprules_svc *sv =
        &r->snap->policy->iprules->svc[(size_t)(r->svc - r->snap->services)];
    /* The rule whose match accepts the request with the longest prefix (the first of equals),
     * as auth rules choose. */
    const struct gw_iprules_lists *l = &sv->base;
    size_t best = 0, len;
    bool found = false;
    for (size_t i = 0; i < sv->nrules; i++) {
        if (gw_policy_match_len(sv->rules[i].match, r->npath, r->npath_len, r->msg.method_id,
                                &len) &&
            (!found || len > best)) {
            found = true;
            best = len;
            l = &sv->rules[i].lists;
        }
    }
    if (!has_list(l))
        return GW_STAGE_CONTINUE;
    int family = 0;
    uint8_t addr[16];
    bool known = gw_client_addr(r, &family, addr);
    if (gw_iprules_allows(l, known, family, addr))
        return GW_STAGE_CONTINUE;
    gw_log_debug("request %s: client %s refused by the IP rules of service %s", r->id,
                 r->client_ip[0] ? r->client_ip : "(unknown)", r->svc->conf->name);
    gw_answer_init(a, GW_EIPDENIED);
    return GW_STAGE_RESPOND;
}
