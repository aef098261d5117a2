/**
 * The machine description: how much DRAM, how many NUMA nodes, how many CPUs,
 * and the node distance matrix. This is what firmware would report through the
 * e820 map (arch/x86/kernel/e820.c), the ACPI SRAT (memory affinity) and the ACPI
 * SLIT (drivers/acpi/numa/srat.c: distances, 10 = local). The host builds its
 * e820 table and NUMA layout from it (see e820.ts buildE820).
 */
import { parse } from 'yaml';
import { GiB, MiB, PAGE_SIZE, formatBytes, formatSizeSuffix, isAligned, memparse } from '../../lib/size.ts';

/** One NUMA node: its DRAM and its CPU count (0 = a memory-only node, like CXL). */
export interface NodeDesc {
  id: number;
  memBytes: number;
  cpus: number;
}

/** A whole machine: total DRAM, its nodes, and the SLIT distance matrix. */
export interface MachineDesc {
  memBytes: number;
  nodes: NodeDesc[];
  distances: number[][];
}

/** ACPI SLIT: distance of a node to itself. */
export const LOCAL_DISTANCE = 10;
/** ACPI SLIT: the conventional distance to any other node on a 2-socket box. */
export const REMOTE_DISTANCE = 20;
/** Node count limit (x86-64 CONFIG_NODES_SHIFT=6 → MAX_NUMNODES 64). */
export const MAX_MACHINE_NODES = 64;
/** Smallest machine we boot: enough for the low holes, the kernel and a few sections. */
export const MIN_MACHINE_MEM = 256 * MiB;
/** Memory is split between nodes in whole memory sections (128 MiB on x86-64). */
const SPLIT_UNIT = 128 * MiB;

const DEFAULT_MEM = 64 * GiB;
const DEFAULT_CPUS_PER_NODE = 4;

function fail(field: string, msg: string): never {
  throw new Error(`machine: ${field}: ${msg}`);
}

/** Split `mem` evenly over `n` nodes in 128 MiB units; the remainder goes to the last node. */
function splitMemory(mem: number, n: number, field: string): number[] {
  const per = Math.floor(mem / SPLIT_UNIT / n) * SPLIT_UNIT;
  if (per === 0 && n > 1) fail(field, `${formatSizeSuffix(mem)} cannot give each of ${n} nodes at least 128M`);
  const out = new Array<number>(n).fill(per);
  out[n - 1] = mem - per * (n - 1);
  return out;
}

/** The SLIT matrix Linux synthesises without firmware data: 10 local, 20 remote. */
function defaultDistances(n: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? LOCAL_DISTANCE : REMOTE_DISTANCE)),
  );
}

function checkSize(field: string, v: number): number {
  if (!Number.isSafeInteger(v)) fail(field, `not a size: ${String(v)}`);
  if (v <= 0) fail(field, `must be > 0: ${v}`);
  if (!isAligned(v, PAGE_SIZE)) fail(field, `must be a multiple of 4K: ${v}`);
  return v;
}

function checkNodeCount(field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) fail(field, `not a node count: ${String(n)}`);
  if (n > MAX_MACHINE_NODES) fail(field, `at most ${MAX_MACHINE_NODES} nodes: ${n}`);
}

function checkCpus(field: string, c: number): void {
  if (!Number.isSafeInteger(c) || c < 0) fail(field, `not a CPU count: ${String(c)}`);
}

/** Validate a complete description (sizes, node count, SLIT rules, totals). */
export function validateMachine(m: MachineDesc): MachineDesc {
  checkNodeCount('nodes', m.nodes.length);
  let sum = 0;
  let cpus = 0;
  m.nodes.forEach((nd, i) => {
    if (nd.id !== i) fail(`nodes[${i}].id`, `must be ${i}: ${nd.id}`);
    checkSize(`nodes[${i}].memory`, nd.memBytes);
    checkCpus(`nodes[${i}].cpus`, nd.cpus);
    sum += nd.memBytes;
    cpus += nd.cpus;
  });
  if (cpus < 1) fail('cpus', 'the machine needs at least one CPU');
  checkSize('memory', m.memBytes);
  if (sum !== m.memBytes) {
    fail('memory', `${formatSizeSuffix(m.memBytes)} does not equal the sum of node memory ${formatSizeSuffix(sum)}`);
  }
  if (m.memBytes < MIN_MACHINE_MEM) fail('memory', `at least 256M: ${formatSizeSuffix(m.memBytes)}`);
  const n = m.nodes.length;
  const d = m.distances;
  if (!Array.isArray(d) || d.length !== n || d.some((row) => !Array.isArray(row) || row.length !== n)) {
    fail('distances', `must be a ${n}x${n} matrix`);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = d[i]![j]!;
      const f = `distances[${i}][${j}]`;
      if (!Number.isSafeInteger(v)) fail(f, `not an integer: ${String(v)}`);
      if (i === j && v !== LOCAL_DISTANCE) fail(f, `local distance must be 10: ${v}`);
      if (i !== j && v <= LOCAL_DISTANCE) fail(f, `remote distance must be > 10: ${v}`);
      if (i !== j && v > 254) fail(f, `distance must be <= 254: ${v}`);
      if (v !== d[j]![i]) fail(f, `not symmetric: ${v} != ${d[j]![i]}`);
    }
  }
  return m;
}

