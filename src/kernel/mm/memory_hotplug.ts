/**
 * Memory hotplug (mm/memory_hotplug.c: add_memory_driver_managed,
 * register_memory_resource, add_memory_resource, __add_pages, online_pages,
 * offline_pages, remove_memory/try_remove_memory, zone_for_pfn_range,
 * move_pfn_range_to_zone, shrink_zone_span, mhp_get_default_online_type;
 * arch/x86/mm/init_64.c probe_memory_block_size, arch_add_memory;
 * mm/sparse.c section_activate/section_deactivate; mm/sparse-vmemmap.c
 * vmemmap_populate_hugepages; drivers/base/memory.c memory_dev_init and
 * early_node_zone_for_memory_block; mm/memory_hotplug.c memory groups).
 *
 * Where the model knowingly differs:
 *  - offline_pages() needs every page of the block free in the buddy allocator.
 *    Linux isolates the range and migrates movable (LRU) pages away; the model
 *    has no page migration, so a block holding any allocated page fails with
 *    EBUSY, in ZONE_MOVABLE too (where Linux would migrate, retrying until a
 *    signal). Unmovable pages in a kernel zone are EBUSY in Linux as well.
 *  - The memmap of hot-added memory comes from the page allocator as with
 *    memmap_on_memory off (hotplug_memmap.ts); iomem in hotplug_resource.ts.
 *  - Direct-map accounting follows memblock in this model, so hot-added ranges
 *    are added to memblock (as CONFIG_ARCH_KEEP_MEMBLOCK architectures do).
 *  - Only the default "contig-zones" online policy; no memmap_on_memory, no
 *    dynamic memory groups, no node hot-add (the node must exist at boot).
 */
import { MiB, PAGE_SIZE } from '../../lib/size.ts';
import type { KernelLog } from '../printk.ts';
import type { Resource, ResourceTree } from '../resource.ts';
import { HotplugMemmap, type MemmapBlock } from './hotplug_memmap.ts';
import { release_mem_region_adjustable, request_region, system_ram_pages } from './hotplug_resource.ts';
import type { Memblock } from './memblock.ts';
import {
  MEM_OFFLINE, MEM_ONLINE, MMOP_OFFLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE, MemorySubsys, NUMA_NO_NODE, probe_memory_block_size,
  type MemoryBlock, type MemoryBlockOps, type MemoryGroup,
} from './memory_block.ts';
import { ZONE_MOVABLE, ZONE_NORMAL, type Zone } from './mmzone.ts';
import type { PageAllocator } from './page_alloc.ts';
import { MAX_PHYSMEM_BITS, PAGES_PER_SECTION, PAGES_PER_SUBSECTION, type SparseMem } from './sparse.ts';

export { NOT_BUSY, request_region } from './hotplug_resource.ts';
export { MIN_MEMORY_BLOCK_SIZE, probe_memory_block_size } from './memory_block.ts';

/** MHP_NID_IS_MGID: the nid argument is a memory group id. */
export const MHP_NID_IS_MGID = 1 << 2;
/** pageblock_nr_pages (order 9). */
const PAGEBLOCK_NR_PAGES = 512;

/** What memory hotplug works on. */
export interface HotplugDeps {
  buddy: PageAllocator;
  sparse: SparseMem;
  iomem: ResourceTree;
  memblock: Memblock;
  log: KernelLog;
  /** max_pfn at boot (probe_memory_block_size). */
  maxPfn: number;
  /** memhp_default_state= (MMOP_*); MMOP_OFFLINE when absent. */
  online_type?: number;
  /** movable_node on the command line. */
  movable_node?: boolean;
}

/** The memory hotplug state of one host. */
export class MemoryHotplug implements MemoryBlockOps {
  readonly subsys: MemorySubsys;
  /**
   * mhp_default_online_type: MMOP_OFFLINE, CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE
   * (the Kconfig default, and what Fedora, RHEL and Ubuntu ship: udev rules or
   * daxctl online the blocks).
   */
  default_online_type = MMOP_OFFLINE;
  /** movable_node (boot parameter): off. */
  movable_node_enabled = false;
  /** Why the last offline_pages() failed (its pr_debug), for tests. */
  last_offline_failure = '';
  private readonly memmap: HotplugMemmap;
  private readonly groups = new Map<number, MemoryGroup>();
  private nextGroupId = 0;

