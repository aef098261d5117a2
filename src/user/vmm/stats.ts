/**
 * KVM's statistics as a VMM reads them: KVM_GET_STATS_FD on the VM fd and on
 * each vCPU fd, the header and descriptors read once, the data block re-read
 * for every query (QEMU's accel/kvm/kvm-all.c query_stats, kvm_stats_get_descs;
 * the format is uapi/kvm_stats.ts). VM statistics (pages_4k, pages_2m, pages_1g,
 * mmu_shadow_zapped, …) come from the VM's fd; vCPU statistics (pf_taken,
 * exits, …) are summed over the vCPUs, as debugfs's per-VM files sum them.
 */
import { KVM_GET_STATS_FD, kvm_stats_descs, kvm_stats_header, kvm_stats_values, type KvmStatsDesc } from '../../uapi/kvm_stats.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Teardown } from './teardown.ts';

/** One stats fd: where its data is and what it holds. */
interface StatsFd {
  fd: number;
  id: string;
  descs: KvmStatsDesc[];
  dataOffset: number;
  dataSize: number;
}

/** pread until `count` bytes or end of file. */
function preadAll(sys: Syscalls, fd: number, count: number, offset: number): Uint8Array {
  const out = new Uint8Array(count);
  let got = 0;
  while (got < count) {
    const b = sys.pread(fd, count - got, offset + got);
    if (b.length === 0) break;
    out.set(b, got);
    got += b.length;
  }
  return out.subarray(0, got);
}

function openStats(sys: Syscalls, ownerFd: number, td: Teardown): StatsFd {
  const fd = sys.ioctl(ownerFd, KVM_GET_STATS_FD, 0);
  td.push(() => sys.close(fd));
  const h = kvm_stats_header(preadAll(sys, fd, 24, 0));
  const { id, descs } = kvm_stats_descs(preadAll(sys, fd, h.data_offset, 0));
  const dataSize = descs.reduce((m, d) => Math.max(m, d.offset + d.size * 8), 0);
  return { fd, id, descs, dataOffset: h.data_offset, dataSize };
}

/** A VM's statistics. */
export class KvmStats {
  private readonly vm: StatsFd;
  private readonly vcpus: StatsFd[];

  constructor(
    private readonly sys: Syscalls,
    vmFd: number,
    vcpuFds: readonly number[],
    td: Teardown,
  ) {
    this.vm = openStats(sys, vmFd, td);
    this.vcpus = vcpuFds.map((fd) => openStats(sys, fd, td));
  }

  /** The stats id KVM gave the VM ("kvm-PID"). */
  get id(): string {
    return this.vm.id;
  }

  private read(s: StatsFd): Map<string, number> {
    return kvm_stats_values(s.descs, preadAll(this.sys, s.fd, s.dataSize, s.dataOffset));
  }

  /** Every statistic by name: the VM's, then each vCPU statistic summed over the vCPUs. */
  all(): Map<string, number> {
    const m = this.read(this.vm);
    for (const c of this.vcpus) for (const [k, v] of this.read(c)) if (!this.vm.descs.some((d) => d.name === k)) m.set(k, (m.get(k) ?? 0) + v);
    return m;
  }

  /** One statistic (0 when this KVM does not have it). */
  get(name: string): number {
    return this.all().get(name) ?? 0;
  }
}
