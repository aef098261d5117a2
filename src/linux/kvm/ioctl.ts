/**
 * KVM ioctls on the real kernel: the argument objects user programs pass
 * (uapi/kvm.ts, kvm_x86.ts, kvm_stats.ts — the model's ABI) marshalled into the
 * C structs of include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h
 * (x86-64 layouts) and back. LinuxSyscalls.ioctl routes every request of type
 * KVMIO here with the real descriptor (setLinuxIoctl).
 *
 * KVM_RUN: in Linux arg is 0 and struct kvm_run is the first page of the vCPU
 * fd's mmap; the model's ABI passes the `kvm_run` object instead. Here the
 * vCPU fd is mapped around each KVM_RUN (MAP_SHARED, KVM_GET_VCPU_MMAP_SIZE
 * bytes), a pending MMIO read's data is written into the page first (as a VMM
 * does before re-entering), and after the exit the object is refilled from the
 * page: exit_reason, io (with the data_offset bytes), mmio, internal.suberror.
 * Mapping per call keeps no mapping (and so no reference on the vCPU file)
 * alive after the program closes the fd.
 *
 * KVM_GET_DIRTY_LOG needs a user pointer for the bitmap: a scratch anonymous
 * mapping receives it and is copied into the caller's Uint8Array.
 */
import { Errno } from '../../lib/errno.ts';
import {
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_GET_API_VERSION,
  KVM_GET_DIRTY_LOG,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_RUN,
  KVM_SET_USER_MEMORY_REGION,
  type kvm_dirty_log,
  type kvm_run,
  type kvm_userspace_memory_region,
} from '../../uapi/kvm.ts';
import { KVM_GET_STATS_FD } from '../../uapi/kvm_stats.ts';
import {
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_SUPPORTED_CPUID,
  KVM_SET_CPUID2,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_X86_GET_MCE_CAP_SUPPORTED,
  KVM_X86_SETUP_MCE,
  KVM_X86_SET_MCE,
  type kvm_msrs,
  type kvm_x86_mce,
} from '../../uapi/kvm_x86.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../uapi/mman.ts';
import * as libc from '../libc.ts';
import { decodeCpuid2, decodeRegs, decodeSregs, encodeCpuid2, encodeRegs, encodeSregs } from './structs.ts';
import { vfioIoctl } from './vfio.ts';

const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
/** Offsets in struct kvm_run (x86-64). */
const RUN_EXIT_REASON = 8;
const RUN_UNION = 32;

/** A plain integer argument (by value): what _IO requests take. */
function intArg(arg: unknown): number {
  if (arg === undefined || arg === null) return 0;
  if (typeof arg === 'number' && Number.isInteger(arg)) return arg;
  throw new Errno('EFAULT', 'ioctl: expected an integer argument');
}

/** An object argument, or EFAULT (a bad user pointer). */
function objArg<T>(arg: unknown): T {
  if (!arg || typeof arg !== 'object') throw new Errno('EFAULT', 'ioctl: expected a struct argument');
  return arg as T;
}

const u64 = (v: DataView, at: number, x: unknown): void => {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new Errno('EFAULT', 'ioctl: bad field');
  v.setBigUint64(at, BigInt(x), true);
};

/** struct kvm_x86_mce (64 bytes): status, addr, misc, mcg_status, bank, pad. */
function encodeMce(m: kvm_x86_mce): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt.asUintN(64, m.status), true);
  u64(v, 8, m.addr);
  v.setBigUint64(16, BigInt.asUintN(64, m.misc), true);
  v.setBigUint64(24, BigInt.asUintN(64, m.mcg_status), true);
  v.setUint8(32, m.bank & 0xff);
  return b;
}

