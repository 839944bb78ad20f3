/*
 * libFuzzer target for the audit log's readers (audit/entry.c, audit/query.c): the chain
 * verifier that `gantry audit verify` runs over an untrusted file, and the GET /api/audit query
 * string parser. The input is fed to the verifier in two pieces split at its first byte's value
 * (line assembly must not depend on how reads cut the file), and the verdict must be the same
 * as feeding it whole; a line the verifier accepts must re-check alone; the filter parser
 * answers 0 or GW_EINVAL with a NUL-terminated reason, and on 0 its limit is 1..1000 and its
 * strings are terminated. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/error.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static void verify(const char *p, size_t n, size_t split, struct gw_audit_verify *out)
{
    struct gw_audit_verifier v;
    gw_audit_verifier_init(&v);
    CHECK(gw_audit_verifier_feed(&v, p, split) == 0);
    CHECK(gw_audit_verifier_feed(&v, p + split, n - split) == 0);
    gw_audit_verifier_finish(&v);
    *out = v.result;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct gw_audit_verify whole, cut;
    verify(p, size, 0, &whole);
    verify(p, size, size ? data[0] % (size + 1) : 0, &cut);
    CHECK(whole.entries == cut.entries && whole.broken_line == cut.broken_line);
    CHECK(whole.last_seq == cut.last_seq && strcmp(whole.last_hash, cut.last_hash) == 0);
    CHECK(whole.broken_line == 0 || whole.broken_line == whole.entries + 1);
    CHECK(memchr(whole.why, '\0', sizeof whole.why) != NULL);

    /* The first line, if the verifier took it, checks alone with the same hash. */
    const char *nl = memchr(p, '\n', size);
    if (nl != NULL && whole.entries > 0) {
        char hash[65];
        char why[160];
        uint64_t seq = 0;
        CHECK(gw_audit_check_line(p, (size_t)(nl - p), NULL, 0, hash, &seq, why, sizeof why));
        CHECK(seq == whole.first_seq);
    }

    struct gw_audit_filter f;
    char why[256];
    memset(why, 'x', sizeof why);
    int rc = gw_audit_filter_parse(p, size, &f, why, sizeof why);
    CHECK(rc == 0 || rc == GW_EINVAL);
    if (rc == 0) {
        CHECK(f.limit >= 1 && f.limit <= 1000);
        CHECK(memchr(f.action, '\0', sizeof f.action) && memchr(f.actor, '\0', sizeof f.actor));
        CHECK(memchr(f.object, '\0', sizeof f.object) && memchr(f.since, '\0', sizeof f.since));
        CHECK(memchr(f.until, '\0', sizeof f.until));
    } else {
        CHECK(memchr(why, '\0', sizeof why) != NULL);
    }
    return 0;
}
