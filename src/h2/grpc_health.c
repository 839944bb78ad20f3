#include "h2/grpc_health.h"

#include <string.h>

#include "core/error.h"

/* Protobuf wire types (the "Encoding" page of the protobuf documentation). */
enum {
    WT_VARINT = 0,
    WT_I64 = 1,
    WT_LEN = 2,
    WT_SGROUP = 3,
    WT_EGROUP = 4,
    WT_I32 = 5,
};

#define FRAME_HEAD 5

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t gw_grpc_health_request(const char *service, uint8_t *out, size_t cap)
{
    size_t len = strlen(service);
    if (len > GW_GRPC_HEALTH_SERVICE_MAX)
        return 0;
    uint8_t field[16];
    size_t fl = 0;
    if (len > 0) {
        field[fl++] = (uint8_t)(1u << 3 | WT_LEN);
        fl += put_varint(field + fl, len);
    }
    size_t body = fl + (len > 0 ? len : 0);
    if (cap < FRAME_HEAD + body)
        return 0;
    out[0] = 0; /* not compressed */
    out[1] = (uint8_t)(body >> 24);
    out[2] = (uint8_t)(body >> 16);
    out[3] = (uint8_t)(body >> 8);
    out[4] = (uint8_t)body;
    memcpy(out + FRAME_HEAD, field, fl);
    if (len > 0)
        memcpy(out + FRAME_HEAD + fl, service, len);
    return FRAME_HEAD + body;
}

/* A varint at *p (before end): 0 and *v, or GW_EINVAL (truncated, or longer than 10 bytes, or
 * a 10th byte carrying more than the 64th bit). */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*p >= end)
            return GW_EINVAL;
        uint8_t b = *(*p)++;
        if (i == 9 && b > 1)
            return GW_EINVAL;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return GW_EINVAL;
}

int gw_grpc_health_response(const uint8_t *p, size_t n, int32_t *status)
{
    if (n < FRAME_HEAD || p[0] != 0)
        return GW_EINVAL; /* short, or compressed (gantry offers no encoding) */
    uint32_t len = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    if (len != n - FRAME_HEAD)
        return GW_EINVAL; /* truncated, or more than one message */
    const uint8_t *q = p + FRAME_HEAD, *end = p + n;
    int32_t st = GW_GRPC_HEALTH_UNKNOWN;
    while (q < end) {
        uint64_t tag, v;
        if (get_varint(&q, end, &tag) < 0 || tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
            return GW_EINVAL;
        switch (tag & 7) {
        case WT_VARINT:
            if (get_varint(&q, end, &v) < 0)
                return GW_EINVAL;
            /* An enum is an int32: a negative one comes sign-extended to 64 bits. */
            if (tag >> 3 == 1)
                st = (int32_t)(uint32_t)v;
            break;
        case WT_I64:
            if ((size_t)(end - q) < 8)
                return GW_EINVAL;
            q += 8;
            break;
        case WT_I32:
            if ((size_t)(end - q) < 4)
                return GW_EINVAL;
            q += 4;
            break;
        case WT_LEN:
            if (get_varint(&q, end, &v) < 0 || v > (uint64_t)(end - q))
                return GW_EINVAL;
            q += v;
            break;
        default: /* groups (deprecated, never in these messages) and wire types 6, 7 */
            return GW_EINVAL;
        }
        /* status is a varint: field 1 with another wire type is malformed. */
        if (tag >> 3 == 1 && (tag & 7) != WT_VARINT)
            return GW_EINVAL;
    }
    *status = st;
    return 0;
}

const char *gw_grpc_health_status_name(int32_t status)
{
    switch (status) {
    case GW_GRPC_HEALTH_UNKNOWN:
        return "UNKNOWN";
    case GW_GRPC_HEALTH_SERVING:
        return "SERVING";
    case GW_GRPC_HEALTH_NOT_SERVING:
        return "NOT_SERVING";
    case GW_GRPC_HEALTH_SERVICE_UNKNOWN:
        return "SERVICE_UNKNOWN";
    default:
        return "other";
    }
}
