/**
 * Machine checks in the real guest (user/vmm/guest_x86_code.ts's #MC handler)
 * against the model's guest (kernel/kvm/guest.ts deliver_mce), through the
 * same ioctls on both: KVM_X86_SETUP_MCE, then KVM_X86_SET_MCE as vmm's
 * kvm_mce_inject builds it while a program is stopped mid-run. No poisoned
 * memory is needed (this host has no CONFIG_MEMORY_FAILURE): the stop is an
 * MMIO exit, a page the guest's tables map but no memory slot holds. And
 * KVM_SET_REGS drops a queued #MC while MCIP stays set, as __set_regs does;
 * KVM_SET_MSRS (a VMM's reset) clears MCIP again.
 *
 *   GPA   0 ───────── slot 0 ───────── 32M ── no slot (MMIO) ── 64M
 *         the program writes pages 4K … 32M, 32M + 4K  → two MMIO exits
 *         (not page 0: the descriptor stays, and every rerun reads it again)
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { linuxIoctl } from '../../src/linux/kvm/ioctl.ts';
import * as libc from '../../src/linux/libc.ts';
import type { Task } from '../../src/kernel/process.ts';
import {
  GUEST_FLAG_WRITE,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_RUN,
  KVM_SET_USER_MEMORY_REGION,
  encode_guest_program,
  new_kvm_run,
} from '../../src/uapi/kvm.ts';
import {
  KVM_CAP_MCE,
  KVM_GET_SREGS,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_X86_GET_MCE_CAP_SUPPORTED,
  KVM_X86_SETUP_MCE,
  MAX_IO_MSRS,
  MCG_CTL_P,
  MCG_SER_P,
  MSR_IA32_MC0_CTL,
  MSR_IA32_MCG_STATUS,
  type kvm_sregs,
  type kvm_u64_out,
} from '../../src/uapi/kvm_x86.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { BUS_MCEERR_AO, BUS_MCEERR_AR } from '../../src/uapi/signal.ts';
import { GUEST_IMAGE_OFFSET, guestImage, guestRegs, guestSregs } from '../../src/user/vmm/guest_x86.ts';
import { kvmMceInject } from '../../src/user/vmm/mce.ts';
import type { Syscalls } from '../../src/uapi/syscalls.ts';
import { bootKvm } from '../kvm/helpers.ts';
import { noKvm } from './env.ts';

const reason = noKvm();

const MiB = 1 << 20;
const SLOT = 32 * MiB;

/** The few calls the sequence needs, on either kernel. */
interface Side {
  ioctl(fd: number, req: number, arg?: unknown): number;
  store(addr: number, bytes: Uint8Array): void;
  map(size: number): number;
  kvm: number;
}

