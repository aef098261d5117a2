/**
 * Dram's compact forms: frames holding one small write kept as arithmetic runs,
 * 1 GiB chunks instead of one Map, and reads that return exactly what was
 * written, checked against a reference of full 4 KiB pages.
 *
 *   frames   0 1 2 3 4 ...  511 | 512 ...
 *   words    a a+s a+2s ...     |  one run record per 512-frame block
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../../src/lib/size.ts';
import { Dram } from '../../src/kernel/mm/dram.ts';

/** Reference memory: a full page per frame ever written. */
class RefDram {
  readonly pages = new Map<number, Uint8Array>();
  private page(pfn: number): Uint8Array {
    let p = this.pages.get(pfn);
    if (!p) this.pages.set(pfn, (p = new Uint8Array(PAGE_SIZE)));
    return p;
  }
  write(phys: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.page(Math.floor((phys + i) / PAGE_SIZE))[(phys + i) % PAGE_SIZE] = data[i]!;
  }
  read(phys: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; ) {
      const pfn = Math.floor((phys + i) / PAGE_SIZE);
      const off = (phys + i) % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - off, len - i);
      const p = this.pages.get(pfn);
      if (p) out.set(p.subarray(off, off + n), i);
      i += n;
    }
    return out;
  }
  clear(pfn: number, nr: number): void {
    for (let p = pfn; p < pfn + nr; p++) this.pages.delete(p);
  }
  copy(dst: number, src: number, nr: number): void {
    const copies = [];
    for (let i = 0; i < nr; i++) copies.push(this.pages.get(src + i)?.slice());
    for (let i = 0; i < nr; i++) {
      const c = copies[i];
      if (c) this.pages.set(dst + i, c);
      else this.pages.delete(dst + i);
    }
  }
}

/** Little-endian bytes of a safe integer. */
function le(value: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let k = 0; k < len; k++) out[k] = Math.floor(value / 2 ** (8 * k)) % 256;
  return out;
}

/** Index of the first differing byte, or -1. */
function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const NF = 1200; // frames in play: a few 512-frame blocks
type Op =
  | { k: 'word'; pfn: number; off: number; len: number; v: number }
  | { k: 'seq'; pfn: number; n: number; off: number; v: number; step: number }
  | { k: 'bytes'; phys: number; data: number[] }
  | { k: 'byte'; phys: number; v: number }
  | { k: 'fill'; phys: number; len: number; v: number }
  | { k: 'clear'; pfn: number; n: number }
  | { k: 'copy'; dst: number; src: number; n: number }
  | { k: 'poke'; pfn: number; off: number; v: number }
  | { k: 'scatter'; pfn: number; n: number; stride: number; off: number; v: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('word' as const), pfn: fc.nat(NF - 1), off: fc.nat(PAGE_SIZE - 8), len: fc.integer({ min: 1, max: 8 }), v: fc.nat() }),
  fc.record({ k: fc.constant('seq' as const), pfn: fc.nat(NF - 1), n: fc.integer({ min: 1, max: 700 }), off: fc.constantFrom(0, 8, 4088), v: fc.nat(), step: fc.constantFrom(0, 1, 4096, -1) }),
  fc.record({ k: fc.constant('bytes' as const), phys: fc.nat(NF * PAGE_SIZE - 40), data: fc.array(fc.nat(255), { minLength: 1, maxLength: 20 }) }),
  fc.record({ k: fc.constant('byte' as const), phys: fc.nat(NF * PAGE_SIZE - 1), v: fc.nat(255) }),
  fc.record({ k: fc.constant('fill' as const), phys: fc.nat(NF * PAGE_SIZE - 9000), len: fc.integer({ min: 1, max: 9000 }), v: fc.constantFrom(0, 0, 5) }),
  fc.record({ k: fc.constant('clear' as const), pfn: fc.nat(NF - 1), n: fc.integer({ min: 1, max: 600 }) }),
  fc.record({ k: fc.constant('copy' as const), dst: fc.nat(NF - 100), src: fc.nat(NF - 100), n: fc.integer({ min: 1, max: 99 }) }),
  fc.record({ k: fc.constant('poke' as const), pfn: fc.nat(NF - 1), off: fc.nat(PAGE_SIZE - 1), v: fc.nat(255) }),
  // A random writer: frames in a scrambled order, values with no progression — crowded blocks go dense (dram_dense.ts).
  fc.record({ k: fc.constant('scatter' as const), pfn: fc.nat(NF - 1), n: fc.integer({ min: 20, max: 300 }), stride: fc.constantFrom(7, 13, 389), off: fc.constantFrom(0, 8, 4088), v: fc.nat() }),
);

