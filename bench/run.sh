#!/usr/bin/env bash
# bench/run.sh: gantry's benchmarks, run by `make bench`.
#
#   1. micro-benchmarks from the bench build: request parser (MB/s against a naive loop),
#      router (ns per lookup at 10 and 10,000 routes) and IP lists (ns per lookup at 10 to
#      10,000 blocks);
#   2. bench/proxy_compare.py: gantry next to nginx and HAProxy and direct-to-origin, wrk in
#      interleaved rounds, Markdown report on stdout (see bench/README.md);
#   3. bench/policy_compare.py: the req/s cost of rate limiting (local, Redis), JWT auth,
#      metrics (on against off), tracing at 100% sampling, and CORS + security headers + a
#      header transformation (against no policy): variants of the same gantry binary in
#      interleaved rounds, Markdown report on stdout;
#   4. bench/cache_compare.py: the response cache's HIT path against nginx proxy_cache and
#      against gantry uncached (3 B and 4 KiB bodies), with issue 13's goals marked.
#
# Environment: GW_BUILD_DIR (default build/bench) holds bench_parser, bench_router, bench_cidr;
# GANTRY_BIN (default $GW_BUILD_DIR/gantry) is the proxy under test. Arguments are passed to
# proxy_compare.py and policy_compare.py (--rounds N, --duration S, --body ok,4k,64k, --keep-tmp).
# Exits non-zero when a micro-benchmark fails, a server does not start or a body check fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
GW_BUILD_DIR=${GW_BUILD_DIR:-build/bench}
export GANTRY_BIN=${GANTRY_BIN:-$GW_BUILD_DIR/gantry}

for bin in bench_parser bench_parser_scalar bench_router bench_cidr; do
    if [[ ! -x $GW_BUILD_DIR/$bin ]]; then
        echo "bench/run.sh: $GW_BUILD_DIR/$bin not found; build with -DGW_BENCH=ON (make bench)" >&2
        exit 1
    fi
done

echo "== bench_parser"
"$GW_BUILD_DIR/bench_parser" 1
echo "== bench_parser_scalar (the same parser with the SSE2 scans compiled out)"
"$GW_BUILD_DIR/bench_parser_scalar" 1
echo
echo "== bench_router"
"$GW_BUILD_DIR/bench_router"
echo
echo "== bench_cidr"
"$GW_BUILD_DIR/bench_cidr"
echo
echo "== proxy comparison"
# Both get the arguments (policy_compare.py ignores the proxy-only ones); either failing makes
# the exit status non-zero, and an interrupted first one (130, Ctrl-C) skips the second.
rc=0
python3 bench/proxy_compare.py "$@" || rc=$?
if ((rc != 130)); then
    echo; echo "== policy cost"
    python3 bench/policy_compare.py "$@" || rc=$?
fi
if ((rc != 130)); then
    echo; echo "== response cache"
    python3 bench/cache_compare.py "$@" || rc=$?
fi
exit "$rc"