  constructor(private readonly d: HotplugDeps) {
    const bz = probe_memory_block_size(d.maxPfn * PAGE_SIZE);
    d.log.info(`x86/mm: Memory block size: ${bz / MiB}MB`);
    this.default_online_type = d.online_type ?? MMOP_OFFLINE;
    this.movable_node_enabled = d.movable_node ?? false;
    this.memmap = new HotplugMemmap(d.buddy, d.sparse);
    this.subsys = new MemorySubsys(bz, this);
    this.memory_dev_init();
  }

  /** Pages the page allocator gave to hot-added memmaps (nr_memmap_pages). */
  get nr_memmap_pages(): number {
    return this.memmap.nr_memmap_pages;
  }

  /** Every block of struct pages held for hot-added sections. */
  memmap_blocks(): MemmapBlock[] {
    return this.memmap.memmap_blocks();
  }

  /** memory_block_size_bytes(). */
  get block_size(): number {
    return this.subsys.block_size;
  }

  /** memory_dev_init() + register_memory_blocks_under_node_early(): a block per present sections, online. */
  private memory_dev_init(): void {
    const sp = this.d.sparse;
    const spb = this.subsys.sections_per_block;
    for (let s = sp.next_present_section_nr(-1); s >= 0; s = sp.next_present_section_nr(s)) {
      const id = Math.floor(s / spb);
      const nid = sp.section_nid(s);
      let mem = this.subsys.find_memory_block_by_id(id);
      if (!mem) {
        this.subsys.add_memory_block(id, MEM_ONLINE, nid, null);
        mem = this.subsys.find_memory_block_by_id(id)!;
        mem.zone = this.early_node_zone_for_memory_block(mem, nid);
      } else if (mem.nid !== nid) {
        // memory_block_add_nid(MEMINIT_EARLY): a block spanning nodes has no single zone.
        mem.zone = null;
        mem.nid = nid;
      }
    }
  }

  /** early_node_zone_for_memory_block(): the only zone of nid the block intersects, else null. */
  private early_node_zone_for_memory_block(mem: MemoryBlock, nid: number): Zone | null {
    const start = this.subsys.block_start_pfn(mem);
    let match: Zone | null = null;
    for (const z of this.d.buddy.zones(nid)) {
      if (!zone_intersects(z, start, this.subsys.pages_per_block)) continue;
      if (match) return null;
      match = z;
    }
    return match;
  }

  /** default_kernel_zone_for_pfn(). */
  private default_kernel_zone_for_pfn(nid: number, start_pfn: number, nr_pages: number): Zone {
    const zones = this.d.buddy.zones(nid);
    for (let zid = 0; zid < ZONE_NORMAL; zid++) if (zone_intersects(zones[zid]!, start_pfn, nr_pages)) return zones[zid]!;
    return zones[ZONE_NORMAL]!;
  }

  /** default_zone_for_pfn(): inherit the zone the range already lies in, else a kernel zone. */
  private default_zone_for_pfn(nid: number, start_pfn: number, nr_pages: number): Zone {
    const kernel_zone = this.default_kernel_zone_for_pfn(nid, start_pfn, nr_pages);
    const movable_zone = this.d.buddy.zone(nid, ZONE_MOVABLE);
    const in_kernel = zone_intersects(kernel_zone, start_pfn, nr_pages);
    const in_movable = zone_intersects(movable_zone, start_pfn, nr_pages);
    if (in_kernel !== in_movable) return in_kernel ? kernel_zone : movable_zone;
    return this.movable_node_enabled ? movable_zone : kernel_zone;
  }

  /** zone_for_pfn_range() with online_policy "contig-zones". */
  zone_for_pfn_range(online_type: number, nid: number, _group: MemoryGroup | null, start_pfn: number, nr_pages: number): Zone {
    if (online_type === MMOP_ONLINE_KERNEL) return this.default_kernel_zone_for_pfn(nid, start_pfn, nr_pages);
    if (online_type === MMOP_ONLINE_MOVABLE) return this.d.buddy.zone(nid, ZONE_MOVABLE);
    return this.default_zone_for_pfn(nid, start_pfn, nr_pages);
  }

