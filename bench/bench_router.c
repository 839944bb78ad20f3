/*
 * Router lookup micro-benchmark: ns per gw_router_match for routers of 10 and 10,000 services,
 * for hits, misses and a mix (3 hits : 1 miss), with and without host-specific routes.
 * Each cell runs batches of lookups until ~0.5 s has passed (clock_gettime, CLOCK_MONOTONIC).
 *
 *   bench_router            print the table
 *   bench_router 0.1        seconds per cell
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route/router.h"

#define NPATHS 4096 /* lookups cycle through this many prepared requests */

struct request {
    char host[48];
    char path[80];
    size_t host_len;
    size_t path_len;
    enum gw_http_method method;
};

struct bench_set {
    struct gw_router *router;
    struct request *hits;
    struct request *misses;
    struct request *mix;
};

static volatile uintptr_t sink;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Services "/svc/<i>" (any host); every tenth also under host "h<i>.example.com" and every
 * hundredth under "*.w<i>.example.com" when hosts is set. */
static int build_router(int services, int hosts, struct gw_router **out)
{
    size_t cap = (size_t)services * 2 + 8;
    struct gw_route_spec *specs = calloc(cap, sizeof(*specs));
    char(*names)[48] = calloc(cap * 2, sizeof(*names));
    if (specs == NULL || names == NULL) {
        free(specs);
        free(names);
        return GW_ENOMEM;
    }
    size_t n = 0;
    for (int i = 0; i < services; i++) {
        snprintf(names[2 * n], sizeof(names[0]), "/svc/%d", i);
        specs[n] = (struct gw_route_spec){.prefix = names[2 * n], .data = &specs[n]};
        n++;
        if (hosts && i % 10 == 0) {
            snprintf(names[2 * n], sizeof(names[0]), "/svc/%d", i);
            snprintf(names[2 * n + 1], sizeof(names[0]), "h%d.example.com", i);
            specs[n] = (struct gw_route_spec){
                .prefix = names[2 * n], .host = names[2 * n + 1], .data = &specs[n]};
            n++;
        }
        if (hosts && i % 100 == 0) {
            snprintf(names[2 * n], sizeof(names[0]), "/svc/%d", i);
            snprintf(names[2 * n + 1], sizeof(names[0]), "*.w%d.example.com", i);
            specs[n] = (struct gw_route_spec){
                .prefix = names[2 * n], .host = names[2 * n + 1], .data = &specs[n]};
            n++;
        }
    }
    int rc = gw_router_build(specs, n, out);
    free(specs);
    free(names);
    return rc;
}

static void make_request(struct request *q, int services, int hosts, int hit)
{
    int i = (int)rnd((uint32_t)services);
    if (hit)
        snprintf(q->path, sizeof(q->path), "/svc/%d/users/%u/orders", i, rnd(100000));
    else if (rnd(2))
        snprintf(q->path, sizeof(q->path), "/svc/%d/users/%u", services + i, rnd(100000));
    else
        snprintf(q->path, sizeof(q->path), "/static/assets/app.%u.js", rnd(100000));
    if (hosts && rnd(2))
        snprintf(q->host, sizeof(q->host), "h%d.example.com:8000", i - i % 10);
    else
        snprintf(q->host, sizeof(q->host), "gateway.internal");
    q->host_len = strlen(q->host);
    q->path_len = strlen(q->path);
    q->method = GW_METHOD_GET;
}

static double run(const struct gw_router *r, const struct request *reqs, double seconds,
                  int expect_hits)
{
    uint64_t iters = 0;
    uintptr_t acc = 0;
    double start = now_s(), elapsed;
    do {
        for (int k = 0; k < NPATHS; k++) {
            const struct request *q = &reqs[k];
            struct gw_route_match m;
            enum gw_route_result res =
                gw_router_match(r, q->host, q->host_len, q->path, q->path_len, q->method, &m);
            acc += (uintptr_t)m.data + (uintptr_t)res;
            if (expect_hits == 1 && res != GW_ROUTE_FOUND) {
                fprintf(stderr, "unexpected miss: %s %s\n", q->host, q->path);
                exit(1);
            }
            if (expect_hits == 0 && res != GW_ROUTE_NOT_FOUND) {
                fprintf(stderr, "unexpected hit: %s %s\n", q->host, q->path);
                exit(1);
            }
        }
        iters += NPATHS;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    sink = acc;
    return elapsed * 1e9 / (double)iters;
}

int main(int argc, char **argv)
{
    double seconds = 0.5;
    if (argc > 1) {
        char *end;
        seconds = strtod(argv[1], &end);
        if (*end != '\0' || seconds <= 0) {
            fprintf(stderr, "usage: %s [seconds-per-cell]\n", argv[0]);
            return 2;
        }
    }
    static const int sizes[] = {10, 10000};
    printf("gw_router_match, ns per lookup (%.2f s per cell)\n\n", seconds);
    printf("%-9s %-6s %8s %8s %8s\n", "services", "hosts", "hit", "miss", "mix");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (int hosts = 0; hosts <= 1; hosts++) {
            struct gw_router *r = NULL;
            if (build_router(sizes[s], hosts, &r) != 0) {
                fprintf(stderr, "build failed\n");
                return 1;
            }
            struct request *hit = calloc(NPATHS, sizeof(*hit));
            struct request *miss = calloc(NPATHS, sizeof(*miss));
            struct request *mix = calloc(NPATHS, sizeof(*mix));
            if (hit == NULL || miss == NULL || mix == NULL)
                return 1;
            for (int k = 0; k < NPATHS; k++) {
                make_request(&hit[k], sizes[s], hosts, 1);
                make_request(&miss[k], sizes[s], hosts, 0);
                make_request(&mix[k], sizes[s], hosts, k % 4 != 3);
            }
            double h = run(r, hit, seconds, 1);
            double m = run(r, miss, seconds, 0);
            double x = run(r, mix, seconds, -1);
            printf("%-9d %-6s %8.1f %8.1f %8.1f\n", sizes[s], hosts ? "yes" : "no", h, m, x);
            free(hit);
            free(miss);
            free(mix);
            gw_router_free(r);
        }
    }
    return 0;
}
