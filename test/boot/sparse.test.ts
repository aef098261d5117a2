import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { buildE820, e820__memblock_setup } from '../../src/kernel/boot/e820.ts';
import { machineFromFlags } from '../../src/kernel/boot/machine.ts';
import { KernelLog } from '../../src/kernel/printk.ts';
import { Memblock } from '../../src/kernel/mm/memblock.ts';
import {
  MEM_SECTION_USAGE_SIZE,
  PAGES_PER_SECTION,
  SECTION_MAP_SIZE,
  SparseMem,
  pfn_to_section_nr,
  section_nr_to_pfn,
} from '../../src/kernel/mm/sparse.ts';
import { GiB, MiB, TiB } from '../../src/lib/size.ts';

const SECTION = 128 * MiB;
const pfn = (addr: number): number => addr / 4096;
const newLog = (): KernelLog => new KernelLog(() => 0);

/** Boot a machine up to sparse_init: e820 → memblock (with nodes) → optional tweak → sparse_init. */
function boot(mem: number, nodes = 1, tweak?: (mb: Memblock) => void) {
  const log = newLog();
  const { table, nodeRanges } = buildE820(machineFromFlags({ mem, nodes }));
  const mb = new Memblock();
  e820__memblock_setup(table, mb, log);
  for (const r of nodeRanges) mb.set_node(r.start, r.end - r.start, r.nid);
  tweak?.(mb);
  const sp = new SparseMem(table.maxPfn(), log);
  sp.sparse_init(mb, log);
  return { sp, mb, log, nodeRanges };
}

