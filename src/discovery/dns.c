/*
 * DNS discovery: the watched names, their queries on the thread pool, and the rewriting of
 * the targets of each reload's document (dns.h).
 *
 * One entry per (kind, host name). A one-second tick starts the query of every entry that is
 * due and not in flight; its result (sorted, so that the same set in another order is no
 * change) replaces the entry's set when it has at least one address, and a change asks for one
 * reload (coalesced over GW_DNS_COALESCE_MS). An entry that is no longer used is marked dead
 * and freed once its query, if any, is back.
 */
#include "discovery/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/url.h"
#include "discovery/dns_answer.h"

#define GW_DNS_COALESCE_MS 50
#define MAX_RR 64
#define MIN_REFRESH_MS 1000

struct entry {
    int kind; /* GW_DISCOVERY_DNS or GW_DISCOVERY_DNS_SRV */
    char *host;
    char **set; /* "ADDR" (dns) or "ADDR PORT WEIGHT" (dns_srv), sorted; NULL: none yet */
    size_t nset;
    uint64_t due_ms; /* uv_now of the next query */
    bool in_flight, dead, failing, seen;
};

struct gw_dns {
    uv_loop_t *loop;
    uv_timer_t tick, coalesce;
    unsigned open_handles;
    struct entry **items;
    size_t n, cap;
    gw_dns_change_fn on_change;
    void *arg;
    unsigned in_flight;
    bool stopping;
    /* the section of the last gw_dns_update */
    bool has_resolver;
    struct sockaddr_in resolver;
    uint64_t interval_ms, timeout_ms;
};

struct job {
    uv_work_t req;
    struct gw_dns *d;
    struct entry *e;
    char host[256];
    int kind;
    bool has_resolver;
    struct sockaddr_in resolver;
    int timeout_s;
    /* results */
    char **set;
    size_t nset;
    uint32_t ttl;
    char why[96];
};

static void free_set(char **set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(set[i]);
    free(set);
}

static void free_entry(struct entry *e)
{
    free_set(e->set, e->nset);
    free(e->host);
    free(e);
}

static void maybe_free(struct gw_dns *d);

/* ---- on the thread pool --------------------------------------------------------------------- */

/* One query: 0 with the records, or -1 with why ("no such name" and "no address" count as
 * failures too: a set is never emptied by DNS). */
static int query(res_state st, const char *name, int type, struct gw_dns_rr *rr, size_t *n,
                 uint32_t *ttl, char *why, size_t whycap)
{
    unsigned char *buf = malloc(NS_MAXMSG);
    int rc = -1;
    *n = 0;
    if (buf == NULL) {
        snprintf(why, whycap, "out of memory");
        return -1;
    }
    int len = res_nquery(st, name, ns_c_in, type, buf, NS_MAXMSG);
    if (len < 0) {
        int h = st->res_h_errno;
        snprintf(why, whycap, "%s",
                 h == HOST_NOT_FOUND ? "no such name"
                 : h == NO_DATA      ? "no record"
                 : h == TRY_AGAIN    ? "no answer (timed out or SERVFAIL)"
                                     : "the resolver failed");
        goto out;
    }
    if (gw_dns_answer_parse(buf, (size_t)len, type, rr, MAX_RR, n, ttl) < 0) {
        snprintf(why, whycap, "a malformed answer");
        goto out;
    }
    rc = 0;
out:
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool add(struct job *j, const char *s)
{
    for (size_t i = 0; i < j->nset; i++) {
        if (strcmp(j->set[i], s) == 0)
            return true;
    }
    char **p = realloc(j->set, (j->nset + 1) * sizeof *p);
    if (p == NULL)
        return false;
    j->set = p;
    j->set[j->nset] = strdup(s);
    return j->set[j->nset++] != NULL;
}

/* The A and AAAA addresses of name into j (with suffix after each); false when neither query
 * gave one. */
static bool addresses(struct job *j, res_state st, const char *name, const char *suffix)
{
    struct gw_dns_rr rr[MAX_RR];
    static const int types[] = {ns_t_a, ns_t_aaaa};
    bool any = false;
    char why[48] = "";
    for (size_t t = 0; t < 2; t++) {
        size_t n = 0;
        uint32_t ttl = UINT32_MAX;
        if (query(st, name, types[t], rr, &n, &ttl, why, sizeof why) < 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            char one[GW_DNS_NAME_MAX + 32];
            snprintf(one, sizeof one, "%s%s", rr[i].text, suffix);
            if (!add(j, one))
                return false;
            any = true;
        }
        if (ttl < j->ttl)
            j->ttl = ttl;
    }
    if (!any && j->why[0] == '\0')
        snprintf(j->why, sizeof j->why, "%.40s: %s", name, why[0] ? why : "no address");
    return any;
}

static void on_work(uv_work_t *req)
{
    struct job *j = req->data;
    struct __res_state st;
    memset(&st, 0, sizeof st);
    j->ttl = UINT32_MAX;
    if (res_ninit(&st) != 0) {
        snprintf(j->why, sizeof j->why, "cannot set up the resolver");
        return;
    }
    if (j->has_resolver) {
        st.nscount = 1;
        st.nsaddr_list[0] = j->resolver;
    }
    st.retrans = j->timeout_s;
    st.retry = 1;
    if (j->kind == GW_DISCOVERY_DNS) {
        addresses(j, &st, j->host, "");
    } else {
        struct gw_dns_rr rr[MAX_RR];
        size_t n = 0;
        uint32_t ttl = UINT32_MAX;
        if (query(&st, j->host, ns_t_srv, rr, &n, &ttl, j->why, sizeof j->why) == 0) {
            j->ttl = ttl;
            for (size_t i = 0; i < n; i++) {
                char suffix[32];
                if (rr[i].port == 0 || strcmp(rr[i].text, "") == 0)
                    continue; /* "." as the target: the service is not offered */
                snprintf(suffix, sizeof suffix, " %u %u", (unsigned)rr[i].port,
                         (unsigned)(rr[i].weight ? rr[i].weight : 1));
                addresses(j, &st, rr[i].text, suffix);
            }
            if (j->nset == 0 && j->why[0] == '\0')
                snprintf(j->why, sizeof j->why, "no SRV record with an address");
        }
    }
    res_nclose(&st);
    if (j->nset > 0) {
        j->why[0] = '\0';
        qsort(j->set, j->nset, sizeof *j->set, cmp_str);
    }
}

/* ---- on the control loop -------------------------------------------------------------------- */

static void on_coalesced(uv_timer_t *t)
{
    struct gw_dns *d = t->data;
    if (!d->stopping && d->on_change)
        d->on_change(d->arg);
}

static bool same_set(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i], b[i]) != 0)
            return false;
    }
    return true;
}

