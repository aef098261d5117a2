/**
 * KVM's debugfs statistics (virt/kvm/kvm_main.c: kvm_init_debug,
 * kvm_create_vm_debugfs, kvm_destroy_vm_debugfs, vm_stat_get, vcpu_stat_get):
 * /sys/kernel/debug/kvm/STAT sums a statistic over every VM, and
 * /sys/kernel/debug/kvm/PID-FD/STAT is one VM's (its vCPU statistics summed
 * over its vCPUs), each "%llu\n". The values are read from the VM's counters at
 * open, so nothing is kept twice.
 */
import type { Kvm } from './kvm_host.ts';
import { KVM_VCPU_STATS, KVM_VM_STATS } from './kvm_host.ts';
import type { KvmModule } from './kvm_main.ts';

/** Every statistic debugfs shows, VM ones first. */
export const KVM_DEBUGFS_STATS: readonly string[] = [...KVM_VM_STATS, ...KVM_VCPU_STATS];

/** kvm_init_debug(): /sys/kernel/debug/kvm with the system-wide sums. */
export function kvm_init_debugfs(mod: KvmModule): void {
  const dir = mod.deps.debugfs.dir('kvm', 0o755);
  for (const name of KVM_DEBUGFS_STATS) {
    dir.file(name, {
      show: () => {
        let sum = 0;
        for (const kvm of mod.vms) sum += kvm.statByName(name);
        return `${sum}\n`;
      },
      mode: 0o444,
    });
  }
}

/** kvm_create_vm_debugfs(): the VM's own directory, "PID-FD". */
export function kvm_create_vm_debugfs(mod: KvmModule, kvm: Kvm, name: string): void {
  kvm.debugfs_name = name;
  const dir = mod.deps.debugfs.dir(`kvm/${name}`, 0o755);
  for (const stat of KVM_DEBUGFS_STATS) dir.file(stat, { show: () => `${kvm.statByName(stat)}\n`, mode: 0o444 });
}

/** kvm_destroy_vm_debugfs(). */
export function kvm_destroy_vm_debugfs(mod: KvmModule, kvm: Kvm): void {
  if (!kvm.debugfs_name) return;
  const kd = mod.deps.debugfs.get('kvm');
  if (kd && kd.kind === 'dir') kd.remove(kvm.debugfs_name);
}
