/**
 * The guest: x86-64 code that runs the guest program whose descriptor vmm
 * writes at GPA 0 (uapi/kvm.ts), with its page tables, and the vCPU state that
 * starts it in 64-bit mode (what a VMM's firmware loader does; the register
 * values follow arch/x86/kvm's kvm_is_valid_sregs and the SDM's "Initializing
 * IA-32e mode"). The model's vCPU (kernel/kvm/guest.ts) interprets the same
 * descriptor; this code does exactly the same accesses in the same order with
 * the same generator (lib/rng.ts: splitmix32-seeded sfc32, floats built and
 * multiplied with SSE2 doubles as JS does), so on real KVM the checksum is the
 * model's for the same descriptor.
 *
 * Everything lives in page 0 (but the wide layout's PDPTs, below), because the program writes the first 8 bytes of
 * every page it touches (and the result at offset 48 of page 0), so any table
 * entry 0 or code at a page's start would be overwritten. Page 0 is used at
 * three levels at once, and the guest runs at a linear address where only
 * entries beyond the descriptor are walked:
 *
 *   GPA 0x000  descriptor (64 bytes; the checksum at 0x30, the hole at 0x38)
 *       0x040  PML4[8]   → page 0 (as the PDPT)          linear 8 << 39 = 4 TiB
 *       0x048  1G pages: PDPT[9 + k] = k GiB | PS         (k < 183: GPAs up to 183 GiB)
 *              2M pages: PDPT[9] → page 0 (as the PD);
 *       0x050            PD[10 + k] = k·2 MiB | PS        (k < 182: GPAs up to 364 MiB)
 *       0x600  GDT: kernel CS 0x08, DS 0x10, user DS 0x2b, user CS 0x33, TSS 0x40
 *       0x680  TSS (RSP0 = 0xf00)
 *       0x700  IDT: vector 13 (#GP) → gp_handler, kernel CS
 *       0x800  code, then its constants
 *       …0xf00 kernel stack, …0x1000 user stack (a few words each)
 *
 * so GPA g is at linear GUEST_BASE + g, contiguously.
 *
 * A guest whose GPAs reach past 183 GiB (1G leaves only) gets the wide layout:
 * page 0 is the PML4 alone, PML4[8 + j] → PDPT page T_j at GPA (1 + j) × 4K, and
 * T_j's entries 1..511 map GiB 511j … 511j + 510 (entry e: GiB 511j + e − 1).
 * Entry 0 of every T_j is left empty: it is the first 8 bytes of a RAM page,
 * which the program writes (its GPA) and reads (the checksum), so vmm stores
 * the tables from byte 8 on and the program's data stays what the model sees.
 * GPA g is then at linear 4 TiB + 1 GiB + g + ⌊g / 511 GiB⌋ GiB, which the code
 * computes per access (⌊k / 511⌋ as k × 8405025 >> 32, exact for k < 2^23 GiB);
 * 184 PML4 entries fit before the GDT, so the limit is 184 × 511 GiB.
 *
 * Only the leaves that hold guest RAM are present: the PCI hole of a guest split around it (vmm's
 * pc_ram.ts: 3 GiB below 4 GiB, the rest from 4 GiB) has no entries, and the
 * program skips it as the model does (the descriptor's hole fields, uapi/kvm.ts
 * guest_page_gpa). The tables' limit is on the highest GPA, so a split guest
 * needs 1G leaves (with 2M leaves page 0 maps 364 MiB). The entry point reads the
 * descriptor; when done it writes the checksum (flag) and does `out 0xf4, eax`
 * with the status (0 ok, 1 bad descriptor), and jumps back to the entry, which
 * reads the descriptor again, as the model does.
 *
 * The program runs at CPL 3 (see guestSregs for why) with IOPL 3, so on VMX/SVM
 * the `out` exits directly. Where user mode runs on the host CPU's own rings
 * (PVM), the `out` raises #GP instead; the guest's #GP handler (CPL 0) does
 * the same `out` with the same eax and irets to the entry: the VMM sees the
 * same KVM_EXIT_IO either way.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { GUEST_EXIT_PORT, GUEST_HOLE_END_OFFSET, GUEST_HOLE_START_OFFSET, GUEST_PROGRAM_MAGIC, GUEST_PROGRAM_SIZE, GUEST_RESULT_OFFSET } from '../../uapi/kvm.ts';
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
import { Asm, R8, R9, R10, R11, R12, R13, R14, R15, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP } from './x86asm.ts';

/** Page-table entry bits: present, writable, user, page size (a leaf at PDPT/PD level). */
const PTE_P = 0x1, PTE_RW = 0x2, PTE_US = 0x4, PTE_PS = 0x80;
/** Every entry: present, writable, user (the guest runs at CPL 3, see guestSregs). */
const PTE = PTE_P | PTE_RW | PTE_US;
const GiB = 2 ** 30, MiB2 = 2 ** 21;
/** The PML4 slot the guest runs in, and the first PDPT / PD slots it uses. */
export const GUEST_PML4_INDEX = 8;
export const GUEST_PDPT_FIRST = 9;
export const GUEST_PD_FIRST = 10;
/** Where the tables start in page 0 (just past the descriptor), and the code. */
export const GUEST_IMAGE_OFFSET = 0x40;
export const GUEST_CODE_OFFSET = 0x800;
/** The GDT, TSS and IDT, and the kernel stack top (the TSS's RSP0). */
export const GUEST_GDT_OFFSET = 0x600;
export const GUEST_TSS_OFFSET = 0x680;
export const GUEST_IDT_OFFSET = 0x700;
const GUEST_KSTACK_OFFSET = 0xf00;
/** The highest GPA (exclusive) the page tables can map with each leaf size. */
export const GUEST_MAX_1G = Math.floor((GUEST_GDT_OFFSET - 8 * GUEST_PDPT_FIRST) / 8) * GiB;
export const GUEST_MAX_2M = Math.floor((GUEST_GDT_OFFSET - 8 * GUEST_PD_FIRST) / 8) * MiB2;
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
const IDT_VECTORS = 14;
const X86_TRAP_GP = 13;
const TSS_LIMIT = 0x67;
/** hot-cold's hot share, as kernel/kvm/guest.ts. */
const HOT_SHARE = 0.9;

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
  /** The wide layout's PDPT pages: bytes to store at GPA `gpa` + 8 (after the entry the program owns). */
  tables: { gpa: number; bytes: Uint8Array }[];
}

