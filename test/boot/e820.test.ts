import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  E820Table,
  E820_TYPE_ACPI,
  E820_TYPE_PRAM,
  E820_TYPE_RAM,
  E820_TYPE_RESERVED,
  E820_TYPE_SOFT_RESERVED,
  buildE820,
  e820__end_of_ram_pfn,
  e820__finish_early_params,
  e820__memblock_setup,
  e820__memory_setup,
  parse_memopt,
} from '../../src/kernel/boot/e820.ts';
import { machineFromFlags, parseMachineYaml } from '../../src/kernel/boot/machine.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { Memblock } from '../../src/kernel/mm/memblock.ts';
import { GiB, MiB, TiB } from '../../src/lib/size.ts';

const newLog = (): KernelLog => new KernelLog(() => 0);
const lines = (log: KernelLog): string[] => log.all().map((r) => r.text);
const LEGACY_HOLE = 0x60400; // [0x9fc00, 0x100000): EBDA + VGA/ROM window + BIOS shadow

describe('buildE820 geometry', () => {
  /*
   * 64 GiB, 1 node:
   *  0     640K  1M           2G    2.75G 3G   4G                      66G
   *  |usable|rsv |   usable    |      |ECAM|  ..|rsv|    usable          |
   *  +------+----+-------------+------+----+----+---+--------------------+
   *  node 0: [0 ................................................... 66G)
   */
  it('64 GiB, 1 node: the q35 map, printed as Linux prints it', () => {
    const log = newLog();
    const { table, nodeRanges } = buildE820(machineFromFlags({ mem: 64 * GiB }));
    e820__memory_setup(table, log);
    expect(lines(log)).toEqual([
      'BIOS-provided physical RAM map:',
      'BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable',
      'BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved',
      'BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved',
      'BIOS-e820: [mem 0x0000000000100000-0x000000007fffffff] usable',
      'BIOS-e820: [mem 0x00000000b0000000-0x00000000bfffffff] reserved',
      'BIOS-e820: [mem 0x00000000fed1c000-0x00000000fed1ffff] reserved',
      'BIOS-e820: [mem 0x00000000feffc000-0x00000000feffffff] reserved',
      'BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved',
      'BIOS-e820: [mem 0x0000000100000000-0x000000107fffffff] usable',
    ]);
    expect(nodeRanges).toEqual([{ nid: 0, start: 0, end: 66 * GiB }]);
    expect(table.totalRam()).toBe(64 * GiB - LEGACY_HOLE);
    expect(table.maxPfn()).toBe((66 * GiB) / 4096);
  });

  /*
   * 64 GiB, 2 nodes of 32 GiB:
   *  0        2G        4G                34G                  66G
   *  | node 0 |  hole   |  node 0 (30G)    |   node 1 (32G)     |
   */
  it('64 GiB, 2 nodes: node 0 takes the low 2 GiB and 30 GiB above 4 GiB', () => {
    const { nodeRanges } = buildE820(machineFromFlags({ mem: 64 * GiB, nodes: 2 }));
    expect(nodeRanges).toEqual([
      { nid: 0, start: 0, end: 34 * GiB },
      { nid: 1, start: 34 * GiB, end: 66 * GiB },
    ]);
  });

  /*
   * 3 GiB, 4 nodes of 768 MiB:
   *  0      768M    1536M   2G      4G    4G+256M   5G
   *  | n0    | n1    | n2   | hole  | n2   |  n3     |
   *  node 2's span straddles the PCI hole.
   */
  it('3 GiB, 4 nodes: a node straddles the 2..4 GiB hole', () => {
    const { table, nodeRanges } = buildE820(machineFromFlags({ mem: 3 * GiB, nodes: 4 }));
    expect(nodeRanges).toEqual([
      { nid: 0, start: 0, end: 768 * MiB },
      { nid: 1, start: 768 * MiB, end: 1536 * MiB },
      { nid: 2, start: 1536 * MiB, end: 4 * GiB + 256 * MiB },
      { nid: 3, start: 4 * GiB + 256 * MiB, end: 5 * GiB },
    ]);
    expect(table.totalRam()).toBe(3 * GiB - LEGACY_HOLE);
  });

  it('1 GiB: everything below 2 GiB, no high RAM', () => {
    const { table, nodeRanges } = buildE820(machineFromFlags({ mem: GiB }));
    const ram = table.entries.filter((e) => e.type === E820_TYPE_RAM);
    expect(ram).toEqual([
      { addr: 0, size: 0x9fc00, type: 1 },
      { addr: 0x100000, size: GiB - 0x100000, type: 1 },
    ]);
    expect(nodeRanges).toEqual([{ nid: 0, start: 0, end: GiB }]);
  });

  it('odd node sizes from YAML: stretches hold exactly each node’s memory', () => {
    const m = parseMachineYaml('nodes:\n  - {memory: 1G}\n  - {memory: 1540M}\n  - {memory: 4K}\n');
    // 4K node is legal for YAML (a 4K multiple)
    const { nodeRanges } = buildE820(m);
    expect(nodeRanges).toEqual([
      { nid: 0, start: 0, end: GiB },
      { nid: 1, start: GiB, end: 4 * GiB + 516 * MiB },
      { nid: 2, start: 4 * GiB + 516 * MiB, end: 4 * GiB + 516 * MiB + 4096 },
    ]);
  });

  it('16 TiB, 8 nodes: 2 TiB each, last node ends at 16 TiB + 2 GiB', () => {
    const { table, nodeRanges } = buildE820(machineFromFlags({ mem: 16 * TiB, nodes: 8 }));
    expect(nodeRanges.length).toBe(8);
    expect(nodeRanges[0]).toEqual({ nid: 0, start: 0, end: 2 * TiB + 2 * GiB });
    expect(nodeRanges[7]).toEqual({ nid: 7, start: 14 * TiB + 2 * GiB, end: 16 * TiB + 2 * GiB });
    expect(table.entries.at(-1)).toEqual({ addr: 4 * GiB, size: 16 * TiB - 2 * GiB, type: E820_TYPE_RAM });
    const log = newLog();
    expect(e820__end_of_ram_pfn(table, log)).toBe((16 * TiB + 2 * GiB) / 4096);
    expect(lines(log)).toEqual(['last_pfn = 0x100080000 max_arch_pfn = 0x400000000']);
  });

  it('property: DRAM in node spans equals each node’s memory; spans tile [0, top)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 2048 }), fc.integer({ min: 1, max: 8 }), (units, n) => {
        if (units < n) return true;
        const m = machineFromFlags({ mem: units * 128 * MiB, nodes: n });
        const { nodeRanges } = buildE820(m);
        const lowEnd = Math.min(m.memBytes, 2 * GiB);
        const dramIn = (s: number, e: number): number =>
          Math.max(0, Math.min(e, lowEnd) - s) + Math.max(0, e - Math.max(s, 4 * GiB));
        let prev = 0;
        return nodeRanges.every((r, i) => {
          const ok = r.start === prev && dramIn(r.start, r.end) === m.nodes[i]!.memBytes;
          prev = r.end;
          return ok;
        });
      }),
    );
  });
});

