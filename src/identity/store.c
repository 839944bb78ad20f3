/*
 * The store interface of built-in identity (internal.h "the store"): the implementation
 * identity.store names, and each call passed to its table of functions.
 */
#include "identity/internal.h"

#include "core/error.h"
#include "core/log.h"

int gw__idp_store_open(const struct gw_identity_conf *ic, struct gw__idp_store **out)
{
    bool apply = ic->migrate == GW_IDP_MIGRATE_AUTO;
    int rc = ic->store == GW_IDP_STORE_POSTGRES
                 ? gw__idp_pg_open_with(ic->pg_dsn, ic->pg_pool, ic->pg_timeout_ms, apply, out)
                 : gw__idp_sqlite_open_with(ic->sqlite, apply, out);
    if (rc == 0)
        (*out)->revoke_for_s = (int64_t)(ic->access_ttl_ms / 1000) + GW__IDP_REVOKE_MARGIN_S;
    return rc;
}

int gw_idp_schema(const struct gw_identity_conf *ic, bool apply, struct gw_idp_schema *out)
{
    if (ic->store == GW_IDP_STORE_POSTGRES)
        return gw__idp_pg_schema(ic->pg_dsn, ic->pg_timeout_ms, apply, out);
    return gw__idp_sqlite_schema(ic->sqlite, apply, out);
}

void gw__idp_store_close(struct gw__idp_store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

const char *gw__idp_store_name(const struct gw__idp_store *s)
{
    return s->ops->name;
}

int gw__idp_users_count(struct gw__idp_store *s, int64_t *n)
{
    return s->ops->users_count(s, n);
}

int gw__idp_user_insert(struct gw__idp_store *s, struct gw__idp_user *u, bool only_first)
{
    return s->ops->user_insert(s, u, only_first);
}

int gw__idp_user_find(struct gw__idp_store *s, const char *login, bool by_email, int64_t id,
                      struct gw__idp_user *u)
{
    return s->ops->user_find(s, login, by_email, id, u);
}

int gw__idp_user_set_hash(struct gw__idp_store *s, int64_t id, const char *hash)
{
    return s->ops->user_set_hash(s, id, hash);
}

int gw__idp_user_delete(struct gw__idp_store *s, int64_t id)
{
    return s->ops->user_delete(s, id);
}

int gw__idp_session_new(struct gw__idp_store *s, int64_t user, const char *sid, const char *rhash,
                        int64_t now, int64_t expires)
{
    return s->ops->session_new(s, user, sid, rhash, now, expires);
}

int gw__idp_refresh_rotate(struct gw__idp_store *s, const char *old_hash, const char *new_hash,
                           int64_t now, int64_t idle_s, enum gw__idp_rotate *out, int64_t *user,
                           char *sid)
{
    return s->ops->refresh_rotate(s, old_hash, new_hash, now, idle_s, out, user, sid);
}

int gw__idp_sessions_revoke(struct gw__idp_store *s, int64_t user, const char *sid,
                            void (*each)(void *arg, const char *sid), void *arg)
{
    return s->ops->sessions_revoke(s, user, sid, each, arg);
}

int gw__idp_totp_pending_set(struct gw__idp_store *s, int64_t user, const unsigned char *box)
{
    return s->ops->totp_pending_set(s, user, box);
}

int gw__idp_totp_pending_get(struct gw__idp_store *s, int64_t user, unsigned char *box)
{
    return s->ops->totp_pending_get(s, user, box);
}

int gw__idp_totp_enable(struct gw__idp_store *s, int64_t user, int64_t step, char (*hashes)[65],
                        size_t n)
{
    return s->ops->totp_enable(s, user, step, hashes, n);
}

int gw__idp_totp_disable(struct gw__idp_store *s, int64_t user, bool *was)
{
    return s->ops->totp_disable(s, user, was);
}

int gw__idp_totp_use_step(struct gw__idp_store *s, int64_t user, int64_t step, bool *ok)
{
    return s->ops->totp_use_step(s, user, step, ok);
}

int gw__idp_recovery_use(struct gw__idp_store *s, int64_t user, const char *hash, bool *ok,
                         int64_t *left)
{
    return s->ops->recovery_use(s, user, hash, ok, left);
}

int gw__idp_admin_find(struct gw__idp_store *s, const char *name, int64_t id,
                       struct gw__idp_user *u, bool *disabled)
{
    return s->ops->admin_find(s, name, id, u, disabled);
}

int gw__idp_admin_list(struct gw__idp_store *s, const char *search, int64_t after, uint32_t limit,
                       json_t *arr)
{
    return s->ops->admin_list(s, search, after, limit, arr);
}

int gw__idp_admin_set_disabled(struct gw__idp_store *s, int64_t id, bool disabled)
{
    return s->ops->admin_set_disabled(s, id, disabled);
}

int gw__idp_admin_set_list(struct gw__idp_store *s, int64_t id, bool perms, const char *list)
{
    return s->ops->admin_set_list(s, id, perms, list);
}

int gw__idp_admin_sessions(struct gw__idp_store *s, int64_t user, json_t *arr)
{
    return s->ops->admin_sessions(s, user, arr);
}

int gw__idp_admin_session_of(struct gw__idp_store *s, int64_t user, const char *sid, bool *found)
{
    return s->ops->admin_session_of(s, user, sid, found);
}

void gw__idp_like_pattern(const char *search, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '%';
    for (const char *p = search; *p && o + 3 < cap; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o++] = '%';
    out[o] = '\0';
}

int gw__idp_revoked_put(struct gw__idp_store *s, const char *id, int64_t until, int64_t now)
{
    return s->ops->revoked_put(s, id, until, now);
}

int gw__idp_revoked_load(struct gw__idp_store *s, int64_t now,
                         void (*each)(void *arg, const char *id, int64_t until), void *arg)
{
    return s->ops->revoked_load(s, now, each, arg);
}