/** The wide layout (1G leaves past GUEST_MAX_1G): GPAs its PML4 entries in page 0 can reach. */
export const GUEST_WIDE_PML4_FIRST = 8;
export const GUEST_MAX_WIDE = Math.floor((GUEST_GDT_OFFSET - 8 * GUEST_WIDE_PML4_FIRST) / 8) * 511 * GiB;
/** ⌈2^32 / 511⌉: k × this >> 32 = ⌊k / 511⌋ for every k below 2^23. */
export const DIV511_MAGIC = 8405025;
/** Linear address of GPA 0 in the wide layout: T_0's entry 1. */
export const GUEST_WIDE_BASE = GUEST_WIDE_PML4_FIRST * 2 ** 39 + GiB;

/** The linear address of GPA 0 for each leaf size. */
export function guestBase(leaf: '1G' | '2M'): number {
  const base = GUEST_PML4_INDEX * 2 ** 39 + GUEST_PDPT_FIRST * GiB;
  return leaf === '1G' ? base : base + GUEST_PD_FIRST * MiB2;
}

/** The u64 "DMEMGST1" as the guest compares it. */
function magicU64(): bigint {
  let v = 0n;
  for (let i = GUEST_PROGRAM_MAGIC.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(GUEST_PROGRAM_MAGIC.charCodeAt(i));
  return v;
}

// The generator's steps are emitted inline in the access loop: a call would push on
// the stack in page 0, which holds the page tables, and a shadow-paging KVM (no
// EPT/NPT) write-protects page-table pages, so every push would be emulated.

/** sfc32 (Rng.u32): t = a + b + d; d++; a = b ^ b >>> 9; b = 9c; c = rotl(c, 21) + t → eax = t. */
function u32(a: Asm): void {
  a.alu('mov', RAX, R8, 32).alu('add', RAX, R9, 32).alu('add', RAX, R11, 32);
  a.inc(R11, 32);
  a.alu('mov', R8, R9, 32).shift('shr', R8, 9, 32).alu('xor', R8, R9, 32);
  a.lea(R9, { base: R10, index: R10, scale: 8 }, 32);
  a.shift('rol', R10, 21, 32).alu('add', R10, RAX, 32);
}

/** Rng.float: (u32() × 2^21 + (u32() >>> 11)) / 2^53 → xmm0 (exact); clobbers rax, rdx. */
function float(a: Asm): void {
  u32(a);
  a.alu('mov', RDX, RAX, 32).shift('shl', RDX, 21);
  u32(a);
  a.shift('shr', RAX, 11, 32).alu('add', RAX, RDX);
  a.cvtsi2sd(0, RAX).mulsdRip(0, 'two_m53');
}

/** Rng.below(rcx): ⌊float() × n⌋, the product rounded as a JS double → rax; clobbers rdx, xmm0, xmm1. */
function below(a: Asm): void {
  float(a);
  a.cvtsi2sd(1, RCX).mulsd(0, 1).cvttsd2si(RAX, 0);
}

/**
 * The guest program's code, to run at linear `base + GUEST_CODE_OFFSET` with GPA 0
 * at `base`. Registers: rbx = base, ebp = pattern, rsi = first page, rdi = pages,
 * r12 = accesses, r13 = access number, r14 = checksum, r15 = hot pages,
 * r8d..r11d = the sfc32 state a, b, c, d.
 */
export function guestCode(base: number, wide = false): Uint8Array {
  const a = new Asm();
  a.label('entry');
  a.movabs(RSP, BigInt(base) + BigInt(PAGE_SIZE)); //      stack at the end of page 0
  a.movabs(RBX, BigInt(base)); //                          rbx = linear address of GPA 0
  a.ldmxcsrRip('mxcsr'); //                                round to nearest, exceptions masked
  a.movabs(RAX, magicU64());
  a.cmpMem({ base: RBX }, RAX).jcc('ne', 'bad'); //        magic "DMEMGST1"?
  a.load(RBP, { base: RBX, disp: 8 }, 32); //              pattern
  a.cmpImm8(RBP, 2, 32).jcc('a', 'bad'); //                seq, random or hot-cold
  a.load(RAX, { base: RBX, disp: GUEST_HOLE_START_OFFSET }, 32);
  a.load(RCX, { base: RBX, disp: GUEST_HOLE_END_OFFSET }, 32);
  a.alu('cmp', RCX, RAX, 32).jcc('b', 'bad'); //           hole_end < hole_start
  a.load(RAX, { base: RBX, disp: 16 }); //                 start_gpa
  a.load(RCX, { base: RBX, disp: 24 }); //                 bytes
  a.alu('add', RCX, RAX); //                               end = start + bytes
  a.shift('shr', RAX, 12).alu('mov', RSI, RAX); //         first = ⌊start / 4K⌋
  a.addImm32(RCX, PAGE_SIZE - 1).shift('shr', RCX, 12); // ⌈end / 4K⌉
  a.alu('sub', RCX, RSI).alu('mov', RDI, RCX); //          npages
  a.load(RAX, { base: RBX, disp: 44 }, 32); //             iterations
  a.mov32i(RCX, 1).alu('test', RAX, RAX, 32).cmov('e', RAX, RCX); // max(1, iterations)
  a.imul(RAX, RDI).alu('mov', R12, RAX); //                total = npages × iterations
  a.alu('xor', R13, R13, 32).alu('xor', R14, R14, 32); //  pos = 0, sum = 0
  // new Rng(seed): four splitmix32 outputs seed sfc32, then 12 outputs are dropped.
  a.load(RDX, { base: RBX, disp: 32 }, 32); //             s = seed >>> 0
  a.call('splitmix').alu('mov', R8, RAX, 32);
  a.call('splitmix').alu('mov', R9, RAX, 32);
  a.call('splitmix').alu('mov', R10, RAX, 32);
  a.call('splitmix').alu('mov', R11, RAX, 32);
  a.mov32i(RCX, 12).label('warm').call('u32').dec(RCX, 32).jcc('ne', 'warm');
  // hot = max(1, min(npages, ⌊npages × hot_percent / 100⌋)).
  a.load(RAX, { base: RBX, disp: 40 }, 32).imul(RAX, RDI);
  a.alu('xor', RDX, RDX, 32).mov32i(RCX, 100).div(RCX);
  a.alu('cmp', RAX, RDI).cmov('a', RAX, RDI);
  a.mov32i(RCX, 1).alu('test', RAX, RAX).cmov('e', RAX, RCX);
  a.alu('mov', R15, RAX);

  a.label('loop');
  a.alu('cmp', R13, R12).jcc('ae', 'done'); //             while pos < total
  a.alu('test', RBP, RBP, 32).jcc('ne', 'notseq');
  a.alu('mov', RAX, R13).alu('xor', RDX, RDX, 32).div(RDI); // seq: pos % npages
  a.alu('mov', RAX, RDX).jmp('have');
  a.label('notseq');
  a.cmpImm8(RBP, 1, 32).jcc('ne', 'hotcold');
  a.alu('mov', RCX, RDI);
  below(a);
  a.jmp('have'); //                                        random: below(npages)
  a.label('hotcold');
  a.alu('cmp', R15, RDI).jcc('e', 'hot'); //               hot === npages: no draw
  float(a);
  a.comisdRip(0, 'hot_share').jcc('b', 'hot'); //          float() < 0.9
  a.alu('mov', RCX, RDI).alu('sub', RCX, R15);
  below(a);
  a.alu('add', RAX, R15).jmp('have'); //                   hot + below(npages − hot)
  a.label('hot');
  a.alu('mov', RCX, R15);
  below(a); //                                             below(hot)
  a.label('have');
  a.alu('add', RAX, RSI).shift('shl', RAX, 12); //         offset = (first + page) × 4K
  a.load(RCX, { base: RBX, disp: GUEST_HOLE_START_OFFSET }, 32).shift('shl', RCX, 12);
  a.alu('cmp', RAX, RCX).jcc('b', 'gpa'); //               below the hole: gpa = offset
  a.load(RDX, { base: RBX, disp: GUEST_HOLE_END_OFFSET }, 32).shift('shl', RDX, 12);
  a.alu('sub', RDX, RCX).alu('add', RAX, RDX); //          else gpa = offset + hole size
  a.label('gpa');
  // The linear offset of the gpa: the gpa itself, or in the wide layout rcx = gpa + a GiB per 511 GiB.
  const at = wide ? RCX : RAX;
  if (wide) {
    a.alu('mov', RCX, RAX).shift('shr', RCX, 30).movabs(RDX, DIV511_MAGIC).imul(RCX, RDX);
    a.shift('shr', RCX, 32).shift('shl', RCX, 30).alu('add', RCX, RAX);
  }
  a.testByte({ base: RBX, disp: 12 }, 1).jcc('e', 'read'); // flags & write
  a.store({ base: RBX, index: at }, RAX).jmp('next'); //  *(u64 *)gpa = gpa
  a.label('read');
  a.xorLoad(R14, { base: RBX, index: at }); //            sum ^= *(u64 *)gpa
  a.label('next');
  a.inc(R13).jmp('loop');

  a.label('done');
  a.testByte({ base: RBX, disp: 12 }, 2).jcc('e', 'ok'); // flags & checksum
  a.store({ base: RBX, disp: GUEST_RESULT_OFFSET }, R14);
  a.label('ok');
  a.alu('xor', RAX, RAX, 32).outEax(GUEST_EXIT_PORT).jmp('entry'); // status 0
  a.label('bad');
  a.mov32i(RAX, 1).outEax(GUEST_EXIT_PORT).jmp('entry'); //          status 1

  // #GP at CPL 0 (only reached where the CPL-3 `out` faults): the same out, then iretq to the entry.
  a.label('gp_handler');
  a.outEax(GUEST_EXIT_PORT);
  a.addImm32(RSP, 8); //                                    drop the error code
  a.movabs(RCX, BigInt(base) + BigInt(GUEST_CODE_OFFSET)).store({ base: RSP }, RCX); // return rip = entry
  a.iretq();

  // splitmix32 step: edx = s (in/out) → eax; clobbers ecx.
  a.label('splitmix');
  a.addImm32(RDX, 0x9e3779b9, 32).alu('mov', RAX, RDX, 32);
  a.alu('mov', RCX, RAX, 32).shift('shr', RCX, 16, 32).alu('xor', RAX, RCX, 32).imul32i(RAX, RAX, 0x85ebca6b);
  a.alu('mov', RCX, RAX, 32).shift('shr', RCX, 13, 32).alu('xor', RAX, RCX, 32).imul32i(RAX, RAX, 0xc2b2ae35);
  a.alu('mov', RCX, RAX, 32).shift('shr', RCX, 16, 32).alu('xor', RAX, RCX, 32).ret();
  a.label('u32');
  u32(a);
  a.ret();

  a.align(8);
  a.label('two_m53').f64(2 ** -53);
  a.label('hot_share').f64(HOT_SHARE);
  a.label('mxcsr').u32(0x1f80);
  return a.assemble();
}

/** Offset of gp_handler in the code (the IDT's target). */
function gpHandlerOffset(code: Uint8Array): number {
  // The handler is `out 0xf4, eax` + `add rsp, 8` (E7 F4 48 81 C4 08 00 00 00): find it.
  for (let i = 0; i + 9 <= code.length; i++) {
    if (code[i] === 0xe7 && code[i + 1] === GUEST_EXIT_PORT && code[i + 2] === 0x48 && code[i + 3] === 0x81 && code[i + 4] === 0xc4) return i;
  }
  throw new Error('BUG: no #GP handler in the guest code');
}

/** A range of guest RAM in guest physical memory. */
export interface GuestRamRange {
  gpa: number;
  size: number;
}

/**
 * The bytes for page 0 from GUEST_IMAGE_OFFSET: the page-table entries for
 * guest RAM (`ram` bytes at GPA 0, or the given ranges) and the code. 1G
 * leaves when the CPU has them (KVM_GET_SUPPORTED_CPUID's pdpe1gb), else 2M;
 * a leaf is present when it overlaps a range. Null when the highest GPA is
 * beyond what the tables page 0 can hold.
 */
export function guestImage(ram: number | readonly GuestRamRange[], gbpages: boolean): GuestImage | null {
  const leaf = gbpages ? '1G' : '2M';
  const ranges = typeof ram === 'number' ? [{ gpa: 0, size: ram }] : ram.filter((r) => r.size > 0);
  const end = Math.max(0, ...ranges.map((r) => r.gpa + r.size));
  const wide = gbpages && end > GUEST_MAX_1G;
  if (end > (wide ? GUEST_MAX_WIDE : gbpages ? GUEST_MAX_1G : GUEST_MAX_2M)) return null;
  const nTables = wide ? Math.ceil(Math.ceil(end / GiB) / 511) : 0;
  // The PDPT pages must be guest RAM at GPA 4K … (1 + nTables) × 4K.
  if (wide && !ranges.some((r) => r.gpa === 0 && r.size >= (1 + nTables) * PAGE_SIZE)) return null;
  const base = wide ? GUEST_WIDE_BASE : guestBase(leaf);
  const code = guestCode(base, wide);
  if (GUEST_CODE_OFFSET + code.length > PAGE_SIZE - 64) throw new Error('BUG: guest code overflows page 0');
  const img = new Uint8Array(GUEST_CODE_OFFSET + code.length - GUEST_IMAGE_OFFSET);
  const v = new DataView(img.buffer);
  const put = (gpaOff: number, value: number): void => v.setBigUint64(gpaOff - GUEST_IMAGE_OFFSET, BigInt(value), true);
  const tables: { gpa: number; bytes: Uint8Array }[] = [];
  if (wide) {
    for (let j = 0; j < nTables; j++) {
      const gpa = (1 + j) * PAGE_SIZE;
      put(8 * (GUEST_WIDE_PML4_FIRST + j), gpa + PTE); // → T_j
      tables.push({ gpa, bytes: new Uint8Array(PAGE_SIZE - 8) });
    }
    for (const r of ranges) {
      for (let k = Math.floor(r.gpa / GiB); k * GiB < r.gpa + r.size; k++) {
        // T_j entry e = k − 511j + 1 at byte 8e of the page, byte 8e − 8 of the stored bytes.
        const t = tables[Math.floor(k / 511)]!;
        new DataView(t.bytes.buffer).setBigUint64(8 * (k % 511), BigInt(k * GiB + (PTE | PTE_PS)), true);
      }
    }
  } else {
    put(8 * GUEST_PML4_INDEX, PTE); // → page 0 as the PDPT
    const step = gbpages ? GiB : MiB2;
    const first = gbpages ? GUEST_PDPT_FIRST : GUEST_PD_FIRST;
    if (!gbpages) put(8 * GUEST_PDPT_FIRST, PTE); // → page 0 as the PD
    for (const r of ranges) {
      for (let k = Math.floor(r.gpa / step); k * step < r.gpa + r.size; k++) put(8 * (first + k), k * step + (PTE | PTE_PS));
    }
  }
  img.set(code, GUEST_CODE_OFFSET - GUEST_IMAGE_OFFSET);
  const put64 = (gpaOff: number, value: bigint): void => v.setBigUint64(gpaOff - GUEST_IMAGE_OFFSET, value, true);
  for (const [i, d] of GDT) put64(GUEST_GDT_OFFSET + 8 * i, d);
  // 64-bit TSS descriptor (16 bytes): base, limit, type 9 (available 64-bit TSS), P.
  const tss = BigInt(base + GUEST_TSS_OFFSET);
  const lo = BigInt(TSS_LIMIT) | ((tss & 0xffffffn) << 16n) | (0x89n << 40n) | (((tss >> 24n) & 0xffn) << 56n);
  put64(GUEST_GDT_OFFSET + TSS_SEL, lo);
  put64(GUEST_GDT_OFFSET + TSS_SEL + 8, tss >> 32n);
  put64(GUEST_TSS_OFFSET + 4, BigInt(base + GUEST_KSTACK_OFFSET)); // RSP0
  v.setUint16(GUEST_TSS_OFFSET + 0x66 - GUEST_IMAGE_OFFSET, TSS_LIMIT + 1, true); // no I/O bitmap
  // IDT[13]: 64-bit interrupt gate (type 0xE, P, DPL 0) to gp_handler.
  const h = BigInt(base + GUEST_CODE_OFFSET + gpHandlerOffset(code));
  const gate = (h & 0xffffn) | (BigInt(KERNEL_CS) << 16n) | (0x8en << 40n) | (((h >> 16n) & 0xffffn) << 48n);
  put64(GUEST_IDT_OFFSET + 16 * X86_TRAP_GP, gate);
  put64(GUEST_IDT_OFFSET + 16 * X86_TRAP_GP + 8, h >> 32n);
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
