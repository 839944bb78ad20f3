/*
 * libFuzzer target: the chunked transfer-coding decoder (gw_chunked_decode).
 *
 * Each input is decoded whole, split in two at an offset derived from the input, and one
 * byte at a time, under the default limits and under small ones derived from the input.
 * Every call gets an exactly-sized malloc'd copy of the unconsumed bytes (AddressSanitizer
 * reports a read past len). Checked: each data span lies in the call's buffer and ends at
 * buf + consumed; PARTIAL consumes everything; the payload never exceeds the input; the three
 * runs agree on the result, the payload and the bytes consumed; a body that reached DONE
 * decodes the same without the bytes that followed it. A violation traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http1/chunked.h"

#include "http1_fuzz.h"

struct result {
    int rc;
    size_t consumed;
    size_t payload_len;
    uint8_t *payload; /* size + 1 bytes */
};

static void run(const uint8_t *in, size_t size, enum mode md, size_t k, uint32_t max_line,
                uint32_t max_trailer, struct result *r)
{
    struct gw_chunked_decoder d;
    size_t pos = 0, avail = 0;
    int first = 1;

    r->rc = GW_CHUNKED_PARTIAL;
    r->consumed = 0;
    r->payload_len = 0;
    r->payload = malloc(size + 1);
    CHECK(r->payload);
    gw_chunked_init(&d, max_line, max_trailer);
    while (first || avail < size) {
        if (md == WHOLE)
            avail = size;
        else if (md == SPLIT)
            avail = first ? k : size;
        else
            avail = avail < size ? avail + 1 : size;
        first = 0;
        while (pos < avail) {
            size_t have = avail - pos;
            char *b = malloc(have);
            CHECK(b);
            memcpy(b, in + pos, have);
            const char *data = NULL;
            size_t data_len = 0, consumed = (size_t)-1;
            int rc = gw_chunked_decode(&d, b, have, &consumed, &data, &data_len);
            CHECK(rc == GW_CHUNKED_DATA || rc == GW_CHUNKED_PARTIAL || rc == GW_CHUNKED_DONE ||
                  rc < 0);
            if (rc >= 0)
                CHECK(consumed <= have);
            if (rc == GW_CHUNKED_DATA) {
                CHECK(data_len > 0 && data >= b && data + data_len == b + consumed);
                CHECK(r->payload_len + data_len <= pos + consumed);
                memcpy(r->payload + r->payload_len, data, data_len);
                r->payload_len += data_len;
            } else if (rc == GW_CHUNKED_PARTIAL) {
                CHECK(consumed == have);
            }
            free(b);
            r->rc = rc;
            if (rc < 0)
                return;
            pos += consumed;
            r->consumed = pos;
            if (rc == GW_CHUNKED_DONE)
                return;
            if (rc == GW_CHUNKED_PARTIAL)
                break;
        }
    }
    r->rc = GW_CHUNKED_PARTIAL;
}

static void same(const struct result *a, const struct result *b)
{
    CHECK(a->rc == b->rc);
    CHECK(a->payload_len == b->payload_len);
    CHECK(memcmp(a->payload, b->payload, a->payload_len) == 0);
    if (a->rc == GW_CHUNKED_DONE)
        CHECK(a->consumed == b->consumed);
}

static void check_config(const uint8_t *in, size_t size, uint32_t max_line, uint32_t max_trailer,
                         uint64_t h)
{
    struct result whole, other;
    run(in, size, WHOLE, size, max_line, max_trailer, &whole);
    CHECK(whole.payload_len <= size && whole.consumed <= size);
    run(in, size, SPLIT, size ? (size_t)(h % size) : 0, max_line, max_trailer, &other);
    same(&whole, &other);
    free(other.payload);
    run(in, size, BYTES, 0, max_line, max_trailer, &other);
    same(&whole, &other);
    free(other.payload);
    if (whole.rc == GW_CHUNKED_DONE && whole.consumed < size) {
        /* The body alone decodes to the same thing: nothing after it was looked at. */
        run(in, whole.consumed, WHOLE, whole.consumed, max_line, max_trailer, &other);
        same(&whole, &other);
        free(other.payload);
    }
    free(whole.payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = gw_fnv1a64(data, size);
    check_config(data, size, 0, 0, h);
    check_config(data, size, 1 + (uint32_t)(h >> 8) % 64, 1 + (uint32_t)(h >> 16) % 256, h >> 5);
    return 0;
}
