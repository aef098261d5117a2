/**
 * The firmware memory map (arch/x86/kernel/e820.c, arch/x86/include/asm/e820/types.h).
 *
 * E820Table mirrors `struct e820_table` and the functions that massage it:
 * e820__range_add / _remove / _update keep Linux's exact semantics, which means
 * that between a removal and the next e820__update_table() the raw `entries`
 * array may hold zero-sized entries and split-off pieces appended at the end,
 * exactly like the kernel's. sanitize() (= e820__update_table) restores a
 * sorted, non-overlapping, merged table; every boot step that prints or consumes
 * the table calls it first, as Linux does.
 *
 * buildE820() plays the firmware: a QEMU-q35-like map for a MachineDesc.
 */
import type { KernelLog } from '../printk.ts';
import { KERN_DEBUG } from '../printk.ts';
import { GiB, PAGE_SIZE, hex, memparse } from '../../lib/size.ts';
import type { MachineDesc } from './machine.ts';
import type { Memblock } from '../mm/memblock.ts';

export const E820_TYPE_RAM = 1;
export const E820_TYPE_RESERVED = 2;
export const E820_TYPE_ACPI = 3;
export const E820_TYPE_NVS = 4;
export const E820_TYPE_UNUSABLE = 5;
export const E820_TYPE_PMEM = 7;
export const E820_TYPE_PRAM = 12;
export const E820_TYPE_SOFT_RESERVED = 0xefffffff;
/** Kernel-internal: RAM holding setup_data, printed as "usable". */
export const E820_TYPE_RESERVED_KERN = 128;

/** E820_MAX_ENTRIES = 128 (zeropage) + 3 * MAX_NUMNODES (64). */
export const E820_MAX_ENTRIES = 128 + 3 * 64;
/** MAX_ARCH_PFN for 4-level paging: MAXMEM (1 << 46) >> PAGE_SHIFT. */
export const MAX_ARCH_PFN = 2 ** 46 / PAGE_SIZE;

/** Stand-in for ULLONG_MAX as a range end: JS numbers cannot hold 2^64 - 1 exactly. */
const U64_END = Infinity;

/** One `struct e820_entry`. */
export interface E820Entry {
  addr: number;
  size: number;
  type: number;
}

/** e820_print_type(). */
export function e820TypeName(type: number): string {
  switch (type) {
    case E820_TYPE_RAM:
    case E820_TYPE_RESERVED_KERN:
      return 'usable';
    case E820_TYPE_RESERVED:
      return 'reserved';
    case E820_TYPE_SOFT_RESERVED:
      return 'soft reserved';
    case E820_TYPE_ACPI:
      return 'ACPI data';
    case E820_TYPE_NVS:
      return 'ACPI NVS';
    case E820_TYPE_UNUSABLE:
      return 'unusable';
    case E820_TYPE_PMEM:
    case E820_TYPE_PRAM:
      return `persistent (type ${type})`;
    default:
      return `type ${type}`;
  }
}

/** `%#010Lx` of a range end, printing ULLONG_MAX - 1 for an open-ended removal. */
function hexEnd(endExclusive: number): string {
  return endExclusive === U64_END ? '0xfffffffffffffffe' : hex(endExclusive - 1, 8);
}

/** e820_nomerge(): PRAM and soft-reserved ranges may mark node/domain boundaries. */
function e820_nomerge(type: number): boolean {
  return type === E820_TYPE_PRAM || type === E820_TYPE_SOFT_RESERVED;
}

/** `struct e820_table` with the e820.c operations on it. */
export class E820Table {
  /** Raw entries; sorted and non-overlapping after sanitize() (e820__update_table). */
  entries: E820Entry[] = [];
  /** Set by mem=/memmap= (the static `userdef` in e820.c): the map must be re-printed. */
  userdef = false;
  /** max_mem_size set by mem= (CONFIG_MEMORY_HOTPLUG), or undefined. */
  maxMemSize: number | undefined;

  constructor(private readonly log?: KernelLog) {}

  /** A deep copy (e820_table_firmware / e820_table_kexec are copies of the table). */
  clone(): E820Table {
    const t = new E820Table(this.log);
    t.entries = this.entries.map((e) => ({ ...e }));
    t.userdef = this.userdef;
    t.maxMemSize = this.maxMemSize;
    return t;
  }

