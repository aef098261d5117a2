/**
 * Memory block devices (drivers/base/memory.c, drivers/base/core.c
 * device_online/device_offline/online_store, include/linux/memory.h): the
 * /sys/devices/system/memory/memoryN objects, one per memory_block_size_bytes()
 * of present sections, with their state machine and sysfs stores, errno for
 * errno. The work itself (online_pages, offline_pages, zone choice) is in
 * memory_hotplug.ts, reached through MemoryBlockOps.
 */
import { Errno, errnoName, type ErrnoName } from '../../lib/errno.ts';
import type { Zone } from './mmzone.ts';
import { PAGES_PER_SECTION } from './mem_section.ts';
import { GiB, MiB } from '../../lib/size.ts';

/** MIN_MEMORY_BLOCK_SIZE: one section. */
export const MIN_MEMORY_BLOCK_SIZE = 128 * MiB;
/** arch/x86/mm/init_64.c MAX_BLOCK_SIZE. */
const MAX_BLOCK_SIZE = 2 * GiB;
/** Boot memory end from which x86-64 considers large blocks. */
const MEM_SIZE_FOR_LARGE_BLOCK = 64 * GiB;
/**
 * probe_memory_block_size() (x86-64): 128 MiB below 64 GiB of boot memory end;
 * 2 GiB on bare metal above it; under a hypervisor the largest size dividing
 * the end of boot memory.
 */
export function probe_memory_block_size(boot_mem_end: number, hypervisor = false): number {
  if (boot_mem_end < MEM_SIZE_FOR_LARGE_BLOCK) return MIN_MEMORY_BLOCK_SIZE;
  if (!hypervisor) return MAX_BLOCK_SIZE;
  let bz = MAX_BLOCK_SIZE;
  for (; bz > MIN_MEMORY_BLOCK_SIZE; bz /= 2) if (boot_mem_end % bz === 0) break;
  return bz;
}

/** enum mmop (include/linux/memory_hotplug.h). */
export const MMOP_OFFLINE = 0;
export const MMOP_ONLINE = 1;
export const MMOP_ONLINE_KERNEL = 2;
export const MMOP_ONLINE_MOVABLE = 3;

/** online_type_to_str[] (mm/memory_hotplug.c). */
export const online_type_to_str: readonly string[] = ['offline', 'online', 'online_kernel', 'online_movable'];

/** Memory block states (include/linux/memory.h). */
export const MEM_ONLINE = 1 << 0;
export const MEM_GOING_OFFLINE = 1 << 1;
export const MEM_OFFLINE = 1 << 2;

/** NUMA_NO_NODE. */
export const NUMA_NO_NODE = -1;

/** struct memory_group (static groups only: dax/kmem's memory_group_register_static). */
export interface MemoryGroup {
  readonly id: number;
  readonly nid: number;
  /** Pages the group may ever hold (s.max_pages). */
  readonly max_pages: number;
  present_kernel_pages: number;
  present_movable_pages: number;
}

/** struct memory_block. */
export class MemoryBlock {
  state: number;
  /** The type the next device_online() uses (MMOP_OFFLINE: "online", i.e. the default zone). */
  online_type = MMOP_OFFLINE;
  /** The zone the block is onlined to; null when offline or when an early block spans several zones. */
  zone: Zone | null = null;

  constructor(
    /** Block id = phys_index. */
    readonly id: number,
    readonly start_section_nr: number,
    state: number,
    public nid: number,
    readonly group: MemoryGroup | null,
  ) {
    this.state = state;
  }
}

/** What a memory block needs from mm/memory_hotplug.c; the ints are 0 or -errno as in the kernel. */
export interface MemoryBlockOps {
  zone_for_pfn_range(online_type: number, nid: number, group: MemoryGroup | null, start_pfn: number, nr_pages: number): Zone;
  online_pages(pfn: number, nr_pages: number, zone: Zone, group: MemoryGroup | null): number;
  offline_pages(start_pfn: number, nr_pages: number, zone: Zone, group: MemoryGroup | null): number;
}

/** -errno → Errno (what a sysfs store returning a negative value makes write() fail with). */
export function errnoOf(ret: number, why?: string): Errno {
  return new Errno((errnoName(-ret) ?? 'EINVAL') as ErrnoName, why);
}

/** sysfs_streq(): equal up to one trailing newline on either side. */
function sysfs_streq(a: string, b: string): boolean {
  const t = (s: string): string => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return t(a) === t(b);
}

