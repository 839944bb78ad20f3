/*
 * The canonical entry and its hash chain, and the checker that `gantry audit verify` runs.
 *
 * A line is a JSON object whose last member is "hash":
 *
 *   {"seq":7,"time":"...","actor":{...},"action":"...",...,"prev":"<64 hex>","hash":"<64 hex>"}
 *
 * hash = SHA-256 of the line's bytes up to (not including) ',"hash":"', and prev is the hash of
 * the entry before (64 zeros for the first entry of a log). So changing, removing or inserting
 * a line breaks the chain at that line or the next one; the bytes are hashed as written, so the
 * checker needs no canonical re-serialisation.
 */
#include "audit/internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

void gw__audit_sha256_hex(const void *p, size_t n, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        memset(md, 0, sizeof md); /* cannot happen with the default provider */
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[64] = '\0';
}

void gw__audit_time(uint64_t ms, char *out, size_t cap)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

static int set_str(json_t *o, const char *key, const char *v)
{
    if (v == NULL)
        return 0;
    json_t *s = json_string(v);
    if (s == NULL) /* not UTF-8: keep what can be shown */
        s = json_string("(invalid UTF-8)");
    return json_object_set_new(o, key, s);
}

char *gw__audit_format(const struct gw__audit_item *it, uint64_t seq, const char *time,
                       const char prev[65], char hash[65], size_t *len)
{
    char *text = NULL;
    char *line = NULL;
    json_t *o = json_object();
    json_t *actor = json_object();
    if (o == NULL || actor == NULL)
        goto fail;
    if (set_str(actor, "key", it->actor_key) || set_str(actor, "addr", it->actor_addr) ||
        set_str(actor, "via", it->actor_via))
        goto fail;
    if (json_object_set_new(o, "seq", json_integer((json_int_t)seq)) || set_str(o, "time", time) ||
        json_object_set(o, "actor", actor) || set_str(o, "action", it->action) ||
        set_str(o, "object", it->object))
        goto fail;
    if (it->status != 0 && json_object_set_new(o, "status", json_integer(it->status)))
        goto fail;
    if (set_str(o, "before", it->before) || set_str(o, "after", it->after))
        goto fail;
    if (it->detail != NULL) {
        json_t *d = json_loads(it->detail, JSON_REJECT_DUPLICATES, NULL);
        if (d == NULL)
            d = json_string(it->detail); /* a producer's bug: keep the text */
        if (d == NULL || json_object_set_new(o, "detail", d))
            goto fail;
    }
    if (set_str(o, "prev", prev))
        goto fail;
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        goto fail;
    size_t n = strlen(text);
    /* text ends with '}': the prefix that is hashed is everything before it. */
    gw__audit_sha256_hex(text, n - 1, hash);
    line = malloc(n - 1 + GW__AUDIT_SUFFIX_LEN + 1);
    if (line == NULL)
        goto fail;
    memcpy(line, text, n - 1);
    snprintf(line + n - 1, GW__AUDIT_SUFFIX_LEN + 1, ",\"hash\":\"%s\"}", hash);
    *len = n - 1 + GW__AUDIT_SUFFIX_LEN;
fail:
    free(text);
    json_decref(actor);
    json_decref(o);
    return line;
}

