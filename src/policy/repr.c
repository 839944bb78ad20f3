/*
 * The header fields of a response whose bytes a policy changes (policy/repr.h).
 */
#include "policy/repr.h"

#include <string.h>
#include <strings.h>

#include "policy/chain.h"

static bool name_is(const struct gw_http1_header *h, const char *name, size_t n)
{
    return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

static bool dropped(const struct gw_http1_header *h, unsigned what)
{
    if ((what & GW_REPR_DROP_BYTE_FIELDS) &&
        (name_is(h, "accept-ranges", 13) || name_is(h, "content-md5", 11) ||
         name_is(h, "digest", 6) || name_is(h, "content-digest", 14) ||
         name_is(h, "repr-digest", 11)))
        return true;
    if ((what & GW_REPR_DROP_ENCODING) && name_is(h, "content-encoding", 16))
        return true;
    return (what & GW_REPR_DROP_LENGTH) && name_is(h, "content-length", 14);
}

void gw_repr_fields_changed(struct gw_request *r, struct gw_http1_message *m, unsigned what)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < m->num_headers; i++) {
        struct gw_http1_header *h = &m->headers[i];
        if (dropped(h, what))
            continue;
        if ((what & GW_REPR_WEAKEN_ETAG) && name_is(h, "etag", 4) &&
            !(h->value_len >= 2 && h->value[0] == 'W' && h->value[1] == '/')) {
            char *v = gw_stage_alloc(r, (size_t)h->value_len + 2);
            if (v == NULL)
                continue;
            memcpy(v, "W/", 2);
            memcpy(v + 2, h->value, h->value_len);
            h->value = v;
            h->value_len += 2;
        }
        m->headers[w++] = *h;
    }
    m->num_headers = w;
}