  /** move_pfn_range_to_zone(): grow the zone's span and link the sections to it (the page flags' zone). */
  private move_pfn_range_to_zone(zone: Zone, start_pfn: number, nr_pages: number): void {
    const old_end = zone.zone_end_pfn;
    // resize_zone_range() (init_currently_empty_zone for an empty zone).
    if (zone.spanned_pages === 0 || start_pfn < zone.zone_start_pfn) {
      const end = zone.spanned_pages === 0 ? start_pfn + nr_pages : Math.max(start_pfn + nr_pages, old_end);
      zone.zone_start_pfn = start_pfn;
      zone.spanned_pages = end - start_pfn;
    } else {
      zone.spanned_pages = Math.max(start_pfn + nr_pages, old_end) - zone.zone_start_pfn;
    }
    for (let p = start_pfn; p < start_pfn + nr_pages; p += PAGES_PER_SECTION) this.d.buddy.section_zone.set(p / PAGES_PER_SECTION, zone);
  }

  /** adjust_present_page_count(). */
  private adjust_present_page_count(zone: Zone, group: MemoryGroup | null, nr_pages: number): void {
    zone.present_pages += nr_pages;
    if (group && zone.idx === ZONE_MOVABLE) group.present_movable_pages += nr_pages;
    else if (group) group.present_kernel_pages += nr_pages;
  }

  /** online_pages(): the block's pages join `zone` and are freed into it; 0 or -errno. */
  online_pages(pfn: number, nr_pages: number, zone: Zone, group: MemoryGroup | null): number {
    if (!nr_pages || pfn % PAGEBLOCK_NR_PAGES !== 0 || (pfn + nr_pages) % PAGES_PER_SECTION !== 0) return -22;
    this.move_pfn_range_to_zone(zone, pfn, nr_pages);
    const need_zonelists_rebuild = !zone.populated;
    // online_pages_range(): generic_online_page → __free_pages_core, then online_mem_sections().
    this.d.buddy.free_reserved_pages(pfn, pfn + nr_pages);
    this.d.sparse.online_mem_sections(pfn, pfn + nr_pages);
    this.adjust_present_page_count(zone, group, nr_pages);
    if (need_zonelists_rebuild) this.d.buddy.build_all_zonelists();
    this.d.buddy.init_per_zone_wmark_min();
    return 0;
  }

  /** Free buddy pages in [start_pfn, end_pfn) (what test_pages_isolated checks). */
  private free_pages_in(start_pfn: number, end_pfn: number): number {
    let n = 0;
    for (let pfn = start_pfn; pfn < end_pfn; ) {
      const z = this.d.buddy.zone_of(pfn);
      const blk = z?.free_block_containing(pfn);
      if (!blk) {
        pfn++;
        continue;
      }
      n += 1 << blk.order;
      pfn = blk.pfn + (1 << blk.order);
    }
    return n;
  }

  /** offline_pages(): 0, -EINVAL (holes, several zones) or -EBUSY (a page in use; see the header). */
  offline_pages(start_pfn: number, nr_pages: number, zone: Zone, group: MemoryGroup | null): number {
    const end_pfn = start_pfn + nr_pages;
    const fail = (ret: number, reason: string): number => {
      this.last_offline_failure = `memory offlining [mem ${hex10(start_pfn * PAGE_SIZE)}-${hex10(end_pfn * PAGE_SIZE - 1)}] failed due to ${reason}`;
      return ret;
    };
    if (!nr_pages || start_pfn % PAGEBLOCK_NR_PAGES !== 0 || end_pfn % PAGES_PER_SECTION !== 0) return -22;
    if (system_ram_pages(this.d.iomem, start_pfn, end_pfn) !== nr_pages) return fail(-22, 'memory holes');
    const buddy = this.d.buddy;
    if (buddy.zone_of(start_pfn) !== zone || buddy.zone_of(end_pfn - 1) !== zone) return fail(-22, 'multizone range');
    // start_isolate_page_range()/scan_movable_pages(): no migration in the model.
    if (this.free_pages_in(start_pfn, end_pfn) !== nr_pages) {
      return fail(-16, zone.idx === ZONE_MOVABLE ? 'unmovable page' : 'failure to isolate range');
    }
    const managed = buddy.__offline_isolated_pages(start_pfn, end_pfn);
    this.d.sparse.offline_mem_sections(start_pfn, end_pfn);
    buddy.adjust_managed_page_count(start_pfn, -managed);
    this.adjust_present_page_count(zone, group, -nr_pages);
    buddy.init_per_zone_wmark_min();
    if (!zone.populated) buddy.build_all_zonelists();
    this.remove_pfn_range_from_zone(zone, start_pfn, nr_pages);
    this.last_offline_failure = '';
    return 0;
  }

