/*
 * Runtime changes to services and targets, made the way an operator edits the file.
 *
 * Each change works on the raw JSON document of the config file (so `${ENV}` references stay
 * unexpanded): the file is read, the document edited, serialized, and validated by the same
 * loader as the file (gw_config_load_string). Only a valid result is written back, atomically
 * (temporary file in the same directory, fsync, rename, fsync of the directory), and then
 * reloaded with gw_server_reload: the same validation, snapshot and atomic publication as
 * SIGHUP. If that reload fails (a target name that does not resolve, say) the previous file is
 * put back, so the file and the running configuration never disagree because of the API.
 * A restart therefore keeps every change; the file loses its formatting (re-indented by 4).
 * A change that leaves the document as it was (a GET sent back with PUT) writes and reloads
 * nothing.
 *
 * PUT replaces a whole service, but never drops a key silently: a key the service has must be
 * in the body, with null to remove it, or the PUT is refused (409, the keys listed in
 * "missing"). PATCH is a JSON merge patch (RFC 7396) of the service.
 */
#include "admin/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "control/snapshot.h"
#include "core/error.h"
#include "core/log.h"
#include "runtime/server.h"

#define WHY_CAP 512

/* ---- the document ---------------------------------------------------------------------------- */

static json_t *services_of(json_t *doc, bool create, char *why, size_t cap)
{
    json_t *services = json_object_get(doc, "services");
    if (services == NULL && create) {
        services = json_array();
        if (services == NULL || json_object_set_new(doc, "services", services) != 0) {
            snprintf(why, cap, "out of memory");
            return NULL;
        }
    }
    if (!json_is_array(services)) {
        snprintf(why, cap, "\"services\" in the config file is not an array");
        return NULL;
    }
    return services;
}

/* Index of the service named name, or -1. */
static long find_service(json_t *services, const char *name)
{
    size_t i;
    json_t *svc;
    json_array_foreach(services, i, svc)
    {
        json_t *n = json_object_get(svc, "name");
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
            return (long)i;
    }
    return -1;
}

static json_t *service_named(json_t *doc, const char *name, char *why, size_t cap, int *status)
{
    json_t *services = services_of(doc, false, why, cap);
    long i = services ? find_service(services, name) : -1;
    if (i < 0) {
        snprintf(why, cap, "no service named \"%s\"", name);
        *status = 404;
        return NULL;
    }
    return json_array_get(services, (size_t)i);
}

int gw__admin_doc_add_service(json_t *doc, json_t *svc, char *why, size_t cap)
{
    if (!json_is_object(svc)) {
        snprintf(why, cap,
                 "the body must be a service object, as in the config file's "
                 "\"services\" array");
        return 400;
    }
    json_t *services = services_of(doc, true, why, cap);
    if (services == NULL)
        return 400;
    json_t *name = json_object_get(svc, "name");
    if (json_is_string(name) && find_service(services, json_string_value(name)) >= 0) {
        snprintf(why, cap,
                 "a service named \"%s\" already exists (PUT /api/services/%s replaces "
                 "it)",
                 json_string_value(name), json_string_value(name));
        return 409;
    }
    if (json_array_append(services, svc) != 0) {
        snprintf(why, cap, "out of memory");
        return 500;
    }
    return 0;
}

/* Checks the "name" of a PUT or PATCH body against the service in the path. */
static int check_given_name(json_t *body, const char *name, char *why, size_t cap)
{
    json_t *given = json_object_get(body, "name");
    if (given != NULL && !(json_is_string(given) && strcmp(json_string_value(given), name) == 0)) {
        snprintf(why, cap,
                 "the name in the body does not match the service in the path (\"%s\"); "
                 "a service cannot be renamed",
                 name);
        return 400;
    }
    return 0;
}

