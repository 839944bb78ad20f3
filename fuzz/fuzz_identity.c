/*
 * libFuzzer target for the request bodies of built-in identity's endpoints
 * (identity/body.c gw_idp_parse): register, login, refresh, logout, me, password change and TOTP
 * enrol / confirm / disable, the endpoint chosen by the first byte. It answers 0 or GW_EIDINPUT; on
 * GW_EIDINPUT a field and a reason are named; on 0 every string is NUL-terminated within its
 * buffer, a register's username is folded (no upper-case letter, 3..64 characters of the allowed
 * set) and its email has one
 * '@', and the password's length is what was copied; a TOTP code is 6 to 8 digits, a recovery
 * code its 10 lower-case base32 characters; confirm has a code and disable a password or a
 * code. A first byte of 0xff fuzzes the admin API's roles body (gw_idp_parse_roles) instead:
 * on 0 the roles are space-separated names of the allowed characters, fitting their buffer.
 * Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "identity/identity.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 0xff) {
        char roles[512];
        const char *why = NULL;
        int rc = gw_idp_parse_list((const char *)data + 1, size - 1, "roles", roles, sizeof roles, &why);
        CHECK(rc == 0 || rc == GW_EIDINPUT);
        CHECK(rc == 0 ? why == NULL : why != NULL && roles[0] == '\0');
        size_t n = strnlen(roles, sizeof roles);
        CHECK(n < sizeof roles);
        CHECK(strspn(roles,
                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:- ") == n);
        CHECK(n == 0 || (roles[0] != ' ' && roles[n - 1] != ' ' && strstr(roles, "  ") == NULL));
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