/** The machine from command-line flags: mem (bytes, default 64 GiB), nodes (1), cpus per node (4). */
export function machineFromFlags(o: { mem?: number; nodes?: number; cpus?: number }): MachineDesc {
  const mem = checkSize('memory', o.mem ?? DEFAULT_MEM);
  const n = o.nodes ?? 1;
  checkNodeCount('nodes', n);
  const cpus = o.cpus ?? DEFAULT_CPUS_PER_NODE;
  checkCpus('cpus_per_node', cpus);
  const sizes = splitMemory(mem, n, 'memory');
  return validateMachine({
    memBytes: mem,
    nodes: sizes.map((memBytes, id) => ({ id, memBytes, cpus })),
    distances: defaultDistances(n),
  });
}

/** A YAML size: a byte count or a memparse string (K/M/G/T suffixes), whole string consumed. */
function yamlSize(field: string, v: unknown): number {
  if (typeof v === 'number') return checkSize(field, v);
  if (typeof v !== 'string') fail(field, `not a size: ${JSON.stringify(v)}`);
  const { value, rest } = memparse(v.trim());
  if (Number.isNaN(value) || rest !== '') fail(field, `not a size: ${JSON.stringify(v)}`);
  return checkSize(field, value);
}

function yamlInt(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(field, `not an integer: ${JSON.stringify(v)}`);
  return v;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(field: string, obj: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(field === '' ? k : `${field}.${k}`, 'unknown field');
  }
}

/**
 * Parse a machine file:
 * `memory: 64G`, `cpus_per_node: 8`, `nodes: 2` or a list of `{memory, cpus}`,
 * optional `distances: [[10, 21], [21, 10]]`. Errors name the offending field.
 */
export function parseMachineYaml(text: string): MachineDesc {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`machine: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isMapping(doc)) throw new Error('machine: expected a mapping with memory/nodes/cpus_per_node/distances');
  checkKeys('', doc, ['memory', 'cpus_per_node', 'nodes', 'distances']);
  const total = doc.memory === undefined ? undefined : yamlSize('memory', doc.memory);
  const cpusPerNode = doc.cpus_per_node === undefined ? DEFAULT_CPUS_PER_NODE : yamlInt('cpus_per_node', doc.cpus_per_node);
  checkCpus('cpus_per_node', cpusPerNode);

  let nodes: NodeDesc[];
  const rawNodes = doc.nodes ?? 1;
  if (typeof rawNodes === 'number') {
    checkNodeCount('nodes', rawNodes);
    if (total === undefined) fail('memory', 'required when nodes is a count');
    nodes = splitMemory(total, rawNodes, 'memory').map((memBytes, id) => ({ id, memBytes, cpus: cpusPerNode }));
  } else if (Array.isArray(rawNodes)) {
    checkNodeCount('nodes', rawNodes.length);
    const given = rawNodes.map((nd, i) => {
      if (!isMapping(nd)) fail(`nodes[${i}]`, 'expected a mapping with memory/cpus');
      checkKeys(`nodes[${i}]`, nd, ['memory', 'cpus']);
      return {
        mem: nd.memory === undefined ? undefined : yamlSize(`nodes[${i}].memory`, nd.memory),
        cpus: nd.cpus === undefined ? cpusPerNode : yamlInt(`nodes[${i}].cpus`, nd.cpus),
      };
    });
    const withMem = given.filter((g) => g.mem !== undefined).length;
    if (withMem === 0) {
      if (total === undefined) fail('memory', 'required when nodes give no memory');
      const sizes = splitMemory(total, given.length, 'memory');
      nodes = given.map((g, id) => ({ id, memBytes: sizes[id]!, cpus: g.cpus }));
    } else {
      const missing = given.findIndex((g) => g.mem === undefined);
      if (missing >= 0) fail(`nodes[${missing}].memory`, 'required when other nodes give memory');
      nodes = given.map((g, id) => ({ id, memBytes: g.mem!, cpus: g.cpus }));
    }
    nodes.forEach((nd, i) => checkCpus(`nodes[${i}].cpus`, nd.cpus));
  } else {
    fail('nodes', `expected a count or a list: ${JSON.stringify(rawNodes)}`);
  }
  const sum = nodes.reduce((s, nd) => s + nd.memBytes, 0);
  let distances: number[][];
  if (doc.distances === undefined) {
    distances = defaultDistances(nodes.length);
  } else {
    if (!Array.isArray(doc.distances)) fail('distances', 'expected a list of lists');
    distances = (doc.distances as unknown[]).map((row, i) => {
      if (!Array.isArray(row)) fail(`distances[${i}]`, 'expected a list');
      return row.map((v, j) => yamlInt(`distances[${i}][${j}]`, v));
    });
  }
  return validateMachine({ memBytes: total ?? sum, nodes, distances });
}

/** One line for logs: `64 GiB, 2 nodes (0: 32 GiB/4 CPUs, 1: 32 GiB/4 CPUs), 8 CPUs`. */
export function describeMachine(m: MachineDesc): string {
  const cpus = m.nodes.reduce((s, nd) => s + nd.cpus, 0);
  const per = m.nodes.map((nd) => `${nd.id}: ${formatBytes(nd.memBytes)}/${nd.cpus} CPUs`).join(', ');
  const nn = m.nodes.length;
  return `${formatBytes(m.memBytes)}, ${nn} node${nn === 1 ? '' : 's'} (${per}), ${cpus} CPUs`;
}
