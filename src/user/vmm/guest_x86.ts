/**
 * Guest page 0 and the vCPU state that starts the guest program in 64-bit mode
 * on real KVM (what a VMM's firmware loader does; the register values follow
 * arch/x86/kvm's kvm_is_valid_sregs and the SDM's "Initializing IA-32e mode").
 * The program itself is guest_x86_code.ts; vmm writes its descriptor at GPA 0
 * (uapi/kvm.ts), and this image right after it.
 *
 * Everything lives in page 0 (but a wide layout's tables, below), because the
 * program writes the first 8 bytes of every page it touches (and the result at
 * offset 48 of page 0), so any table entry 0 or code at a page's start would be
 * overwritten. Page 0 is used at three levels at once, and the guest runs at a
 * linear address where only entries beyond the descriptor are walked:
 *
 *   GPA 0x000  descriptor (64 bytes; the checksum at 0x30, the hole at 0x38)
 *       0x040  PML4[8]   → page 0 (as the PDPT)          linear 8 << 39 = 4 TiB
 *       0x048  1G pages: PDPT[9 + k] = k GiB | PS         (k < 183: GPAs up to 183 GiB)
 *              2M pages: PDPT[9] → page 0 (as the PD);
 *       0x050            PD[10 + k] = k·2 MiB | PS        (k < 182: GPAs up to 364 MiB)
 *       0x600  GDT: kernel CS 0x08, DS 0x10, user DS 0x2b, user CS 0x33, TSS 0x40
 *       0x680  TSS (RSP0 = 0xf00)
 *       0x700  IDT: vector 13 (#GP) and 18 (#MC) → their handlers, kernel CS
 *       0x840  code, then its constants
 *       …0xf00 kernel stack, …0x1000 user stack (a few words each)
 *
 * so GPA g is at linear GUEST_BASE + g, contiguously.
 *
 * Past what page 0's entries reach, a guest gets a wide layout: the last table
 * level moves out to RAM pages T_j at GPA (1 + j) × 4K, and T_j's entries
 * 1..511 map leaves 511j … 511j + 510 (entry e: leaf 511j + e − 1).
 *  - 1G leaves: page 0 is the PML4 alone, PML4[8 + j] → T_j (a PDPT); GPA g
 *    is at linear 4 TiB + 1 GiB + g + ⌊g / 511 GiB⌋ GiB; 184 entries fit before
 *    the GDT, so the limit is 184 × 511 GiB.
 *  - 2M leaves: page 0 is the PML4 and the PDPT, PDPT[9 + j] → T_j (a PD); GPA
 *    g is at linear 4 TiB + 9 GiB + 2 MiB + g + ⌊g / 1022 MiB⌋ × 2 MiB; the
 *    limit is 183 × 1022 MiB (182.6 GiB), which lets a host without 1G guest
 *    pages (PVM, nested KVM without pdpe1gb) run every guest split around the
 *    PCI hole.
 * Entry 0 of every T_j is left empty: it is the first 8 bytes of a RAM page,
 * which the program writes (its GPA, never a present entry: bit 0 is clear)
 * and reads (the checksum), so vmm stores the tables from byte 8 on and the
 * program's data stays what the model sees. The code computes ⌊k / 511⌋ per
 * access as k × 8405025 >> 32 (exact for k < 2^23 leaves).
 *
 * Only the leaves that hold guest RAM are present: the PCI hole of a guest
 * split around it (vmm's pc_ram.ts: 3 GiB below 4 GiB, the rest from 4 GiB)
 * has no entries, and the program skips it as the model does (the
 * descriptor's hole fields, uapi/kvm.ts guest_page_gpa). The entry point reads
 * the descriptor; when done it writes the checksum (flag) and does `out 0xf4,
 * eax` with the status (0 ok, 1 bad descriptor, 2 ended by a machine check),
 * and jumps back to the entry, which reads the descriptor again, as the model does.
 *
 * The program runs at CPL 3 (see guestSregs for why) with IOPL 3, so on VMX/SVM
 * the `out` exits directly. Where user mode runs on the host CPU's own rings
 * (PVM), the `out` raises #GP instead; the guest's #GP handler (CPL 0) does
 * the same `out` with the same eax and irets to the entry: the VMM sees the
 * same KVM_EXIT_IO either way.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { GUEST_PROGRAM_SIZE } from '../../uapi/kvm.ts';
import {
  EFER_LMA,
  EFER_LME,
  X86_CR0_ET,
  X86_CR0_MP,
  X86_CR0_NE,
  X86_CR0_PE,
  X86_CR0_PG,
  X86_CR0_WP,
  X86_CR4_MCE,
  X86_CR4_OSFXSR,
  X86_CR4_OSXMMEXCPT,
  X86_CR4_PAE,
  X86_EFLAGS_FIXED,
  type kvm_regs,
  type kvm_segment,
  type kvm_sregs,
} from '../../uapi/kvm_x86.ts';
import { GUEST_CODE_OFFSET, guestCode } from './guest_x86_code.ts';

export { GUEST_CODE_OFFSET } from './guest_x86_code.ts';

/** Page-table entry bits: present, writable, user, page size (a leaf at PDPT/PD level). */
const PTE_P = 0x1, PTE_RW = 0x2, PTE_US = 0x4, PTE_PS = 0x80;
/** Every entry: present, writable, user (the guest runs at CPL 3, see guestSregs). */
const PTE = PTE_P | PTE_RW | PTE_US;
const GiB = 2 ** 30, MiB2 = 2 ** 21;
/** The PML4 slot the guest runs in, and the first PDPT / PD slots it uses. */
export const GUEST_PML4_INDEX = 8;
export const GUEST_PDPT_FIRST = 9;
export const GUEST_PD_FIRST = 10;
/** Where the tables start in page 0 (just past the descriptor). */
export const GUEST_IMAGE_OFFSET = 0x40;
/** The GDT, TSS and IDT, and the kernel stack top (the TSS's RSP0). */
export const GUEST_GDT_OFFSET = 0x600;
export const GUEST_TSS_OFFSET = 0x680;
export const GUEST_IDT_OFFSET = 0x700;
const GUEST_KSTACK_OFFSET = 0xf00;
/** Page-0 entries available from a first slot to the GDT. */
const slotsFrom = (first: number): number => Math.floor((GUEST_GDT_OFFSET - 8 * first) / 8);
/** The highest GPA (exclusive) page 0's tables can map with each leaf size. */
export const GUEST_MAX_1G = slotsFrom(GUEST_PDPT_FIRST) * GiB;
export const GUEST_MAX_2M = slotsFrom(GUEST_PD_FIRST) * MiB2;
/** Selectors: Linux's __KERNEL_CS/__KERNEL_DS, __USER_DS/__USER_CS (RPL 3), GDT_ENTRY_TSS. */
const KERNEL_CS = 0x08, USER_DS = 0x2b, USER_CS = 0x33, TSS_SEL = 0x40;
/** GDT entries (64-bit descriptors): L=1 code, flat data, each DPL 0 or 3. */
const GDT: readonly [number, bigint][] = [
  [1, 0x00209a0000000000n], // kernel code: P, DPL 0, S, exec/read, L
  [2, 0x0000920000000000n], // kernel data: P, DPL 0, S, read/write
  [5, 0x0000f20000000000n], // user data: P, DPL 3
  [6, 0x0020fa0000000000n], // user code: P, DPL 3, L
];
const GDT_LIMIT = 10 * 8 - 1;
/** Vectors the IDT covers: up to #MC. */
const X86_TRAP_GP = 13;
const X86_TRAP_MC = 18;
const IDT_VECTORS = X86_TRAP_MC + 1;
const TSS_LIMIT = 0x67;

