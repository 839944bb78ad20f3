#include "http1/names.h"

#include <string.h>

static const struct {
    int status;
    const char *text;
} reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {206, "Partial Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *gw_http_reason(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (reasons[i].status == status)
            return reasons[i].text;
    }
    return "Unknown";
}

const enum gw_http_method gw_http_listed_methods[8] = {
    GW_METHOD_GET,    GW_METHOD_HEAD,    GW_METHOD_POST,  GW_METHOD_PUT,
    GW_METHOD_DELETE, GW_METHOD_OPTIONS, GW_METHOD_PATCH, GW_METHOD_TRACE,
};

const char *gw_http_method_name(enum gw_http_method m)
{
    switch (m) {
    case GW_METHOD_GET:
        return "GET";
    case GW_METHOD_HEAD:
        return "HEAD";
    case GW_METHOD_POST:
        return "POST";
    case GW_METHOD_PUT:
        return "PUT";
    case GW_METHOD_DELETE:
        return "DELETE";
    case GW_METHOD_CONNECT:
        return "CONNECT";
    case GW_METHOD_OPTIONS:
        return "OPTIONS";
    case GW_METHOD_TRACE:
        return "TRACE";
    case GW_METHOD_PATCH:
        return "PATCH";
    case GW_METHOD_OTHER:
    default:
        return NULL;
    }
}

size_t gw_http_method_list(uint32_t mask, const char *sep, char *out, size_t cap)
{
    size_t len = 0, seplen = strlen(sep);
    if (cap == 0)
        return 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof gw_http_listed_methods / sizeof gw_http_listed_methods[0]; i++) {
        enum gw_http_method m = gw_http_listed_methods[i];
        if (!(mask & (1u << m)))
            continue;
        const char *name = gw_http_method_name(m);
        size_t nl = strlen(name);
        if (len + (len ? seplen : 0) + nl >= cap)
            break;
        if (len) {
            memcpy(out + len, sep, seplen);
            len += seplen;
        }
        memcpy(out + len, name, nl);
        len += nl;
        out[len] = '\0';
    }
    return len;
}
