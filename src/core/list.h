/* Intrusive doubly linked list (circular, with a head node). */
#ifndef GW_CORE_LIST_H
#define GW_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct gw_list {
    struct gw_list *prev;
    struct gw_list *next;
};

#define gw_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void gw_list_init(struct gw_list *l)
{
    l->prev = l->next = l;
}

static inline bool gw_list_empty(const struct gw_list *l)
{
    return l->next == l;
}

static inline void gw_list_insert_head(struct gw_list *head, struct gw_list *n)
{
    n->next = head->next;
    n->prev = head;
    head->next->prev = n;
    head->next = n;
}

static inline void gw_list_insert_tail(struct gw_list *head, struct gw_list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

static inline void gw_list_remove(struct gw_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}

/* Moves every node of src to dst (its old nodes are dropped: dst is initialised); src is left
 * empty. */
static inline void gw_list_take(struct gw_list *dst, struct gw_list *src)
{
    gw_list_init(dst);
    if (gw_list_empty(src))
        return;
    dst->next = src->next;
    dst->prev = src->prev;
    dst->next->prev = dst;
    dst->prev->next = dst;
    gw_list_init(src);
}

#endif
