/**
 * vmm's guest RAM layout (src/user/vmm/pc_ram.ts, QEMU's pc machine split
 * around the PCI hole) and the guest program's page → GPA mapping across the
 * hole (uapi/kvm.ts guest_page_gpa), on the model:
 *
 *   RAM block  0 ──────── 3G │ 3G ─────────────── 6G
 *   GPA        0 ──────── 3G   4G ─────────────── 7G
 *                  slot 0    hole   slot 1
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../src/lib/size.ts';
import type { Task } from '../../src/kernel/process.ts';
import { VfioContainer, vfio_container_of } from '../../src/kernel/vfio/index.ts';
import { pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import { GUEST_PROGRAM_MAGIC, GUEST_PROGRAM_SIZE, decode_guest_program, encode_guest_program, guest_page_gpa } from '../../src/uapi/kvm.ts';
import { pcRamRegions, pcRamSplit, ramHole, ramOffsetToGpa } from '../../src/user/vmm/pc_ram.ts';
import { GUEST_IMAGE_OFFSET, GUEST_MAX_WIDE, GUEST_PD_FIRST, GUEST_PDPT_FIRST, GUEST_WIDE_2M_BASE, GUEST_WIDE_BASE, guestImage, type GuestImage } from '../../src/user/vmm/guest_x86.ts';
import { DIV511_MAGIC, guestCode } from '../../src/user/vmm/guest_x86_code.ts';
import { runShell } from '../../src/user/sh/index.ts';
import { boot, readFile } from '../kernel/helpers.ts';
import { info, session as vmmSession, vmTask, type Session } from './vmm_session.ts';

const P = 4096;

describe('pcRamSplit: pc_init1 with gigabyte_align', () => {
  it('below max_ram_below_4g (3.5 GiB) RAM stays in one piece; from there 3 GiB go below 4 GiB', () => {
    expect(pcRamSplit(64 * MiB)).toEqual({ below4g: 64 * MiB, above4g: 0 });
    expect(pcRamSplit(3 * GiB)).toEqual({ below4g: 3 * GiB, above4g: 0 });
    expect(pcRamSplit(0xe0000000 - P)).toEqual({ below4g: 0xe0000000 - P, above4g: 0 });
    expect(pcRamSplit(0xe0000000)).toEqual({ below4g: 3 * GiB, above4g: 512 * MiB });
    expect(pcRamSplit(4 * GiB)).toEqual({ below4g: 3 * GiB, above4g: GiB }); // QEMU's "-M pc -m 4G -> 3072M low, 1024M high"
    expect(pcRamSplit(128 * GiB)).toEqual({ below4g: 3 * GiB, above4g: 125 * GiB });
  });

  it('regions alias the RAM block; offsets map to GPAs and the hole has none', () => {
    const r = pcRamRegions(6 * GiB);
    expect(r).toEqual([
      { gpa: 0, size: 3 * GiB, offset: 0 },
      { gpa: 4 * GiB, size: 3 * GiB, offset: 3 * GiB },
    ]);
    expect(ramOffsetToGpa(r, 3 * GiB - P)).toBe(3 * GiB - P);
    expect(ramOffsetToGpa(r, 3 * GiB)).toBe(4 * GiB);
    expect(ramOffsetToGpa(r, 6 * GiB)).toBe(-1);
    expect(ramHole(r)).toEqual({ start: 3 * GiB, end: 4 * GiB });
    expect(ramHole(pcRamRegions(64 * MiB))).toEqual({ start: 0, end: 0 });
  });
});

describe('guest_page_gpa: page index → GPA around the hole', () => {
  const base = { pattern: 0, flags: 0, start_gpa: 0, bytes: 6 * GiB, seed: 1, hot_percent: 10, iterations: 1 };
  it('identity without a hole; below the hole GPA = i × 4K, from it on shifted by the hole', () => {
    expect(guest_page_gpa(base, 12345)).toBe(12345 * P);
    const h = { ...base, hole_start: 3 * GiB, hole_end: 4 * GiB };
    expect(guest_page_gpa(h, 0)).toBe(0);
    expect(guest_page_gpa(h, 3 * GiB / P - 1)).toBe(3 * GiB - P);
    expect(guest_page_gpa(h, 3 * GiB / P)).toBe(4 * GiB);
    expect(guest_page_gpa(h, 6 * GiB / P - 1)).toBe(7 * GiB - P);
  });

  it('the hole fields round-trip in bytes 56..63; a 56-byte descriptor followed by zeros has no hole', () => {
    expect(GUEST_PROGRAM_SIZE).toBe(64);
    const b = encode_guest_program({ ...base, hole_start: 3 * GiB, hole_end: 4 * GiB });
    expect(new DataView(b.buffer).getUint32(56, true)).toBe(0xc0000);
    expect(new DataView(b.buffer).getUint32(60, true)).toBe(0x100000);
    expect(decode_guest_program(b)).toMatchObject({ hole_start: 3 * GiB, hole_end: 4 * GiB });
    const old = encode_guest_program(base);
    expect([...old.subarray(56)]).toEqual(new Array(8).fill(0));
    expect(decode_guest_program(old)).toMatchObject({ hole_start: 0, hole_end: 0 });
    expect(String.fromCharCode(...old.subarray(0, 8))).toBe(GUEST_PROGRAM_MAGIC);
  });
});

describe('guestImage: leaves only for guest RAM', () => {
  const entry = (img: Uint8Array, idx: number): bigint => new DataView(img.buffer).getBigUint64(8 * idx - GUEST_IMAGE_OFFSET, true);
  it('1G leaves: the hole GiB has no PDPT entry, RAM above 4 GiB does', () => {
    const img = guestImage(pcRamRegions(6 * GiB), true)!.bytes;
    for (const k of [0, 1, 2]) expect(entry(img, GUEST_PDPT_FIRST + k)).toBe(BigInt(k * GiB + 0x87));
    expect(entry(img, GUEST_PDPT_FIRST + 3)).toBe(0n);
    for (const k of [4, 5, 6]) expect(entry(img, GUEST_PDPT_FIRST + k)).toBe(BigInt(k * GiB + 0x87));
    expect(entry(img, GUEST_PDPT_FIRST + 7)).toBe(0n);
  });

  it('2M leaves: a small split skips the hole; past 364 MiB, the wide layout', () => {
    const img = guestImage([{ gpa: 0, size: 32 * MiB }, { gpa: 64 * MiB, size: 32 * MiB }], false)!.bytes;
    expect(entry(img, GUEST_PD_FIRST + 15)).toBe(BigInt(30 * MiB + 0x87));
    expect(entry(img, GUEST_PD_FIRST + 16)).toBe(0n);
    expect(entry(img, GUEST_PD_FIRST + 31)).toBe(0n);
    expect(entry(img, GUEST_PD_FIRST + 32)).toBe(BigInt(64 * MiB + 0x87));
    expect(guestImage(pcRamRegions(6 * GiB), false)!.tables).toHaveLength(8); // GPAs to 7 GiB: ⌈3584 leaves / 511⌉
  });
});

describe('guestImage: the wide layouts (tables in RAM pages 1.., entry 0 left to the program)', () => {
  /** An entry of a table page as the CPU reads it: page 0 from the image, T_j from its bytes, other pages empty. */
  function tableEntry(img: GuestImage, page: number, i: number): number {
    if (page === 0) return i * 8 < GUEST_IMAGE_OFFSET ? 0 : Number(new DataView(img.bytes.buffer).getBigUint64(8 * i - GUEST_IMAGE_OFFSET, true));
    const t = img.tables.find((x) => x.gpa === page);
    return !t || i === 0 ? 0 : Number(new DataView(t.bytes.buffer).getBigUint64(8 * i - 8, true));
  }
  /** Walk the image's tables as the CPU would, CR3 = 0: linear → GPA, or -1. */
  function walk(img: GuestImage, lin: number): number {
    let table = 0;
    for (const [shift, leafOk] of [[39, false], [30, true], [21, true]] as const) {
      const e = tableEntry(img, table, Math.floor(lin / 2 ** shift) % 512);
      if (!(e & 1)) return -1;
      if (leafOk && e & 0x80) return e - (e % 2 ** shift) + (lin % 2 ** shift);
      table = e - (e % P);
    }
    return -1;
  }
  const lin1g = (g: number): number => GUEST_WIDE_BASE + g + Math.floor(g / (511 * GiB)) * GiB;
  const lin2m = (g: number): number => GUEST_WIDE_2M_BASE + g + Math.floor(g / (511 * 2 * MiB)) * 2 * MiB;

  it('a 1 TiB guest, 1G leaves: three PDPT pages at GPA 4K, 8K, 12K; every RAM GiB reachable at the code\'s linear address, the hole not', () => {
    const img = guestImage(pcRamRegions(1024 * GiB), true)!;
    expect(img.base).toBe(GUEST_WIDE_BASE);
    expect(img.tables.map((t) => t.gpa)).toEqual([P, 2 * P, 3 * P]);
    for (const g of [0, 5 * P, 3 * GiB - P, 4 * GiB, 510 * GiB + 7, 511 * GiB, 1021 * GiB + 3 * P, 1022 * GiB, 1025 * GiB - P]) expect(walk(img, lin1g(g)), `gpa 0x${g.toString(16)}`).toBe(g);
    expect(walk(img, lin1g(3 * GiB))).toBe(-1);
    expect(walk(img, lin1g(1025 * GiB))).toBe(-1);
    // The code's ⌊k / 511⌋ as k × DIV511_MAGIC >> 32 is exact for every GiB index it can see.
    for (let k = 0; k < GUEST_MAX_WIDE / GiB; k++) expect(Number((BigInt(k) * BigInt(DIV511_MAGIC)) >> 32n)).toBe(Math.floor(k / 511));
  });

  it('a 6 GiB guest, 2M leaves (a host without 1G guest pages): eight PD pages; every RAM 2M reachable, the hole not', () => {
    const img = guestImage(pcRamRegions(6 * GiB), false)!;
    expect(img.leaf).toBe('2M');
    expect(img.base).toBe(GUEST_WIDE_2M_BASE);
    expect(img.tables.map((t) => t.gpa)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((j) => j * P));
    for (const g of [0, 5 * P, 1022 * MiB - 1, 1022 * MiB, 2044 * MiB + 3 * P, 3 * GiB - P, 4 * GiB, 7 * GiB - P]) expect(walk(img, lin2m(g)), `gpa 0x${g.toString(16)}`).toBe(g);
    expect(walk(img, lin2m(3 * GiB))).toBe(-1);
    expect(walk(img, lin2m(4 * GiB - 2 * MiB))).toBe(-1);
    expect(walk(img, lin2m(7 * GiB))).toBe(-1);
    // ⌊k / 511⌋ exact for every 2M index the wide 2M layout reaches.
    for (let k = 0; k < 183 * 511; k++) if (Number((BigInt(k) * BigInt(DIV511_MAGIC)) >> 32n) !== Math.floor(k / 511)) throw new Error(`k=${k}`);
  });

  it('the code: the hole skip, then rcx = gpa + ⌊gpa / 1G × magic >> 32⌋ GiB (2M: shifts of 21), accesses at [rbx + rcx] (bytes checked with objdump)', () => {
    const hex = (b: Uint8Array): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const wide = hex(guestCode(GUEST_WIDE_BASE, 30).bytes);
    // mov ecx,[rbx+0x38]; shl rcx,12; cmp rax,rcx; jb +13; mov edx,[rbx+0x3c]; shl rdx,12; sub rdx,rcx; add rax,rdx
    const hole = '8b 4b 38 48 c1 e1 0c 48 39 c8 0f 82 0d 00 00 00 8b 53 3c 48 c1 e2 0c 48 29 ca 48 01 d0';
    // mov rcx,rax; shr rcx,30; movabs rdx,8405025; imul rcx,rdx; shr rcx,32; shl rcx,30; add rcx,rax
    const lin = '48 89 c1 48 c1 e9 1e 48 ba 21 40 80 00 00 00 00 00 48 0f af ca 48 c1 e9 20 48 c1 e1 1e 48 01 c1';
    expect(wide).toContain(`${hole} ${lin} f6 43 0c 01`);
    expect(wide).toContain('48 89 04 0b'); // mov [rbx+rcx], rax
    expect(wide).toContain('4c 33 34 0b'); // xor r14, [rbx+rcx]
    // mov rcx,rax; shr rcx,21; movabs rdx,8405025; imul rcx,rdx; shr rcx,32; shl rcx,21; add rcx,rax
    expect(hex(guestCode(GUEST_WIDE_2M_BASE, 21).bytes)).toContain('48 89 c1 48 c1 e9 15 48 ba 21 40 80 00 00 00 00 00 48 0f af ca 48 c1 e9 20 48 c1 e1 15 48 01 c1 f6 43 0c 01');
    const narrow = hex(guestCode(GUEST_WIDE_BASE).bytes);
    expect(narrow).toContain(`${hole} f6 43 0c 01`);
    expect(narrow).toContain('48 89 04 03'); // mov [rbx+rax], rax
  });

  it('vmm stores the tables from byte 8 of pages 1..3, so the program\'s words (and the checksum) are the model\'s', () => {
    const { host, task, out, err } = boot({ mem: 2048 * GiB, nodes: 1 });
    const sh = (script: string): number => runShell(task, { script });
    expect(sh('vmm start huge --memory 1T')).toBe(0);
    expect(sh('vmm run huge --pattern seq --write --bytes 64K')).toBe(0);
    expect(err).toEqual([]);
    const t = host.tasks.get(Number(readFile(task, '/run/vmm/huge/pid').trim()))!;
    out.length = 0;
    sh('vmm info huge');
    const hva = Number(/slot0\.hva=(0x[0-9a-f]+)/.exec(out.join(''))![1]);
    expect(out.join('')).toContain('slot1.size=0xff40000000\n');
    const word = (off: number): bigint => new DataView(t.load(hva + off, 8).buffer).getBigUint64(0, true);
    expect([word(P), word(2 * P), word(3 * P)]).toEqual([BigInt(P), BigInt(2 * P), BigInt(3 * P)]); // the program's
    expect(word(P + 8)).toBe(0x87n); // T_0 entry 1: GiB 0
    expect(word(3 * P + 8 * 3)).toBe(BigInt(1024 * GiB) | 0x87n); // T_2 entry 3: GiB 1024 = 2 × 511 + 3 − 1, the last
    expect(word(3 * P + 8 * 4)).toBe(0n);
  });
});