  /** __e820__range_add(): append, or refuse when the table is full. */
  add(start: number, size: number, type: number): void {
    if (this.entries.length >= E820_MAX_ENTRIES) {
      this.log?.err(`too many entries; ignoring [mem ${hex(start, 8)}-${hex(start + size - 1, 8)}]`);
      return;
    }
    this.entries.push({ addr: start, size, type });
  }

  /**
   * e820__range_update(): retype the parts of [start, start+size) that have
   * oldType. Returns the number of bytes retyped.
   */
  rangeUpdate(start: number, size: number, oldType: number, newType: number, log = this.log): number {
    if (oldType === newType) throw new Error('BUG: e820__range_update with old_type == new_type');
    const end = start + size;
    log?.printk(
      KERN_DEBUG,
      `e820: update [mem ${hex(start, 8)}-${hexEnd(end)}] ${e820TypeName(oldType)} ==> ${e820TypeName(newType)}`,
    );
    let updated = 0;
    // The loop bound is re-read each iteration, as in C: appended pieces are visited too.
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.type !== oldType) continue;
      const entryEnd = entry.addr + entry.size;
      // Completely covered by new range?
      if (entry.addr >= start && entryEnd <= end) {
        entry.type = newType;
        updated += entry.size;
        continue;
      }
      // New range is completely covered?
      if (entry.addr < start && entryEnd > end) {
        this.add(start, size, newType);
        this.add(end, entryEnd - end, entry.type);
        entry.size = start - entry.addr;
        updated += size;
        continue;
      }
      // Partially covered:
      const finalStart = Math.max(start, entry.addr);
      const finalEnd = Math.min(end, entryEnd);
      if (finalStart >= finalEnd) continue;
      this.add(finalStart, finalEnd - finalStart, newType);
      updated += finalEnd - finalStart;
      // Left range could be head or tail, so need to update its size first.
      entry.size -= finalEnd - finalStart;
      if (entry.addr < finalStart) continue;
      entry.addr = finalEnd;
    }
    return updated;
  }

  /**
   * e820__range_remove(): drop [start, start+size) from entries of oldType (or of
   * any type when !checkType). size = Infinity means "up to ULLONG_MAX".
   * Returns the number of bytes removed.
   */
  rangeRemove(start: number, size: number, oldType: number, checkType: boolean, log = this.log): number {
    const end = start + size;
    log?.printk(
      KERN_DEBUG,
      `e820: remove [mem ${hex(start, 8)}-${hexEnd(end)}]${checkType ? ' ' + e820TypeName(oldType) : ''}`,
    );
    let removed = 0;
    for (let i = 0; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (checkType && entry.type !== oldType) continue;
      const entryEnd = entry.addr + entry.size;
      // Completely covered? (memset(entry, 0): the slot stays until the next update_table)
      if (entry.addr >= start && entryEnd <= end) {
        removed += entry.size;
        entry.addr = 0;
        entry.size = 0;
        entry.type = 0;
        continue;
      }
      // Is the new range completely covered?
      if (entry.addr < start && entryEnd > end) {
        this.add(end, entryEnd - end, entry.type);
        entry.size = start - entry.addr;
        removed += size;
        continue;
      }
      // Partially covered:
      const finalStart = Math.max(start, entry.addr);
      const finalEnd = Math.min(end, entryEnd);
      if (finalStart >= finalEnd) continue;
      removed += finalEnd - finalStart;
      entry.size -= finalEnd - finalStart;
      if (entry.addr < finalStart) continue;
      entry.addr = finalEnd;
    }
    return removed;
  }

  /**
   * e820__update_table(): resolve overlaps (the higher type number wins), drop
   * empty entries, sort, and merge neighbours of equal type (except PRAM and
   * soft-reserved). Returns 0, or -1 when it did nothing (< 2 entries or an
   * entry that wraps).
   */
  sanitize(): number {
    const entries = this.entries;
    if (entries.length < 2) return -1;
    for (const e of entries) if (e.addr + e.size < e.addr) return -1;
    // Change points: each non-empty entry contributes its start and its end.
    const cps: { addr: number; entry: E820Entry }[] = [];
    for (const e of entries) {
      if (e.size === 0) continue;
      cps.push({ addr: e.addr, entry: e }, { addr: e.addr + e.size, entry: e });
    }
    // cpcompare(): by address; at equal addresses a start sorts before an end.
    cps.sort((a, b) => {
      if (a.addr !== b.addr) return a.addr > b.addr ? 1 : -1;
      return Number(a.addr !== a.entry.addr) - Number(b.addr !== b.entry.addr);
    });
    const overlap: E820Entry[] = [];
    const out: E820Entry[] = [];
    let lastType = 0;
    let lastAddr = 0;
    for (const cp of cps) {
      if (cp.addr === cp.entry.addr) overlap.push(cp.entry);
      else overlap.splice(overlap.indexOf(cp.entry), 1);
      let currentType = 0;
      for (const e of overlap) if (e.type > currentType) currentType = e.type;
      if (currentType !== lastType || e820_nomerge(currentType)) {
        if (lastType !== 0) {
          const size = cp.addr - lastAddr;
          if (size !== 0) {
            out.push({ addr: lastAddr, size, type: lastType });
            if (out.length >= E820_MAX_ENTRIES) break;
          }
        }
        if (currentType !== 0) lastAddr = cp.addr;
        lastType = currentType;
      }
    }
    this.entries = out;
    return 0;
  }

  /** e820__print_table(who): `who: [mem 0x%016x-0x%016x] type` per entry. */
  print(log: KernelLog, who: string): void {
    for (const e of this.entries) {
      log.info(`${who}: [mem ${hex(e.addr, 16)}-${hex(e.addr + e.size - 1, 16)}] ${e820TypeName(e.type)}`);
    }
  }

  /** Bytes of usable RAM (E820_TYPE_RAM and E820_TYPE_RESERVED_KERN). */
  totalRam(): number {
    let sum = 0;
    for (const e of this.entries) if (e.type === E820_TYPE_RAM || e.type === E820_TYPE_RESERVED_KERN) sum += e.size;
    return sum;
  }

  /** e820__end_of_ram_pfn() without its log line: highest RAM/ACPI end pfn, capped at MAX_ARCH_PFN. */
  maxPfn(): number {
    let last = 0;
    for (const e of this.entries) {
      if (e.type !== E820_TYPE_RAM && e.type !== E820_TYPE_ACPI) continue;
      const endPfn = Math.floor((e.addr + e.size) / PAGE_SIZE);
      if (endPfn > last) last = endPfn;
    }
    return Math.min(last, MAX_ARCH_PFN);
  }

  /** e820__mapped_any(): does any part of [start, end) have `type` (0 = any)? */
  mappedAny(start: number, end: number, type: number): boolean {
    return this.entries.some((e) => (!type || e.type === type) && e.addr < end && e.addr + e.size > start);
  }
}

