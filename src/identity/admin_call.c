/*
 * The admin API's identity calls on libuv's thread pool (identity.h "the admin API's side"):
 * the control thread queues a call (gw_idp_admin_call), a pool thread runs its work (admin.c's
 * functions: the store's statements, argon2id), and the control loop gets the result, so a slow
 * or silent PostgreSQL never holds the control loop (health checks, metrics scrapes, reloads,
 * the rest of the admin API).
 *
 * Shutdown: gw_idp_stop closes the store, which the work uses; so before it does, it answers
 * every call still in flight (gw__idp_admin_calls_finish): a call whose work has not started
 * is cancelled (uv_cancel) and answered GW_EIDSTORE; for a call whose work runs, the control
 * thread waits until it ended (bounded: each statement by identity.postgres.timeout) and
 * answers its result. on_done, which the loop runs afterwards for each of them, then only
 * frees the call. The list of calls is the control thread's; `ran` is the pool thread's word
 * to it, under the mutex.
 */
#include "identity/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/list.h"

struct admin_call {
    uv_work_t work;
    struct gw_list link; /* in calls until answered */
    struct gw_idp_admin_args a;
    char *who, *sid, *search, *body; /* the copies a's strings point to */
    gw_idp_admin_cb cb;              /* NULL once answered */
    void *arg;
    struct gw_idp_admin_result res;
    bool ran; /* the work ended (under lock) */
};

static struct gw_list calls = {&calls, &calls};
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ran_cond = PTHREAD_COND_INITIALIZER;

static void run(struct admin_call *c)
{
    const struct gw_idp_admin_args *a = &c->a;
    struct gw_idp_admin_result *r = &c->res;
    switch (a->op) {
    case GW_IDP_ADMIN_USERS:
        r->rc = gw_idp_admin_users(a->search, a->after, a->limit, &r->out);
        break;
    case GW_IDP_ADMIN_USER:
        r->rc = gw_idp_admin_user(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_DISABLE:
    case GW_IDP_ADMIN_ENABLE:
        r->rc = gw_idp_admin_set_disabled(a->who, a->op == GW_IDP_ADMIN_DISABLE, &r->out);
        break;
    case GW_IDP_ADMIN_LOGOUT:
        r->rc = gw_idp_admin_logout(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_UNLOCK:
        r->rc = gw_idp_admin_unlock(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_TOTP_RESET:
        r->rc = gw_idp_admin_totp_reset(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_ROLES:
    case GW_IDP_ADMIN_PERMISSIONS:
        r->rc = gw_idp_admin_set_list(a->who, a->op == GW_IDP_ADMIN_PERMISSIONS, a->body, a->len,
                                      &r->out, &r->why);
        break;
    case GW_IDP_ADMIN_CREATE:
        r->rc = gw_idp_admin_create(a->body, a->len, &r->out, &r->field, &r->why);
        break;
    case GW_IDP_ADMIN_DELETE:
        r->rc = gw_idp_admin_delete(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_PASSWORD:
        r->rc = gw_idp_admin_set_password(a->who, a->body, a->len, &r->out, &r->why);
        break;
    case GW_IDP_ADMIN_SESSIONS:
        r->rc = gw_idp_admin_sessions(a->who, &r->out);
        break;
    case GW_IDP_ADMIN_SESSION_REVOKE:
        r->rc = gw_idp_admin_session_revoke(a->who, a->sid, &r->out);
        break;
    default:
        r->rc = GW_EIDINPUT;
        break;
    }
}

static void on_work(uv_work_t *w)
{
    struct admin_call *c = w->data;
    run(c);
    pthread_mutex_lock(&lock);
    c->ran = true;
    pthread_cond_broadcast(&ran_cond);
    pthread_mutex_unlock(&lock);
}

static void call_free(struct admin_call *c)
{
    if (c->body)
        sodium_memzero(c->body, c->a.len); /* a password, for create and reset */
    free(c->body);
    free(c->who);
    free(c->sid);
    free(c->search);
    json_decref(c->res.out);
    free(c);
}

/* Hands the result to the caller, once. Control thread. */
static void answer(struct admin_call *c)
{
    gw_idp_admin_cb cb = c->cb;
    c->cb = NULL;
    gw_list_remove(&c->link);
    cb(c->arg, &c->res);
}

static void on_done(uv_work_t *w, int status)
{
    struct admin_call *c = w->data;
    if (c->cb != NULL) {
        if (status < 0 && c->res.rc == 0 && c->res.out == NULL)
            c->res.rc = GW_EIDSTORE;
        answer(c);
    }
    call_free(c);
}

static char *copy(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int gw_idp_admin_call(uv_loop_t *loop, const struct gw_idp_admin_args *a, gw_idp_admin_cb cb,
                      void *arg)
{
    const struct gw_identity_conf *ic;
    if (gw__idp_store_of(&ic) == NULL)
        return GW_EIDSTORE;
    struct admin_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        return GW_ENOMEM;
    c->a = *a;
    c->who = copy(a->who ? a->who : "", a->who ? strlen(a->who) : 0);
    c->sid = copy(a->sid ? a->sid : "", a->sid ? strlen(a->sid) : 0);
    c->search = copy(a->search ? a->search : "", a->search ? strlen(a->search) : 0);
    c->body = copy(a->body ? a->body : "", a->body ? a->len : 0);
    if (c->who == NULL || c->sid == NULL || c->search == NULL || c->body == NULL)
        goto fail;
    c->a.who = c->who;
    c->a.sid = c->sid;
    c->a.search = c->search;
    c->a.body = c->body;
    c->a.len = a->body ? a->len : 0;
    c->cb = cb;
    c->arg = arg;
    c->work.data = c;
    gw_list_init(&c->link);
    if (uv_queue_work(loop, &c->work, on_work, on_done) != 0)
        goto fail;
    gw_list_insert_tail(&calls, &c->link);
    return 0;
fail:
    call_free(c);
    return GW_ENOMEM;
}

void gw__idp_admin_calls_finish(void)
{
    while (!gw_list_empty(&calls)) {
        struct admin_call *c = gw_container_of(calls.next, struct admin_call, link);
        if (uv_cancel((uv_req_t *)&c->work) == 0) {
            c->res.rc = GW_EIDSTORE; /* never ran: on_done comes with UV_ECANCELED */
        } else {
            pthread_mutex_lock(&lock);
            while (!c->ran)
                pthread_cond_wait(&ran_cond, &lock);
            pthread_mutex_unlock(&lock);
        }
        answer(c);
    }
}
