#!/usr/bin/env node
// The `dmemfs` command: runs src/cli/main.ts straight from the checkout through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
