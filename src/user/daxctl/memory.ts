/**
 * libdaxctl's memory object: the memory blocks of a device in system-ram mode
 * and the operations on them (pmem/ndctl daxctl/lib/libdaxctl.c:
 * daxctl_dev_alloc_mem, daxctl_memory_op, memblock_in_dev, memblock_is_online,
 * online_one_memblock, offline_one_memblock, memblock_find_zone,
 * daxctl_memory_online_with_zone, daxctl_memory_is_movable,
 * daxctl_dev_will_auto_online_memory).
 *
 * Blocks are found by walking /sys/devices/system/node/nodeN (the device's
 * target node) for memoryX entries and keeping those whose phys_index ×
 * block_size_bytes falls in [resource, resource + size] — inclusive of the end,
 * as the real library compares.
 */
import type { DaxctlDev } from './libdaxctl.ts';
import { device_model_is_dax_bus, daxctl_dev_is_enabled, dev_driver_name } from './libdaxctl.ts';
import { strerror, strtoull } from './sysfs.ts';

const ENXIO = 6;
const EACCES = 13;
const EBUSY = 16;

/** enum memory_zones (libdaxctl-private.h): 0 means "not yet known". */
export const MEM_ZONE_UNKNOWN = 1;
export const MEM_ZONE_MOVABLE = 2;
export const MEM_ZONE_NORMAL = 3;
/** A zone a device's memory can be onlined to. */
export type OnlineZone = typeof MEM_ZONE_MOVABLE | typeof MEM_ZONE_NORMAL;

/** What each zone is called when writing `state` and reading `valid_zones`. */
const STATE_STRINGS: Record<OnlineZone, string> = { [MEM_ZONE_MOVABLE]: 'online_movable', [MEM_ZONE_NORMAL]: 'online' };
const ZONE_STRINGS: Record<number, string> = { [MEM_ZONE_UNKNOWN]: 'mixed', [MEM_ZONE_MOVABLE]: 'Movable', [MEM_ZONE_NORMAL]: 'Normal' };

type MemoryOp = 'online' | 'online_no_movable' | 'offline' | 'is_online' | 'count' | 'get_zone';

/** struct daxctl_memory. */
export interface DaxctlMemory {
  readonly dev: DaxctlDev;
  blockSize: number;
  readonly nodePath: string | null;
  /** The zone seen by the last scan: 0, MEM_ZONE_UNKNOWN (mixed) or a zone. */
  zone: number;
}

/** daxctl_dev_alloc_mem(): only a dax-bus device bound to kmem has one. */
export function daxctl_dev_alloc_mem(dev: DaxctlDev): DaxctlMemory | null {
  if (!device_model_is_dax_bus(dev) || !daxctl_dev_is_enabled(dev)) return null;
  if (dev_driver_name(dev) !== 'kmem') return null;
  const ctx = dev.ctx;
  let blockSize = 0;
  const buf = ctx.readAttr('/sys/devices/system/memory/block_size_bytes');
  if (typeof buf === 'string') {
    blockSize = strtoull(buf, 16);
    if (blockSize === 0) {
      ctx.err('daxctl_dev_alloc_mem', `${dev.devname}: Unable to determine memblock size: ${strerror(ctx.errno)}\n`);
      blockSize = 0;
    }
  }
  const mem: DaxctlMemory = {
    dev,
    blockSize,
    nodePath: dev.targetNode >= 0 ? `/sys/devices/system/node/node${dev.targetNode}` : null,
    zone: 0,
  };
  dev.mem = mem;
  return mem;
}

/** memblock_is_online(): 1, 0, or -errno. */
function memblock_is_online(mem: DaxctlMemory, memblock: string): number {
  if (!mem.nodePath) return -ENXIO;
  const path = `${mem.nodePath}/${memblock}/state`;
  const buf = mem.dev.ctx.readAttr(path);
  if (typeof buf !== 'string') {
    mem.dev.ctx.err('memblock_is_online', `${mem.dev.devname}: Failed to read ${path}: ${strerror(-buf)}\n`);
    return buf;
  }
  return buf.startsWith('online') ? 1 : 0;
}

