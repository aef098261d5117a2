/**
 * `dmemfs compare`: for each backend boot a fresh host, set it up, place the
 * same fleet and read what it cost from the host's own files:
 *
 *   structPages     /proc/vmstat nr_memmap_boot_pages + nr_memmap_pages
 *   backendMeta     Slab + VmallocUsed after setup, less the same on the bare host
 *   hostPageTables  PageTables growth while the fleet ran
 *   secPageTables   SecPageTables growth while the fleet ran
 *   bytesZeroed     /sys/kernel/debug/model/bytes_zeroed growth while the fleet ran
 *   hostFaults      /proc/PID/model_faults of every VMM
 *   secondStage     pages_4k/2m/1g from `vmm info` (debugfs kvm stats) of every VM
 *
 * The blast radius and the feature rows come from probes on a small host
 * (probe.ts); the node pictures from nodemap.ts.
 */
import { machineFromFlags, type MachineDesc } from '../kernel/boot/machine.ts';
import { BACKENDS, type Backend, type Survey } from './backends.ts';
import { placeFleet, type Progress } from './fleet.ts';
import { nodeMaps } from './nodemap.ts';
import { Operator } from './operator.ts';
import { probeBackend } from './probe.ts';
import type { BackendId, BackendResult, CompareResult } from './result.ts';
import { fleetSummary, type Scenario } from './scenario.ts';

/** Options of one comparison. */
export interface CompareOptions {
  /** Only these backends (default: the scenario's list). */
  backends?: BackendId[];
  seed?: number;
  progress?: Progress;
  /** Skip the blast-radius and feature probes (tests that only need counters). */
  noProbes?: boolean;
}

/** The machine a scenario describes. */
export function machineOf(scn: Scenario): MachineDesc {
  return machineFromFlags({ mem: scn.host.memory, nodes: scn.host.nodes, cpus: Math.max(1, Math.ceil(scn.host.cpus / scn.host.nodes)) });
}

function joinCmdline(...parts: string[]): string {
  return parts.filter((p) => p.trim() !== '').join(' ');
}

/** Slab + VmallocUsed: where the kernel's kmalloc'd and vmalloc'd metadata shows. */
function kernelMeta(op: Operator): number {
  const m = op.meminfo();
  return (m.get('Slab') ?? 0) + (m.get('VmallocUsed') ?? 0);
}

/** Struct pages the host holds, from /proc/vmstat. */
function structPages(op: Operator): number {
  const v = op.vmstat();
  return ((v.get('nr_memmap_boot_pages') ?? 0) + (v.get('nr_memmap_pages') ?? 0)) * 4096;
}

/** Boot the bare host and read what an operator reads before choosing boot parameters. */
export function survey(scn: Scenario): Survey & { meta: number } {
  const op = new Operator(machineOf(scn), scn.host.cmdline);
  const nodeRanges: Survey['nodeRanges'] = [];
  for (const m of op.must('dmesg').matchAll(/node +(\d+): \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]/g)) {
    nodeRanges.push({ nid: Number(m[1]), start: parseInt(m[2]!, 16), end: parseInt(m[3]!, 16) + 1 });
  }
  return { memAvailable: op.meminfo().get('MemAvailable') ?? 0, nodeRanges, meta: kernelMeta(op) };
}

function emptyResult(be: Backend, cmdline: string): BackendResult {
  const z = { '4k': 0, '2m': 0, '1g': 0 };
  return {
    id: be.id,
    label: be.label,
    cmdline,
    setup: [],
    vmmStart: '',
    memTotal: 0,
    overhead: { structPages: 0, backendMeta: 0, hostPageTables: 0, secPageTables: 0, total: 0 },
    guestAvailable: 0,
    guestUsed: 0,
    density: [],
    hostFaults: { ...z },
    secondStage: { ...z },
    bytesZeroed: 0,
    blast: { pfn: 0, bytesLost: 0, processesSignalled: 0, guestSurvives: false, detail: '' },
    features: { fork: '', vfio: '', numaPolicy: '', resize: '', hotUnplug: '', poisonGranularity: '' },
    nodes: [],
  };
}

