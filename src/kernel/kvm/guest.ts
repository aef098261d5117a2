/**
 * KVM_RUN: the vCPU executes the dmemfs model guest program (the stand-in for
 * guest code described in uapi/kvm.ts; issue 7 replaces it with real x86 code)
 * until it needs userspace (arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl_run,
 * vcpu_run, vcpu_enter_guest, complete_emulated_mmio; kvm_fast_pio's
 * KVM_EXIT_IO; emulator_read_write's KVM_EXIT_MMIO).
 *
 * Every guest access goes through the EPT; a miss is an EPT violation handled
 * by kvm_mmu_page_fault (mmu.ts), after which the access is retried, as the
 * hardware would re-execute the instruction. State between runs (which access
 * is next, the random generator, a pending MMIO read) lives in the vCPU.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import { Rng } from '../../lib/rng.ts';
import {
  GUEST_EXIT_PORT,
  GUEST_FLAG_CHECKSUM,
  GUEST_FLAG_WRITE,
  GUEST_PATTERN_HOT_COLD,
  GUEST_PATTERN_RANDOM,
  GUEST_PATTERN_SEQ,
  GUEST_PROGRAM_SIZE,
  GUEST_RESULT_OFFSET,
  GUEST_STATUS_MCE,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_MMIO,
  KVM_EXIT_SHUTDOWN,
  KVM_INTERNAL_ERROR_EMULATION,
  decode_guest_program,
  guest_page_gpa,
  type kvm_run,
} from '../../uapi/kvm.ts';
import { Signal } from '../../uapi/signal.ts';
import { EXITS, IO_EXITS, MMIO_EXITS, SIGNAL_EXITS, type GuestState, type KvmVcpu } from './kvm_host.ts';
import { RET_PF_EMULATE, ept_translate, kvm_mmu_page_fault } from './mmu.ts';
import { kvm_tdp_fault_run, type FaultRunResult } from './mmu_run.ts';
import { kvm_take_mce_event } from './x86_mce.ts';

/** Hot-cold: the share of accesses that go to the hot pages. */
const HOT_SHARE = 0.9;

/**
 * One guest access: the host frame behind gpa, faulting it into the EPT as
 * needed, or -1 when the access exits to userspace as MMIO.
 */
function guest_access(vcpu: KvmVcpu, gpa: number, write: boolean): number {
  for (let tries = 0; tries < 4; tries++) {
    const pfn = ept_translate(vcpu.kvm, gpa, write);
    if (pfn >= 0) {
      consume_check(vcpu, pfn, gpa);
      return pfn;
    }
    vcpu.stat[EXITS]!++; // the EPT violation is a VM exit handled in the kernel
    if (kvm_mmu_page_fault(vcpu, gpa, write) === RET_PF_EMULATE) return -1;
  }
  throw new Error(`BUG: EPT fault at gpa 0x${gpa.toString(16)} keeps coming back`);
}

/**
 * The frame behind an SPTE has an uncorrected error (kernel/mce.ts): the
 * guest's access is a machine check, which KVM hands to the host's
 * do_machine_check as a user-mode one (vmx.c kvm_machine_check): the vCPU
 * thread gets SIGBUS BUS_MCEERR_AR at the host address of the gpa.
 */
function consume_check(vcpu: KvmVcpu, pfn: number, gpa: number): void {
  const hw = vcpu.kvm.deps.kmem.hwpoison;
  if (hw === null || hw.count === 0 || !hw.has(pfn)) return;
  const slot = vcpu.kvm.memslots[0]!.gfn_to_memslot(Math.floor(gpa / PAGE_SIZE));
  throw hw.consume(pfn, slot ? slot.gfn_to_hva(Math.floor(gpa / PAGE_SIZE)) + page_offset(gpa) : 0);
}

/** gpa's offset in its page (not `%`: gpas are doubles, and a float modulo is a libm call per access). */
function page_offset(gpa: number): number {
  return gpa - Math.floor(gpa / PAGE_SIZE) * PAGE_SIZE;
}

/** The 8 bytes at gpa (a u64 as two halves), read from the frame. */
function read8(vcpu: KvmVcpu, pfn: number, gpa: number, g: GuestState): void {
  const dram = vcpu.kvm.deps.kmem.dram;
  const phys = pfn * PAGE_SIZE + page_offset(gpa);
  g.sumLo = (g.sumLo ^ dram.readUint(phys, 4)) >>> 0;
  g.sumHi = (g.sumHi ^ dram.readUint(phys + 4, 4)) >>> 0;
}

/** Store the gpa itself (u64, little-endian) at gpa; Dram keeps such word stores compact. */
function write8(vcpu: KvmVcpu, pfn: number, gpa: number): void {
  vcpu.kvm.deps.kmem.dram.writeUint(pfn * PAGE_SIZE + page_offset(gpa), 8, gpa);
}