/** online_one_memblock(): 0 when this call onlined it, 1 when it was online already. */
function online_one_memblock(mem: DaxctlMemory, memblock: string, zone: OnlineZone): number {
  if (!mem.nodePath) return -ENXIO;
  const path = `${mem.nodePath}/${memblock}/state`;
  let rc = memblock_is_online(mem, memblock);
  if (rc) return rc;
  rc = mem.dev.ctx.writeAttr(path, STATE_STRINGS[zone]);
  // Onlined by some other agent meanwhile: the zone scan afterwards judges it.
  if (rc && memblock_is_online(mem, memblock) === 1) return 0;
  return rc;
}

/** offline_one_memblock(): 0 when this call offlined it, 1 when it was offline already. */
function offline_one_memblock(mem: DaxctlMemory, memblock: string): number {
  if (!mem.nodePath) return -ENXIO;
  const path = `${mem.nodePath}/${memblock}/state`;
  let rc = memblock_is_online(mem, memblock);
  if (rc < 0) return rc;
  if (!rc) return 1;
  rc = mem.dev.ctx.writeAttr(path, 'offline');
  if (rc) {
    if (!memblock_is_online(mem, memblock)) return 1;
    mem.dev.ctx.err('offline_one_memblock', `${mem.dev.devname}: Failed to offline ${path}: ${strerror(-rc)}\n`);
  }
  return rc;
}

/** memblock_find_zone(): records the block's zone; mixed zones make mem.zone UNKNOWN. */
function memblock_find_zone(mem: DaxctlMemory, memblock: string, status: { inconsistent: boolean }): number {
  const rc = memblock_is_online(mem, memblock);
  if (rc < 0) return rc;
  if (rc === 0) return -ENXIO;
  if (!mem.nodePath) return -ENXIO;
  const path = `${mem.nodePath}/${memblock}/valid_zones`;
  const buf = mem.dev.ctx.readAttr(path);
  if (typeof buf !== 'string') {
    mem.dev.ctx.err('memblock_find_zone', `${mem.dev.devname}: Failed to read ${path}: ${strerror(-buf)}\n`);
    return buf;
  }
  let cur = MEM_ZONE_UNKNOWN;
  if (buf === ZONE_STRINGS[MEM_ZONE_MOVABLE]) cur = MEM_ZONE_MOVABLE;
  else if (buf === ZONE_STRINGS[MEM_ZONE_NORMAL]) cur = MEM_ZONE_NORMAL;
  if (mem.zone) {
    if (mem.zone !== cur) status.inconsistent = true;
  } else mem.zone = cur;
  return 0;
}

/** memblock_in_dev(): 1 when the block starts inside [resource, resource + size]. */
function memblock_in_dev(mem: DaxctlMemory, memblock: string): number {
  const dev = mem.dev;
  const ctx = dev.ctx;
  const buf = ctx.readAttr(`/sys/devices/system/memory/${memblock}/phys_index`);
  if (typeof buf !== 'string') {
    ctx.err('memblock_in_dev', `${dev.devname}: ${memblock}: Unable to determine phys_index: ${strerror(-buf)}\n`);
    return buf;
  }
  const physIndex = strtoull(buf, 16);
  const devStart = dev.resource;
  if (!devStart) {
    ctx.err('memblock_in_dev', `${dev.devname}: Unable to determine resource\n`);
    return -EACCES;
  }
  const devEnd = devStart + dev.size;
  if (!mem.blockSize) {
    ctx.err('memblock_in_dev', `${dev.devname}: Unable to determine memory block size\n`);
    return -ENXIO;
  }
  const res = physIndex * mem.blockSize;
  return res >= devStart && res <= devEnd ? 1 : 0;
}

/** op_for_one_memblock(): 0 counts the block. */
function op_for_one_memblock(mem: DaxctlMemory, memblock: string, op: MemoryOp, status: { inconsistent: boolean }): number {
  switch (op) {
    case 'online':
      return online_one_memblock(mem, memblock, MEM_ZONE_MOVABLE);
    case 'online_no_movable':
      return online_one_memblock(mem, memblock, MEM_ZONE_NORMAL);
    case 'offline':
      return offline_one_memblock(mem, memblock);
    case 'is_online': {
      const rc = memblock_is_online(mem, memblock);
      return rc < 0 ? rc : rc ? 0 : 1;
    }
    case 'count':
      return 0;
    case 'get_zone':
      return memblock_find_zone(mem, memblock, status);
  }
}

