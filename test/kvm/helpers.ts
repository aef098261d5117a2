/** Test helpers: a booted host with /dev/kvm, a VM, slots, and guest programs run through KVM_RUN. */
import { GiB, PAGE_SIZE } from '../../src/lib/size.ts';
import type { Host } from '../../src/kernel/host.ts';
import type { Task } from '../../src/kernel/process.ts';
import { kvm_init, type KvmModule } from '../../src/kernel/kvm/index.ts';
import type { Kvm } from '../../src/kernel/kvm/kvm_host.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import {
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_RUN,
  KVM_SET_USER_MEMORY_REGION,
  encode_guest_program,
  new_kvm_run,
  type GuestProgram,
  type kvm_run,
} from '../../src/uapi/kvm.ts';
import { boot } from '../kernel/helpers.ts';

export { errno, meminfo, readFile, signal } from '../kernel/helpers.ts';

/** The host's KVM module: the lead's wiring if /dev/kvm exists, else registered here. */
const modules = new WeakMap<Host, KvmModule | null>();

/** A booted host with /dev/kvm. */
export function bootKvm(opts: { mem?: number; nodes?: number; cmdline?: string } = {}): { host: Host; task: Task; mod: KvmModule | null } {
  const { host, task } = boot({ mem: opts.mem ?? 4 * GiB, nodes: opts.nodes ?? 1, cmdline: opts.cmdline ?? '' });
  let mod: KvmModule | null = null;
  try {
    task.stat('/dev/kvm');
  } catch {
    mod = kvm_init({
      vfs: host.vfs,
      devtmpfs: host.fs.devtmpfs,
      debugfs: host.fs.pseudo.debug,
      kmem: host.kmem,
      kalloc: host.kalloc,
      nrCpus: host.machine.nodes.reduce((n, nd) => n + nd.cpus, 0),
      current: () => host.current,
    });
  }
  modules.set(host, mod);
  return { host, task, mod };
}

/** A VM: /dev/kvm's fd, the VM fd and the kernel's struct kvm (found through the file). */
export interface Vm {
  kvmFd: number;
  vmFd: number;
  kvm: Kvm;
}

/** open("/dev/kvm") + KVM_CREATE_VM. */
export function createVm(task: Task): Vm {
  const kvmFd = task.open('/dev/kvm', O_RDWR);
  const vmFd = task.ioctl(kvmFd, KVM_CREATE_VM, 0);
  return { kvmFd, vmFd, kvm: task.fget(vmFd).private_data as Kvm };
}

/** KVM_SET_USER_MEMORY_REGION. */
export function setRegion(task: Task, vmFd: number, slot: number, gpa: number, size: number, hva: number, flags = 0): number {
  return task.ioctl(vmFd, KVM_SET_USER_MEMORY_REGION, { slot, flags, guest_phys_addr: gpa, memory_size: size, userspace_addr: hva });
}

/** KVM_CREATE_VCPU. */
export function createVcpu(task: Task, vmFd: number, id = 0): number {
  return task.ioctl(vmFd, KVM_CREATE_VCPU, id);
}

/** Write a guest program at gpa 0 (hva of gpa 0 given) and KVM_RUN once. */
export function runProgram(task: Task, vcpuFd: number, hva0: number, prog: Partial<GuestProgram>, run: kvm_run = new_kvm_run()): kvm_run {
  const full: GuestProgram = { pattern: 0, flags: 0, start_gpa: PAGE_SIZE, bytes: PAGE_SIZE, seed: 1, hot_percent: 10, iterations: 1, ...prog };
  task.store(hva0, encode_guest_program(full));
  task.ioctl(vcpuFd, KVM_RUN, run);
  return run;
}

/** The u32 status of a KVM_EXIT_IO on port 0xf4. */
export function ioStatus(run: kvm_run): number {
  return new DataView(run.io!.data.buffer).getUint32(0, true);
}

/** A stat of the VM from /sys/kernel/debug/kvm/PID-FD/NAME. */
export function vmStat(task: Task, vm: Vm, name: string, read: (t: Task, p: string) => string): number {
  return Number(read(task, `/sys/kernel/debug/kvm/${vm.kvm.debugfs_name}/${name}`).trim());
}
