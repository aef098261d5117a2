#!/usr/bin/env node
// The `dmemfs` command: runs src/cli/main.ts straight from the checkout (bin/ts-hooks.mjs compiles it).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
process.setSourceMapsEnabled(true);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
