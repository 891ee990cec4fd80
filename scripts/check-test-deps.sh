#!/usr/bin/env bash
# Fails early, with a clear message, when a real peer the integration tests drive is missing.
missing=0
# The broker lives in /usr/sbin, which is not on a non-root PATH: look where the tests run it from.
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || { echo "missing: mosquitto (apt-get install mosquitto)"; missing=1; }
for cmd in mosquitto_pub mosquitto_sub; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "missing: $cmd (apt-get install mosquitto-clients)"; missing=1; }
done
# The status page's browser test drives Debian's chromium (playwright-core downloads no browser).
[ -x /usr/bin/chromium ] || { echo "missing: /usr/bin/chromium (apt-get install chromium)"; missing=1; }
/usr/bin/python3 -c 'import nio' >/dev/null 2>&1 || { echo "missing: matrix-nio (apt-get install python3-matrix-nio)"; missing=1; }
synapse_cache="${HEARTH_SYNAPSE_CACHE:-/var/cache/hearth/synapse-sid}"
[ -f "$synapse_cache.built" ] || { echo "missing: the Synapse federation peer in $synapse_cache (bash scripts/synapse-peer build)"; missing=1; }
if [ $missing -ne 0 ]; then echo "install the packages above, or run 'bash .ci/run' which does"; exit 1; fi
