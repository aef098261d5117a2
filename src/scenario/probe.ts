/**
 * Probes on a small host set up like the big one (same backend, same rules):
 * the blast radius of one memory error in a running guest, and the feature
 * rows that can be tried with the operator's tools (VFIO, NUMA binding).
 *
 * Blast radius: start one VM, let the guest write 64 MiB, poison the frame
 * behind guest address 32 MiB with debugfs hwpoison/corrupt-pfn, let the
 * guest read its memory again, stop the VM and give its memory back. Bytes
 * lost = memory available to guests before the VM minus after. The frame is
 * read from the VMM's /proc/PID/pagemap at slot0.hva + 32 MiB (see frameAt).
 */
import { GiB, MiB, PAGE_SIZE, formatSizeSuffix } from '../lib/size.ts';
import { pte_pfn, LEVEL_SIZE } from '../kernel/mm/pgtable.ts';
import { BACKENDS, type Backend, type VmSpec } from './backends.ts';
import { failureLine, type Progress } from './fleet.ts';
import { forkProbe } from './fork_probe.ts';
import { Operator } from './operator.ts';
import type { BackendId, BlastRadius, Features } from './result.ts';
import { machineOf, survey } from './runner.ts';
import type { Scenario } from './scenario.ts';

/** The small host the probes run on: 2 nodes of 4 GiB (1 node if the scenario has one). */
function probeScenario(scn: Scenario): Scenario {
  const nodes = Math.min(2, scn.host.nodes);
  return { ...scn, host: { memory: nodes * 4 * GiB, nodes, cpus: 2 * nodes, reserve: 2 * GiB, cmdline: scn.host.cmdline }, shapes: [], trace: [] };
}

const TOUCH = 64 * MiB;
const POISON_GPA = 32 * MiB;

function startProbeVm(op: Operator, be: Backend, vm: VmSpec, extra = '', lazy = false): { pid: number; path: string } | string {
  const prep = be.prepare(op, vm, lazy);
  if (!prep.ok) return prep.error;
  const r = op.sh(`${be.vmmStart(vm, prep.path)}${extra}`);
  const pid = /pid=(\d+)/.exec(r.out)?.[1];
  if (r.status !== 0 || !pid) {
    be.release(op, vm, prep.path);
    return failureLine(r.err + r.out, 'vmm start failed');
  }
  return { pid: Number(pid), path: prep.path };
}

/**
 * The host frame behind a VMM virtual address: /proc/PID/pagemap, as an
 * operator finds it. Memory without struct pages (VM_PFNMAP: dmemfs, device-dax
 * map=0) is a hole in pagemap; there the probe walks the VMM's page table
 * itself, where an operator would need the driver's own tools.
 */
function frameAt(op: Operator, pid: number, hva: number): number {
  const pfn = op.pagemapFrame(pid, hva);
  if (pfn >= 0) return pfn;
  const pt = op.host.tasks.get(pid)?.mm.pgtables;
  if (!pt) return -1;
  const e = pt.walk(hva);
  if (!e) return -1;
  const size = LEVEL_SIZE[pt.lastLevel]!;
  return pte_pfn(e) + Math.floor((hva % size) / PAGE_SIZE);
}

/**
 * Hot-unplug: offline the memory block holding a running guest's frame, as
 * removing that DIMM would need (/sys/devices/system/memory/memoryN/state).
 */
function tryOffline(op: Operator, pfn: number): string {
  const blockSize = parseInt((op.cat('/sys/devices/system/memory/block_size_bytes') ?? '0').trim(), 16);
  if (!blockSize) return 'not measured (no memory blocks)';
  const n = Math.floor((pfn * PAGE_SIZE) / blockSize);
  const state = op.cat(`/sys/devices/system/memory/memory${n}/state`);
  if (state === null) return `no (not in any memory block: no memory${n})`;
  const r = op.sh(`echo offline > /sys/devices/system/memory/memory${n}/state`);
  if (r.status === 0) {
    op.sh(`echo online > /sys/devices/system/memory/memory${n}/state`);
    return `yes (memory${n} offlined under a running guest)`;
  }
  const why = failureLine(r.err + r.out, `exit ${r.status}`).replace(/^.*write error: /, '');
  // Linux would migrate the block's pages away (offline_pages → do_migrate_range); the model
  // cannot move pages, so a busy block says nothing about this backend.
  if (/Device or resource busy/.test(why)) return `not measured (offline memory${n}: EBUSY; the model has no page migration)`;
  return `no (offline memory${n}: ${why})`;
}

