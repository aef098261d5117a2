/**
 * The vCPU register and CPUID ioctls (arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl's
 * KVM_GET_REGS/KVM_SET_REGS (__get_regs/__set_regs), KVM_GET_SREGS/KVM_SET_SREGS
 * (__get_sregs/__set_sregs, kvm_is_valid_sregs, kvm_is_valid_cr0/cr4),
 * KVM_SET_CPUID2; arch/x86/kvm/cpuid.c kvm_dev_ioctl_get_cpuid; vmx.c
 * vmx_vcpu_reset for the reset values).
 *
 * The model's vCPU does not execute the instructions it is given (guest.ts
 * interprets the descriptor at GPA 0 instead), so these registers are stored,
 * validated as Linux validates them, and read back; setting the registers
 * restarts the guest program, as a new RIP would. The CPUID list the model
 * offers is a fixed x86-64 host's (with 1 GiB pages).
 */
import { Errno } from '../../lib/errno.ts';
import {
  CPUID_EXT_FEATURES,
  EFER_LMA,
  EFER_LME,
  KVM_REGS_FIELDS,
  X86_CR0_CD,
  X86_CR0_NW,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR4_PAE,
  type kvm_cpuid2,
  type kvm_cpuid_entry2,
  type kvm_regs,
  type kvm_segment,
  type kvm_sregs,
} from '../../uapi/kvm_x86.ts';
import type { KvmVcpu } from './kvm_host.ts';
import { kvm_clear_pending_mce } from './x86_mce.ts';

/** A vCPU's architectural state as the ioctls see it. */
interface X86State {
  regs: kvm_regs;
  sregs: kvm_sregs;
  cpuid: kvm_cpuid_entry2[];
}

const state = new WeakMap<KvmVcpu, X86State>();

/** CR4 bits KVM knows (CR4_RESERVED_BITS is the complement): VME … VMXE, SMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE, CET, PKS. */
const CR4_KNOWN = 0x3fff | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 18) | (1 << 20) | (1 << 21) | (1 << 22) | (1 << 23) | (1 << 24);

