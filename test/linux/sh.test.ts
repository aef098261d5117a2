/**
 * `dmemfs sh --linux`: the shell's programs on the real kernel — memtouch with
 * fault counts read from the real page tables, cat/grep/echo over real /proc,
 * real errnos in the shell's messages, SIGBUS reported as bash does.
 */
import { describe, expect, it } from 'vitest';
import { runSh } from '../../src/cli/main.ts';
import { noLinux } from './env.ts';

const reason = noLinux();

/** Run a script under `sh --linux ARGS`; stdout and stderr apart, the banner dropped. */
function sh(script: string, args: string[] = []): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = runSh(['--linux', ...args], { stdout: (s) => (out += s), stderr: (s) => (err += s), script });
  return { status, out, err: err.replace(/^dmemfs: .*\n/gm, '') };
}

describe.skipIf(reason !== null)(`sh --linux${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('runs memtouch with fault counts observed in the page tables', () => {
    const r = sh('memtouch --anon --size 4M --no-thp\nmemtouch --anon --size 2M --no-thp --fill 0xa5 --verify 0xa5 --read\n');
    expect(r.err).toBe('');
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^pid=\d+ addr=0x[0-9a-f]+ faults 4K=1024 2M=0 1G=0$/);
    expect(lines[1]).toMatch(/faults 4K=512 2M=0 1G=0$/);
    expect(r.status).toBe(0);
  });

  it('cat, grep and echo over the real /proc, with real errnos', () => {
    const r = sh('echo hi | grep h\ngrep -c ^MemTotal: /proc/meminfo\ncat /proc/self/nonexistent\necho $?\n');
    expect(r.out).toBe('hi\n1\n1\n');
    expect(r.err).toBe('cat: /proc/self/nonexistent: No such file or directory\n');
  });

  it('a SIGBUS in a real mapping ends the program, not Node: Bus error, status 135', () => {
    const f = `/dev/shm/dmemfs-linux-sh-${process.pid}`;
    const r = sh(`truncate -s 4K ${f}\nmemtouch --file ${f} --size 64K\necho status=$?\nrm ${f}\n`);
    expect(r.err).toBe('Bus error\n');
    expect(r.out).toBe('status=135\n');
  });

  it('says plainly what the host offers', () => {
    let err = '';
    runSh(['--linux'], { stdout: () => {}, stderr: (s) => (err += s), script: 'true\n' });
    expect(err).toMatch(/^dmemfs: --linux: programs run on this machine's kernel \(Linux /);
    expect(err).toMatch(/hugetlb/);
  });
});

describe('sh --linux options', () => {
  const usage = (args: string[]): string => {
    try {
      runSh(args, { stdout: () => {}, stderr: () => {}, script: 'true\n' });
    } catch (e) {
      return (e as Error).message;
    }
    return 'ok';
  };
  it('rejects options that describe a simulated machine, and --hugepages alone', () => {
    expect(usage(['--hugepages', '2'])).toBe('--hugepages needs --linux');
    expect(usage(['--linux', '--mem', '4G'])).toMatch(/^--linux runs on this machine/);
    expect(usage(['--linux', '--hugepages', 'x'])).toBe("--hugepages: not N or N:SIZE: 'x'");
  });
});
