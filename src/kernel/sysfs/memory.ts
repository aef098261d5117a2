/**
 * /sys/devices/system/memory (drivers/base/memory.c: block_size_bytes,
 * auto_online_blocks, memoryN/{state,online,valid_zones,phys_index,
 * phys_device,removable} and the memoryN/nodeM links of
 * register_memory_block_under_node; drivers/base/core.c online_show/store),
 * and the nodeM/memoryN links back. memoryN directories are built on lookup,
 * so a 16 TiB host does not build 8192 of them at boot.
 */
import { Errno } from '../../lib/errno.ts';
import { PseudoDir, PseudoSymlink, type PseudoDynamic, type PseudoNode } from '../fs/pseudo/index.ts';
import { MEM_ONLINE, mhp_online_type_from_str, online_type_to_str, type MemoryBlock } from '../mm/memory_block.ts';
import type { MemoryHotplug } from '../mm/memory_hotplug.ts';

/** One memoryN directory. */
function memoryBlockDir(hp: MemoryHotplug, mem: MemoryBlock): PseudoDir {
  const sub = hp.subsys;
  const d = new PseudoDir(0o755);
  d.file('phys_index', { show: () => sub.phys_index_show(mem) });
  d.file('state', { show: () => sub.state_show(mem), store: (buf) => sub.state_store(mem, buf) });
  // arch_get_memory_phys_device() is 0 on x86.
  d.file('phys_device', { show: () => '0\n' });
  // removable_show(): IS_ENABLED(CONFIG_MEMORY_HOTREMOVE) since Linux 5.10.
  d.file('removable', { show: () => '1\n' });
  d.file('valid_zones', { show: () => sub.valid_zones_show(mem) });
  d.file('online', { show: () => `${mem.state === MEM_ONLINE ? 1 : 0}\n`, store: (buf) => sub.online_store(mem, buf) });
  d.symlink(`node${mem.nid}`, `../../node/node${mem.nid}`);
  return d;
}

/** Register /sys/devices/system/memory under `sys` and the memory links in each nodeN directory. */
export function register_memory_sysfs(sys: PseudoDir, hp: MemoryHotplug, nids: readonly number[]): void {
  const dir = sys.dir('devices/system/memory');
  dir.file('block_size_bytes', { show: () => `${hp.block_size.toString(16)}\n` });
  dir.file('auto_online_blocks', {
    show: () => `${online_type_to_str[hp.default_online_type]}\n`,
    store: (buf) => {
      const t = mhp_online_type_from_str(buf);
      if (t < 0) throw new Errno('EINVAL', 'auto_online_blocks: unknown online type');
      hp.default_online_type = t;
    },
  });
  const cache = new Map<MemoryBlock, PseudoDir>();
  const lookupBlock = (name: string): MemoryBlock | undefined => {
    const m = /^memory(0|[1-9]\d*)$/.exec(name);
    return m ? hp.subsys.find_memory_block_by_id(Number(m[1])) : undefined;
  };
  dir.setDynamic({
    lookup: (name) => {
      const mem = lookupBlock(name);
      if (!mem) return undefined;
      let d = cache.get(mem);
      if (!d) cache.set(mem, (d = memoryBlockDir(hp, mem)));
      return d;
    },
    list: () => hp.subsys.ids().map((id) => `memory${id}`),
  });
  for (const nid of nids) {
    const nd = sys.dir(`devices/system/node/node${nid}`);
    const links = new Map<number, PseudoNode>();
    addDynamic(nd, {
      lookup: (name) => {
        const mem = lookupBlock(name);
        if (!mem || mem.nid !== nid) return undefined;
        let l = links.get(mem.id);
        if (!l) {
          l = new PseudoSymlink(`../../memory/memory${mem.id}`);
          links.set(mem.id, l);
        }
        return l;
      },
      list: () => hp.subsys.ids().filter((id) => hp.subsys.find_memory_block_by_id(id)!.nid === nid).map((id) => `memory${id}`),
    });
  }
}

/** Add dynamic children to a directory that may already have some (consulted first). */
function addDynamic(d: PseudoDir, more: PseudoDynamic): void {
  const prev = d.dynamic;
  if (!prev) {
    d.setDynamic(more);
    return;
  }
  d.setDynamic({
    lookup: (name) => prev.lookup(name) ?? more.lookup(name),
    list: () => [...prev.list(), ...more.list()],
  });
}
