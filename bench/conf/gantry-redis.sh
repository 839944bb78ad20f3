#!/usr/bin/env bash
# gantry with cache.backend "redis" and a redis-server of its own, as one target of
# bench/cache_compare.py: both are this script's children, so the target's CPU per request
# counts Redis's share too. Runs `redis-server` on REDIS_PORT (loopback, no persistence), then
# the command given as arguments (gantry); SIGTERM stops both.
set -euo pipefail
: "${REDIS_PORT:?}" "${BENCH_TMP:?}"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    >"$BENCH_TMP/redis.$REDIS_PORT.log" 2>&1 &
rpid=$!
"$@" &
gpid=$!
trap 'kill -TERM "$gpid" "$rpid" 2>/dev/null; wait "$gpid" "$rpid" 2>/dev/null; exit 0' TERM INT
wait "$gpid"
kill -TERM "$rpid" 2>/dev/null
wait "$rpid" 2>/dev/null || true
