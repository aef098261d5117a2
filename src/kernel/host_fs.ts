/**
 * The host's file layer: the VFS with tmpfs, devtmpfs, proc, sysfs and
 * debugfs registered and mounted as a distribution's early boot mounts them,
 * tmpfs pages served by the page allocator, the /proc and /sys files rendered
 * from the kernel's own counters, and the device nodes (/dev/kvm, /dev/vfio).
 * dmemfs and its hooks are wired in host_dmem.ts.
 */
import { PAGE_SIZE } from '../lib/size.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../uapi/fcntl.ts';
import { mount_early_filesystems } from './fs/early_mounts.ts';
import { Devtmpfs, register_mem_devices } from './fs/devtmpfs/index.ts';
import { vfio_init, type Vfio } from './vfio/index.ts';
import { kvm_init, type KvmModule } from './kvm/index.ts';
import { PseudoDir, register_pseudo_filesystems, type PseudoFilesystems } from './fs/pseudo/index.ts';
import { ShmemFs, type ShmemMemory } from './fs/tmpfs/index.ts';
import { Vfs, type File } from './fs/vfs/index.ts';
import type { Host } from './host.ts';
import { thp_vma_suitable } from './mm/huge_memory.ts';
import { register_hwpoison_inject } from './mm/hwpoison_inject.ts';
import { init_dmemfs } from './host_dmem.ts';
import { hugetlb_report_meminfo, hugetlb_report_node_meminfo } from './host_hugetlb.ts';
import { init_hugetlbfs } from './host_hugetlbfs.ts';
import { MFD_HUGETLB } from '../uapi/mman.ts';
import { init_dax, type DaxHost } from './host_dax.ts';
import { init_memory_hotplug } from './host_hotplug.ts';
import { NUMA_NO_NODE } from './mm/memblock.ts';
import { NR_FILE_PAGES, NR_SHMEM } from './mm/vmstat.ts';
import { PMD_SIZE } from '../lib/size.ts';
import { VM_ACCOUNT, type VmArea } from './mm/vm_area.ts';
import { meminfo_proc_show, node_read_meminfo, type MeminfoSource } from './proc/meminfo.ts';
import { file_mapcount, pagemap_read } from './proc/pagemap.ts';
import { proc_pid_cmdline, proc_pid_maps, proc_pid_model_faults, proc_pid_smaps, proc_pid_stat, proc_pid_status, type VmaFileInfo } from './proc/pid.ts';
import { frag_show } from './proc/buddyinfo.ts';
import { vmstat_show } from './proc/vmstat_show.ts';
import { init_overcommit, memmap_pages, register_model_debugfs } from './host_model.ts';
import type { Task } from './process.ts';
import { format_cpulist, node_cpus, node_distance_show } from './sysfs/node.ts';
import { thpAttributes } from './sysfs/thp.ts';

/** The host's filesystems and the file operations the mm asks of them. */
export interface HostFs {
  vfs: Vfs;
  /** The KVM module (its VMs). */
  kvm: KvmModule;
  /** VFIO (its containers). */
  vfio: Vfio;
  /** Device-dax: the dax bus, its regions and devices. */
  dax: DaxHost;
  shmem: ShmemFs;
  devtmpfs: Devtmpfs;
  pseudo: PseudoFilesystems;
  memfd_create(name: string, flags: number): File;
  shmem_zero_setup(vma: VmArea): void;
  punch_hole(file: File, offset: number, len: number): void;
}

/** tmpfs pages come from the page allocator on the task's node and count as Shmem and Cached. */
function shmemMemory(host: Host): ShmemMemory {
  return {
    alloc_page: () => {
      const nid = host.current?.mm.homeNid ?? 0;
      return host.kmem.allocUser(0, nid);
    },
    free_page: (pfn) => host.kmem.freeUser(pfn, 0),
    clear_pages: (pfn, nr) => host.dram.clear_pages(pfn, nr),
    read: (phys, len) => host.dram.read(phys, len),
    write: (phys, data) => host.dram.write(phys, data),
    mod_shmem: (delta) => {
      // Shmem pages are accounted to node 0's counters when the node is not known per page.
      const nid = host.current?.mm.homeNid ?? 0;
      host.vmstat.mod(nid, NR_SHMEM, delta);
      host.vmstat.mod(nid, NR_FILE_PAGES, delta);
    },
    totalram_pages: () => host.buddy.totalram_pages(),
  };
}

