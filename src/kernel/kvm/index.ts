/** KVM: /dev/kvm, VMs, vCPUs and the two-dimensional MMU (virt/kvm, arch/x86/kvm). */
export { kvm_init, KvmModule } from './kvm_main.ts';
export type { KvmDeps, KvmTask } from './kvm_host.ts';
export { Kvm, KvmVcpu } from './kvm_host.ts';