function apply(d: Dram, r: RefDram, o: Op): void {
  switch (o.k) {
    case 'word': {
      const v = o.v % 2 ** (8 * Math.min(o.len, 4));
      d.writeUint(o.pfn * PAGE_SIZE + o.off, o.len, v);
      r.write(o.pfn * PAGE_SIZE + o.off, le(v, o.len));
      return;
    }
    case 'seq':
      for (let i = 0; i < o.n && o.pfn + i < NF; i++) {
        const v = Math.max(0, o.v + i * o.step);
        d.writeUint((o.pfn + i) * PAGE_SIZE + o.off, 8, v);
        r.write((o.pfn + i) * PAGE_SIZE + o.off, le(v, 8));
      }
      return;
    case 'scatter':
      for (let i = 0; i < o.n; i++) {
        const pfn = (o.pfn + ((i * o.stride) % o.n)) % NF;
        const v = (o.v + i * i * 977) % 2 ** 32;
        d.writeUint(pfn * PAGE_SIZE + o.off, 8, v);
        r.write(pfn * PAGE_SIZE + o.off, le(v, 8));
      }
      return;
    case 'bytes':
      d.write(o.phys, new Uint8Array(o.data));
      r.write(o.phys, new Uint8Array(o.data));
      return;
    case 'byte':
      d.writeByte(o.phys, o.v);
      r.write(o.phys, new Uint8Array([o.v]));
      return;
    case 'fill':
      d.fill(o.phys, o.len, o.v);
      r.write(o.phys, new Uint8Array(o.len).fill(o.v));
      return;
    case 'clear':
      d.clear_pages(o.pfn, o.n);
      r.clear(o.pfn, o.n);
      return;
    case 'copy':
      d.copy_pages(o.dst, o.src, o.n);
      r.copy(o.dst, o.src, o.n);
      return;
    case 'poke':
      d.frameForWrite(o.pfn)[o.off] = o.v;
      r.write(o.pfn * PAGE_SIZE + o.off, new Uint8Array([o.v]));
      return;
  }
}

