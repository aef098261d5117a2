/**
 * KVM_GET_STATS_FD (virt/kvm/kvm_main.c kvm_vm_ioctl_get_stats_fd,
 * kvm_vcpu_ioctl_get_stats_fd, kvm_vm_stats_read, kvm_vcpu_stats_read;
 * virt/kvm/binary_stats.c kvm_stats_read). The VM's fd carries the VM
 * statistics, each vCPU's fd that vCPU's; the format is uapi/kvm_stats.ts. The
 * file holds a reference on the VM, as in Linux (kvm_get_kvm in the ioctl,
 * kvm_put_kvm at release). Values are read when the data block is read.
 */
import {
  KVM_STATS_TYPE_CUMULATIVE,
  KVM_STATS_TYPE_INSTANT,
  kvm_stats_encode,
  kvm_stats_layout,
  type KvmStatsLayout,
} from '../../uapi/kvm_stats.ts';
import type { File } from '../fs/vfs/file.ts';
import type { FileOperations } from '../fs/vfs/inode.ts';
import { anon_inode_getfile } from './anon_inodes.ts';
import { KVM_VCPU_STATS, KVM_VM_STATS, type Kvm, type KvmTask, type KvmVcpu } from './kvm_host.ts';
import type { Vfs } from '../fs/vfs/vfs.ts';

/** pages_* are instant counters (STATS_DESC_ICOUNTER); the rest are cumulative. */
const flagsOf = (name: string): number => (name.startsWith('pages_') ? KVM_STATS_TYPE_INSTANT : KVM_STATS_TYPE_CUMULATIVE);

/** What a stats fd reads: its layout and the current values. */
interface StatsSource {
  layout: KvmStatsLayout;
  values(): number[];
}

function stats_fops(src: StatsSource, put: () => void): FileOperations {
  return {
    // kvm_stats_read(): header, id, descriptors and data as one file; a read past the end returns nothing.
    read: (_file: File, count: number, ppos: { pos: number }) => {
      const all = kvm_stats_encode(src.layout, src.values());
      const out = all.slice(Math.min(ppos.pos, all.length), Math.min(ppos.pos + count, all.length));
      ppos.pos += out.length;
      return out;
    },
    release: () => put(),
  };
}

/** kvm_vm_ioctl_get_stats_fd(): "kvm-vm-stats", read-only, holding a VM reference. */
export function kvm_vm_ioctl_get_stats_fd(vfs: Vfs, task: KvmTask, kvm: Kvm, get: () => void, put: () => void): number {
  const src: StatsSource = {
    layout: kvm_stats_layout(`kvm-${task.pid}`, KVM_VM_STATS.map((name) => ({ name, flags: flagsOf(name) }))),
    values: () => KVM_VM_STATS.map((n) => kvm.statByName(n)),
  };
  get();
  const file = anon_inode_getfile(vfs, 'kvm-vm-stats', stats_fops(src, put), kvm);
  return task.fdInstall(file);
}

/** kvm_vcpu_ioctl_get_stats_fd(): "kvm-vcpu-stats" with the vCPU's own counters. */
export function kvm_vcpu_ioctl_get_stats_fd(vfs: Vfs, task: KvmTask, vcpu: KvmVcpu, get: () => void, put: () => void): number {
  const src: StatsSource = {
    layout: kvm_stats_layout(`kvm-${task.pid}/vcpu-${vcpu.vcpu_id}`, KVM_VCPU_STATS.map((name) => ({ name, flags: flagsOf(name) }))),
    values: () => Array.from(vcpu.stat),
  };
  get();
  const file = anon_inode_getfile(vfs, 'kvm-vcpu-stats', stats_fops(src, put), vcpu);
  return task.fdInstall(file);
}
