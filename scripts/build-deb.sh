#!/usr/bin/env bash
# Builds the Debian package from a copy of this tree.
#
#   scripts/build-deb.sh OUT_DIR
#
# Copies the tree (without build/, .git and tests/node/node_modules) to OUT_DIR/src, runs
# `dpkg-buildpackage -b -uc -us` there and leaves gantry_<version>_<arch>.deb (with its
# .buildinfo and .changes) in OUT_DIR. Then runs lintian on the .deb when it is installed and
# prints its tags (the package is meant to have none; see README "Deploying").
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$out/src

for tool in dpkg-buildpackage dh; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "build-deb.sh: $tool not found: apt-get install dpkg-dev debhelper" >&2
        exit 1
    }
done

rm -rf "$src"
mkdir -p "$src"
# Every file git knows (committed or not) plus untracked files that are not ignored.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$root" && grep -zv -e '^build/' -e '^tests/node/node_modules/' |
        xargs -0 -r cp --parents -t "$src" 2>/dev/null || true)
[[ -f $src/debian/rules ]] || { echo "build-deb.sh: copy failed (no debian/rules)" >&2; exit 1; }

rm -f "$out"/gantry_*.deb "$out"/gantry_*.buildinfo "$out"/gantry_*.changes
(cd "$src" && dpkg-buildpackage -b -uc -us >"$out/build.log" 2>&1) || {
    tail -40 "$out/build.log" >&2
    echo "build-deb.sh: dpkg-buildpackage failed; the whole log is $out/build.log" >&2
    exit 1
}
deb=$(ls "$out"/gantry_*.deb)
echo "$deb"
if command -v lintian >/dev/null 2>&1; then
    lintian --allow-root --fail-on error,warning "$deb" && echo "lintian: no errors or warnings"
fi
