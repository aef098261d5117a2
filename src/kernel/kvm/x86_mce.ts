/**
 * Machine checks for guests (arch/x86/kvm/x86.c: kvm_vcpu_ioctl_x86_setup_mce,
 * kvm_vcpu_ioctl_x86_set_mce, KVM_X86_GET_MCE_CAP_SUPPORTED; kvm_caps
 * supported_mce_cap; the #MC delivery in inject_pending_event and the
 * KVM_REQ_TRIPLE_FAULT → KVM_EXIT_SHUTDOWN path).
 *
 * A VMM that gets SIGBUS BUS_MCEERR_AR/AO for guest memory injects a machine
 * check with KVM_X86_SET_MCE (QEMU's kvm_mce_inject; QEMU ≥ 2.x reaches the
 * same state through KVM_SET_MSRS and KVM_SET_VCPU_EVENTS). The model keeps
 * the MCG/MCi registers KVM keeps and, at the next KVM_RUN, delivers the #MC
 * to the guest. What the guest does with it is the model guest's part
 * (guest.ts, kvm_deliver_mce): a guest OS kills the program that consumed the
 * poison (SRAR) or notes the page and goes on (SRAO), then clears MCIP.
 */
import { Errno } from '../../lib/errno.ts';
import {
  KVM_MAX_MCE_BANKS,
  MAX_IO_MSRS,
  MCG_CTL_P,
  MCG_SER_P,
  MCG_STATUS_MCIP,
  MCI_STATUS_AR,
  MCI_STATUS_OVER,
  MCI_STATUS_UC,
  MCI_STATUS_VAL,
  MSR_IA32_MC0_CTL,
  MSR_IA32_MCG_CTL,
  MSR_IA32_MCG_STATUS,
  X86_CR4_MCE,
  type kvm_x86_mce,
} from '../../uapi/kvm_x86.ts';
import type { KvmVcpu } from './kvm_host.ts';
import { kvm_read_cr4 } from './x86_regs.ts';

/** kvm_caps.supported_mce_cap on the model's (VMX) host: MCG_CTL_P | MCG_SER_P. */
export const KVM_MCE_CAP_SUPPORTED = MCG_CTL_P | MCG_SER_P;
/** Bits of MCG_CAP a VMM may set besides the supported ones: the bank count and MCG_EXT_CNT. */
const MCG_CAP_COUNT_BITS = 0xff | 0xff0000;

/** One vCPU's machine-check state (struct kvm_vcpu_arch's mcg_* and mce_banks). */
interface VcpuMce {
  mcg_cap: number;
  mcg_ctl: bigint;
  mcg_status: bigint;
  /** 4 registers per bank: CTL, STATUS, ADDR, MISC. */
  banks: bigint[];
  /** A queued #MC (kvm_queue_exception(MC_VECTOR)). */
  pending: boolean;
  /** KVM_REQ_TRIPLE_FAULT. */
  tripleFault: boolean;
}

const ALL_ONES = (1n << 64n) - 1n;
const state = new WeakMap<KvmVcpu, VcpuMce>();

function mceOf(vcpu: KvmVcpu): VcpuMce {
  let s = state.get(vcpu);
  if (!s) {
    s = { mcg_cap: 0, mcg_ctl: 0n, mcg_status: 0n, banks: [], pending: false, tripleFault: false };
    state.set(vcpu, s);
  }
  return s;
}

/** A u64 argument as a bigint, or EFAULT. */
function u64Arg(arg: unknown): bigint {
  if (typeof arg === 'bigint' && arg >= 0n && arg <= ALL_ONES) return arg;
  if (typeof arg === 'number' && Number.isSafeInteger(arg) && arg >= 0) return BigInt(arg);
  throw new Errno('EFAULT');
}

/** KVM_X86_SETUP_MCE: EINVAL for no banks, too many, or an unsupported capability bit. */
export function kvm_vcpu_ioctl_x86_setup_mce(vcpu: KvmVcpu, arg: unknown): number {
  const cap = u64Arg(arg);
  const bank_num = Number(cap & 0xffn);
  if (!bank_num || bank_num > KVM_MAX_MCE_BANKS) throw new Errno('EINVAL');
  if (cap & ~BigInt(KVM_MCE_CAP_SUPPORTED | MCG_CAP_COUNT_BITS)) throw new Errno('EINVAL');
  const s = mceOf(vcpu);
  s.mcg_cap = Number(cap);
  if (s.mcg_cap & MCG_CTL_P) s.mcg_ctl = ALL_ONES;
  // IA32_MCi_CTL all 1s: every error class reported.
  s.banks = [];
  for (let bank = 0; bank < bank_num; bank++) s.banks.push(ALL_ONES, 0n, 0n, 0n);
  return 0;
}

