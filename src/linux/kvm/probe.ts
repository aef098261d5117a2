/** Whether this machine can run a real KVM guest: koffi and libc, /dev/kvm that opens, API version 12. */
import { KVM_API_VERSION, KVM_GET_API_VERSION } from '../../uapi/kvm.ts';
import * as libc from '../libc.ts';

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;

/** Why a real KVM guest cannot run here, or null when it can. */
export function kvmUnavailable(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `needs Linux x86-64 (this is ${process.platform}-${process.arch})`;
  const why = libc.libcUnavailable();
  if (why) return why;
  let fd: number;
  try {
    fd = libc.open('/dev/kvm', O_RDWR | O_CLOEXEC, 0);
  } catch (e) {
    return `/dev/kvm: ${(e as Error).message}`;
  }
  try {
    const v = libc.ioctl(fd, KVM_GET_API_VERSION, 0);
    return v === KVM_API_VERSION ? null : `/dev/kvm: KVM API version ${v}, not ${KVM_API_VERSION}`;
  } finally {
    libc.close(fd);
  }
}
