/*
 * libFuzzer target: the grpc-timeout parser (h2/grpc.h) and, on the same bytes, the content-type
 * test and grpc-message's encoder. A value the parser takes must format back to a value it
 * takes again, never shorter; nothing may read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t ms = 0;
    if (gw_grpc_timeout_parse((const char *)data, size, &ms) == 0) {
        char buf[16];
        size_t n = gw_grpc_timeout_format(ms, buf, sizeof buf);
        uint64_t back = 0;
        if (gw_grpc_timeout_parse(buf, n, &back) != 0)
            abort();
        if (ms <= 99999999 && back != ms)
            abort();
    }
    (void)gw_grpc_is_content_type((const char *)data, size);
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char out[64];
    size_t n = gw_grpc_message_encode(s, out, sizeof out);
    if (n >= sizeof out || out[n] != '\0')
        abort();
    free(s);
    return 0;
}