static void log_set(const struct entry *e, const char *what)
{
    char list[512];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < e->nset && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", e->set[i]);
    gw_log_info("discovery: %s %s %s: %s", e->kind == GW_DISCOVERY_DNS ? "dns" : "dns_srv", e->host,
                what, list);
}

static void on_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct gw_dns *d = j->d;
    struct entry *e = j->e;
    e->in_flight = false;
    d->in_flight--;
    if (d->stopping || e->dead || status != 0)
        goto out;
    uint64_t next = d->interval_ms;
    if (j->nset == 0) {
        if (!e->failing)
            gw_log_error("discovery: %s %s does not resolve (%s): %s",
                         e->kind == GW_DISCOVERY_DNS ? "dns" : "dns_srv", e->host,
                         j->why[0] ? j->why : "no address",
                         e->set ? "keeping the last addresses" : "its targets stay as written");
        e->failing = true;
        next = next < 5000 ? next : 5000; /* try again soon */
    } else {
        if (e->failing)
            gw_log_info("discovery: %s resolves again", e->host);
        e->failing = false;
        if (j->ttl != UINT32_MAX && (uint64_t)j->ttl * 1000 < next)
            next =
                (uint64_t)j->ttl * 1000 > MIN_REFRESH_MS ? (uint64_t)j->ttl * 1000 : MIN_REFRESH_MS;
        if (!same_set(e->set, e->nset, j->set, j->nset)) {
            bool first = e->set == NULL;
            free_set(e->set, e->nset);
            e->set = j->set;
            e->nset = j->nset;
            j->set = NULL;
            j->nset = 0;
            log_set(e, first ? "resolves to" : "now resolves to");
            if (!uv_is_active((uv_handle_t *)&d->coalesce))
                uv_timer_start(&d->coalesce, on_coalesced, GW_DNS_COALESCE_MS, 0);
        }
    }
    e->due_ms = uv_now(d->loop) + next;
out:
    free_set(j->set, j->nset);
    free(j);
    if (e->dead)
        free_entry(e);
    maybe_free(d);
}

static void launch(struct gw_dns *d, struct entry *e)
{
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return;
    j->req.data = j;
    j->d = d;
    j->e = e;
    j->kind = e->kind;
    snprintf(j->host, sizeof j->host, "%s", e->host);
    j->has_resolver = d->has_resolver;
    j->resolver = d->resolver;
    j->timeout_s = (int)((d->timeout_ms + 999) / 1000);
    if (uv_queue_work(d->loop, &j->req, on_work, on_done) != 0) {
        free(j);
        return;
    }
    e->in_flight = true;
    d->in_flight++;
}

