import { describe, expect, it } from 'vitest';
import { KernelParams } from '../../src/kernel/boot/cmdline.ts';
import { DMEM_MIN_ALIGN, createDmem, parse_dmem, type DmemParam } from '../../src/kernel/dmem/reserve.ts';
import { GiB, MiB } from '../../src/lib/size.ts';
import { lines, newLog } from './helpers.ts';

const ok = (arg: string): DmemParam => {
  const r = parse_dmem(arg, newLog());
  if (typeof r === 'number') throw new Error(`rejected: ${arg}`);
  return r;
};

/** The warning a rejected argument printed ('' when it only failed). */
const rejected = (arg: string | undefined): string => {
  const log = newLog();
  expect(parse_dmem(arg, log)).toBe(-22);
  return lines(log).join('\n');
};

describe('dmem= forms', () => {
  it('SIZE: on every node, section alignment', () => {
    expect(ok('16G')).toEqual({ raw: 'dmem=16G', base: 0, size: 16 * GiB, align: DMEM_MIN_ALIGN, resv_kernel: false });
    expect(DMEM_MIN_ALIGN).toBe(128 * MiB);
  });
  it('!SIZE: leave SIZE per node to the kernel', () => {
    expect(ok('!4G')).toMatchObject({ size: 4 * GiB, resv_kernel: true, base: 0 });
  });
  it('[!]SIZE:ALIGN', () => {
    expect(ok('8G:1G')).toMatchObject({ size: 8 * GiB, align: GiB });
    expect(ok('!2G:1G')).toMatchObject({ size: 2 * GiB, align: GiB, resv_kernel: true });
  });
  it('SIZE@ADDR, SIZE@ADDR:ALIGN and SIZE:ALIGN@ADDR', () => {
    expect(ok('1G@5G')).toMatchObject({ base: 5 * GiB, size: GiB, align: DMEM_MIN_ALIGN });
    expect(ok('1G@5G:1G')).toMatchObject({ base: 5 * GiB, size: GiB, align: GiB });
    expect(ok('1G:1G@5G')).toMatchObject({ base: 5 * GiB, size: GiB, align: GiB });
  });
  it('memparse suffixes and bases', () => {
    expect(ok('0x40000000')).toMatchObject({ size: GiB });
    expect(ok('1024M')).toMatchObject({ size: GiB });
    expect(ok('1T')).toMatchObject({ size: 1024 * GiB });
    expect(ok('1048576k@0x140000000')).toMatchObject({ size: GiB, base: 5 * GiB });
  });
  it('logs the parameter as check_dmem_param does', () => {
    const log = newLog();
    parse_dmem('1G:1G@5G', log);
    expect(lines(log)).toEqual(['dmem: parameter: base address 0x140000000 size 0x40000000 align 0x40000000 resv_kernel 0']);
  });
});

describe('dmem= rejections (the entry is ignored, boot goes on)', () => {
  it('no value, no digits', () => {
    expect(rejected(undefined)).toBe('');
    expect(rejected('')).toBe('');
    expect(rejected('G')).toBe('');
  });
  it('zero size', () => expect(rejected('0')).toBe("dmem: 'size' of 0 defined in dmem=, or {invalid} param"));
  it('@0 and :0', () => {
    expect(rejected('1G@0')).toBe("dmem: 'addr' or 'align' should not be set to 0");
    expect(rejected('1G:0')).toBe("dmem: 'addr' or 'align' should not be set to 0");
  });
  it('! with @', () => expect(rejected('!1G@5G')).toBe('dmem: take a certain base address for kernel is illegal'));
  it('alignment below a section, not a power of two, size or addr unaligned', () => {
    expect(rejected('1G:64M')).toBe("dmem: 'align' should be 0x8000000 at least to be aligned to memory section.");
    expect(rejected('3G:384M')).toBe("dmem: 'align' should be power of 2.");
    expect(rejected('0x40200000:1G')).toBe("dmem: 'size' is unaligned to 'align' in dmem=");
    expect(rejected('100M')).toBe("dmem: 'size' is unaligned to 'align' in dmem=");
    expect(rejected('1G@5G:2G')).toBe("dmem: 'addr' is unaligned to 'align' in dmem=");
  });
  it('unknown indicator, repeated attribute', () => {
    expect(rejected('1G#5G')).toBe('dmem: unknown indicator: # in dmem=');
    expect(rejected('1G@5G@6G')).toBe('');
    expect(rejected('1G:1G:1G')).toBe('');
  });
  it('overflow past 52 bits', () => expect(rejected('1G@0xffffffc0000000')).toBe("dmem: 'addr + size' overflow in dmem="));
});

describe('early_param registration', () => {
  it('several dmem= are kept in order; malformed ones are reported and dropped', () => {
    const log = newLog();
    const params = new KernelParams();
    const dmem = createDmem(params, log);
    params.parse('dmem=1G@5G dmem=0 dmem=!2G quiet', log);
    expect(dmem.params.map((p) => p.raw)).toEqual(['dmem=1G@5G', 'dmem=!2G']);
    expect(lines(log)).toContain("Malformed early option 'dmem'");
  });
});
