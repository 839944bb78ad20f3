#!/usr/bin/env bash
# tracing_compare.sh: what tracing at 100% sampling costs, against tracing off, in one run.
#
# Starts an OTLP/HTTP sink (nginx answering 200 to every POST /v1/traces, reading and dropping
# the body: a collector as cheap as it gets, so that the run measures gantry), pinned to the load
# generator's CPU (cpu0; the proxies and the origin are on cpu1 in peers.sh's default layout),
# then runs ../shared/bench/peers.sh with two gantry peers from the same binary:
#   tracing-100  bench/gantry-peers-tracing.json (tracing on, sample_ratio 1, exporting to the sink)
#   tracing-off  bench/gantry-peers.json        (no tracing section: the default)
# Extra arguments go to peers.sh (default: --only tput --bodies ok --rounds 7 --lat-conns 0).
# The sink is stopped by its pid at exit.
#
#   bash bench/tracing_compare.sh [peers.sh options]
#   GANTRY_BIN=build/release/gantry OTLP_PORT=18091 bash bench/tracing_compare.sh --rounds 9
set -euo pipefail
cd "$(dirname "$0")/.."
GANTRY_BIN=${GANTRY_BIN:-build/release/gantry}
OTLP_PORT=${OTLP_PORT:-18091}
PEERS=${PEERS:-../shared/bench/peers.sh}
args=("$@")
if [[ ${#args[@]} -eq 0 ]]; then
    args=(--only tput --bodies ok --rounds 7 --lat-conns 0)
fi
tmp=$(mktemp -d /tmp/gantry-tracing-bench.XXXXXX)
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$tmp/sink.nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $tmp/sink.pid;
error_log $tmp/sink.error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_max_body_size 512m;
    client_body_buffer_size 4m;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$OTLP_PORT;
        location = /v1/traces { return 200 '{}'; }
    }
}
CONF
pin=()
if [[ $(nproc) -ge 2 ]]; then pin=(taskset -c 0); fi
"${pin[@]}" nginx -p "$tmp" -e "$tmp/sink.error.log" -c "$tmp/sink.nginx.conf" -g 'daemon off;' &
sink=$!
cleanup() {
    kill "$sink" 2>/dev/null || true
    wait "$sink" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
    if curl -s -o /dev/null -X POST --data '{}' "http://127.0.0.1:$OTLP_PORT/v1/traces"; then break; fi
    sleep 0.05
done
bin=$(realpath "$GANTRY_BIN")
OTLP_PORT=$OTLP_PORT "$PEERS" "${args[@]}" \
    --sut-name tracing-100 --sut-cmd "$bin -c $PWD/bench/gantry-peers-tracing.json" \
    --peer "tracing-off:18086:$bin -c $PWD/bench/gantry-peers.json"
