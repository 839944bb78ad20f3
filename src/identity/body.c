/* Request bodies of the identity endpoints: JSON objects with a few string members, each
 * checked for type and length so that every 400 names its field (identity.h gw_idp_parse). */
#include "identity/identity.h"

#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "core/error.h"
#include "http1/chunked.h"

struct member {
    const char *name;
    size_t off; /* in struct gw_idp_input */
    size_t cap; /* of the destination, NUL included */
    bool required;
};

#define IN(f) offsetof(struct gw_idp_input, f), sizeof(((struct gw_idp_input *)0)->f)

/* ASCII letters, digits, '.', '_', '-', 3 to 64 of them, folded to lower case: the one
 * spelling of a name, so "Alice" and "alice" are the same user (non-ASCII names are refused,
 * which leaves no Unicode normalisation question). Not all digits: the admin API's {user}
 * takes a digit-only value as a user id, so no name may look like one. */
static bool fold_username(char *s, const char **why)
{
    size_t n = strlen(s);
    if (n < 3 || n > 64) {
        *why = "must be 3 to 64 characters";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            s[i] = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                   c == '-')) {
            *why = "may hold only ASCII letters, digits, '.', '_' and '-'";
            return false;
        }
    }
    if (strspn(s, "0123456789") == n) {
        *why = "must not be all digits (those name a user id)";
        return false;
    }
    return true;
}

/* One '@' with something on each side, printable ASCII without spaces, at most 254 bytes,
 * folded to lower case. */
static bool fold_email(char *s, const char **why)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n > 254 || at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
        *why = "must be an email address (local@domain, at most 254 characters)";
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 0x7f) {
            *why = "must be printable ASCII without spaces";
            return false;
        }
        if (c >= 'A' && c <= 'Z')
            s[i] = (char)(c - 'A' + 'a');
    }
    return true;
}

/* A TOTP code: 6 to 8 ASCII digits. */
static bool check_totp(const char *s, const char **why)
{
    size_t n = strlen(s);
    if (n < 6 || n > 8 || strspn(s, "0123456789") != n) {
        *why = "must be a code of 6 to 8 digits";
        return false;
    }
    return true;
}

/* A recovery code: GW_IDP_RECOVERY_LEN base32 characters, any case, '-' and spaces ignored;
 * normalised in place to lower case without them. */
static bool fold_recovery(char *s, const char **why)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) || o == GW_IDP_RECOVERY_LEN) {
            *why = "must be a recovery code (xxxxx-xxxxx)";
            return false;
        }
        s[o++] = c;
    }
    s[o] = '\0';
    if (o != GW_IDP_RECOVERY_LEN) {
        *why = "must be a recovery code (xxxxx-xxxxx)";
        return false;
    }
    return true;
}

/* A string member into its field: NULL when it is fine (or absent and not required), else the
 * reason. */
static const char *take(json_t *obj, const struct member *m, struct gw_idp_input *in)
{
    json_t *v = json_object_get(obj, m->name);
    if (v == NULL || json_is_null(v))
        return m->required ? "is required" : NULL;
    if (!json_is_string(v))
        return "must be a string";
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0)
        return m->required ? "is required" : "must not be empty";
    if (n >= m->cap)
        return "is too long";
    if (memchr(s, '\0', n) != NULL)
        return "must not contain NUL";
    char *dst = (char *)in + m->off;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return NULL;
}

