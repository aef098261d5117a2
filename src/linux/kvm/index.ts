/**
 * The KVM part of the Linux backend: install the ioctl marshalling
 * (ioctl.ts) into LinuxSyscalls, so user programs (vmm) drive real KVM with the
 * same ioctl arguments as on the model.
 */
import { setLinuxIoctl } from '../syscalls.ts';
import { linuxIoctl } from './ioctl.ts';

export { linuxIoctl } from './ioctl.ts';

/** Route KVM requests of every LinuxSyscalls to the real kernel's structs. */
export function installLinuxKvm(): void {
  setLinuxIoctl(linuxIoctl);
}

/** Why a real KVM guest cannot run here (no /dev/kvm, not openable), or null. */
export { kvmUnavailable } from './probe.ts';
