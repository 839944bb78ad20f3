/*
 * Config value types: each parses one JSON value into its field and reports what is wrong with
 * it at the value's position. Every scalar type also accepts a string (after ${ENV}
 * substitution), so that any value can come from the environment; built-in defaults are written
 * that way too (see struct gw__cfg_field.def).
 */
#include "config/internal.h"
#include "net/addr.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FIELD(base, f, T) ((T *)((char *)(base) + (f)->offset))
#define AT(base, off, T) ((T *)((char *)(base) + (off)))

_Static_assert(sizeof(unsigned) == sizeof(uint32_t), "workers is stored as a uint32_t");
_Static_assert(sizeof(enum gw_log_level) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum gw_log_format) == sizeof(int), "enums are stored as int");

bool gw__cfg_get_string(struct gw__cfg_ctx *ctx, json_t *v, char **out)
{
    *out = NULL;
    if (!json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string, got %s", gw__cfg_json_kind(v));
        return false;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (ctx->in_default) {
        *out = strndup(s, n);
    } else {
        char why[256];
        *out = gw_config_expand_env(s, n, why, sizeof why);
        if (*out == NULL && why[0] != '\0') {
            gw__cfg_error(ctx, "%s", why);
            return false;
        }
    }
    if (*out == NULL) {
        ctx->oom = true;
        return false;
    }
    return true;
}

/* ---- plain strings --------------------------------------------------------------------------- */

static void parse_string(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    const struct gw__cfg_str *arg = f->arg;
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    if (arg && arg->check && !arg->check(ctx, &s)) {
        free(s);
        return;
    }
    char **dst = FIELD(base, f, char *);
    free(*dst);
    *dst = s;
}

static void release_string(void *base, const struct gw__cfg_field *f)
{
    char **dst = FIELD(base, f, char *);
    free(*dst);
    *dst = NULL;
}

const struct gw__cfg_type gw__cfg_string_type = {"string", parse_string, release_string};

static void parse_strlist(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                          const struct gw__cfg_field *f)
{
    const struct gw__cfg_strlist *arg = f->arg;
    char ***dst = FIELD(base, f, char **);
    size_t *count = AT(base, arg->count_offset, size_t);
    bool is_array = json_is_array(v);
    size_t n = is_array ? json_array_size(v) : 1;
    if (!is_array && !json_is_string(v)) {
        gw__cfg_error(ctx, "expected a string or an array of strings, got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (n < arg->min) {
        gw__cfg_error(ctx, "must not be empty");
        return;
    }
    char **items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL) {
        ctx->oom = true;
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *s;
        if (is_array)
            gw__cfg_push_index(ctx, i);
        if (gw__cfg_get_string(ctx, is_array ? json_array_get(v, i) : v, &s)) {
            if (arg->check && !arg->check(ctx, &s)) {
                free(s);
                s = NULL;
            }
        }
        for (size_t j = 0; s && arg->unique && j < k; j++) {
            if (strcmp(items[j], s) == 0) {
                char q[96];
                gw__cfg_error(ctx, "%s is listed twice", gw__cfg_quote(s, strlen(s), q, sizeof q));
                free(s);
                s = NULL;
            }
        }
        if (s)
            items[k++] = s;
        if (is_array)
            gw__cfg_pop(ctx);
    }
    for (size_t i = 0; i < *count; i++)
        free((*dst)[i]);
    free(*dst);
    *dst = items;
    *count = k;
}

static void release_strlist(void *base, const struct gw__cfg_field *f)
{
    const struct gw__cfg_strlist *arg = f->arg;
    char ***dst = FIELD(base, f, char **);
    size_t *count = AT(base, arg->count_offset, size_t);
    for (size_t i = 0; *dst && i < *count; i++)
        free((*dst)[i]);
    free(*dst);
    *dst = NULL;
    *count = 0;
}

const struct gw__cfg_type gw__cfg_strlist_type = {"string or array of strings", parse_strlist,
                                                  release_strlist};

/* ---- booleans and numbers -------------------------------------------------------------------- */

static void parse_bool(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                       const struct gw__cfg_field *f)
{
    bool *dst = FIELD(base, f, bool);
    if (json_is_boolean(v)) {
        *dst = json_is_true(v);
        return;
    }
    if (!json_is_string(v)) {
        gw__cfg_error(ctx, "expected a boolean, got %s", gw__cfg_json_kind(v));
        return;
    }
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    if (strcmp(s, "true") == 0)
        *dst = true;
    else if (strcmp(s, "false") == 0)
        *dst = false;
    else
        gw__cfg_error(ctx, "expected a boolean (true or false)");
    free(s);
}

const struct gw__cfg_type gw__cfg_bool_type = {"boolean", parse_bool, NULL};

/* n as "10MiB" when it is a whole number of KiB, MiB, ... (else plain bytes). */
static const char *fmt_size(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    int u = -1;
    while (u < 3 && n >= 1024 && n % 1024 == 0) {
        n /= 1024;
        u++;
    }
    snprintf(buf, cap, "%" PRIu64 "%s", n, u < 0 ? "" : units[u]);
    return buf;
}

static const char *fmt_duration(uint64_t ms, char *buf, size_t cap)
{
    if (ms % 3600000 == 0)
        snprintf(buf, cap, "%" PRIu64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(buf, cap, "%" PRIu64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(buf, cap, "%" PRIu64 "ms", ms);
    return buf;
}

enum unit {
    UNIT_COUNT,
    UNIT_BYTES,
    UNIT_MS,
};

static const char *fmt_value(enum unit u, uint64_t n, char *buf, size_t cap)
{
    if (u == UNIT_BYTES)
        return fmt_size(n, buf, cap);
    if (u == UNIT_MS)
        return fmt_duration(n, buf, cap);
    snprintf(buf, cap, "%" PRIu64, n);
    return buf;
}

/* Reports "must be between ..." for a value outside r. */
static void range_error(struct gw__cfg_ctx *ctx, const struct gw__cfg_range *r, enum unit u)
{
    char lo[32];
    char hi[32];
    fmt_value(u, r->min, lo, sizeof lo);
    fmt_value(u, r->max, hi, sizeof hi);
    if (r->max == UINT64_MAX)
        gw__cfg_error(ctx, "must be at least %s", lo);
    else if (r->min == 0)
        gw__cfg_error(ctx, "must be between 0 and %s", hi);
    else
        gw__cfg_error(ctx, "must be between %s and %s", lo, hi);
}

static bool in_range(struct gw__cfg_ctx *ctx, const struct gw__cfg_range *r, enum unit u,
                     uint64_t n)
{
    if (n >= r->min && n <= r->max)
        return true;
    range_error(ctx, r, u);
    return false;
}

static bool parse_u64_text(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

static void store_uint(void *dst, size_t width, uint64_t n)
{
    if (width == sizeof(uint32_t)) {
        uint32_t v = (uint32_t)n;
        memcpy(dst, &v, sizeof v);
    } else {
        memcpy(dst, &n, sizeof n);
    }
}

/* Reads a string value (after ${ENV}) with parse into *n. False when it is not one, with
 * "<quoted value>: <why>" reported at the value. */
static bool parse_text(struct gw__cfg_ctx *ctx, json_t *v,
                       bool (*parse)(const char *s, uint64_t *n, const char **why), uint64_t *n)
{
    char *s;
    const char *why;
    if (!gw__cfg_get_string(ctx, v, &s))
        return false;
    bool ok = parse(s, n, &why);
    if (!ok) {
        char q[96];
        gw__cfg_error(ctx, "%s: %s", gw__cfg_quote(s, strlen(s), q, sizeof q), why);
    }
    free(s);
    return ok;
}

static const struct gw__cfg_range any_size = {0, UINT64_MAX};

static void parse_integer(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                          const struct gw__cfg_field *f)
{
    const struct gw__cfg_range *r = f->arg;
    uint64_t n;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) {
            range_error(ctx, r, UNIT_COUNT);
            return;
        }
        n = (uint64_t)i;
    } else if (json_is_string(v)) {
        char *s;
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
        bool ok = parse_u64_text(s, &n);
        if (!ok) {
            char q[96];
            gw__cfg_error(ctx, "expected an integer, got %s",
                          gw__cfg_quote(s, strlen(s), q, sizeof q));
        }
        free(s);
        if (!ok)
            return;
    } else {
        gw__cfg_error(ctx, "expected an integer, got %s", gw__cfg_json_kind(v));
        return;
    }
    if (in_range(ctx, r, UNIT_COUNT, n))
        store_uint(FIELD(base, f, char), sizeof(uint32_t), n);
}

const struct gw__cfg_type gw__cfg_uint32_type = {"integer", parse_integer, NULL};

static void parse_size_common(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                              const struct gw__cfg_field *f, size_t width)
{
    const struct gw__cfg_range *r = f->arg ? f->arg : &any_size;
    uint64_t n;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) {
            gw__cfg_error(ctx, "a size must not be negative");
            return;
        }
        n = (uint64_t)i;
    } else if (json_is_string(v)) {
        if (!parse_text(ctx, v, gw__cfg_parse_size, &n))
            return;
    } else {
        gw__cfg_error(ctx, "expected a size (bytes, or a string such as \"64k\"), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (in_range(ctx, r, UNIT_BYTES, n))
        store_uint(FIELD(base, f, char), width, n);
}

static void parse_size32(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    parse_size_common(ctx, v, base, f, sizeof(uint32_t));
}

static void parse_size64(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                         const struct gw__cfg_field *f)
{
    parse_size_common(ctx, v, base, f, sizeof(uint64_t));
}

const struct gw__cfg_type gw__cfg_size32_type = {"size", parse_size32, NULL};
const struct gw__cfg_type gw__cfg_size64_type = {"size", parse_size64, NULL};

/* Durations: at least 1ms, at most 30 days, unless the row says otherwise. */
static const struct gw__cfg_range default_duration = {1, 30ull * 24 * 3600 * 1000};

static void parse_duration(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                           const struct gw__cfg_field *f)
{
    const struct gw__cfg_range *r = f->arg ? f->arg : &default_duration;
    uint64_t ms;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) {
            gw__cfg_error(ctx, "a duration must not be negative");
            return;
        }
        ms = (uint64_t)i > UINT64_MAX / 1000 ? UINT64_MAX : (uint64_t)i * 1000;
    } else if (json_is_real(v)) {
        double x = json_real_value(v) * 1000.0;
        if (x < 0) {
            gw__cfg_error(ctx, "a duration must not be negative");
            return;
        }
        if (!(x < 1.8e19)) {
            ms = UINT64_MAX;
        } else {
            double r_ms = floor(x + 0.5);
            if (fabs(x - r_ms) > 1e-6 + x * 1e-12) {
                gw__cfg_error(ctx, "duration more precise than a millisecond");
                return;
            }
            ms = (uint64_t)r_ms;
        }
    } else if (json_is_string(v)) {
        if (!parse_text(ctx, v, gw__cfg_parse_duration_ms, &ms))
            return;
    } else {
        gw__cfg_error(ctx, "expected a duration (a string such as \"10s\", or seconds), got %s",
                      gw__cfg_json_kind(v));
        return;
    }
    if (in_range(ctx, r, UNIT_MS, ms))
        store_uint(FIELD(base, f, char), sizeof(uint64_t), ms);
}