function blastRadius(op: Operator, be: Backend, probe: Scenario, hotUnplug: { value: string }): BlastRadius {
  const blast: BlastRadius = { pfn: 0, bytesLost: 0, processesSignalled: 0, guestSurvives: false, detail: '' };
  const vm: VmSpec = { name: 'blast', memory: 2 * GiB, vcpus: 1, vfio: false, node: 0 };
  const before = be.available(op);
  const s = startProbeVm(op, be, vm);
  if (typeof s === 'string') {
    blast.detail = `could not start a VM: ${s}`;
    return blast;
  }
  op.must(`vmm run blast --pattern seq --bytes ${TOUCH} --write --seed ${probe.seed}`);
  const hva = parseInt(/slot0\.hva=0x([0-9a-f]+)/.exec(op.sh('vmm info blast').out)?.[1] ?? '0', 16);
  const pfn = frameAt(op, s.pid, hva + POISON_GPA);
  if (pfn < 0) {
    blast.detail = 'guest address 32M is not mapped in the VMM';
    return blast;
  }
  blast.pfn = pfn;
  hotUnplug.value = tryOffline(op, pfn);
  const dmesg0 = op.must('dmesg').split('\n').length;
  const hwc0 = op.meminfo().get('HardwareCorrupted') ?? 0;
  const inj = op.sh(`echo 0x${pfn.toString(16)} > /sys/kernel/debug/hwpoison/corrupt-pfn`);
  const msgs = op.must('dmesg').split('\n').slice(dmesg0 - 1).filter((l) => l.trim()).map((l) => l.replace(/^\[[^\]]*\] /, ''));
  // Processes signalled: the kernel's "Sending SIGBUS to COMM:PID" lines, and the VMM if a later access killed it.
  const signalled = new Set<number>();
  for (const l of msgs) for (const m of l.matchAll(/(?:Sending SIGBUS to|Killing) [^:\s]+:(\d+)/g)) signalled.add(Number(m[1]));
  const alive = (): boolean => {
    const st = op.cat(`/proc/${s.pid}/stat`);
    return st !== null && !/\) Z /.test(st);
  };
  // The guest goes on using the memory below the error (its lost unit starts at
  // 32 MiB unless the unit is larger), then touches the poisoned page itself.
  const below = op.sh(`vmm run blast --pattern seq --bytes ${POISON_GPA} --seed ${probe.seed}`);
  blast.guestSurvives = alive() && below.status === 0 && /status=0/.test(below.out);
  const rerun = blast.guestSurvives ? op.sh(`vmm run blast --pattern seq --bytes ${TOUCH} --seed ${probe.seed}`) : below;
  if (!alive()) signalled.add(s.pid);
  blast.processesSignalled = signalled.size;
  const rerunText = (rerun.err + rerun.out).split('\n').filter((l) => l.trim()).map((l) => l.trim());
  const hwc = (op.meminfo().get('HardwareCorrupted') ?? 0) - hwc0;
  op.sh('vmm stop blast');
  be.release(op, vm, s.path);
  blast.bytesLost = Math.max(0, before - be.available(op));
  const first = msgs.find((l) => /Memory failure/.test(l)) ?? msgs[0] ?? inj.err.trim();
  const runOk = rerun.status === 0 && /status=0/.test(rerun.out);
  const touch = blast.guestSurvives
    ? runOk
      ? 'touching the poisoned page worked'
      : `touching the poisoned page: ${failureLine(rerun.err + rerun.out, `exit ${rerun.status}`)}`
    : `memory below the error: ${failureLine(rerunText.join('\n'), `exit ${rerun.status}`)}`;
  const kept = blast.bytesLost === 0 && hwc > 0 ? ' (the pool still counts the poisoned page as available)' : '';
  blast.detail = `${first}; ${touch}; HardwareCorrupted +${hwc / 1024} kB${kept}`;
  return blast;
}

