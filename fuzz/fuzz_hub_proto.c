/*
 * libFuzzer target for hub/proto.c and hub/channel.c: the hub's client messages, the wire format
 * between instances, and channel patterns. Invariants (any violation traps):
 *   - a parsed command names a valid channel (but ping), a valid or empty ref and to, and a
 *     publish carries data whose length is what it says;
 *   - a parsed wire message formats back to the same bytes;
 *   - a pattern that passes its check and has no wildcard matches exactly itself.
 * Inputs are copied to exact-size heap buffers, so ASan catches any read past the end.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hub/channel.h"
#include "hub/proto.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);

    struct gw_hub_cmd c;
    if (gw_hub_cmd_parse(p, size, &c) == 0) {
        CHECK(c.op >= GW_HUB_SUBSCRIBE && c.op <= GW_HUB_PING);
        if (c.op != GW_HUB_PING)
            CHECK(gw_hub_channel_valid(c.channel, c.channel_len));
        CHECK(c.ref[0] == '\0' || gw_hub_client_id_valid(c.ref, strlen(c.ref)));
        CHECK(c.to[0] == '\0' || gw_hub_client_id_valid(c.to, strlen(c.to)));
        if (c.op == GW_HUB_PUBLISH)
            CHECK(c.data && strlen(c.data) == c.data_len && c.data_len > 0);
        gw_hub_cmd_clear(&c);
    }

    struct gw_hub_wire w;
    if (gw_hub_wire_parse(p, size, &w) == 0) {
        char *out = malloc(size ? size : 1);
        CHECK(out != NULL);
        long n = gw_hub_wire_format(&w, out, size);
        CHECK(n == (long)size && memcmp(out, p, size) == 0);
        free(out);
    }

    /* The first line as a pattern, the rest as a channel name, for client id "alice". */
    const char *nl = memchr(p, '\n', size);
    if (nl) {
        size_t pl = (size_t)(nl - p);
        char *pat = malloc(pl + 1);
        CHECK(pat != NULL);
        memcpy(pat, p, pl);
        pat[pl] = '\0';
        const char *why;
        if (strlen(pat) == pl && gw_hub_pattern_check(pat, &why) == 0) {
            const char *ch = nl + 1;
            size_t cl = size - pl - 1;
            /* Without '*' or "{client_id}", a pattern matches exactly itself. */
            bool literal = strchr(pat, '*') == NULL && strchr(pat, '{') == NULL;
            if (literal)
                CHECK(gw_hub_pattern_match(pat, ch, cl, "alice") ==
                      (cl == pl && memcmp(ch, pat, pl) == 0));
        }
        free(pat);
    }
    free(p);
    return 0;
}