/** daxctl_memory_op(): apply `op` to each of the device's blocks; the count of blocks it applied to, or -errno. */
function daxctl_memory_op(mem: DaxctlMemory, op: MemoryOp): number {
  const ctx = mem.dev.ctx;
  if (!mem.nodePath) {
    ctx.err('daxctl_memory_op', `${mem.dev.devname}: Failed to get node_path\n`);
    return -ENXIO;
  }
  const names = ctx.readdir(mem.nodePath);
  if (!names) return -ctx.errno;
  const status = { inconsistent: false };
  let count = 0;
  for (const name of names) {
    if (!name.startsWith('memory')) continue;
    let rc = memblock_in_dev(mem, name);
    if (rc < 0) return rc;
    if (rc === 0) continue;
    rc = op_for_one_memblock(mem, name, op, status);
    if (rc < 0) return rc;
    if (rc === 0) count++;
  }
  if (status.inconsistent) mem.zone = MEM_ZONE_UNKNOWN;
  return count;
}

/** daxctl_memory_online_with_zone(): the blocks onlined, or -errno (EBUSY on a zone race). */
function daxctl_memory_online_with_zone(mem: DaxctlMemory, zone: OnlineZone): number {
  let rc = daxctl_memory_op(mem, zone === MEM_ZONE_MOVABLE ? 'online' : 'online_no_movable');
  if (rc) return rc;
  mem.zone = 0;
  rc = daxctl_memory_op(mem, 'get_zone');
  if (rc) return rc;
  if (mem.zone !== zone) {
    mem.dev.ctx.err(
      'daxctl_memory_online_with_zone',
      `${mem.dev.devname}:\n  WARNING: detected a race while onlining memory\n  See 'man daxctl-reconfigure-device' for more details\n`,
    );
    return -EBUSY;
  }
  return rc;
}

/** daxctl_memory_online(): to ZONE_MOVABLE. */
export function daxctl_memory_online(mem: DaxctlMemory): number {
  return daxctl_memory_online_with_zone(mem, MEM_ZONE_MOVABLE);
}

/** daxctl_memory_online_no_movable(): to ZONE_NORMAL. */
export function daxctl_memory_online_no_movable(mem: DaxctlMemory): number {
  return daxctl_memory_online_with_zone(mem, MEM_ZONE_NORMAL);
}

/** daxctl_memory_offline(): the blocks offlined, or -errno. */
export function daxctl_memory_offline(mem: DaxctlMemory): number {
  return daxctl_memory_op(mem, 'offline');
}

/** daxctl_memory_is_online(): how many blocks are online, or -errno. */
export function daxctl_memory_is_online(mem: DaxctlMemory): number {
  return daxctl_memory_op(mem, 'is_online');
}

/** daxctl_memory_num_sections(): how many blocks the device has. */
export function daxctl_memory_num_sections(mem: DaxctlMemory): number {
  return daxctl_memory_op(mem, 'count');
}

/** daxctl_memory_is_movable(): 1 when every block is in ZONE_MOVABLE, 0 if not, -errno (e.g. a block offline). */
export function daxctl_memory_is_movable(mem: DaxctlMemory): number {
  mem.zone = 0;
  const rc = daxctl_memory_op(mem, 'get_zone');
  if (rc < 0) return rc;
  return mem.zone === MEM_ZONE_MOVABLE ? 1 : 0;
}

/** daxctl_dev_will_auto_online_memory(): auto_online_blocks says online or online_movable. */
export function daxctl_dev_will_auto_online_memory(dev: DaxctlDev): boolean {
  const buf = dev.ctx.readAttr('/sys/devices/system/memory/auto_online_blocks');
  if (typeof buf !== 'string') {
    dev.ctx.err('daxctl_dev_will_auto_online_memory', `${dev.devname}: Unable to determine auto-online policy: ${strerror(-buf)}\n`);
    return false;
  }
  return buf.startsWith('online');
}