int gw__admin_doc_replace_service(json_t *doc, const char *name, json_t *svc, json_t **missing,
                                  char *why, size_t cap)
{
    int status = 500;
    json_t *keys = NULL;
    json_t *next = NULL;
    if (missing)
        *missing = NULL;
    if (!json_is_object(svc)) {
        snprintf(why, cap,
                 "the body must be a service object, as in the config file's "
                 "\"services\" array");
        return 400;
    }
    status = check_given_name(svc, name, why, cap);
    if (status != 0)
        return status;
    json_t *services = services_of(doc, false, why, cap);
    long i = services ? find_service(services, name) : -1;
    if (i < 0) {
        snprintf(why, cap, "no service named \"%s\"", name);
        return 404;
    }
    json_t *old = json_array_get(services, (size_t)i);
    keys = json_array();
    next = json_object();
    if (keys == NULL || next == NULL)
        goto oom;
    /* A key the service has and the body does not mention would be lost without anyone having
     * asked for it: that is refused. null in the body is how a key is removed. */
    const char *key;
    json_t *v;
    json_object_foreach(old, key, v)
    {
        if (strcmp(key, "name") != 0 && json_object_get(svc, key) == NULL &&
            json_array_append_new(keys, json_string(key)) != 0)
            goto oom;
    }
    if (json_array_size(keys) > 0) {
        snprintf(why, cap,
                 "the body leaves out %zu key%s that service \"%s\" has (listed in \"missing\"): "
                 "a PUT replaces the whole service, so send %s too (GET /api/services/%s gives "
                 "the whole service), send \"key\": null to remove one, or PATCH only the keys "
                 "to change; nothing was changed",
                 json_array_size(keys), json_array_size(keys) == 1 ? "" : "s", name,
                 json_array_size(keys) == 1 ? "it" : "them", name);
        if (missing) {
            *missing = keys;
            keys = NULL;
        }
        status = 409;
        goto out;
    }
    if (json_object_get(svc, "name") == NULL &&
        json_object_set_new(next, "name", json_string(name)) != 0)
        goto oom;
    json_object_foreach(svc, key, v)
    {
        if (!json_is_null(v) && json_object_set(next, key, v) != 0)
            goto oom;
    }
    if (json_array_set(services, (size_t)i, next) != 0)
        goto oom;
    status = 0;
    goto out;
oom:
    snprintf(why, cap, "out of memory");
    status = 500;
out:
    json_decref(keys);
    json_decref(next);
    return status;
}

/* RFC 7396 MergePatch(target, patch): the merged value, as a new reference (NULL when out of
 * memory). target may be NULL (absent). */
static json_t *merge_patch(json_t *target, json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *key;
    json_t *v;
    json_object_foreach(patch, key, v)
    {
        if (out == NULL)
            break;
        if (json_is_null(v)) {
            json_object_del(out, key);
            continue;
        }
        json_t *m = merge_patch(json_object_get(out, key), v);
        if (m == NULL || json_object_set_new(out, key, m) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    return out;
}

int gw__admin_doc_patch_service(json_t *doc, const char *name, json_t *patch, char *why, size_t cap)
{
    if (!json_is_object(patch)) {
        snprintf(why, cap,
                 "the body must be a JSON object: a merge patch of the service (RFC 7396; "
                 "null removes a key)");
        return 400;
    }
    int status = check_given_name(patch, name, why, cap);
    if (status != 0)
        return status;
    json_t *services = services_of(doc, false, why, cap);
    long i = services ? find_service(services, name) : -1;
    if (i < 0) {
        snprintf(why, cap, "no service named \"%s\"", name);
        return 404;
    }
    json_t *next = merge_patch(json_array_get(services, (size_t)i), patch);
    if (next == NULL || json_array_set_new(services, (size_t)i, next) != 0) {
        snprintf(why, cap, "out of memory");
        return 500;
    }
    return 0;
}

int gw__admin_doc_delete_service(json_t *doc, const char *name, char *why, size_t cap)
{
    json_t *services = services_of(doc, false, why, cap);
    long i = services ? find_service(services, name) : -1;
    if (i < 0) {
        snprintf(why, cap, "no service named \"%s\"", name);
        return 404;
    }
    json_array_remove(services, (size_t)i);
    return 0;
}

/* A target element's URL as written (a bare string or {"url": ...}), or NULL. */
static const char *target_url(json_t *t)
{
    if (json_is_object(t))
        t = json_object_get(t, "url");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* Whether a target written as raw (maybe with ${ENV}) is url, as written or as expanded. */
static bool same_url(const char *raw, const char *url)
{
    if (raw == NULL)
        return false;
    if (strcmp(raw, url) == 0)
        return true;
    char why[WHY_CAP];
    char *x = gw_config_expand_env(raw, strlen(raw), why, sizeof why);
    bool same = x != NULL && strcmp(x, url) == 0;
    free(x);
    return same;
}

int gw__admin_doc_add_target(json_t *doc, const char *name, json_t *target, char *why, size_t cap)
{
    int status = 0;
    const char *url = target_url(target);
    if (!json_is_string(target) && !json_is_object(target)) {
        snprintf(why, cap, "the body must be a target object ({\"url\": ...}) or a URL string");
        return 400;
    }
    json_t *svc = service_named(doc, name, why, cap, &status);
    if (svc == NULL)
        return status;
    json_t *targets = json_object_get(svc, "targets");
    if (targets == NULL) {
        targets = json_array();
        if (targets == NULL || json_object_set_new(svc, "targets", targets) != 0) {
            snprintf(why, cap, "out of memory");
            return 500;
        }
    }
    if (!json_is_array(targets)) {
        snprintf(why, cap, "services[\"%s\"].targets in the config file is not an array", name);
        return 400;
    }
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        if (url && same_url(target_url(t), url)) {
            snprintf(why, cap, "service \"%s\" already has the target %s", name, url);
            return 409;
        }
    }
    if (json_array_append(targets, target) != 0) {
        snprintf(why, cap, "out of memory");
        return 500;
    }
    return 0;
}

int gw__admin_doc_remove_target(json_t *doc, const char *name, const char *url, char *why,
                                size_t cap)
{
    int status = 0;
    json_t *svc = service_named(doc, name, why, cap, &status);
    if (svc == NULL)
        return status;
    json_t *targets = json_object_get(svc, "targets");
    size_t i;
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        if (same_url(target_url(t), url)) {
            json_array_remove(targets, i);
            return 0;
        }
    }
    snprintf(why, cap, "service \"%s\" has no target %s", name, url);
    return 404;
}

/* ---- the file -------------------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int gw__admin_write_file_atomic(const char *path, const char *data, size_t len)
{
    int rc = 0;
    int fd = -1;
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    bool created = false;
    /* Through a symlink, replace the file it points to and keep the link. */
    char *real = realpath(path, NULL);
    const char *target = real ? real : path;
    struct stat st;
    mode_t mode = stat(target, &st) == 0 ? (st.st_mode & 07777) : 0644;
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", target);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    snprintf(dir, sizeof dir, "%s", target);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    created = true;
    rc = write_all(fd, data, len);
    if (rc < 0)
        goto fail;
    if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        rc = -errno;
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = -errno;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, target) != 0) {
        rc = -errno;
        goto fail;
    }
    created = false;
    /* The rename itself is durable once the directory is synced. */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(real);
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    free(real);
    return rc;
}

