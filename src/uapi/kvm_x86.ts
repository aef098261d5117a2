/**
 * x86's part of the KVM ABI (arch/x86/include/uapi/asm/kvm.h, include/uapi/linux/kvm.h,
 * arch/x86/include/uapi/asm/processor-flags.h, msr-index.h): the vCPU register
 * ioctls, CPUID, and the control-register bits a VMM sets to start a guest in long
 * mode. As with the rest of uapi/kvm.ts, structures travel as objects with the C
 * field names (u64 fields as numbers: every value here is below 2^53).
 */

// ---- ioctl requests ----
/** _IOR(KVMIO, 0x81, struct kvm_regs) on a vCPU fd (struct kvm_regs is 144 bytes). */
export const KVM_GET_REGS = 0x8090ae81;
/** _IOW(KVMIO, 0x82, struct kvm_regs). */
export const KVM_SET_REGS = 0x4090ae82;
/** _IOR(KVMIO, 0x83, struct kvm_sregs) (struct kvm_sregs is 312 bytes). */
export const KVM_GET_SREGS = 0x8138ae83;
/** _IOW(KVMIO, 0x84, struct kvm_sregs). */
export const KVM_SET_SREGS = 0x4138ae84;
/** _IOWR(KVMIO, 0x05, struct kvm_cpuid2) on /dev/kvm: the CPUID leaves KVM can expose. */
export const KVM_GET_SUPPORTED_CPUID = 0xc008ae05;
/** _IOW(KVMIO, 0x90, struct kvm_cpuid2) on a vCPU fd: the guest's CPUID. */
export const KVM_SET_CPUID2 = 0x4008ae90;
/** Entries QEMU asks KVM_GET_SUPPORTED_CPUID for first (it retries with more on E2BIG). */
export const KVM_MAX_CPUID_ENTRIES = 256;

/** struct kvm_regs: the general-purpose registers, rip and rflags. */
export interface kvm_regs {
  rax: number; rbx: number; rcx: number; rdx: number;
  rsi: number; rdi: number; rsp: number; rbp: number;
  r8: number; r9: number; r10: number; r11: number;
  r12: number; r13: number; r14: number; r15: number;
  rip: number; rflags: number;
}
/** kvm_regs's fields in their C order (each a __u64). */
export const KVM_REGS_FIELDS: readonly (keyof kvm_regs)[] = [
  'rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp',
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'rflags',
];