/** struct kvm_msrs: nmsrs, pad, then 16-byte kvm_msr_entry { index, reserved, data }. */
function encodeMsrs(m: kvm_msrs): Uint8Array {
  if (!Array.isArray(m.entries)) throw new Errno('EFAULT', 'ioctl: bad field');
  const b = new Uint8Array(8 + 16 * m.entries.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, m.entries.length, true);
  m.entries.forEach((e, i) => {
    v.setUint32(8 + 16 * i, e.index >>> 0, true);
    v.setBigUint64(16 + 16 * i, BigInt.asUintN(64, e.data), true);
  });
  return b;
}

/** struct kvm_userspace_memory_region (32 bytes). */
function encodeRegion(m: kvm_userspace_memory_region): Uint8Array {
  const b = new Uint8Array(32);
  const v = new DataView(b.buffer);
  v.setUint32(0, m.slot >>> 0, true);
  v.setUint32(4, m.flags >>> 0, true);
  u64(v, 8, m.guest_phys_addr);
  u64(v, 16, m.memory_size);
  u64(v, 24, m.userspace_addr);
  return b;
}

let vcpuMmapSize = 0;
/** KVM_GET_VCPU_MMAP_SIZE, asked once of /dev/kvm. */
function mmapSize(): number {
  if (vcpuMmapSize) return vcpuMmapSize;
  const fd = libc.open('/dev/kvm', O_RDWR | O_CLOEXEC, 0);
  try {
    vcpuMmapSize = libc.ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  } finally {
    libc.close(fd);
  }
  return vcpuMmapSize;
}

/** KVM_RUN with the kvm_run page mapped around it (see the header). */
function kvmRun(fd: number, arg: unknown): number {
  const run = objArg<kvm_run>(arg);
  const size = mmapSize();
  const addr = libc.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  try {
    // complete_emulated_mmio() reads the value of an MMIO read from kvm_run.mmio.data.
    if (run.exit_reason === KVM_EXIT_MMIO && run.mmio && !run.mmio.is_write) {
      libc.poke(addr + RUN_UNION + 8, run.mmio.data.subarray(0, 8));
    }
    const r = libc.ioctl(fd, KVM_RUN, 0);
    readRun(addr, size, run);
    return r;
  } catch (e) {
    // EINTR and friends still leave an exit_reason (KVM_EXIT_INTR) in the page.
    try {
      readRun(addr, size, run);
    } catch {
      // the page could not be read: leave the object as it was
    }
    throw e;
  } finally {
    libc.munmap(addr, size);
  }
}

/** Refill `run` from the kvm_run page at addr. */
function readRun(addr: number, size: number, run: kvm_run): void {
  const page = libc.peek(addr, RUN_UNION + 256);
  const v = new DataView(page.buffer, page.byteOffset, page.byteLength);
  run.exit_reason = v.getUint32(RUN_EXIT_REASON, true);
  delete run.io;
  delete run.mmio;
  delete run.internal;
  const u = RUN_UNION;
  if (run.exit_reason === KVM_EXIT_IO) {
    const sz = v.getUint8(u + 1);
    const count = v.getUint32(u + 4, true);
    const off = Number(v.getBigUint64(u + 8, true));
    const n = sz * count;
    const data = off + n <= size ? libc.peek(addr + off, n) : new Uint8Array(n);
    run.io = { direction: v.getUint8(u), size: sz, port: v.getUint16(u + 2, true), count, data: Uint8Array.from(data) };
  } else if (run.exit_reason === KVM_EXIT_MMIO) {
    run.mmio = {
      phys_addr: Number(v.getBigUint64(u, true)),
      data: Uint8Array.from(page.subarray(u + 8, u + 16)),
      len: v.getUint32(u + 16, true),
      is_write: v.getUint8(u + 20),
    };
  } else if (run.exit_reason === KVM_EXIT_INTERNAL_ERROR) {
    run.internal = { suberror: v.getUint32(u, true) };
  }
}