/** mhp_online_type_from_str(): the MMOP_* for a state/auto_online_blocks string, or -EINVAL. */
export function mhp_online_type_from_str(buf: string): number {
  for (let t = 0; t < online_type_to_str.length; t++) if (sysfs_streq(buf, online_type_to_str[t]!)) return t;
  return -22;
}

/** kstrtobool(): y/Y/t/T/1, n/N/f/F/0, on/off (first characters only, as the kernel reads them). */
export function kstrtobool(s: string): boolean {
  const c = s[0];
  if (c === 'y' || c === 'Y' || c === 't' || c === 'T' || c === '1') return true;
  if (c === 'n' || c === 'N' || c === 'f' || c === 'F' || c === '0') return false;
  if (c === 'o' || c === 'O') {
    const d = s[1];
    if (d === 'n' || d === 'N') return true;
    if (d === 'f' || d === 'F') return false;
  }
  throw new Errno('EINVAL');
}

/** The memory subsystem: every memory block of the host, keyed by block id. */
export class MemorySubsys {
  readonly sections_per_block: number;
  private readonly blocks = new Map<number, MemoryBlock>();

  constructor(
    /** memory_block_size_bytes(). */
    readonly block_size: number,
    private readonly ops: MemoryBlockOps,
  ) {
    this.sections_per_block = block_size / (PAGES_PER_SECTION * 4096);
  }

  /** Pages per block. */
  get pages_per_block(): number {
    return PAGES_PER_SECTION * this.sections_per_block;
  }

  /** First pfn of a block. */
  block_start_pfn(mem: MemoryBlock): number {
    return mem.start_section_nr * PAGES_PER_SECTION;
  }

  /** find_memory_block_by_id(). */
  find_memory_block_by_id(id: number): MemoryBlock | undefined {
    return this.blocks.get(id);
  }

  /** Block ids in ascending order (the memoryN directory listing). */
  ids(): number[] {
    return [...this.blocks.keys()].sort((a, b) => a - b);
  }

  /** Number of blocks. */
  get size(): number {
    return this.blocks.size;
  }

  /** add_memory_block(): -EEXIST when the id is taken. */
  add_memory_block(block_id: number, state: number, nid: number, group: MemoryGroup | null): number {
    if (this.blocks.has(block_id)) return -17;
    this.blocks.set(block_id, new MemoryBlock(block_id, block_id * this.sections_per_block, state, nid, group));
    return 0;
  }

  /** create_memory_block_devices(): offline blocks for [start, start+size) (bytes); on failure none are left. */
  create_memory_block_devices(start: number, size: number, nid: number, group: MemoryGroup | null): number {
    const first = start / this.block_size;
    const end = (start + size) / this.block_size;
    for (let id = first; id < end; id++) {
      const ret = this.add_memory_block(id, MEM_OFFLINE, nid, group);
      if (ret) {
        for (let k = first; k < id; k++) this.blocks.delete(k);
        return ret;
      }
    }
    return 0;
  }

  /** remove_memory_block_devices(). */
  remove_memory_block_devices(start: number, size: number): void {
    for (let id = start / this.block_size; id < (start + size) / this.block_size; id++) this.blocks.delete(id);
  }

  /** walk_memory_blocks(): cb for each existing block of [start, start+size), stopping at the first nonzero return. */
  walk_memory_blocks(start: number, size: number, cb: (mem: MemoryBlock) => number): number {
    if (size === 0) return 0;
    const first = Math.floor(start / this.block_size);
    const last = Math.floor((start + size - 1) / this.block_size);
    for (let id = first; id <= last; id++) {
      const mem = this.blocks.get(id);
      if (!mem) continue;
      const ret = cb(mem);
      if (ret) return ret;
    }
    return 0;
  }

  /** memory_block_online(). */
  private memory_block_online(mem: MemoryBlock): number {
    const start_pfn = this.block_start_pfn(mem);
    const nr_pages = this.pages_per_block;
    const zone = this.ops.zone_for_pfn_range(mem.online_type, mem.nid, mem.group, start_pfn, nr_pages);
    const ret = this.ops.online_pages(start_pfn, nr_pages, zone, mem.group);
    if (ret) return ret;
    mem.zone = zone;
    return 0;
  }