function session(): Session {
  return vmmSession({ mem: 16 * GiB });
}

/** The VM's VFIO container (the one fd that is /dev/vfio/vfio). */
function container(t: Task): VfioContainer {
  for (let fd = 0; fd < 64; fd++) {
    try {
      return vfio_container_of(t.fget(fd));
    } catch {
      // not this fd
    }
  }
  throw new Error('no VFIO container');
}

describe('a 6 GiB guest with --vfio (model)', () => {
  it('two slots, two DMA mappings at IOVA = GPA, all of RAM pinned; the program covers RAM across the hole', () => {
    const s = session();
    const r = s.sh('vmm start big --memory 6G --vfio');
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    const t = vmTask(s, 'big');
    expect(readFile(s.task, `/proc/${t.pid}/status`)).toMatch(/VmLck:\s+6291456 kB/);
    const i = info(s, 'big');
    const hva = Number(i.get('slot0.hva'));
    expect([i.get('slot0.gpa'), i.get('slot0.size')]).toEqual(['0x0', '0xc0000000']);
    expect([i.get('slot1.gpa'), i.get('slot1.size'), i.get('slot1.flags')]).toEqual(['0x100000000', '0xc0000000', '0x0']);
    expect(Number(i.get('slot1.hva'))).toBe(hva + 3 * GiB);
    const iommu = container(t).iommu!;
    expect(iommu.dma_list.map((d) => [d.iova, d.size, d.vaddr])).toEqual([
      [0, 3 * GiB, hva],
      [4 * GiB, 3 * GiB, hva + 3 * GiB],
    ]);
    // The IOMMU translates IOVA 4 GiB to the page behind hva + 3 GiB.
    const va = hva + 3 * GiB + 5 * P;
    const e = t.mm.pgtables.walk(va);
    const leaf = [0, P, 2 * MiB, GiB][t.mm.pgtables.lastLevel]!;
    expect(iommu.domain.iommu_iova_to_phys(4 * GiB + 5 * P)).toBe(pte_pfn(e) * P + (va % leaf));

    // A write pass stores each page's GPA; RAM offset 3 GiB is GPA 4 GiB.
    const w = s.sh('vmm run big --pattern seq --write');
    expect(w.out).toMatch(/status=0 touched=6442450944 accesses=1572864/);
    expect(w.out).not.toMatch(/mmio=/);
    const word = (off: number): bigint => new DataView(t.load(hva + off, 8).buffer).getBigUint64(0, true);
    expect(word(3 * GiB - P)).toBe(BigInt(3 * GiB - P));
    expect(word(3 * GiB)).toBe(BigInt(4 * GiB));
    expect(word(6 * GiB - P)).toBe(BigInt(7 * GiB - P));
    // The read pass: the magic at page 0 XOR every other page's GPA.
    let x = 0n;
    for (let p = 1; p < (6 * GiB) / P; p++) x ^= BigInt(p < (3 * GiB) / P ? p * P : p * P + GiB);
    for (let k = 0; k < 8; k++) x ^= BigInt(GUEST_PROGRAM_MAGIC.charCodeAt(k)) << BigInt(8 * k);
    expect(s.sh('vmm run big --pattern seq').out).toContain(`checksum=0x${x.toString(16).padStart(16, '0')}`);
    // Random and hot-cold accesses land in RAM only (an access in the hole would be an MMIO exit).
    for (const pat of ['random', 'hot-cold']) {
      const o = s.sh(`vmm run big --pattern ${pat} --seed 3`);
      expect(o.status).toBe(0);
      expect(o.out).not.toMatch(/mmio=/);
    }
    expect(s.sh('vmm stop big').status).toBe(0);
  });

  it('a memory error in RAM above 4 GiB is injected at its GPA, not at its offset in the RAM block', () => {
    const s = session();
    s.sh('echo never > /sys/kernel/mm/transparent_hugepage/enabled; vmm start vm0 --memory 4G');
    s.sh('vmm run vm0 --pattern seq --write --bytes 3076M');
    const t = vmTask(s, 'vm0');
    const hva = Number(info(s, 'vm0').get('slot1.hva'));
    expect(hva).toBe(Number(info(s, 'vm0').get('slot0.hva')) + 3 * GiB);
    const pfn = pte_pfn(t.mm.pgtables.walk(hva + 0x5000));
    expect(s.sh(`echo 0x${pfn.toString(16)} > /sys/kernel/debug/hwpoison/corrupt-pfn`).status).toBe(0);
    const r = s.sh('vmm run vm0 --pattern seq --bytes 3076M');
    expect(r.out).toMatch(/status=2 /);
    expect(r.err).toBe(`vmm: Guest MCE Memory Error at QEMU addr 0x${(hva + 0x5000).toString(16)} and GUEST addr 0x100005000 of type BUS_MCEERR_AR injected\n`);
  });

  it('a 3 GiB guest keeps one slot (no slot1.* keys)', () => {
    const s = session();
    expect(s.sh('vmm start small --memory 3G --vfio').status).toBe(0);
    const i = info(s, 'small');
    expect(i.get('slot0.size')).toBe('0xc0000000');
    expect([...i.keys()].some((k) => k.startsWith('slot1.'))).toBe(false);
    expect(container(vmTask(s, 'small')).iommu!.dma_list).toHaveLength(1);
  });
});
