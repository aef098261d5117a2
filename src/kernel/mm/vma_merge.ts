/**
 * When may two VMAs become one (mm/vma.c: is_mergeable_vma, is_mergeable_anon_vma,
 * can_vma_merge_before, can_vma_merge_after, can_merge_remove_vma; mm/mempolicy.c:
 * __mpol_equal; kernel/fork.c: vm_area_dup). Pure predicates over VmArea; the tree
 * operations that use them are in vma_tree.ts.
 */

import { PAGE_SIZE } from '../../lib/size.ts';
import { type MappedFile, type MemPolicy, VM_SOFTDIRTY, VmArea, type VmOperations } from './vm_area.ts';

/** The properties of a proposed range that merging compares (struct vma_merge_struct's fields). */
export interface VmaMergeProps {
  flags: number;
  file: MappedFile | null;
  /** File offset of the proposed range's start, in pages. */
  pgoff: number;
  policy: MemPolicy | null;
  vm_ops: VmOperations | null;
  anon_vma: object | null;
  /** anon_vma_name: named anonymous ranges only merge with the same name. */
  name: string | null;
}

/** Two policies are the same (mpol_equal): both absent, or same mode and node list. */
export function mpol_equal(a: MemPolicy | null, b: MemPolicy | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.mode !== b.mode || a.nodes.length !== b.nodes.length) return false;
  for (let i = 0; i < a.nodes.length; i++) if (a.nodes[i] !== b.nodes[i]) return false;
  return true;
}

/**
 * is_mergeable_vma: same policy, same flags apart from VM_SOFTDIRTY, same file, same
 * vm_ops (Linux gets that from the file; the model compares it because pfn-map
 * drivers share no file) and the same anon_vma_name.
 */
export function is_mergeable_vma(vma: VmArea, p: VmaMergeProps): boolean {
  if (!mpol_equal(p.policy, vma.policy)) return false;
  if ((vma.flags ^ p.flags) & ~VM_SOFTDIRTY) return false;
  if (vma.file !== p.file || vma.vm_ops !== p.vm_ops) return false;
  return vma.name === p.name;
}

/**
 * is_mergeable_anon_vma: either side without an anon_vma, or the same one. (Linux
 * also requires a singular anon_vma_chain, i.e. not inherited through fork; the model
 * has no chains, so that part always holds.)
 */
export function is_mergeable_anon_vma(a: object | null, b: object | null): boolean {
  return !a || !b || a === b;
}

/** can_vma_merge_before: the proposed [start, end) can be merged in front of `next`. */
export function can_vma_merge_before(p: VmaMergeProps, start: number, end: number, next: VmArea): boolean {
  return is_mergeable_vma(next, p) && is_mergeable_anon_vma(p.anon_vma, next.anon_vma) && next.pgoff === p.pgoff + (end - start) / PAGE_SIZE;
}

/** can_vma_merge_after: the proposed range can be merged behind `prev`. */
export function can_vma_merge_after(p: VmaMergeProps, prev: VmArea): boolean {
  return is_mergeable_vma(prev, p) && is_mergeable_anon_vma(p.anon_vma, prev.anon_vma) && prev.pgoff + (prev.end - prev.start) / PAGE_SIZE === p.pgoff;
}

/** can_merge_remove_vma: a VMA with a ->close hook is never deleted by a merge (the driver counts its VMAs). */
export function can_merge_remove_vma(vma: VmArea): boolean {
  return !vma.vm_ops?.close;
}

/** True when applying `p` to `vma` would change nothing vma_modify cares about. */
export function vma_props_equal(p: VmaMergeProps, vma: VmArea): boolean {
  return p.flags === vma.flags && mpol_equal(p.policy, vma.policy) && p.name === vma.name;
}

/** vm_area_dup: a copy of the VMA's fields (shares file, ops, policy, anon_vma, mm; the caller takes the file reference). */
export function vm_area_dup(vma: VmArea): VmArea {
  const nv = new VmArea(vma.start, vma.end, vma.flags, vma.pgoff, vma.file, vma.vm_ops, vma.policy);
  nv.private_data = vma.private_data;
  nv.anon_vma = vma.anon_vma;
  nv.name = vma.name;
  nv.vm_mm = vma.vm_mm;
  return nv;
}
