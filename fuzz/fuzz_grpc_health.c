/*
 * libFuzzer target: the HealthCheckResponse reader (h2/grpc_health.h) on the input as a whole
 * response payload, and on the input behind a correct length prefix (so the protobuf part is
 * reached on most inputs); the grpc-status field finder (h2/grpc.h) on the input as header
 * lines; and the request writer with the input as a service name, whose frame must announce
 * exactly the bytes written. Nothing may read outside the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2/grpc.h"
#include "h2/grpc_health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int32_t st;
    (void)gw_grpc_health_response(data, size, &st);
    uint8_t *framed = malloc(size + 5);
    if (!framed)
        return 0;
    framed[0] = 0;
    framed[1] = (uint8_t)(size >> 24);
    framed[2] = (uint8_t)(size >> 16);
    framed[3] = (uint8_t)(size >> 8);
    framed[4] = (uint8_t)size;
    memcpy(framed + 5, data, size);
    (void)gw_grpc_health_response(framed, size + 5, &st);
    free(framed);
    (void)gw_grpc_status_field((const char *)data, size);
    char name[GW_GRPC_HEALTH_SERVICE_MAX + 1];
    size_t k = size < GW_GRPC_HEALTH_SERVICE_MAX ? size : GW_GRPC_HEALTH_SERVICE_MAX;
    memcpy(name, data, k);
    name[k] = '\0';
    uint8_t out[GW_GRPC_HEALTH_SERVICE_MAX + 16];
    size_t n = gw_grpc_health_request(name, out, sizeof out);
    if (n < 5 || out[0] != 0)
        abort();
    uint32_t len = (uint32_t)out[1] << 24 | (uint32_t)out[2] << 16 | (uint32_t)out[3] << 8 | out[4];
    if (len != n - 5 || (strlen(name) > 0) != (len > 0))
        abort();
    return 0;
}
