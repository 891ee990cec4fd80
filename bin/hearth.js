#!/usr/bin/env node
// The `hearth` command in a checkout: runs the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
