/**
 * The guest code generator (src/user/vmm/x86asm.ts, guest_x86.ts), checked
 * byte for byte without running anything: instruction encodings against the
 * Intel SDM (the same bytes objdump -M intel decodes to the listed
 * instruction), and page 0's layout — tables, GDT, TSS, IDT, code.
 *
 *   page 0: 0x000 descriptor │ 0x040 PML4[8] │ 0x048… PDPT / PD entries │ 0x600 GDT
 *           0x680 TSS │ 0x700 IDT │ 0x840 code … │ 0xf00 kernel stack │ 0x1000 user stack
 */
import { describe, expect, it } from 'vitest';
import {
  GUEST_CODE_OFFSET,
  GUEST_GDT_OFFSET,
  GUEST_IDT_OFFSET,
  GUEST_IMAGE_OFFSET,
  GUEST_MAX_1G,
  GUEST_MAX_2M,
  GUEST_MAX_WIDE,
  GUEST_MAX_WIDE_2M,
  GUEST_TSS_OFFSET,
  guestBase,
  guestImage,
  guestRegs,
  guestSregs,
} from '../../src/user/vmm/guest_x86.ts';
import { guestCode } from '../../src/user/vmm/guest_x86_code.ts';
import { Asm, R8, R9, R10, R13, R14, RAX, RBX, RCX, RDI, RDX, RSP } from '../../src/user/vmm/x86asm.ts';

const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
const one = (f: (a: Asm) => void): string => {
  const a = new Asm();
  f(a);
  return hex(a.assemble());
};

describe('x86asm: encodings', () => {
  const cases: [string, (a: Asm) => void, string][] = [
    ['movabs rsp, 0x40240001000', (a) => a.movabs(RSP, 0x40240001000), '48 bc 00 10 00 40 02 04 00 00'],
    ['cmp [rbx], rax', (a) => a.cmpMem({ base: RBX }, RAX), '48 39 03'],
    ['mov ebp, [rbx+8]', (a) => a.load(5, { base: RBX, disp: 8 }, 32), '8b 6b 08'],
    ['mov rax, [rbx+0x10]', (a) => a.load(RAX, { base: RBX, disp: 16 }), '48 8b 43 10'],
    ['add rcx, 0xfff', (a) => a.addImm32(RCX, 0xfff), '48 81 c1 ff 0f 00 00'],
    ['cmove rax, rcx', (a) => a.cmov('e', RAX, RCX), '48 0f 44 c1'],
    ['imul rax, rdi', (a) => a.imul(RAX, RDI), '48 0f af c7'],
    ['xor r13d, r13d', (a) => a.alu('xor', R13, R13, 32), '45 31 ed'],
    ['div rdi', (a) => a.div(RDI), '48 f7 f7'],
    ['mov [rbx+rax], rax', (a) => a.store({ base: RBX, index: RAX }, RAX), '48 89 04 03'],
    ['xor r14, [rbx+rax]', (a) => a.xorLoad(R14, { base: RBX, index: RAX }), '4c 33 34 03'],
    ['mov [rbx+0x30], r14', (a) => a.store({ base: RBX, disp: 0x30 }, R14), '4c 89 73 30'],
    ['test byte [rbx+0xc], 1', (a) => a.testByte({ base: RBX, disp: 12 }, 1), 'f6 43 0c 01'],
    ['mov [rsp], rcx (SIB for rsp)', (a) => a.store({ base: RSP }, RCX), '48 89 0c 24'],
    ['out 0xf4, eax', (a) => a.outEax(0xf4), 'e7 f4'],
    ['iretq', (a) => a.iretq(), '48 cf'],
    ['add edx, 0x9e3779b9', (a) => a.addImm32(RDX, 0x9e3779b9, 32), '81 c2 b9 79 37 9e'],
    ['imul eax, eax, 0x85ebca6b', (a) => a.imul32i(RAX, RAX, 0x85ebca6b), '69 c0 6b ca eb 85'],
    ['shr r8d, 9', (a) => a.shift('shr', R8, 9, 32), '41 c1 e8 09'],
    ['xor r8d, r9d', (a) => a.alu('xor', R8, R9, 32), '45 31 c8'],
    ['lea r9d, [r10+r10*8]', (a) => a.lea(R9, { base: R10, index: R10, scale: 8 }, 32), '47 8d 0c d2'],
    ['rol r10d, 21', (a) => a.shift('rol', R10, 21, 32), '41 c1 c2 15'],
    ['cvtsi2sd xmm0, rax', (a) => a.cvtsi2sd(0, RAX), 'f2 48 0f 2a c0'],
    ['cvtsi2sd xmm1, rcx', (a) => a.cvtsi2sd(1, RCX), 'f2 48 0f 2a c9'],
    ['mulsd xmm0, xmm1', (a) => a.mulsd(0, 1), 'f2 0f 59 c1'],
    ['cvttsd2si rax, xmm0', (a) => a.cvttsd2si(RAX, 0), 'f2 48 0f 2c c0'],
  ];
  it.each(cases)('%s', (_name, f, bytes) => expect(one(f)).toBe(bytes));

  it('resolves labels: backward jcc and forward call are rel32 from the end of the instruction', () => {
    const a = new Asm();
    a.label('top').jcc('ne', 'top').call('f').hlt().label('f').ret();
    // jne top: 0f 85 rel32(-6); call f: e8 rel32(+1, over the hlt).
    expect(hex(a.assemble())).toBe('0f 85 fa ff ff ff e8 01 00 00 00 f4 c3');
  });

  it('RIP-relative operands are measured from the end of the instruction', () => {
    const a = new Asm();
    a.ldmxcsrRip('k').mulsdRip(0, 'k').comisdRip(0, 'k').label('k').u32(0x1f80);
    // ldmxcsr (7 bytes) → k at 7 + 8 + 8 = 23: disp 16; mulsd disp 8; comisd disp 0.
    expect(hex(a.assemble())).toBe('0f ae 15 10 00 00 00 f2 0f 59 05 08 00 00 00 66 0f 2f 05 00 00 00 00 80 1f 00 00');
  });

  it('an undefined label is an error', () => {
    expect(() => new Asm().jmp('nowhere').assemble()).toThrow(/undefined label nowhere/);
  });
});