function tryVfio(op: Operator, be: Backend): string {
  // As small as the backend allows: VFIO pins (or, for pfn mappings, looks up) every 4K page.
  const vm: VmSpec = { name: 'vfio', memory: Math.max(TOUCH, be.unit), vcpus: 1, vfio: true, node: 0 };
  const s = startProbeVm(op, be, vm);
  if (typeof s === 'string') return `no: ${s}`;
  const run = op.sh(`vmm run vfio --pattern seq --bytes ${Math.min(TOUCH, vm.memory)} --write`);
  op.sh('vmm stop vfio');
  be.release(op, vm, s.path);
  return run.status === 0 ? 'yes' : `no: ${failureLine(run.err + run.out, `vmm run exited ${run.status}`)}`;
}

function tryNuma(op: Operator, be: Backend, nodes: number): string {
  if (nodes < 2) return 'not measured (one node)';
  // Placed as any VM (node 0: devdax takes a device from region 0), then bound to node 1.
  const vm: VmSpec = { name: 'numa', memory: GiB, vcpus: 1, vfio: false, node: 0 };
  const s = startProbeVm(op, be, vm, ' --host-nodes 1 --policy bind', true);
  if (typeof s === 'string') return `no: ${s}`;
  op.sh(`vmm run numa --pattern seq --bytes ${TOUCH} --write`);
  const hva = parseInt(/slot0\.hva=0x([0-9a-f]+)/.exec(op.sh('vmm info numa').out)?.[1] ?? '0', 16);
  const pfn = frameAt(op, s.pid, hva + POISON_GPA);
  op.sh('vmm stop numa');
  be.release(op, vm, s.path);
  if (pfn < 0) return 'no: memory not mapped';
  const nid = op.host.pfn_to_nid(pfn);
  return nid === 1 ? 'yes (bind to node 1 honoured)' : `no (bound to node 1, landed on node ${nid})`;
}

function tryFork(op: Operator, be: Backend): string {
  const vm: VmSpec = { name: 'fork', memory: Math.max(TOUCH, be.unit), vcpus: 1, vfio: false, node: 0 };
  const prep = be.prepare(op, vm);
  if (!prep.ok) return `not measured (${prep.error})`;
  const t = op.host.spawnConsoleTask('forkprobe', { stdout: () => {}, stderr: () => {} });
  // The hugetlbfs backend names its file in the vmm line; the others return their path.
  const m = / --mem-path (\S+)/.exec(be.vmmStart(vm, prep.path));
  const r = forkProbe(t, m ? m[1]! : null, vm.memory, Math.max(be.unit, 2 * MiB));
  t.exit(0);
  be.release(op, vm, prep.path);
  return r;
}

/** Run the probes for one backend on a small host. */
export function probeBackend(scn: Scenario, id: BackendId, progress: Progress): { blast: BlastRadius; features: Features } {
  const be = BACKENDS[id];
  const probe = probeScenario(scn);
  const sv = survey(probe);
  const op = new Operator(machineOf(probe), [be.cmdline(probe, sv), probe.host.cmdline].filter(Boolean).join(' '));
  const features: Features = { fork: '', vfio: '', numaPolicy: '', resize: '', hotUnplug: '', poisonGranularity: '' };
  try {
    be.setup(op, probe);
  } catch (e) {
    const why = `probe setup failed: ${(e as Error).message}`;
    return { blast: { pfn: 0, bytesLost: 0, processesSignalled: 0, guestSurvives: false, detail: why }, features: { ...features, vfio: why, numaPolicy: why, poisonGranularity: why } };
  }
  progress(`  ${id}: probes (VFIO, NUMA, one memory error)`);
  features.vfio = tryVfio(op, be);
  features.numaPolicy = tryNuma(op, be, probe.host.nodes);
  features.resize = be.tryResize(op);
  features.fork = tryFork(op, be);
  const hotUnplug = { value: 'not measured' };
  const blast = blastRadius(op, be, probe, hotUnplug);
  features.hotUnplug = hotUnplug.value;
  features.poisonGranularity = blast.bytesLost > 0 ? formatSizeSuffix(blast.bytesLost) : 'not measured';
  return { blast, features };
}
