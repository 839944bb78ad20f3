/*
 * Character classes and numbers shared by the cache's parsers (see internal.h).
 */
#include "cache/internal.h"

bool gw__cache_is_tchar(unsigned char c)
{
    /* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
     *         "|" / "~" / DIGIT / ALPHA */
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

bool gw__cache_ieq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (lit[i] == '\0' || gw__cache_lower(s[i]) != lit[i])
            return false;
    }
    return lit[i] == '\0';
}

int64_t gw__cache_delta(const char *s, size_t n)
{
    if (n == 0)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v < GW__CACHE_DELTA_MAX)
            v = v * 10 + (s[i] - '0');
    }
    return v > GW__CACHE_DELTA_MAX ? GW__CACHE_DELTA_MAX : v;
}