/** e820__end_of_ram_pfn() with its `last_pfn = ... max_arch_pfn = ...` line. */
export function e820__end_of_ram_pfn(table: E820Table, log: KernelLog): number {
  const last = table.maxPfn();
  log.info(`last_pfn = ${hex(last)} max_arch_pfn = ${hex(MAX_ARCH_PFN)}`);
  return last;
}

/** A node's physical span [start, end) in the firmware map (what the SRAT would report). */
export interface NodeRange {
  nid: number;
  start: number;
  end: number;
}

/** Top of the low RAM below the 32-bit PCI hole (QEMU q35 puts 2 GiB below 4 GiB). */
const LOW_RAM_LIMIT = 2 * GiB;
const FOUR_GIB = 4 * GiB;
/** The firmware windows a q35 machine reports as reserved. */
const Q35_RESERVED: [number, number][] = [
  [0x9fc00, 0xa0000], // EBDA
  [0xf0000, 0x100000], // BIOS ROM shadow
  [0xb0000000, 0xc0000000], // PCIe ECAM (MMCONFIG)
  [0xfed1c000, 0xfed20000], // ICH9 root complex register block
  [0xfeffc000, 0xff000000], // QEMU fw_cfg / identity-map page
  [0xfffc0000, 0x100000000], // BIOS flash
];

/**
 * The firmware's map for `m`, plus each node's physical span.
 *
 * DRAM is laid out as on QEMU q35: [0, lowEnd) with lowEnd = min(RAM, 2 GiB),
 * and the rest from 4 GiB up. The first MiB is DRAM too, but the EBDA and BIOS
 * shadow are firmware-reserved and [0xa0000, 0xf0000) is the VGA/option-ROM
 * window that hides the DRAM behind it. We do NOT relocate those 385 KiB above
 * the top (real chipsets and QEMU don't either): installed DRAM stays exactly
 * m.memBytes and every node stretch holds exactly its memBytes of DRAM, while
 * e820 "usable" is honestly 385 KiB less (totalRam() = memBytes - 0x60400).
 * Nodes take consecutive DRAM in address order; node 0's span starts at 0 and
 * includes the low holes, and a span that straddles 2..4 GiB includes that hole.
 */