/** What vmm writes into guest memory and the vCPU. */
export interface GuestImage {
  /** Bytes to store at GPA GUEST_IMAGE_OFFSET (tables, then the code at GUEST_CODE_OFFSET). */
  bytes: Uint8Array;
  /** Linear address of GPA 0. */
  base: number;
  /** Entry point (linear). */
  rip: number;
  /** Leaf size the guest's tables use. */
  leaf: '1G' | '2M';
  /** A wide layout's table pages: bytes to store at GPA `gpa` + 8 (after the entry the program owns). */
  tables: { gpa: number; bytes: Uint8Array }[];
}

/** The wide layouts: the first page-0 slot pointing at T_0, and the GPAs they reach. */
export const GUEST_WIDE_PML4_FIRST = 8;
export const GUEST_MAX_WIDE = slotsFrom(GUEST_WIDE_PML4_FIRST) * 511 * GiB;
export const GUEST_MAX_WIDE_2M = slotsFrom(GUEST_PDPT_FIRST) * 511 * MiB2;
/** Linear address of GPA 0 in the wide layouts: T_0's entry 1. */
export const GUEST_WIDE_BASE = GUEST_WIDE_PML4_FIRST * 2 ** 39 + GiB;
export const GUEST_WIDE_2M_BASE = GUEST_PML4_INDEX * 2 ** 39 + GUEST_PDPT_FIRST * GiB + MiB2;

