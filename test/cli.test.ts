/** The `dmemfs sh` command line: options, machine files and exit statuses. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSh, UsageError } from '../src/cli/main.ts';

function run(args: string[], script: string): { status: number; out: string } {
  let out = '';
  const status = runSh(args, { stdout: (s) => (out += s), stderr: (s) => (out += s), script });
  return { status, out };
}

describe('dmemfs sh', () => {
  it('boots the machine the flags describe', () => {
    const r = run(['--mem', '8G', '--nodes', '2', '--cpus', '3'], 'cat /sys/devices/system/node/online /sys/devices/system/node/node1/cpulist');
    expect(r).toEqual({ status: 0, out: '0-1\n3-5\n' });
  });

  it('returns the script status', () => {
    expect(run([], 'false').status).toBe(1);
    expect(run([], 'exit 7').status).toBe(7);
  });

  it('passes the kernel command line through to /proc/cmdline', () => {
    expect(run(['--mem', '2G', '--cmdline', 'a=1 b'], 'cat /proc/cmdline').out).toBe('a=1 b\n');
  });

  it('reads a YAML machine file', () => {
    const dir = join(import.meta.dirname, '..', 'tmp');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'cli-test.yaml');
    writeFileSync(file, 'nodes:\n  - {memory: 3G, cpus: 2}\n  - {memory: 1G, cpus: 1}\n');
    expect(run(['--machine', file], 'cat /sys/devices/system/node/node1/cpulist').out).toBe('2\n');
  });

  it('rejects bad options with a usage error naming them', () => {
    expect(() => run(['--mem', 'lots'], '')).toThrow(new UsageError("--mem: not a size: 'lots'"));
    expect(() => run(['--nodes', '0'], '')).toThrow(UsageError);
    expect(() => run(['--frob'], '')).toThrow(new UsageError("unknown option '--frob'"));
    expect(() => run(['--machine', '/nonexistent.yaml'], '')).toThrow(new UsageError('/nonexistent.yaml: No such file or directory'));
  });
});

describe('dmemfs COMMAND --help', () => {
  it('prints the usage text and exits 0 for any command', async () => {
    const { main } = await import('../src/cli/main.ts');
    const { vi } = await import('vitest');
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    try {
      expect(await main(['compare', '--help'])).toBe(0);
      expect(await main(['sh', '-h'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out).toMatch(/^usage: dmemfs <command>/);
    expect(out.match(/usage: dmemfs/g)).toHaveLength(2);
  });
});