/** struct kvm_segment (24 bytes): a segment register's hidden part. */
export interface kvm_segment {
  base: number;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable (16 bytes): GDTR or IDTR. */
export interface kvm_dtable {
  base: number;
  limit: number;
}

/** struct kvm_sregs: segments, descriptor tables, control registers, EFER, APIC base. */
export interface kvm_sregs {
  cs: kvm_segment; ds: kvm_segment; es: kvm_segment; fs: kvm_segment;
  gs: kvm_segment; ss: kvm_segment; tr: kvm_segment; ldt: kvm_segment;
  gdt: kvm_dtable; idt: kvm_dtable;
  cr0: number; cr2: number; cr3: number; cr4: number; cr8: number;
  efer: number;
  apic_base: number;
  /** 256 bits: the pending external interrupt, if any (4 × __u64). */
  interrupt_bitmap: number[];
}
/** kvm_sregs's segment fields in their C order. */
export const KVM_SREGS_SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;

/** struct kvm_cpuid_entry2 (40 bytes). */
export interface kvm_cpuid_entry2 {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_cpuid2: `nent` is how many entries fit (in) and were filled (out). */
export interface kvm_cpuid2 {
  nent: number;
  entries: kvm_cpuid_entry2[];
}

// ---- processor flags (processor-flags.h, msr-index.h) ----
export const X86_CR0_PE = 0x1;
export const X86_CR0_MP = 0x2;
export const X86_CR0_EM = 0x4;
export const X86_CR0_TS = 0x8;
export const X86_CR0_ET = 0x10;
export const X86_CR0_NE = 0x20;
export const X86_CR0_WP = 0x10000;
export const X86_CR0_NW = 0x20000000;
export const X86_CR0_CD = 0x40000000;
export const X86_CR0_PG = 0x80000000;
export const X86_CR4_PAE = 0x20;
export const X86_CR4_OSFXSR = 0x200;
export const X86_CR4_OSXMMEXCPT = 0x400;
export const EFER_SCE = 0x1;
export const EFER_LME = 0x100;
export const EFER_LMA = 0x400;
export const EFER_NX = 0x800;
/** RFLAGS bit 1 is always set. */
export const X86_EFLAGS_FIXED = 0x2;
/** CPUID 0x80000001 EDX bit 26: 1 GiB pages (pdpe1gb). */
export const CPUID_EXT_FEATURES = 0x80000001;
export const X86_FEATURE_GBPAGES_EDX_BIT = 26;
/** CPUID 0x80000001 EDX bit 29: long mode. */
export const X86_FEATURE_LM_EDX_BIT = 29;

/** Whether a CPUID list (KVM_GET_SUPPORTED_CPUID's answer) offers 1 GiB pages. */
export function cpuid_has_gbpages(c: kvm_cpuid2): boolean {
  const e = c.entries.slice(0, c.nent).find((x) => x.function === CPUID_EXT_FEATURES);
  return e !== undefined && Math.floor(e.edx / 2 ** X86_FEATURE_GBPAGES_EDX_BIT) % 2 === 1;
}

// ---- machine checks (arch/x86/include/uapi/asm/kvm.h, asm/mce.h) ----
/** KVM_CAP_MCE: KVM_CHECK_EXTENSION answers the number of MCE banks a vCPU may have. */
export const KVM_CAP_MCE = 31;
/** KVM_MAX_MCE_BANKS. */
export const KVM_MAX_MCE_BANKS = 32;
/** _IOR(KVMIO, 0x9d, __u64) on /dev/kvm: the MCG_CAP bits KVM supports. */
export const KVM_X86_GET_MCE_CAP_SUPPORTED = 0x8008ae9d;
/** _IOW(KVMIO, 0x9c, __u64) on a vCPU fd: the guest's MCG_CAP (bank count in bits 0-7). */
export const KVM_X86_SETUP_MCE = 0x4008ae9c;
/** _IOW(KVMIO, 0x9e, struct kvm_x86_mce) on a vCPU fd: inject a machine check. */
export const KVM_X86_SET_MCE = 0x4040ae9e;
/** _IOW(KVMIO, 0x89, struct kvm_msrs) on a vCPU fd: write MSRs; the result is how many were written (it stops at the first it cannot). */
export const KVM_SET_MSRS = 0x4008ae89;
/** MAX_IO_MSRS: a KVM_SET_MSRS of this many entries or more is E2BIG. */
export const MAX_IO_MSRS = 256;
/** Machine-check MSRs (arch/x86/include/asm/msr-index.h): MCG_CAP, MCG_STATUS, MCG_CTL, and bank i's CTL/STATUS/ADDR/MISC at MC0_CTL + 4i + 0..3. */
export const MSR_IA32_MCG_CAP = 0x179;
export const MSR_IA32_MCG_STATUS = 0x17a;
export const MSR_IA32_MCG_CTL = 0x17b;
export const MSR_IA32_MC0_CTL = 0x400;
/** CR4.MCE: machine-check exceptions enabled (without it an injected #MC is a triple fault). */
export const X86_CR4_MCE = 1 << 6;
/** MCG_CAP bits: MCG_CTL register present, software error recovery (SRAO/SRAR) supported. */
export const MCG_CTL_P = 1 << 8;
export const MCG_SER_P = 1 << 24;
/** MCG_STATUS bits: restart IP valid, error IP valid, machine check in progress. */
export const MCG_STATUS_RIPV = 1n << 0n;
export const MCG_STATUS_EIPV = 1n << 1n;
export const MCG_STATUS_MCIP = 1n << 2n;
/** MCi_STATUS bits (63 down to 55). */
export const MCI_STATUS_VAL = 1n << 63n;
export const MCI_STATUS_OVER = 1n << 62n;
export const MCI_STATUS_UC = 1n << 61n;
export const MCI_STATUS_EN = 1n << 60n;
export const MCI_STATUS_MISCV = 1n << 59n;
export const MCI_STATUS_ADDRV = 1n << 58n;
export const MCI_STATUS_S = 1n << 56n;
export const MCI_STATUS_AR = 1n << 55n;

/** A __u64 the kernel writes (KVM_X86_GET_MCE_CAP_SUPPORTED); KVM_X86_SETUP_MCE takes its __u64 by value in the model's ABI. */
export interface kvm_u64_out {
  value: number;
}

/** struct kvm_msr_entry (16 bytes: index, reserved, data). */
export interface kvm_msr_entry {
  index: number;
  data: bigint;
}

/** struct kvm_msrs (nmsrs, pad, then the entries). */
export interface kvm_msrs {
  entries: kvm_msr_entry[];
}

/** struct kvm_x86_mce (64 bytes): one error for KVM_X86_SET_MCE. The 64-bit registers are bigints. */
export interface kvm_x86_mce {
  status: bigint;
  addr: number;
  misc: bigint;
  mcg_status: bigint;
  bank: number;
}
