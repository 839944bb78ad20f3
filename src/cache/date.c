/*
 * HTTP-date parser and formatter (RFC 9110 5.6.7). Calendar arithmetic is the proleptic
 * Gregorian days-from-civil conversion, so no libc time zone state is touched.
 */
#include "cache/date.h"

#include <stdbool.h>
#include <string.h>

static const char *const wkday[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const weekday[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
static const char *const month[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d (m 1..12). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Reads exactly `count` digits at s; -1 when one is not a digit. */
static int digits(const char *s, int count)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int month_of(const char *s)
{
    for (int i = 0; i < 12; i++) {
        if (memcmp(s, month[i], 3) == 0)
            return i + 1;
    }
    return -1;
}

static bool is_wkday(const char *s)
{
    for (int i = 0; i < 7; i++) {
        if (memcmp(s, wkday[i], 3) == 0)
            return true;
    }
    return false;
}

/* "HH:MM:SS" at s: seconds into the day, or -1. */
static int64_t time_of_day(const char *s)
{
    int h = digits(s, 2), m = digits(s + 3, 2), sec = digits(s + 6, 2);
    if (h < 0 || m < 0 || sec < 0 || s[2] != ':' || s[5] != ':' || h > 23 || m > 59 || sec > 60)
        return -1;
    if (sec == 60)
        sec = 59;
    return (int64_t)h * 3600 + m * 60 + sec;
}

static int finish(int64_t y, int mon, int d, int64_t tod, int64_t *out)
{
    if (mon < 1 || d < 1 || tod < 0 || d > month_days(y, mon))
        return -1;
    *out = days_from_civil(y, mon, d) * 86400 + tod;
    return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int imf_fixdate(const char *s, size_t n, int64_t *out)
{
    if (n != 29 || !is_wkday(s) || memcmp(s + 3, ", ", 2) != 0 || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || memcmp(s + 25, " GMT", 4) != 0)
        return -1;
    int d = digits(s + 5, 2), y = digits(s + 12, 4);
    if (d < 0 || y < 0)
        return -1;
    return finish(y, month_of(s + 8), d, time_of_day(s + 17), out);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int rfc850(const char *s, size_t n, int64_t now, int64_t *out)
{
    const char *comma = memchr(s, ',', n < 10 ? n : 10);
    if (comma == NULL)
        return -1;
    size_t wl = (size_t)(comma - s);
    bool named = false;
    for (int i = 0; i < 7; i++) {
        if (strlen(weekday[i]) == wl && memcmp(s, weekday[i], wl) == 0)
            named = true;
    }
    const char *p = comma + 1;
    if (!named || n - wl != 24 || p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' ||
        memcmp(p + 19, " GMT", 4) != 0)
        return -1;
    int d = digits(p + 1, 2), yy = digits(p + 8, 2);
    if (d < 0 || yy < 0)
        return -1;
    /* The year with these last two digits that is at most 50 years after now. */
    int64_t days = now / 86400 - (now % 86400 < 0);
    int64_t cur = 1970;
    for (int64_t left = days; left >= (leap(cur) ? 366 : 365) && cur < 10000; cur++)
        left -= leap(cur) ? 366 : 365;
    int64_t y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y <= cur - 50)
        y += 100;
    if (y > cur + 50)
        y -= 100;
    return finish(y, month_of(p + 4), d, time_of_day(p + 11), out);
}

/* "Sun Nov  6 08:49:37 1994" */
static int asctime_date(const char *s, size_t n, int64_t *out)
{
    if (n != 24 || !is_wkday(s) || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[19] != ' ')
        return -1;
    int d = s[8] == ' ' ? digits(s + 9, 1) : digits(s + 8, 2);
    int y = digits(s + 20, 4);
    if (d < 0 || y < 0)
        return -1;
    return finish(y, month_of(s + 4), d, time_of_day(s + 11), out);
}

int gw_http_date_parse(const char *s, size_t n, int64_t now, int64_t *out)
{
    if (n < 24)
        return -1;
    if (s[3] == ',')
        return imf_fixdate(s, n, out);
    if (s[3] == ' ')
        return asctime_date(s, n, out);
    return rfc850(s, n, now, out);
}

size_t gw_http_date_format(int64_t t, char out[GW_HTTP_DATE_LEN])
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil-from-days (the inverse of days_from_civil) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    int wd = (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday (index 3) */
    int h = (int)(rem / 3600), mi = (int)(rem / 60 % 60), se = (int)(rem % 60);
    char *o = out;
    memcpy(o, wkday[wd], 3);
    o[3] = ',';
    o[4] = ' ';
    o[5] = (char)('0' + d / 10);
    o[6] = (char)('0' + d % 10);
    o[7] = ' ';
    memcpy(o + 8, month[m - 1], 3);
    o[11] = ' ';
    o[12] = (char)('0' + y / 1000 % 10);
    o[13] = (char)('0' + y / 100 % 10);
    o[14] = (char)('0' + y / 10 % 10);
    o[15] = (char)('0' + y % 10);
    o[16] = ' ';
    o[17] = (char)('0' + h / 10);
    o[18] = (char)('0' + h % 10);
    o[19] = ':';
    o[20] = (char)('0' + mi / 10);
    o[21] = (char)('0' + mi % 10);
    o[22] = ':';
    o[23] = (char)('0' + se / 10);
    o[24] = (char)('0' + se % 10);
    memcpy(o + 25, " GMT", 5);
    return 29;
}
