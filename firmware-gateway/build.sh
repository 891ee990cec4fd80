#!/usr/bin/env bash
# Builds the gateway as one executable with Node's Single Executable Applications (offline; no
# prebuilt Node is downloaded): firmware-gateway/out/hearth. firmware-gateway/build.ts runs the
# shared steps (scripts/lib/single-executable.ts, docs/gateway-image.md):
#   1. esbuild bundles src/cli/main.ts to one CommonJS file; classic-level's addon becomes a SEA asset
#   2. node --experimental-sea-config turns bundle + asset into a blob
#   3. a copy of this machine's node gets the blob injected with postject (the SEA sentinel fuse)
# Do NOT strip the result: stripping an injected binary makes it crash.
# Usage: bash firmware-gateway/build.sh [--entry FILE] [--out DIR]   (also: make build-gateway)
#   --out DIR builds into DIR instead of firmware-gateway/out (check.sh and the image test use their
#   own folders, so they never replace the image `make build-gateway` made).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx firmware-gateway/build.ts "$@"
