/*
 * Hub channel names, access patterns and roles (hub/channel.h).
 */
#include "hub/channel.h"

#include <string.h>

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '/' || c == '@' || c == '-';
}

static bool all_name_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i]))
            return false;
    return true;
}

bool gw_hub_channel_valid(const char *s, size_t n)
{
    return n > 0 && n <= GW_HUB_CHANNEL_MAX && all_name_chars(s, n);
}

bool gw_hub_client_id_valid(const char *s, size_t n)
{
    return n > 0 && n <= GW_HUB_CLIENT_ID_MAX && all_name_chars(s, n);
}

static const char placeholder[] = "{client_id}";
#define PLACEHOLDER_LEN (sizeof placeholder - 1)

int gw_hub_pattern_check(const char *s, const char **why)
{
    size_t n = strlen(s);
    if (n == 0 || n > GW_HUB_CHANNEL_MAX) {
        *why = "must be 1-128 characters";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '{') {
            if (strncmp(s + i, placeholder, PLACEHOLDER_LEN) != 0) {
                *why = "has a '{' that does not start \"{client_id}\"";
                return -1;
            }
            i += PLACEHOLDER_LEN - 1;
            continue;
        }
        if (s[i] != '*' && !name_char(s[i])) {
            *why = "may hold only A-Z a-z 0-9 . _ : / @ -, '*' and \"{client_id}\"";
            return -1;
        }
    }
    return 0;
}

/* Glob matching with '*' (backtracking to the last star: linear in practice, at worst
 * pattern length times name length, both at most 128). */
bool gw_hub_pattern_match(const char *pat, const char *ch, size_t n, const char *client_id)
{
    size_t idl = client_id ? strlen(client_id) : 0;
    const char *star = NULL;
    size_t star_at = 0;
    size_t i = 0;
    const char *p = pat;
    for (;;) {
        if (*p == '*') {
            star = ++p;
            star_at = i;
            continue;
        }
        if (*p == '\0' && i == n)
            return true;
        if (*p == '{' && client_id && n - i >= idl && memcmp(ch + i, client_id, idl) == 0) {
            p += PLACEHOLDER_LEN;
            i += idl;
            continue;
        }
        if (*p != '\0' && *p != '{' && i < n && *p == ch[i]) {
            p++;
            i++;
            continue;
        }
        if (star == NULL || star_at >= n)
            return false;
        p = star;
        i = ++star_at;
    }
}

bool gw_hub_roles_allow(char *const *roles, size_t nroles, const char *have)
{
    for (size_t k = 0; k < nroles; k++) {
        const char *want = roles[k];
        if (strcmp(want, "*") == 0)
            return true;
        size_t wl = strlen(want);
        for (const char *h = have; h && *h;) {
            while (*h == ' ')
                h++;
            const char *e = strchr(h, ' ');
            size_t hl = e ? (size_t)(e - h) : strlen(h);
            if (hl == wl && hl > 0 && memcmp(h, want, wl) == 0)
                return true;
            h += hl;
        }
    }
    return false;
}