/** Boot, set up and run the fleet for one backend. */
export function runBackend(scn: Scenario, id: BackendId, sv: Survey & { meta: number }, progress: Progress, noProbes = false): BackendResult {
  const be = BACKENDS[id];
  const cmdline = joinCmdline(be.cmdline(scn, sv), scn.host.cmdline);
  const res = emptyResult(be, cmdline);
  const op = new Operator(machineOf(scn), cmdline);
  try {
    be.setup(op, scn);
  } catch (e) {
    res.setup = [...op.history];
    res.error = `setup failed: ${(e as Error).message}`;
    return res;
  }
  res.setup = [...op.history];
  const mi = op.meminfo();
  res.memTotal = mi.get('MemTotal') ?? 0;
  res.guestAvailable = be.available(op);
  res.overhead.structPages = structPages(op);
  res.overhead.backendMeta = Math.max(0, kernelMeta(op) - sv.meta);
  const pt0 = mi.get('PageTables') ?? 0;
  const spt0 = mi.get('SecPageTables') ?? 0;
  const z0 = op.num('/sys/kernel/debug/model/bytes_zeroed');

  const fleet = placeFleet(op, be, scn, progress);
  res.vmmStart = fleet.vmmStart || be.vmmStart({ name: 'NAME', memory: 0, vcpus: 1, vfio: false, node: 0 }, '');
  res.density = fleet.density;
  res.hostFaults = fleet.hostFaults;
  res.secondStage = fleet.secondStage;
  const mi1 = op.meminfo();
  res.overhead.hostPageTables = (mi1.get('PageTables') ?? 0) - pt0;
  res.overhead.secPageTables = (mi1.get('SecPageTables') ?? 0) - spt0;
  // struct pages may change while VMs run (device-dax vmemmap comes with each device).
  res.overhead.structPages = structPages(op);
  const o = res.overhead;
  o.total = o.structPages + o.backendMeta + o.hostPageTables + o.secPageTables;
  res.bytesZeroed = op.num('/sys/kernel/debug/model/bytes_zeroed') - z0;
  res.guestUsed = be.used(op);
  res.nodes = nodeMaps(op.host, fleet.running);
  if (fleet.running.length === 0 && be.unsupported) res.error = be.unsupported;
  if (!noProbes) {
    const p = probeBackend(scn, id, progress);
    res.blast = p.blast;
    res.features = p.features;
  }
  return res;
}

/** Run a whole comparison. */
export function compare(scn0: Scenario, opts: CompareOptions = {}): CompareResult {
  const scn: Scenario = { ...scn0, seed: opts.seed ?? scn0.seed };
  const ids = opts.backends ?? scn.backends;
  const progress = opts.progress ?? (() => {});
  progress(`survey: booting the bare host (${scn.host.nodes} node(s))`);
  const sv = survey(scn);
  const results: BackendResult[] = [];
  for (const id of ids) {
    progress(`${id}: booting`);
    try {
      results.push(runBackend(scn, id, sv, progress, opts.noProbes));
    } catch (e) {
      const r = emptyResult(BACKENDS[id], '');
      r.error = `model error: ${(e as Error).message}`;
      results.push(r);
    }
    const r = results[results.length - 1]!;
    progress(`${id}: ${r.error ? `error: ${r.error}` : `overhead ${Math.round(r.overhead.total / 2 ** 20)} MiB, ${r.density.map((d) => `${d.shape} ${d.fits}`).join(', ')}`}`);
  }
  return {
    scenario: {
      name: scn.name,
      seed: scn.seed,
      host: { memory: scn.host.memory, nodes: scn.host.nodes, cpus: scn.host.cpus },
      fleet: fleetSummary(scn),
    },
    results,
  };
}
