#!/usr/bin/env bash
# Builds the device agent as one executable, the gateway's recipe (firmware-gateway/build.sh,
# docs/gateway-image.md) with its own entry point and no native addon: devices/out/hearth-agent.
#   1. esbuild bundles devices/agent/main.ts to one CommonJS file (devices/bundle-agent.ts)
#   2. node --experimental-sea-config turns the bundle into a blob
#   3. a copy of this machine's node gets the blob injected with postject (the SEA sentinel fuse)
# Do NOT strip the result: stripping an injected binary makes it crash.
# Usage: bash devices/build-agent.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=devices/out
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    *) echo "usage: bash devices/build-agent.sh [--out DIR]" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

node --import tsx devices/bundle-agent.ts --out "$OUT"
node --experimental-sea-config "$OUT/sea-config.json"
cp "$(command -v node)" "$OUT/hearth-agent"
chmod u+w "$OUT/hearth-agent"
# postject reports each ELF note it cannot name ("Can't find string offset..."): harmless noise.
node node_modules/postject/dist/cli.js "$OUT/hearth-agent" NODE_SEA_BLOB "$OUT/sea-prep.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 2> >(grep -v "Can't find string offset" >&2)
echo "built $OUT/hearth-agent ($(du -h "$OUT/hearth-agent" | cut -f1))"
