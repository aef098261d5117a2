/**
 * A small hand-written CompareResult for the report tests: a 64 GiB two-node
 * host, two measured backends (anonymous 4K and dmemfs 1G) and one that failed.
 * The figures are plausible, not measured; one label carries a `<` to test escaping.
 */
import { GiB, KiB, MiB } from '../../src/lib/size.ts';
import type { BackendResult, CompareResult, NodeMap, Owner } from '../../src/scenario/result.ts';

/** A node map from runs of [owner, cells, vm?]. */
export function nodeMap(nid: number, start: number, cellBytes: number, runs: [Owner, number, string?][]): NodeMap {
  const cells: Owner[] = [];
  const vms: string[] = [];
  for (const [owner, n, vm] of runs) {
    for (let i = 0; i < n; i++) {
      cells.push(owner);
      vms.push(owner === 'guest' ? (vm ?? '') : '');
    }
  }
  return { nid, start, cellBytes, cells, vms };
}

const zero = { '4k': 0, '2m': 0, '1g': 0 };

const anon: BackendResult = {
  id: 'anon-4k',
  label: 'anonymous memory, 4K',
  cmdline: 'root=/dev/vda1 ro transparent_hugepage=never',
  setup: [],
  vmmStart: 'vmm start --name NAME --memory SIZE --vcpus 2 --mem-backend anon',
  memTotal: 63 * GiB,
  overhead: { structPages: GiB, backendMeta: 0, hostPageTables: 64 * MiB, secPageTables: 64 * MiB + 136 * KiB, total: GiB + 128 * MiB + 136 * KiB },
  guestAvailable: 62 * GiB + 512 * MiB,
  guestUsed: 32 * GiB,
  density: [
    { shape: 'small<4G>', fits: 15, failure: 'vmm: vm15: Cannot allocate memory (ENOMEM)' },
    { shape: 'large', fits: 3, failure: 'vmm: vm3: killed by the OOM killer' },
  ],
  hostFaults: { '4k': 8388608, '2m': 0, '1g': 0 },
  secondStage: { '4k': 8388608, '2m': 0, '1g': 0 },
  bytesZeroed: 32 * GiB,
  blast: { pfn: 0x212345, bytesLost: 4 * KiB, processesSignalled: 1, guestSurvives: true, detail: 'SIGBUS BUS_MCEERR_AR si_addr_lsb=12 to vmm pid 1004; the 4K page is isolated and the guest sees one machine check' },
  features: { fork: 'yes', vfio: 'yes', numaPolicy: 'yes', resize: 'yes', hotUnplug: 'yes (movable)', poisonGranularity: '4K' },
  nodes: [
    nodeMap(0, 0, GiB, [['kernel', 1], ['struct-pages', 1], ['guest', 4, 'vm0'], ['guest', 4, 'vm1'], ['guest', 4, 'vm2'], ['guest', 4, 'vm3'], ['page-tables', 1], ['free', 13]]),
    nodeMap(1, 32 * GiB, GiB, [['struct-pages', 1], ['guest', 8, 'vm4'], ['guest', 8, 'vm5'], ['other', 1], ['free', 14]]),
  ],
};

const dmemfs: BackendResult = {
  id: 'dmemfs-1g',
  label: 'dmemfs <1G dpages>',
  cmdline: 'root=/dev/vda1 ro dmem=24G',
  setup: ['mount -t dmemfs -o pagesize=1G none /mnt/dmem'],
  vmmStart: 'vmm start --name NAME --memory SIZE --vcpus 2 --mem-path /mnt/dmem/NAME',
  memTotal: 15 * GiB + 768 * MiB,
  overhead: { structPages: 256 * MiB, backendMeta: 1536 * KiB + 192, hostPageTables: 24 * KiB, secPageTables: 72 * KiB, total: 256 * MiB + 1632 * KiB + 192 },
  guestAvailable: 48 * GiB,
  guestUsed: 32 * GiB,
  density: [
    { shape: 'small<4G>', fits: 12, failure: 'vmm: vm12: No space left on device (ENOSPC)' },
    { shape: 'large', fits: 3, failure: 'vmm: vm3: No space left on device (ENOSPC)' },
  ],
  hostFaults: { '4k': 0, '2m': 0, '1g': 32 },
  secondStage: { '4k': 0, '2m': 0, '1g': 32 },
  bytesZeroed: 32 * GiB,
  blast: { pfn: 0x480000, bytesLost: GiB, processesSignalled: 1, guestSurvives: false, detail: 'SIGBUS BUS_MCEERR_AR si_addr_lsb=30; the whole 1G dpage is unmapped' },
  features: { fork: 'no (VM_DONTCOPY)', vfio: 'yes', numaPolicy: 'at boot (dmem=)', resize: 'no', hotUnplug: 'no', poisonGranularity: '1G' },
  nodes: [
    nodeMap(0, 0, GiB, [['kernel', 1], ['struct-pages', 1], ['free', 6], ['guest', 4, 'vm0'], ['guest', 4, 'vm1'], ['guest', 4, 'vm2'], ['guest', 4, 'vm3'], ['reserved-pool', 8]]),
    nodeMap(1, 32 * GiB, GiB, [['free', 8], ['guest', 8, 'vm4'], ['guest', 8, 'vm5'], ['reserved-pool', 8]]),
  ],
};

const broken: BackendResult = {
  id: 'hugetlb-1g-hvo',
  label: 'hugetlbfs 1G + HVO',
  cmdline: 'root=/dev/vda1 ro hugepagesz=1G hugepages=48 hugetlb_free_vmemmap=on',
  setup: ['mount -t hugetlbfs -o pagesize=1G none /mnt/huge'],
  vmmStart: 'vmm start --name NAME --memory SIZE --mem-path /mnt/huge/NAME',
  memTotal: 0,
  overhead: { structPages: 0, backendMeta: 0, hostPageTables: 0, secPageTables: 0, total: 0 },
  guestAvailable: 0,
  guestUsed: 0,
  density: [],
  hostFaults: zero,
  secondStage: zero,
  bytesZeroed: 0,
  blast: { pfn: 0, bytesLost: 0, processesSignalled: 0, guestSurvives: false, detail: '' },
  features: { fork: '', vfio: '', numaPolicy: '', resize: '', hotUnplug: '', poisonGranularity: '' },
  nodes: [],
  error: 'mount: /mnt/huge: unknown filesystem type \'hugetlbfs\' (ENODEV)',
};

/** The fixture: three backends, the last one with an error. */
export const FIXTURE: CompareResult = {
  scenario: {
    name: 'fixture',
    seed: 1,
    host: { memory: 64 * GiB, nodes: 2, cpus: 8 },
    fleet: ['4 x small<4G>: 4G, 2 vCPUs, touches all of it', '2 x large: 8G, 4 vCPUs, touches all of it'],
  },
  results: [anon, dmemfs, broken],
};
