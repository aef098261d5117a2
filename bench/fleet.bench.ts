/**
 * `npm run bench` (issue 4): second-stage fault rates at 4K, 2M and 1G, and a
 * 1 TiB host filled with guests that touch all their memory at 4K — on anonymous
 * memory without THP, and on dmemfs with 4K dpages. VMs of 16 GiB are started
 * (as bench/kvm.ts does, through the syscall and ioctl interface) until one
 * fails; each guest writes every page of its RAM once. Printed: time, VMs, and
 * the model's heap (heapUsed + arrayBuffers) against the page-table bytes it
 * simulates (PageTables + SecPageTables). Targets: under 60 s, heap at most 1.5x.
 *
 * Usage: node --expose-gc bin/run-ts.mjs bench/fleet.bench.ts [HOST_GIB] [anon|dmemfs|rates]...
 */
import { GiB, PAGE_SIZE, formatBytes } from '../src/lib/size.ts';
import { machineFromFlags } from '../src/kernel/boot/machine.ts';
import { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/process.ts';
import { NR_PAGETABLE, NR_SECONDARY_PAGETABLE } from '../src/kernel/mm/vmstat.ts';
import { O_CREAT, O_RDWR } from '../src/uapi/fcntl.ts';
import { GUEST_FLAG_WRITE, KVM_CREATE_VCPU, KVM_CREATE_VM, KVM_RUN, KVM_SET_USER_MEMORY_REGION, encode_guest_program, new_kvm_run } from '../src/uapi/kvm.ts';
import { MADV_NOHUGEPAGE, MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../src/uapi/mman.ts';

const gc = (globalThis as { gc?: () => void }).gc;
const VM_BYTES = 16 * GiB;

/** One VM: guest RAM mapped as the backing wants, a slot, a vCPU that writes every page once. */
function startVm(t: Task, i: number, backing: 'anon' | 'dmemfs' | 'thp' | 'dmemfs1g', bytes: number): { faults: number; secs: number } {
  const RW = PROT_READ | PROT_WRITE;
  let hva: number;
  if (backing === 'dmemfs' || backing === 'dmemfs1g') {
    const fd = t.open(`/mnt/vm${i}`, O_RDWR | O_CREAT, 0o600);
    t.ftruncate(fd, bytes);
    hva = t.mmap(0, bytes, RW, MAP_SHARED, fd, 0);
    t.close(fd);
  } else {
    hva = t.mmap(0, bytes, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (backing === 'anon') t.madvise(hva, bytes, MADV_NOHUGEPAGE);
  }
  const kvm = t.open('/dev/kvm', O_RDWR);
  const vm = t.ioctl(kvm, KVM_CREATE_VM, 0);
  t.ioctl(vm, KVM_SET_USER_MEMORY_REGION, { slot: 0, flags: 0, guest_phys_addr: 0, memory_size: bytes, userspace_addr: hva });
  const vcpu = t.ioctl(vm, KVM_CREATE_VCPU, 0);
  t.store(hva, encode_guest_program({ pattern: 0, flags: GUEST_FLAG_WRITE, start_gpa: 0, bytes, seed: 1, hot_percent: 10, iterations: 1 }));
  const t0 = performance.now();
  t.ioctl(vcpu, KVM_RUN, new_kvm_run());
  const secs = (performance.now() - t0) / 1000;
  const fd = t.open(`/sys/kernel/debug/kvm/${t.pid}-${vm}/pf_fixed`, 0);
  const faults = Number(new TextDecoder().decode(t.read(fd, 64)));
  t.close(fd);
  return { faults, secs };
}

function host(mem: number, cmdline: string, pagesize?: string): { h: Host; t: Task } {
  const h = Host.boot({ machine: machineFromFlags({ mem, nodes: 2 }), cmdline });
  const t = h.spawnConsoleTask('vmm', { stdout: () => {}, stderr: () => {} });
  if (pagesize) t.mount('none', '/mnt', 'dmemfs', 0, `pagesize=${pagesize}`);
  return { h, t };
}

/** EPT faults per second at each level: one guest writing all its RAM, host memory faulted by the guest. */
function rates(): string[] {
  const rows: string[] = [];
  for (const [label, backing, bytes, cmd, ps] of [
    ['EPT faults at 4K (anon, 8 GiB guest)', 'anon', 8 * GiB, '', undefined],
    ['EPT faults at 4K (dmemfs 4K, 8 GiB)', 'dmemfs', 8 * GiB, 'dmem=20G', '4K'],
    ['EPT faults at 2M (THP, 16 GiB guest)', 'thp', 16 * GiB, '', undefined],
    ['EPT faults at 1G (dmemfs 1G, 32 GiB)', 'dmemfs1g', 32 * GiB, 'dmem=40G', '1G'],
  ] as const) {
    let best = { faults: 0, secs: Infinity };
    for (let r = 0; r < 2; r++) {
      const { t } = host(64 * GiB, cmd, ps);
      const res = startVm(t, 0, backing, bytes);
      if (res.secs < best.secs) best = res;
    }
    const pages = bytes / PAGE_SIZE;
    // At 2M/1G most of the pass is the guest writing pages its few SPTEs already map.
    const rate = best.faults / best.secs;
    const shown = rate >= 1e6 ? `${(rate / 1e6).toFixed(2)} M` : rate >= 1e3 ? `${(rate / 1e3).toFixed(1)} k` : rate.toFixed(0);
    rows.push(`${label.padEnd(38)} ${shown.padStart(8)} faults/s  (${best.faults} faults, ${best.secs.toFixed(2)} s for ${pages} guest pages written)`);
  }
  return rows;
}

/** Fill a host with 16 GiB guests touching all their memory at 4K. */
function fleet(hostGiB: number, backing: 'anon' | 'dmemfs'): string {
  gc?.();
  // dmem= leaves each node some memory for the kernel (page tables, the dmem memmap).
  const cmd = backing === 'dmemfs' ? `dmem=!${Math.max(2, Math.ceil(hostGiB * 0.02))}G` : '';
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { h, t } = host(hostGiB * GiB, cmd, backing === 'dmemfs' ? '4K' : undefined);
  let vms = 0;
  let pages = 0;
  let why = '';
  for (;;) {
    try {
      const r = startVm(t, vms, backing, VM_BYTES);
      pages += r.faults;
      vms++;
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
      break;
    }
    if (process.stderr.isTTY) process.stderr.write(`\r${backing}: ${vms} VMs, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (let i = 0; i < 4; i++) gc?.();
  const m = process.memoryUsage();
  const heap = m.heapUsed + m.arrayBuffers;
  const pt = (h.vmstat.global(NR_PAGETABLE) + h.vmstat.global(NR_SECONDARY_PAGETABLE)) * PAGE_SIZE;
  if (process.stderr.isTTY) process.stderr.write('\r');
  return (
    `fleet ${hostGiB} GiB host, ${backing === 'anon' ? 'anon 4K' : 'dmemfs 4K'}: ${vms} full VMs x 16 GiB (+1 stopped: ${why.slice(0, 40)}), ` +
    `${(pages / 1e6).toFixed(1)} M EPT 4K faults in ${secs.toFixed(1)} s (boot included; CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s); ` +
    `heap ${formatBytes(heap)} vs page tables ${formatBytes(pt)} = ${(heap / pt).toFixed(2)}x; Dram page buffers ${h.dram.materialisedFrames}`
  );
}

const args = process.argv.slice(2);
const hostGiB = Number(args.find((a) => /^\d+$/.test(a)) ?? 1024);
const what = args.filter((a) => !/^\d+$/.test(a));
const runs = what.length > 0 ? what : ['rates', 'anon', 'dmemfs'];
for (const w of runs) {
  const out = w === 'rates' ? rates() : [fleet(hostGiB, w as 'anon' | 'dmemfs')];
  process.stdout.write(out.join('\n') + '\n');
}
