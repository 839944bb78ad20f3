#!/usr/bin/env bash
# Ensure the Debian packages a profile needs are installed.
#
#   scripts/deps.sh run|test|fuzz|bench
#
# Prints nothing and exits 0 when everything is already installed. Otherwise, as root (or with
# passwordless sudo) it installs what is missing with apt-get; as anyone else it prints the
# command to run and exits 1. Never reads stdin, so it works in CI.
#
# The test profile also needs Node.js and npm (the machine's own when it has them, else
# Debian's) and Debian's chromium for the browser tests, and installs the npm packages of
# tests/node (puppeteer-core) with `npm ci` from its package-lock.json, again only when they
# are missing or the lock file changed.
set -euo pipefail

usage() {
    echo "usage: $0 run|test|fuzz|bench" >&2
    exit 2
}
[[ $# -eq 1 ]] || usage
profile=$1

# clang's libFuzzer/sanitizer runtimes are packaged per clang major version (14 on Debian 12).
clang_major=14
if command -v clang >/dev/null 2>&1; then
    v=$(clang -dumpversion 2>/dev/null || true)
    if [[ $v =~ ^([0-9]+) ]]; then
        clang_major=${BASH_REMATCH[1]}
    fi
fi

packages=(build-essential cmake pkg-config libuv1-dev libjansson-dev libssl-dev libhiredis-dev libpcre2-dev
          zlib1g-dev libbrotli-dev libsqlite3-dev libpq-dev libsodium-dev libyaml-dev libwslay-dev libnghttp2-dev python3)
case $profile in
run) packages+=(curl openssl) ;;
test)
    packages+=(libcmocka-dev curl openssl sslscan redis-server dnsmasq-base valgrind prometheus python3-brotli chromium
              postgresql sqlite3 nghttp2-client python3-h2)
    # Packaging tests: make deb (dpkg-buildpackage, debhelper), lintian, the man page (man-db),
    # systemd-analyze verify (systemd), logrotate.
    packages+=(dpkg-dev debhelper lintian man-db systemd logrotate)
    # A machine may bring its own Node.js (with npm); Debian's are the fallback, and Debian's
    # npm must not be added beside another nodejs build.
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
    ;;
fuzz) packages+=(clang "libclang-rt-${clang_major}-dev") ;;
bench) packages+=(wrk nginx haproxy nghttp2-client valgrind strace curl redis-server openssl) ;;
*) usage ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found; install the equivalents of: ${packages[*]}" >&2
    exit 1
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

# libFuzzer ships in a package whose name follows clang's version; prove it links.
check_fuzzer() {
    local dir rc=0
    dir=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$dir/f.c"
    clang -fsanitize=fuzzer,address,undefined "$dir/f.c" -o "$dir/f" >"$dir/log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        echo "deps.sh: 'clang -fsanitize=fuzzer' does not link; clang $(clang -dumpversion)" \
            "needs its libclang-rt dev package:" >&2
        cat "$dir/log" >&2
    fi
    rm -rf "$dir"
    return "$rc"
}

# tests/node: `npm ci` from the lock file, when node_modules is absent or older than the lock.
node_packages() {
    local dir stamp
    dir=$(cd "$(dirname "$0")/.." && pwd)/tests/node
    stamp=$dir/node_modules/.gantry-lock
    [[ -f $dir/package-lock.json ]] || return 0
    if [[ -f $stamp ]] && cmp -s "$stamp" "$dir/package-lock.json"; then
        return 0
    fi
    echo "deps.sh: installing the npm packages of tests/node (npm ci)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null >&2)
    cp "$dir/package-lock.json" "$stamp"
}

if [[ ${#missing[@]} -eq 0 ]]; then
    if [[ $profile == fuzz ]]; then
        check_fuzzer
    fi
    if [[ $profile == test ]]; then
        node_packages
    fi
    exit 0
fi

install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
if [[ $(id -u) -eq 0 ]]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "deps.sh: missing packages for '$profile': ${missing[*]}" >&2
    echo "run: sudo ${install_cmd[*]}" >&2
    exit 1
fi

echo "deps.sh: installing for '$profile': ${missing[*]}" >&2
apt_env=(env DEBIAN_FRONTEND=noninteractive)
update() {
    "${sudo[@]}" "${apt_env[@]}" apt-get update </dev/null
}
# Refresh the package lists only when there are none yet or when the install fails without it.
if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    update
    "${sudo[@]}" "${apt_env[@]}" "${install_cmd[@]}" </dev/null
elif ! "${sudo[@]}" "${apt_env[@]}" "${install_cmd[@]}" </dev/null; then
    update
    "${sudo[@]}" "${apt_env[@]}" "${install_cmd[@]}" </dev/null
fi

if [[ $profile == fuzz ]]; then
    check_fuzzer
fi
if [[ $profile == test ]]; then
    node_packages
fi
