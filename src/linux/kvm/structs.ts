/**
 * x86-64 layouts of the KVM vCPU structs (arch/x86/include/uapi/asm/kvm.h):
 * struct kvm_regs (144 bytes), struct kvm_segment (24), struct kvm_dtable (16),
 * struct kvm_sregs (312), struct kvm_cpuid2 (8 + 40 per entry), to and from the
 * objects of uapi/kvm_x86.ts.
 */
import { Errno } from '../../lib/errno.ts';
import {
  KVM_REGS_FIELDS,
  KVM_SREGS_SEGMENTS,
  type kvm_cpuid2,
  type kvm_cpuid_entry2,
  type kvm_dtable,
  type kvm_regs,
  type kvm_segment,
  type kvm_sregs,
} from '../../uapi/kvm_x86.ts';

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function num(x: unknown): bigint {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new Errno('EFAULT', 'ioctl: bad struct field');
  return BigInt(x);
}

/** struct kvm_regs: 18 × __u64 in KVM_REGS_FIELDS order. */
export function encodeRegs(r: kvm_regs): Uint8Array {
  const b = new Uint8Array(144);
  const v = view(b);
  KVM_REGS_FIELDS.forEach((f, i) => v.setBigUint64(i * 8, num(r[f]), true));
  return b;
}
export function decodeRegs(b: Uint8Array): kvm_regs {
  const v = view(b);
  return Object.fromEntries(KVM_REGS_FIELDS.map((f, i) => [f, Number(v.getBigUint64(i * 8, true))])) as unknown as kvm_regs;
}

/** struct kvm_segment: base u64, limit u32, selector u16, then type … unusable, padding as u8. */
const SEG_BYTES = ['type', 'present', 'dpl', 'db', 's', 'l', 'g', 'avl', 'unusable'] as const;
function putSeg(v: DataView, at: number, s: kvm_segment): void {
  v.setBigUint64(at, num(s.base), true);
  v.setUint32(at + 8, Number(num(s.limit)), true);
  v.setUint16(at + 12, Number(num(s.selector)), true);
  SEG_BYTES.forEach((f, i) => v.setUint8(at + 14 + i, Number(num(s[f]))));
}
function getSeg(v: DataView, at: number): kvm_segment {
  const s = { base: Number(v.getBigUint64(at, true)), limit: v.getUint32(at + 8, true), selector: v.getUint16(at + 12, true) } as kvm_segment;
  SEG_BYTES.forEach((f, i) => (s[f] = v.getUint8(at + 14 + i)));
  return s;
}
function putDt(v: DataView, at: number, d: kvm_dtable): void {
  v.setBigUint64(at, num(d.base), true);
  v.setUint16(at + 8, Number(num(d.limit)), true);
}
const getDt = (v: DataView, at: number): kvm_dtable => ({ base: Number(v.getBigUint64(at, true)), limit: v.getUint16(at + 8, true) });

/** Control registers after the 8 segments (192) and the two tables (32). */
const SREGS_CRS = ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'efer', 'apic_base'] as const;

/** struct kvm_sregs. */
export function encodeSregs(s: kvm_sregs): Uint8Array {
  const b = new Uint8Array(312);
  const v = view(b);
  if (!s || typeof s !== 'object') throw new Errno('EFAULT');
  KVM_SREGS_SEGMENTS.forEach((n, i) => putSeg(v, i * 24, s[n]));
  putDt(v, 192, s.gdt);
  putDt(v, 208, s.idt);
  SREGS_CRS.forEach((n, i) => v.setBigUint64(224 + i * 8, num(s[n]), true));
  for (let i = 0; i < 4; i++) v.setBigUint64(280 + i * 8, num(s.interrupt_bitmap?.[i] ?? 0), true);
  return b;
}
export function decodeSregs(b: Uint8Array): kvm_sregs {
  const v = view(b);
  const s = {} as kvm_sregs;
  KVM_SREGS_SEGMENTS.forEach((n, i) => (s[n] = getSeg(v, i * 24)));
  s.gdt = getDt(v, 192);
  s.idt = getDt(v, 208);
  SREGS_CRS.forEach((n, i) => (s[n] = Number(v.getBigUint64(224 + i * 8, true))));
  s.interrupt_bitmap = [0, 1, 2, 3].map((i) => Number(v.getBigUint64(280 + i * 8, true)));
  return s;
}

/** struct kvm_cpuid2 with room for `nent` entries (the kernel fills up to nent). */
const ENTRY_FIELDS = ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const;
export function encodeCpuid2(c: kvm_cpuid2): Uint8Array {
  const nent = Number(num(c.nent));
  if (nent > 4096) throw new Errno('E2BIG');
  const b = new Uint8Array(8 + 40 * nent);
  const v = view(b);
  v.setUint32(0, nent, true);
  (c.entries ?? []).slice(0, nent).forEach((e, i) => ENTRY_FIELDS.forEach((f, j) => v.setUint32(8 + i * 40 + j * 4, Number(num(e[f])), true)));
  return b;
}
export function decodeCpuid2(b: Uint8Array): kvm_cpuid2 {
  const v = view(b);
  const nent = v.getUint32(0, true);
  const entries: kvm_cpuid_entry2[] = [];
  for (let i = 0; i < nent && 8 + (i + 1) * 40 <= b.length; i++) {
    entries.push(Object.fromEntries(ENTRY_FIELDS.map((f, j) => [f, v.getUint32(8 + i * 40 + j * 4, true)])) as unknown as kvm_cpuid_entry2);
  }
  return { nent, entries };
}
