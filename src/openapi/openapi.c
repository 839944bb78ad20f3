/*
 * The aggregated OpenAPI document on the control thread (openapi/openapi.h has the contract).
 * One timer drives every source: each tick (and each start or reload) fetches every URL source
 * that has no fetch in flight and reads every file source; each arrival that changes a
 * document merges them all again and publishes the text.
 */
#include "openapi/openapi.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-t.h"
#include "control/snapshot-t.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "net/fetch.h"
#include "openapi/merge.h"

enum src_state {
    SRC_NEW = 0,
    SRC_OK,
    SRC_FAILING
};

struct source {
    struct gw_openapi *o;
    char *name;  /* the service's */
    char *where; /* the URL fetched or the file read */
    bool is_file;
    json_t *doc; /* the last good document, or NULL */
    enum src_state state;
    struct gw_fetch *fetch; /* in flight, or NULL */
};

struct gw_openapi {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_mutex_t lock;            /* guards doc */
    struct gw_openapi_doc *doc; /* published */
    struct gw_snapshot *snap;   /* the configuration followed (a reference) */
    struct source *src;         /* one per service with an "openapi" key */
    size_t nsrc;
    bool stopping;
};

void gw_openapi_doc_unref(struct gw_openapi_doc *d)
{
    if (d && atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1)
        free(d);
}

struct gw_openapi_doc *gw_openapi_get(struct gw_openapi *o)
{
    if (o == NULL)
        return NULL;
    uv_mutex_lock(&o->lock);
    struct gw_openapi_doc *d = o->doc;
    if (d)
        atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    uv_mutex_unlock(&o->lock);
    return d;
}

static void set_doc(struct gw_openapi *o, struct gw_openapi_doc *d)
{
    uv_mutex_lock(&o->lock);
    struct gw_openapi_doc *old = o->doc;
    o->doc = d;
    uv_mutex_unlock(&o->lock);
    gw_openapi_doc_unref(old);
}

/* Where service sc's paths are served, in front of its document's own paths (openapi/merge.h):
 * what the gateway removes before the upstream sees the path. */
static void mount_of(const struct gw_config *cfg, const struct gw_service_conf *sc, char *out,
                     size_t cap)
{
    const char *pfx = strcmp(sc->prefixes[0], "/") == 0 ? "" : sc->prefixes[0];
    bool vpath = sc->version != NULL && cfg->versioning.path;
    char vseg[160] = "";
    if (vpath)
        snprintf(vseg, sizeof vseg, "/%s%s", cfg->versioning.path_prefix, sc->version);
    if (sc->strip_prefix)
        snprintf(out, cap, "%s%s", vseg, pfx);
    else if (vpath && cfg->versioning.strip_path_version)
        snprintf(out, cap, "%s", vseg);
    else
        out[0] = '\0';
}

static const struct source *source_of(const struct gw_openapi *o, const char *name)
{
    for (size_t i = 0; i < o->nsrc; i++)
        if (strcmp(o->src[i].name, name) == 0)
            return &o->src[i];
    return NULL;
}

/* Merges the documents at hand and publishes the text. */
static void publish(struct gw_openapi *o)
{
    const struct gw_config *cfg = o->snap->cfg;
    size_t n = o->snap->nservices;
    struct gw_openapi_service *svcs = calloc(n ? n : 1, sizeof *svcs);
    char(*mounts)[1200] = calloc(n ? n : 1, sizeof *mounts);
    json_t *merged = NULL;
    char *text = NULL;
    if (svcs == NULL || mounts == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct gw_service_conf *sc = o->snap->services[i].conf;
        const struct source *s = source_of(o, sc->name);
        mount_of(cfg, sc, mounts[i], sizeof mounts[i]);
        svcs[i] = (struct gw_openapi_service){
            .name = sc->name,
            .mount = mounts[i],
            .auth = sc->auth.enabled ? sc->auth.methods : 0,
            .auth_required = sc->auth.required,
            .api_key_header = cfg->auth.api_key_header,
            .doc = s ? s->doc : NULL,
        };
    }
    struct gw_openapi_info info = {cfg->openapi.title, cfg->openapi.version,
                                   cfg->openapi.server_url};
    if (gw_openapi_merge(&info, svcs, n, &merged) < 0)
        goto fail;
    text = json_dumps(merged, JSON_COMPACT);
    if (text == NULL)
        goto fail;
    size_t len = strlen(text);
    struct gw_openapi_doc *d = malloc(sizeof *d + len + 1);
    if (d == NULL)
        goto fail;
    atomic_init(&d->refs, 1);
    d->len = len;
    memcpy(d->text, text, len + 1);
    set_doc(o, d);
    goto done;
fail:
    gw_log_error("openapi: out of memory merging the documents; serving the previous one");
done:
    free(text);
    json_decref(merged);
    free(mounts);
    free(svcs);
}

