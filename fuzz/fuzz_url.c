/*
 * libFuzzer target for core/url.c. On every input: gw_url_parse answers 0 or GW_EINVAL with a
 * reason and agrees with gw_url_scheme_of; gw_url_redact and gw_url_decode_dup stay in their
 * buffers. On success the parts must rebuild the input byte for byte (scheme "://" [userinfo
 * "@"] authority path ["?" query] ["#" fragment]), hold only visible ASCII (nothing can break
 * a request line), the authority must parse alone to the same host and port, a name host holds
 * only name characters, an IP host passes inet_pton, the port is the scheme's when none is
 * written, a Redis database number is in range, the decoded user and password hold no NUL, and
 * a redacted URL with userinfo shows "***" right after "://". Any violation traps.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/url.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static bool visible(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
            return false;
    }
    return true;
}

static bool within(const char *p, size_t n, const char *in, size_t size)
{
    return p >= in && n <= size && p - in <= (ptrdiff_t)(size - n);
}

/* Appends p[0..n) to buf at *o (buf has room for the whole input). */
static void add(char *buf, size_t *o, const char *p, size_t n)
{
    memcpy(buf + *o, p, n);
    *o += n;
}

static size_t count_escapes(const char *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '%';
    return k;
}

static void check_decoded(const char *p, size_t n)
{
    char *d = gw_url_decode_dup(p, n);
    if (d == NULL)
        return;
    CHECK(strlen(d) == n - 2 * count_escapes(p, n));
    free(d);
}

static void check_host(const struct gw_url_authority *h)
{
    char buf[64];
    unsigned char addr[16];
    CHECK(h->host_len > 0);
    if (h->kind == GW_URL_HOST_NAME) {
        CHECK(h->host_len <= 253);
        for (size_t i = 0; i < h->host_len; i++) {
            unsigned char c = (unsigned char)h->host[i];
            CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.');
        }
        return;
    }
    CHECK(h->host_len < sizeof(buf));
    memcpy(buf, h->host, h->host_len);
    buf[h->host_len] = '\0';
    CHECK(inet_pton(h->kind == GW_URL_HOST_IPV6 ? AF_INET6 : AF_INET, buf, addr) == 1);
}

static void check_url(const char *in, size_t size, const struct gw_url *u)
{
    static const uint16_t default_port[] = {
        [GW_URL_HTTP] = 80, [GW_URL_HTTPS] = 443, [GW_URL_REDIS] = 6379, [GW_URL_REDISS] = 6379};
    CHECK(u->scheme >= GW_URL_HTTP && u->scheme <= GW_URL_REDISS);
    CHECK(gw_url_scheme_of(in, size) == u->scheme);

    /* The parts rebuild the input. */
    char *re = malloc(size + 1);
    size_t o = 0;
    CHECK(re != NULL);
    const char *sep = memchr(in, ':', size);
    CHECK(sep != NULL);
    add(re, &o, in, (size_t)(sep - in) + 3);
    if (u->user != NULL) {
        CHECK(within(u->user, u->user_len, in, size));
        add(re, &o, u->user, u->user_len);
        if (u->password != NULL) {
            CHECK(within(u->password, u->password_len, in, size));
            add(re, &o, ":", 1);
            add(re, &o, u->password, u->password_len);
            check_decoded(u->password, u->password_len);
        }
        add(re, &o, "@", 1);
        check_decoded(u->user, u->user_len);
    } else {
        CHECK(u->password == NULL);
    }
    CHECK(within(u->authority, u->authority_len, in, size));
    add(re, &o, u->authority, u->authority_len);
    CHECK(within(u->path, u->path_len, in, size));
    CHECK(u->path_len == 0 || u->path[0] == '/');
    add(re, &o, u->path, u->path_len);
    if (u->query != NULL) {
        CHECK(within(u->query, u->query_len, in, size));
        add(re, &o, "?", 1);
        add(re, &o, u->query, u->query_len);
        CHECK(memchr(u->query, '#', u->query_len) == NULL);
    }
    if (u->fragment != NULL) {
        CHECK(within(u->fragment, u->fragment_len, in, size));
        add(re, &o, "#", 1);
        add(re, &o, u->fragment, u->fragment_len);
    }
    CHECK(o == size && memcmp(re, in, size) == 0);
    free(re);
    CHECK(visible(in, size));

    /* The authority alone parses to the same host and port. */
    struct gw_url_authority a;
    const char *why = NULL;
    CHECK(gw_url_parse_authority(u->authority, u->authority_len, &a, &why) == 0);
    CHECK(a.host == u->host.host && a.host_len == u->host.host_len && a.kind == u->host.kind);
    CHECK(a.has_port == u->host.has_port && (!a.has_port || a.port == u->port));
    check_host(&u->host);
    CHECK(u->port >= 1);
    if (!u->host.has_port)
        CHECK(u->port == default_port[u->scheme]);
    if (u->scheme == GW_URL_REDIS || u->scheme == GW_URL_REDISS)
        CHECK(u->db <= GW_URL_REDIS_MAX_DB);
    else
        CHECK(u->db == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches a read one byte past the end. */
    char *in = malloc(size > 0 ? size : 1);
    if (in == NULL)
        return 0;
    if (size > 0)
        memcpy(in, data, size);

    struct gw_url u;
    const char *why = NULL;
    int rc = gw_url_parse(in, size, &u, &why);
    if (rc == 0)
        check_url(in, size, &u);
    else
        CHECK(rc == GW_EINVAL && why != NULL && why[0] != '\0');

    /* The redaction is bounded, terminated, and hides a parsed user and password. */
    size_t cap = size + 4;
    char *out = malloc(cap);
    if (out != NULL) {
        gw_url_redact(in, size, out, cap);
        CHECK(strlen(out) < cap);
        if (rc == 0 && u.user != NULL) {
            const char *sep = strstr(out, "://");
            CHECK(sep != NULL && strncmp(sep + 3, "***@", 4) == 0);
        }
        gw_url_redact(in, size, out, 1 + size % 7);
        CHECK(strlen(out) <= size % 7);
        free(out);
    }

    struct gw_url_authority a;
    if (gw_url_parse_authority(in, size, &a, &why) == 0 && a.host_len > 0)
        check_host(&a);
    (void)gw_url_check_host_name(in, size);
    char *d = gw_url_decode_dup(in, size);
    free(d);
    free(in);
    return 0;
}
