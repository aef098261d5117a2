/**
 * A tiny x86-64 assembler: just the instructions the guest program uses, each
 * encoded by hand from the Intel SDM vol. 2 (opcode, REX prefix W/R/X/B, ModRM
 * mod/reg/rm, SIB scale/index/base, displacement, immediate), with labels for
 * jumps, calls and RIP-relative data. Registers are numbered as in the
 * encoding: rax 0, rcx 1, rdx 2, rbx 3, rsp 4, rbp 5, rsi 6, rdi 7, r8–r15 8–15.
 */

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const R8 = 8, R9 = 9, R10 = 10, R11 = 11, R12 = 12, R13 = 13, R14 = 14, R15 = 15;

/** Condition codes (the low nibble of Jcc/CMOVcc). */
export const CC = { b: 0x2, ae: 0x3, e: 0x4, ne: 0x5, be: 0x6, a: 0x7 } as const;
type Cc = keyof typeof CC;

/** A memory operand [base + index*scale + disp]. */
export interface Mem {
  base: number;
  index?: number;
  scale?: 1 | 2 | 4 | 8;
  disp?: number;
}

/** Group-2 shift/rotate opcode extensions (C1 /n ib). */
const SHIFT = { rol: 0, shl: 4, shr: 5 } as const;
/** 01-style ALU opcodes (op r/m, reg). */
const ALU = { add: 0x01, or: 0x09, and: 0x21, sub: 0x29, xor: 0x31, cmp: 0x39, mov: 0x89, test: 0x85 } as const;
/** Group-1 opcode extensions (81 /n id). */
const ALU_IMM = { add: 0, or: 1, and: 4, xor: 6, cmp: 7 } as const;

/** Emits bytes; labels resolve when `assemble` is called. */
export class Asm {
  private readonly b: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly fixups: { at: number; label: string; end: number }[] = [];

  /** Current offset. */
  get pc(): number {
    return this.b.length;
  }

