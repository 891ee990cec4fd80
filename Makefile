# Hearth: two commands on a fresh machine. `make run` and `make test` install what is missing first.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
# V8's young generation defaults to 16 MB semi-spaces; 1 MB keeps ~25 MB of RSS off a 1 GB
# gateway for a few more (cheap) scavenges. The systemd unit and the benchmarks use the same flag.
NODE_FLAGS := --max-semi-space-size=1
# glibc gives each thread that allocates (libuv's pool, LevelDB's compaction thread) its own malloc
# arena; on a gateway with 200 devices that doubled RSS (418 -> ~200 MB measured with 2 arenas).
GATEWAY_ENV := MALLOC_ARENA_MAX=2

.PHONY: run test unit integration bench typecheck build-gateway clean-data deps

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

run: deps
	$(GATEWAY_ENV) node $(NODE_FLAGS) bin/hearth.js run

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test: deps typecheck
	bash scripts/check-test-deps.sh
	npx ava

unit: deps
	npx ava 'test/{core,state,storage,telemetry}/**/*.test.ts'

bench: deps
	node --import tsx scripts/bench.ts

build-gateway: deps
	bash firmware-gateway/build.sh

clean-data:
	rm -rf ./data
