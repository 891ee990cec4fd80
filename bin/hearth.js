#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=65536 node --max-semi-space-size=2 --expose-gc
// The `hearth` command in a checkout: runs the TypeScript sources through tsx's loader.
// The small V8 young generation and two malloc arenas match `make run` and the systemd unit (see
// the Makefile for why).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