int gw_idp_parse(enum gw_idp_endpoint ep, const char *body, size_t len, struct gw_idp_input *in,
                 const char **field, const char **why)
{
    static const struct member reg[] = {
        {"username", IN(username), true},
        {"email", IN(email), true},
        {"password", IN(password), true},
        {"invite_code", IN(invite), false},
    };
    static const struct member login[] = {
        {"login", IN(login), true},
        {"password", IN(password), true},
    };
    static const struct member refresh[] = {{"refresh_token", IN(refresh), true}};
    static const struct member logout[] = {{"refresh_token", IN(refresh), false}};
    static const struct member change[] = {
        {"current_password", IN(password), true},
        {"new_password", IN(new_password), true},
    };
    static const struct member login_mfa[] = {
        {"totp_code", IN(totp), false},
        {"recovery_code", IN(recovery), false},
    };
    static const struct member confirm[] = {{"code", IN(totp), true}};
    /* enrol: the current password, so that a stolen access token cannot add a second factor */
    static const struct member enrol[] = {{"password", IN(password), true}};
    /* disable: the password, or a code (TOTP or recovery: told apart by their alphabets) */
    static const struct member disable[] = {
        {"password", IN(password), false},
        {"code", IN(recovery), false},
    };
    const struct member *ms = NULL;
    size_t nms = 0;
    int rc = GW_EIDINPUT;
    json_t *root = NULL;

    memset(in, 0, sizeof *in);
    *field = "body";
    *why = "must be a JSON object";
    switch (ep) {
    case GW_IDP_EP_REGISTER:
        ms = reg, nms = sizeof reg / sizeof reg[0];
        break;
    case GW_IDP_EP_LOGIN:
        ms = login, nms = sizeof login / sizeof login[0];
        break;
    case GW_IDP_EP_REFRESH:
        ms = refresh, nms = 1;
        break;
    case GW_IDP_EP_LOGOUT:
        ms = logout, nms = 1;
        if (len == 0)
            return 0; /* logout may come without a body: this session */
        break;
    case GW_IDP_EP_PASSWORD:
        ms = change, nms = sizeof change / sizeof change[0];
        break;
    case GW_IDP_EP_TOTP_ENROL:
        ms = enrol, nms = 1;
        break;
    case GW_IDP_EP_TOTP_CONFIRM:
        ms = confirm, nms = 1;
        break;
    case GW_IDP_EP_TOTP_DISABLE:
        ms = disable, nms = sizeof disable / sizeof disable[0];
        break;
    default:
        return 0; /* me takes no body */
    }
    if (len == 0 || len > GW_IDP_BODY_MAX)
        goto out;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL || !json_is_object(root))
        goto out;
    /* Login's "login" may also be sent as "username" or "email" (the seeds' bodies). */
    if (ep == GW_IDP_EP_LOGIN && json_object_get(root, "login") == NULL) {
        json_t *alt = json_object_get(root, "username");
        if (alt == NULL)
            alt = json_object_get(root, "email");
        if (alt != NULL && json_object_set(root, "login", alt) < 0)
            goto out;
    }
    for (size_t i = 0; i < nms; i++) {
        const char *bad = take(root, &ms[i], in);
        if (bad) {
            *field = ms[i].name;
            *why = bad;
            goto out;
        }
    }
    for (size_t i = 0; ep == GW_IDP_EP_LOGIN && i < sizeof login_mfa / sizeof login_mfa[0]; i++) {
        const char *bad = take(root, &login_mfa[i], in);
        if (bad) {
            *field = login_mfa[i].name;
            *why = bad;
            goto out;
        }
    }
    if (in->totp[0] && !check_totp(in->totp, why)) {
        *field = ep == GW_IDP_EP_LOGIN ? "totp_code" : "code";
        goto out;
    }
    if (ep == GW_IDP_EP_TOTP_DISABLE) {
        if (in->password[0] == '\0' && in->recovery[0] == '\0') {
            *field = "password";
            *why = "or code is required";
            goto out;
        }
        if (in->recovery[0] && strspn(in->recovery, "0123456789") == strlen(in->recovery)) {
            /* digits only: a TOTP code */
            if (strlen(in->recovery) >= sizeof in->totp || !check_totp(in->recovery, why)) {
                *field = "code";
                *why = "must be a code of 6 to 8 digits or a recovery code";
                goto out;
            }
            memcpy(in->totp, in->recovery, strlen(in->recovery) + 1);
            memset(in->recovery, 0, sizeof in->recovery);
        }
    }
    if (in->recovery[0] && !fold_recovery(in->recovery, why)) {
        *field = ep == GW_IDP_EP_LOGIN ? "recovery_code" : "code";
        goto out;
    }
    in->password_len = strlen(in->password);
    in->new_password_len = strlen(in->new_password);
    if (ep == GW_IDP_EP_LOGOUT) {
        json_t *all = json_object_get(root, "all");
        if (all != NULL && !json_is_boolean(all)) {
            *field = "all";
            *why = "must be true or false";
            goto out;
        }
        in->all = json_is_true(all);
    }
    if (ep == GW_IDP_EP_REGISTER) {
        if (!fold_username(in->username, why)) {
            *field = "username";
            goto out;
        }
        if (!fold_email(in->email, why)) {
            *field = "email";
            goto out;
        }
    }
    if (ep == GW_IDP_EP_LOGIN) {
        in->login_is_email = strchr(in->login, '@') != NULL;
        const char *ignored;
        /* A login that is neither a valid name nor a valid address matches no user; it still
         * goes through the dummy verification (same answer, same time as a wrong password). */
        if (in->login_is_email)
            (void)fold_email(in->login, &ignored);
        else
            (void)fold_username(in->login, &ignored);
    }
    rc = 0;
    *field = NULL;
    *why = NULL;
