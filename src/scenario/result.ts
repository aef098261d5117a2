/**
 * What `dmemfs compare` measures: one BackendResult per backend, each from a
 * freshly booted host running the same fleet. Every number here is read from
 * the model's own counters (/proc/meminfo, /proc/vmstat, debugfs kvm stats,
 * dmem/hugetlb/dax state) after the model did the work; nothing is computed
 * from a formula. The terminal table, --json and the HTML report all render
 * this one structure.
 */

/** Built-in backend identifiers, in the order the report shows them. */
export const BACKEND_IDS = [
  'anon-4k',
  'thp',
  'hugetlb-2m',
  'hugetlb-2m-hvo',
  'hugetlb-1g',
  'hugetlb-1g-hvo',
  'devdax-2m',
  'devdax-1g',
  'devdax-map0',
  'dmemfs-4k',
  'dmemfs-2m',
  'dmemfs-1g',
  'dmemfs-remap',
] as const;
/** One of BACKEND_IDS. */
export type BackendId = (typeof BACKEND_IDS)[number];

/** Bytes by mapping level. */
export interface ByLevel {
  '4k': number;
  '2m': number;
  '1g': number;
}

/** Host memory the backend spends on itself, in bytes, each from a named counter. */
export interface Overhead {
  /** struct pages / vmemmap actually populated (boot memmap + hotplug/devdax vmemmap, minus HVO-freed). */
  structPages: number;
  /** The backend's own metadata: dmem bitmaps and refcounts, hugetlb bookkeeping, dax ranges. */
  backendMeta: number;
  /** Host page tables (PageTables in /proc/meminfo) for the fleet's mappings. */
  hostPageTables: number;
  /** Second-stage page tables (SecPageTables). */
  secPageTables: number;
  /** Sum of the four. */
  total: number;
}

/** How many VMs of one shape fit when placed until one fails. */
export interface Density {
  shape: string;
  /** VMs of this shape that started and touched their memory before the first failure. */
  fits: number;
  /** What failed: the vmm error or signal text of the first VM that did not fit ('' if the cap was reached). */
  failure: string;
}

/** The blast radius of one uncorrected memory error in a running guest. */
export interface BlastRadius {
  /** The physical address poisoned (inside the first VM's touched memory). */
  pfn: number;
  /** Bytes of guest memory lost (unmapped or unusable because of this error). */
  bytesLost: number;
  /** Processes that received SIGBUS. */
  processesSignalled: number;
  /** Whether the VM can keep running (the VMM gets BUS_MCEERR_AR for the page only). */
  guestSurvives: boolean;
  /** One line: what happened, in the model's words (signal, si_addr_lsb, page state). */
  detail: string;
}

/** Feature rows: 'yes', 'no', or a short qualified answer ("2M", "with MADV_DONTFORK"). */
export interface Features {
  fork: string;
  vfio: string;
  numaPolicy: string;
  resize: string;
  hotUnplug: string;
  poisonGranularity: string;
}

/** Who owns a stretch of physical memory in the node pictures. */
export type Owner = 'kernel' | 'struct-pages' | 'page-tables' | 'free' | 'reserved-pool' | 'guest' | 'other';

/** One node's physical memory, cut into equal cells; each cell gets its majority owner. */
export interface NodeMap {
  nid: number;
  /** Physical address of the first cell. */
  start: number;
  /** Bytes per cell. */
  cellBytes: number;
  /** Owner of each cell (majority by bytes). */
  cells: Owner[];
  /** For 'guest' cells: the VM name owning the majority, else ''. */
  vms: string[];
}

/** Everything measured for one backend on one freshly booted host. */
export interface BackendResult {
  id: BackendId;
  /** Human label, e.g. "hugetlbfs 1G + HVO". */
  label: string;
  /** The kernel command line the host was booted with. */
  cmdline: string;
  /** The shell commands the operator ran before launching VMs (mounts, pools, daxctl). */
  setup: string[];
  /** The vmm start line used for VMs (with NAME and SIZE as placeholders). */
  vmmStart: string;
  /** MemTotal after setup, bytes. */
  memTotal: number;
  overhead: Overhead;
  /** Bytes of memory available to guests after setup (the backend's pool, or MemAvailable). */
  guestAvailable: number;
  /** Bytes of guest memory the fleet actually had backed when measured. */
  guestUsed: number;
  density: Density[];
  /** Host page faults by level while the fleet ran (memtouch/vmm counters, /proc/vmstat). */
  hostFaults: ByLevel;
  /** Second-stage (EPT) mappings created by level (KVM pages_4k/2m/1g summed over VMs). */
  secondStage: ByLevel;
  /** Bytes the kernel zeroed to hand memory to guests. */
  bytesZeroed: number;
  blast: BlastRadius;
  features: Features;
  nodes: NodeMap[];
  /** Set when the backend could not be measured at all (the error, verbatim). */
  error?: string;
}

/** A whole comparison: the scenario as run and one result per backend. */
export interface CompareResult {
  scenario: {
    name: string;
    seed: number;
    host: { memory: number; nodes: number; cpus: number };
    /** One line per VM shape or trace summary, for the report header. */
    fleet: string[];
  };
  results: BackendResult[];
}
