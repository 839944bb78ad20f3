/*
 * Accept-Encoding (RFC 9110 12.5.3):
 *
 *   Accept-Encoding  = #( codings [ weight ] )
 *   codings          = content-coding / "identity" / "*"
 *   weight           = OWS ";" OWS "q=" qvalue
 *   qvalue           = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 *
 * "If the representation has no content coding, then it is acceptable by default unless
 * specifically excluded by the Accept-Encoding header field stating either "identity;q=0" or
 * "*;q=0" without a more specific entry for "identity"." and "An Accept-Encoding header field
 * with a field value that is empty implies that the user agent does not want any content coding
 * in response."
 */
#include "http1/accept_encoding.h"

#include <stdbool.h>
#include <strings.h>

#include "http1/internal.h"

void gw_accept_encoding_init(struct gw_accept_encoding *p)
{
    p->gzip = p->br = p->identity = p->star = GW_QVALUE_UNSET;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool token_is(const char *s, size_t n, const char *word)
{
    size_t wn = 0;
    while (word[wn])
        wn++;
    return n == wn && strncasecmp(s, word, n) == 0;
}

int gw__http1_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* One list element e[0..n): a coding and its parameters. */
static void parse_element(struct gw_accept_encoding *p, const char *e, size_t n)
{
    size_t i = 0;
    while (i < n && e[i] != ';' && !is_ows(e[i]))
        i++;
    size_t name_len = i;
    if (name_len == 0)
        return;
    int q = 1000;
    while (i < n) {
        while (i < n && is_ows(e[i]))
            i++;
        if (i == n)
            break;
        if (e[i] != ';')
            return; /* junk after the coding */
        i++;
        while (i < n && is_ows(e[i]))
            i++;
        size_t ps = i;
        while (i < n && e[i] != ';' && !is_ows(e[i]))
            i++;
        if (i - ps >= 2 && (e[ps] == 'q' || e[ps] == 'Q') && e[ps + 1] == '=') {
            q = gw__http1_qvalue(e + ps + 2, i - ps - 2);
            if (q < 0)
                return;
        }
    }
    if (token_is(e, name_len, "gzip") || token_is(e, name_len, "x-gzip"))
        p->gzip = q;
    else if (token_is(e, name_len, "br"))
        p->br = q;
    else if (token_is(e, name_len, "identity"))
        p->identity = q;
    else if (token_is(e, name_len, "*"))
        p->star = q;
}

void gw_accept_encoding_parse(struct gw_accept_encoding *p, const char *v, size_t n)
{
    size_t at = 0, s, e;
    while (gw__http1_list_next(v, n, &at, &s, &e))
        parse_element(p, v + s, e - s);
}

/* The q a coding gets: its own entry, else "*"'s, else not acceptable. */
static int q_of(int named, int star)
{
    if (named != GW_QVALUE_UNSET)
        return named;
    return star != GW_QVALUE_UNSET ? star : 0;
}

enum gw_coding gw_accept_encoding_choose(const struct gw_accept_encoding *p, unsigned offered)
{
    int q_br = (offered & GW_CODING_BIT(GW_CODING_BR)) ? q_of(p->br, p->star) : 0;
    int q_gzip = (offered & GW_CODING_BIT(GW_CODING_GZIP)) ? q_of(p->gzip, p->star) : 0;
    /* identity is acceptable by default, but as the fallback: it outranks a coding only when the
     * client names it with a higher q. */
    int q_id = p->identity != GW_QVALUE_UNSET ? p->identity : 0;
    enum gw_coding best = q_br >= q_gzip ? GW_CODING_BR : GW_CODING_GZIP;
    int q = best == GW_CODING_BR ? q_br : q_gzip;
    if (q > 0 && q >= q_id)
        return best;
    return GW_CODING_IDENTITY;
}
