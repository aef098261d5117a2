/**
 * `dmemfs verify`'s cases: small shell scripts run identically on a model host
 * and on this machine's kernel (`sh --linux`), and how each command's output
 * becomes named figures. The figures are what the kernel reports itself:
 * KVM_GET_STATS_FD's pages_4k/2m/1g (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c
 * kvm_vm_stats_desc) through `vmm info`, /proc/meminfo's HugePages_*
 * (mm/hugetlb.c hugetlb_report_meminfo), memtouch's faults by level and the
 * bits of /proc/self/pagemap (fs/proc/task_mmu.c pagemap_read) it counts.
 */

/** One command of a case. `{DIR}`, `{NR+n}` and `{OC+n}` are filled in per side (see VerifyContext). */
export interface VerifyStep {
  cmd: string;
  /** Prefix of the figures this command's output gives, if any. */
  label?: string;
  /** How to read the output. */
  parse?: 'kvm' | 'faults' | 'hugepages' | 'pagemap' | 'run';
  /** A command whose failure means the case cannot run on that side (skipped with its message). */
  require?: boolean;
  /** Record the exit status as LABEL.exit and go on, failure or not. */
  exit?: boolean;
}

/** A hugetlb pool a case needs: `count` pages of `size` bytes added for the case. */
export interface PoolNeed {
  size: number;
  count: number;
}

/** What the real side must have for a case. */
export type Need = 'kvm' | 'root' | 'hugetlb-default-2M';

/** A scripted case. */
export interface VerifyCase {
  name: string;
  title: string;
  needs: Need[];
  pool?: PoolNeed;
  /** Extra kernel command line for the model host (e.g. dmem= for dmemfs). */
  modelCmdline?: string;
  steps: VerifyStep[];
}

/** Per-side values substituted into the steps. */
export interface VerifyContext {
  /** A scratch directory for mounts (created and removed by the runner). */
  dir: string;
  /** nr_hugepages of the default size and nr_overcommit_hugepages when the case began. */
  nr: number;
  oc: number;
}

/** A step's command with the context filled in. */
export function expand(cmd: string, ctx: VerifyContext): string {
  return cmd
    .replace(/\{DIR\}/g, ctx.dir)
    .replace(/\{NR([+-]\d+)?\}/g, (_, d: string | undefined) => String(ctx.nr + Number(d ?? 0)))
    .replace(/\{OC([+-]\d+)?\}/g, (_, d: string | undefined) => String(ctx.oc + Number(d ?? 0)));
}

const M = 1024 * 1024;
const G = 1024 * M;

/** A guest touches every page of its memory once (writes), then the VM's stats are read. */
function kvmSteps(opts: string, label: string): VerifyStep[] {
  return [
    { cmd: `vmm start g ${opts}` },
    { cmd: 'vmm run g --pattern seq --write' },
    { cmd: 'vmm info g', label, parse: 'kvm' },
    { cmd: 'vmm stop g' },
  ];
}

/**
 * `vmm mce` arguments after CPU and BANK, as QEMU's kvm_mce_inject builds them:
 * STATUS (VAL|UC|EN|MISCV|ADDRV|S, with AR and MCACOD 0x134, or 0xc0 for AO),
 * MCGSTATUS (MCIP|RIPV, and EIPV for AR), ADDR, MISC (physical address, 4K).
 */
const MCE_AO = '0xbd000000000000c0 0x5 0x100000 0x8c';
const MCE_AR = '0xbd80000000000134 0x7 0x100000 0x8c';

const NR_HUGEPAGES = '/proc/sys/vm/nr_hugepages';
const NR_OVERCOMMIT = '/proc/sys/vm/nr_overcommit_hugepages';
const meminfo = (label: string): VerifyStep => ({ cmd: 'grep HugePages_ /proc/meminfo', label, parse: 'hugepages' });

