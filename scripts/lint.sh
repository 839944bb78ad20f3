#!/usr/bin/env bash
# Fail on calls to banned functions in the C sources; print file:line:text for each.
#
#   strcpy sprintf vsprintf strtok atoi gets   (use snprintf, strtol/strtoull with checks,
#                                               fgets, memcpy with a known length)
#
# snprintf, vsnprintf, strtok_r and fgets are not matched. Lines that are comments
# (starting with //, /* or *) are skipped so contracts may name what they avoid.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=()
for d in src tests fuzz bench examples; do
    if [[ -d $d ]]; then
        dirs+=("$d")
    fi
done
[[ ${#dirs[@]} -gt 0 ]] || exit 0

banned='\b(strcpy|v?sprintf|strtok|atoi|gets)[[:space:]]*\('
comment='^[^:]+:[0-9]+:[[:space:]]*(//|/\*|\*)'

# tests/node/node_modules holds npm packages (some ship C sources): not ours to lint.
hits=$(grep -rnE --include='*.c' --include='*.h' --exclude-dir=node_modules "$banned" "${dirs[@]}" |
    grep -vE "$comment" || true)
if [[ -n $hits ]]; then
    printf '%s\n' "$hits"
    echo "lint: banned call(s) above; see scripts/lint.sh for the replacements" >&2
    exit 1
fi
