/*
 * A buffer whose last readable byte sits just before a PROT_NONE page, so that a read past the
 * end of the bytes placed there faults at once, sanitizers or not. Shared by the parser and
 * decoder tests (tests/unit/http1). Include after <cmocka.h>, with _GNU_SOURCE defined before
 * the first system header (MAP_ANONYMOUS).
 */
#ifndef GW_TEST_GUARD_PAGE_H
#define GW_TEST_GUARD_PAGE_H

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
    char *map;
    size_t size; /* readable bytes; the PROT_NONE page follows */
    size_t page;
};

/* Maps at least need readable bytes (whole pages, at least one) and the guard page after them. */
static inline void guard_init(struct guard *g, size_t need)
{
    long page = sysconf(_SC_PAGESIZE);
    assert_true(page > 0);
    g->page = (size_t)page;
    g->size = (need + g->page - 1) / g->page * g->page;
    if (g->size == 0)
        g->size = g->page;
    g->map =
        mmap(NULL, g->size + g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + g->size, g->page, PROT_NONE), 0);
}

static inline void guard_free(struct guard *g)
{
    assert_int_equal(munmap(g->map, g->size + g->page), 0);
}

/* Copies n bytes (n <= g->size) so that the last one is the last readable byte, poisoning the
 * readable bytes before them; returns where they start. */
static inline char *guard_place(struct guard *g, const char *src, size_t n)
{
    char *dst = g->map + g->size - n;
    memset(g->map, 0x5A, g->size - n);
    if (n)
        memmove(dst, src, n);
    return dst;
}

#endif
