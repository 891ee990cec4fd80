#!/usr/bin/env bash
# Builds the device agent as one executable, the gateway's recipe (docs/gateway-image.md) with its
# own entry point and no native addon: devices/out/hearth-agent. devices/build-agent.ts runs the
# shared steps (scripts/lib/single-executable.ts): esbuild bundles devices/agent/main.ts to one
# CommonJS file, node --experimental-sea-config turns it into a blob, and a copy of this machine's
# node gets the blob injected with postject. Do NOT strip the result: it then crashes.
# Usage: bash devices/build-agent.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx devices/build-agent.ts "$@"
