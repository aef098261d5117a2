/**
 * The built-in backends: for each, the kernel command line it boots with, the
 * setup an operator types after boot (mounts, pool sizing, daxctl), what is
 * done for each VM before and after `vmm start`, and where the memory left
 * for guests is read from. Everything is a shell command line run through
 * Operator; nothing here touches the kernel.
 *
 * Sizing follows one rule for every backend: the host keeps `host.reserve`
 * for its kernel and VMMs, the backend gets the rest.
 *   anon      strict overcommit (vm.overcommit_memory=2) with overcommit_kbytes =
 *             MemAvailable less the reserve, so VMs cannot overcommit either
 *   hugetlb   pages allocated at runtime through nr_hugepages until
 *             MemAvailable would fall below the reserve (HVO's freed vmemmap
 *             makes room for more pages, as it does for an operator)
 *   dmemfs    dmem=!R:ALIGN keeps R per node for the kernel
 *   devdax    efi_fake_mem soft-reserves the top of each node, less R per node
 */
import { GiB, MiB, alignDown, alignUp, formatSizeSuffix } from '../lib/size.ts';
import type { Operator } from './operator.ts';
import type { BackendId } from './result.ts';
import type { Scenario } from './scenario.ts';

/** What a survey boot of the bare host found (the operator reads it before choosing boot parameters). */
export interface Survey {
  /** MemAvailable of the bare host. */
  memAvailable: number;
  /** RAM ranges per node from dmesg's "Early memory node ranges" (end exclusive). */
  nodeRanges: { nid: number; start: number; end: number }[];
}

/** One VM as the runner starts it. */
export interface VmSpec {
  name: string;
  memory: number;
  vcpus: number;
  vfio: boolean;
  /** Node this VM is placed on (round robin), for devdax regions. */
  node: number;
}

/** A backend: boot line, setup, and the per-VM commands. */
export interface Backend {
  id: BackendId;
  label: string;
  /** Kernel parameters (the scenario's host.cmdline is appended). */
  cmdline(scn: Scenario, survey: Survey): string;
  /** Run the setup commands on a booted host; throws when setup fails. */
  setup(op: Operator, scn: Scenario): void;
  /**
   * Commands before `vmm start` (may print a device name the start line uses).
   * `lazy`: do not give the VM its memory up front (dmemfs skips fallocate, so
   * the guest's faults allocate under the VMM's memory policy).
   */
  prepare(op: Operator, vm: VmSpec, lazy?: boolean): { ok: true; path: string } | { ok: false; error: string };
  /** The `vmm start` line; `path` is what prepare returned. */
  vmmStart(vm: VmSpec, path: string): string;
  /** Commands after `vmm stop` that give the VM's memory back. */
  release(op: Operator, vm: VmSpec, path: string): void;
  /** Bytes of memory available to guests right now, from the backend's own counters. */
  available(op: Operator): number;
  /** Bytes of guest memory currently backed. */
  used(op: Operator): number;
  /**
   * Try to grow and shrink the backend's pool at runtime through its own
   * interface, on a host that was set up; says what happened.
   */
  tryResize(op: Operator): string;
  /** The size guest memory is handed out in (4K for anonymous memory, the page/dpage/align size otherwise). */
  unit: number;
  /** Set when the backend cannot be measured in this model yet. */
  unsupported?: string;
}

function vmmFlags(vm: VmSpec): string {
  return `--vcpus ${vm.vcpus}${vm.vfio ? ' --vfio' : ''}`;
}

const sz = formatSizeSuffix;

