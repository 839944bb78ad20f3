#!/usr/bin/env bash
# Start gantry on examples/gantry.json (or $GW_CONFIG: make run-tls uses examples/gantry-tls.json)
# in front of the example services (make run).
#
# Builds nothing: `make run` builds first. Starts build/release/example_users on port 3001 and
# build/release/example_orders on port 3002 when those binaries exist (port as argv[1] and in
# $PORT), then execs gantry so signals (Ctrl-C, SIGTERM, SIGHUP) reach it directly. The
# services are killed by pid when the script fails before the exec (EXIT trap) and, after it,
# by a watchdog that waits for gantry (this pid) to exit.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${GW_BUILD_DIR:-build/release}
config=${GW_CONFIG:-examples/gantry.json}

if [[ ! -f $config ]]; then
    echo "run-example: $config is missing; it is the example gateway configuration" >&2
    exit 1
fi
if [[ ! -x $build/gantry ]]; then
    echo "run-example: $build/gantry is not built; run 'make build' (or 'make run')" >&2
    exit 1
fi

pids=()
stop_services() {
    if [[ ${#pids[@]} -gt 0 ]]; then
        kill "${pids[@]}" 2>/dev/null || true
    fi
}
trap stop_services EXIT

# wait_port PORT: poll until something accepts on 127.0.0.1:PORT, at most ~5 s.
wait_port() {
    local i
    for ((i = 0; i < 50; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "run-example: nothing listens on port $1 yet; starting gantry anyway" >&2
}

start_service() {
    local name=$1 port=$2 bin=$build/example_$1
    if [[ ! -x $bin ]]; then
        echo "run-example: $bin not built; $name will be down" >&2
        return 0
    fi
    PORT=$port "$bin" "$port" &
    pids+=($!)
    echo "run-example: $name on port $port (pid $!)" >&2
    wait_port "$port"
}

start_service users 3001
start_service orders 3002

if [[ ${#pids[@]} -gt 0 ]]; then
    # exec drops this shell's traps, so a child outlives it to clean up after gantry.
    gateway=$$
    (
        trap '' INT HUP
        while kill -0 "$gateway" 2>/dev/null; do
            sleep 0.5
        done
        kill "${pids[@]}" 2>/dev/null || true
    ) </dev/null &
fi

trap - EXIT
# gantry runs on a copy: changes made through the admin API are written back to the file
# gantry runs on, and they belong in build/, not in the tracked example.
run_config=$build/gantry.json
cp "$config" "$run_config"
echo "run-example: gantry on $run_config (a copy of $config); admin API on 127.0.0.1:9000"
exec "$build/gantry" -c "$run_config"