/** The CPUID leaves the model's KVM offers (a long-mode host with SSE2, NX and 1 GiB pages; 46 physical address bits). */
const SUPPORTED_CPUID: readonly kvm_cpuid_entry2[] = [
  { function: 0, index: 0, flags: 0, eax: 1, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
  // FPU PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2.
  { function: 1, index: 0, flags: 0, eax: 0x50654, ebx: 0, ecx: 0x80000000, edx: 0x0789fbff },
  { function: 0x80000000, index: 0, flags: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
  // SYSCALL(11) NX(20) Page1GB(26) RDTSCP(27) LM(29).
  { function: CPUID_EXT_FEATURES, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 1, edx: 0x2c100800 },
  { function: 0x80000008, index: 0, flags: 0, eax: 0x302e, ebx: 0, ecx: 0, edx: 0 },
];

const seg = (selector: number, base: number, type: number): kvm_segment => ({
  base, limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s: type === 2 || type === 11 ? 0 : 1, l: 0, g: 0, avl: 0, unusable: 0,
});

/** vmx_vcpu_reset(): the state at power-on (real mode, CS:IP = f000:fff0). */
function resetState(): X86State {
  const regs = Object.fromEntries(KVM_REGS_FIELDS.map((f) => [f, 0])) as unknown as kvm_regs;
  regs.rip = 0xfff0;
  regs.rflags = 2;
  regs.rdx = 0x600; // the CPU signature, as after RESET
  const sregs: kvm_sregs = {
    cs: { ...seg(0xf000, 0xffff0000, 11), s: 1 },
    ds: seg(0, 0, 3), es: seg(0, 0, 3), fs: seg(0, 0, 3), gs: seg(0, 0, 3), ss: seg(0, 0, 3),
    tr: seg(0, 0, 11), ldt: seg(0, 0, 2),
    gdt: { base: 0, limit: 0xffff }, idt: { base: 0, limit: 0xffff },
    cr0: 0x60000010, cr2: 0, cr3: 0, cr4: 0, cr8: 0, efer: 0, apic_base: 0xfee00900,
    interrupt_bitmap: [0, 0, 0, 0],
  };
  return { regs, sregs, cpuid: [] };
}

function get(vcpu: KvmVcpu): X86State {
  let s = state.get(vcpu);
  if (!s) state.set(vcpu, (s = resetState()));
  return s;
}

const isU64 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** copy_from_user of a struct: every field a non-negative integer, else EFAULT. */
function copyFields<T extends object>(arg: unknown, fields: readonly string[]): T {
  const o = arg as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') throw new Errno('EFAULT');
  for (const f of fields) if (!isU64(o[f])) throw new Errno('EFAULT');
  return Object.fromEntries(fields.map((f) => [f, o[f]])) as T;
}

const SEG_FIELDS = ['base', 'limit', 'selector', 'type', 'present', 'dpl', 'db', 's', 'l', 'g', 'avl', 'unusable'];

/** kvm_is_valid_cr0(): no bits above 31, NW only with CD, PG only with PE. */
function kvm_is_valid_cr0(cr0: number): boolean {
  if (cr0 >= 2 ** 32) return false;
  if (cr0 & X86_CR0_NW && !(cr0 & X86_CR0_CD)) return false;
  if (cr0 & X86_CR0_PG && !(cr0 & X86_CR0_PE)) return false;
  return true;
}

/** kvm_is_valid_sregs(): long mode needs PAE and LMA; LMA or a 64-bit CS without LME+PG is invalid. */
function kvm_is_valid_sregs(s: kvm_sregs): boolean {
  const lme = (s.efer & EFER_LME) !== 0;
  const lma = (s.efer & EFER_LMA) !== 0;
  if (lme && s.cr0 & X86_CR0_PG) {
    if (!(s.cr4 & X86_CR4_PAE) || !lma) return false;
    if (s.cr3 >= 2 ** 52) return false; // kvm_vcpu_is_legal_cr3: beyond MAXPHYADDR
  } else if (lma || s.cs.l) {
    return false;
  }
  const cr4ok = s.cr4 < 2 ** 32 && (s.cr4 & ~CR4_KNOWN) === 0;
  return cr4ok && kvm_is_valid_cr0(s.cr0);
}

/** kvm_read_cr4(): the guest's CR4 as last set. */
export function kvm_read_cr4(vcpu: KvmVcpu): number {
  return get(vcpu).sregs.cr4;
}

/** KVM_GET_REGS: copy_to_user into the caller's object. */
export function kvm_arch_vcpu_ioctl_get_regs(vcpu: KvmVcpu, arg: unknown): number {
  if (!arg || typeof arg !== 'object') throw new Errno('EFAULT');
  Object.assign(arg, get(vcpu).regs);
  return 0;
}

/** KVM_SET_REGS: the guest restarts at the new RIP (the model's program starts over); a queued exception is dropped. */
export function kvm_arch_vcpu_ioctl_set_regs(vcpu: KvmVcpu, arg: unknown): number {
  const regs = copyFields<kvm_regs>(arg, KVM_REGS_FIELDS);
  get(vcpu).regs = regs;
  vcpu.guest.prog = null;
  vcpu.guest.pendingMmioRead = false;
  kvm_clear_pending_mce(vcpu);
  return 0;
}

/** KVM_GET_SREGS. */
export function kvm_arch_vcpu_ioctl_get_sregs(vcpu: KvmVcpu, arg: unknown): number {
  if (!arg || typeof arg !== 'object') throw new Errno('EFAULT');
  Object.assign(arg, structuredClone(get(vcpu).sregs));
  return 0;
}

/** KVM_SET_SREGS: EINVAL for a state the CPU could not be in (kvm_is_valid_sregs). */
export function kvm_arch_vcpu_ioctl_set_sregs(vcpu: KvmVcpu, arg: unknown): number {
  const o = arg as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') throw new Errno('EFAULT');
  const s = copyFields<kvm_sregs>(arg, ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apic_base']);
  for (const name of ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const) s[name] = copyFields<kvm_segment>(o[name], SEG_FIELDS);
  s.gdt = copyFields(o.gdt, ['base', 'limit']);
  s.idt = copyFields(o.idt, ['base', 'limit']);
  const ib = o.interrupt_bitmap;
  s.interrupt_bitmap = Array.isArray(ib) ? ib.slice(0, 4).map(Number) : [0, 0, 0, 0];
  if (!kvm_is_valid_sregs(s)) throw new Errno('EINVAL');
  get(vcpu).sregs = s;
  return 0;
}

/** kvm_dev_ioctl_get_cpuid(): E2BIG when the caller's nent is too small; nent is set to the count. */
export function kvm_dev_ioctl_get_supported_cpuid(arg: unknown): number {
  const c = arg as Partial<kvm_cpuid2> | null;
  if (!c || typeof c !== 'object' || !isU64(c.nent)) throw new Errno('EFAULT');
  if (c.nent < 1) throw new Errno('E2BIG');
  if (c.nent < SUPPORTED_CPUID.length) throw new Errno('E2BIG');
  c.nent = SUPPORTED_CPUID.length;
  c.entries = SUPPORTED_CPUID.map((e) => ({ ...e }));
  return 0;
}

/** KVM_SET_CPUID2: E2BIG beyond KVM_MAX_CPUID_ENTRIES; stored for the vCPU. */
export function kvm_vcpu_ioctl_set_cpuid2(vcpu: KvmVcpu, arg: unknown): number {
  const c = arg as Partial<kvm_cpuid2> | null;
  if (!c || typeof c !== 'object' || !isU64(c.nent) || !Array.isArray(c.entries) || c.entries.length < c.nent) throw new Errno('EFAULT');
  if (c.nent > 256) throw new Errno('E2BIG');
  get(vcpu).cpuid = c.entries.slice(0, c.nent).map((e) => ({ ...e }));
  return 0;
}