/** Every case, in the order they run. */
export const CASES: readonly VerifyCase[] = [
  {
    name: 'kvm-4k',
    title: 'KVM pages, 128M guest on memfd (4K pages; shmem THP as the host sets it)',
    needs: ['kvm'],
    steps: kvmSteps('--memory 128M --memory-backend memfd', 'memfd'),
  },
  {
    name: 'kvm-thp',
    title: 'KVM pages, 128M guest on anonymous memory (QEMU madvises MADV_HUGEPAGE)',
    needs: ['kvm'],
    steps: kvmSteps('--memory 128M --memory-backend ram', 'ram'),
  },
  {
    name: 'kvm-hugetlb-2m',
    title: 'KVM pages, 128M guest on hugetlb 2M (memfd hugetlb=on)',
    needs: ['kvm', 'root'],
    pool: { size: 2 * M, count: 64 },
    steps: kvmSteps('--memory 128M --memory-backend memfd --hugetlb --hugetlbsize 2M', 'hugetlb2M'),
  },
  {
    name: 'kvm-hugetlb-1g',
    title: 'KVM pages, 1G guest on hugetlb 1G (memfd hugetlb=on)',
    needs: ['kvm', 'root'],
    pool: { size: G, count: 1 },
    steps: kvmSteps('--memory 1G --memory-backend memfd --hugetlb --hugetlbsize 1G', 'hugetlb1G'),
  },
  {
    name: 'kvm-dmemfs',
    title: 'KVM pages, 64M guest on a dmemfs file (2M dpages; 64M is the user-space dmemfs\'s default pool)',
    needs: ['kvm', 'root'],
    modelCmdline: 'dmem=512M',
    steps: [
      { cmd: 'mount -t dmemfs -o pagesize=2M none {DIR}', require: true },
      ...kvmSteps('--memory 64M --memory-backend file --mem-path {DIR}/vm1 --share', 'dmemfs'),
      { cmd: 'rm {DIR}/vm1' },
      { cmd: 'umount {DIR}' },
    ],
  },
  {
    name: 'hugetlb-counters',
    title: 'HugePages_* (changes from the start) through reserve / touch / resize / surplus',
    needs: ['root', 'hugetlb-default-2M'],
    steps: [
      { cmd: 'mount -t hugetlbfs -o pagesize=2M none {DIR}', require: true },
      meminfo('start'),
      { cmd: `echo {NR+4} > ${NR_HUGEPAGES}` },
      meminfo('grow4'),
      // a shared 8M mapping reserves 4 pages; touching 4M uses 2; the other 2 stay reserved with the file
      { cmd: 'memtouch --file {DIR}/f --create --size 8M --touch 4M' },
      meminfo('touch-half'),
      { cmd: `echo {NR+6} > ${NR_HUGEPAGES}` },
      meminfo('grow6'),
      // 2 in use + 2 reserved cannot go: the pool keeps 4, 3 of them surplus
      { cmd: `echo {NR+1} > ${NR_HUGEPAGES}` },
      meminfo('shrink1'),
      { cmd: 'rm {DIR}/f' },
      meminfo('rm'),
      { cmd: `echo {OC+4} > ${NR_OVERCOMMIT}` },
      // 3 pages wanted, 1 free: 2 surplus pages from the buddy allocator
      { cmd: 'memtouch --file {DIR}/g --create --size 6M' },
      meminfo('overcommit'),
      { cmd: 'rm {DIR}/g' },
      meminfo('rm2'),
      { cmd: `echo {OC} > ${NR_OVERCOMMIT}` },
      { cmd: `echo {NR} > ${NR_HUGEPAGES}` },
      meminfo('end'),
      { cmd: 'umount {DIR}' },
    ],
  },
  {
    name: 'memtouch',
    title: 'memtouch faults by level, 8M anonymous',
    needs: [],
    steps: [
      { cmd: 'memtouch --anon --size 8M --no-thp', label: 'no-thp', parse: 'faults' },
      { cmd: 'memtouch --anon --size 8M --thp', label: 'thp-write', parse: 'faults' },
      { cmd: 'memtouch --anon --size 8M --thp --read', label: 'thp-read', parse: 'faults' },
    ],
  },
  {
    name: 'guest-mce',
    title: "machine checks for the guest (vmm mce: QEMU's HMP mce, injected before the next run): AO and an idle AR pass, one while MCIP is set shuts the guest down, the reset clears MCIP",
    needs: ['kvm'],
    steps: [
      { cmd: 'vmm start g --memory 64M --memory-backend memfd', require: true },
      { cmd: 'vmm run g --pattern seq --write' },
      { cmd: `vmm mce g 0 9 ${MCE_AO}` },
      { cmd: 'vmm run g --pattern seq', label: 'ao', parse: 'run', exit: true },
      { cmd: `vmm mce g 0 9 ${MCE_AR}` },
      { cmd: 'vmm run g --pattern seq', label: 'ar-idle', parse: 'run', exit: true },
      { cmd: `vmm mce g 0 9 ${MCE_AO}` },
      { cmd: `vmm mce g 0 9 ${MCE_AO}` },
      { cmd: 'vmm run g --pattern seq', label: 'mcip', parse: 'run', exit: true },
      // the reset cleared MCG_STATUS (KVM_SET_MSRS): an error is an exception again
      { cmd: `vmm mce g 0 9 ${MCE_AO}` },
      { cmd: 'vmm run g --pattern seq', label: 'after-reset', parse: 'run', exit: true },
      { cmd: `vmm mce g 0 12 ${MCE_AO}`, label: 'bad-bank', exit: true },
      { cmd: 'vmm stop g' },
    ],
  },
  {
    name: 'pagemap',
    title: '/proc/self/pagemap bits over an 8M mapping after memtouch (present, exclusive, file, swap)',
    needs: [],
    steps: [
      { cmd: 'memtouch --anon --size 8M --no-thp --touch 3M --pagemap', label: 'anon-write', parse: 'pagemap' },
      { cmd: 'memtouch --anon --size 8M --no-thp --read --pagemap', label: 'zero-page', parse: 'pagemap' },
      { cmd: 'memtouch --anon --size 8M --thp --touch 4M --pagemap', label: 'thp', parse: 'pagemap' },
    ],
  },
];

