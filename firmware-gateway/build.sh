#!/usr/bin/env bash
# Builds the gateway as one executable with Node's Single Executable Applications (offline; no
# prebuilt Node is downloaded): firmware-gateway/out/hearth.
#   1. esbuild bundles src/cli/main.ts to one CommonJS file; classic-level's addon becomes a SEA asset
#   2. node --experimental-sea-config turns bundle + asset into a blob
#   3. a copy of this machine's node gets the blob injected with postject (the SEA sentinel fuse)
# Do NOT strip the result: stripping an injected binary makes it crash.
# Usage: bash firmware-gateway/build.sh [--entry FILE] [--out DIR]   (also: make build-gateway)
#   --out DIR builds into DIR instead of firmware-gateway/out (check.sh and the image test use their
#   own folders, so they never replace the image `make build-gateway` made).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=firmware-gateway/out
BUNDLE_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    *) BUNDLE_ARGS+=("$1"); shift ;;
  esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

node --import tsx firmware-gateway/bundle.ts --out "$OUT" "${BUNDLE_ARGS[@]}"
node --experimental-sea-config "$OUT/sea-config.json"
cp "$(command -v node)" "$OUT/hearth"
chmod u+w "$OUT/hearth"
# postject reports each ELF note it cannot name ("Can't find string offset..."): harmless noise.
node node_modules/postject/dist/cli.js "$OUT/hearth" NODE_SEA_BLOB "$OUT/sea-prep.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 2> >(grep -v "Can't find string offset" >&2)
echo "built $OUT/hearth ($(du -h "$OUT/hearth" | cut -f1))"
