/**
 * The guest program as x86-64 code (for real KVM; the layout it runs in, its
 * tables and its vCPU state are guest_x86.ts). It does exactly what the
 * model's vCPU (kernel/kvm/guest.ts) does with the descriptor at GPA 0 — the
 * same accesses in the same order with the same generator (lib/rng.ts:
 * splitmix32-seeded sfc32, floats built and multiplied with SSE2 doubles as JS
 * does) — so on real KVM the checksum is the model's for the same descriptor.
 *
 * Two handlers run at CPL 0 on the TSS's kernel stack:
 *  - #GP, reached only where user mode runs on the host CPU's own rings (PVM)
 *    and the CPL-3 `out` faults: it does the same `out` and returns to the entry.
 *  - #MC, a machine check the VMM injected (vmm's mce.ts, KVM_X86_SET_MCE): as
 *    a Linux guest's do_machine_check does, it scans the banks (MCG_CAP's
 *    count, MCi_STATUS from MSR 0x401), clears every valid uncorrected one and
 *    then MCG_STATUS (MCIP, so another #MC is an exception and not a triple
 *    fault). When one was action-required (MCi_STATUS.AR) and a program is
 *    mid-run (r13 < r12) it ends that program — `out` status 2,
 *    GUEST_STATUS_MCE, as kill_me_now does to the task — and returns to the
 *    entry; otherwise (action optional, or nothing running) the program goes
 *    on. This is the model's kvm_take_mce_event + deliver_mce.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { GUEST_EXIT_PORT, GUEST_HOLE_END_OFFSET, GUEST_HOLE_START_OFFSET, GUEST_PROGRAM_MAGIC, GUEST_RESULT_OFFSET, GUEST_STATUS_MCE } from '../../uapi/kvm.ts';
import { Asm, R8, R9, R10, R11, R12, R13, R14, R15, RAX, RBP, RBX, RCX, RDI, RDX, RSI, RSP } from './x86asm.ts';

/** Where the code starts in page 0 (guest_x86.ts's layout; the entry point). */
export const GUEST_CODE_OFFSET = 0x840;
/** ⌈2^32 / 511⌉: k × this >> 32 = ⌊k / 511⌋ for every k below 2^23. */
export const DIV511_MAGIC = 8405025;
/** hot-cold's hot share, as kernel/kvm/guest.ts. */
const HOT_SHARE = 0.9;
/** MSRs (arch/x86/include/asm/msr-index.h): MSR_IA32_MCG_CAP, MSR_IA32_MCG_STATUS, MSR_IA32_MC0_STATUS (bank i at + 4i). */
const MSR_IA32_MCG_CAP = 0x179;
const MSR_IA32_MCG_STATUS = 0x17a;
const MSR_IA32_MC0_STATUS = 0x401;
/** MCi_STATUS bits in its high half (edx after rdmsr): VAL (63), UC (61), AR (55). */
const MCI_STATUS_HI_VAL_UC = (1 << 31 | 1 << 29) >>> 0;
const MCI_STATUS_HI_AR = 1 << 23;