/** KVM_X86_SET_MCE: record the error in its bank and queue #MC, or make the vCPU triple-fault. */
export function kvm_vcpu_ioctl_x86_set_mce(vcpu: KvmVcpu, arg: unknown): number {
  if (!arg || typeof arg !== 'object') throw new Errno('EFAULT');
  const m = arg as Partial<kvm_x86_mce>;
  const mce = {
    status: u64Arg(m.status),
    addr: u64Arg(m.addr),
    misc: u64Arg(m.misc ?? 0n),
    mcg_status: u64Arg(m.mcg_status ?? 0n),
    bank: Number(u64Arg(m.bank)) & 0xff,
  };
  const s = mceOf(vcpu);
  const bank_num = s.mcg_cap & 0xff;
  if (mce.bank >= bank_num || !(mce.status & MCI_STATUS_VAL)) throw new Errno('EINVAL');
  const b = 4 * mce.bank;
  const uc = (mce.status & MCI_STATUS_UC) !== 0n;
  // IA32_MCG_CTL or IA32_MCi_CTL not all 1s: uncorrected error reporting is off, the error is dropped.
  if (uc && s.mcg_cap & MCG_CTL_P && s.mcg_ctl !== ALL_ONES) return 0;
  if (uc && s.banks[b] !== ALL_ONES) return 0;
  if (uc) {
    if (s.mcg_status & MCG_STATUS_MCIP || !(kvm_read_cr4(vcpu) & X86_CR4_MCE)) {
      s.tripleFault = true;
      return 0;
    }
    if (s.banks[b + 1]! & MCI_STATUS_VAL) mce.status |= MCI_STATUS_OVER;
    s.banks[b + 2] = mce.addr;
    s.banks[b + 3] = mce.misc;
    s.mcg_status = mce.mcg_status;
    s.banks[b + 1] = mce.status;
    s.pending = true;
  } else if (!(s.banks[b + 1]! & MCI_STATUS_VAL) || !(s.banks[b + 1]! & MCI_STATUS_UC)) {
    // A corrected error overwrites a previous corrected one; no exception.
    if (s.banks[b + 1]! & MCI_STATUS_VAL) mce.status |= MCI_STATUS_OVER;
    s.banks[b + 2] = mce.addr;
    s.banks[b + 3] = mce.misc;
    s.banks[b + 1] = mce.status;
  } else {
    s.banks[b + 1] = s.banks[b + 1]! | MCI_STATUS_OVER;
  }
  return 0;
}

/**
 * __set_regs's `vcpu->arch.exception.pending = false`: KVM_SET_REGS drops a
 * queued #MC (the banks and MCG_STATUS keep the error, MCIP included, so the
 * next uncorrected one is a triple fault). A requested triple fault stays.
 */
export function kvm_clear_pending_mce(vcpu: KvmVcpu): void {
  const s = state.get(vcpu);
  if (s) s.pending = false;
}

/**
 * set_msr_mce() for a host-initiated write: MCG_STATUS as given; MCG_CTL 0 or
 * all 1s (with MCG_CTL_P); a bank register of an existing bank (CTL 0 or all
 * 1s but bits 10 and 0). False for anything else, which ends KVM_SET_MSRS.
 */
function set_msr_mce(s: VcpuMce, index: number, data: bigint): boolean {
  if (index === MSR_IA32_MCG_STATUS) {
    s.mcg_status = data;
    return true;
  }
  if (index === MSR_IA32_MCG_CTL) {
    if (!(s.mcg_cap & MCG_CTL_P) && data) return false;
    if (data !== 0n && data !== ALL_ONES) return false;
    s.mcg_ctl = data;
    return true;
  }
  const offset = index - MSR_IA32_MC0_CTL;
  if (offset < 0 || offset >= 4 * (s.mcg_cap & 0xff)) return false;
  if (offset % 4 === 0 && data !== 0n && (data | (1n << 10n) | 1n) !== ALL_ONES) return false;
  s.banks[offset] = data;
  return true;
}

/**
 * KVM_SET_MSRS (kvm_vcpu_ioctl → msr_io → __msr_io → kvm_set_msr_common):
 * E2BIG for MAX_IO_MSRS entries or more; otherwise the entries are written in
 * order until one cannot be, and the count written is returned. The model
 * knows only the machine-check MSRs (set_msr_mce); any other stops the write,
 * as an MSR KVM does not know does.
 */
export function kvm_vcpu_ioctl_set_msrs(vcpu: KvmVcpu, arg: unknown): number {
  if (!arg || typeof arg !== 'object' || !Array.isArray((arg as { entries?: unknown }).entries)) throw new Errno('EFAULT');
  const entries = (arg as { entries: { index?: unknown; data?: unknown }[] }).entries;
  if (entries.length >= MAX_IO_MSRS) throw new Errno('E2BIG');
  const s = mceOf(vcpu);
  let n = 0;
  for (const e of entries) {
    if (typeof e.index !== 'number' || !set_msr_mce(s, e.index, u64Arg(e.data))) break;
    n++;
  }
  return n;
}

/** What the vCPU must do before running guest code: nothing, take a #MC, or shut down. */
export type MceEvent = { kind: 'none' } | { kind: 'triple-fault' } | { kind: 'mc'; gpa: number; actionRequired: boolean };

/**
 * The pending event at KVM_RUN (kvm_check_request(KVM_REQ_TRIPLE_FAULT), then
 * the queued #MC). The guest's handler clears MCIP once it has dealt with the
 * error (the model's guest always handles it: see guest.ts).
 */
export function kvm_take_mce_event(vcpu: KvmVcpu): MceEvent {
  const s = state.get(vcpu);
  if (!s) return { kind: 'none' };
  if (s.tripleFault) {
    s.tripleFault = false;
    s.pending = false;
    return { kind: 'triple-fault' };
  }
  if (!s.pending) return { kind: 'none' };
  s.pending = false;
  for (let b = 0; b < s.banks.length; b += 4) {
    const st = s.banks[b + 1]!;
    if (st & MCI_STATUS_VAL && st & MCI_STATUS_UC) {
      // The guest's do_machine_check reads the bank, then clears it and MCIP.
      s.banks[b + 1] = 0n;
      s.mcg_status = 0n;
      return { kind: 'mc', gpa: Number(s.banks[b + 2]!), actionRequired: (st & MCI_STATUS_AR) !== 0n };
    }
  }
  s.mcg_status = 0n;
  return { kind: 'none' };
}