  /** Define `name` at the current offset. */
  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.pc);
    return this;
  }

  /** Raw bytes. */
  bytes(...xs: number[]): this {
    for (const x of xs) this.b.push(x & 0xff);
    return this;
  }

  private le(x: number | bigint, n: number): void {
    let v = BigInt.asUintN(n * 8, BigInt(x));
    for (let i = 0; i < n; i++) {
      this.b.push(Number(v & 0xffn));
      v >>= 8n;
    }
  }

  /** A rel32 to `label`, measured from the end of the instruction (`tail` bytes follow the field). */
  private rel32(label: string, tail = 0): void {
    this.fixups.push({ at: this.pc, label, end: this.pc + 4 + tail });
    this.le(0, 4);
  }

  /** REX prefix 0100WRXB, emitted when any bit is needed (or `force`, for byte registers). */
  private rex(w: boolean, reg: number, index: number, rm: number, force = false): void {
    const v = 0x40 | (w ? 8 : 0) | (reg & 8 ? 4 : 0) | (index & 8 ? 2 : 0) | (rm & 8 ? 1 : 0);
    if (v !== 0x40 || force) this.b.push(v);
  }

  /** ModRM with mod=11: register to register. */
  private modrmReg(reg: number, rm: number): void {
    this.b.push(0xc0 | ((reg & 7) << 3) | (rm & 7));
  }

  /**
   * ModRM (+ SIB + displacement) for a memory operand. rsp/r12 as base need a SIB;
   * rbp/r13 as base with no displacement need mod=01 and disp8 0.
   */
  private modrmMem(reg: number, m: Mem): void {
    const disp = m.disp ?? 0;
    const mod = disp === 0 && (m.base & 7) !== RBP ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
    const r = (reg & 7) << 3;
    if (m.index !== undefined || (m.base & 7) === RSP) {
      const index = m.index ?? RSP; // index 100 = none
      const ss = { 1: 0, 2: 1, 4: 2, 8: 3 }[m.scale ?? 1];
      this.b.push((mod << 6) | r | 4, (ss << 6) | ((index & 7) << 3) | (m.base & 7));
    } else {
      this.b.push((mod << 6) | r | (m.base & 7));
    }
    if (mod === 1) this.le(disp, 1);
    if (mod === 2) this.le(disp, 4);
  }

  /** op with a register (reg field) and a memory operand; `w` selects 64-bit operand size. */
  private memOp(opcode: number[], w: boolean, reg: number, m: Mem, prefix?: number): this {
    if (prefix !== undefined) this.b.push(prefix);
    this.rex(w, reg, m.index ?? 0, m.base);
    this.b.push(...opcode);
    this.modrmMem(reg, m);
    return this;
  }

  /** op with two registers (reg field `reg`, r/m field `rm`). */
  private regOp(opcode: number[], w: boolean, reg: number, rm: number, prefix?: number): this {
    if (prefix !== undefined) this.b.push(prefix);
    this.rex(w, reg, 0, rm);
    this.b.push(...opcode);
    this.modrmReg(reg, rm);
    return this;
  }

  // ---- integer instructions ----
  /** `OP dst, src` for add/or/and/sub/xor/cmp/mov/test (opcode 01-style: r/m ← r/m OP reg), 64- or 32-bit. */
  alu(op: keyof typeof ALU, dst: number, src: number, bits: 32 | 64 = 64): this {
    return this.regOp([ALU[op]], bits === 64, src, dst);
  }
  /** `mov r64, imm64` (REX.W B8+r io). */
  movabs(dst: number, imm: number | bigint): this {
    this.rex(true, 0, 0, dst);
    this.b.push(0xb8 + (dst & 7));
    this.le(imm, 8);
    return this;
  }
  /** `mov r32, imm32` (B8+r id): zero-extends into the 64-bit register. */
  mov32i(dst: number, imm: number): this {
    this.rex(false, 0, 0, dst);
    this.b.push(0xb8 + (dst & 7));
    this.le(imm, 4);
    return this;
  }
  /** `mov r, [m]` (8B /r), 64- or 32-bit (a 32-bit load zero-extends). */
  load(dst: number, m: Mem, bits: 32 | 64 = 64): this {
    return this.memOp([0x8b], bits === 64, dst, m);
  }
  /** `mov [m], r64` (REX.W 89 /r). */
  store(m: Mem, src: number): this {
    return this.memOp([0x89], true, src, m);
  }
  /** `xor r64, [m]` (REX.W 33 /r). */
  xorLoad(dst: number, m: Mem): this {
    return this.memOp([0x33], true, dst, m);
  }
  /** `cmp [m], r64` (REX.W 39 /r). */
  cmpMem(m: Mem, src: number): this {
    return this.memOp([0x39], true, src, m);
  }
  /** `test byte [m], imm8` (F6 /0 ib). */
  testByte(m: Mem, imm: number): this {
    this.memOp([0xf6], false, 0, m);
    this.b.push(imm & 0xff);
    return this;
  }
  /** `cmp r, imm8` sign-extended (83 /7 ib). */
  cmpImm8(dst: number, imm: number, bits: 32 | 64 = 64): this {
    this.regOp([0x83], bits === 64, 7, dst);
    this.le(imm, 1);
    return this;
  }
  /** `add r, imm32` sign-extended (81 /0 id). */
  addImm32(dst: number, imm: number, bits: 32 | 64 = 64): this {
    return this.aluImm32('add', dst, imm, bits);
  }
  /** `OP r, imm32` sign-extended (81 /n id) for add/or/and/xor/cmp. */
  aluImm32(op: keyof typeof ALU_IMM, dst: number, imm: number, bits: 32 | 64 = 64): this {
    this.regOp([0x81], bits === 64, ALU_IMM[op], dst);
    this.le(imm, 4);
    return this;
  }
  /** `push r64` (50+r) and `pop r64` (58+r). */
  push(src: number): this {
    this.rex(false, 0, 0, src);
    return this.bytes(0x50 + (src & 7));
  }
  pop(dst: number): this {
    this.rex(false, 0, 0, dst);
    return this.bytes(0x58 + (dst & 7));
  }
  /** `rdmsr` (0F 32): edx:eax ← MSR[ecx]; `wrmsr` (0F 30): MSR[ecx] ← edx:eax. CPL 0 only. */
  rdmsr(): this {
    return this.bytes(0x0f, 0x32);
  }
  wrmsr(): this {
    return this.bytes(0x0f, 0x30);
  }
  /** rol/shl/shr r, imm8 (C1 /n ib). */
  shift(op: keyof typeof SHIFT, dst: number, n: number, bits: 32 | 64 = 64): this {
    this.regOp([0xc1], bits === 64, SHIFT[op], dst);
    this.b.push(n & 0xff);
    return this;
  }
  /** `imul r32, r/m32, imm32` (69 /r id): the low 32 bits of the product, like Math.imul. */
  imul32i(dst: number, src: number, imm: number): this {
    this.regOp([0x69], false, dst, src);
    this.le(imm, 4);
    return this;
  }
  /** `imul r64, r/m64` (REX.W 0F AF /r). */
  imul(dst: number, src: number): this {
    return this.regOp([0x0f, 0xaf], true, dst, src);
  }
  /** `div r/m64` (REX.W F7 /6): rdx:rax / src → rax quotient, rdx remainder. */
  div(src: number): this {
    return this.regOp([0xf7], true, 6, src);
  }
  /** `inc r` (FF /0) and `dec r` (FF /1). */
  inc(dst: number, bits: 32 | 64 = 64): this {
    return this.regOp([0xff], bits === 64, 0, dst);
  }
  dec(dst: number, bits: 32 | 64 = 64): this {
    return this.regOp([0xff], bits === 64, 1, dst);
  }
  /** `lea r, [m]` (8D /r), 64- or 32-bit result. */
  lea(dst: number, m: Mem, bits: 32 | 64 = 64): this {
    return this.memOp([0x8d], bits === 64, dst, m);
  }
  /** `cmovCC r64, r/m64` (REX.W 0F 40+cc /r). */
  cmov(cc: Cc, dst: number, src: number): this {
    return this.regOp([0x0f, 0x40 | CC[cc]], true, dst, src);
  }

  // ---- control flow ----
  /** `jmp rel32` (E9 cd). */
  jmp(label: string): this {
    this.b.push(0xe9);
    this.rel32(label);
    return this;
  }
  /** `jCC rel32` (0F 80+cc cd). */
  jcc(cc: Cc, label: string): this {
    this.b.push(0x0f, 0x80 | CC[cc]);
    this.rel32(label);
    return this;
  }
  /** `call rel32` (E8 cd). */
  call(label: string): this {
    this.b.push(0xe8);
    this.rel32(label);
    return this;
  }
  /** `ret` (C3). */
  ret(): this {
    return this.bytes(0xc3);
  }
  /** `out imm8, eax` (E7 ib): a 4-byte port write. */
  outEax(port: number): this {
    return this.bytes(0xe7, port);
  }
  /** `iretq` (REX.W CF). */
  iretq(): this {
    return this.bytes(0x48, 0xcf);
  }
  /** `hlt` (F4). */
  hlt(): this {
    return this.bytes(0xf4);
  }

  // ---- SSE2 scalar double ----
  /** `cvtsi2sd xmm, r64` (F2 REX.W 0F 2A /r): exact for integers below 2^53. */
  cvtsi2sd(xmm: number, src: number): this {
    return this.regOp([0x0f, 0x2a], true, xmm, src, 0xf2);
  }
  /** `cvttsd2si r64, xmm` (F2 REX.W 0F 2C /r): truncate toward zero (Math.floor for x ≥ 0). */
  cvttsd2si(dst: number, xmm: number): this {
    return this.regOp([0x0f, 0x2c], true, dst, xmm, 0xf2);
  }
  /** `mulsd xmm, xmm` (F2 0F 59 /r): IEEE round-to-nearest-even, as JS `*`. */
  mulsd(dst: number, src: number): this {
    return this.regOp([0x0f, 0x59], false, dst, src, 0xf2);
  }
  /** `mulsd xmm, [rip + label]` (F2 0F 59 /r, ModRM 00 xmm 101 disp32). */
  mulsdRip(dst: number, label: string): this {
    this.b.push(0xf2, 0x0f, 0x59, 0x05 | ((dst & 7) << 3));
    this.rel32(label);
    return this;
  }
  /** `comisd xmm, [rip + label]` (66 0F 2F /r): CF=1 when xmm < the constant. */
  comisdRip(xmm: number, label: string): this {
    this.b.push(0x66, 0x0f, 0x2f, 0x05 | ((xmm & 7) << 3));
    this.rel32(label);
    return this;
  }
  /** `ldmxcsr [rip + label]` (0F AE /2). */
  ldmxcsrRip(label: string): this {
    this.b.push(0x0f, 0xae, 0x15);
    this.rel32(label);
    return this;
  }

  // ---- data ----
  /** Pad with int3 (CC) up to a multiple of n. */
  align(n: number): this {
    while (this.pc % n) this.b.push(0xcc);
    return this;
  }
  /** A little-endian u64. */
  u64(x: number | bigint): this {
    this.le(x, 8);
    return this;
  }
  /** A little-endian u32. */
  u32(x: number): this {
    this.le(x, 4);
    return this;
  }
  /** An IEEE double. */
  f64(x: number): this {
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, x, true);
    for (let i = 0; i < 8; i++) this.b.push(v.getUint8(i));
    return this;
  }

  /** The offset of a defined label. */
  offsetOf(name: string): number {
    const at = this.labels.get(name);
    if (at === undefined) throw new Error(`undefined label ${name}`);
    return at;
  }

  /** The code with every label reference resolved. */
  assemble(): Uint8Array {
    const out = Uint8Array.from(this.b);
    const v = new DataView(out.buffer);
    for (const f of this.fixups) {
      const target = this.labels.get(f.label);
      if (target === undefined) throw new Error(`undefined label ${f.label}`);
      v.setInt32(f.at, target - f.end, true);
    }
    return out;
  }
}
