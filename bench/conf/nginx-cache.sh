#!/usr/bin/env bash
# nginx with proxy_cache, as a peer for ../shared/bench/peers.sh (--peer NAME:PORT:CMD): the
# reference for gantry's cache HIT path. Writes its config from the harness's environment (PORT,
# BACKEND_HOST, BACKEND_PORT, WORKERS, BENCH_TMP) and execs nginx in the foreground. Every 200
# is cached for 10 minutes (proxy_cache_valid: the bench origin sends no Cache-Control), with
# the lock on (collapsed misses), the cache directory under BENCH_TMP.
set -euo pipefail
dir="$BENCH_TMP/nginx-cache.$PORT"
mkdir -p "$dir/cache" "$dir/temp"
user_line=""
if [[ $(id -u) == 0 ]]; then
    user_line="user root root;"
fi
cat >"$dir/nginx.conf" <<CONF
$user_line
daemon off;
master_process off;
worker_processes ${WORKERS:-1};
pid $dir/nginx.pid;
error_log $dir/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 100000000;
    client_body_temp_path $dir/temp/body;
    proxy_temp_path $dir/temp/proxy;
    fastcgi_temp_path $dir/temp/fastcgi;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    proxy_cache_path $dir/cache levels=1:2 keys_zone=c:10m max_size=256m inactive=60m
                     use_temp_path=off;
    upstream origin {
        server $BACKEND_HOST:$BACKEND_PORT;
        keepalive 256;
        keepalive_requests 100000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache c;
            proxy_cache_valid 200 10m;
            proxy_cache_lock on;
        }
    }
}
CONF
exec nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log"