  /** memory_block_offline(): a block spanning several zones (no mem->zone) cannot go offline. */
  private memory_block_offline(mem: MemoryBlock): number {
    if (!mem.zone) return -22;
    const ret = this.ops.offline_pages(this.block_start_pfn(mem), this.pages_per_block, mem.zone, mem.group);
    if (ret) return ret;
    mem.zone = null;
    return 0;
  }

  /** memory_block_change_state(). */
  private memory_block_change_state(mem: MemoryBlock, to_state: number, from_state_req: number): number {
    if (mem.state !== from_state_req) return -22;
    if (to_state === MEM_OFFLINE) mem.state = MEM_GOING_OFFLINE;
    const ret = to_state === MEM_ONLINE ? this.memory_block_online(mem) : this.memory_block_offline(mem);
    mem.state = ret ? from_state_req : to_state;
    return ret;
  }

  /** memory_subsys_online(). */
  private memory_subsys_online(mem: MemoryBlock): number {
    if (mem.state === MEM_ONLINE) return 0;
    // When called via device_online() without configuring the online_type, default to MMOP_ONLINE.
    if (mem.online_type === MMOP_OFFLINE) mem.online_type = MMOP_ONLINE;
    const ret = this.memory_block_change_state(mem, MEM_ONLINE, MEM_OFFLINE);
    mem.online_type = MMOP_OFFLINE;
    return ret;
  }

  /** memory_subsys_offline(). */
  private memory_subsys_offline(mem: MemoryBlock): number {
    if (mem.state === MEM_OFFLINE) return 0;
    return this.memory_block_change_state(mem, MEM_OFFLINE, MEM_ONLINE);
  }

  /** device_online(): 1 when already online (dev->offline false), else the bus's result. */
  device_online(mem: MemoryBlock): number {
    if (mem.state === MEM_ONLINE) return 1;
    return this.memory_subsys_online(mem);
  }

  /** device_offline(): 1 when already offline. */
  device_offline(mem: MemoryBlock): number {
    if (mem.state === MEM_OFFLINE) return 1;
    return this.memory_subsys_offline(mem);
  }

  /** state_store(): EINVAL for an unknown string and for a block already in that state. */
  state_store(mem: MemoryBlock, buf: string): void {
    const online_type = mhp_online_type_from_str(buf);
    if (online_type < 0) throw new Errno('EINVAL', `memory${mem.id}/state: unknown state`);
    let ret: number;
    if (online_type === MMOP_OFFLINE) {
      ret = this.device_offline(mem);
    } else {
      mem.online_type = online_type;
      ret = this.device_online(mem);
    }
    if (ret < 0) throw errnoOf(ret, `memory${mem.id}/state`);
    if (ret) throw new Errno('EINVAL', `memory${mem.id} is already ${online_type === MMOP_OFFLINE ? 'offline' : 'online'}`);
  }

  /** online_store() (drivers/base/core.c): kstrtobool, then device_online/offline; "already" is success. */
  online_store(mem: MemoryBlock, buf: string): void {
    const val = kstrtobool(buf);
    const ret = val ? this.device_online(mem) : this.device_offline(mem);
    if (ret < 0) throw errnoOf(ret, `memory${mem.id}/online`);
  }

  /** state_show(). */
  state_show(mem: MemoryBlock): string {
    if (mem.state === MEM_ONLINE) return 'online\n';
    if (mem.state === MEM_OFFLINE) return 'offline\n';
    return 'going-offline\n';
  }

  /** valid_zones_show(): the zone of an online block ("none" when it spans zones), else default then the others. */
  valid_zones_show(mem: MemoryBlock): string {
    if (mem.state === MEM_ONLINE) return `${mem.zone ? mem.zone.name : 'none'}\n`;
    const start_pfn = this.block_start_pfn(mem);
    const nr = this.pages_per_block;
    const def = this.ops.zone_for_pfn_range(MMOP_ONLINE, mem.nid, mem.group, start_pfn, nr);
    let s = def.name;
    for (const t of [MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE]) {
      const z = this.ops.zone_for_pfn_range(t, mem.nid, mem.group, start_pfn, nr);
      if (z !== def) s += ` ${z.name}`;
    }
    return s + '\n';
  }

  /** phys_index_show(): %08lx. */
  phys_index_show(mem: MemoryBlock): string {
    return `${(mem.start_section_nr / this.sections_per_block).toString(16).padStart(8, '0')}\n`;
  }
}