/* A source's attempt ended: doc (a new reference) or NULL with why. Logs state changes only.
 * Returns whether the merged document must be rebuilt. */
static bool settle(struct source *s, json_t *doc, const char *why)
{
    if (doc != NULL) {
        const char *bad = gw_openapi_check(doc);
        if (bad != NULL) {
            json_decref(doc);
            doc = NULL;
            why = bad;
        }
    }
    if (doc == NULL) {
        if (s->state != SRC_FAILING)
            gw_log_warn("openapi: service %s: %s: %s; %s", s->name, s->where, why,
                        s->doc ? "keeping the last good document" : "its paths are left out");
        s->state = SRC_FAILING;
        return false;
    }
    if (s->state != SRC_OK)
        gw_log_info("openapi: service %s: document loaded from %s", s->name, s->where);
    s->state = SRC_OK;
    bool same = s->doc != NULL && json_equal(s->doc, doc);
    json_decref(s->doc);
    s->doc = doc;
    return !same;
}

static void on_fetched(void *arg, int err, const struct gw_fetch_resp *resp)
{
    struct source *s = arg;
    s->fetch = NULL;
    json_t *doc = NULL;
    const char *why = NULL;
    char buf[256];
    if (err != 0) {
        why = resp->why && resp->why[0] ? resp->why : gw_strerror(err);
    } else if (resp->status != 200) {
        snprintf(buf, sizeof buf, "status %d", resp->status);
        why = buf;
    } else {
        json_error_t je;
        doc = json_loadb(resp->body, resp->body_len, 0, &je);
        if (doc == NULL) {
            snprintf(buf, sizeof buf, "not JSON (line %d: %.100s)", je.line, je.text);
            why = buf;
        }
    }
    if (settle(s, doc, why))
        publish(s->o);
}

static json_t *read_file(const char *path, uint64_t max, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, cap, "cannot open the file");
        return NULL;
    }
    json_t *doc = NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    if (buf == NULL) {
        snprintf(why, cap, "out of memory");
    } else if (ferror(f)) {
        snprintf(why, cap, "cannot read the file");
    } else if (n > max) {
        snprintf(why, cap, "larger than openapi.max_bytes");
    } else {
        json_error_t je;
        doc = json_loadb(buf, n, 0, &je);
        if (doc == NULL)
            snprintf(why, cap, "not JSON (line %d: %.100s)", je.line, je.text);
    }
    free(buf);
    fclose(f);
    return doc;
}

/* Fetches every URL source without a fetch in flight, reads every file source. */
static void refresh(struct gw_openapi *o)
{
    const struct gw_openapi_conf *oc = &o->snap->cfg->openapi;
    bool changed = false;
    for (size_t i = 0; i < o->nsrc && !o->stopping; i++) {
        struct source *s = &o->src[i];
        if (s->is_file) {
            char why[256] = "";
            json_t *doc = read_file(s->where, oc->max_bytes, why, sizeof why);
            changed |= settle(s, doc, why);
            continue;
        }
        if (s->fetch != NULL)
            continue;
        struct gw_fetch_req req = {
            .url = s->where,
            .method = "GET",
            .headers = "Accept: application/json\r\n",
            .timeout_ms = oc->timeout_ms,
            .max_body = (size_t)oc->max_bytes,
            .allow_https = true,
            .ca_file = oc->ca_file,
        };
        if (gw_fetch_start(o->loop, &req, on_fetched, s, &s->fetch) != 0) {
            s->fetch = NULL;
            changed |= settle(s, NULL, "cannot start the fetch");
        }
    }
    if (changed)
        publish(o);
}