describe('guest_x86: page 0', () => {
  const u64 = (img: Uint8Array, gpaOff: number): bigint => new DataView(img.buffer).getBigUint64(gpaOff - GUEST_IMAGE_OFFSET, true);

  it('1G leaves: PML4[8] → page 0, PDPT[9 + k] = k GiB | PS|U|RW|P; GPA 0 at linear 4 TiB + 9 GiB', () => {
    const img = guestImage(3 * 2 ** 30, true)!;
    expect(img.leaf).toBe('1G');
    expect(img.base).toBe(8 * 2 ** 39 + 9 * 2 ** 30);
    expect(u64(img.bytes, 0x40)).toBe(0x7n);
    expect([0x48, 0x50, 0x58, 0x60].map((o) => u64(img.bytes, o))).toEqual([0x87n, 0x40000087n, 0x80000087n, 0n]);
    expect(img.rip).toBe(img.base + GUEST_CODE_OFFSET);
  });

  it('2M leaves: PDPT[9] → page 0 as the PD, PD[10 + k] = k·2M | PS|U|RW|P', () => {
    const img = guestImage(64 * 2 ** 20, false)!;
    expect(img.base).toBe(8 * 2 ** 39 + 9 * 2 ** 30 + 10 * 2 ** 21);
    expect(u64(img.bytes, 0x48)).toBe(0x7n);
    expect(u64(img.bytes, 0x50)).toBe(0x87n);
    expect(u64(img.bytes, 0x50 + 8 * 31)).toBe(BigInt(31 * 2 ** 21) | 0x87n);
    expect(u64(img.bytes, 0x50 + 8 * 32)).toBe(0n);
  });

  it('refuses memory its tables cannot map; entries stay below the GDT', () => {
    expect(guestImage(GUEST_MAX_2M, false)).toMatchObject({ tables: [] });
    expect(guestImage(GUEST_MAX_1G, true)).toMatchObject({ tables: [] });
    // Past page 0's own entries, the wide layouts (test/user/vmm_pc_ram.test.ts), up to GUEST_MAX_WIDE(_2M).
    expect(guestImage(GUEST_MAX_2M + 4096, false)!.tables).toHaveLength(1);
    expect(guestImage(GUEST_MAX_1G + 4096, true)!.tables).toHaveLength(1);
    expect(guestImage(GUEST_MAX_WIDE_2M, false)!.tables).toHaveLength(183);
    expect(guestImage(GUEST_MAX_WIDE_2M + 4096, false)).toBeNull();
    expect(guestImage(GUEST_MAX_WIDE + 4096, true)).toBeNull();
    expect(0x50 + 8 * (GUEST_MAX_2M / 2 ** 21)).toBeLessThanOrEqual(GUEST_GDT_OFFSET);
  });

  it('GDT, TSS and the gates: #GP → `out 0xf4, eax; add rsp, 8`, #MC → the five pushes and `xor edi, edi; mov ecx, MCG_CAP; rdmsr`', () => {
    const img = guestImage(64 * 2 ** 20, false)!;
    expect(u64(img.bytes, GUEST_GDT_OFFSET + 8)).toBe(0x00209a0000000000n); // kernel code, L
    expect(u64(img.bytes, GUEST_GDT_OFFSET + 0x30)).toBe(0x0020fa0000000000n); // user code 0x33
    expect(u64(img.bytes, GUEST_TSS_OFFSET + 4)).toBe(BigInt(img.base + 0xf00)); // RSP0
    const handler = (vector: number, n: number): string => {
      const lo = u64(img.bytes, GUEST_IDT_OFFSET + 16 * vector);
      const hi = u64(img.bytes, GUEST_IDT_OFFSET + 16 * vector + 8);
      expect((lo >> 16n) & 0xffffn).toBe(0x08n);
      expect((lo >> 40n) & 0xffn).toBe(0x8en);
      const target = Number((lo & 0xffffn) | (((lo >> 48n) & 0xffffn) << 16n) | (hi << 32n));
      const at = target - img.base - GUEST_IMAGE_OFFSET;
      return hex(img.bytes.subarray(at, at + n));
    };
    expect(handler(13, 5)).toBe('e7 f4 48 81 c4');
    expect(handler(18, 14)).toBe('50 51 52 56 57 31 ff b9 79 01 00 00 0f 32');
    for (const v of [0, 1, 2, 14, 17]) expect(u64(img.bytes, GUEST_IDT_OFFSET + 16 * v)).toBe(0n); // no other gates
  });

  it('the code starts by loading rsp and rbx with linear addresses in page 0, and fits in it', () => {
    const base = guestBase('1G');
    const code = guestCode(base).bytes;
    expect(hex(code.subarray(0, 26))).toBe('48 bc 00 10 00 40 02 04 00 00 48 bb 00 00 00 40 02 04 00 00 45 31 e4 45 31 ed'); // …, xor r12d, r12d; xor r13d, r13d
    expect(GUEST_CODE_OFFSET + code.length).toBeLessThan(0xf00 - 64);
  });

  it('long mode at CPL 3: CR0.PE|PG, CR4.PAE|MCE|OSFXSR, EFER.LME|LMA, 64-bit user CS, IOPL 3', () => {
    const img = guestImage(64 * 2 ** 20, true)!;
    const reset = { cs: {}, ds: {}, es: {}, fs: {}, gs: {}, ss: {}, tr: {}, ldt: {}, gdt: {}, idt: {}, cr0: 0x60000010, cr2: 0, cr3: 0, cr4: 0, cr8: 0, efer: 0, apic_base: 0xfee00900, interrupt_bitmap: [0, 0, 0, 0] };
    const s = guestSregs(reset as never, img);
    expect(s.cr0).toBe(0x80010033);
    expect(s.cr4).toBe(0x660); // PAE | MCE | OSFXSR | OSXMMEXCPT
    expect(s.efer).toBe(0x500);
    expect(s.cr3).toBe(0);
    expect(s.cs).toMatchObject({ selector: 0x33, l: 1, dpl: 3, present: 1 });
    expect(s.ss).toMatchObject({ selector: 0x2b, dpl: 3, db: 1 });
    expect(s.idt).toEqual({ base: img.base + GUEST_IDT_OFFSET, limit: 19 * 16 - 1 });
    expect(s.apic_base).toBe(0xfee00900); // kept from the reset state
    expect(guestRegs(img)).toMatchObject({ rip: img.rip, rflags: 0x3002 });
  });
});