/** Anonymous memory, 4K pages (THP off) or THP. */
function anon(id: BackendId, thp: boolean): Backend {
  return {
    id,
    label: thp ? 'anonymous + THP' : 'anonymous 4K',
    unit: thp ? 2 * MiB : 4096,
    cmdline: () => `transparent_hugepage=${thp ? 'always' : 'never'}`,
    // No overcommit: a VM's memory is committed when it starts (as the pools below
    // are), up to what is available less the host's reserve.
    setup: (op, scn) => {
      const avail = op.meminfo().get('MemAvailable') ?? 0;
      op.must('echo 2 > /proc/sys/vm/overcommit_memory');
      op.must(`echo ${Math.max(0, Math.floor((avail - scn.host.reserve) / 1024))} > /proc/sys/vm/overcommit_kbytes`);
    },
    prepare: () => ({ ok: true, path: '' }),
    vmmStart: (vm) => `vmm start ${vm.name} --memory ${sz(vm.memory)} ${vmmFlags(vm)}`,
    release: () => {},
    available: (op) => op.meminfo().get('MemAvailable') ?? 0,
    used: (op) => op.meminfo().get('AnonPages') ?? 0,
    tryResize: () => 'n/a (no pool: the page allocator)',
  };
}

/** hugetlbfs with 2M or 1G pages, with or without HVO. */
function hugetlb(id: BackendId, size: number, hvo: boolean): Backend {
  const kb = size / 1024;
  const dir = `/sys/kernel/mm/hugepages/hugepages-${kb}kB`;
  const mnt = `/mnt/huge${sz(size)}`;
  return {
    id,
    label: `hugetlbfs ${sz(size)}${hvo ? ' + HVO' : ''}`,
    unit: size,
    cmdline: () => (hvo ? 'hugetlb_free_vmemmap=on' : 'hugetlb_free_vmemmap=off'),
    setup: (op, scn) => {
      // Grow the pool while MemAvailable stays above the reserve; with HVO each
      // round gives back vmemmap, which the next round turns into more pages.
      let pages = 0;
      for (let round = 0; round < 4; round++) {
        const avail = op.meminfo().get('MemAvailable') ?? 0;
        const more = Math.floor((avail - scn.host.reserve) / size);
        if (more <= 0) break;
        op.must(`echo ${pages + more} > ${dir}/nr_hugepages`);
        const got = op.num(`${dir}/nr_hugepages`);
        if (got <= pages) break;
        pages = got;
      }
      op.must(`mkdir -p ${mnt}`);
      op.must(`mount -t hugetlbfs -o pagesize=${sz(size)} none ${mnt}`);
    },
    prepare: () => ({ ok: true, path: '' }),
    vmmStart: (vm) => `vmm start ${vm.name} --memory ${sz(vm.memory)} --memory-backend file --mem-path ${mnt}/${vm.name} --share ${vmmFlags(vm)}`,
    release: (op, vm) => {
      op.sh(`rm -f ${mnt}/${vm.name}`);
    },
    available: (op) => op.num(`${dir}/free_hugepages`) * size - op.num(`${dir}/resv_hugepages`) * size,
    tryResize: (op) => {
      // Shrink by one free page, then grow back into the memory it gave back.
      const n = op.num(`${dir}/nr_hugepages`);
      op.sh(`echo ${n - 1} > ${dir}/nr_hugepages`);
      const shrunk = op.num(`${dir}/nr_hugepages`);
      op.sh(`echo ${n} > ${dir}/nr_hugepages`);
      const grown = op.num(`${dir}/nr_hugepages`);
      return shrunk < n && grown === n ? `yes (nr_hugepages ${n} → ${shrunk} → ${grown})` : `partly (nr_hugepages ${n} → ${shrunk} → ${grown})`;
    },
    used: (op) => (op.num(`${dir}/nr_hugepages`) - op.num(`${dir}/free_hugepages`)) * size,
  };
}