describe('sparse_init accounting', () => {
  it('constants: 2 MiB of memmap per 128 MiB section', () => {
    expect(SECTION_MAP_SIZE).toBe(2 * MiB);
    expect(PAGES_PER_SECTION * 4096).toBe(SECTION);
    expect(pfn_to_section_nr(pfn(SECTION) - 1)).toBe(0);
    expect(section_nr_to_pfn(3)).toBe(3 * PAGES_PER_SECTION);
    const sp = new SparseMem(pfn(GiB));
    expect(sp.pfn_to_section_nr(pfn(GiB) - 1)).toBe(7);
    expect(sp.section_nr_to_pfn(7)).toBe(7 * PAGES_PER_SECTION);
    expect(sp.nr_sections).toBe(8);
  });

  /*
   *  0       2G        4G                                 66G
   *  |16 sec |  (hole) |           496 sections            |
   *  512 present sections x 2 MiB = 1 GiB of memmap
   */
  it('64 GiB machine: 512 sections, 1 GiB of memmap, reserved from memblock', () => {
    const { sp, mb } = boot(64 * GiB);
    expect(sp.nr_present_sections()).toBe(512);
    expect(sp.memmapBytes()).toBe(GiB);
    expect(sp.memmapBytesNode(0)).toBe(GiB);
    expect(mb.reserved_size()).toBe(GiB + 512 * MEM_SECTION_USAGE_SIZE);
    // The 2..4 GiB hole has no sections.
    expect(sp.present_section_nr(pfn_to_section_nr(pfn(3 * GiB)))).toBe(false);
  });

  /*
   *  0     2G     4G          50G           66G
   *  |     |      |           |XXXX 16G XXXX|   removed from memblock before sparse_init
   *  → 384 sections, 768 MiB of memmap; no struct pages in the removed range
   */
  it('memory removed from memblock before sparse_init gets no sections: 64 GiB - 16 GiB → 768 MiB', () => {
    const { sp } = boot(64 * GiB, 1, (mb) => mb.remove(50 * GiB, 16 * GiB));
    expect(sp.nr_present_sections()).toBe(384);
    expect(sp.memmapBytes()).toBe(768 * MiB);
    expect(sp.has_struct_page(pfn(50 * GiB))).toBe(false);
    expect(sp.has_struct_page(pfn(50 * GiB) - 1)).toBe(true);
    expect(sp.first_pfn_with_struct_page(pfn(50 * GiB), pfn(66 * GiB))).toBe(-1);
  });

  /*
   *  |<------- section 0: 128 MiB ------->|
   *  |0 640K| hole |1M .... 100M|  (none)  |
   *  one section, full 2 MiB memmap: the holes get (reserved) struct pages too
   */
  it('a partly populated section still gets a whole memmap; holes are pfn_valid', () => {
    const log = newLog();
    const mb = new Memblock();
    mb.add_node(0, 0x9f000, 0);
    mb.add_node(MiB, 99 * MiB, 0);
    const sp = new SparseMem(pfn(100 * MiB), log);
    sp.sparse_init(mb, log);
    expect(sp.nr_present_sections()).toBe(1);
    expect(sp.memmapBytes()).toBe(2 * MiB);
    expect(sp.pfn_valid(pfn(0xa0000))).toBe(true); // VGA hole
    expect(sp.pfn_valid(pfn(120 * MiB))).toBe(true); // beyond memory, inside the section
    expect(sp.pfn_valid(pfn(SECTION))).toBe(false);
    expect(sp.pfn_valid(-1)).toBe(false);
  });

  /*
   *  node 0: [0 ......... 34G)   node 1: [34G ........ 66G)
   *  each node's memmap is one buffer at the top of that node, 2 MiB aligned
   */
  it('2 nodes: each node’s memmap is a node-local buffer (top-down, PMD aligned, above 16 MiB)', () => {
    const { sp, nodeRanges } = boot(64 * GiB, 2);
    expect(sp.memmapBytesNode(0)).toBe(512 * MiB);
    expect(sp.memmapBytesNode(1)).toBe(512 * MiB);
    for (let nr = 0; nr <= sp.highest_present_section_nr; nr++) {
      if (!sp.present_section_nr(nr)) continue;
      const nid = sp.section_nid(nr);
      const phys = sp.memmap_phys(nr);
      const r = nodeRanges[nid]!;
      expect(phys).toBeGreaterThanOrEqual(Math.max(r.start, 16 * MiB));
      expect(phys + SECTION_MAP_SIZE).toBeLessThanOrEqual(r.end);
      expect(phys % (2 * MiB)).toBe(0);
    }
    // node 1's usemap (256 x 56 bytes) was allocated first at the very top, so the
    // 2 MiB-aligned 512 MiB buffer sits just below the last 2 MiB of the node
    const firstNode1 = pfn_to_section_nr(pfn(34 * GiB));
    expect(sp.memmap_phys(firstNode1)).toBe(66 * GiB - 2 * MiB - 512 * MiB);
  });

  it('a node whose buffer cannot be placed falls back to other nodes section by section', () => {
    const log = newLog();
    const mb = new Memblock();
    mb.add_node(0, 4 * GiB, 0);
    mb.add_node(4 * GiB, SECTION, 1);
    mb.reserve(4 * GiB, SECTION); // node 1 has memory but all of it is taken
    const sp = new SparseMem(pfn(4 * GiB + SECTION), log);
    sp.sparse_init(mb, log);
    const nr = pfn_to_section_nr(pfn(4 * GiB));
    expect(sp.valid_section_nr(nr)).toBe(true);
    expect(sp.memmap_phys(nr)).toBeLessThan(4 * GiB); // backed by node 0
    expect(log.all().length).toBe(0);
  });

  it('no memory left anywhere: "memory map backing failed" and the sections stop being present', () => {
    const log = newLog();
    const mb = new Memblock();
    mb.add_node(0, 2 * SECTION, 0);
    mb.reserve(0, 2 * SECTION - MiB); // 1 MiB free: room for the usemap, not for a memmap
    const sp = new SparseMem(pfn(2 * SECTION), log);
    sp.sparse_init(mb, log);
    expect(log.all().map((r) => r.text)).toEqual([
      'sparse_init_nid: node[0] memory map backing failed. Some memory will not be available.',
    ]);
    expect(sp.nr_present_sections()).toBe(0);
    expect(sp.memmapBytes()).toBe(0);
    mb.reserve(0, 2 * SECTION);
    const sp2 = new SparseMem(pfn(2 * SECTION), log);
    sp2.sparse_init(mb, log);
    expect(log.all().at(-1)!.text).toBe('sparse_init_nid: node[0] usemap allocation failed');
  });

  it('16 TiB, 8 nodes: 131072 sections, 256 GiB of memmap, 32 GiB per node', () => {
    const { sp } = boot(16 * TiB, 8);
    expect(sp.nr_present_sections()).toBe(131072);
    expect(sp.memmapBytes()).toBe(256 * GiB);
    for (let nid = 0; nid < 8; nid++) expect(sp.memmapBytesNode(nid)).toBe(32 * GiB);
  });
});

