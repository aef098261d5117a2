/**
 * Test helpers: a booted host with HugeTLB pools — the real host.hugetlb when
 * it is wired (boot with hugepages=), else the TEST DOUBLE in pools_double.ts.
 */
import { GiB } from '../../src/lib/size.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import type { HugetlbPools, Hstate } from '../../src/kernel/hugetlb/api.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { boot } from '../kernel/helpers.ts';
import { attachPools } from './pools_double.ts';

export { errno, meminfo, readFile, signal } from '../kernel/helpers.ts';

/** A host, a task and the pools (n2m 2M pages, n1g 1G pages). */
export interface HugeHost {
  host: Host;
  task: Task;
  pools: HugetlbPools;
  h2m: Hstate;
  h1g: Hstate;
  /** Kernel log lines, newest last. */
  log(): string[];
}

/**
 * Boot with `n2m` 2M and `n1g` 1G huge pages and /mnt/huge created. The real
 * pools (host.hugetlb) are used; `double` replaces them with the TEST DOUBLE
 * before hugetlbfs first looks at them.
 */
export function setup(opts: { n2m?: number; n1g?: number; mem?: number; double?: boolean } = {}): HugeHost {
  const n2m = opts.n2m ?? 16;
  const n1g = opts.n1g ?? 0;
  const cmdline = `hugepagesz=2M hugepages=${n2m}` + (n1g ? ` hugepagesz=1G hugepages=${n1g}` : '');
  const { host, task } = boot({ mem: opts.mem ?? (n1g + 4) * GiB, cmdline });
  const pools = attachPools(host, n2m, n1g, opts.double ?? false);
  task.mkdir('/mnt/huge', 0o755);
  return {
    host,
    task,
    pools,
    h2m: pools.size_to_hstate(2 * 1024 * 1024)!,
    h1g: pools.size_to_hstate(GiB)!,
    log: () => host.log.all().map((l) => l.text),
  };
}

/** Create (or open) a file read-write. */
export function openFile(task: Task, path: string): number {
  return task.open(path, O_RDWR | O_CREAT, 0o600);
}

/** HugePages counters of one pool: [total, free, rsvd, surp]. */
export function counts(h: Hstate): [number, number, number, number] {
  return [h.nr_huge_pages, h.free_huge_pages, h.resv_huge_pages, h.surplus_huge_pages];
}
