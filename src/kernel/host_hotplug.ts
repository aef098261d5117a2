/**
 * Wiring memory hotplug into a host: /sys/devices/system/memory and the
 * nodeN/memoryM links (drivers/base/memory.c memory_dev_init), and the kmem
 * dax driver on the host's dax bus (drivers/dax/kmem.c dax_kmem_init), and the
 * boot parameters memhp_default_state= and movable_node (mm/memory_hotplug.c
 * setup_memhp_default_state, cmdline_parse_movable_node). The MemoryHotplug
 * itself is built in the Host constructor (host.hotplug).
 */
import type { KernelParams } from './boot/cmdline.ts';
import type { DaxBus } from './dax/api.ts';
import { dax_kmem_init, type DaxKmemDriver } from './dax/kmem.ts';
import type { PseudoFilesystems } from './fs/pseudo/index.ts';
import type { Host } from './host.ts';
import { MMOP_OFFLINE, mhp_online_type_from_str } from './mm/memory_block.ts';
import { register_memory_sysfs } from './sysfs/memory.ts';

/** Register the memory sysfs tree and the kmem driver; returns the driver. */
export function init_memory_hotplug(host: Host, pseudo: PseudoFilesystems, bus: DaxBus): DaxKmemDriver {
  register_memory_sysfs(
    pseudo.sys,
    host.hotplug,
    host.machine.nodes.map((n) => n.id),
  );
  return dax_kmem_init(bus, host.hotplug, host.mem.iomem, host.log);
}

/** Boot-time memory hotplug settings. */
export interface MemhpParams {
  /** mhp_default_online_type (MMOP_*). */
  online_type: number;
  /** movable_node_enabled. */
  movable_node: boolean;
}

/** Register memhp_default_state= (unknown values are ignored) and movable_node; read them after boot. */
export function register_memhp_params(params: KernelParams): MemhpParams {
  const p: MemhpParams = { online_type: MMOP_OFFLINE, movable_node: false };
  params.setup('memhp_default_state=', (v) => {
    const t = mhp_online_type_from_str(v);
    if (t >= 0) p.online_type = t;
    return true;
  });
  params.early_param('movable_node', () => {
    p.movable_node = true;
    return 0;
  });
  return p;
}
