/**
 * vmm on real KVM (src/linux/kvm): the guest the project generates runs on the
 * kernel's KVM and gives the model's checksums for the same descriptors; the
 * per-VM statistics come from KVM_GET_STATS_FD. The real runs happen in a child
 * `dmemfs sh --linux` with a timeout, so a guest that never exits fails the
 * test instead of hanging it. Skipped with the reason where there is no /dev/kvm,
 * no root or no koffi.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSh } from '../../src/cli/main.ts';
import { linuxIoctl } from '../../src/linux/kvm/ioctl.ts';
import * as libc from '../../src/linux/libc.ts';
import {
  GUEST_FLAG_WRITE,
  GUEST_EXIT_PORT,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_EXIT_IO,
  KVM_GET_API_VERSION,
  KVM_GET_DIRTY_LOG,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_RUN,
  KVM_SET_USER_MEMORY_REGION,
  encode_guest_program,
  new_kvm_run,
} from '../../src/uapi/kvm.ts';
import { KVM_GET_REGS, KVM_GET_SREGS, KVM_SET_REGS, KVM_SET_SREGS, type kvm_regs, type kvm_sregs } from '../../src/uapi/kvm_x86.ts';
import { GUEST_IMAGE_OFFSET, guestImage, guestRegs, guestSregs } from '../../src/user/vmm/guest_x86.ts';
import { noKvm } from './env.ts';
import { bootKvm, createVcpu, createVm, setRegion } from '../kvm/helpers.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import type { GuestProgram } from '../../src/uapi/kvm.ts';

const reason = noKvm();

const ROOT = join(import.meta.dirname, '..', '..');

/** Run a script under a child `dmemfs sh --linux` (60 s at most). */
function shLinux(script: string): { status: number | null; out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dmemfs-kvm-'));
  try {
    const f = join(dir, 'script.sh');
    writeFileSync(f, script);
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/dmemfs.mjs'), 'sh', '--linux', f], { encoding: 'utf8', timeout: 60_000, cwd: ROOT });
    return { status: r.status, out: r.stdout, err: r.stderr.replace(/^dmemfs: .*\n/gm, '') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same script on a booted model (THP always, as QEMU's MADV_HUGEPAGE sees it with THP madvise). */
function shModel(script: string): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = runSh(['--mem', '4G', '--cmdline', 'transparent_hugepage=always'], { stdout: (s) => (out += s), stderr: (s) => (err += s), script });
  return { status, out, err };
}

/** `key=value` fields of the lines of a vmm transcript. */
const field = (out: string, key: string): string[] => [...out.matchAll(new RegExp(`(?:^| )${key}=(\\S+)`, 'gm'))].map((m) => m[1]!);

// The guest runs seq write, seq read, random and hot-cold over 64 MiB.
const RUNS = `vmm start g --memory 64M
vmm run g --pattern seq --write
vmm run g --pattern seq
vmm run g --pattern random --seed 5
vmm run g --pattern hot-cold --seed 7
vmm info g
vmm stop g
`;

describe.skipIf(reason !== null)(`vmm on real KVM${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('a real guest runs every pattern to its exit on port 0xf4, with the model checksums', () => {
    const real = shLinux(RUNS);
    expect(real.err).toMatch(/^vmm: terminating on signal 15 from pid \d+ \(vmm\)\n$/);
    expect(real.status).toBe(0);
    const model = shModel(RUNS);
    expect(model.status).toBe(0);
    const runs = real.out.split('\n').filter((l) => / exit=/.test(l)).join('\n');
    expect(field(runs, 'exit')).toEqual(['io', 'io', 'io', 'io']);
    expect(field(runs, 'status')).toEqual(['0', '0', '0', '0']);
    expect(field(runs, 'port')).toEqual(['0xf4', '0xf4', '0xf4', '0xf4']);
    const sums = field(real.out, 'checksum');
    expect(sums).toHaveLength(3);
    expect(sums).toEqual(field(model.out, 'checksum'));
    // A seq read after the write: XOR over pages 1..16383 of their gpa (0: 16383 ≡ 3 mod 4) and the magic at gpa 0.
    expect(sums[0]).toBe('0x315453474d454d44');
    // info: the statistics from KVM_GET_STATS_FD, in key=value form.
    for (const k of ['pages_4k', 'pages_2m', 'pages_1g', 'pf_taken', 'pf_fixed', 'exits']) expect(field(real.out, k)[0]).toMatch(/^\d+$/);
    expect(Number(field(real.out, 'pages_4k')[0]) + Number(field(real.out, 'pages_2m')[0])).toBeGreaterThan(0);
  });

  it('4K host pages (memfd, shmem THP off) map at 4K in KVM; anonymous THP memory maps at 2M', () => {
    const shmemThp = spawnSync('cat', ['/sys/kernel/mm/transparent_hugepage/shmem_enabled'], { encoding: 'utf8' }).stdout;
    const thp = spawnSync('cat', ['/sys/kernel/mm/transparent_hugepage/enabled'], { encoding: 'utf8' }).stdout;
    const r = shLinux(`vmm start a --memory 64M --memory-backend memfd
vmm run a --pattern seq --write
vmm info a
vmm stop a
vmm start b --memory 64M
vmm run b --pattern seq --write
vmm info b
vmm stop b
`);
    expect(r.status).toBe(0);
    const p4k = field(r.out, 'pages_4k').map(Number);
    const p2m = field(r.out, 'pages_2m').map(Number);
    if (/\[never\]|\[deny\]/.test(shmemThp)) {
      expect(p4k[0]).toBeGreaterThanOrEqual(16384); // every guest page, one 4K leaf each
      expect(p2m[0]).toBe(0);
    }
    if (/\[(always|madvise)\]/.test(thp)) expect(p2m[1]).toBeGreaterThan(0);
    else expect(p2m[1]).toBe(0);
  });

  it('ioctl marshalling: registers round-trip, and KVM_GET_DIRTY_LOG fills the caller’s bitmap', () => {
    const kvm = libc.open('/dev/kvm', 2 | 0o2000000, 0);
    const size = 4 << 20;
    const mem = libc.mmap(0, size, 3, 0x22, -1, 0);
    let vm = -1;
    let vcpu = -1;
    try {
      expect(linuxIoctl(kvm, KVM_GET_API_VERSION, 0)).toBe(12);
      vm = linuxIoctl(kvm, KVM_CREATE_VM, 0);
      linuxIoctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 0, flags: KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr: 0, memory_size: size, userspace_addr: mem });
      vcpu = linuxIoctl(vm, KVM_CREATE_VCPU, 0);
      const reset = {} as kvm_sregs;
      linuxIoctl(vcpu, KVM_GET_SREGS, reset);
      expect(reset.cs.selector).toBe(0xf000); // the reset state
      const img = guestImage(size, false)!;
      linuxIoctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
      linuxIoctl(vcpu, KVM_SET_REGS, guestRegs(img));
      const back = {} as kvm_sregs;
      linuxIoctl(vcpu, KVM_GET_SREGS, back);
      expect(back.cs).toMatchObject({ l: 1, dpl: 3, selector: 0x33 });
      expect(back.efer & 0x500).toBe(0x500);
      const regs = {} as kvm_regs;
      linuxIoctl(vcpu, KVM_GET_REGS, regs);
      expect(regs.rip).toBe(img.rip);
      libc.poke(mem, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: size, seed: 1, hot_percent: 10, iterations: 1 }));
      libc.poke(mem + GUEST_IMAGE_OFFSET, img.bytes);
      const run = new_kvm_run();
      linuxIoctl(vcpu, KVM_RUN, run);
      expect(run.exit_reason).toBe(KVM_EXIT_IO);
      expect(run.io).toMatchObject({ port: GUEST_EXIT_PORT, size: 4, count: 1 });
      expect([...run.io!.data]).toEqual([0, 0, 0, 0]);
      // The guest wrote gpa at the start of every page.
      const v = new DataView(libc.peek(mem + 0x1000 * 77, 8).buffer);
      expect(v.getUint32(0, true)).toBe(0x1000 * 77);
      const bitmap = new Uint8Array(size / 4096 / 8);
      linuxIoctl(vm, KVM_GET_DIRTY_LOG, { slot: 0, dirty_bitmap: bitmap });
      expect(bitmap.every((b) => b === 0xff)).toBe(true);
      // Descriptors vmm never sends: an unaligned start, several passes, hot_percent above 100, a bad magic.
      const progs: GuestProgram[] = [
        { pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 0x5123, bytes: (1 << 20) + 77, seed: 0, hot_percent: 0, iterations: 1 },
        { pattern: 1, flags: 2, start_gpa: 0x5123, bytes: (1 << 20) + 77, seed: 99, hot_percent: 0, iterations: 3 },
        { pattern: 2, flags: 2, start_gpa: 0x5123, bytes: (1 << 20) + 77, seed: 2 ** 32 + 5, hot_percent: 250, iterations: 2 },
        { pattern: 2, flags: 2, start_gpa: 0x5000, bytes: 3 << 20, seed: 17, hot_percent: 7, iterations: 1 },
      ];
      const real = progs.map((p) => {
        libc.poke(mem, encode_guest_program(p));
        // Both, as vmm does: where the exit went through the guest's #GP handler the vCPU is left at CPL 0.
        linuxIoctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
        linuxIoctl(vcpu, KVM_SET_REGS, guestRegs(img));
        const r = new_kvm_run();
        linuxIoctl(vcpu, KVM_RUN, r);
        return [r.io?.port, new DataView(r.io!.data.buffer).getUint32(0, true), libc.peek(mem + 48, 8).join(',')];
      });
      libc.poke(mem, new Uint8Array(8)); // no magic: status 1
      linuxIoctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
      linuxIoctl(vcpu, KVM_SET_REGS, guestRegs(img));
      const bad = new_kvm_run();
      linuxIoctl(vcpu, KVM_RUN, bad);
      expect(new DataView(bad.io!.data.buffer).getUint32(0, true)).toBe(1);
      // The model's vCPU on the same descriptors.
      const { task } = bootKvm();
      const mvm = createVm(task);
      const hva = task.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      setRegion(task, mvm.vmFd, 0, 0, size, hva);
      const mcpu = createVcpu(task, mvm.vmFd);
      // The same memory as the real guest's: the whole-RAM write pass above first.
      task.store(hva, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes: size, seed: 1, hot_percent: 10, iterations: 1 }));
      task.ioctl(mcpu, KVM_RUN, new_kvm_run());
      const model = progs.map((p) => {
        task.store(hva, encode_guest_program(p));
        const r = new_kvm_run();
        task.ioctl(mcpu, KVM_RUN, r);
        return [r.io?.port, new DataView(r.io!.data.buffer).getUint32(0, true), task.load(hva + 48, 8).join(',')];
      });
      expect(real).toEqual(model);
    } finally {
      if (vcpu >= 0) libc.close(vcpu);
      if (vm >= 0) libc.close(vm);
      libc.munmap(mem, size);
      libc.close(kvm);
    }
  });
});