/** Figures of one case on one side, in the order they were read. */
export type Figures = Map<string, number>;

const KVM_KEYS = ['pages_4k', 'pages_2m', 'pages_1g'];

/** Add the figures a step's output gives. `start` holds the first HugePages_* reading (the baseline). */
export function parseStep(step: VerifyStep, out: string, figs: Figures, start: Map<string, number>): void {
  const label = step.label ?? step.cmd;
  if (step.parse === 'kvm') {
    for (const k of KVM_KEYS) {
      const m = new RegExp(`^${k}=(\\d+)$`, 'm').exec(out);
      if (m) figs.set(`${label}.${k}`, Number(m[1]));
    }
  } else if (step.parse === 'faults') {
    const m = /faults 4K=(\d+) 2M=(\d+) 1G=(\d+)/.exec(out);
    if (m) ['4K', '2M', '1G'].forEach((k, i) => figs.set(`${label}.faults_${k}`, Number(m[i + 1])));
  } else if (step.parse === 'run') {
    const m = /\bstatus=(\d+)/.exec(out);
    if (m) figs.set(`${label}.status`, Number(m[1]));
  } else if (step.parse === 'pagemap') {
    const m = /pagemap present=(\d+) exclusive=(\d+) file=(\d+) swap=(\d+)/.exec(out);
    if (m) ['present', 'exclusive', 'file', 'swap'].forEach((k, i) => figs.set(`${label}.${k}`, Number(m[i + 1])));
  } else if (step.parse === 'hugepages') {
    for (const m of out.matchAll(/^HugePages_(\w+):\s+(\d+)$/gm)) {
      const k = m[1]!;
      const v = Number(m[2]);
      if (!start.has(k)) start.set(k, v);
      else figs.set(`${label}.${k}`, v - start.get(k)!);
    }
  }
}
