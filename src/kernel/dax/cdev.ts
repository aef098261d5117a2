/**
 * The device_dax driver and /dev/daxN.M (drivers/dax/device.c: dev_dax_probe,
 * dev_dax_kill, dax_open, dax_mmap, check_vma, dax_get_unmapped_area,
 * dev_dax_huge_fault, __dev_dax_pte_fault / _pmd_fault / _pud_fault,
 * dev_dax_may_split, dev_dax_pagesize; drivers/dax/super.c the "dax" chrdev
 * region and alloc_dax's minor).
 *
 * With struct pages (map=1, the default) faults install _PAGE_DEVMAP entries
 * of ZONE_DEVICE pages (counted as file rss, reachable by get_user_pages); with
 * the pageless RFC (map=0) the VMA is VM_PFNMAP|VM_DONTEXPAND|VM_DONTDUMP and
 * faults install special pfn entries, and a VMA without VM_DONTCOPY faults
 * SIGBUS (the process must madvise(MADV_DONTFORK)).
 *
 * Model differences: shared writable mappings are mapped writable at the first
 * fault (Linux's vmf_insert_page_mkwrite maps read faults read-only and takes a
 * second, write-protect fault later; device-dax has no dirty tracking to do).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE, alignDown } from '../../lib/size.ts';
import type { File } from '../fs/vfs/file.ts';
import type { FileOperations, Inode } from '../fs/vfs/inode.ts';
import { vmf_insert_pfn, vmf_insert_pfn_huge } from '../mm/memory.ts';
import { MM_FILEPAGES, type MmStruct } from '../mm/mm_types.ts';
import type { PageAllocator } from '../mm/page_alloc.ts';
import { vm_page_prot } from '../mm/page_prot.ts';
import { PMD_LEVEL, PTE_LEVEL, PUD_LEVEL, _PAGE_DEVMAP, _PAGE_PSE, mk_entry } from '../mm/pgtable.ts';
import type { SparseMem } from '../mm/sparse.ts';
import {
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_FAULT_FALLBACK,
  VM_FAULT_NOPAGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_HUGEPAGE,
  VM_MAYSHARE,
  VM_PFNMAP,
  type VmArea,
  type VmFault,
  type VmOperations,
} from '../mm/vm_area.ts';
import { MAP_FIXED } from '../../uapi/mman.ts';
import { Resource, type ResourceTree } from '../resource.ts';
import type { KernelLog } from '../printk.ts';
import type { DaxDriver, DevDax } from './api.ts';
import type { DevDaxImpl } from './device.ts';
import { dax_pgoff_to_phys } from './device.ts';
import { dev_dax_pgmap, type DevPagemap } from './pagemap.ts';

/** What device_dax needs of the host. */
export interface DeviceDaxDeps {
  iomem: ResourceTree;
  buddy: PageAllocator;
  sparse: SparseMem;
  log: KernelLog;
}

/** device_dax's per-device state (drvdata): the pgmap and the iomem resources. */
export interface DevDaxDrvdata {
  pgmap: DevPagemap | null;
  resources: Resource[];
  /** dax_alive(): false once killed (unbind). */
  alive: boolean;
}

/** drvdata of a bound device, or null. */
export function dax_drvdata(dev: DevDax): DevDaxDrvdata | null {
  return dev.driver === 'device_dax' ? (dev.drvdata as DevDaxDrvdata) : null;
}

