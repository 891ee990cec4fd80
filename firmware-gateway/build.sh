#!/usr/bin/env bash
# Builds the gateway as one executable with Node's Single Executable Applications (offline; no
# prebuilt Node is downloaded): firmware-gateway/out/hearth.
#   1. esbuild bundles src/cli/main.ts to one CommonJS file; classic-level's addon becomes a SEA asset
#   2. node --experimental-sea-config turns bundle + asset into a blob
#   3. a copy of this machine's node gets the blob injected with postject (the SEA sentinel fuse)
# Do NOT strip the result: stripping an injected binary makes it crash.
# Usage: bash firmware-gateway/build.sh [--entry FILE]   (also: make build-gateway)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=firmware-gateway/out

node --import tsx firmware-gateway/bundle.ts "$@"
node --experimental-sea-config "$OUT/sea-config.json"
cp "$(command -v node)" "$OUT/hearth"
chmod u+w "$OUT/hearth"
node node_modules/postject/dist/cli.js "$OUT/hearth" NODE_SEA_BLOB "$OUT/sea-prep.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2
echo "built $OUT/hearth ($(du -h "$OUT/hearth" | cut -f1))"