describe('E820Table operations', () => {
  /*
   *  before:  |---------------- RAM 0..16M ----------------|
   *  update:            [4M ...... 8M) RAM -> reserved
   *  after:   |  RAM   |  reserved   |        RAM          |
   */
  it('rangeUpdate splits an entry in the middle (pieces appended, then sanitized)', () => {
    const log = newLog();
    const t = new E820Table();
    t.add(0, 16 * MiB, E820_TYPE_RAM);
    expect(t.rangeUpdate(4 * MiB, 4 * MiB, E820_TYPE_RAM, E820_TYPE_RESERVED, log)).toBe(4 * MiB);
    expect(t.entries).toEqual([
      { addr: 0, size: 4 * MiB, type: 1 },
      { addr: 4 * MiB, size: 4 * MiB, type: 2 },
      { addr: 8 * MiB, size: 8 * MiB, type: 1 },
    ]);
    expect(lines(log)).toEqual(['e820: update [mem 0x00400000-0x007fffff] usable ==> reserved']);
  });

  it('rangeRemove leaves a zero slot and an appended tail until sanitize()', () => {
    const t = new E820Table();
    t.add(0, 16 * MiB, E820_TYPE_RAM);
    t.add(32 * MiB, 16 * MiB, E820_TYPE_RAM);
    // [0,16M) loses its middle; [32M,48M) is removed completely.
    expect(t.rangeRemove(4 * MiB, 44 * MiB, E820_TYPE_RAM, true)).toBe(12 * MiB + 16 * MiB);
    expect(t.entries).toEqual([
      { addr: 0, size: 4 * MiB, type: 1 },
      { addr: 0, size: 0, type: 0 },
    ]);
    t.add(64 * MiB, MiB, E820_TYPE_ACPI);
    expect(t.sanitize()).toBe(0);
    expect(t.entries).toEqual([
      { addr: 0, size: 4 * MiB, type: 1 },
      { addr: 64 * MiB, size: MiB, type: 3 },
    ]);
  });

  it('rangeRemove with checkType only touches that type', () => {
    const t = new E820Table();
    t.add(0, MiB, E820_TYPE_RAM);
    t.add(MiB, MiB, E820_TYPE_RESERVED);
    expect(t.rangeRemove(0, 2 * MiB, E820_TYPE_RESERVED, true)).toBe(MiB);
    t.sanitize(); // one entry left: update_table says "did nothing"
    expect(t.entries.filter((e) => e.size > 0)).toEqual([{ addr: 0, size: MiB, type: 1 }]);
  });

  /*
   *  input (overlapping):     RAM    |0 ........ 8M|
   *                           rsv         |4M..6M|
   *                           RAM                     |8M..12M|
   *  sanitized: RAM 0..4M, reserved 4..6M, RAM 6M..12M (merged across 8M)
   */
  it('sanitize: higher type wins overlaps, equal neighbours merge', () => {
    const t = new E820Table();
    t.add(0, 8 * MiB, E820_TYPE_RAM);
    t.add(4 * MiB, 2 * MiB, E820_TYPE_RESERVED);
    t.add(8 * MiB, 4 * MiB, E820_TYPE_RAM);
    t.sanitize();
    expect(t.entries).toEqual([
      { addr: 0, size: 4 * MiB, type: 1 },
      { addr: 4 * MiB, size: 2 * MiB, type: 2 },
      { addr: 6 * MiB, size: 6 * MiB, type: 1 },
    ]);
  });

  it('sanitize: PRAM and soft-reserved neighbours are not merged', () => {
    const t = new E820Table();
    t.add(0, MiB, E820_TYPE_PRAM);
    t.add(MiB, MiB, E820_TYPE_PRAM);
    t.add(2 * MiB, MiB, E820_TYPE_SOFT_RESERVED);
    t.add(3 * MiB, MiB, E820_TYPE_SOFT_RESERVED);
    t.sanitize();
    expect(t.entries.length).toBe(4);
    const log = newLog();
    t.print(log, 'x');
    expect(lines(log)[0]).toBe('x: [mem 0x0000000000000000-0x00000000000fffff] persistent (type 12)');
    expect(lines(log)[2]).toBe('x: [mem 0x0000000000200000-0x00000000002fffff] soft reserved');
  });

  it('refuses entries past E820_MAX_ENTRIES with Linux’s message', () => {
    const log = newLog();
    const t = new E820Table(log);
    for (let i = 0; i < 321; i++) t.add(i * 2 * MiB, MiB, E820_TYPE_RAM);
    expect(t.entries.length).toBe(320);
    expect(lines(log)).toEqual(['too many entries; ignoring [mem 0x28000000-0x280fffff]']);
  });

  it('property: sanitize yields sorted, disjoint, merged entries covering the same typed bytes', () => {
    const entry = fc.record({
      addr: fc.integer({ min: 0, max: 63 }),
      size: fc.integer({ min: 0, max: 16 }),
      type: fc.constantFrom(1, 2, 3, 4),
    });
    fc.assert(
      fc.property(fc.array(entry, { minLength: 2, maxLength: 12 }), (es) => {
        const t = new E820Table();
        for (const e of es) t.add(e.addr * 4096, e.size * 4096, e.type);
        // naive reference: per 4K unit, the highest type covering it
        const ref = new Array<number>(80).fill(0);
        for (const e of es) for (let u = e.addr; u < e.addr + e.size; u++) ref[u] = Math.max(ref[u]!, e.type);
        t.sanitize();
        const got = new Array<number>(80).fill(0);
        let prevEnd = -1;
        let prevType = -1;
        for (const e of t.entries) {
          if (e.size <= 0 || e.addr < prevEnd) return false;
          if (e.addr === prevEnd && e.type === prevType) return false;
          for (let u = e.addr / 4096; u < (e.addr + e.size) / 4096; u++) got[u] = e.type;
          prevEnd = e.addr + e.size;
          prevType = e.type;
        }
        return got.every((v, i) => v === ref[i]);
      }),
    );
  });
});

