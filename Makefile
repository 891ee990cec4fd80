# Hearth: two commands on a fresh machine. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
# V8's young generation defaults to 16 MB semi-spaces; 2 MB keeps ~20 MB of RSS off a 1 GB gateway.
# 1 MB cost MQTT ingest ~20% (in-flight messages outlived the scavenges and were promoted); the
# idle trim lets V8 shrink the young generation back once idle. The systemd unit and the
# benchmarks use the same flags.
# --expose-gc lets the gateway run one full collection when it turns idle after a burst
# (src/app/idle-heap-trim.ts): 10 s after 10k sends the heap still held ~30 MB of garbage.
NODE_FLAGS := --max-semi-space-size=2 --expose-gc
# glibc gives each thread that allocates (libuv's pool, LevelDB's compaction thread) its own malloc
# arena; on a gateway with 200 devices that doubled RSS (418 -> ~200 MB measured with 2 arenas).
# Fixed 64 KB mmap/trim thresholds: glibc otherwise raises its mmap threshold after the first large
# free and keeps freed memory in the heap; 10 s after 10k sends that was ~10 MB of RSS.
GLIBC_MALLOC_ENV := MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536
# jemalloc (Debian `libjemalloc2`) replaces glibc malloc when installed: under a 200-device load
# glibc's main arena held ~27 MB of freed memory it cannot give back (free chunks below live ones;
# only malloc_trim() would), 119 MB RSS; jemalloc, one arena, returning freed pages from a background
# thread after 0.5 s: 92 MB (2 arenas and 2 s: 93-97 MB; no measurable MQTT cost either way).
# Same settings in the systemd unit and scripts/lib/processes.ts (docs/performance.md).
JEMALLOC := $(firstword $(wildcard /usr/lib/*-linux-gnu*/libjemalloc.so.2 /usr/lib/libjemalloc.so.2))
JEMALLOC_CONF := narenas:1,background_thread:true,dirty_decay_ms:500,muzzy_decay_ms:0,tcache:false
GATEWAY_ENV := $(GLIBC_MALLOC_ENV) $(if $(JEMALLOC),LD_PRELOAD=$(JEMALLOC) MALLOC_CONF=$(JEMALLOC_CONF))

.PHONY: run build test unit integration bench proof typecheck build-gateway clean-data deps

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

# `make run` starts the bundled gateway (scripts/build.ts): plain node, no TypeScript loader in memory.
BUNDLE := dist/hearth.mjs
# The status page's HTML and CSS are embedded too (src/status/page-build.ts).
$(BUNDLE): $(NODE_MODULES_STAMP) package.json $(shell find src -name '*.ts') $(wildcard src/status/page/*) scripts/build.ts
	node --import tsx scripts/build.ts

build: $(BUNDLE)

# The command line (allocator environment, V8 flags) is not echoed: the gateway's own first lines
# (where it listens, the next step on a fresh data directory) are what a new user needs to read.
run: $(BUNDLE)
	@[ -n "$(JEMALLOC)" ] || echo 'note: libjemalloc2 is not installed; the gateway runs on glibc malloc (more RSS under load): apt-get install libjemalloc2' >&2
	@echo 'starting the gateway ($(BUNDLE); memory settings in the Makefile); Ctrl-C stops it'
	@$(GATEWAY_ENV) node $(NODE_FLAGS) $(BUNDLE) run

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test: deps typecheck
	bash scripts/check-test-deps.sh
	npx ava

# `make unit`: the tests that run inside the test process: no gateway process, no listening socket,
# no other program (Synapse, Mosquitto, matrix-nio, chromium, a device agent). `make integration`:
# the others, listed here; a test file that starts any of those belongs in this list.
PROCESS_TESTS := test/integration test/federation test/security test/crash test/fuzz \
	test/app/gateway-image.test.ts test/app/make-run.test.ts test/app/agent-image.test.ts \
	test/devices/agent.test.ts test/devices/drivers.test.ts test/devices/fleet.test.ts \
	test/mqtt/broker.test.ts test/mqtt/broker-external.test.ts test/cli/doctor-checks.test.ts

unit: deps
	npx ava 'test/**/*.test.ts' $(foreach p,$(PROCESS_TESTS),'!$(p)')

integration: deps
	npx ava $(PROCESS_TESTS)

bench: deps
	node --import tsx scripts/bench.ts
	node --import tsx scripts/bench-low-bandwidth.ts

# `make proof`: the long parts of issue 10's harness (docs/reliability.md), each a script that exits 1
# on a finding: >= 100k fuzz inputs, 200 SIGKILLs under load, a 30-minute soak with 200 devices on
# the bundle. Hours of CPU on a 2-core machine; the quick versions run in `make test`.
PROOF_FUZZ_INPUTS ?= 100000
PROOF_KILLS ?= 200
PROOF_SOAK_MINUTES ?= 30
proof: deps $(BUNDLE)
	node --import tsx scripts/proof/fuzz.ts --inputs $(PROOF_FUZZ_INPUTS)
	node --import tsx scripts/proof/crash.ts --kills $(PROOF_KILLS)
	node --import tsx scripts/proof/soak.ts --minutes $(PROOF_SOAK_MINUTES) --build bundle

build-gateway: deps
	bash firmware-gateway/build.sh

clean-data:
	rm -rf ./data
