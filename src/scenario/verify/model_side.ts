/**
 * The model side of `dmemfs verify`: a host booted like this machine (its
 * memory, node count and CPUs, read from /sys/devices/system and /proc/meminfo;
 * its THP mode copied from /sys/kernel/mm/transparent_hugepage/enabled), a
 * fresh one per case, driven through the shell as an operator would.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { machineFromFlags, type MachineDesc } from '../../kernel/boot/machine.ts';
import { Operator } from '../operator.ts';
import type { VerifyCase } from './cases.ts';
import { runSteps, type SideResult } from './side.ts';

const GiB = 1024 ** 3;

/** What the model needs to know about the real machine. */
export interface RealShape {
  mem: number;
  nodes: number;
  cpus: number;
  /** The THP mode in force ('always', 'madvise', 'never'), or null where unknown. */
  thp: string | null;
  /** The default hugetlb pool: nr_hugepages and nr_overcommit_hugepages (the model starts with the same). */
  nrHugepages: number;
  nrOvercommit: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * This machine's shape: memory from the memory blocks (drivers/base/memory.c:
 * block_size_bytes × memoryN directories, the RAM the kernel was given), else
 * MemTotal rounded up to 1G; nodes from /sys/devices/system/node/nodeN; CPUs per node.
 * Off Linux: a 4G, 1-node, 4-CPU machine.
 */
export function readRealShape(): RealShape {
  const fallback: RealShape = { mem: 4 * GiB, nodes: 1, cpus: 4, thp: null, nrHugepages: 0, nrOvercommit: 0 };
  const meminfo = read('/proc/meminfo');
  if (process.platform !== 'linux' || meminfo === null) return fallback;
  let mem = 0;
  const bs = read('/sys/devices/system/memory/block_size_bytes');
  if (bs !== null) {
    const blocks = readdirSync('/sys/devices/system/memory').filter((d) => /^memory\d+$/.test(d)).length;
    mem = parseInt(bs.trim(), 16) * blocks;
  }
  if (!mem) mem = Math.ceil((Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) * 1024) / GiB) * GiB || fallback.mem;
  const nodeDir = '/sys/devices/system/node';
  const nodes = existsSync(nodeDir) ? readdirSync(nodeDir).filter((d) => /^node\d+$/.test(d)).length || 1 : 1;
  const online = read('/sys/devices/system/cpu/online') ?? '0';
  let ncpu = 0;
  for (const r of online.trim().split(',')) {
    const [a, b] = r.split('-').map(Number);
    ncpu += b === undefined ? 1 : b - a! + 1;
  }
  const thp = /\[(\w+)\]/.exec(read('/sys/kernel/mm/transparent_hugepage/enabled') ?? '')?.[1] ?? null;
  const pool = (p: string): number => Number(read(p)?.trim() ?? 0) || 0;
  return {
    mem,
    nodes,
    cpus: Math.max(1, Math.floor(ncpu / nodes)),
    thp,
    nrHugepages: pool('/proc/sys/vm/nr_hugepages'),
    nrOvercommit: pool('/proc/sys/vm/nr_overcommit_hugepages'),
  };
}

/** The model machine for a shape. */
export function modelMachine(s: RealShape): MachineDesc {
  return machineFromFlags({ mem: s.mem, nodes: s.nodes, cpus: s.cpus });
}

/** Run a case on a freshly booted model host. */
export function runModel(c: VerifyCase, shape: RealShape): SideResult {
  let op: Operator;
  try {
    op = new Operator(modelMachine(shape), c.modelCmdline ?? '');
  } catch (e) {
    return { figures: new Map(), error: `boot: ${(e as Error).message}`, transcript: '' };
  }
  const setup: string[] = ['mkdir -p /mnt/verify'];
  if (shape.thp) setup.push(`echo ${shape.thp} > /sys/kernel/mm/transparent_hugepage/enabled`);
  // The same pool to start with as the real host (a shrink below what is used depends on it).
  if (shape.nrHugepages) setup.push(`echo ${shape.nrHugepages} > /proc/sys/vm/nr_hugepages`);
  if (shape.nrOvercommit) setup.push(`echo ${shape.nrOvercommit} > /proc/sys/vm/nr_overcommit_hugepages`);
  const poolFile = c.pool ? `/sys/kernel/mm/hugepages/hugepages-${c.pool.size / 1024}kB/nr_hugepages` : '';
  for (const cmd of [...setup, ...(c.pool ? ['pool'] : [])]) {
    // The case's pool is added to what is there, as LinuxSession.reserveHugepages does.
    const line = cmd === 'pool' ? `echo ${op.num(poolFile) + c.pool!.count} > ${poolFile}` : cmd;
    const r = op.sh(line);
    if (r.status !== 0) return { figures: new Map(), error: `${line}: ${(r.err || r.out).trim()}`, transcript: '' };
  }
  const nr = op.num('/proc/sys/vm/nr_hugepages');
  const oc = op.num('/proc/sys/vm/nr_overcommit_hugepages');
  return runSteps((cmd) => op.sh(cmd), c, { dir: '/mnt/verify', nr, oc });
}
