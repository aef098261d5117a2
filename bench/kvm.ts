/**
 * KVM figures for `npm run bench`: second-stage (EPT) faults per second at 4K,
 * 2M and 1G, each on host memory already faulted in, so the guest's first touch
 * of every page is one EPT fault resolved through the host page table.
 */
import { GiB, MiB, PAGE_SIZE } from '../src/lib/size.ts';
import { machineFromFlags } from '../src/kernel/boot/machine.ts';
import { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/process.ts';
import { O_CREAT, O_RDWR } from '../src/uapi/fcntl.ts';
import { KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_RUN, KVM_SET_USER_MEMORY_REGION, encode_guest_program, new_kvm_run } from '../src/uapi/kvm.ts';
import { MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/uapi/mman.ts';

type Backing = 'anon4k' | 'thp' | 'dmemfs1g';

/** Map `bytes` of guest RAM the way each backing needs, already populated on the host. */
function guestRam(t: Task, backing: Backing, bytes: number): number {
  const RW = PROT_READ | PROT_WRITE;
  if (backing === 'dmemfs1g') {
    t.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=1G');
    const fd = t.open('/mnt/guest', O_RDWR | O_CREAT, 0o600);
    t.ftruncate(fd, bytes);
    const a = t.mmap(0, bytes, RW, MAP_SHARED, fd, 0);
    t.close(fd);
    for (let off = 0; off < bytes; off += GiB) t.store(a + off, new Uint8Array(1));
    return a;
  }
  const a = t.mmap(0, bytes, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (backing === 'anon4k') t.madvise(a, bytes, MADV_NOHUGEPAGE);
  const step = backing === 'thp' ? 2 * MiB : PAGE_SIZE;
  for (let off = 0; off < bytes; off += step) t.store(a + off, new Uint8Array(1));
  return a;
}

/** A guest reading all of its RAM once (one access per 4 KiB page): EPT faults and time. */
function eptFaults(backing: Backing, bytes: number): { perSec: number; faults: number; secs: number } {
  const host = Host.boot({ machine: machineFromFlags({ mem: 128 * GiB, nodes: 1 }), cmdline: backing === 'dmemfs1g' ? 'dmem=70G' : '' });
  const t = host.spawnConsoleTask('bench', { stdout: () => {}, stderr: () => {} });
  const hva = guestRam(t, backing, bytes);
  const kvm = t.open('/dev/kvm', O_RDWR);
  const vm = t.ioctl(kvm, KVM_CREATE_VM, 0);
  t.ioctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 0, flags: 0, guest_phys_addr: 0, memory_size: bytes, userspace_addr: hva });
  const vcpu = t.ioctl(vm, KVM_CREATE_VCPU, 0);
  t.store(hva, encode_guest_program({ pattern: 0, flags: 0, start_gpa: 0, bytes, seed: 1, hot_percent: 10, iterations: 1 }));
  const t0 = performance.now();
  t.ioctl(vcpu, KVM_RUN, new_kvm_run());
  const secs = (performance.now() - t0) / 1000;
  const stat = (name: string): number => {
    const fd = t.open(`/sys/kernel/debug/kvm/${name}`, 0);
    const v = Number(new TextDecoder().decode(t.read(fd, 64)));
    t.close(fd);
    return v;
  };
  const faults = stat('pf_fixed');
  return { perSec: faults / secs, faults, secs };
}

/** The KVM rows of the benchmark table. */
export function kvmRows(): string[] {
  const rows: string[] = [];
  for (const [label, backing, bytes] of [
    ['KVM EPT faults at 4K (1 GiB guest)', 'anon4k', 1 * GiB],
    ['KVM 16 GiB THP guest, EPT at 2M', 'thp', 16 * GiB],
    ['KVM 64 GiB dmemfs guest, EPT at 1G', 'dmemfs1g', 64 * GiB],
  ] as const) {
    let best = { perSec: 0, faults: 0, secs: Infinity };
    for (let round = 0; round < 3; round++) {
      const r = eptFaults(backing, bytes);
      if (r.secs < best.secs) best = r;
    }
    // At 4K every guest access faults, so the rate is the fault path's; at 2M/1G
    // most accesses hit an existing entry, so the figure is the whole guest pass.
    const pages = bytes / PAGE_SIZE;
    rows.push(
      backing === 'anon4k'
        ? `${label.padEnd(34)} ${(best.perSec / 1e6).toFixed(2).padStart(8)} M faults/s`
        : `${label.padEnd(34)} ${best.secs.toFixed(2).padStart(8)} s      ${best.faults} EPT faults for ${pages} guest pages read (${(pages / best.secs / 1e6).toFixed(1)} M pages/s)`,
    );
  }
  return rows;
}