/** KVM_GET_DIRTY_LOG: the kernel writes the bitmap to a scratch mapping, copied to the caller's array. */
function getDirtyLog(fd: number, arg: unknown): number {
  const log = objArg<kvm_dirty_log>(arg);
  if (!(log.dirty_bitmap instanceof Uint8Array)) throw new Errno('EFAULT');
  const len = Math.max(4096, Math.ceil(log.dirty_bitmap.length / 4096) * 4096);
  const scratch = libc.mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  try {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint32(0, log.slot >>> 0, true);
    v.setBigUint64(8, BigInt(scratch), true);
    const r = libc.ioctl(fd, KVM_GET_DIRTY_LOG, b);
    log.dirty_bitmap.set(libc.peek(scratch, log.dirty_bitmap.length));
    return r;
  } finally {
    libc.munmap(scratch, len);
  }
}

/**
 * ioctl(fd, request, arg) for KVM (and VFIO type1, vfio.ts) requests on a real descriptor. Integer
 * requests pass arg by value; struct requests marshal as described above.
 * Requests this layer does not know are ENOTTY (it never passes a JS object
 * to the kernel unmarshalled).
 */
export function linuxIoctl(fd: number, request: number, arg: unknown): number {
  switch (request >>> 0) {
    case KVM_GET_API_VERSION:
    case KVM_CREATE_VM:
    case KVM_CHECK_EXTENSION:
    case KVM_GET_VCPU_MMAP_SIZE:
    case KVM_CREATE_VCPU:
    case KVM_GET_STATS_FD:
      return libc.ioctl(fd, request, intArg(arg));
    case KVM_SET_USER_MEMORY_REGION:
      return libc.ioctl(fd, request, encodeRegion(objArg(arg)));
    case KVM_GET_DIRTY_LOG:
      return getDirtyLog(fd, arg);
    case KVM_RUN:
      return kvmRun(fd, arg);
    case KVM_GET_REGS: {
      const b = new Uint8Array(144);
      const r = libc.ioctl(fd, request, b);
      Object.assign(objArg<object>(arg), decodeRegs(b));
      return r;
    }
    case KVM_SET_REGS:
      return libc.ioctl(fd, request, encodeRegs(objArg(arg)));
    case KVM_GET_SREGS: {
      const b = new Uint8Array(312);
      const r = libc.ioctl(fd, request, b);
      Object.assign(objArg<object>(arg), decodeSregs(b));
      return r;
    }
    case KVM_SET_SREGS:
      return libc.ioctl(fd, request, encodeSregs(objArg(arg)));
    case KVM_GET_SUPPORTED_CPUID: {
      const c = objArg<{ nent: number; entries?: unknown }>(arg);
      const b = encodeCpuid2({ nent: intArg(c.nent), entries: [] });
      const r = libc.ioctl(fd, request, b);
      Object.assign(c, decodeCpuid2(b));
      return r;
    }
    case KVM_SET_CPUID2:
      return libc.ioctl(fd, request, encodeCpuid2(objArg(arg)));
    case KVM_X86_GET_MCE_CAP_SUPPORTED: {
      const b = new Uint8Array(8);
      const r = libc.ioctl(fd, request, b);
      objArg<{ value: number }>(arg).value = Number(new DataView(b.buffer).getBigUint64(0, true));
      return r;
    }
    case KVM_X86_SETUP_MCE: {
      // The model's ABI passes the __u64 by value; Linux reads it through a pointer.
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(intArg(arg)), true);
      return libc.ioctl(fd, request, b);
    }
    case KVM_X86_SET_MCE:
      return libc.ioctl(fd, request, encodeMce(objArg(arg)));
    case KVM_SET_MSRS:
      return libc.ioctl(fd, request, encodeMsrs(objArg(arg)));
    default: {
      const r = vfioIoctl(fd, request >>> 0, arg);
      if (r !== null) return r;
      throw new Errno('ENOTTY', `ioctl 0x${(request >>> 0).toString(16)}: not marshalled by src/linux/kvm`);
    }
  }
}