/** A call's result or its errno's name. */
function errnoOf(f: () => number): string {
  try {
    return String(f());
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
}

/** What one KVM_RUN ended with: the exit, and its port status or MMIO address. */
function describeRun(r: ReturnType<typeof new_kvm_run>): string {
  if (r.exit_reason === KVM_EXIT_IO) return `io status=${new DataView(r.io!.data.buffer).getUint32(0, true)}`;
  if (r.exit_reason === KVM_EXIT_MMIO) return `mmio 0x${r.mmio!.phys_addr.toString(16)}${r.mmio!.is_write ? ' write' : ''}`;
  return `exit_reason=${r.exit_reason}`;
}

/** The scripted sequence: returns one line per KVM_RUN (and per injection). */
function sequence(side: Side): string[] {
  const log: string[] = [];
  const img = guestImage(2 * SLOT, false)!; // the tables map 64M; only slot 0's 32M is memory
  const mem = side.map(SLOT);
  const vm = side.ioctl(side.kvm, KVM_CREATE_VM, 0);
  side.ioctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 0, flags: 0, guest_phys_addr: 0, memory_size: SLOT, userspace_addr: mem });
  const vcpu = side.ioctl(vm, KVM_CREATE_VCPU, 0);
  // kvm_arch_init_vcpu's MCE setup, as vmm's kvmSetupMce: 10 banks, MCG_CTL_P|MCG_SER_P as supported.
  expect(side.ioctl(side.kvm, KVM_CHECK_EXTENSION, KVM_CAP_MCE)).toBeGreaterThanOrEqual(10);
  const supported: kvm_u64_out = { value: 0 };
  side.ioctl(side.kvm, KVM_X86_GET_MCE_CAP_SUPPORTED, supported);
  side.ioctl(vcpu, KVM_X86_SETUP_MCE, ((MCG_CTL_P | MCG_SER_P) & supported.value) | 10);
  const reset = {} as kvm_sregs;
  side.ioctl(vcpu, KVM_GET_SREGS, reset);
  side.store(mem, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 4096, bytes: SLOT + 4096, seed: 1, hot_percent: 10, iterations: 1 }));
  side.store(mem + GUEST_IMAGE_OFFSET, img.bytes);
  side.ioctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
  side.ioctl(vcpu, KVM_SET_REGS, guestRegs(img));
  const run = new_kvm_run();
  const sys = { ioctl: (fd: number, req: number, arg?: unknown) => side.ioctl(fd, req, arg) } as Syscalls;
  const step = (what: string): void => {
    side.ioctl(vcpu, KVM_RUN, run);
    log.push(`${what}: ${describeRun(run)}`);
  };
  const inject = (code: number): void => kvmMceInject(sys, vcpu, 0x5000, code);
  step('run');
  inject(BUS_MCEERR_AR);
  step('AR mid-run'); //                     the program is ended: status 2
  step('rerun'); //                          the entry reads the descriptor again
  inject(BUS_MCEERR_AO);
  step('AO mid-run'); //                     the program goes on to the second MMIO page
  step('run');
  inject(BUS_MCEERR_AR);
  step('AR after the program'); //           nothing is running: ignored, the next program starts
  // KVM_SET_REGS drops a queued #MC (__set_regs) but the error stays in MCG_STATUS (MCIP):
  // the program starts over undisturbed, and the next machine check is a triple fault.
  inject(BUS_MCEERR_AO);
  side.ioctl(vcpu, KVM_SET_REGS, guestRegs(img));
  step('AO, then SET_REGS');
  inject(BUS_MCEERR_AR); //                  MCIP still set: a triple fault
  step('AR while MCIP');
  // A reset (QEMU's kvm_put_msrs at KVM_PUT_RESET_STATE): MCG_STATUS and bank 9 cleared through
  // KVM_SET_MSRS, which stops at a bank the vCPU does not have (MC10_STATUS of 10 banks).
  const msr = (index: number, data = 0n): { index: number; data: bigint } => ({ index, data });
  log.push(`SET_MSRS wrote ${side.ioctl(vcpu, KVM_SET_MSRS, { entries: [msr(MSR_IA32_MCG_STATUS), msr(MSR_IA32_MC0_CTL + 4 * 9 + 1), msr(MSR_IA32_MC0_CTL + 4 * 10 + 1), msr(MSR_IA32_MCG_STATUS)] })}`);
  log.push(`SET_MSRS of ${MAX_IO_MSRS}: ${errnoOf(() => side.ioctl(vcpu, KVM_SET_MSRS, { entries: new Array(MAX_IO_MSRS).fill(msr(MSR_IA32_MCG_STATUS)) }))}`);
  side.ioctl(vcpu, KVM_SET_SREGS, guestSregs(reset, img));
  side.ioctl(vcpu, KVM_SET_REGS, guestRegs(img));
  inject(BUS_MCEERR_AO);
  step('AO after the reset'); //             MCIP was cleared: an exception again, the program goes on
  inject(BUS_MCEERR_AR);
  step('AR mid-run again');
  return log;
}

describe.skipIf(reason !== null)(`machine checks in the real guest${reason ? ` (skipped: ${reason})` : ''}`, () => {
  it('AR ends the program mid-run (status 2), AO lets it finish, AR between programs is ignored, SET_REGS drops a queued #MC, an error while MCIP shuts down: as the model', () => {
    const kvm = libc.open('/dev/kvm', 2 | 0o2000000, 0);
    const fds: number[] = [];
    const maps: [number, number][] = [];
    let real: string[];
    try {
      real = sequence({
        kvm,
        ioctl: (fd, req, arg) => {
          const r = linuxIoctl(fd, req, arg);
          if (req === KVM_CREATE_VM || req === KVM_CREATE_VCPU) fds.push(r);
          return r;
        },
        store: (addr, bytes) => libc.poke(addr, bytes),
        map: (size) => {
          const a = libc.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          maps.push([a, size]);
          return a;
        },
      });
    } finally {
      for (const fd of fds.reverse()) libc.close(fd);
      for (const [a, size] of maps) libc.munmap(a, size);
      libc.close(kvm);
    }
    const { task } = bootKvm();
    const model = sequence(modelSide(task));
    expect(real).toEqual(model);
    expect(model).toEqual([
      'run: mmio 0x2000000 write',
      'AR mid-run: io status=2',
      'rerun: mmio 0x2000000 write',
      'AO mid-run: mmio 0x2001000 write',
      'run: io status=0',
      'AR after the program: mmio 0x2000000 write',
      'AO, then SET_REGS: mmio 0x2000000 write',
      'AR while MCIP: exit_reason=8',
      'SET_MSRS wrote 2',
      'SET_MSRS of 256: E2BIG',
      'AO after the reset: mmio 0x2000000 write',
      'AR mid-run again: io status=2',
    ]);
  });
});

/** The model side: a booted model host's task. */
function modelSide(task: Task): Side {
  return {
    kvm: task.open('/dev/kvm', 2),
    ioctl: (fd, req, arg) => task.ioctl(fd, req, arg),
    store: (addr, bytes) => task.store(addr, bytes),
    map: (size) => task.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
  };
}