/** The device_dax driver. */
export function device_dax_driver(deps: DeviceDaxDeps): DaxDriver {
  return {
    name: 'device_dax',
    probe(d: DevDax): void {
      const dev = d as DevDaxImpl;
      if (dev.region.isStatic && dev.ranges.length > 1) throw new Errno('EINVAL', 'static pgmap / multi-range device conflict');
      const resources: Resource[] = [];
      const release = (): void => {
        for (const r of resources) deps.iomem.remove(r);
      };
      for (let i = 0; i < dev.ranges.length; i++) {
        const r = dev.ranges[i]!;
        const res = new Resource(dev.name, r.start, r.end);
        if (!deps.iomem.insert(res)) {
          deps.log.warn(`dax_pmem ${dev.name}: mapping${i}: 0x${r.start.toString(16)}-0x${r.end.toString(16)} could not reserve range`);
          release();
          throw new Errno('EBUSY');
        }
        resources.push(res);
      }
      let pgmap: DevPagemap | null = null;
      if (dev.map) {
        pgmap = dev_dax_pgmap(dev.ranges, dev.align);
        try {
          pgmap.memremap_pages(deps.buddy, deps.sparse, Math.max(0, dev.target_node), dev.align);
        } catch (e) {
          release();
          throw e;
        }
      }
      dev.drvdata = { pgmap, resources, alive: true } satisfies DevDaxDrvdata;
    },
    remove(d: DevDax): void {
      const st = d.drvdata as DevDaxDrvdata;
      // dev_dax_kill → kill_dev_dax: no new faults, and every mapping of the device goes (unmap_mapping_range).
      st.alive = false;
      for (const vma of [...mappers(d)]) {
        const mm = vma.vm_mm as MmStruct;
        mm.zap_vma_range(vma, vma.start, vma.end, true);
      }
      st.pgmap?.memunmap_pages(deps.buddy, deps.sparse);
      for (const r of st.resources) deps.iomem.remove(r);
    },
  };
}

/** Every VMA mapping a device (the dax inode's i_mmap). */
const i_mmap = new WeakMap<DevDax, Set<VmArea>>();

/** The VMAs that map `dev`. */
export function mappers(dev: DevDax): Set<VmArea> {
  let s = i_mmap.get(dev);
  if (!s) i_mmap.set(dev, (s = new Set()));
  return s;
}

function vma_dev(vma: VmArea): DevDaxImpl {
  return (vma.file as File).private_data as DevDaxImpl;
}

/** check_vma(): the device alive, a shared mapping, start and end aligned; Errno otherwise. */
function check_vma(dev: DevDaxImpl, vma: VmArea): void {
  if (!dax_drvdata(dev)?.alive) throw new Errno('ENXIO');
  // prevent private mappings from being established
  if (!(vma.flags & VM_MAYSHARE)) throw new Errno('EINVAL', 'attempted private mapping');
  if (vma.start % dev.align !== 0 || vma.end % dev.align !== 0) throw new Errno('EINVAL', 'unaligned vma');
}

/**
 * Map the frames at phys with a leaf of `size` (ZONE_DEVICE pages, or special
 * pfns for map=0). As in Linux, a block holding a frame with a known error is
 * mapped like any other: the bad frame is a machine check when touched (mce.ts).
 */
function insert(vmf: VmFault, dev: DevDaxImpl, phys: number, size: number): number {
  const vma = vmf.vma;
  const mm = vma.vm_mm as MmStruct;
  const level = size === PUD_SIZE ? PUD_LEVEL : size === PMD_SIZE ? PMD_LEVEL : PTE_LEVEL;
  if (!dev.map) {
    // The RFC: no struct pages, so the mapping must never be copied (fork would need them).
    if (!(vma.flags & VM_DONTCOPY)) return VM_FAULT_SIGBUS;
    if (level === PTE_LEVEL) return vmf_insert_pfn(mm, vma, vmf.address, phys / PAGE_SIZE);
    const r = vmf_insert_pfn_huge(mm, vma, vmf.address, phys / PAGE_SIZE, level);
    return r & VM_FAULT_FALLBACK ? VM_FAULT_SIGBUS : r;
  }
  const va = alignDown(vmf.address, size);
  if (!mm.pgtables.is_none(va, level)) return VM_FAULT_NOPAGE;
  let flags = vm_page_prot(vma, true) | _PAGE_DEVMAP;
  if (level !== PTE_LEVEL) flags |= _PAGE_PSE;
  if (!mm.pgtables.set_leaf(va, level, mk_entry(phys / PAGE_SIZE, flags))) return VM_FAULT_OOM;
  mm.rss[MM_FILEPAGES]! += size / PAGE_SIZE;
  return VM_FAULT_NOPAGE;
}

