/**
 * The scenario file `dmemfs compare` runs: a host, a fleet of VMs, a seed and
 * the backends to compare (docs/scenario.md). Parsing turns the YAML into a
 * checked Scenario; every error names the field it is about, e.g.
 *   fleet.shapes[1].memory: expected a size like 16G, got "16Q"
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { GiB, PAGE_SIZE, formatSizeSuffix, parseSize } from '../lib/size.ts';
import { BACKEND_IDS, type BackendId } from './result.ts';

/** Guest access patterns (what `vmm run --pattern` takes). */
export const PATTERNS = ['seq', 'random', 'hot-cold'] as const;
/** One of PATTERNS. */
export type Pattern = (typeof PATTERNS)[number];

/** One kind of VM. */
export interface Shape {
  name: string;
  /** Guest memory, bytes. */
  memory: number;
  vcpus: number;
  /** How many to start; null with fill: keep starting until one fails. */
  count: number | null;
  fill: boolean;
  pattern: Pattern;
  /** Bytes of guest memory the guest touches after boot (a fraction in the file is turned into bytes, 4 KiB aligned). */
  touch: number;
  write: boolean;
  vfio: boolean;
}

/** One step of an arrival/departure trace. */
export interface TraceEvent {
  kind: 'arrive' | 'depart';
  shape: string;
  count: number;
}

/** The host every backend boots. */
export interface HostSpec {
  memory: number;
  nodes: number;
  /** CPUs in total (split evenly over the nodes). */
  cpus: number;
  /** Memory the operator keeps for the host kernel and the VMMs; the backend gets the rest. */
  reserve: number;
  /** Extra kernel parameters for every backend. */
  cmdline: string;
}

/** A checked scenario. */
export interface Scenario {
  name: string;
  seed: number;
  host: HostSpec;
  shapes: Shape[];
  /** Arrivals and departures in order; empty means: start each shape's count (fill shapes last). */
  trace: TraceEvent[];
  backends: BackendId[];
  /** Upper bound on VMs of a fill shape (so an overcommitting backend still ends). */
  maxVms: number;
}

/** A scenario that does not validate; the message starts with the field path. */
export class ScenarioError extends Error {}

type Obj = Record<string, unknown>;

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v) ?? String(v);
}

function fail(path: string, msg: string): never {
  throw new ScenarioError(`${path}: ${msg}`);
}

function obj(path: string, v: unknown): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(path, `expected a mapping, got ${show(v)}`);
  return v as Obj;
}

/** Refuse keys the schema does not know (a typo should not be silently ignored). */
function known(path: string, o: Obj, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(path ? `${path}.${k}` : k, `unknown field (expected one of ${keys.join(', ')})`);
}

function size(path: string, v: unknown, min = PAGE_SIZE): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v.trim()) : undefined;
  if (n === undefined || !Number.isSafeInteger(n)) fail(path, `expected a size like 16G, got ${show(v)}`);
  if (n < min) fail(path, `must be at least ${formatSizeSuffix(min)}, got ${show(v)}`);
  return n;
}