const struct gw__cfg_type gw__cfg_duration_type = {"duration", parse_duration, NULL};

static void parse_enum(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                       const struct gw__cfg_field *f)
{
    const struct gw__cfg_enum *names = f->arg;
    char *s;
    if (!gw__cfg_get_string(ctx, v, &s))
        return;
    for (const struct gw__cfg_enum *e = names; e->name; e++) {
        if (strcasecmp(s, e->name) == 0) {
            int val = e->value;
            memcpy(FIELD(base, f, char), &val, sizeof val);
            free(s);
            return;
        }
    }
    char list[256];
    size_t o = 0;
    list[0] = '\0';
    for (const struct gw__cfg_enum *e = names; e->name && o < sizeof list; e++) {
        const char *sep = e == names ? "" : (e[1].name ? ", " : " or ");
        int n = snprintf(list + o, sizeof list - o, "%s%s", sep, e->name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    char q[96];
    gw__cfg_error(ctx, "unknown value %s (expected %s)", gw__cfg_quote(s, strlen(s), q, sizeof q),
                  list);
    free(s);
}

const struct gw__cfg_type gw__cfg_enum_type = {"string", parse_enum, NULL};

size_t gw__cfg_cidr_items(struct gw__cfg_ctx *ctx, json_t *v, struct gw_cidr *items)
{
    bool is_array = json_is_array(v);
    size_t n = is_array ? json_array_size(v) : 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char *s;
        if (is_array)
            gw__cfg_push_index(ctx, i);
        if (gw__cfg_get_string(ctx, is_array ? json_array_get(v, i) : v, &s)) {
            const char *why = NULL;
            if (gw_cidr_parse(s, strlen(s), &items[k], &why) == 0) {
                k++;
            } else {
                char q[96];
                gw__cfg_error(ctx,
                              "%s %s (expected \"10.0.0.0/8\", \"192.0.2.7\" or \"2001:db8::/32\")",
                              gw__cfg_quote(s, strlen(s), q, sizeof q), why);
            }
            free(s);
        }
        if (is_array)
            gw__cfg_pop(ctx);
    }
    return k;
}

/* A share: a number from 0 to 1, or a percentage string ("10%", "0.5%"): sampling ratios,
 * error-rate objectives. */
static void parse_share(struct gw__cfg_ctx *ctx, json_t *v, void *base,
                        const struct gw__cfg_field *f)
{
    double x = 0;
    if (json_is_number(v)) {
        x = json_number_value(v);
    } else if (json_is_string(v)) {
        char *s = NULL;
        char *end = NULL;
        if (!gw__cfg_get_string(ctx, v, &s))
            return;
        x = strtod(s, &end);
        bool pct = end != s && end[0] == '%' && end[1] == '\0';
        bool plain = end != s && end[0] == '\0';
        free(s);
        if (!pct && !plain) {
            gw__cfg_error(ctx, "expected a share such as 0.1 or \"10%%\"");
            return;
        }
        if (pct)
            x /= 100.0;
    } else {
        gw__cfg_error(ctx, "expected a share (0.1 or \"10%%\"), got %s", gw__cfg_json_kind(v));
        return;
    }
    if (isnan(x) || x < 0 || x > 1) {
        gw__cfg_error(ctx, "a share must be between 0 and 1 (0%% and 100%%)");
        return;
    }
    *(double *)((char *)base + f->offset) = x;
}

const struct gw__cfg_type gw__cfg_share_type = {"share", parse_share, NULL};