/** dmemfs with 4K, 2M or 1G dpages, or mapping=remap. */
function dmemfs(id: BackendId, size: number, remap: boolean): Backend {
  const align = Math.max(size, 128 * MiB);
  return {
    id,
    label: remap ? `dmemfs ${sz(size)} mapping=remap` : `dmemfs ${sz(size)}`,
    unit: size,
    cmdline: (scn) => `dmem=!${sz(alignUp(Math.ceil(scn.host.reserve / scn.host.nodes), 128 * MiB))}:${sz(align)}`,
    setup: (op) => {
      op.must('mkdir -p /mnt/dmem');
      op.must(`mount -t dmemfs -o pagesize=${sz(size)}${remap ? ',mapping=remap' : ''} none /mnt/dmem`);
    },
    // The file is given its memory up front, so a VM that does not fit fails before it starts.
    prepare: (op, vm, lazy) => {
      if (lazy) return { ok: true, path: `/mnt/dmem/${vm.name}` };
      const r = op.sh(`fallocate -l ${sz(vm.memory)} /mnt/dmem/${vm.name}`);
      if (r.status !== 0) {
        op.sh(`rm -f /mnt/dmem/${vm.name}`);
        return { ok: false, error: (r.err || r.out).trim() };
      }
      return { ok: true, path: `/mnt/dmem/${vm.name}` };
    },
    vmmStart: (vm) => `vmm start ${vm.name} --memory ${sz(vm.memory)} --memory-backend file --mem-path /mnt/dmem/${vm.name} --share ${vmmFlags(vm)}`,
    release: (op, vm) => {
      op.sh(`rm -f /mnt/dmem/${vm.name}`);
    },
    available: (op) => op.num('/sys/kernel/debug/dmem/free_dpages') * 2 ** op.num('/sys/kernel/debug/dmem/dpage_shift'),
    // The series has no runtime interface to the pool: look for one as an operator would.
    tryResize: (op) => {
      const files = op.sh('ls /sys/kernel/debug/dmem /sys/module/dmemfs/parameters').out;
      return /size|nr_|resize/.test(files) ? 'maybe (see debugfs)' : 'no: only dmem= at boot (no runtime knob in debugfs or module parameters)';
    },
    used: (op) =>
      (op.num('/sys/kernel/debug/dmem/total_dpages') - op.num('/sys/kernel/debug/dmem/free_dpages') - op.num('/sys/kernel/debug/dmem/retired_dpages')) *
      2 ** op.num('/sys/kernel/debug/dmem/dpage_shift'),
  };
}

/** The soft-reserved range at the top of each node that device-dax gets. */
export function devdaxRanges(scn: Scenario, survey: Survey): { start: number; size: number }[] {
  const out: { start: number; size: number }[] = [];
  const keep = Math.ceil(scn.host.reserve / scn.host.nodes);
  for (let nid = 0; nid < scn.host.nodes; nid++) {
    const ranges = survey.nodeRanges.filter((r) => r.nid === nid);
    if (!ranges.length) continue;
    const ram = ranges.reduce((s, r) => s + (r.end - r.start), 0);
    const last = ranges[ranges.length - 1]!;
    const end = alignDown(last.end, GiB);
    const start = alignUp(Math.max(last.start, end - (ram - keep)), GiB);
    if (end > start) out.push({ start, size: end - start });
  }
  return out;
}

