/*
 * GET /api/audit: the query string's filters, what matches them, and the reader over the file
 * (SQLite has its own in sink_sqlite.c).
 */
#include "audit/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/hex.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000

/* Percent- and '+'-decodes [p, p+n) into out; false when malformed, with a NUL, or too long. */
static bool decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? gw_hex_digit((unsigned char)p[i + 1]) : -1;
            int lo = i + 2 < n ? gw_hex_digit((unsigned char)p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (*s == '\0' || strlen(s) > 19)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Seconds since the epoch, or RFC 3339 in UTC ("2026-12-06T19:00:00Z", optional fraction of up
 * to 3 digits), into the entries' canonical form. */
static bool parse_time(const char *s, char *out, size_t cap)
{
    uint64_t secs = 0;
    uint64_t ms = 0;
    if (parse_u64(s, 253402300799ull, &secs)) {
        ms = secs * 1000;
    } else {
        size_t n = strlen(s);
        int y, mo, d, h, mi, sec, frac = 0;
        if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
            s[13] != ':' || s[16] != ':' || (s[n - 1] != 'Z' && s[n - 1] != 'z'))
            return false;
        if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
            !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
            return false;
        if (n > 20) {
            size_t fn = n - 21;
            if (s[19] != '.' || fn < 1 || fn > 3 || !digits(s + 20, fn, &frac))
                return false;
            for (size_t k = fn; k < 3; k++)
                frac *= 10;
        }
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
            return false;
        struct tm tm = {.tm_year = y - 1900,
                        .tm_mon = mo - 1,
                        .tm_mday = d,
                        .tm_hour = h,
                        .tm_min = mi,
                        .tm_sec = sec};
        time_t t = timegm(&tm);
        if (t < 0)
            return false;
        ms = (uint64_t)t * 1000 + (uint64_t)frac;
    }
    gw__audit_time(ms, out, cap);
    return true;
}

int gw_audit_filter_parse(const char *query, size_t len, struct gw_audit_filter *f, char *why,
                          size_t cap)
{
    memset(f, 0, sizeof *f);
    f->limit = DEFAULT_LIMIT;
    size_t i = 0;
    while (i < len) {
        const char *amp = memchr(query + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - query) : len;
        const char *eq = memchr(query + i, '=', end - i);
        size_t name_end = eq ? (size_t)(eq - query) : end;
        const char *name = query + i;
        size_t nlen = name_end - i;
        const char *val = eq ? eq + 1 : query + end;
        size_t vlen = eq ? end - name_end - 1 : 0;
        char v[256];
        char pname[32];
        snprintf(pname, sizeof pname, "%.*s", (int)(nlen < 24 ? nlen : 24), name);
        if (nlen == 0) {
            i = end + 1;
            continue;
        }
        if (!decode(val, vlen, v, sizeof v)) {
            snprintf(why, cap, "parameter %s: malformed or too long", pname);
            return GW_EINVAL;
        }
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
        char *text = IS("action")   ? f->action
                     : IS("actor")  ? f->actor
                     : IS("object") ? f->object
                                    : NULL;
        size_t tcap = text == f->object ? sizeof f->object : sizeof f->action;
        if (text != NULL) {
            size_t vn = strlen(v);
            if (vn >= tcap) {
                snprintf(why, cap, "parameter %s: longer than %zu bytes", pname, tcap - 1);
                return GW_EINVAL;
            }
            memcpy(text, v, vn + 1);
        } else if (IS("since") || IS("until")) {
            char *dst = IS("since") ? f->since : f->until;
            if (!parse_time(v, dst, sizeof f->since)) {
                snprintf(why, cap,
                         "parameter %s: expected seconds since the epoch or an RFC 3339 UTC time "
                         "(2026-12-06T19:00:00Z)",
                         pname);
                return GW_EINVAL;
            }
        } else if (IS("cursor")) {
            if (!parse_u64(v, UINT64_MAX / 2, &f->cursor)) {
                snprintf(why, cap, "parameter cursor: expected the next_cursor of a page");
                return GW_EINVAL;
            }
        } else if (IS("limit")) {
            uint64_t n = 0;
            if (!parse_u64(v, MAX_LIMIT, &n) || n == 0) {
                snprintf(why, cap, "parameter limit: expected 1 to %d", MAX_LIMIT);
                return GW_EINVAL;
            }
            f->limit = (unsigned)n;
        } else {
            snprintf(why, cap,
                     "unknown parameter %s (action, actor, object, since, until, cursor, limit)",
                     pname);
            return GW_EINVAL;
        }
#undef IS
        i = end + 1;
    }
    return 0;
}

/* want exact, or a prefix when it ends in '*'. */
static bool match_pattern(const char *want, const char *have)
{
    if (want[0] == '\0')
        return true;
    if (have == NULL)
        return false;
    size_t n = strlen(want);
    if (want[n - 1] == '*')
        return strncmp(want, have, n - 1) == 0;
    return strcmp(want, have) == 0;
}

bool gw__audit_matches(const struct gw_audit_filter *f, json_t *e)
{
    if (!match_pattern(f->action, json_string_value(json_object_get(e, "action"))) ||
        !match_pattern(f->object, json_string_value(json_object_get(e, "object"))))
        return false;
    if (f->actor[0] != '\0') {
        json_t *a = json_object_get(e, "actor");
        const char *k = json_string_value(json_object_get(a, "key"));
        const char *ad = json_string_value(json_object_get(a, "addr"));
        if (!(k && strcmp(k, f->actor) == 0) && !(ad && strcmp(ad, f->actor) == 0))
            return false;
    }
    const char *t = json_string_value(json_object_get(e, "time"));
    if (f->since[0] && (t == NULL || strcmp(t, f->since) < 0))
        return false;
    if (f->until[0] && (t == NULL || strcmp(t, f->until) >= 0))
        return false;
    return true;
}

int gw__audit_file_query(const char *path, const struct gw_audit_filter *f, json_t *arr, char *why,
                         size_t cap)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        snprintf(why, cap, "cannot read %s: %s", path, strerror(errno));
        return GW_EINVAL;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    int err = 0;
    while (json_array_size(arr) <= f->limit && (n = getline(&line, &lcap, fp)) > 0) {
        json_t *e = json_loadb(line, (size_t)n, 0, NULL);
        json_t *js = json_object_get(e, "seq");
        if (json_is_integer(js) && (uint64_t)json_integer_value(js) > f->cursor &&
            gw__audit_matches(f, e) && json_array_append(arr, e) != 0)
            err = GW_ENOMEM;
        json_decref(e);
        if (err)
            break;
    }
    free(line);
    fclose(fp);
    return err;
}
