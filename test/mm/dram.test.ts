/**
 * Physical memory contents: sparse frames, zero by default, old bytes kept
 * across free, zeroing and copying priced by resident frames.
 *
 * Pictures: one character per 4 KiB frame; '.' never written (reads zero), 'A'.. data.
 */
import { describe, expect, it } from 'vitest';
import { GiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { Dram } from '../../src/kernel/mm/dram.ts';

describe('Dram', () => {
  it('reads zero where nothing was written and creates no frame for zeros', () => {
    const d = new Dram();
    expect(d.readByte(123456789)).toBe(0);
    expect(d.read(5 * PAGE_SIZE - 3, 10)).toEqual(new Uint8Array(10));
    d.writeByte(77, 0);
    d.write(3 * PAGE_SIZE, new Uint8Array(PAGE_SIZE * 2));
    expect(d.residentFrames).toBe(0);
  });

  /*
   * frames 0 1 2:  . A A  — a write straddling the 1/2 boundary touches two frames.
   */
  it('writes and reads across frame boundaries', () => {
    const d = new Dram();
    const data = new Uint8Array(100).map((_, i) => i + 1);
    d.write(2 * PAGE_SIZE - 50, data);
    expect(d.residentFrames).toBe(2);
    expect(d.read(2 * PAGE_SIZE - 50, 100)).toEqual(data);
    expect(d.readByte(2 * PAGE_SIZE - 50)).toBe(1);
    expect(d.readByte(2 * PAGE_SIZE + 49)).toBe(100);
    expect(d.readByte(2 * PAGE_SIZE + 50)).toBe(0);
    d.writeByte(2 * PAGE_SIZE + 50, 0x1ff);
    expect(d.readByte(2 * PAGE_SIZE + 50)).toBe(0xff);
  });

  it('keeps physical addresses above 4 GiB and 2^40 exact', () => {
    const d = new Dram();
    const hi = 2 ** 45 + 12345;
    d.writeByte(hi, 9);
    expect(d.readByte(hi)).toBe(9);
    expect(d.readByte(hi - 2 ** 32)).toBe(0);
    expect(d.peekFrame(Math.floor(hi / PAGE_SIZE))?.[12345 % PAGE_SIZE]).toBe(9);
  });

  /*
   * 1 GiB page = 262144 frames, 2 written: . . A . . . B . . . (…)
   * clear_pages drops the 2 buffers; cost follows resident frames, not 262144.
   */
  it('clears a 1 GiB page that holds two written frames cheaply', () => {
    const d = new Dram();
    const base = 262144 * 3;
    d.writeByte((base + 2) * PAGE_SIZE, 1);
    d.writeByte((base + 6) * PAGE_SIZE + 7, 2);
    d.writeByte((base + 262144) * PAGE_SIZE, 3); // just past the page: survives
    d.readByte((base + 2) * PAGE_SIZE); // warm the one-entry cache
    d.clear_pages(base, GiB / PAGE_SIZE);
    expect(d.bytesZeroed).toBe(GiB);
    expect(d.residentFrames).toBe(1);
    expect(d.readByte((base + 2) * PAGE_SIZE)).toBe(0);
    expect(d.readByte((base + 262144) * PAGE_SIZE)).toBe(3);
  });

  it('a freed frame keeps its bytes until someone zeroes it (no clearing on free)', () => {
    const d = new Dram();
    d.fill(10 * PAGE_SIZE, PAGE_SIZE, 0xaa);
    // ...the page allocator frees frame 10 and hands it out again: nothing touches Dram.
    expect(d.readByte(10 * PAGE_SIZE + 100)).toBe(0xaa);
    d.clear_pages(10, 1);
    expect(d.readByte(10 * PAGE_SIZE + 100)).toBe(0);
  });

  /*
   * src 4..7: A . B .   dst 6..9 overlaps: memmove semantics.
   */
  it('copies pages with overlap and copies absence as zero', () => {
    const d = new Dram();
    d.writeByte(4 * PAGE_SIZE, 0x41);
    d.writeByte(6 * PAGE_SIZE, 0x42);
    d.writeByte(7 * PAGE_SIZE + 1, 0x43);
    d.readByte(8 * PAGE_SIZE); // cache frame 8 as absent
    d.copy_pages(6, 4, 4);
    expect(d.readByte(6 * PAGE_SIZE)).toBe(0x41);
    expect(d.readByte(7 * PAGE_SIZE + 1)).toBe(0); // frame 5 was empty
    expect(d.readByte(8 * PAGE_SIZE)).toBe(0x42);
    expect(d.readByte(9 * PAGE_SIZE + 1)).toBe(0x43);
    expect(d.readByte(4 * PAGE_SIZE)).toBe(0x41);
    expect(d.bytesCopied).toBe(4 * PAGE_SIZE);
    // A copy gets its own buffer.
    d.writeByte(6 * PAGE_SIZE, 1);
    expect(d.readByte(4 * PAGE_SIZE)).toBe(0x41);
  });

  it('fill: partial frames, whole-frame zeroing drops buffers', () => {
    const d = new Dram();
    d.fill(100, 3 * PAGE_SIZE, 7);
    expect(d.residentFrames).toBe(4);
    expect(d.readByte(99)).toBe(0);
    expect(d.readByte(100)).toBe(7);
    expect(d.readByte(100 + 3 * PAGE_SIZE - 1)).toBe(7);
    expect(d.readByte(100 + 3 * PAGE_SIZE)).toBe(0);
    d.fill(0, 4 * PAGE_SIZE, 0);
    expect(d.residentFrames).toBe(0);
    expect(d.bytesZeroed).toBe(4 * PAGE_SIZE);
  });

  it('frameForWrite gives a live buffer that readByte sees', () => {
    const d = new Dram();
    d.readByte(42 * PAGE_SIZE);
    const f = d.frameForWrite(42);
    f[5] = 99;
    expect(d.readByte(42 * PAGE_SIZE + 5)).toBe(99);
    expect(d.peekFrame(43)).toBeUndefined();
  });
});