describe('vmemmap_adjust (HVO, compound pages)', () => {
  it('a 2 MiB HugeTLB page frees 7 of its 8 vmemmap pages and can give them back', () => {
    const { sp } = boot(GiB);
    const p = pfn(512 * MiB);
    expect(sp.vmemmap_adjust(p, 512, -7 * 4096, 'HVO')).toBe(0);
    expect(sp.memmapBytes()).toBe(16 * MiB - 7 * 4096);
    expect(sp.vmemmapSaved('HVO')).toBe(28 * 1024);
    expect(sp.section_memmap_bytes(pfn_to_section_nr(p))).toBe(2 * MiB - 28 * 1024);
    expect(sp.vmemmap_adjust(p, 512, 7 * 4096, 'HVO')).toBe(0);
    expect(sp.vmemmapSaved('HVO')).toBe(0);
    expect(sp.memmapBytes()).toBe(16 * MiB);
  });

  it('a 1 GiB page spans 8 sections: the saving is spread evenly', () => {
    const { sp } = boot(4 * GiB);
    const p = pfn(4 * GiB);
    expect(sp.vmemmap_adjust(p, pfn(GiB), -4095 * 4096, 'HVO')).toBe(0);
    for (let i = 0; i < 8; i++) expect(sp.section_memmap_bytes(pfn_to_section_nr(p) + i)).toBe(2 * MiB - 2096640);
    expect(sp.vmemmapAdjustments().get('HVO')).toBe(-4095 * 4096);
  });

  it('refuses to go below 0, above a full section, or touch a section without memmap', () => {
    const { sp } = boot(GiB);
    expect(sp.vmemmap_adjust(0, 512, 4096, 'x')).toBe(-22);
    expect(sp.vmemmap_adjust(0, PAGES_PER_SECTION, -3 * MiB, 'x')).toBe(-22);
    expect(sp.vmemmap_adjust(pfn(3 * GiB), 512, -4096, 'x')).toBe(-22);
    expect(sp.vmemmap_adjust(0, 0, -4096, 'x')).toBe(-22);
    expect(sp.memmapBytes()).toBe(16 * MiB);
    expect(sp.vmemmapAdjustments().size).toBe(0);
  });
});

