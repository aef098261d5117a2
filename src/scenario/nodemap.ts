/**
 * A picture of each node's physical memory: the node's span cut into at most
 * 512 equal cells; each cell is sampled at 32 evenly spaced frames and gets the
 * owner most samples have. What a frame is comes from the kernel's own state,
 * the way /proc/kpageflags and /proc/iomem would tell it: a hole, the boot
 * memmap (struct pages), free in the buddy allocator, a frame some VMM maps
 * (guest, with the VM's name), dmem or soft-reserved memory not given to a VM
 * (reserved pool), else kernel.
 *
 * Sampling keeps the cost at 512 × 32 lookups per node whatever the host size.
 */
import { PAGE_SIZE, alignUp } from '../lib/size.ts';
import type { Host } from '../kernel/host.ts';
import { pfn_to_section_nr } from '../kernel/mm/sparse.ts';
import { LEVEL_SIZE, pte_pfn } from '../kernel/mm/pgtable.ts';
import type { RunningVm } from './fleet.ts';
import type { NodeMap, Owner } from './result.ts';

const MAX_CELLS = 512;
const PMD = 2 * 1024 * 1024;
const SAMPLES = 32;

/**
 * Which frames each running VM's VMM maps, as sorted [start, end, vm] runs of
 * pfns, read from its page tables 2 MiB at a time: a huge leaf is one run, a
 * PTE table's 512 entries are read straight from the table page.
 */
function guestFrames(host: Host, vms: RunningVm[]): { start: number; end: number; vm: string }[] {
  const runs: { start: number; end: number; vm: string }[] = [];
  const push = (vm: string, pfn: number, pages: number): void => {
    if (pfn === host.kmem.zeroPfn) return;
    const last = runs[runs.length - 1];
    // Contiguous frames of one VM make one run (a 4K-mapped guest is mostly contiguous).
    if (last && last.vm === vm && last.end === pfn) last.end = pfn + pages;
    else runs.push({ start: pfn, end: pfn + pages, vm });
  };
  for (const vm of vms) {
    const t = host.tasks.get(vm.pid);
    if (!t) continue;
    const pt = t.mm.pgtables;
    for (const v of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
      for (let va = v.start - (v.start % PMD); va < v.end; va += PMD) {
        const e = pt.walk(Math.max(va, v.start));
        if (e && pt.lastLevel >= 2) {
          // A PMD or PUD leaf: this 2 MiB of it.
          const size = LEVEL_SIZE[pt.lastLevel]!;
          push(vm.name, pte_pfn(e) + (va % size) / PAGE_SIZE, PMD / PAGE_SIZE);
          continue;
        }
        const table = pt.pte_page(Math.max(va, v.start));
        if (!table) continue;
        const ents = table.entries;
        const lo = Math.max(0, (v.start - va) / PAGE_SIZE);
        const hi = Math.min(512, (v.end - va) / PAGE_SIZE);
        // Entries of physically contiguous frames with equal flags differ by PAGE_SIZE:
        // extend the open run with one comparison per entry (1 TiB of 4K PTEs is 2^28).
        let prev = -1;
        for (let i = lo; i < hi; i++) {
          const x = ents[i]!;
          if (prev !== -1 && x === prev + PAGE_SIZE) {
            runs[runs.length - 1]!.end++;
            prev = x;
          } else if (x !== 0 && x % 2 === 1 && Math.floor(x / PAGE_SIZE) !== host.kmem.zeroPfn) {
            push(vm.name, Math.floor(x / PAGE_SIZE), 1);
            prev = x;
          } else {
            prev = -1;
          }
        }
      }
    }
  }
  runs.sort((a, b) => a.start - b.start);
  return runs;
}

function findRun(runs: { start: number; end: number; vm: string }[], pfn: number): string | null {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid]!;
    if (pfn < r.start) hi = mid - 1;
    else if (pfn >= r.end) lo = mid + 1;
    else return r.vm;
  }
  return null;
}

/** The node maps of a host with these VMs running. */
export function nodeMaps(host: Host, vms: RunningVm[]): NodeMap[] {
  const runs = guestFrames(host, vms);
  const sp = host.mem.sparse;
  const memmapFrames = new Set<number>();
  for (let nr = 0; nr <= sp.highest_present_section_nr; nr++) {
    const phys = sp.memmap_phys(nr);
    if (phys >= 0) memmapFrames.add(Math.floor(phys / (2 * 1024 * 1024)));
  }
  const out: NodeMap[] = [];
  for (let nid = 0; nid < host.nrNodes; nid++) {
    const ranges = host.mem.nodeRanges.filter((r) => r.nid === nid);
    if (!ranges.length) continue;
    const start = Math.min(...ranges.map((r) => r.start));
    const end = Math.max(...ranges.map((r) => r.end));
    const cellBytes = alignUp(Math.ceil((end - start) / MAX_CELLS), PAGE_SIZE * SAMPLES);
    const n = Math.ceil((end - start) / cellBytes);
    const cells: Owner[] = [];
    const names: string[] = [];
    for (let c = 0; c < n; c++) {
      const counts = new Map<string, number>();
      for (let s = 0; s < SAMPLES; s++) {
        const addr = start + c * cellBytes + Math.floor((s * cellBytes) / SAMPLES);
        const pfn = Math.floor(addr / PAGE_SIZE);
        let key: string;
        const vm = findRun(runs, pfn);
        if (!ranges.some((r) => addr >= r.start && addr < r.end)) key = 'other';
        else if (vm !== null) key = `guest:${vm}`;
        else if (memmapFrames.has(Math.floor(addr / (2 * 1024 * 1024)))) key = 'struct-pages';
        else if (host.buddy.is_free_buddy_page(pfn)) key = 'free';
        else if (host.dmem.is_dmem_pfn(pfn) || !sp.valid_section_nr(pfn_to_section_nr(pfn))) key = 'reserved-pool';
        else key = 'kernel';
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      let best = '';
      let bestN = -1;
      for (const [k, v] of counts) if (v > bestN) [best, bestN] = [k, v];
      if (best.startsWith('guest:')) {
        cells.push('guest');
        names.push(best.slice(6));
      } else {
        cells.push(best as Owner);
        names.push('');
      }
    }
    out.push({ nid, start, cellBytes, cells, vms: names });
  }
  return out;
}