/** Register, mount and populate every filesystem of a freshly booted host. */
export function init_filesystems(host: Host): HostFs {
  const vfs = new Vfs(() => host.clock.realtime());
  const shmem = new ShmemFs(vfs, shmemMemory(host));
  const pseudo = register_pseudo_filesystems(vfs);
  const devtmpfs = new Devtmpfs(shmem);
  register_mem_devices(shmem, devtmpfs);
  const vfio = vfio_init({
    kmem: host.kmem,
    dmem: host.dmem,
    devtmpfs,
    pfn_valid: (p) => host.mem.sparse.pfn_valid(p),
    current_mm: () => host.current?.mm ?? null,
    warn: (m) => host.log.warn(m),
  });
  const kvm = kvm_init({
    vfs,
    devtmpfs,
    debugfs: pseudo.debug,
    kmem: host.kmem,
    kalloc: host.kalloc,
    nrCpus: host.machine.nodes.reduce((n, nd) => n + nd.cpus, 0),
    current: () => host.current,
  });
  const root = vfs.mount_root('tmpfs', 'mode=0755', 'rootfs');
  mount_early_filesystems(vfs, root);
  vfs.mkdir(root, '/mnt', 0o755);
  vfs.mkdir(root, '/run', 0o755);
  vfs.path_put(root);
  populate_proc(host, pseudo.proc, vfs);
  populate_sys(host, pseudo.sys);
  init_dmemfs(host, vfs, pseudo);
  const hugetlbfs = init_hugetlbfs(host, vfs);
  const dax = init_dax(host, vfs, pseudo, devtmpfs);
  init_memory_hotplug(host, pseudo, dax.bus);
  register_model_debugfs(host, pseudo.debug);
  init_overcommit(host, pseudo.proc);
  host.earlyKill.register(pseudo.proc);
  register_hwpoison_inject(pseudo.debug, host.mf, (pfn) => host.mem.sparse.pfn_valid(pfn) || host.mf.claimed(pfn), host.log);
  return {
    vfs,
    kvm,
    vfio,
    dax,
    shmem,
    devtmpfs,
    pseudo,
    memfd_create: (name, flags) => (flags & MFD_HUGETLB ? hugetlbfs.memfd_create(name, flags) : shmem.memfd_create(name, flags)),
    shmem_zero_setup: (vma) => shmem.shmem_zero_setup(vma),
    punch_hole: (file, offset, len) => vfs.fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len),
  };
}

function meminfoSource(host: Host): MeminfoSource {
  return {
    buddy: host.buddy,
    vmstat: host.vmstat,
    memRanges: () => [...host.mem.memblock.mem_ranges(NUMA_NO_NODE)].map((r) => ({ start: r.start, end: r.end })),
    committedPages: () => {
      let pages = 0;
      for (const t of host.tasks.values()) {
        if (t.state === 'Z') continue;
        for (const v of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) if (v.flags & VM_ACCOUNT) pages += v.size / PAGE_SIZE;
      }
      return pages + host.vmstat.global(NR_SHMEM);
    },
    hugetlb: () => hugetlb_report_meminfo(host),
    hugetlbNode: (nid) => hugetlb_report_node_meminfo(host, nid),
    poisonedPages: () => host.mf.num_poisoned_pages,
  };
}

