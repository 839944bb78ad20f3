#!/bin/sh
# Makes a self-signed certificate and key for trying gantry's HTTPS listener
# (examples/gantry-tls.json). Not for production: use a certificate from your CA or ACME client.
#
#   scripts/gen-selfsigned.sh [DIR] [NAME...]
#
# DIR defaults to examples/certs; NAMEs (default: localhost) become the subject alternative
# names (DNS names, or IP addresses such as 127.0.0.1). Writes DIR/cert.pem and DIR/key.pem
# (an ECDSA P-256 key, mode 600), valid for 30 days.
set -eu
dir=${1:-examples/certs}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- localhost 127.0.0.1
san=""
for n in "$@"; do
    case $n in
    *[!0-9.:]*) entry="DNS:$n" ;;
    *) entry="IP:$n" ;;
    esac
    san=${san:+$san,}$entry
done
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$1" -addext "subjectAltName=$san" \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 644 "$dir/cert.pem"
echo "wrote $dir/cert.pem and $dir/key.pem ($san)"