  /** remove_pfn_range_from_zone(): unlink the sections, then shrink_zone_span(). */
  private remove_pfn_range_from_zone(zone: Zone, start_pfn: number, nr_pages: number): void {
    const end_pfn = start_pfn + nr_pages;
    for (let p = start_pfn; p < end_pfn; p += PAGES_PER_SECTION) this.d.buddy.section_zone.set(p / PAGES_PER_SECTION, null);
    if (zone.zone_start_pfn === start_pfn) {
      const pfn = this.find_smallest_section_pfn(zone, end_pfn, zone.zone_end_pfn);
      if (pfn >= 0) {
        zone.spanned_pages = zone.zone_end_pfn - pfn;
        zone.zone_start_pfn = pfn;
      } else {
        zone.zone_start_pfn = 0;
        zone.spanned_pages = 0;
      }
    } else if (zone.zone_end_pfn === end_pfn) {
      const pfn = this.find_biggest_section_pfn(zone, zone.zone_start_pfn, start_pfn);
      if (pfn >= 0) {
        zone.spanned_pages = pfn - zone.zone_start_pfn + 1;
      } else {
        zone.zone_start_pfn = 0;
        zone.spanned_pages = 0;
      }
    }
  }

  /** Is the subsection at pfn online memory of `zone` (the checks of find_smallest_section_pfn)? */
  private online_in_zone(pfn: number, zone: Zone): boolean {
    const sec = Math.floor(pfn / PAGES_PER_SECTION);
    return this.d.sparse.online_section_nr(sec) && this.d.sparse.pfn_valid(pfn) && this.d.buddy.zone_of(pfn) === zone;
  }

  /** find_smallest_section_pfn(): first online subsection of zone in [start, end), or -1. */
  private find_smallest_section_pfn(zone: Zone, start: number, end: number): number {
    for (let pfn = start; pfn < end; pfn += PAGES_PER_SUBSECTION) {
      if (!this.d.sparse.online_section_nr(Math.floor(pfn / PAGES_PER_SECTION))) {
        pfn = (Math.floor(pfn / PAGES_PER_SECTION) + 1) * PAGES_PER_SECTION - PAGES_PER_SUBSECTION;
        continue;
      }
      if (this.online_in_zone(pfn, zone)) return pfn;
    }
    return -1;
  }

  /** find_biggest_section_pfn(): last pfn of the last online subsection of zone in [start, end), or -1. */
  private find_biggest_section_pfn(zone: Zone, start: number, end: number): number {
    for (let pfn = end - 1; pfn >= start; pfn -= PAGES_PER_SUBSECTION) {
      if (!this.d.sparse.online_section_nr(Math.floor(pfn / PAGES_PER_SECTION))) {
        pfn = Math.floor(pfn / PAGES_PER_SECTION) * PAGES_PER_SECTION + PAGES_PER_SUBSECTION - 1;
        continue;
      }
      if (this.online_in_zone(pfn, zone)) return pfn;
    }
    return -1;
  }

  /** memory_group_register_static(): a group for one driver's memory on nid; its id or -errno. */
  memory_group_register_static(nid: number, max_pages: number): number {
    if (!max_pages) return -22;
    if (!(nid >= 0 && nid < this.d.buddy.nr_node_ids)) return -22;
    const id = this.nextGroupId++;
    this.groups.set(id, { id, nid, max_pages, present_kernel_pages: 0, present_movable_pages: 0 });
    return id;
  }

  /** memory_group_unregister(): -EBUSY while memory blocks still belong to it. */
  memory_group_unregister(mgid: number): number {
    const g = this.groups.get(mgid);
    if (!g) return -22;
    for (const id of this.subsys.ids()) if (this.subsys.find_memory_block_by_id(id)!.group === g) return -16;
    this.groups.delete(mgid);
    return 0;
  }

