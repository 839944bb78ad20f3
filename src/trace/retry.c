/*
 * The retry policy of trace exports: see retry.h.
 */
#include "trace/retry.h"

#include "cache/date.h"
#include "core/error.h"

bool gw_trace_export_retryable(int err, int status)
{
    if (err != 0)
        return err == GW_EFETCH || err == GW_EFETCHTIMEOUT;
    return status == 429 || status == 502 || status == 503 || status == 504;
}

uint64_t gw_trace_export_backoff_ms(unsigned failures, uint64_t random)
{
    uint64_t base = GW_TRACE_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && base < GW_TRACE_BACKOFF_MAX_MS; i++)
        base *= 2;
    if (base > GW_TRACE_BACKOFF_MAX_MS)
        base = GW_TRACE_BACKOFF_MAX_MS;
    return base - base / 2 + random % (base / 2 + 1);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int gw_trace_retry_after_parse(const char *s, size_t n, int64_t now_s, uint64_t *delay_ms)
{
    while (n > 0 && is_ows(s[0])) {
        s++;
        n--;
    }
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    if (n == 0)
        return -1;
    const uint64_t cap_s = GW_TRACE_RETRY_AFTER_MAX_MS / 1000;
    if (s[0] >= '0' && s[0] <= '9') {
        /* delay-seconds = 1*DIGIT: any number of digits, so the value is capped as it is read */
        uint64_t secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            if (secs <= cap_s)
                secs = secs * 10 + (uint64_t)(s[i] - '0');
        }
        *delay_ms = (secs < cap_s ? secs : cap_s) * 1000;
        return 0;
    }
    int64_t when = 0;
    if (gw_http_date_parse(s, n, now_s, &when) < 0)
        return -1;
    int64_t secs = when - now_s;
    if (secs < 0)
        secs = 0;
    *delay_ms = ((uint64_t)secs < cap_s ? (uint64_t)secs : cap_s) * 1000;
    return 0;
}
