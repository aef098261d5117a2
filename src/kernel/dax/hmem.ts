/**
 * Soft-reserved memory to dynamic dax regions: the efi_fake_mem= early
 * parameter (arch/x86/platform/efi/fake_mem.c setup_fake_mem and
 * efi_fake_memmap_early: EFI_MEMORY_SP on conventional memory makes the e820
 * range E820_TYPE_SOFT_RESERVED before memblock sees it), and hmem
 * (drivers/dax/hmem/device.c hmem_register_resource, drivers/dax/hmem/hmem.c
 * __hmem_register_device, dax_hmem_probe: one platform device "hmem.N" per
 * range, N from memregion_alloc, a region aligned to PMD_SIZE with
 * IORESOURCE_DAX_KMEM unless dax_hmem.region_idle, device 0 spanning it).
 *
 * The model boots as if through UEFI (efi_enabled(EFI_MEMMAP)), with one
 * EFI_CONVENTIONAL_MEMORY descriptor per e820 RAM entry.
 */
import { hex } from '../../lib/size.ts';
import { memparse, PMD_SIZE } from '../../lib/size.ts';
import { E820_TYPE_RAM, E820_TYPE_SOFT_RESERVED, type E820Table, type NodeRange } from '../boot/e820.ts';
import type { E820Hook } from '../boot/setup.ts';
import type { KernelLog } from '../printk.ts';
import type { DaxBusImpl } from './bus.ts';
import { IORESOURCE_DAX_KMEM, type Ida } from './region.ts';

/** EFI_MEMORY_SP: specific-purpose memory. */
export const EFI_MEMORY_SP = 0x40000;
/** CONFIG_EFI_MAX_FAKE_MEM default. */
export const EFI_MAX_FAKEMEM = 8;

interface FakeMem {
  start: number;
  end: number;
  attribute: number;
}

/** simple_strtoull(s, 0): as many digits as parse (0x hex, 0 octal, decimal), and the rest. */
function simple_strtoull(s: string): { value: number; rest: string } {
  const m = /^0[xX]([0-9a-fA-F]+)/.exec(s) ?? /^(0[0-7]*)/.exec(s) ?? /^([1-9][0-9]*)/.exec(s);
  if (!m) return { value: 0, rest: s };
  const base = /^0[xX]/.test(s) ? 16 : m[1]!.startsWith('0') ? 8 : 10;
  return { value: parseInt(m[1]!, base), rest: s.slice(m[0].length) };
}

/** setup_fake_mem(): "SIZE@ADDR:ATTR[,SIZE@ADDR:ATTR...]"; returns 0 or -EINVAL. */
export function setup_fake_mem(p: string | undefined, mems: FakeMem[], log: KernelLog): number {
  if (p === undefined) return -22;
  let rest = p;
  while (rest !== '') {
    const size = memparse(rest);
    rest = size.rest;
    if (!rest.startsWith('@')) break;
    const start = memparse(rest.slice(1));
    rest = start.rest;
    if (!rest.startsWith(':')) break;
    const attr = simple_strtoull(rest.slice(1));
    const attribute = attr.value;
    rest = attr.rest;
    if (mems.length >= EFI_MAX_FAKEMEM) break;
    mems.push({ start: start.value, end: start.value + size.value - 1, attribute });
    if (rest.startsWith(',')) rest = rest.slice(1);
  }
  mems.sort((a, b) => a.start - b.start);
  for (const m of mems) {
    log.info(`efi_fake_mem: add attr=0x${hex(m.attribute, 16).slice(2)} to [mem ${hex(m.start, 16)}-${hex(m.end, 16)}]`);
  }
  return rest === '' ? 0 : -22;
}

/** efi_fake_memmap_early(): EFI_MEMORY_SP ranges of conventional memory become soft reserved in e820. */
export function efi_fake_memmap_early(mems: readonly FakeMem[], e820: E820Table, log: KernelLog): void {
  for (const mem of mems) {
    if ((mem.attribute & EFI_MEMORY_SP) === 0) continue;
    const descs = e820.entries.filter((e) => e.type === E820_TYPE_RAM).map((e) => ({ start: e.addr, end: e.addr + e.size - 1 }));
    for (const md of descs) {
      if (!(mem.start <= md.end && mem.end >= md.start)) continue;
      // Trim the boundary of the e820 update to the descriptor.
      const start = Math.max(md.start, mem.start);
      const end = Math.min(md.end, mem.end);
      if (end <= start) continue;
      const size = end - start + 1;
      e820.rangeRemove(start, size, E820_TYPE_RAM, true, log);
      e820.add(start, size, E820_TYPE_SOFT_RESERVED);
      e820.sanitize();
    }
  }
}

/** The efi_fake_mem= boot hook. */
export const efi_fake_mem_hook: E820Hook = ({ params, e820, log }) => {
  const mems: FakeMem[] = [];
  params.early_param('efi_fake_mem', (v) => setup_fake_mem(v, mems, log));
  return { afterEarlyParams: () => efi_fake_memmap_early(mems, e820, log) };
};

/** phys_to_target_node(). */
export function phys_to_target_node(nodeRanges: readonly NodeRange[], phys: number): number {
  return nodeRanges.find((r) => phys >= r.start && phys < r.end)?.nid ?? 0;
}

/** hmem_init + dax_hmem_probe for every soft-reserved e820 range. */
export function hmem_register_devices(bus: DaxBusImpl, e820: E820Table, nodeRanges: readonly NodeRange[], memregion: Ida, log: KernelLog, regionIdle = false): void {
  for (const e of e820.entries) {
    if (e.type !== E820_TYPE_SOFT_RESERVED) continue;
    const id = memregion.alloc();
    const start = e.addr;
    const end = e.addr + e.size - 1;
    const nid = phys_to_target_node(nodeRanges, start);
    const region = bus.alloc_dax_region(id, start, end, nid, PMD_SIZE, regionIdle ? 0 : IORESOURCE_DAX_KMEM, `devices/platform/hmem.${id}`);
    if (!region) {
      log.warn(`hmem hmem.${id}: probe with driver hmem failed with error -12`);
      continue;
    }
    bus.onRegion?.(region);
    bus.devm_create_dev_dax(region, regionIdle ? 0 : e.size);
  }
}