describe('mem= (parse_memopt) and the user-defined map', () => {
  it('mem=4G removes RAM above 4 GiB and reprints the map as "user"', () => {
    const log = newLog();
    const { table } = buildE820(machineFromFlags({ mem: 64 * GiB }));
    expect(parse_memopt('4G', table, log)).toBe(0);
    e820__finish_early_params(table, log);
    expect(lines(log)).toEqual([
      'e820: remove [mem 0x100000000-0xfffffffffffffffe] usable',
      'user-defined physical RAM map:',
      'user: [mem 0x0000000000000000-0x000000000009fbff] usable',
      'user: [mem 0x000000000009fc00-0x000000000009ffff] reserved',
      'user: [mem 0x00000000000f0000-0x00000000000fffff] reserved',
      'user: [mem 0x0000000000100000-0x000000007fffffff] usable',
      'user: [mem 0x00000000b0000000-0x00000000bfffffff] reserved',
      'user: [mem 0x00000000fed1c000-0x00000000fed1ffff] reserved',
      'user: [mem 0x00000000feffc000-0x00000000feffffff] reserved',
      'user: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved',
    ]);
    expect(table.maxMemSize).toBe(4 * GiB);
  });

  it('mem=1536M cuts the low RAM entry', () => {
    const log = newLog();
    const { table } = buildE820(machineFromFlags({ mem: 8 * GiB }));
    parse_memopt('1536M', table, log);
    e820__finish_early_params(table, log);
    expect(table.totalRam()).toBe(1536 * MiB - LEGACY_HOLE);
    expect(table.maxPfn()).toBe((1536 * MiB) / 4096);
  });

  it('mem=0, mem=junk and bare mem are -EINVAL; junk still re-prints the map', () => {
    const log = newLog();
    const { table } = buildE820(machineFromFlags({ mem: GiB }));
    expect(parse_memopt(undefined, table, log)).toBe(-22);
    expect(table.userdef).toBe(false);
    expect(parse_memopt('0', table, log)).toBe(-22);
    expect(parse_memopt('junk', table, log)).toBe(-22);
    expect(table.userdef).toBe(true);
    expect(table.totalRam()).toBe(GiB - LEGACY_HOLE);
    e820__finish_early_params(table, log);
    expect(lines(log)[0]).toBe('user-defined physical RAM map:');
  });

  it('mem=nopentium is ignored on 64-bit with a warning', () => {
    const log = newLog();
    const { table } = buildE820(machineFromFlags({ mem: GiB }));
    expect(parse_memopt('nopentium', table, log)).toBe(-22);
    expect(lines(log)).toEqual(['mem=nopentium ignored! (only supported on x86_32)']);
    e820__finish_early_params(table, log);
    expect(lines(log).length).toBe(1);
  });
});

describe('e820__memblock_setup', () => {
  it('registers usable RAM, reserves soft-reserved, trims partial pages', () => {
    const log = newLog();
    const { table } = buildE820(machineFromFlags({ mem: 4 * GiB }));
    table.add(8 * GiB, GiB, E820_TYPE_SOFT_RESERVED);
    table.sanitize();
    const mb = new Memblock();
    e820__memblock_setup(table, mb, log);
    expect(mb.memory.regions.map((r) => [r.base, r.size])).toEqual([
      [0, 0x9f000], // 0x9fc00 trimmed down to a page boundary
      [0x100000, 2 * GiB - 0x100000],
      [4 * GiB, 2 * GiB],
    ]);
    expect(mb.reserved.regions.map((r) => [r.base, r.size])).toEqual([[8 * GiB, GiB]]);
    expect(lines(log)).toEqual([]); // memblock_dump_all() only with memblock=debug
  });
});