function int(path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(path, `expected a whole number, got ${show(v)}`);
  if (v < min || v > max) fail(path, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

function bool(path: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(path, `expected true or false, got ${show(v)}`);
  return v;
}

function str(path: string, v: unknown): string {
  if (typeof v !== 'string') fail(path, `expected a string, got ${show(v)}`);
  return v;
}

function parseHost(path: string, v: unknown): HostSpec {
  const o = obj(path, v);
  known(path, o, ['memory', 'nodes', 'cpus', 'reserve', 'cmdline']);
  if (o.memory === undefined) fail(`${path}.memory`, 'required');
  const memory = size(`${path}.memory`, o.memory, GiB);
  const nodes = o.nodes === undefined ? 1 : int(`${path}.nodes`, o.nodes, 1, 64);
  const cpus = o.cpus === undefined ? 4 * nodes : int(`${path}.cpus`, o.cpus, nodes, 4096);
  const reserve = o.reserve === undefined ? Math.max(2 * GiB, Math.round(memory / 64 / GiB) * GiB) : size(`${path}.reserve`, o.reserve, 256 * 1024 * 1024);
  if (reserve >= memory) fail(`${path}.reserve`, `must be less than host.memory (${formatSizeSuffix(memory)}), got ${show(o.reserve)}`);
  const cmdline = o.cmdline === undefined ? '' : str(`${path}.cmdline`, o.cmdline);
  return { memory, nodes, cpus, reserve, cmdline };
}

function parseTouch(path: string, v: unknown, memory: number): number {
  if (typeof v === 'number' && v >= 0 && v <= 1) {
    // A fraction of guest memory, rounded down to whole pages (at least one page if nonzero).
    const bytes = Math.floor((memory * v) / PAGE_SIZE) * PAGE_SIZE;
    return v > 0 ? Math.max(PAGE_SIZE, bytes) : 0;
  }
  if (typeof v === 'number') fail(path, `expected a fraction between 0 and 1 or a size like 256M, got ${v}`);
  const n = typeof v === 'string' ? parseSize(v.trim()) : undefined;
  if (n === undefined) fail(path, `expected a fraction between 0 and 1 or a size like 256M, got ${show(v)}`);
  if (n > memory) fail(path, `${show(v)} is more than the shape's memory (${formatSizeSuffix(memory)})`);
  return n;
}

function parseShape(path: string, v: unknown, hasTrace: boolean): Shape {
  const o = obj(path, v);
  known(path, o, ['name', 'memory', 'vcpus', 'count', 'fill', 'pattern', 'touch', 'write', 'vfio']);
  if (o.name === undefined) fail(`${path}.name`, 'required');
  const name = str(`${path}.name`, o.name);
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(name)) fail(`${path}.name`, `expected a name of letters, digits, '-' and '_' starting with a letter, got ${show(name)}`);
  if (o.memory === undefined) fail(`${path}.memory`, 'required');
  const memory = size(`${path}.memory`, o.memory, 2 * 1024 * 1024);
  if (memory % (2 * 1024 * 1024) !== 0) fail(`${path}.memory`, `must be a multiple of 2M, got ${show(o.memory)}`);
  const fill = o.fill === undefined ? false : bool(`${path}.fill`, o.fill);
  let count: number | null = null;
  if (o.count !== undefined) {
    if (fill) fail(`${path}.count`, 'give either count or fill: true, not both');
    count = int(`${path}.count`, o.count, 0, 100000);
  } else if (!fill && !hasTrace) fail(`${path}.count`, 'required (or fill: true)');
  const pattern = o.pattern === undefined ? 'seq' : str(`${path}.pattern`, o.pattern);
  if (!(PATTERNS as readonly string[]).includes(pattern)) fail(`${path}.pattern`, `expected seq, random or hot-cold, got ${show(o.pattern)}`);
  return {
    name,
    memory,
    vcpus: o.vcpus === undefined ? 1 : int(`${path}.vcpus`, o.vcpus, 1, 1024),
    count,
    fill,
    pattern: pattern as Pattern,
    touch: o.touch === undefined ? 0 : parseTouch(`${path}.touch`, o.touch, memory),
    write: o.write === undefined ? false : bool(`${path}.write`, o.write),
    vfio: o.vfio === undefined ? false : bool(`${path}.vfio`, o.vfio),
  };
}

function parseTrace(path: string, v: unknown, shapes: Shape[]): TraceEvent[] {
  if (!Array.isArray(v)) fail(path, `expected a list of {arrive: SHAPE} or {depart: SHAPE} steps, got ${show(v)}`);
  return v.map((e, i) => {
    const p = `${path}[${i}]`;
    const o = obj(p, e);
    known(p, o, ['arrive', 'depart', 'count']);
    const kind = o.arrive !== undefined ? 'arrive' : o.depart !== undefined ? 'depart' : fail(p, 'expected arrive: SHAPE or depart: SHAPE');
    if (o.arrive !== undefined && o.depart !== undefined) fail(p, 'a step either arrives or departs');
    const shape = str(`${p}.${kind}`, o[kind]);
    if (!shapes.some((s) => s.name === shape)) fail(`${p}.${kind}`, `no shape named ${show(shape)} in fleet.shapes`);
    return { kind, shape, count: o.count === undefined ? 1 : int(`${p}.count`, o.count, 1, 100000) };
  });
}

function parseFleet(path: string, v: unknown): { shapes: Shape[]; trace: TraceEvent[] } {
  const o = obj(path, v);
  known(path, o, ['shapes', 'trace']);
  if (!Array.isArray(o.shapes) || o.shapes.length === 0) fail(`${path}.shapes`, `expected a non-empty list of VM shapes, got ${show(o.shapes)}`);
  const hasTrace = o.trace !== undefined;
  const shapes = o.shapes.map((s, i) => parseShape(`${path}.shapes[${i}]`, s, hasTrace));
  shapes.forEach((s, i) => {
    if (shapes.findIndex((t) => t.name === s.name) !== i) fail(`${path}.shapes[${i}].name`, `duplicate shape name ${show(s.name)}`);
  });
  const trace = hasTrace ? parseTrace(`${path}.trace`, o.trace, shapes) : [];
  if (hasTrace && shapes.some((s) => s.fill)) fail(`${path}.trace`, 'a trace cannot be combined with fill: true shapes');
  return { shapes, trace };
}

function parseBackends(path: string, v: unknown): BackendId[] {
  if (v === undefined) return [...BACKEND_IDS];
  if (!Array.isArray(v) || v.length === 0) fail(path, `expected a non-empty list of backend ids, got ${show(v)}`);
  return v.map((b, i) => {
    if (!(BACKEND_IDS as readonly unknown[]).includes(b)) fail(`${path}[${i}]`, `unknown backend ${show(b)} (expected one of ${BACKEND_IDS.join(', ')})`);
    return b as BackendId;
  });
}

/** Check a parsed YAML document (or any object) as a scenario. */
export function checkScenario(doc: unknown, defaultName = 'scenario'): Scenario {
  const o = obj('scenario', doc);
  known('', o, ['name', 'seed', 'host', 'fleet', 'backends', 'max_vms']);
  if (o.host === undefined) fail('host', 'required');
  if (o.fleet === undefined) fail('fleet', 'required');
  const host = parseHost('host', o.host);
  const { shapes, trace } = parseFleet('fleet', o.fleet);
  return {
    name: o.name === undefined ? defaultName : str('name', o.name),
    seed: o.seed === undefined ? 1 : int('seed', o.seed, 0, 2 ** 31 - 1),
    host,
    shapes,
    trace,
    backends: parseBackends('backends', o.backends),
    maxVms: o.max_vms === undefined ? 512 : int('max_vms', o.max_vms, 1, 100000),
  };
}

/** Parse scenario YAML text; YAML syntax errors and schema errors are ScenarioErrors. */
export function parseScenario(text: string, defaultName = 'scenario'): Scenario {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    if (e instanceof YAMLParseError) throw new ScenarioError(`YAML: ${e.message.split('\n')[0]}`);
    throw e;
  }
  return checkScenario(doc, defaultName);
}

/** One line per shape (or trace step) for the report header. */
export function fleetSummary(s: Scenario): string[] {
  const lines = s.shapes.map((sh) => {
    const n = s.trace.length ? 'trace' : sh.fill ? 'fill' : `${sh.count}×`;
    const touch = sh.touch ? `, touches ${formatSizeSuffix(sh.touch)} (${sh.pattern}${sh.write ? ', write' : ', read'})` : '';
    return `${sh.name}: ${n} ${formatSizeSuffix(sh.memory)}, ${sh.vcpus} vCPU${sh.vcpus > 1 ? 's' : ''}${touch}${sh.vfio ? ', VFIO' : ''}`;
  });
  for (const e of s.trace) lines.push(`trace: ${e.kind} ${e.count}× ${e.shape}`);
  return lines;
}
