/*
 * libFuzzer target for policy/client_addr.c's X-Forwarded-For walk (gw_xff_walk), the parser
 * that picks the client address behind trusted proxies from request header bytes. The input is
 * one header value, walked from an exact-size copy (ASan sees a read past its end) against
 * trusted blocks 10.0.0.0/8, 127.0.0.0/8 and fd00::/8. Checks: out is always NUL-terminated
 * within its capacity; what it holds (when not empty) parses as an address and occurs in the
 * input; a walk that asks for the previous line (true) found only trusted addresses, so out is
 * empty or trusted. Any violation traps.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/addr.h"
#include "policy/client_addr.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static struct gw_cidr set[3];
static bool ready;

static bool in_set(const char *s)
{
    int family;
    uint8_t addr[16];
    if (!gw_addr_parse(s, strlen(s), &family, addr))
        return false;
    for (size_t i = 0; i < 3; i++) {
        if (gw_cidr_has(&set[i], family, addr))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        const char *const blocks[] = {"10.0.0.0/8", "127.0.0.0/8", "fd00::/8"};
        const char *why;
        for (size_t i = 0; i < 3; i++)
            CHECK(gw_cidr_parse(blocks[i], strlen(blocks[i]), &set[i], &why) == 0);
        ready = true;
    }
    char *v = malloc(size ? size : 1);
    if (v == NULL)
        return 0;
    memcpy(v, data, size);
    char out[48];
    memset(out, 0, sizeof out);
    bool more = gw_xff_walk(v, size, set, 3, out, sizeof out);
    CHECK(memchr(out, '\0', sizeof out) != NULL);
    size_t n = strlen(out);
    if (n > 0 && n < sizeof out - 1) {
        int family;
        uint8_t addr[16];
        CHECK(gw_addr_parse(out, n, &family, addr));
        CHECK(memmem(v, size, out, n) != NULL);
    }
    if (more && n > 0 && n < sizeof out - 1)
        CHECK(in_set(out));
    free(v);
    return 0;
}
