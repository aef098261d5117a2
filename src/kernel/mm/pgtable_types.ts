/**
 * x86-64 page-table entry encoding and geometry for 4-level paging
 * (arch/x86/include/asm/pgtable_types.h, arch/x86/include/asm/pgtable_64_types.h,
 * arch/x86/include/asm/pgtable.h, arch/x86/include/asm/page_64_types.h).
 *
 * An entry is a JS number `pfn * 4096 + flags`: the low 12 bits hold the x86 flag
 * bits exactly where the hardware has them, the pfn sits above. That is exact for
 * any pfn below 2^41 (physical addresses below 2^53), which covers x86-64's 52-bit
 * physical address space. Flag arithmetic only ever touches `entry % 4096`, a value
 * below 2^12, so 32-bit bitwise operators on it are exact; the pfn part is handled
 * with multiplication and division.
 *
 * Two deliberate differences from the hardware format:
 * - _PAGE_DEVMAP is bit 58 (_PAGE_BIT_SOFTW4) on real x86. Bits above 52 do not fit a
 *   double next to a pfn, so we keep it in a free low software bit (bit 10,
 *   _PAGE_BIT_SOFTW2, which real x86 uses for _PAGE_BIT_UFFD_WP; userfaultfd
 *   write-protect is not modelled).
 * - _PAGE_NX (bit 63) is not represented: the model does not execute code, so
 *   execute permission lives only in vm_flags (VM_EXEC).
 * _PAGE_PAT (bit 7 in a PTE, bit 12 in a huge entry) is not modelled either; bit 7 is
 * only ever _PAGE_PSE here, and only at PMD/PUD level.
 */

import { PAGE_SIZE } from '../../lib/size.ts';

/** The page is present (_PAGE_BIT_PRESENT, 0). */
export const _PAGE_PRESENT = 0x001;
/** Writeable (_PAGE_BIT_RW, 1). */
export const _PAGE_RW = 0x002;
/** User-accessible (_PAGE_BIT_USER, 2). */
export const _PAGE_USER = 0x004;
/** Page-level write-through (_PAGE_BIT_PWT, 3). */
export const _PAGE_PWT = 0x008;
/** Page-level cache disable (_PAGE_BIT_PCD, 4). */
export const _PAGE_PCD = 0x010;
/** Set by the CPU on access (_PAGE_BIT_ACCESSED, 5). */
export const _PAGE_ACCESSED = 0x020;
/** Set by the CPU on write (_PAGE_BIT_DIRTY, 6). */
export const _PAGE_DIRTY = 0x040;
/** A huge leaf at PMD (2 MiB) or PUD (1 GiB) level (_PAGE_BIT_PSE, 7). */
export const _PAGE_PSE = 0x080;
/** Global TLB entry (_PAGE_BIT_GLOBAL, 8). */
export const _PAGE_GLOBAL = 0x100;
/** A pfn with no struct page: vm_normal_page() returns NULL (_PAGE_BIT_SPECIAL = _PAGE_BIT_SOFTW1, 9). */
export const _PAGE_SPECIAL = 0x200;
/** A ZONE_DEVICE pfn (real x86: bit 58 _PAGE_BIT_SOFTW4; kept in bit 10 here, see header). */
export const _PAGE_DEVMAP = 0x400;
/** The 12 flag bits below the pfn. */
export const PTE_FLAGS_MASK = 0xfff;
/** Flags of an entry pointing at a lower table (_PAGE_TABLE = _KERNPG_TABLE | _PAGE_USER). */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

/** enum pg_level: a 4 KiB leaf lives in a PTE table. */
export const PG_LEVEL_4K = 1;
/** enum pg_level: a 2 MiB leaf lives in a PMD table. */
export const PG_LEVEL_2M = 2;
/** enum pg_level: a 1 GiB leaf lives in a PUD table. */
export const PG_LEVEL_1G = 3;
/** enum pg_level: the PGD (P4D folded: 4-level paging). */
export const PG_LEVEL_512G = 4;
/** Level aliases by table name. */
export const PTE_LEVEL = PG_LEVEL_4K;
/** Level of PMD entries. */
export const PMD_LEVEL = PG_LEVEL_2M;
/** Level of PUD entries. */
export const PUD_LEVEL = PG_LEVEL_1G;
/** Level of PGD entries. */
export const PGD_LEVEL = PG_LEVEL_512G;

/** Entries per table page at every level. */
export const PTRS_PER_PTE = 512;
/** Shift of the PMD index (2 MiB). */
export const PMD_SHIFT = 21;
/** Shift of the PUD index (1 GiB). */
export const PUD_SHIFT = 30;
/** Shift of the PGD index (512 GiB; P4D folded). */
export const PGDIR_SHIFT = 39;
/** Bytes mapped by one PGD entry. */
export const PGDIR_SIZE = 2 ** PGDIR_SHIFT;
/** Top of the user half with 4-level paging (2^47, __VIRTUAL_MASK_SHIFT 47). */
export const USER_VA_END = 2 ** 47;
/** Highest user address + 1 a mapping may reach (TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE). */
export const TASK_SIZE_MAX = USER_VA_END - PAGE_SIZE;
/**
 * Upper bound for freeing user page tables (USER_PGTABLES_CEILING). Linux uses 0
 * meaning "top of the address space"; we use the end of the user half explicitly.
 */
export const USER_PGTABLES_CEILING = USER_VA_END;

