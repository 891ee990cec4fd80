#!/usr/bin/env bash
# Checks the single-executable mechanics without the full gateway: builds sea-smoke.ts the same way
# as the gateway (into its own folder, leaving out/hearth alone), copies it into an empty folder and
# runs it there with an empty environment, so nothing can come from the repository's node_modules.
# The whole gateway image (chat and MQTT from an empty folder) is tested by
# test/app/gateway-image.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE_OUT=firmware-gateway/out/smoke
bash firmware-gateway/build.sh --entry firmware-gateway/sea-smoke.ts --out "$SMOKE_OUT"
RUN_DIR="$(mktemp -d)"
trap 'rm -rf "$RUN_DIR"' EXIT
cp "$SMOKE_OUT/hearth" "$RUN_DIR/hearth-smoke"
cd "$RUN_DIR"
env -i ./hearth-smoke