describe('memory hotplug sections', () => {
  /*
   *  boot: |0 ... 1G|          hot-add: |8G .. 8G+128M|   (above the boot max_pfn)
   */
  it('adds a section above the boot max_pfn, then removes it', () => {
    const { sp } = boot(GiB);
    const p = pfn(8 * GiB);
    expect(sp.sparse_add_section(1, p, PAGES_PER_SECTION)).toBe(0);
    expect(sp.memmapBytes()).toBe(16 * MiB + 2 * MiB);
    expect(sp.memmapBytesNode(1)).toBe(2 * MiB);
    expect(sp.pfn_valid(p)).toBe(true);
    expect(sp.online_section_nr(pfn_to_section_nr(p))).toBe(false);
    sp.online_mem_sections(p, p + PAGES_PER_SECTION);
    expect(sp.online_section_nr(pfn_to_section_nr(p))).toBe(true);
    expect(sp.sparse_add_section(1, p, 512)).toBe(-17);
    expect(sp.sparse_remove_section(p, PAGES_PER_SECTION)).toBe(0);
    expect(sp.present_section_nr(pfn_to_section_nr(p))).toBe(false);
    expect(sp.memmapBytes()).toBe(16 * MiB);
    expect(sp.memmapBytesNode(1)).toBe(0);
  });

  it('subsections: device memory with compound pages holds less memmap; partial removal shrinks it', () => {
    const { sp } = boot(GiB);
    const p = pfn(16 * GiB);
    // 64 MiB of device memory (32 subsections) with only 1/8 of the memmap
    expect(sp.sparse_add_section(0, p, 16384, (16384 * 64) / 8)).toBe(0);
    expect(sp.section_memmap_bytes(pfn_to_section_nr(p))).toBe(128 * 1024);
    expect(sp.pfn_valid(p + 16384)).toBe(false); // second half of the section not added
    expect(sp.sparse_remove_section(p, 8192)).toBe(0);
    expect(sp.section_memmap_bytes(pfn_to_section_nr(p))).toBe(64 * 1024);
    expect(sp.pfn_valid(p)).toBe(false);
    expect(sp.pfn_valid(p + 8192)).toBe(true);
  });

  it('hot-adding into the empty part of an early section reuses its memmap', () => {
    const log = newLog();
    const mb = new Memblock();
    mb.add_node(0, 64 * MiB, 0);
    const sp = new SparseMem(pfn(64 * MiB), log);
    sp.sparse_init(mb, log);
    expect(sp.sparse_add_section(0, pfn(32 * MiB), 512)).toBe(-17); // already memory
    expect(sp.sparse_add_section(0, pfn(64 * MiB), pfn(64 * MiB))).toBe(0);
    expect(sp.memmapBytes()).toBe(2 * MiB);
    // removing only the hot part keeps the early memmap; removing all frees it
    expect(sp.sparse_remove_section(pfn(64 * MiB), pfn(64 * MiB))).toBe(0);
    expect(sp.memmapBytes()).toBe(2 * MiB);
    expect(sp.sparse_remove_section(0, pfn(64 * MiB))).toBe(0);
    expect(sp.memmapBytes()).toBe(0);
  });

  it('errors: misaligned → -EINVAL, removing what is not there → -EINVAL with Linux’s warning', () => {
    const log = newLog();
    const sp = new SparseMem(pfn(GiB), log);
    expect(sp.sparse_add_section(0, 100, 512)).toBe(-22);
    expect(sp.sparse_add_section(0, 0, 100)).toBe(-22);
    expect(sp.sparse_remove_section(pfn(GiB), 512)).toBe(-22);
    expect(log.all().map((r) => r.text)).toEqual(['section already deactivated (0x40000 + 512)']);
  });

  it('property: random add/remove of subsection ranges keeps totals equal to per-section sums', () => {
    const op = fc.record({
      add: fc.boolean(),
      sub: fc.integer({ min: 0, max: 255 }),
      n: fc.integer({ min: 1, max: 70 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const sp = new SparseMem(4 * PAGES_PER_SECTION);
        const active = new Set<number>();
        for (const { add, sub, n } of ops) {
          const subs = Array.from({ length: n }, (_, i) => sub + i).filter((s) => s < 256);
          const rc = add ? sp.sparse_add_section(0, sub * 512, subs.length * 512) : sp.sparse_remove_section(sub * 512, subs.length * 512);
          const ok = add ? subs.every((s) => !active.has(s)) : subs.every((s) => active.has(s));
          expect(rc === 0).toBe(ok);
          if (ok) subs.forEach((s) => (add ? active.add(s) : active.delete(s)));
          let sum = 0;
          for (let nr = 0; nr < sp.nr_sections; nr++) sum += sp.section_memmap_bytes(nr);
          expect(sp.memmapBytes()).toBe(sum);
          for (let s = 0; s < 256; s++) expect(sp.pfn_valid(s * 512)).toBe(active.has(s));
        }
      }),
    );
  });
});