/** Bytes covered by one entry at each level (index = level). */
export const LEVEL_SIZE: readonly number[] = [0, PAGE_SIZE, 2 ** PMD_SHIFT, 2 ** PUD_SHIFT, PGDIR_SIZE, 2 ** 48];

/** Bytes covered by one entry at `level` (page_level_size()). */
export function page_level_size(level: number): number {
  return LEVEL_SIZE[level]!;
}

/** Name of a level for messages: pte, pmd, pud, pgd. */
export function level_name(level: number): string {
  return ['none', 'pte', 'pmd', 'pud', 'pgd'][level] ?? `level${level}`;
}

/** Build an entry from a pfn and flag bits (pfn_pte / pfn_pmd). */
export function mk_entry(pfn: number, flags: number): number {
  return pfn * PAGE_SIZE + (flags & PTE_FLAGS_MASK);
}

/** The pfn an entry points at (pte_pfn / pmd_pfn / pud_pfn). */
export function pte_pfn(entry: number): number {
  return Math.floor(entry / PAGE_SIZE);
}

/** The 12 flag bits of an entry (pte_flags). */
export function pte_flags(entry: number): number {
  // Not `entry % PAGE_SIZE`: entries are doubles, and a float modulo is a libm call on every fault.
  return entry - Math.floor(entry / PAGE_SIZE) * PAGE_SIZE;
}

/** The entry with `flags` set (pte_set_flags). */
export function pte_set_flags(entry: number, flags: number): number {
  const f = entry % PAGE_SIZE;
  return entry - f + (f | (flags & PTE_FLAGS_MASK));
}

/** The entry with `flags` cleared (pte_clear_flags). */
export function pte_clear_flags(entry: number, flags: number): number {
  const f = entry % PAGE_SIZE;
  return entry - f + (f & ~flags & PTE_FLAGS_MASK);
}

/** The entry's pfn replaced, flags kept (pte_modify's counterpart for the pfn). */
export function pte_with_pfn(entry: number, pfn: number): number {
  return pfn * PAGE_SIZE + (entry % PAGE_SIZE);
}

/** Entry is empty (pte_none). */
export function pte_none(entry: number): boolean {
  return entry === 0;
}

/** Entry maps a present page (pte_present). */
export function pte_present(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_PRESENT) !== 0;
}

/** Entry allows writes (pte_write). */
export function pte_write(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_RW) !== 0;
}

/** Entry was written through (pte_dirty). */
export function pte_dirty(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_DIRTY) !== 0;
}

/** Entry was accessed (pte_young). */
export function pte_young(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_ACCESSED) !== 0;
}

/** Entry maps a pfn without struct page (pte_special). */
export function pte_special(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_SPECIAL) !== 0;
}

/** Entry maps ZONE_DEVICE memory (pte_devmap). */
export function pte_devmap(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_DEVMAP) !== 0;
}

/** Entry is accessible from user mode (pte_user). */
export function pte_user(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_USER) !== 0;
}

/** A PMD entry is a huge (2 MiB) leaf (pmd_leaf: _PAGE_PSE set). */
export function pmd_leaf(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_PSE) !== 0;
}

/** A PUD entry is a huge (1 GiB) leaf (pud_leaf: _PAGE_PSE set). */
export function pud_leaf(entry: number): boolean {
  return ((entry % PAGE_SIZE) & _PAGE_PSE) !== 0;
}

/** Write-enable an entry (pte_mkwrite). */
export function pte_mkwrite(entry: number): number {
  return pte_set_flags(entry, _PAGE_RW);
}

/** Write-protect an entry (pte_wrprotect). */
export function pte_wrprotect(entry: number): number {
  return pte_clear_flags(entry, _PAGE_RW);
}

/** Mark an entry dirty (pte_mkdirty). */
export function pte_mkdirty(entry: number): number {
  return pte_set_flags(entry, _PAGE_DIRTY);
}

/** Clear the dirty bit (pte_mkclean). */
export function pte_mkclean(entry: number): number {
  return pte_clear_flags(entry, _PAGE_DIRTY);
}

/** Mark an entry accessed (pte_mkyoung). */
export function pte_mkyoung(entry: number): number {
  return pte_set_flags(entry, _PAGE_ACCESSED);
}

/** Clear the accessed bit (pte_mkold). */
export function pte_mkold(entry: number): number {
  return pte_clear_flags(entry, _PAGE_ACCESSED);
}

/** Mark an entry special (pte_mkspecial). */
export function pte_mkspecial(entry: number): number {
  return pte_set_flags(entry, _PAGE_SPECIAL);
}

/** Mark an entry huge (pmd_mkhuge / pud_mkhuge). */
export function pmd_mkhuge(entry: number): number {
  return pte_set_flags(entry, _PAGE_PSE);
}

/** The pfn of the 4 KiB page at `va` inside a leaf of `level` mapping `va`. */
export function leaf_pfn_at(entry: number, level: number, va: number): number {
  const size = LEVEL_SIZE[level]!;
  return Math.floor(entry / PAGE_SIZE) + Math.floor((va % size) / PAGE_SIZE);
}

/** pgd_index / pud_index / pmd_index / pte_index: the slot of `va` in a table of `level`. */
export function pgtable_index(va: number, level: number): number {
  return Math.floor(va / LEVEL_SIZE[level]!) % PTRS_PER_PTE;
}
