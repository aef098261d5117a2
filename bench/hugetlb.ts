/**
 * Bench rows for the HugeTLB pools: resizing a 1 GiB pool by 10,000 pages
 * (alloc_contig_pages per page, then free_contig_range) through
 * /sys/kernel/mm/hugepages, and a 2 MiB pool by 100,000 pages, on a 16 TiB host.
 */
import { TiB } from '../src/lib/size.ts';
import { machineFromFlags } from '../src/kernel/boot/machine.ts';
import { Host } from '../src/kernel/host.ts';
import type { PseudoFile } from '../src/kernel/fs/pseudo/index.ts';

function write(host: Host, path: string, text: string): void {
  (host.fs.pseudo.sys.resolve(path) as PseudoFile).store!(text);
}

function read(host: Host, path: string): string {
  return (host.fs.pseudo.sys.resolve(path) as PseudoFile).show!().trim();
}

function resize(label: string, dir: string, n: number): string {
  const host = Host.boot({ machine: machineFromFlags({ mem: 16 * TiB, nodes: 2 }) });
  const file = `kernel/mm/hugepages/${dir}/nr_hugepages`;
  const t0 = performance.now();
  write(host, file, String(n));
  const t1 = performance.now();
  if (read(host, file) !== String(n)) throw new Error(`${label}: pool is ${read(host, file)}, not ${n}`);
  write(host, file, '0');
  const t2 = performance.now();
  if (read(host, file) !== '0') throw new Error(`${label}: pool did not shrink`);
  return `${label.padEnd(34)} ${(t1 - t0).toFixed(0).padStart(8)} ms grow ${(t2 - t1).toFixed(0).padStart(6)} ms shrink`;
}

/** The hugetlb rows of `npm run bench`. */
export function hugetlbRows(): string[] {
  return [resize('hugetlb 1G pool +10,000 (16 TiB)', 'hugepages-1048576kB', 10_000), resize('hugetlb 2M pool +100,000 (16 TiB)', 'hugepages-2048kB', 100_000)];
}
