/**
 * /dev/kvm, the VM fd and the vCPU fd: ioctl answers and errnos as
 * virt/kvm/kvm_main.c gives them, and the debugfs directory's lifetime.
 */
import { describe, expect, it } from 'vitest';
import {
  KVM_API_VERSION,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_MAX_VCPU_ID,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_READONLY_MEM,
  KVM_CAP_USER_MEMORY,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_RUN,
} from '../../src/uapi/kvm.ts';
import { O_RDWR } from '../../src/uapi/fcntl.ts';
import { bootKvm, createVcpu, createVm, errno, readFile } from './helpers.ts';

describe('/dev/kvm', () => {
  it('is misc 10:232 and answers the system ioctls', () => {
    const { task } = bootKvm();
    const st = task.stat('/dev/kvm');
    expect(st.rdev).toBe(10 * 256 + 232);
    const fd = task.open('/dev/kvm', O_RDWR);
    expect(task.ioctl(fd, KVM_GET_API_VERSION, 0)).toBe(KVM_API_VERSION);
    expect(task.ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0)).toBe(3 * 4096);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY)).toBe(1);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM)).toBe(1);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS)).toBe(32764);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS)).toBe(4);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS)).toBe(1024);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID)).toBe(4096);
    expect(task.ioctl(fd, KVM_CHECK_EXTENSION, 99999)).toBe(0);
    // kvm_arch_dev_ioctl's default, and arg must be 0 where Linux says so.
    expect(errno(() => task.ioctl(fd, 0xae99, 0))).toBe('EINVAL');
    expect(errno(() => task.ioctl(fd, KVM_GET_API_VERSION, 1))).toBe('EINVAL');
    expect(errno(() => task.ioctl(fd, KVM_CREATE_VM, 7))).toBe('EINVAL');
  });

  it('a VM fd is anon_inode:kvm-vm with a PID-FD debugfs directory that goes with the last fd', () => {
    const { task } = bootKvm();
    const vm = createVm(task);
    const dir = `${task.pid}-${vm.vmFd}`;
    expect(vm.kvm.debugfs_name).toBe(dir);
    expect(readFile(task, `/sys/kernel/debug/kvm/${dir}/pages_4k`)).toBe('0\n');
    expect(task.ioctl(vm.vmFd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS)).toBe(32764);
    expect(errno(() => task.ioctl(vm.vmFd, 0xaeff, 0))).toBe('ENOTTY');
    const vcpu = createVcpu(task, vm.vmFd, 0);
    expect(task.fget(vcpu).f_dentry.d_op?.d_dname?.(task.fget(vcpu).f_dentry)).toBe('anon_inode:kvm-vcpu:0');
    task.close(vm.vmFd);
    // The vCPU fd still holds the VM.
    expect(readFile(task, `/sys/kernel/debug/kvm/${dir}/pf_taken`)).toBe('0\n');
    task.close(vcpu);
    expect(errno(() => readFile(task, `/sys/kernel/debug/kvm/${dir}/pf_taken`))).toBe('ENOENT');
  });

  it('KVM_CREATE_VCPU: ids below 4096, each once', () => {
    const { task } = bootKvm();
    const vm = createVm(task);
    createVcpu(task, vm.vmFd, 0);
    createVcpu(task, vm.vmFd, 4095);
    expect(errno(() => createVcpu(task, vm.vmFd, 0))).toBe('EEXIST');
    expect(errno(() => createVcpu(task, vm.vmFd, 4096))).toBe('EINVAL');
    expect(errno(() => createVcpu(task, vm.vmFd, -1))).toBe('EINVAL');
    expect(vm.kvm.vcpus.size).toBe(2);
  });

  it('vCPU ioctls: unknown ones are EINVAL; another process is EIO', () => {
    const { task } = bootKvm();
    const vm = createVm(task);
    const vcpu = createVcpu(task, vm.vmFd, 0);
    expect(errno(() => task.ioctl(vcpu, 0xae9f, 0))).toBe('EINVAL');
    expect(errno(() => task.ioctl(vcpu, KVM_RUN, 0))).toBe('EINVAL');
    const child = task.fork();
    child.getpid();
    // The child's mm is not the VM's (kvm->mm != current->mm).
    child.host.current = child;
    expect(errno(() => child.ioctl(vcpu, KVM_RUN, {}))).toBe('EIO');
    expect(errno(() => child.ioctl(vm.vmFd, KVM_CREATE_VCPU, 1))).toBe('EIO');
  });
});
