/*
 * libFuzzer target for the request bodies of built-in identity's endpoints
 * (identity/body.c gw_idp_parse): register, login, refresh, logout, me, password change and TOTP
 * enrol / confirm / disable, the endpoint chosen by the first byte. It answers 0 or GW_EIDINPUT; on
 * GW_EIDINPUT a field and a reason are named; on 0 every string is NUL-terminated within its
 * buffer, a register's username is folded (no upper-case letter, 3..64 characters of the allowed
 * set) and its email has one
 * '@', and the password's length is what was copied; a TOTP code is 6 to 8 digits, a recovery
 * code its 10 lower-case base32 characters; confirm has a code and disable a password or a
 * code. A first byte of 0xff fuzzes the admin API's roles body (gw_idp_parse_list "roles"), 0xfe
 * its permissions body ("permissions"): on 0 the names are space-separated, of the allowed
 * characters, fitting their buffer. 0xfd fuzzes the admin API's new user
 * (gw_idp_parse_new_user: a registration's checks, plus roles and permissions lists as above),
 * 0xfc its password reset body (gw_idp_parse_password: NUL-terminated, 1 to 256 bytes), 0xfb
 * the Content-Type check of the POST endpoints (gw_idp_json_media).
 * Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "identity/identity.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

/* A list as gw_idp_parse_list writes it. */
static void check_list(const char *list, size_t cap)
{
    size_t n = strnlen(list, cap);
    CHECK(n < cap);
    CHECK(strspn(list, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:- ") == n);
    CHECK(n == 0 || (list[0] != ' ' && list[n - 1] != ' ' && strstr(list, "  ") == NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 0xff || data[0] == 0xfe) {
        char roles[512];
        const char *why = NULL;
        int rc =
            gw_idp_parse_list((const char *)data + 1, size - 1,
                              data[0] == 0xff ? "roles" : "permissions", roles, sizeof roles, &why);
        CHECK(rc == 0 || rc == GW_EIDINPUT);
        CHECK(rc == 0 ? why == NULL : why != NULL && roles[0] == '\0');
        check_list(roles, sizeof roles);
        return 0;
    }
    if (data[0] == 0xfd) {
        struct gw_idp_input in;
        char roles[512], perms[512];
        bool has_roles = true;
        const char *field = NULL, *why = NULL;
        int rc = gw_idp_parse_new_user((const char *)data + 1, size - 1, &in, roles, perms,
                                       sizeof roles, &has_roles, &field, &why);
        CHECK(rc == 0 || rc == GW_EIDINPUT);
        CHECK(rc == 0 ? field == NULL && why == NULL : field != NULL && why != NULL);
        check_list(roles, sizeof roles);
        check_list(perms, sizeof perms);
        if (rc != 0) {
            CHECK(roles[0] == '\0' && perms[0] == '\0' && !has_roles);
            return 0;
        }
        CHECK(strlen(in.username) >= 3 && strchr(in.email, '@') != NULL);
        CHECK(in.password_len > 0 && in.password[in.password_len] == '\0');
        CHECK(has_roles || roles[0] == '\0');
        return 0;
    }
    if (data[0] == 0xfb) {
        /* The Content-Type check of identity's POST endpoints: no crash, no read past n. */
        char *v = malloc(size - 1 ? size - 1 : 1);
        if (v == NULL)
            return 0;
        memcpy(v, data + 1, size - 1);
        bool ok = gw_idp_json_media(v, size - 1);
        CHECK(!ok || size - 1 >= strlen("application/json"));
        free(v);
        return 0;
    }
    if (data[0] == 0xfc) {
        char pw[GW_IDP_PASSWORD_MAX + 1];
        size_t n = 99999;
        const char *why = NULL;
        int rc = gw_idp_parse_password((const char *)data + 1, size - 1, pw, &n, &why);
        CHECK(rc == 0 || rc == GW_EIDINPUT);
        CHECK(rc == 0 ? why == NULL && n > 0 && n <= GW_IDP_PASSWORD_MAX && pw[n] == '\0' &&
                            strlen(pw) == n
                      : why != NULL && n == 0 && pw[0] == '\0');
        return 0;
    }
    enum gw_idp_endpoint ep = (enum gw_idp_endpoint)(data[0] % GW_IDP_EP__COUNT);
    struct gw_idp_input in;
    const char *field = NULL, *why = NULL;
    int rc = gw_idp_parse(ep, (const char *)data + 1, size - 1, &in, &field, &why);
    CHECK(rc == 0 || rc == GW_EIDINPUT);
    if (rc != 0) {
        CHECK(field != NULL && why != NULL);
        return 0;
    }
    CHECK(memchr(in.username, '\0', sizeof in.username) != NULL);
    CHECK(memchr(in.email, '\0', sizeof in.email) != NULL);
    CHECK(memchr(in.login, '\0', sizeof in.login) != NULL);
    CHECK(memchr(in.invite, '\0', sizeof in.invite) != NULL);
    CHECK(memchr(in.refresh, '\0', sizeof in.refresh) != NULL);
    CHECK(in.password_len <= GW_IDP_PASSWORD_MAX && in.password[in.password_len] == '\0');
    if (ep == GW_IDP_EP_REGISTER) {
        size_t n = strlen(in.username);
        CHECK(n >= 3 && n <= 64);
        for (size_t i = 0; i < n; i++) {
            char c = in.username[i];
            CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-');
        }
        const char *at = strchr(in.email, '@');
        CHECK(at != NULL && at != in.email && strchr(at + 1, '@') == NULL);
        CHECK(in.password_len > 0);
    }
    if (ep == GW_IDP_EP_LOGIN)
        CHECK(in.login[0] != '\0' && in.password_len > 0);
    if (ep == GW_IDP_EP_REFRESH)
        CHECK(in.refresh[0] != '\0');
    size_t t = strnlen(in.totp, sizeof in.totp);
    CHECK(t < sizeof in.totp);
    CHECK(t == 0 || (t >= 6 && t <= 8 && strspn(in.totp, "0123456789") == t));
    size_t k = strnlen(in.recovery, sizeof in.recovery);
    CHECK(k == 0 || (k == GW_IDP_RECOVERY_LEN &&
                     strspn(in.recovery, "abcdefghijklmnopqrstuvwxyz234567") == k));
    if (ep == GW_IDP_EP_TOTP_CONFIRM)
        CHECK(t > 0);
    if (ep == GW_IDP_EP_TOTP_DISABLE)
        CHECK(in.password_len > 0 || t > 0 || k > 0);
    return 0;
}