/** __dev_dax_{pte,pmd,pud}_fault(). */
function dev_dax_fault_size(vmf: VmFault, fault_size: number): number {
  const dev = vma_dev(vmf.vma);
  try {
    check_vma(dev, vmf.vma);
  } catch {
    return VM_FAULT_SIGBUS;
  }
  if (fault_size === PAGE_SIZE) {
    if (dev.align > PAGE_SIZE) return VM_FAULT_SIGBUS; // alignment > fault size
  } else {
    if (dev.align > fault_size && fault_size === PMD_SIZE) return VM_FAULT_SIGBUS;
    if (fault_size < dev.align) return VM_FAULT_SIGBUS;
    if (fault_size > dev.align) return VM_FAULT_FALLBACK;
    // if we are outside of the VMA
    const addr = alignDown(vmf.address, fault_size);
    if (addr < vmf.vma.start || addr + fault_size > vmf.vma.end) return VM_FAULT_SIGBUS;
  }
  const pgoff = vmf.vma.pgoffOf(alignDown(vmf.address, fault_size));
  const phys = dax_pgoff_to_phys(dev, pgoff, fault_size);
  if (phys === -1) return VM_FAULT_SIGBUS;
  return insert(vmf, dev, phys, fault_size);
}

/** dev_dax_huge_fault(). */
function dev_dax_huge_fault(vmf: VmFault, order: number): number {
  if (order === 0) return dev_dax_fault_size(vmf, PAGE_SIZE);
  if (order === 9) return dev_dax_fault_size(vmf, PMD_SIZE);
  if (order === 18) return dev_dax_fault_size(vmf, PUD_SIZE);
  return VM_FAULT_SIGBUS;
}

/** dax_vm_ops. */
export const dax_vm_ops: VmOperations = {
  name: 'dax',
  fault: (vmf) => dev_dax_huge_fault(vmf, 0),
  huge_fault: dev_dax_huge_fault,
  // dev_dax_may_split(): only at the device's alignment.
  may_split(vma, addr) {
    if (addr % vma_dev(vma).align !== 0) throw new Errno('EINVAL');
  },
  pagesize: (vma) => vma_dev(vma).align,
  open(vma) {
    mappers(vma_dev(vma)).add(vma);
  },
  close(vma) {
    mappers(vma_dev(vma)).delete(vma);
  },
};

/** The /dev/daxN.M file operations; `lookup` finds the device of a minor. */
export function dax_fops(lookup: (minor: number) => DevDaxImpl | undefined, minorOf: (rdev: number) => number): FileOperations {
  return {
    // dax_open(): the cdev exists only while device_dax is bound (chrdev_open's ENXIO otherwise).
    open(inode: Inode, file: File): void {
      const dev = lookup(minorOf(inode.i_rdev));
      if (!dev || dev.driver !== 'device_dax') throw new Errno('ENXIO');
      file.private_data = dev;
    },
    mmap(file: File, vma: VmArea): void {
      const dev = file.private_data as DevDaxImpl;
      check_vma(dev, vma);
      vma.vm_ops = dax_vm_ops;
      vma.flags |= VM_HUGEPAGE;
      if (!dev.map) vma.flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
      mappers(dev).add(vma);
    },
    // dax_get_unmapped_area(): search for len + align and align the result to the file offset.
    get_unmapped_area(file: File, addr: number, len: number, pgoff: number, flags: number, mm: MmStruct): number {
      const dev = file.private_data as DevDaxImpl;
      if (addr || flags & MAP_FIXED) return mm.vmas.get_unmapped_area(len, addr, flags);
      const align = dev.align;
      const off = pgoff * PAGE_SIZE;
      try {
        const a = mm.vmas.get_unmapped_area(len + align, 0, flags);
        return a + ((((off - a) % align) + align) % align);
      } catch {
        return mm.vmas.get_unmapped_area(len, 0, flags);
      }
    },
  };
}