/** The linear address of GPA 0 for each leaf size (page 0's own tables). */
export function guestBase(leaf: '1G' | '2M'): number {
  const base = GUEST_PML4_INDEX * 2 ** 39 + GUEST_PDPT_FIRST * GiB;
  return leaf === '1G' ? base : base + GUEST_PD_FIRST * MiB2;
}

/** A range of guest RAM in guest physical memory. */
export interface GuestRamRange {
  gpa: number;
  size: number;
}

/** A 64-bit interrupt gate (type 0xE, P, DPL 0) to `handler`, kernel CS: its two u64s. */
function intrGate(handler: number): [bigint, bigint] {
  const h = BigInt(handler);
  return [(h & 0xffffn) | (BigInt(KERNEL_CS) << 16n) | (0x8en << 40n) | (((h >> 16n) & 0xffffn) << 48n), h >> 32n];
}

/**
 * The bytes for page 0 from GUEST_IMAGE_OFFSET: the page-table entries for
 * guest RAM (`ram` bytes at GPA 0, or the given ranges) and the code. 1G
 * leaves when the CPU has them (KVM_GET_SUPPORTED_CPUID's pdpe1gb), else 2M;
 * a leaf is present when it overlaps a range. Null when the highest GPA is
 * beyond what the tables can map.
 */
export function guestImage(ram: number | readonly GuestRamRange[], gbpages: boolean): GuestImage | null {
  const leaf = gbpages ? '1G' : '2M';
  const step = gbpages ? GiB : MiB2;
  const ranges = typeof ram === 'number' ? [{ gpa: 0, size: ram }] : ram.filter((r) => r.size > 0);
  const end = Math.max(0, ...ranges.map((r) => r.gpa + r.size));
  const wide = end > (gbpages ? GUEST_MAX_1G : GUEST_MAX_2M);
  if (wide && end > (gbpages ? GUEST_MAX_WIDE : GUEST_MAX_WIDE_2M)) return null;
  const nTables = wide ? Math.ceil(Math.ceil(end / step) / 511) : 0;
  // The table pages must be guest RAM at GPA 4K … (1 + nTables) × 4K.
  if (wide && !ranges.some((r) => r.gpa === 0 && r.size >= (1 + nTables) * PAGE_SIZE)) return null;
  const base = !wide ? guestBase(leaf) : gbpages ? GUEST_WIDE_BASE : GUEST_WIDE_2M_BASE;
  const code = guestCode(base, wide ? (gbpages ? 30 : 21) : 0);
  if (GUEST_CODE_OFFSET + code.bytes.length > PAGE_SIZE - 64) throw new Error('BUG: guest code overflows page 0');
  if (GUEST_IDT_OFFSET + 16 * IDT_VECTORS > GUEST_CODE_OFFSET) throw new Error('BUG: the IDT overlaps the code');
  const img = new Uint8Array(GUEST_CODE_OFFSET + code.bytes.length - GUEST_IMAGE_OFFSET);
  const v = new DataView(img.buffer);
  const put64 = (gpaOff: number, value: bigint): void => v.setBigUint64(gpaOff - GUEST_IMAGE_OFFSET, value, true);
  const put = (gpaOff: number, value: number): void => put64(gpaOff, BigInt(value));
  const tables: { gpa: number; bytes: Uint8Array }[] = [];
  if (wide) {
    // 1G: PML4[8 + j] → T_j. 2M: PML4[8] → page 0 as the PDPT, PDPT[9 + j] → T_j.
    if (!gbpages) put(8 * GUEST_PML4_INDEX, PTE);
    const first = gbpages ? GUEST_WIDE_PML4_FIRST : GUEST_PDPT_FIRST;
    for (let j = 0; j < nTables; j++) {
      const gpa = (1 + j) * PAGE_SIZE;
      put(8 * (first + j), gpa + PTE);
      tables.push({ gpa, bytes: new Uint8Array(PAGE_SIZE - 8) });
    }
    for (const r of ranges) {
      for (let k = Math.floor(r.gpa / step); k * step < r.gpa + r.size; k++) {
        // T_j entry e = k − 511j + 1 at byte 8e of the page, byte 8e − 8 of the stored bytes.
        const t = tables[Math.floor(k / 511)]!;
        new DataView(t.bytes.buffer).setBigUint64(8 * (k % 511), BigInt(k * step + (PTE | PTE_PS)), true);
      }
    }
  } else {
    put(8 * GUEST_PML4_INDEX, PTE); // → page 0 as the PDPT
    const first = gbpages ? GUEST_PDPT_FIRST : GUEST_PD_FIRST;
    if (!gbpages) put(8 * GUEST_PDPT_FIRST, PTE); // → page 0 as the PD
    for (const r of ranges) {
      for (let k = Math.floor(r.gpa / step); k * step < r.gpa + r.size; k++) put(8 * (first + k), k * step + (PTE | PTE_PS));
    }
  }
  img.set(code.bytes, GUEST_CODE_OFFSET - GUEST_IMAGE_OFFSET);
  for (const [i, d] of GDT) put64(GUEST_GDT_OFFSET + 8 * i, d);
  // 64-bit TSS descriptor (16 bytes): base, limit, type 9 (available 64-bit TSS), P.
  const tss = BigInt(base + GUEST_TSS_OFFSET);
  const lo = BigInt(TSS_LIMIT) | ((tss & 0xffffffn) << 16n) | (0x89n << 40n) | (((tss >> 24n) & 0xffn) << 56n);
  put64(GUEST_GDT_OFFSET + TSS_SEL, lo);
  put64(GUEST_GDT_OFFSET + TSS_SEL + 8, tss >> 32n);
  put(GUEST_TSS_OFFSET + 4, base + GUEST_KSTACK_OFFSET); // RSP0
  v.setUint16(GUEST_TSS_OFFSET + 0x66 - GUEST_IMAGE_OFFSET, TSS_LIMIT + 1, true); // no I/O bitmap
  for (const [vector, handler] of [[X86_TRAP_GP, code.gpHandler], [X86_TRAP_MC, code.mcHandler]] as const) {
    const [g0, g1] = intrGate(base + GUEST_CODE_OFFSET + handler);
    put64(GUEST_IDT_OFFSET + 16 * vector, g0);
    put64(GUEST_IDT_OFFSET + 16 * vector + 8, g1);
  }
  if (GUEST_IMAGE_OFFSET < GUEST_PROGRAM_SIZE) throw new Error('BUG: image overlaps the descriptor');
  return { bytes: img, base, rip: base + GUEST_CODE_OFFSET, leaf, tables };
}

