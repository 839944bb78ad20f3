/*
 * Helpers for the cache unit tests: a parsed message made from name/value pairs.
 */
#ifndef GW_TEST_CACHE_H
#define GW_TEST_CACHE_H

#include <string.h>

#include "http1/parser.h"

#define MSG_MAX_HEADERS 16

struct test_msg {
    struct gw_http1_message m;
    struct gw_http1_header h[MSG_MAX_HEADERS];
};

/* pairs: name, value, name, value, ..., NULL */
static inline void msg_make(struct test_msg *t, int status, const char *const *pairs)
{
    memset(t, 0, sizeof *t);
    t->m.headers = t->h;
    t->m.headers_capacity = MSG_MAX_HEADERS;
    t->m.status = status;
    t->m.host_index = -1;
    for (size_t i = 0; pairs != NULL && pairs[i] != NULL; i += 2) {
        struct gw_http1_header *h = &t->h[t->m.num_headers++];
        h->name = pairs[i];
        h->name_len = (uint32_t)strlen(pairs[i]);
        h->value = pairs[i + 1];
        h->value_len = (uint32_t)strlen(pairs[i + 1]);
    }
}

#endif
