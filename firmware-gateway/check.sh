#!/usr/bin/env bash
# Checks the single-executable mechanics without the full gateway: builds sea-smoke.ts the same way
# as the gateway and runs it with an empty environment from another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash firmware-gateway/build.sh --entry firmware-gateway/sea-smoke.ts
cd /
env -i "$OLDPWD/firmware-gateway/out/hearth"