out:
    json_decref(root);
    return rc;
}

/* The array arr of key ("roles" or "permissions") as space-separated names into out[0..cap).
 * NULL, or why not (a literal). */
static const char *list_from(const json_t *arr, const char *key, char *out, size_t cap)
{
    bool roles = strcmp(key, "roles") == 0;
    size_t o = 0;
    out[0] = '\0';
    if (!json_is_array(arr))
        return roles ? "roles: must be an array of role names"
                     : "permissions: must be an array of permission names";
    if (json_array_size(arr) > GW_IDP_ROLES_MAX)
        return roles ? "roles: at most 32" : "permissions: at most 32";
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *r = json_string_value(v);
        size_t n = r ? json_string_length(v) : 0;
        if (n == 0 || n > 64 ||
            strspn(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != n)
            return roles ? "roles: each must be 1 to 64 letters, digits, '.', '_', ':' or '-'"
                         : "permissions: each must be 1 to 64 letters, digits, '.', '_', ':' or "
                           "'-'";
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(arr, j)), r) == 0)
                return roles ? "roles: a role is repeated"
                             : "permissions: a permission is repeated";
        if (o + n + 2 > cap)
            return roles ? "roles: too long together" : "permissions: too long together";
        if (o)
            out[o++] = ' ';
        memcpy(out + o, r, n);
        o += n;
        out[o] = '\0';
    }
    return NULL;
}

int gw_idp_parse_list(const char *body, size_t len, const char *key, char *out, size_t cap,
                      const char **why)
{
    int rc = GW_EIDINPUT;
    json_t *root = NULL;
    if (cap == 0)
        return GW_EIDINPUT;
    out[0] = '\0';
    *why = strcmp(key, "roles") == 0
               ? "body must be a JSON object with \"roles\": an array of role names"
               : "body must be a JSON object with \"permissions\": an array of permission names";
    if (len == 0 || len > GW_IDP_BODY_MAX)
        goto out;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *arr = json_object_get(root, key);
    if (!json_is_object(root) || arr == NULL)
        goto out;
    *why = list_from(arr, key, out, cap);
    rc = *why ? GW_EIDINPUT : 0;
out:
    if (rc != 0)
        out[0] = '\0';
    json_decref(root);
    return rc;
}

int gw_idp_parse_new_user(const char *body, size_t len, struct gw_idp_input *in, char *roles,
                          char *perms, size_t cap, bool *has_roles, const char **field,
                          const char **why)
{
    *has_roles = false;
    if (cap == 0)
        return GW_EIDINPUT;
    roles[0] = perms[0] = '\0';
    int rc = gw_idp_parse(GW_IDP_EP_REGISTER, body, len, in, field, why);
    if (rc != 0)
        return rc;
    /* gw_idp_parse checked that the body is a JSON object. */
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *r = json_object_get(root, "roles"), *p = json_object_get(root, "permissions");
    rc = GW_EIDINPUT;
    if (root == NULL) {
        *field = "body";
        *why = "must be a JSON object";
        goto out;
    }
    if (r != NULL && (*why = list_from(r, "roles", roles, cap)) != NULL) {
        *field = "roles";
        goto out;
    }
    if (p != NULL && (*why = list_from(p, "permissions", perms, cap)) != NULL) {
        *field = "permissions";
        goto out;
    }
    *has_roles = r != NULL;
    rc = 0;
    *field = NULL;
out:
    if (rc != 0) {
        roles[0] = perms[0] = '\0';
        sodium_memzero(in, sizeof *in);
    }
    json_decref(root);
    return rc;
}

