#!/usr/bin/env node
// Runs a TypeScript entry point from the checkout (no build step): node bin/run-ts.mjs FILE.ts [ARGS...]
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register('./ts-hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);
const [, , entry, ...rest] = process.argv;
process.argv = [process.argv[0], entry, ...rest];
await import(pathToFileURL(resolve(entry)).href);