static void on_tick(uv_timer_t *t)
{
    struct gw_dns *d = t->data;
    uint64_t now = uv_now(d->loop);
    for (size_t i = 0; i < d->n; i++) {
        struct entry *e = d->items[i];
        if (!e->in_flight && e->due_ms <= now)
            launch(d, e);
    }
}

int gw_dns_start(uv_loop_t *loop, gw_dns_change_fn on_change, void *arg, struct gw_dns **out)
{
    struct gw_dns *d = calloc(1, sizeof *d);
    *out = NULL;
    if (d == NULL)
        return GW_ENOMEM;
    d->loop = loop;
    d->on_change = on_change;
    d->arg = arg;
    d->interval_ms = 10000;
    d->timeout_ms = 2000;
    uv_timer_init(loop, &d->tick);
    uv_timer_init(loop, &d->coalesce);
    d->tick.data = d->coalesce.data = d;
    d->open_handles = 2;
    *out = d;
    return 0;
}

static struct entry *find(struct gw_dns *d, int kind, const char *host)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i]->kind == kind && strcmp(d->items[i]->host, host) == 0)
            return d->items[i];
    }
    return NULL;
}

/* The host name of a target URL of a discovered service, or false (an address, or not a URL). */
static bool target_host(const char *url, char *host, size_t cap)
{
    struct gw_url u;
    const char *why = NULL;
    if (url == NULL || gw_url_parse(url, strlen(url), &u, &why) < 0 ||
        u.host.kind != GW_URL_HOST_NAME || u.host.host_len >= cap)
        return false;
    memcpy(host, u.host.host, u.host.host_len);
    host[u.host.host_len] = '\0';
    return true;
}

int gw_dns_update(struct gw_dns *d, const struct gw_config *cfg)
{
    const struct gw_discovery_conf *dc = &cfg->discovery;
    d->interval_ms = dc->interval_ms ? dc->interval_ms : 10000;
    d->timeout_ms = dc->timeout_ms ? dc->timeout_ms : 2000;
    d->has_resolver = false;
    if (dc->resolver) {
        char host[64];
        const char *colon = strchr(dc->resolver, ':');
        size_t hn = colon ? (size_t)(colon - dc->resolver) : strlen(dc->resolver);
        memset(&d->resolver, 0, sizeof d->resolver);
        d->resolver.sin_family = AF_INET;
        d->resolver.sin_port = htons(colon ? (uint16_t)strtoul(colon + 1, NULL, 10) : 53);
        snprintf(host, sizeof host, "%.*s", (int)(hn < sizeof host ? hn : 0), dc->resolver);
        d->has_resolver = inet_pton(AF_INET, host, &d->resolver.sin_addr) == 1;
    }
    for (size_t i = 0; i < d->n; i++)
        d->items[i]->seen = false;
    for (size_t s = 0; s < cfg->nservices; s++) {
        const struct gw_service_conf *svc = &cfg->services[s];
        if (svc->discovery == GW_DISCOVERY_NONE)
            continue;
        for (size_t t = 0; t < svc->ntargets; t++) {
            char host[256];
            if (!target_host(svc->targets[t].url, host, sizeof host))
                continue;
            struct entry *e = find(d, (int)svc->discovery, host);
            if (e == NULL) {
                if (d->n == d->cap) {
                    size_t cap = d->cap ? d->cap * 2 : 8;
                    struct entry **p = realloc(d->items, cap * sizeof *p);
                    if (p == NULL)
                        return GW_ENOMEM;
                    d->items = p;
                    d->cap = cap;
                }
                e = calloc(1, sizeof *e);
                if (e == NULL || (e->host = strdup(host)) == NULL) {
                    free(e);
                    return GW_ENOMEM;
                }
                e->kind = (int)svc->discovery;
                e->due_ms = 0; /* at once */
                d->items[d->n++] = e;
            }
            e->seen = true;
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < d->n; i++) {
        struct entry *e = d->items[i];
        if (e->seen) {
            d->items[kept++] = e;
        } else if (e->in_flight) {
            e->dead = true; /* freed when its query is back */
        } else {
            free_entry(e);
        }
    }
    d->n = kept;
    if (d->n == 0) {
        uv_timer_stop(&d->tick);
    } else {
        if (!uv_is_active((uv_handle_t *)&d->tick))
            uv_timer_start(&d->tick, on_tick, 0, 1000);
        on_tick(&d->tick); /* new names now */
    }
    return 0;
}

/* The URL u with its host replaced by addr (and its port by port when not 0). */
static char *with_host(const char *url, const char *addr, unsigned port)
{
    struct gw_url u;
    const char *why = NULL;
    char buf[4096];
    if (gw_url_parse(url, strlen(url), &u, &why) < 0)
        return NULL;
    bool v6 = strchr(addr, ':') != NULL;
    unsigned p = port ? port : (u.host.has_port ? u.port : 0);
    int n = snprintf(buf, sizeof buf, "%s://%s%s%s", u.scheme == GW_URL_HTTPS ? "https" : "http",
                     v6 ? "[" : "", addr, v6 ? "]" : "");
    if (n > 0 && (size_t)n < sizeof buf && p)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ":%u", p);
    if (n > 0 && (size_t)n < sizeof buf)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%.*s", (int)u.path_len, u.path);
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return strdup(buf);
}