export function buildE820(m: MachineDesc): { table: E820Table; nodeRanges: NodeRange[] } {
  const table = new E820Table();
  const lowEnd = Math.min(m.memBytes, LOW_RAM_LIMIT);
  const highEnd = FOUR_GIB + (m.memBytes - lowEnd);
  table.add(0, 0x9fc00, E820_TYPE_RAM);
  table.add(0x100000, lowEnd - 0x100000, E820_TYPE_RAM);
  for (const [s, e] of Q35_RESERVED) table.add(s, e - s, E820_TYPE_RESERVED);
  if (m.memBytes > lowEnd) table.add(FOUR_GIB, highEnd - FOUR_GIB, E820_TYPE_RAM);
  table.sanitize();

  // Walk the DRAM pieces in address order, handing each node its memBytes.
  const dram: [number, number][] = [[0, lowEnd]];
  if (m.memBytes > lowEnd) dram.push([FOUR_GIB, highEnd]);
  const nodeRanges: NodeRange[] = [];
  let piece = 0;
  let cursor = 0;
  for (const nd of m.nodes) {
    let need = nd.memBytes;
    if (cursor === dram[piece]![1] && piece + 1 < dram.length) cursor = dram[++piece]![0];
    const start = nd.id === 0 ? 0 : cursor;
    while (need > 0) {
      const [, pend] = dram[piece]!;
      const take = Math.min(need, pend - cursor);
      cursor += take;
      need -= take;
      if (need > 0) cursor = dram[++piece]![0];
    }
    nodeRanges.push({ nid: nd.id, start, end: cursor });
  }
  return { table, nodeRanges };
}

/**
 * e820__memory_setup(): sanitize the firmware map, keep the firmware copy
 * (/sys/firmware/memmap, kexec) and print "BIOS-provided physical RAM map:".
 */
export function e820__memory_setup(table: E820Table, log: KernelLog): E820Table {
  table.sanitize();
  const firmware = table.clone();
  log.info('BIOS-provided physical RAM map:');
  table.print(log, 'BIOS-e820');
  return firmware;
}

/**
 * parse_memopt(), the handler of early_param("mem"): drop RAM above the limit.
 * Returns 0 or -EINVAL (-22), which do_early_param reports as malformed.
 */
export function parse_memopt(arg: string | undefined, table: E820Table, log: KernelLog): number {
  if (arg === undefined) return -22;
  if (arg === 'nopentium') {
    // Only 32-bit kernels can clear X86_FEATURE_PSE.
    log.warn('mem=nopentium ignored! (only supported on x86_32)');
    return -22;
  }
  // Set before the value is checked, as in Linux: even mem=junk re-prints the map.
  table.userdef = true;
  const { value } = memparse(arg);
  // Don't remove all memory when getting "mem={invalid}" parameter.
  if (Number.isNaN(value) || value === 0) return -22;
  table.rangeRemove(value, U64_END, E820_TYPE_RAM, true, log);
  table.maxMemSize = value;
  return 0;
}

/**
 * e820__finish_early_params(): after parse_early_param, a user-modified map is
 * sanitized and printed as "user-defined physical RAM map:". Throws the kernel's
 * early panic when the user map cannot be sanitized.
 */
export function e820__finish_early_params(table: E820Table, log: KernelLog): void {
  if (!table.userdef) return;
  if (table.sanitize() < 0) throw new Error('Kernel panic - not syncing: Invalid user supplied memory map');
  log.info('user-defined physical RAM map:');
  table.print(log, 'user');
}

/**
 * e820__memblock_setup(): register usable RAM with memblock, reserve
 * soft-reserved ranges, then throw away partial pages (memblock_trim_memory).
 */
export function e820__memblock_setup(table: E820Table, memblock: Memblock, log: KernelLog): void {
  for (const e of table.entries) {
    if (e.type === E820_TYPE_SOFT_RESERVED) memblock.reserve(e.addr, e.size);
    if (e.type !== E820_TYPE_RAM && e.type !== E820_TYPE_RESERVED_KERN) continue;
    memblock.add(e.addr, e.size);
  }
  memblock.trim_memory(PAGE_SIZE);
  memblock.dump_all(log);
}