int gw_idp_parse_password(const char *body, size_t len, char *pw, size_t *pw_len, const char **why)
{
    int rc = GW_EIDINPUT;
    *pw_len = 0;
    pw[0] = '\0';
    *why = "body must be a JSON object with \"password\": the new password";
    json_t *root = len == 0 || len > GW_IDP_BODY_MAX
                       ? NULL
                       : json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(root, "password");
    if (!json_is_object(root) || !json_is_string(v))
        goto out;
    size_t n = json_string_length(v);
    if (n == 0 || n > GW_IDP_PASSWORD_MAX || memchr(json_string_value(v), '\0', n) != NULL) {
        *why = n == 0                    ? "password: must not be empty"
               : n > GW_IDP_PASSWORD_MAX ? "password: is too long"
                                         : "password: must not contain NUL";
        goto out;
    }
    memcpy(pw, json_string_value(v), n);
    pw[n] = '\0';
    *pw_len = n;
    rc = 0;
    *why = NULL;
out:
    json_decref(root);
    return rc;
}

int gw_idp_body_dechunk(struct gw_chunked_decoder *d, const char *in, size_t n, size_t *used,
                        char *out, size_t *len, size_t cap)
{
    size_t at = 0;
    int rc = 0;
    while (at < n) {
        size_t consumed = 0, dlen = 0;
        const char *data = NULL;
        int r = gw_chunked_decode(d, in + at, n - at, &consumed, &data, &dlen);
        at += consumed;
        if (r < 0) {
            rc = r;
            break;
        }
        if (consumed == 0) /* nothing decodable without more input */
            break;
        if (r == GW_CHUNKED_DATA) {
            if (dlen > cap - *len) {
                rc = GW_EBODYTOOLARGE;
                break;
            }
            memcpy(out + *len, data, dlen);
            *len += dlen;
        } else if (r == GW_CHUNKED_DONE) {
            rc = 1;
            break;
        }
    }
    *used = at;
    return rc;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t skip_ows(const char *v, size_t i, size_t n)
{
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    return i;
}

bool gw_idp_json_media(const char *v, size_t n)
{
    static const char type[] = "application/json";
    size_t i = skip_ows(v, 0, n), t = sizeof type - 1;
    if (n - i < t || strncasecmp(v + i, type, t) != 0)
        return false;
    i += t;
    bool charset_seen = false;
    for (;;) {
        i = skip_ows(v, i, n);
        if (i == n)
            return true;
        if (v[i] != ';')
            return false; /* "application/jsonx", "application/json x" */
        i = skip_ows(v, i + 1, n);
        if (i == n)
            return true; /* a trailing ';' (RFC 9110 5.6.6 allows empty parameters) */
        size_t name = i;
        while (i < n && is_tchar(v[i]))
            i++;
        size_t name_len = i - name;
        if (name_len == 0 || i == n || v[i] != '=')
            return false;
        i++;
        char val[16];
        size_t vl = 0;
        bool long_val = false;
        if (i < n && v[i] == '"') {
            for (i++; i < n && v[i] != '"'; i++) {
                if (v[i] == '\\' && i + 1 < n)
                    i++;
                if (vl < sizeof val - 1)
                    val[vl++] = v[i];
                else
                    long_val = true;
            }
            if (i == n)
                return false; /* unterminated quoted string */
            i++;
        } else {
            for (; i < n && is_tchar(v[i]); i++) {
                if (vl < sizeof val - 1)
                    val[vl++] = v[i];
                else
                    long_val = true;
            }
            if (vl == 0)
                return false;
        }
        val[vl] = '\0';
        if (name_len == 7 && strncasecmp(v + name, "charset", 7) == 0) {
            if (charset_seen || long_val || strcasecmp(val, "utf-8") != 0)
                return false;
            charset_seen = true;
        }
    }
}
