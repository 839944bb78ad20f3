/*
 * IP list lookup micro-benchmark: ns per gw_cidr_set_has (the compiled set the ip_rules stage
 * uses) against a linear scan with gw_cidr_has, for lists of 10, 1,000 and 10,000 random blocks
 * (IPv4 /16 to /32, IPv6 /32 to /128), with addresses half inside and half outside.
 * Each cell runs batches of lookups until ~0.3 s has passed (CLOCK_MONOTONIC).
 *
 *   bench_cidr            print the table
 *   bench_cidr 0.1        seconds per cell
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "net/addr.h"

#define NPROBES 4096

static volatile uintptr_t sink;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void random_block(struct gw_cidr *c, int family)
{
    memset(c, 0, sizeof *c);
    c->family = family;
    size_t len = family == AF_INET ? 4 : 16;
    for (size_t i = 0; i < len; i++)
        c->addr[i] = (uint8_t)rnd();
    if (family == AF_INET6) {
        c->addr[0] = 0x20;
        c->addr[1] = 0x01;
    }
    c->bits = (uint8_t)(family == AF_INET ? 16 + rnd() % 17 : 32 + rnd() % 97);
    for (unsigned i = c->bits; i < len * 8; i++)
        c->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

struct probe {
    uint8_t a[16];
};

static double run(const struct gw_cidr_set *set, const struct gw_cidr *list, size_t n, int family,
                  const struct probe *probes, double seconds)
{
    uint64_t lookups = 0;
    uintptr_t acc = 0;
    double start = now_s(), end;
    do {
        for (size_t p = 0; p < NPROBES; p++) {
            if (set) {
                acc += gw_cidr_set_has(set, family, probes[p].a);
            } else {
                bool hit = false;
                for (size_t i = 0; i < n && !hit; i++)
                    hit = gw_cidr_has(&list[i], family, probes[p].a);
                acc += hit;
            }
        }
        lookups += NPROBES;
        end = now_s();
    } while (end - start < seconds);
    sink = acc;
    return (end - start) * 1e9 / (double)lookups;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 0.3;
    const size_t sizes[] = {10, 1000, 10000};
    const int families[] = {AF_INET, AF_INET6};
    struct probe *probes = calloc(NPROBES, sizeof *probes);
    if (probes == NULL)
        return 1;
    printf("IP list lookup, ns per address (%.2f s per cell)\n\n", seconds);
    printf("%-8s %-6s %10s %12s %8s\n", "entries", "family", "set", "linear", "ranges");
    for (size_t f = 0; f < 2; f++) {
        int family = families[f];
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            struct gw_cidr *list = calloc(n, sizeof *list);
            if (list == NULL)
                return 1;
            for (size_t i = 0; i < n; i++)
                random_block(&list[i], family);
            /* half the probes inside a random block (its network address), half random */
            for (size_t p = 0; p < NPROBES; p++) {
                struct gw_cidr c;
                if (p % 2 == 0)
                    c = list[rnd() % n];
                else
                    random_block(&c, family);
                memcpy(probes[p].a, c.addr, 16);
            }
            struct gw_cidr_set *set = NULL;
            if (gw_cidr_set_new(list, n, &set) != 0)
                return 1;
            double ns_set = run(set, list, n, family, probes, seconds);
            double ns_lin = run(NULL, list, n, family, probes, seconds);
            printf("%-8zu %-6s %10.1f %12.1f %8zu\n", n, family == AF_INET ? "IPv4" : "IPv6",
                   ns_set, ns_lin, gw_cidr_set_ranges(set, family));
            gw_cidr_set_free(set);
            free(list);
        }
    }
    free(probes);
    return 0;
}
