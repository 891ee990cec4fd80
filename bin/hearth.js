#!/usr/bin/env -S node --max-semi-space-size=1
// The `hearth` command in a checkout: runs the TypeScript sources through tsx's loader.
// The small V8 young generation matches `make run` and the systemd unit (see the Makefile).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
