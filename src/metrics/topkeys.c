/*
 * The rate limits' top refused keys (metrics/topkeys.h has the contract).
 */
#include "metrics/topkeys.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/error.h"

struct slot {
    uint64_t hash; /* of limit and key; 0: free */
    uint64_t count;
    uint64_t error;
    char limit[GW_TOPKEYS_LIMIT_MAX];
    char key[GW_TOPKEYS_KEY_MAX];
};

struct table {
    uv_mutex_t lock;
    size_t used;
    struct slot s[GW_TOPKEYS_SLOTS];
};

struct gw_topkeys {
    unsigned workers;
    struct table t[];
};

/* FNV-1a over limit, a separator and key; never 0. */
static uint64_t hash_of(const char *l, size_t ln, const char *k, size_t kn)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < ln; i++)
        h = (h ^ (unsigned char)l[i]) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
    for (size_t i = 0; i < kn; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h ? h : 1;
}

int gw_topkeys_new(unsigned workers, struct gw_topkeys **out)
{
    struct gw_topkeys *t = calloc(1, sizeof *t + (size_t)workers * sizeof t->t[0]);
    if (t == NULL)
        return GW_ENOMEM;
    for (unsigned i = 0; i < workers; i++) {
        if (uv_mutex_init(&t->t[i].lock) != 0) {
            for (unsigned j = 0; j < i; j++)
                uv_mutex_destroy(&t->t[j].lock);
            free(t);
            return GW_ENOMEM;
        }
    }
    t->workers = workers;
    *out = t;
    return 0;
}

void gw_topkeys_free(struct gw_topkeys *t)
{
    if (t == NULL)
        return;
    for (unsigned i = 0; i < t->workers; i++)
        uv_mutex_destroy(&t->t[i].lock);
    free(t);
}

static void put(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void gw_topkeys_record(struct gw_topkeys *t, unsigned worker, const char *limit, size_t llen,
                       const char *key, size_t klen)
{
    if (t == NULL || worker >= t->workers)
        return;
    /* Compare what is stored: the cut strings. */
    if (llen >= GW_TOPKEYS_LIMIT_MAX)
        llen = GW_TOPKEYS_LIMIT_MAX - 1;
    if (klen >= GW_TOPKEYS_KEY_MAX)
        klen = GW_TOPKEYS_KEY_MAX - 1;
    uint64_t h = hash_of(limit, llen, key, klen);
    struct table *tb = &t->t[worker];
    uv_mutex_lock(&tb->lock);
    struct slot *min = NULL;
    for (size_t i = 0; i < tb->used; i++) {
        struct slot *s = &tb->s[i];
        if (s->hash == h && strncmp(s->limit, limit, llen) == 0 && s->limit[llen] == '\0' &&
            strncmp(s->key, key, klen) == 0 && s->key[klen] == '\0') {
            s->count++;
            uv_mutex_unlock(&tb->lock);
            return;
        }
        if (min == NULL || s->count < min->count)
            min = s;
    }
    struct slot *s;
    if (tb->used < GW_TOPKEYS_SLOTS) {
        s = &tb->s[tb->used++];
        s->count = 1;
        s->error = 0;
    } else { /* space-saving: the newcomer takes the smallest pair's place and count */
        s = min;
        s->error = s->count;
        s->count++;
    }
    s->hash = h;
    put(s->limit, sizeof s->limit, limit, llen);
    put(s->key, sizeof s->key, key, klen);
    uv_mutex_unlock(&tb->lock);
}

static int by_pair(const void *a, const void *b)
{
    const struct gw_topkeys_entry *x = a, *y = b;
    int c = strcmp(x->limit, y->limit);
    return c ? c : strcmp(x->key, y->key);
}

static int by_rank(const void *a, const void *b)
{
    const struct gw_topkeys_entry *x = a, *y = b;
    int c = strcmp(x->limit, y->limit);
    if (c)
        return c;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t gw_topkeys_read(struct gw_topkeys *t, size_t per_limit, struct gw_topkeys_entry *out,
                       size_t cap)
{
    if (t == NULL || cap == 0)
        return 0;
    size_t total = (size_t)t->workers * GW_TOPKEYS_SLOTS;
    struct gw_topkeys_entry *all = malloc((total ? total : 1) * sizeof *all);
    if (all == NULL)
        return 0;
    size_t n = 0;
    for (unsigned w = 0; w < t->workers; w++) {
        struct table *tb = &t->t[w];
        uv_mutex_lock(&tb->lock);
        for (size_t i = 0; i < tb->used; i++) {
            memcpy(all[n].limit, tb->s[i].limit, sizeof all[n].limit);
            memcpy(all[n].key, tb->s[i].key, sizeof all[n].key);
            all[n].count = tb->s[i].count;
            all[n].error = tb->s[i].error;
            n++;
        }
        uv_mutex_unlock(&tb->lock);
    }
    qsort(all, n, sizeof *all, by_pair);
    size_t m = 0; /* merge equal pairs in place */
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && by_pair(&all[m - 1], &all[i]) == 0) {
            all[m - 1].count += all[i].count;
            all[m - 1].error += all[i].error;
        } else {
            all[m++] = all[i];
        }
    }
    qsort(all, m, sizeof *all, by_rank);
    size_t o = 0, run = 0;
    for (size_t i = 0; i < m && o < cap; i++) {
        run = i > 0 && strcmp(all[i - 1].limit, all[i].limit) == 0 ? run + 1 : 0;
        if (run < per_limit)
            out[o++] = all[i];
    }
    free(all);
    return o;
}

void gw_topkeys_clear(struct gw_topkeys *t)
{
    for (unsigned w = 0; t != NULL && w < t->workers; w++) {
        uv_mutex_lock(&t->t[w].lock);
        t->t[w].used = 0;
        uv_mutex_unlock(&t->t[w].lock);
    }
}