/** /proc: system files and one directory per task. */
function populate_proc(host: Host, proc: PseudoDir, vfs: Vfs): void {
  const src = meminfoSource(host);
  proc.file('meminfo', { show: () => meminfo_proc_show(src) });
  proc.file('vmstat', { show: () => vmstat_show(host.buddy, host.vmstat, () => memmap_pages(host)) });
  proc.file('buddyinfo', { show: () => frag_show(host.buddy) });
  proc.file('iomem', { show: () => host.mem.iomem.render() });
  proc.file('cmdline', { show: () => host.params.raw + '\n' });
  proc.file('mounts', { show: () => vfs.proc_mounts() });
  proc.file('filesystems', { show: () => vfs.proc_filesystems() });
  proc.file('uptime', {
    show: () => {
      const s = (host.clock.now() / 1e9).toFixed(2);
      return `${s} ${s}\n`;
    },
  });
  proc.symlink('self', () => String(host.current?.pid ?? 1));
  const fileInfo: VmaFileInfo = (vma) => {
    const f = vma.file as File | null;
    if (!f) return null;
    const inode = f.f_inode;
    let path = vfs.d_path(f.f_path);
    if (inode.i_nlink === 0 && !path.endsWith(' (deleted)')) path += ' (deleted)';
    return { path, dev: inode.i_sb.s_dev, ino: inode.i_ino };
  };
  const pidDirs = new Map<number, PseudoDir>();
  const pidDir = (t: Task): PseudoDir => {
    let d = pidDirs.get(t.pid);
    if (d) return d;
    d = new PseudoDir(0o555);
    d.file('cmdline', { show: () => proc_pid_cmdline(t) });
    d.file('stat', { show: () => proc_pid_stat(t, 0) });
    d.file('status', { show: () => proc_pid_status(t) });
    d.file('maps', { show: () => (t.state === 'Z' ? '' : proc_pid_maps(t.mm, fileInfo)) });
    d.file('smaps', { show: () => (t.state === 'Z' ? '' : proc_pid_smaps(t.mm, fileInfo, (v) => thp_vma_suitable(t.mm, v, v.start, PMD_SIZE))) });
    d.file('model_faults', { show: () => proc_pid_model_faults(t) });
    // REG("pagemap", S_IRUSR, ...); the model's readers are root, so PFNs are shown (CAP_SYS_ADMIN).
    d.file('pagemap', {
      mode: 0o400,
      read: (pos, count) => (t.state === 'Z' ? new Uint8Array(0) : pagemap_read(t.mm, pos, count, true, (pfn) => host.kmem.anon.mapcount(pfn), file_mapcount)),
    });
    pidDirs.set(t.pid, d);
    return d;
  };
  proc.setDynamic({
    lookup: (name) => {
      if (!/^[1-9]\d*$/.test(name)) return undefined;
      const t = host.tasks.get(Number(name));
      if (!t) {
        pidDirs.delete(Number(name));
        return undefined;
      }
      return pidDir(t);
    },
    list: () => [...host.tasks.keys()].sort((a, b) => a - b).map(String),
  });
}

/** /sys: NUMA nodes and the THP switches. */
function populate_sys(host: Host, sys: PseudoDir): void {
  const m = host.machine;
  const src = meminfoSource(host);
  const ids = m.nodes.map((n) => n.id);
  const nodeDir = sys.dir('devices/system/node');
  nodeDir.file('online', { show: () => format_cpulist(ids) + '\n' });
  nodeDir.file('possible', { show: () => format_cpulist(ids) + '\n' });
  nodeDir.file('has_memory', { show: () => format_cpulist(ids) + '\n' });
  nodeDir.file('has_normal_memory', { show: () => format_cpulist(ids) + '\n' });
  nodeDir.file('has_cpu', { show: () => format_cpulist(ids.filter((id) => node_cpus(m, id).length > 0)) + '\n' });
  for (const n of m.nodes) {
    const d = nodeDir.dir(`node${n.id}`);
    d.file('cpulist', { show: () => format_cpulist(node_cpus(m, n.id)) + '\n' });
    d.file('distance', { show: () => node_distance_show(m, n.id) });
    d.file('meminfo', { show: () => node_read_meminfo(src, n.id) });
  }
  const thpDir = sys.dir('kernel/mm/transparent_hugepage');
  for (const [name, spec] of Object.entries(thpAttributes(host.kmem.thp))) thpDir.file(name, spec);
}
