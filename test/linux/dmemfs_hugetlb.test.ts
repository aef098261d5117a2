/**
 * The user-space dmemfs on hugetlb 2M pages (root): `mount -t dmemfs` under
 * `sh --linux` grows the 2M pool by what it needs, says so, shows in df; memtouch
 * faults its file at 2M; umount (and the session's end) give the pages back.
 * Where /dev/kvm is usable, a real guest runs on a dmemfs file and KVM maps it
 * with 2M pages. At most 32 huge pages (64 MiB).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmdirSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSh } from '../../src/cli/main.ts';
import { noHugetlb, withHugetlbLock } from './env.ts';

const reason = noHugetlb();
const NR = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

/** Run a script under `sh --linux`; the session banner dropped. */
function sh(script: string): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = runSh(['--linux'], { stdout: (s) => (out += s), stderr: (s) => (err += s), script });
  return { status, out, err: err.replace(/^dmemfs: (--linux|hugetlb): .*\n/gm, '') };
}

describe.skipIf(reason !== null)(`user-space dmemfs on hugetlb${reason ? ` (skipped: ${reason})` : ''}`, async () => {
  const { kvmUnavailable } = await import('../../src/linux/kvm/index.ts');

  it('mounts on 2M hugetlb pages, df and faults at 2M, gives the pages back at umount', () => withHugetlbLock(() => {
    const before = readFileSync(NR, 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'udmemfs-h-'));
    try {
      const r = sh(
        `mount -t dmemfs -o pagesize=2M,size=8M none ${dir}\ndf ${dir}\ntruncate -s 4M ${dir}/f\n` +
          `memtouch --file ${dir}/f --size 4M --fill 0x5a --verify 0x5a\ndf ${dir}\nrm ${dir}/f\numount ${dir}\necho umount=$?\n`,
      );
      if (/ordinary memfd/.test(r.err)) return void console.info(`test/linux: dmemfs hugetlb: the kernel had no 2M pages now: ${r.err.trim()}`);
      expect(r.err).toBe(`dmemfs: ${dir}: user-space dmemfs, 4 dpages of 2M (8M) reserved from hugetlb 2M pages (memfd MFD_HUGETLB)\n`);
      const lines = r.out.split('\n');
      expect(lines[1]).toBe(`hugetlb-2M          8192     0      8192   0% ${dir}`);
      expect(lines[2]).toMatch(/^pid=\d+ addr=0x[0-9a-f]+ faults 4K=0 2M=2 1G=0$/);
      expect(lines[4]).toBe(`hugetlb-2M          8192  4096      4096  50% ${dir}`);
      expect(lines[5]).toBe('umount=0');
      expect(readFileSync(NR, 'utf8')).toBe(before);
    } finally {
      rmdirSync(dir);
    }
    expect(readFileSync(NR, 'utf8')).toBe(before);
  }));

  it.skipIf(kvmUnavailable() !== null)('vmm runs a real KVM guest on a dmemfs file, mapped with 2M pages', () => withHugetlbLock(() => {
    const before = readFileSync(NR, 'utf8');
    const dir = mkdtempSync(join(tmpdir(), 'udmemfs-vm-'));
    try {
      const r = sh(
        `mount -t dmemfs -o pagesize=2M none ${dir}\n` +
          `vmm start vm1 --memory 64M --memory-backend file --mem-path ${dir}/vm1 --share\n` +
          `vmm run vm1 --pattern seq --write\nvmm info vm1\nvmm stop vm1\numount ${dir}\necho umount=$?\n`,
      );
      if (/ordinary memfd/.test(r.err)) return void console.info(`test/linux: dmemfs vmm: the kernel had no 2M pages now: ${r.err.trim()}`);
      expect(r.out).toMatch(/^vm1 exit=io port=0xf4 status=0 touched=67108864 /m);
      expect(r.out).toMatch(/^page-size=2M$/m);
      const m = /^pages_2m=(\d+)$/m.exec(r.out);
      expect(Number(m?.[1])).toBeGreaterThan(0);
      expect(r.out).toMatch(/^umount=0$/m);
    } finally {
      rmdirSync(dir);
    }
    expect(readFileSync(NR, 'utf8')).toBe(before);
  }));

  it('SIGKILL of the session: the watchdog gives the hugetlb pages back', () => withHugetlbLock(async () => {
    const before = Number(readFileSync(NR, 'utf8'));
    const dir = mkdtempSync(join(tmpdir(), 'udmemfs-kill-'));
    const script = join(dir, '..', `${dir.split('/').pop()}.sh`);
    writeFileSync(script, `mount -t dmemfs -o pagesize=2M,size=4M none ${dir}\necho mounted\nsleep 30\n`);
    const poll = async (ok: () => boolean): Promise<boolean> => {
      for (let i = 0; i < 200; i++) {
        if (ok()) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return ok();
    };
    let child: ReturnType<typeof spawn> | null = null;
    try {
      child = spawn(process.execPath, [join(__dirname, '../../bin/dmemfs.mjs'), 'sh', '--linux', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const c = child;
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise((r) => c.on('exit', r));
      expect(await poll(() => out.includes('mounted') || c.exitCode !== null)).toBe(true);
      const grown = Number(readFileSync(NR, 'utf8'));
      c.kill('SIGKILL');
      await exited;
      if (/ordinary memfd/.test(err)) return void console.info('test/linux: dmemfs kill: the kernel had no 2M pages now');
      expect(grown).toBeGreaterThan(before);
      expect(await poll(() => Number(readFileSync(NR, 'utf8')) === before)).toBe(true);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      unlinkSync(script);
      rmdirSync(dir);
    }
  }));
});
