/**
 * Placing the fleet on one host: start VMs in the scenario's order (each
 * shape's count, fill shapes until one fails, or the trace's arrivals and
 * departures), let each guest touch its memory with `vmm run`, and collect
 * per-VM counters (host faults from /proc/PID/model_faults, second-stage
 * leaves from `vmm info`) before a VM goes away.
 */
import type { Backend, VmSpec } from './backends.ts';
import type { Operator } from './operator.ts';
import type { ByLevel, Density } from './result.ts';
import type { Scenario, Shape } from './scenario.ts';

/** A VM that started. */
export interface RunningVm extends VmSpec {
  shape: Shape;
  pid: number;
  path: string;
}

/** What placing the fleet did. */
export interface FleetOutcome {
  running: RunningVm[];
  density: Density[];
  hostFaults: ByLevel;
  secondStage: ByLevel;
  vmmStart: string;
}

/** Progress callback (stderr lines). */
export type Progress = (line: string) => void;

/** The line that says why a command failed: the last one that is not a warning. */
export function failureLine(text: string, fallback: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/warning:/.test(l));
  return lines[lines.length - 1] ?? fallback;
}

function zero(): ByLevel {
  return { '4k': 0, '2m': 0, '1g': 0 };
}

/** Host faults (model_faults) and second-stage leaves (vmm info) of one VM. */
function vmCounters(op: Operator, vm: RunningVm): { host: ByLevel; ept: ByLevel } {
  const host = zero();
  for (const m of (op.cat(`/proc/${vm.pid}/model_faults`) ?? '').matchAll(/^(4K|2M|1G) (\d+)$/gm)) host[m[1]!.toLowerCase() as keyof ByLevel] = Number(m[2]);
  const ept = zero();
  const info = op.sh(`vmm info ${vm.name}`).out;
  for (const m of info.matchAll(/^pages_(4k|2m|1g)=(\d+)$/gm)) ept[m[1] as keyof ByLevel] = Number(m[2]);
  return { host, ept };
}

function add(a: ByLevel, b: ByLevel): void {
  a['4k'] += b['4k'];
  a['2m'] += b['2m'];
  a['1g'] += b['1g'];
}

/** Start one VM and run its guest; returns the VM or the failure text. */
function startVm(op: Operator, be: Backend, scn: Scenario, shape: Shape, name: string, node: number, out: { vmmStart: string }): RunningVm | string {
  const spec: VmSpec = { name, memory: shape.memory, vcpus: shape.vcpus, vfio: shape.vfio, node };
  const prep = be.prepare(op, spec);
  if (!prep.ok) return prep.error;
  const line = be.vmmStart(spec, prep.path);
  if (!out.vmmStart) out.vmmStart = be.vmmStart({ ...spec, name: 'NAME' }, prep.path).replace(/--memory \S+/, '--memory SIZE');
  const r = op.sh(line);
  const pid = /pid=(\d+)/.exec(r.out)?.[1];
  if (r.status !== 0 || !pid) {
    be.release(op, spec, prep.path);
    return failureLine(r.err + r.out, `vmm start exited ${r.status}`);
  }
  const vm: RunningVm = { ...spec, shape, pid: Number(pid), path: prep.path };
  if (shape.touch > 0) {
    const run = op.sh(`vmm run ${name} --pattern ${shape.pattern} --bytes ${shape.touch}${shape.write ? ' --write' : ''} --seed ${scn.seed}`);
    if (run.status !== 0 || !/status=0/.test(run.out)) {
      const why = failureLine(run.err + run.out, `vmm run exited ${run.status}`);
      op.sh(`vmm stop ${name}`);
      be.release(op, spec, prep.path);
      return why;
    }
  }
  return vm;
}

/** Place the scenario's fleet on a host set up for backend `be`. */
export function placeFleet(op: Operator, be: Backend, scn: Scenario, progress: Progress): FleetOutcome {
  const running: RunningVm[] = [];
  const hostFaults = zero();
  const secondStage = zero();
  const out = { vmmStart: '' };
  const fits = new Map<string, number>(scn.shapes.map((s) => [s.name, 0]));
  const failure = new Map<string, string>();
  let seq = 0;
  const shapeOf = (name: string): Shape => scn.shapes.find((s) => s.name === name)!;
  const place = (shape: Shape): boolean => {
    const name = `${shape.name}${fits.get(shape.name)! + (failure.has(shape.name) ? 1 : 0)}`;
    const r = startVm(op, be, scn, shape, `${name}-${seq}`, seq % scn.host.nodes, out);
    seq++;
    if (typeof r === 'string') {
      if (!failure.has(shape.name)) failure.set(shape.name, r);
      return false;
    }
    running.push(r);
    fits.set(shape.name, fits.get(shape.name)! + 1);
    return true;
  };
  const depart = (shape: string, n: number): void => {
    for (let i = 0; i < n; i++) {
      const idx = running.findIndex((v) => v.shape.name === shape);
      if (idx < 0) return;
      const vm = running[idx]!;
      const c = vmCounters(op, vm);
      add(hostFaults, c.host);
      add(secondStage, c.ept);
      op.sh(`vmm stop ${vm.name}`);
      be.release(op, vm, vm.path);
      running.splice(idx, 1);
    }
  };
  if (scn.trace.length) {
    for (const e of scn.trace) {
      if (e.kind === 'arrive') for (let i = 0; i < e.count; i++) place(shapeOf(e.shape));
      else depart(e.shape, e.count);
    }
  } else {
    for (const s of scn.shapes.filter((s) => !s.fill)) {
      for (let i = 0; i < s.count! && place(s); i++);
      progress(`  ${s.name}: ${fits.get(s.name)} of ${s.count} started`);
    }
    for (const s of scn.shapes.filter((s) => s.fill)) {
      while (running.length < scn.maxVms && place(s));
      progress(`  ${s.name}: ${fits.get(s.name)} started before one failed`);
    }
  }
  for (const vm of running) {
    const c = vmCounters(op, vm);
    add(hostFaults, c.host);
    add(secondStage, c.ept);
  }
  const density: Density[] = scn.shapes.map((s) => ({
    shape: s.name,
    fits: fits.get(s.name)!,
    failure: failure.get(s.name) ?? (s.fill && running.length >= scn.maxVms ? `none: stopped at max_vms (${scn.maxVms})` : ''),
  }));
  return { running, density, hostFaults, secondStage, vmmStart: out.vmmStart };
}