const runPfns = new Float64Array(512);
const runRes: FaultRunResult = { error: undefined };

/**
 * A sequential guest about to touch a page the EPT does not map: take the EPT
 * violations of the following pages as one run (mmu_run.ts), then do the
 * accesses. False when the run did nothing (the caller goes page by page).
 */
function seq_fault_run(vcpu: KvmVcpu, g: GuestState, first: number, npages: number, write: boolean): boolean {
  const at = g.pos % npages;
  const p = g.prog!;
  const gpa = guest_page_gpa(p, first + at);
  if (ept_translate(vcpu.kvm, gpa, write) >= 0) return false;
  let n = Math.min(npages - at, g.total - g.pos);
  // A run is contiguous in GPA: it stops where the RAM below the hole ends.
  const hs = p.hole_start ?? 0;
  if ((p.hole_end ?? 0) > hs && gpa < hs) n = Math.min(n, (hs - gpa) / PAGE_SIZE);
  const k = kvm_tdp_fault_run(vcpu, gpa, n, write, runPfns, runRes);
  const error = runRes.error;
  runRes.error = undefined;
  for (let i = 0; i < k; i++) {
    consume_check(vcpu, runPfns[i]!, gpa + i * PAGE_SIZE);
    if (write) write8(vcpu, runPfns[i]!, gpa + i * PAGE_SIZE);
    else read8(vcpu, runPfns[i]!, gpa + i * PAGE_SIZE, g);
    g.pos++;
  }
  if (error !== undefined) throw error;
  return k > 0;
}

/** The page the access number `pos` touches. */
function next_page(g: GuestState, first: number, npages: number): number {
  const p = g.prog!;
  if (p.pattern === GUEST_PATTERN_SEQ) return first + (g.pos % npages);
  const rng = g.rng!;
  if (p.pattern === GUEST_PATTERN_RANDOM) return first + rng.below(npages);
  const hot = Math.max(1, Math.min(npages, Math.floor((npages * p.hot_percent) / 100)));
  if (hot === npages || rng.float() < HOT_SHARE) return first + rng.below(hot);
  return first + hot + rng.below(npages - hot);
}

/** Report completion: `out 0xf4, eax` with a u32 status. */
function exit_io(vcpu: KvmVcpu, run: kvm_run, status: number): void {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, status, true);
  run.exit_reason = KVM_EXIT_IO;
  run.io = { direction: KVM_EXIT_IO_OUT, size: 4, port: GUEST_EXIT_PORT, count: 1, data };
  vcpu.stat[EXITS]!++;
  vcpu.stat[IO_EXITS]!++;
  vcpu.guest.prog = null;
}

/** An access userspace must emulate (no memory there, or a read-only slot written). */
function exit_mmio(vcpu: KvmVcpu, run: kvm_run, gpa: number, write: boolean): void {
  const data = new Uint8Array(8);
  if (write) {
    const v = new DataView(data.buffer);
    v.setUint32(0, gpa % 2 ** 32, true);
    v.setUint32(4, Math.floor(gpa / 2 ** 32), true);
  }
  run.exit_reason = KVM_EXIT_MMIO;
  run.mmio = { phys_addr: gpa, data, len: 8, is_write: write ? 1 : 0 };
  vcpu.stat[EXITS]!++;
  vcpu.stat[MMIO_EXITS]!++;
}

/** Fetch and decode the descriptor at gpa 0; false when the vCPU had to exit. */
function fetch_program(vcpu: KvmVcpu, run: kvm_run): boolean {
  const g = vcpu.guest;
  const pfn = guest_access(vcpu, 0, false);
  if (pfn < 0) {
    // Executing from MMIO: the emulator gives up (KVM_INTERNAL_ERROR_EMULATION).
    run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
    run.internal = { suberror: KVM_INTERNAL_ERROR_EMULATION };
    vcpu.stat[EXITS]!++;
    return false;
  }
  const prog = decode_guest_program(vcpu.kvm.deps.kmem.dram.read(pfn * PAGE_SIZE, GUEST_PROGRAM_SIZE));
  if (!prog || prog.hole_end! < prog.hole_start!) {
    exit_io(vcpu, run, 1);
    return false;
  }
  const first = Math.floor(prog.start_gpa / PAGE_SIZE);
  const npages = Math.ceil((prog.start_gpa + prog.bytes) / PAGE_SIZE) - first;
  g.prog = prog;
  g.pos = 0;
  g.total = npages > 0 ? npages * Math.max(1, prog.iterations) : 0;
  g.rng = prog.pattern === GUEST_PATTERN_SEQ ? null : new Rng(prog.seed);
  g.sumLo = 0;
  g.sumHi = 0;
  g.pendingMmioRead = false;
  if (prog.pattern !== GUEST_PATTERN_SEQ && prog.pattern !== GUEST_PATTERN_RANDOM && prog.pattern !== GUEST_PATTERN_HOT_COLD) {
    exit_io(vcpu, run, 1);
    return false;
  }
  return true;
}

