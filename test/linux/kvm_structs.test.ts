/**
 * The x86-64 layouts src/linux/kvm marshals (pure: no kernel needed): offsets
 * from arch/x86/include/uapi/asm/kvm.h and include/uapi/linux/vfio.h, and the
 * request numbers against their _IO/_IOR/_IOW/_IOWR encodings.
 */
import { describe, expect, it } from 'vitest';
import { decodeCpuid2, decodeRegs, decodeSregs, encodeCpuid2, encodeRegs, encodeSregs } from '../../src/linux/kvm/structs.ts';
import { encodeDmaMap, encodeDmaUnmap } from '../../src/linux/kvm/vfio.ts';
import { KVM_GET_DIRTY_LOG, KVM_SET_USER_MEMORY_REGION, KVM_RUN, KVM_CREATE_VCPU } from '../../src/uapi/kvm.ts';
import { KVM_GET_STATS_FD } from '../../src/uapi/kvm_stats.ts';
import { KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2, KVM_SET_REGS, KVM_SET_SREGS, type kvm_sregs } from '../../src/uapi/kvm_x86.ts';
import { guestImage, guestRegs, guestSregs } from '../../src/user/vmm/guest_x86.ts';

/** include/uapi/asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr. */
const IOC = (dir: number, nr: number, size: number): number => (dir * 2 ** 30 + size * 2 ** 16 + 0xae * 256 + nr) >>> 0;
const _IO = (nr: number) => IOC(0, nr, 0), _IOW = (nr: number, s: number) => IOC(1, nr, s), _IOR = (nr: number, s: number) => IOC(2, nr, s), _IOWR = (nr: number, s: number) => IOC(3, nr, s);

const reset: kvm_sregs = decodeSregs(new Uint8Array(312));

describe('KVM request numbers', () => {
  it('match the kernel encodings with the struct sizes', () => {
    expect(KVM_CREATE_VCPU).toBe(_IO(0x41));
    expect(KVM_RUN).toBe(_IO(0x80));
    expect(KVM_GET_STATS_FD).toBe(_IO(0xce));
    expect(KVM_SET_USER_MEMORY_REGION).toBe(_IOW(0x46, 32));
    expect(KVM_GET_DIRTY_LOG).toBe(_IOW(0x42, 16));
    expect(KVM_GET_REGS).toBe(_IOR(0x81, 144));
    expect(KVM_SET_REGS).toBe(_IOW(0x82, 144));
    expect(KVM_GET_SREGS).toBe(_IOR(0x83, 312));
    expect(KVM_SET_SREGS).toBe(_IOW(0x84, 312));
    expect(KVM_GET_SUPPORTED_CPUID).toBe(_IOWR(0x05, 8));
    expect(KVM_SET_CPUID2).toBe(_IOW(0x90, 8));
  });
});

describe('struct layouts', () => {
  it('kvm_regs: 18 u64, rip at 128, rflags at 136', () => {
    const img = guestImage(64 << 20, false)!;
    const b = encodeRegs(guestRegs(img));
    const v = new DataView(b.buffer);
    expect(b.length).toBe(144);
    expect(Number(v.getBigUint64(128, true))).toBe(img.rip);
    expect(Number(v.getBigUint64(136, true))).toBe(0x3002);
    expect(decodeRegs(b)).toEqual(guestRegs(img));
  });

  it('kvm_sregs: cs at 0 (base, limit, selector, type…unusable), gdt at 192, cr0 at 224, efer at 264', () => {
    const img = guestImage(64 << 20, true)!;
    const s = guestSregs(reset, img);
    const b = encodeSregs(s);
    const v = new DataView(b.buffer);
    expect(b.length).toBe(312);
    expect(v.getUint32(8, true)).toBe(0xffffffff); // cs.limit
    expect(v.getUint16(12, true)).toBe(0x33); // cs.selector
    expect([...b.subarray(14, 23)]).toEqual([11, 1, 3, 0, 1, 1, 1, 0, 0]); // type present dpl db s l g avl unusable
    expect(v.getUint16(6 * 24 + 12, true)).toBe(0x40); // tr.selector
    expect(Number(v.getBigUint64(192, true))).toBe(s.gdt.base);
    expect(v.getUint16(200, true)).toBe(s.gdt.limit);
    expect(Number(v.getBigUint64(224, true))).toBe(0x80010033);
    expect(Number(v.getBigUint64(248, true))).toBe(0x660);
    expect(Number(v.getBigUint64(264, true))).toBe(0x500);
    expect(decodeSregs(b)).toEqual(s);
  });

  it('kvm_cpuid2: nent, padding, 40-byte entries', () => {
    const c = { nent: 2, entries: [{ function: 0x80000001, index: 0, flags: 0, eax: 1, ebx: 2, ecx: 3, edx: 0x2c100800 }, { function: 7, index: 1, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 }] };
    const b = encodeCpuid2(c);
    expect(b.length).toBe(88);
    expect(new DataView(b.buffer).getUint32(8 + 24, true)).toBe(0x2c100800);
    expect(new DataView(b.buffer).getUint32(48 + 4, true)).toBe(1);
    expect(decodeCpuid2(b)).toEqual(c);
  });

  it('a negative or fractional field is EFAULT, as a bad user pointer would be', () => {
    expect(() => encodeRegs({ ...guestRegs(guestImage(1 << 20, false)!), rip: -1 })).toThrow(/EFAULT/);
  });

  it('vfio_iommu_type1_dma_map / dma_unmap', () => {
    const m = encodeDmaMap({ argsz: 32, flags: 3, vaddr: 0x7f0000000000, iova: 0, size: 1 << 30 });
    const v = new DataView(m.buffer);
    expect([v.getUint32(0, true), v.getUint32(4, true), Number(v.getBigUint64(8, true)), Number(v.getBigUint64(24, true))]).toEqual([32, 3, 0x7f0000000000, 1 << 30]);
    expect(encodeDmaUnmap({ argsz: 24, flags: 0, iova: 0x1000, size: 0x2000 }).length).toBe(24);
  });
});
