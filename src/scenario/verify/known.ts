/**
 * Differences between the model and the kernel that `dmemfs verify` finds and
 * that are explained rather than fixed: each has an id, a one-line reason for
 * the table, and a paragraph in docs/linux.md ("Model vs kernel").
 */

interface Known {
  id: string;
  /** Which case and figure it covers. */
  cases: RegExp;
  figures: RegExp;
  note: string;
}

const KNOWN: readonly Known[] = [
  {
    id: 'shadow-pt-page',
    cases: /^kvm-(thp|hugetlb-2m|hugetlb-1g|dmemfs)$/,
    figures: /\.pages_(4k|2m)$/,
    note:
      'where KVM shadows guest page tables (no EPT/NPT: PVM, ept=N, npt=0) the 2M region holding the guest\'s page-table page (GPA 0) ' +
      'is mapped with 4K SPTEs (a write-tracked gfn disallows a huge mapping: kvm_mmu_gfn_disallow_lpage), plus a few 4K leaves PVM makes ' +
      'for the guest\'s own structures; the model\'s KVM is two-dimensional paging',
  },
  {
    id: 'shadow-extra-4k',
    cases: /^kvm-4k$/,
    figures: /\.pages_4k$/,
    note: 'under PVM\'s shadow MMU one more 4K SPTE than the guest has pages, whatever its size (a second mapping of a page-0 structure); the model maps each guest page once',
  },
  {
    id: 'shmem-thp',
    cases: /^kvm-4k$/,
    figures: /\.pages_2m$/,
    note: 'the host\'s /sys/kernel/mm/transparent_hugepage/shmem_enabled gives memfd memory THPs; the model\'s shmem has no THPs (memfd is 4K there)',
  },
  {
    id: 'no-1g-guest-pages',
    cases: /^kvm-hugetlb-1g$/,
    figures: /\.pages_(1g|2m)$/,
    note: 'the host offers no 1G guest pages (no pdpe1gb in KVM_GET_SUPPORTED_CPUID, as under PVM): the guest maps 2M leaves and KVM cannot map more than the guest does; the model offers pdpe1gb',
  },
];

/** The id of the known difference covering this case's figure, or null. */
export function knownDifference(caseName: string, figure: string): string | null {
  return KNOWN.find((k) => k.cases.test(caseName) && k.figures.test(figure))?.id ?? null;
}

/** Every known difference's one-line note, by id. */
export const KNOWN_NOTES: ReadonlyMap<string, string> = new Map(KNOWN.map((k) => [k.id, k.note]));