static bool is_hex64(const char *s)
{
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool gw_audit_check_line(const char *line, size_t len, const char *prev_hash, uint64_t prev_seq,
                         char hash[65], uint64_t *seq, char *why, size_t cap)
{
    bool ok = false;
    json_t *o = NULL;
    if (len < GW__AUDIT_SUFFIX_LEN + 2 || line[0] != '{') {
        snprintf(why, cap, "not an audit entry");
        goto out;
    }
    const char *suffix = line + len - GW__AUDIT_SUFFIX_LEN;
    if (memcmp(suffix, ",\"hash\":\"", 9) != 0 || memcmp(line + len - 2, "\"}", 2) != 0 ||
        !is_hex64(suffix + 9)) {
        snprintf(why, cap, "the entry does not end with its hash");
        goto out;
    }
    char want[65];
    gw__audit_sha256_hex(line, len - GW__AUDIT_SUFFIX_LEN, want);
    if (memcmp(want, suffix + 9, 64) != 0) {
        snprintf(why, cap, "the entry was changed: its content does not match its hash");
        goto out;
    }
    json_error_t jerr;
    o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        snprintf(why, cap, "not valid JSON: %s", o ? "not an object" : jerr.text);
        goto out;
    }
    json_t *js = json_object_get(o, "seq");
    const char *prev = json_string_value(json_object_get(o, "prev"));
    if (!json_is_integer(js) || json_integer_value(js) < 1) {
        snprintf(why, cap, "no valid \"seq\"");
        goto out;
    }
    if (prev == NULL || strlen(prev) != 64 || !is_hex64(prev)) {
        snprintf(why, cap, "no valid \"prev\"");
        goto out;
    }
    uint64_t s = (uint64_t)json_integer_value(js);
    if (prev_hash != NULL && strcmp(prev, prev_hash) != 0) {
        snprintf(why, cap,
                 "the chain is broken: \"prev\" is not the hash of the entry before (an entry "
                 "was removed, inserted or changed before this one)");
        goto out;
    }
    if (prev_seq != 0 && s != prev_seq + 1) {
        snprintf(why, cap, "seq %llu follows seq %llu", (unsigned long long)s,
                 (unsigned long long)prev_seq);
        goto out;
    }
    memcpy(hash, suffix + 9, 64);
    hash[64] = '\0';
    *seq = s;
    ok = true;
out:
    json_decref(o);
    return ok;
}

/* ---- the streaming verifier ------------------------------------------------------------------ */

void gw_audit_verifier_init(struct gw_audit_verifier *v)
{
    memset(v, 0, sizeof *v);
}

static void check(struct gw_audit_verifier *v)
{
    struct gw_audit_verify *r = &v->result;
    uint64_t lineno = r->entries + 1;
    char hash[65];
    uint64_t seq = 0;
    bool first = r->entries == 0;
    if (!gw_audit_check_line(v->line, v->len, first ? NULL : r->last_hash, first ? 0 : r->last_seq,
                             hash, &seq, r->why, sizeof r->why)) {
        r->broken_line = lineno;
        v->stopped = true;
        return;
    }
    if (first) {
        /* The anchor: the end of the file before this one (or zeros for a new log). */
        json_t *o = json_loadb(v->line, v->len, 0, NULL);
        snprintf(r->anchor, sizeof r->anchor, "%s", json_string_value(json_object_get(o, "prev")));
        json_decref(o);
        r->first_seq = seq;
    }
    r->entries++;
    r->last_seq = seq;
    memcpy(r->last_hash, hash, sizeof hash);
}

int gw_audit_verifier_feed(struct gw_audit_verifier *v, const char *p, size_t n)
{
    while (n > 0 && !v->stopped) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (v->len + take > GW__AUDIT_MAX_LINE) {
            v->result.broken_line = v->result.entries + 1;
            snprintf(v->result.why, sizeof v->result.why, "line longer than %u bytes",
                     GW__AUDIT_MAX_LINE);
            v->stopped = true;
            break;
        }
        if (v->len + take + 1 > v->cap) {
            size_t cap = v->cap ? v->cap : 4096;
            while (cap < v->len + take + 1)
                cap *= 2;
            char *b = realloc(v->line, cap);
            if (b == NULL)
                return GW_ENOMEM;
            v->line = b;
            v->cap = cap;
        }
        memcpy(v->line + v->len, p, take);
        v->len += take;
        v->line[v->len] = '\0';
        p += take;
        n -= take;
        if (nl == NULL)
            break;
        p++;
        n--;
        check(v);
        v->len = 0;
    }
    return 0;
}

void gw_audit_verifier_finish(struct gw_audit_verifier *v)
{
    if (!v->stopped && v->len > 0) {
        v->result.broken_line = v->result.entries + 1;
        snprintf(v->result.why, sizeof v->result.why,
                 "the last line has no newline (a write was cut short)");
        v->stopped = true;
    }
    free(v->line);
    v->line = NULL;
    v->len = v->cap = 0;
}