/**
 * A machine check injected since the last run (x86_mce.ts). A triple fault
 * (CR4.MCE clear, or a #MC while one is in progress) shuts the guest down:
 * KVM_EXIT_SHUTDOWN, and the program is gone. A #MC reaches the guest's
 * handler, which — as a Linux guest's do_machine_check does — ends the program
 * that consumed an action-required error (status GUEST_STATUS_MCE) and lets
 * an action-optional one pass (the guest would offline the page in the
 * background). True when the vCPU exited.
 */
function deliver_mce(vcpu: KvmVcpu, run: kvm_run): boolean {
  const ev = kvm_take_mce_event(vcpu);
  if (ev.kind === 'none') return false;
  if (ev.kind === 'triple-fault') {
    run.exit_reason = KVM_EXIT_SHUTDOWN;
    vcpu.stat[EXITS]!++;
    vcpu.guest.prog = null;
    vcpu.guest.pendingMmioRead = false;
    return true;
  }
  if (!ev.actionRequired || !vcpu.guest.prog) return false;
  vcpu.guest.pendingMmioRead = false;
  exit_io(vcpu, run, GUEST_STATUS_MCE);
  return true;
}

/**
 * kvm_arch_vcpu_ioctl_run(): run the guest until it exits to userspace; `run`
 * is filled with the exit. Throws EFAULT when guest memory cannot be resolved
 * and the SIGBUS (BUS_MCEERR_AR) for poisoned memory, after a KVM_EXIT_INTR.
 */
export function kvm_arch_vcpu_ioctl_run(vcpu: KvmVcpu, run: kvm_run): void {
  const g = vcpu.guest;
  delete run.io;
  delete run.internal;
  if (deliver_mce(vcpu, run)) return;
  try {
    if (g.pendingMmioRead) {
      // complete_emulated_mmio(): userspace put the value in run.mmio.data.
      const d = run.mmio?.data ?? new Uint8Array(8);
      const v = new DataView(d.buffer, d.byteOffset, Math.min(8, d.byteLength));
      g.sumLo = (g.sumLo ^ (d.byteLength >= 4 ? v.getUint32(0, true) : 0)) >>> 0;
      g.sumHi = (g.sumHi ^ (d.byteLength >= 8 ? v.getUint32(4, true) : 0)) >>> 0;
      g.pendingMmioRead = false;
      g.pos++;
    }
    delete run.mmio;
    if (!g.prog && !fetch_program(vcpu, run)) return;
    const p = g.prog!;
    const write = (p.flags & GUEST_FLAG_WRITE) !== 0;
    const first = Math.floor(p.start_gpa / PAGE_SIZE);
    const npages = Math.ceil((p.start_gpa + p.bytes) / PAGE_SIZE) - first;
    const seq = p.pattern === GUEST_PATTERN_SEQ;
    while (g.pos < g.total) {
      if (seq && seq_fault_run(vcpu, g, first, npages, write)) continue;
      const gpa = guest_page_gpa(p, next_page(g, first, npages));
      const pfn = guest_access(vcpu, gpa, write);
      if (pfn < 0) {
        exit_mmio(vcpu, run, gpa, write);
        if (write) g.pos++;
        else g.pendingMmioRead = true;
        return;
      }
      if (write) write8(vcpu, pfn, gpa);
      else read8(vcpu, pfn, gpa, g);
      g.pos++;
    }
    if (p.flags & GUEST_FLAG_CHECKSUM) {
      const pfn = guest_access(vcpu, GUEST_RESULT_OFFSET, true);
      if (pfn >= 0) {
        const buf = vcpu.kvm.deps.kmem.dram.frameForWrite(pfn);
        const v = new DataView(buf.buffer, buf.byteOffset + GUEST_RESULT_OFFSET, 8);
        v.setUint32(0, g.sumLo, true);
        v.setUint32(4, g.sumHi, true);
      }
    }
    exit_io(vcpu, run, 0);
  } catch (e) {
    if (e instanceof Signal) {
      // The signal is pending when vcpu_run checks: KVM_EXIT_INTR, then delivery.
      run.exit_reason = KVM_EXIT_INTR;
      vcpu.stat[SIGNAL_EXITS]!++;
    } else if (!(e instanceof Errno)) {
      throw e;
    }
    throw e;
  }
}
