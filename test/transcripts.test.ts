/**
 * Transcript tests: each test/transcripts/NAME.sh runs on a freshly booted host
 * and its output (stdout and stderr, interleaved as written) must equal
 * NAME.out byte for byte. The script's first line may give the boot options:
 *   #! --mem 4G --nodes 2 --cmdline "mem=3G"
 * Regenerate a golden file with UPDATE_GOLDEN=1 (then read the diff!).
 */
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSh } from '../src/cli/main.ts';

const DIR = join(import.meta.dirname, 'transcripts');

/** Split a `#!` options line the way a shell would (double quotes group words). */
function bootArgs(script: string): string[] {
  const first = script.split('\n', 1)[0]!;
  if (!first.startsWith('#!')) return [];
  return [...first.slice(2).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe('transcripts', () => {
  for (const name of readdirSync(DIR).filter((f) => f.endsWith('.sh')).sort()) {
    it(name, () => {
      const script = readFileSync(join(DIR, name), 'utf8');
      let out = '';
      const status = runSh(bootArgs(script), { stdout: (s) => (out += s), stderr: (s) => (out += s), script });
      const got = `${out}[exit ${status}]\n`;
      const golden = join(DIR, name.replace(/\.sh$/, '.out'));
      if (process.env.UPDATE_GOLDEN || !existsSync(golden)) writeFileSync(golden, got);
      expect(got).toBe(readFileSync(golden, 'utf8'));
    });
  }
});