static void on_timer(uv_timer_t *t)
{
    refresh(t->data);
}

static void free_sources(struct source *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gw_fetch_cancel(src[i].fetch);
        json_decref(src[i].doc);
        free(src[i].name);
        free(src[i].where);
    }
    free(src);
}

/* The location of service sc's document, to free(); NULL when it has none. */
static char *location_of(const struct gw_service_conf *sc, bool *is_file)
{
    *is_file = sc->openapi.file != NULL;
    if (sc->openapi.file)
        return strdup(sc->openapi.file);
    if (sc->openapi.url)
        return strdup(sc->openapi.url);
    if (sc->openapi.path == NULL || sc->ntargets == 0)
        return NULL;
    const char *base = sc->targets[0].url;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(sc->openapi.path) + 1;
    char *u = malloc(n);
    if (u)
        snprintf(u, n, "%.*s%s", (int)bl, base, sc->openapi.path);
    return u;
}

/* Follows snap: new sources (carrying over the documents of unchanged ones), the timer, an
 * immediate refresh and a first publication. */
static int follow(struct gw_openapi *o, struct gw_snapshot *snap)
{
    const struct gw_config *cfg = snap->cfg;
    size_t n = 0;
    struct source *src = calloc(snap->nservices ? snap->nservices : 1, sizeof *src);
    if (src == NULL)
        return GW_ENOMEM;
    for (size_t i = 0; cfg->openapi.enabled && i < snap->nservices; i++) {
        const struct gw_service_conf *sc = snap->services[i].conf;
        bool is_file;
        char *where = location_of(sc, &is_file);
        if (where == NULL)
            continue;
        struct source *s = &src[n++];
        *s = (struct source){.o = o, .name = strdup(sc->name), .where = where, .is_file = is_file};
        if (s->name == NULL) {
            free_sources(src, n);
            return GW_ENOMEM;
        }
        const struct source *old = source_of(o, sc->name);
        if (old && strcmp(old->where, where) == 0) {
            s->doc = json_incref(old->doc);
            s->state = old->state;
        }
    }
    free_sources(o->src, o->nsrc);
    o->src = src;
    o->nsrc = n;
    gw_snapshot_ref(snap);
    gw_snapshot_unref(o->snap);
    o->snap = snap;
    uv_timer_stop(&o->timer);
    if (!cfg->openapi.enabled) {
        set_doc(o, NULL);
        return 0;
    }
    publish(o);
    refresh(o);
    uv_timer_start(&o->timer, on_timer, cfg->openapi.refresh_ms, cfg->openapi.refresh_ms);
    return 0;
}

int gw_openapi_start(uv_loop_t *loop, struct gw_snapshot *snap, struct gw_openapi **out)
{
    struct gw_openapi *o = calloc(1, sizeof *o);
    *out = NULL;
    if (o == NULL)
        return GW_ENOMEM;
    o->loop = loop;
    if (uv_mutex_init(&o->lock) != 0) {
        free(o);
        return GW_ENOMEM;
    }
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    *out = o;
    return follow(o, snap);
}

void gw_openapi_update(struct gw_openapi *o, struct gw_snapshot *snap)
{
    if (o && follow(o, snap) < 0)
        gw_log_error("openapi: out of memory following the reload; the previous services stay");
}

static void on_closed(uv_handle_t *h)
{
    struct gw_openapi *o = h->data;
    free_sources(o->src, o->nsrc);
    gw_snapshot_unref(o->snap);
    gw_openapi_doc_unref(o->doc);
    uv_mutex_destroy(&o->lock);
    free(o);
}

void gw_openapi_stop(struct gw_openapi *o)
{
    if (o == NULL)
        return;
    o->stopping = true;
    for (size_t i = 0; i < o->nsrc; i++) {
        gw_fetch_cancel(o->src[i].fetch);
        o->src[i].fetch = NULL;
    }
    uv_close((uv_handle_t *)&o->timer, on_closed);
}