/** device-dax over soft-reserved memory: 2M or 1G align, or map=0 (no struct pages). */
function devdax(id: BackendId, align: number, map: boolean): Backend {
  let regions = 0;
  return {
    id,
    label: map ? `device-dax ${sz(align)}` : 'device-dax map=0',
    unit: align,
    cmdline: (scn, survey) => `efi_fake_mem=${devdaxRanges(scn, survey).map((r) => `${sz(r.size)}@0x${r.start.toString(16)}:0x40000`).join(',')}`,
    setup: (op) => {
      // The seed device of each region spans it at boot; give the space back for per-VM devices.
      op.must('daxctl disable-device all');
      const list = op.must('daxctl list -R');
      regions = (list.match(/"id":\d+/g) ?? []).length;
      for (let r = 0; r < regions; r++) op.must(`daxctl reconfigure-device -s 0 dax${r}.0`);
    },
    prepare: (op, vm) => {
      const region = regions ? vm.node % regions : 0;
      // map=0 must be set while the device is disabled, so create it, then configure and enable it.
      const r = op.sh(`daxctl create-device -r ${region} -s ${sz(vm.memory)} -a ${sz(align)}`);
      if (r.status !== 0) return { ok: false, error: (r.err || r.out).trim() };
      const dev = /"chardev":\s*"(dax\d+\.\d+)"/.exec(r.out)?.[1];
      if (!dev) return { ok: false, error: `daxctl create-device printed no device: ${r.out.trim()}` };
      if (!map) {
        op.must(`daxctl disable-device ${dev}`);
        op.must(`echo 0 > /sys/bus/dax/devices/${dev}/map`);
        op.must(`daxctl enable-device ${dev}`);
      }
      return { ok: true, path: `/dev/${dev}` };
    },
    vmmStart: (vm, path) => `vmm start ${vm.name} --memory ${sz(vm.memory)} --memory-backend file --mem-path ${path || '/dev/daxR.N'} --share --align ${sz(align)} ${vmmFlags(vm)}`,
    release: (op, _vm, path) => {
      if (path) op.sh(`daxctl destroy-device -f ${path.slice('/dev/'.length)}`);
    },
    available: (op) => {
      let s = 0;
      for (let r = 0; r < Math.max(1, regions); r++) s += op.num(`/sys/bus/dax/devices/dax${r}.0/../dax_region/available_size`);
      return s;
    },
    tryResize: (op) => {
      const c = op.sh(`daxctl create-device -r 0 -s ${sz(align)} -a ${sz(align)}`);
      const dev = /"chardev":\s*"(dax\d+\.\d+)"/.exec(c.out)?.[1];
      if (!dev) return `no: ${(c.err || c.out).trim().split('\n').pop()}`;
      op.sh(`daxctl disable-device ${dev}`);
      const g = op.sh(`daxctl reconfigure-device -s ${sz(2 * align)} ${dev}`);
      const grown = op.num(`/sys/bus/dax/devices/${dev}/size`);
      const k = op.sh(`daxctl reconfigure-device -s ${sz(align)} ${dev}`);
      const shrunk = op.num(`/sys/bus/dax/devices/${dev}/size`);
      op.sh(`daxctl destroy-device -f ${dev}`);
      return g.status === 0 && k.status === 0 && grown === 2 * align && shrunk === align
        ? `yes, while the device is disabled (${sz(align)} → ${sz(grown)} → ${sz(shrunk)})`
        : `no (${sz(align)} → ${grown} → ${shrunk})`;
    },
    used: (op) => {
      let s = 0;
      for (const line of op.must('daxctl list').matchAll(/"size":(\d+)/g)) s += Number(line[1]);
      return s;
    },
  };
}

/** Every built-in backend by id. */
export const BACKENDS: Readonly<Record<BackendId, Backend>> = {
  'anon-4k': anon('anon-4k', false),
  thp: anon('thp', true),
  'hugetlb-2m': hugetlb('hugetlb-2m', 2 * MiB, false),
  'hugetlb-2m-hvo': hugetlb('hugetlb-2m-hvo', 2 * MiB, true),
  'hugetlb-1g': hugetlb('hugetlb-1g', GiB, false),
  'hugetlb-1g-hvo': hugetlb('hugetlb-1g-hvo', GiB, true),
  'devdax-2m': devdax('devdax-2m', 2 * MiB, true),
  'devdax-1g': devdax('devdax-1g', GiB, true),
  'devdax-map0': devdax('devdax-map0', 2 * MiB, false),
  'dmemfs-4k': dmemfs('dmemfs-4k', 4096, false),
  'dmemfs-2m': dmemfs('dmemfs-2m', 2 * MiB, false),
  'dmemfs-1g': dmemfs('dmemfs-1g', GiB, false),
  'dmemfs-remap': dmemfs('dmemfs-remap', 2 * MiB, true),
};