/** A flat 4 GiB user segment (64-bit code when `code`). */
function flat(selector: number, code: boolean): kvm_segment {
  return { base: 0, limit: 0xffffffff, selector, type: code ? 11 : 3, present: 1, dpl: 3, db: code ? 0 : 1, s: 1, l: code ? 1 : 0, g: 1, avl: 0, unusable: 0 };
}
/** RFLAGS.IOPL = 3: `out` is allowed at CPL 3. */
const X86_EFLAGS_IOPL3 = 0x3000;

/**
 * Long mode from the vCPU's reset state (KVM_GET_SREGS): paging with PAE and
 * CR3 = 0 (page 0 is the PML4), EFER.LME|LMA, SSE enabled (OSFXSR), a 64-bit
 * code segment and flat data segments. No GDT is needed: nothing reloads a segment.
 *
 * The guest runs at CPL 3 (user segments, U/S set in every table entry, IOPL 3
 * so `out` needs no I/O bitmap): hardware VMX/SVM run it the same at any CPL,
 * and software hypervisors built on KVM (PVM) run guest user mode natively
 * but emulate guest kernel mode with KVM's instruction emulator, which has no
 * SSE arithmetic (an internal error at the first ldmxcsr).
 */
export function guestSregs(reset: kvm_sregs, img: GuestImage): kvm_sregs {
  const data = flat(USER_DS, false);
  return {
    ...reset,
    cs: flat(USER_CS, true),
    ds: data, es: { ...data }, fs: { ...data }, gs: { ...data }, ss: { ...data },
    tr: { base: img.base + GUEST_TSS_OFFSET, limit: TSS_LIMIT, selector: TSS_SEL, type: 11, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 },
    gdt: { base: img.base + GUEST_GDT_OFFSET, limit: GDT_LIMIT },
    idt: { base: img.base + GUEST_IDT_OFFSET, limit: IDT_VECTORS * 16 - 1 },
    cr0: (X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG) >>> 0, // PG is bit 31: keep it unsigned
    cr3: 0,
    // CR4.MCE as a guest OS sets it: an injected machine check is an exception, not a shutdown.
    cr4: X86_CR4_PAE | X86_CR4_MCE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT,
    efer: EFER_LME | EFER_LMA,
  };
}

/** General registers at the entry point (the code sets rsp and everything else it uses). */
export function guestRegs(img: GuestImage): kvm_regs {
  return {
    rax: 0, rbx: 0, rcx: 0, rdx: 0, rsi: 0, rdi: 0, rsp: 0, rbp: 0,
    r8: 0, r9: 0, r10: 0, r11: 0, r12: 0, r13: 0, r14: 0, r15: 0,
    rip: img.rip, rflags: X86_EFLAGS_FIXED | X86_EFLAGS_IOPL3,
  };
}
