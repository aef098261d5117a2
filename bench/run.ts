/**
 * `npm run bench`: the model's headline figures, printed as a table.
 *  - simulated anonymous 4K and THP 2M faults per second (through the syscall
 *    interface, one store per page, as memtouch does);
 *  - boot time and model heap for 1 TiB and 16 TiB hosts;
 *  - dmemfs faults at 4K/2M/1G and mapping a 16 TiB dmem pool (bench/dmemfs.ts);
 *  - KVM second-stage faults at 4K/2M/1G (bench/kvm.ts);
 *  - resizing HugeTLB pools by 10,000 1G / 100,000 2M pages (bench/hugetlb.ts).
 * Run with --expose-gc for steadier heap figures (npm run bench does).
 */
import { GiB, MiB, TiB, formatBytes } from '../src/lib/size.ts';
import { machineFromFlags } from '../src/kernel/boot/machine.ts';
import { Host } from '../src/kernel/host.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MADV_NOHUGEPAGE, PROT_READ, PROT_WRITE } from '../src/uapi/mman.ts';
import { dmemfsRows } from './dmemfs.ts';
import { kvmRows } from './kvm.ts';
import { hugetlbRows } from './hugetlb.ts';

const gc = (globalThis as { gc?: () => void }).gc;

/** JS heap plus typed-array buffers (which live outside the heap). */
function heap(): number {
  // Typed-array backing stores are released a collection or two after their owners.
  for (let i = 0; i < 4; i++) gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function faults(label: string, bytes: number, thp: boolean, rounds = 6): string {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const host = Host.boot({ machine: machineFromFlags({ mem: 64 * GiB, nodes: 1 }) });
    const t = host.spawnConsoleTask('bench', { stdout: () => {}, stderr: () => {} });
    const addr = t.mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!thp) t.madvise(addr, bytes, MADV_NOHUGEPAGE);
    const one = new Uint8Array(1);
    const step = thp ? 2 * MiB : 4096;
    const t0 = performance.now();
    for (let off = 0; off < bytes; off += step) t.store(addr + off, one);
    const secs = (performance.now() - t0) / 1000;
    const n = t.mm.faultsByLevel[thp ? 2 : 1]!;
    if (n !== bytes / step) throw new Error(`${label}: expected ${bytes / step} faults, saw ${n}`);
    best = Math.max(best, n / secs);
  }
  return `${label.padEnd(34)} ${(best / 1e6).toFixed(2).padStart(8)} M faults/s`;
}

function boot(label: string, mem: number, nodes: number): string {
  Host.boot({ machine: machineFromFlags({ mem: 4 * GiB, nodes: 1 }) }); // warm the code paths
  const before = heap();
  const t0 = performance.now();
  const host = Host.boot({ machine: machineFromFlags({ mem, nodes }) });
  const ms = performance.now() - t0;
  const grown = heap() - before;
  const memmap = host.mem.sparse.memmapBytes();
  return `${label.padEnd(34)} ${ms.toFixed(0).padStart(8)} ms   model heap +${formatBytes(grown)}   struct pages ${formatBytes(memmap)}`;
}

const rows = [
  faults('anonymous 4K faults (1 GiB)', 1 * GiB, false),
  faults('anonymous THP 2M faults (32 GiB)', 32 * GiB, true),
  boot('boot 1 TiB, 2 nodes', 1 * TiB, 2),
  boot('boot 16 TiB, 8 nodes', 16 * TiB, 8),
  ...dmemfsRows(),
  ...kvmRows(),
  ...hugetlbRows(),
];
process.stdout.write(rows.join('\n') + '\n');