  /** check_hotplug_memory_range(): block-size aligned and not empty. */
  private check_hotplug_memory_range(start: number, size: number): number {
    const bz = this.block_size;
    if (!size || start % bz !== 0 || size % bz !== 0) {
      this.d.log.err(`Block size [0x${bz.toString(16)}] unaligned hotplug range: start 0x${start.toString(16)}, size 0x${size.toString(16)}`);
      return -22;
    }
    return 0;
  }

  /** register_memory_resource(): the busy "System RAM..." resource; -E2BIG out of range, -EEXIST taken. */
  private register_memory_resource(start: number, size: number, name: string): Resource | number {
    const max = 2 ** MAX_PHYSMEM_BITS - 1;
    if (!(start >= 0 && size > 0 && start + size - 1 <= max)) {
      this.d.log.warn(`Hotplug memory [0x${start.toString(16)}-0x${(start + size).toString(16)}] exceeds maximum addressable range [0x0-0x${max.toString(16)}]`);
      return -7;
    }
    return request_region(this.d.iomem, start, size, name) ?? -17;
  }

  /** add_memory_driver_managed(): 0 or -errno; the resource name must be "System RAM (...)". */
  add_memory_driver_managed(nid: number, start: number, size: number, resource_name: string, mhp_flags: number): number {
    if (!resource_name.startsWith('System RAM (') || !resource_name.endsWith(')')) return -22;
    const res = this.register_memory_resource(start, size, resource_name);
    if (typeof res === 'number') return res;
    const rc = this.add_memory_resource(nid, res, mhp_flags);
    if (rc < 0) this.d.iomem.remove(res);
    return rc;
  }

  /** add_memory_resource(): memmap, memory blocks, then onlining per the default online type. */
  add_memory_resource(nid: number, res: Resource, mhp_flags: number): number {
    const start = res.start;
    const size = res.end - res.start + 1;
    let ret = this.check_hotplug_memory_range(start, size);
    if (ret) return ret;
    let group: MemoryGroup | null = null;
    if (mhp_flags & MHP_NID_IS_MGID) {
      group = this.groups.get(nid) ?? null;
      if (!group) return -22;
      nid = group.nid;
    }
    if (!(nid >= 0 && nid < this.d.buddy.nr_node_ids)) {
      this.d.log.warn(`node ${nid} was absent from the node_possible_map`);
      return -22;
    }
    this.d.memblock.add_node(start, size, nid);
    ret = this.memmap.arch_add_memory(nid, start, size);
    if (ret === 0) {
      ret = this.subsys.create_memory_block_devices(start, size, nid, group);
      if (ret) this.memmap.arch_remove_memory(start, size);
    }
    if (ret) {
      this.d.memblock.remove(start, size);
      return ret;
    }
    if (this.default_online_type !== MMOP_OFFLINE) {
      this.subsys.walk_memory_blocks(start, size, (mem) => {
        mem.online_type = this.default_online_type;
        return this.subsys.device_online(mem);
      });
    }
    return 0;
  }

  /** remove_memory() → try_remove_memory(): -EBUSY (with a warning) while any block is online. */
  remove_memory(start: number, size: number): number {
    if (this.check_hotplug_memory_range(start, size)) return -22;
    let nid = NUMA_NO_NODE;
    const rc = this.subsys.walk_memory_blocks(start, size, (mem) => {
      nid = mem.nid;
      if (mem.state === MEM_OFFLINE) return 0;
      const begin = this.subsys.block_start_pfn(mem) * PAGE_SIZE;
      this.d.log.warn(`removing memory fails, because memory [${pa(begin)}-${pa(begin + this.block_size - 1)}] is onlined`);
      return -16;
    });
    if (rc) return rc;
    void nid; // try_offline_node(): nodes stay online in the model.
    this.subsys.remove_memory_block_devices(start, size);
    this.memmap.arch_remove_memory(start, size);
    this.d.memblock.remove(start, size);
    release_mem_region_adjustable(this.d.iomem, start, size);
    return 0;
  }


}

/** zone_intersects(). */
export function zone_intersects(zone: Zone, start_pfn: number, nr_pages: number): boolean {
  if (zone.spanned_pages === 0) return false;
  return start_pfn < zone.zone_end_pfn && start_pfn + nr_pages > zone.zone_start_pfn;
}

/** %pa: 0x and 16 hex digits. */
function pa(addr: number): string {
  return `0x${addr.toString(16).padStart(16, '0')}`;
}

/** %#010llx. */
function hex10(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
