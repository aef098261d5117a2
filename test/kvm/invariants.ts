/** Invariants of a VM's EPT against the VMM's address space. */
import { PAGE_SIZE } from '../../src/lib/size.ts';
import { follow_page } from '../../src/kernel/mm/gup.ts';
import type { MmStruct } from '../../src/kernel/mm/mm_types.ts';
import { LEVEL_SIZE, _PAGE_PRESENT, pte_flags, pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import type { Kvm } from '../../src/kernel/kvm/kvm_host.ts';
import { EPT_W } from '../../src/kernel/kvm/mmu.ts';

/**
 * Every EPT leaf lies inside one slot of address space 0, and each 4K page it
 * maps is the frame the VMM's page table maps at the slot's hva (writable only
 * if the host entry is): no leaf points at a frame the VM's VMAs do not map.
 */
export function checkEpt(kvm: Kvm, mm: MmStruct): void {
  kvm.ept.validate();
  const slots = kvm.memslots[0]!;
  kvm.ept.for_each_leaf(0, 2 ** 46, (gpa, level, e) => {
    const size = LEVEL_SIZE[level]!;
    const gfn = gpa / PAGE_SIZE;
    const slot = slots.gfn_to_memslot(gfn);
    if (!slot) throw new Error(`EPT leaf at gpa 0x${gpa.toString(16)} outside every slot`);
    if (gfn + size / PAGE_SIZE > slot.base_gfn + slot.npages) throw new Error(`EPT leaf at 0x${gpa.toString(16)} crosses the slot end`);
    const step = level === 3 ? 512 : 1;
    for (let i = 0; i < size / PAGE_SIZE; i += step) {
      const hva = slot.gfn_to_hva(gfn + i);
      const host = mm.pgtables.walk(hva);
      const t = follow_page(mm, hva);
      const want = pte_pfn(e) + i;
      if (!t || t.pfn !== want || !(pte_flags(host) & _PAGE_PRESENT)) {
        throw new Error(`stale EPT entry: gpa 0x${((gfn + i) * PAGE_SIZE).toString(16)} → pfn ${want}, host has ${t ? t.pfn : 'nothing'}`);
      }
      if (pte_flags(e) & EPT_W && !t.writable) throw new Error(`EPT writable where the host is not: gpa 0x${((gfn + i) * PAGE_SIZE).toString(16)}`);
    }
  });
}