describe('Dram compact forms', () => {
  it('property: every read returns exactly what the reference holds', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const d = new Dram();
        const r = new RefDram();
        for (const o of ops) apply(d, r, o);
        expect(firstDiff(d.read(0, NF * PAGE_SIZE), r.read(0, NF * PAGE_SIZE))).toBe(-1);
        for (let p = 0; p < NF; p += 37) {
          expect(d.readByte(p * PAGE_SIZE + 3)).toBe(r.read(p * PAGE_SIZE + 3, 1)[0]);
          // readUint inside, across the edge of and outside a small write (runRead's three cases).
          for (const off of [0, 3, 4, 6, 9]) {
            for (const len of [1, 2, 3, 4]) {
              const want = r.read(p * PAGE_SIZE + off, len).reduceRight((v, b) => v * 256 + b, 0);
              expect(d.readUint(p * PAGE_SIZE + off, len)).toBe(want);
            }
          }
          expect(firstDiff(d.peekFrame(p) ?? new Uint8Array(PAGE_SIZE), r.read(p * PAGE_SIZE, PAGE_SIZE))).toBe(-1);
        }
        expect(d.residentFrames).toBeLessThanOrEqual(r.pages.size);
      }),
      { numRuns: 150 },
    );
  });

  it('a guest storing its gpa in every page costs no page buffers, and reads it back', () => {
    const d = new Dram();
    for (let p = 0; p < 4096; p++) d.writeUint(p * PAGE_SIZE, 8, p * PAGE_SIZE);
    expect(d.residentFrames).toBe(4095); // page 0 stored zero
    expect(d.materialisedFrames).toBe(0);
    expect(d.read(1234 * PAGE_SIZE, 8)).toEqual(le(1234 * PAGE_SIZE, 8));
    // A second store into a run frame gives it a buffer; its neighbours keep theirs.
    d.writeByte(1234 * PAGE_SIZE + 100, 9);
    expect(d.materialisedFrames).toBe(1);
    expect(d.read(1234 * PAGE_SIZE, 8)).toEqual(le(1234 * PAGE_SIZE, 8));
    expect(d.readByte(1234 * PAGE_SIZE + 100)).toBe(9);
    expect(d.read(1235 * PAGE_SIZE, 8)).toEqual(le(1235 * PAGE_SIZE, 8));
  });

  /*
   * 2^24 + 4096 frames (64 GiB + 16 MiB) over 65 chunks: more than one JS Map can hold.
   */
  it('holds more than 16.7M written frames without materialising them', () => {
    const d = new Dram();
    const n = 2 ** 24 + 4096;
    const base = 2 ** 30; // a high pfn range, as a large host has
    for (let i = 0; i < n; i++) d.writeUint((base + i) * PAGE_SIZE + 8, 8, i + 1);
    expect(d.residentFrames).toBe(n);
    expect(d.materialisedFrames).toBe(0);
    for (const i of [0, 511, 512, 2 ** 24 - 1, 2 ** 24, n - 1]) {
      expect(d.read((base + i) * PAGE_SIZE + 8, 8)).toEqual(le(i + 1, 8));
      expect(d.readByte((base + i) * PAGE_SIZE)).toBe(0);
    }
    d.clear_pages(base + 2 ** 23, 2 ** 23);
    expect(d.residentFrames).toBe(n - 2 ** 23);
    expect(d.readUint((base + n - 1) * PAGE_SIZE + 8, 4)).toBe(n);
    expect(d.readUint((base + 2 ** 23) * PAGE_SIZE + 8, 4)).toBe(0);
  });

  it('a random writer: a crowded block goes dense (dram_dense.ts) and every operation still sees exactly its bytes', () => {
    //   block 1 (frames 512..1023): words stored in a scrambled order, no progression → one slot per frame
    const d = new Dram();
    const r = new RefDram();
    const put = (pfn: number, v: number): void => {
      d.writeUint(pfn * PAGE_SIZE + 16, 8, v);
      r.write(pfn * PAGE_SIZE + 16, le(v, 8));
    };
    for (let i = 0; i < 512; i++) put(512 + ((i * 389) % 512), (i * i * 7919 + 1) % 2 ** 40);
    expect(d.residentFrames).toBe(512);
    expect(d.materialisedFrames).toBe(0);
    const same = (): void => expect(firstDiff(d.read(0, 2048 * PAGE_SIZE), r.read(0, 2048 * PAGE_SIZE))).toBe(-1);
    same();
    expect(d.readUint(600 * PAGE_SIZE + 20, 4)).toBe(new DataView(r.read(600 * PAGE_SIZE + 20, 4).buffer).getUint32(0, true));
    d.clear_pages(700, 100); //                     slots emptied
    r.clear(700, 100);
    d.copy_pages(1500, 512, 64); //                dense → a fresh block
    r.copy(1500, 512, 64);
    d.frameForWrite(530)[1] = 9; //                a slot becomes a page
    r.write(530 * PAGE_SIZE + 1, new Uint8Array([9]));
    put(700, 5); //                                a slot reused
    same();
    expect(d.residentFrames).toBe(512 - 100 + 64 + 1);
    d.clear_pages(0, 2048);
    expect(d.residentFrames).toBe(0);
  });

  it('full pages are sharded: many chunks of buffers, each chunk cleared on its own', () => {
    const d = new Dram();
    for (let c = 0; c < 70; c++) d.write((c * 262144 + 5) * PAGE_SIZE, new Uint8Array(100).fill(c + 1));
    expect(d.materialisedFrames).toBe(70);
    expect(d.readByte((69 * 262144 + 5) * PAGE_SIZE + 99)).toBe(70);
    d.clear_pages(262144, 68 * 262144);
    expect(d.materialisedFrames).toBe(2);
    expect(d.readByte((69 * 262144 + 5) * PAGE_SIZE)).toBe(70);
    expect(d.readByte((5 + 262144) * PAGE_SIZE)).toBe(0);
  });
});