/** The assembled program and where its handlers start (the IDT's targets). */
export interface GuestCode {
  bytes: Uint8Array;
  gpHandler: number;
  mcHandler: number;
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

/** The program: setup from the descriptor, the access loop, the exits. */
function program(a: Asm, base: number, wideShift: number): void {
  a.label('entry');
  a.movabs(RSP, BigInt(base) + BigInt(PAGE_SIZE)); //      stack at the end of page 0
  a.movabs(RBX, BigInt(base)); //                          rbx = linear address of GPA 0
  a.alu('xor', R12, R12, 32).alu('xor', R13, R13, 32); //  no program mid-run (the #MC handler looks)
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
  a.alu('xor', R14, R14, 32); //                           sum = 0 (pos = r13 = 0)
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
  // The linear offset of the gpa: the gpa itself, or in a wide layout rcx = gpa + one leaf per 511 leaves.
  const at = wideShift ? RCX : RAX;
  if (wideShift) {
    a.alu('mov', RCX, RAX).shift('shr', RCX, wideShift).movabs(RDX, DIV511_MAGIC).imul(RCX, RDX);
    a.shift('shr', RCX, 32).shift('shl', RCX, wideShift).alu('add', RCX, RAX);
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
}

/** The #GP and #MC handlers (CPL 0). Both leave through iretq. */
function handlers(a: Asm, base: number): void {
  const entry = BigInt(base) + BigInt(GUEST_CODE_OFFSET);
  // #GP (only reached where the CPL-3 `out` faults): the same out, then iretq to the entry.
  a.label('gp_handler');
  a.outEax(GUEST_EXIT_PORT);
  a.addImm32(RSP, 8); //                                    drop the error code
  a.movabs(RCX, entry).store({ base: RSP }, RCX); //        return rip = entry
  a.iretq();

  // #MC (no error code): do_machine_check's part that decides the program's fate.
  a.label('mc_handler');
  for (const r of [RAX, RCX, RDX, RSI, RDI]) a.push(r);
  a.alu('xor', RDI, RDI, 32); //                           edi: an action-required error seen
  a.mov32i(RCX, MSR_IA32_MCG_CAP).rdmsr();
  a.aluImm32('and', RAX, 0xff, 32).alu('mov', RSI, RAX, 32); // esi = banks (MCG_CAP.Count)
  a.mov32i(RCX, MSR_IA32_MC0_STATUS);
  a.label('mc_bank');
  a.alu('test', RSI, RSI, 32).jcc('e', 'mc_scanned');
  a.rdmsr(); //                                            edx:eax = MCi_STATUS
  a.alu('mov', RAX, RDX, 32).aluImm32('and', RAX, MCI_STATUS_HI_VAL_UC, 32);
  a.aluImm32('xor', RAX, MCI_STATUS_HI_VAL_UC, 32).jcc('ne', 'mc_next'); // not VAL|UC: not ours
  a.aluImm32('and', RDX, MCI_STATUS_HI_AR, 32).alu('or', RDI, RDX, 32);
  a.alu('xor', RAX, RAX, 32).alu('xor', RDX, RDX, 32).wrmsr(); // MCi_STATUS = 0: handled
  a.label('mc_next');
  a.addImm32(RCX, 4, 32).dec(RSI, 32).jmp('mc_bank');
  a.label('mc_scanned');
  a.mov32i(RCX, MSR_IA32_MCG_STATUS).alu('xor', RAX, RAX, 32).alu('xor', RDX, RDX, 32).wrmsr(); // MCIP clear
  a.alu('test', RDI, RDI, 32).jcc('e', 'mc_return'); //    action optional: the program goes on
  a.alu('cmp', R13, R12).jcc('ae', 'mc_return'); //        no program mid-run: nothing consumed it
  a.mov32i(RAX, GUEST_STATUS_MCE).outEax(GUEST_EXIT_PORT); // the program is ended
  for (const r of [RDI, RSI, RDX, RCX, RAX]) a.pop(r);
  a.movabs(RCX, entry).store({ base: RSP }, RCX); //        return rip = entry
  a.iretq();
  a.label('mc_return');
  for (const r of [RDI, RSI, RDX, RCX, RAX]) a.pop(r);
  a.iretq();
}

/**
 * The guest program's code, to run at linear `base + GUEST_CODE_OFFSET` with GPA 0
 * at `base`; `wideShift` (21 or 30) is the leaf size's shift in a wide layout
 * (guest_x86.ts), 0 otherwise. Registers: rbx = base, ebp = pattern, rsi = first page,
 * rdi = pages, r12 = accesses, r13 = access number, r14 = checksum, r15 = hot pages,
 * r8d..r11d = the sfc32 state a, b, c, d.
 */
export function guestCode(base: number, wideShift: 0 | 21 | 30 = 0): GuestCode {
  const a = new Asm();
  program(a, base, wideShift);
  handlers(a, base);

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
  return { bytes: a.assemble(), gpHandler: a.offsetOf('gp_handler'), mcHandler: a.offsetOf('mc_handler') };
}