/* The targets that replace target t (of kind), appended to out; 1 when replaced, 0 when t
 * stays as written, GW_ENOMEM. */
static int expand(const struct gw_dns *d, int kind, json_t *t, json_t *out)
{
    json_t *urlv = json_is_object(t) ? json_object_get(t, "url") : t;
    const char *url = json_string_value(urlv);
    char host[256];
    if (!target_host(url, host, sizeof host))
        return 0;
    struct entry *e = find((struct gw_dns *)d, kind, host);
    if (e == NULL || e->set == NULL)
        return 0;
    for (size_t i = 0; i < e->nset; i++) {
        char addr[GW_DNS_NAME_MAX];
        unsigned port = 0, weight = 0;
        if (kind == GW_DISCOVERY_DNS_SRV) {
            if (sscanf(e->set[i], "%255s %u %u", addr, &port, &weight) != 3)
                continue;
        } else {
            snprintf(addr, sizeof addr, "%s", e->set[i]);
        }
        char *nu = with_host(url, addr, port);
        json_t *one = json_is_object(t) ? json_deep_copy(t) : json_object();
        if (nu == NULL || one == NULL || json_object_set_new(one, "url", json_string(nu)) != 0 ||
            (weight && json_object_set_new(one, "weight",
                                           json_integer(weight > 1000 ? 1000 : weight)) != 0) ||
            json_array_append_new(out, one) != 0) {
            free(nu);
            return GW_ENOMEM;
        }
        free(nu);
    }
    return 1;
}

int gw_dns_extend(const struct gw_dns *d, json_t *doc)
{
    if (d == NULL || d->n == 0)
        return 0;
    json_t *services = json_object_get(doc, "services");
    size_t i;
    json_t *svc;
    int changed = 0;
    json_array_foreach(services, i, svc)
    {
        const char *kind = json_string_value(json_object_get(svc, "discovery"));
        int k = kind == NULL                   ? GW_DISCOVERY_NONE
                : strcmp(kind, "dns") == 0     ? GW_DISCOVERY_DNS
                : strcmp(kind, "dns_srv") == 0 ? GW_DISCOVERY_DNS_SRV
                                               : GW_DISCOVERY_NONE;
        json_t *targets = json_object_get(svc, "targets");
        if (k == GW_DISCOVERY_NONE || !json_is_array(targets))
            continue;
        json_t *out = json_array();
        if (out == NULL)
            return GW_ENOMEM;
        size_t ti;
        json_t *t;
        bool any = false;
        json_array_foreach(targets, ti, t)
        {
            int rc = expand(d, k, t, out);
            if (rc == 0)
                rc = json_array_append(out, t) == 0 ? 0 : GW_ENOMEM;
            if (rc < 0) {
                json_decref(out);
                return rc;
            }
            any = any || rc > 0;
        }
        if (!any) {
            json_decref(out);
            continue;
        }
        if (json_object_set_new(svc, "targets", out) != 0)
            return GW_ENOMEM;
        changed = 1;
    }
    return changed;
}

static void on_closed(uv_handle_t *h)
{
    struct gw_dns *d = h->data;
    d->open_handles--;
    maybe_free(d);
}

static void maybe_free(struct gw_dns *d)
{
    if (!d->stopping || d->in_flight > 0 || d->open_handles > 0)
        return;
    free(d->items);
    free(d);
}

void gw_dns_stop(struct gw_dns *d)
{
    if (d == NULL)
        return;
    d->stopping = true;
    for (size_t i = 0; i < d->n; i++) {
        if (d->items[i]->in_flight)
            d->items[i]->dead = true;
        else
            free_entry(d->items[i]);
    }
    d->n = 0;
    uv_close((uv_handle_t *)&d->tick, on_closed);
    uv_close((uv_handle_t *)&d->coalesce, on_closed);
}