/* Reads the whole config file; NULL with *err set (a negative errno or GW_EBODYTOOLARGE). */
static char *read_file(const char *path, size_t *len, int *err)
{
    char *buf = NULL;
    size_t n = 0;
    size_t cap = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *err = -errno;
        return NULL;
    }
    for (;;) {
        if (n == cap) {
            if (cap > GW_CONFIG_MAX_FILE_BYTES) {
                *err = -EFBIG;
                goto fail;
            }
            size_t ncap = cap ? cap * 2 : 16384;
            char *p = realloc(buf, ncap + 1);
            if (p == NULL) {
                *err = GW_ENOMEM;
                goto fail;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        *err = -EIO;
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* ---- the change ------------------------------------------------------------------------------ */

/* An edit of the document: 0, or an HTTP status with the reason in why and, optionally, more
 * members for the error body in *detail (an object, owned by the caller). */
typedef int (*edit_fn)(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                       json_t **detail);

/* Reads the file, applies edit, validates, writes, reloads. On success rs is left empty (status
 * 0) for the caller to fill; otherwise it holds the error. An edit that leaves the document as
 * it was succeeds without writing or reloading anything. */
static void apply(struct gw_server *s, const char *action, edit_fn edit, const char *name,
                  json_t *arg, struct gw__admin_resp *rs)
{
    char why[WHY_CAP] = "";
    const char *path = s->config_path;
    size_t old_len = 0;
    int err = 0;
    char *text = NULL;
    json_t *doc = NULL;
    json_t *before = NULL;
    json_t *detail = NULL;
    struct gw_config *cfg = NULL;
    struct gw_config_errors errs = {0};
    char *old = read_file(path, &old_len, &err);
    if (old == NULL) {
        gw__admin_error(rs, 500, "cannot read the config file %s: %s", path, gw_strerror(err));
        goto out;
    }
    json_error_t jerr;
    doc = json_loadb(old, old_len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        gw__admin_error(rs, 422, "the config file is not valid JSON (%s:%d:%d: %s): fix it first",
                        path, jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(doc)) {
        gw__admin_error(rs, 422, "the config file %s is not a JSON object: fix it first", path);
        goto out;
    }
    before = json_deep_copy(doc);
    if (before == NULL) {
        gw__admin_error(rs, 500, "out of memory");
        goto out;
    }
    int status = edit(doc, name, arg, why, sizeof why, &detail);
    if (status != 0) {
        gw__admin_error(rs, status, "%s", why);
        if (detail != NULL && rs->json != NULL)
            json_object_update(rs->json, detail);
        goto out;
    }
    if (json_equal(doc, before))
        goto out; /* nothing to change: the file and the running config stay as they are */
    text = json_dumps(doc, JSON_INDENT(4));
    if (text == NULL) {
        gw__admin_error(rs, 500, "out of memory");
        goto out;
    }
    size_t len = strlen(text);
    int rc = gw_config_load_string(path, text, len, &cfg, &errs);
    gw_config_free(cfg);
    if (rc < 0) {
        gw__admin_error(rs, rc == GW_ENOMEM ? 500 : 400,
                        "invalid change (%zu error%s): nothing was changed", errs.count,
                        errs.count == 1 ? "" : "s");
        json_object_set_new(rs->json, "errors", gw__admin_config_errors_json(&errs, false));
        goto out;
    }
    /* The file ends with a newline, as editors write it. */
    char *nl = realloc(text, len + 2);
    if (nl == NULL) {
        gw__admin_error(rs, 500, "out of memory");
        goto out;
    }
    text = nl;
    memcpy(text + len, "\n", 2);
    rc = gw__admin_write_file_atomic(path, text, len + 1);
    if (rc < 0) {
        gw__admin_error(rs, 500, "cannot write the config file %s: %s; nothing was changed", path,
                        gw_strerror(rc));
        goto out;
    }
    rc = gw_server_reload(s, &errs);
    if (rc < 0) {
        int back = gw__admin_write_file_atomic(path, old, old_len);
        if (back < 0)
            gw_log_error("admin: cannot restore %s after a failed reload: %s", path,
                         gw_strerror(back));
        if (errs.count > 0)
            gw__admin_error(rs, 422, "the change failed to load (%zu error%s): nothing was changed",
                            errs.count, errs.count == 1 ? "" : "s");
        else
            gw__admin_error(rs, 422, "the change failed to load (%s): nothing was changed",
                            gw_strerror(rc));
        json_object_set_new(rs->json, "errors", gw__admin_config_errors_json(&errs, false));
        goto out;
    }
    gw_log_info("admin: %s written and reloaded (generation %llu)", path,
                (unsigned long long)s->generation);
out:
    gw__admin_audit_change(action, name, before, rs->status == 0 ? doc : NULL,
                           rs->status == 0 ? 200 : rs->status,
                           json_string_value(json_object_get(rs->json, "error")));
    gw_config_errors_free(&errs);
    free(text);
    json_decref(detail);
    json_decref(before);
    json_decref(doc);
    free(old);
}

/* ---- handlers -------------------------------------------------------------------------------- */

/* The {name} of the path as a string; false (with rs set to 404) when it cannot be a name. */
static bool path_name(const struct gw__admin_req *rq, char *out, size_t cap,
                      struct gw__admin_resp *rs)
{
    const struct gw__admin_slice *p = &rq->params[0];
    if (rq->nparams < 1 || p->n >= cap || memchr(p->p, '\0', p->n) != NULL) {
        gw__admin_error(rs, 404, "no such service");
        return false;
    }
    memcpy(out, p->p, p->n);
    out[p->n] = '\0';
    return true;
}

/* The body as JSON (any value); NULL with rs set to 400 when absent or invalid. */
static json_t *body_json(const struct gw__admin_req *rq, struct gw__admin_resp *rs)
{
    if (rq->body_len == 0) {
        gw__admin_error(rs, 400, "a JSON request body is required");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        gw__admin_error(rs, 400, "invalid JSON in the request body at line %d, column %d: %s",
                        jerr.line, jerr.column, jerr.text);
    return v;
}

/* Answers with the named service as it now runs, in the file's form (as GET shows it). */
static void answer_service(struct gw_server *s, const char *name, int status,
                           struct gw__admin_resp *rs)
{
    struct gw_snapshot *snap = gw_server_snapshot(s);
    for (size_t i = 0; snap && i < snap->cfg->nservices; i++) {
        if (strcmp(snap->cfg->services[i].name, name) == 0) {
            gw__admin_json(rs, status, gw__admin_service_doc(snap->cfg, i));
            return;
        }
    }
    gw__admin_error(rs, 500, "service \"%s\" is missing after the reload", name);
}

static int edit_add_service(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                            json_t **detail)
{
    (void)name;
    (void)detail;
    return gw__admin_doc_add_service(doc, arg, why, cap);
}

void gw__admin_create_service(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs)
{
    json_t *svc = body_json(rq, rs);
    if (svc == NULL)
        return;
    json_t *n = json_object_get(svc, "name");
    char name[128] = "";
    if (json_is_string(n))
        snprintf(name, sizeof name, "%s", json_string_value(n));
    apply(s, "service.create", edit_add_service, name, svc, rs);
    json_decref(svc);
    if (rs->status != 0)
        return;
    answer_service(s, name, 201, rs);
    snprintf(rs->headers, sizeof rs->headers, "Location: /api/services/%s\r\n", name);
}

static int edit_replace_service(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                                json_t **detail)
{
    json_t *missing = NULL;
    int status = gw__admin_doc_replace_service(doc, name, arg, &missing, why, cap);
    if (missing != NULL)
        *detail = json_pack("{s:o}", "missing", missing);
    return status;
}

void gw__admin_replace_service(struct gw_server *s, const struct gw__admin_req *rq,
                               struct gw__admin_resp *rs)
{
    char name[128];
    if (!path_name(rq, name, sizeof name, rs))
        return;
    json_t *svc = body_json(rq, rs);
    if (svc == NULL)
        return;
    apply(s, "service.replace", edit_replace_service, name, svc, rs);
    json_decref(svc);
    if (rs->status == 0)
        answer_service(s, name, 200, rs);
}

static int edit_patch_service(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                              json_t **detail)
{
    (void)detail;
    return gw__admin_doc_patch_service(doc, name, arg, why, cap);
}

void gw__admin_patch_service(struct gw_server *s, const struct gw__admin_req *rq,
                             struct gw__admin_resp *rs)
{
    char name[128];
    if (!path_name(rq, name, sizeof name, rs))
        return;
    json_t *patch = body_json(rq, rs);
    if (patch == NULL)
        return;
    apply(s, "service.patch", edit_patch_service, name, patch, rs);
    json_decref(patch);
    if (rs->status == 0)
        answer_service(s, name, 200, rs);
}

static int edit_delete_service(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                               json_t **detail)
{
    (void)arg;
    (void)detail;
    return gw__admin_doc_delete_service(doc, name, why, cap);
}

void gw__admin_delete_service(struct gw_server *s, const struct gw__admin_req *rq,
                              struct gw__admin_resp *rs)
{
    char name[128];
    if (!path_name(rq, name, sizeof name, rs))
        return;
    apply(s, "service.delete", edit_delete_service, name, NULL, rs);
    if (rs->status == 0)
        gw__admin_json(rs, 200,
                       json_pack("{s:s, s:s, s:I}", "status", "ok", "deleted", name, "generation",
                                 (json_int_t)s->generation));
}

static int edit_add_target(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                           json_t **detail)
{
    (void)detail;
    return gw__admin_doc_add_target(doc, name, arg, why, cap);
}

void gw__admin_add_target(struct gw_server *s, const struct gw__admin_req *rq,
                          struct gw__admin_resp *rs)
{
    char name[128];
    if (!path_name(rq, name, sizeof name, rs))
        return;
    json_t *target = body_json(rq, rs);
    if (target == NULL)
        return;
    apply(s, "target.add", edit_add_target, name, target, rs);
    json_decref(target);
    if (rs->status == 0)
        answer_service(s, name, 201, rs);
}

static int edit_remove_target(json_t *doc, const char *name, json_t *arg, char *why, size_t cap,
                              json_t **detail)
{
    (void)detail;
    return gw__admin_doc_remove_target(doc, name, json_string_value(arg), why, cap);
}

void gw__admin_remove_target(struct gw_server *s, const struct gw__admin_req *rq,
                             struct gw__admin_resp *rs)
{
    char name[128];
    char url[2048];
    json_t *arg = NULL;
    if (!path_name(rq, name, sizeof name, rs))
        return;
    if (rq->body_len > 0) {
        json_t *body = body_json(rq, rs);
        if (body == NULL)
            return;
        json_t *u = json_is_string(body) ? body : json_object_get(body, "url");
        bool only_url = json_is_string(body) || json_object_size(body) == 1;
        if (json_is_string(u) && only_url)
            arg = json_incref(u);
        json_decref(body);
        if (arg == NULL) {
            gw__admin_error(rs, 400, "the body must be {\"url\": \"http://...\"} and nothing else");
            return;
        }
    }
    if (arg == NULL) {
        long n = gw__admin_query_get(rq->query.p, rq->query.n, "url", url, sizeof url);
        if (n <= 0) {
            gw__admin_error(rs, 400, "which target? send {\"url\": \"http://...\"} or ?url=...");
            return;
        }
        arg = json_string(url);
        if (arg == NULL) {
            gw__admin_error(rs, 400, "the url is not valid UTF-8");
            return;
        }
    }
    apply(s, "target.remove", edit_remove_target, name, arg, rs);
    json_decref(arg);
    if (rs->status == 0)
        answer_service(s, name, 200, rs);
}
