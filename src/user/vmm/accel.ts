/**
 * The accelerator and the container: what QEMU does with /dev/kvm and
 * /dev/vfio/vfio for a VM (accel/kvm/kvm-all.c kvm_init, kvm_set_user_memory_region,
 * kvm_init_vcpu, kvm_cpu_exec; hw/vfio/container.c vfio_connect_container,
 * vfio_container_dma_map). Guest RAM is split as QEMU's pc machine splits it
 * around the PCI hole (pc_ram.ts): slot 0 is GPA [0, lowmem) and, for a guest
 * of 3.5 GiB or more, slot 1 is the rest from 4 GiB; VFIO maps each at
 * IOVA = GPA, so no mapping crosses the MSI window at 0xfee00000.
 */
import { Errno } from '../../lib/errno.ts';
import { O_CLOEXEC, O_RDWR } from '../../uapi/fcntl.ts';
import {
  KVM_API_VERSION,
  KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
  KVM_CAP_JOIN_MEMORY_REGIONS_WORKS,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_USER_MEMORY,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_SET_USER_MEMORY_REGION,
  type kvm_userspace_memory_region,
} from '../../uapi/kvm.ts';
import { KVM_GET_SUPPORTED_CPUID, KVM_MAX_CPUID_ENTRIES, KVM_SET_CPUID2, cpuid_has_gbpages, type kvm_cpuid2 } from '../../uapi/kvm_x86.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import {
  VFIO_API_VERSION,
  VFIO_CHECK_EXTENSION,
  VFIO_DMA_MAP_FLAG_READ,
  VFIO_DMA_MAP_FLAG_WRITE,
  VFIO_DMA_MAP_MINSZ,
  VFIO_GET_API_VERSION,
  VFIO_IOMMU_MAP_DMA,
  VFIO_SET_IOMMU,
  VFIO_TYPE1v2_IOMMU,
} from '../../uapi/vfio.ts';
import { writeStr } from '../program.ts';
import { kvmSetupMce } from './mce.ts';
import type { RamBlock } from './backend.ts';
import type { RamRegion } from './pc_ram.ts';
import { VmmError, type Teardown } from './teardown.ts';

/** The VM's KVM file descriptors. */
export interface KvmState {
  kvmFd: number;
  vmFd: number;
  vcpuFds: number[];
  /** The memory slots as registered, one per RAM region (slot i for region i). */
  slots: kvm_userspace_memory_region[];
  /** The vCPUs may use 1 GiB pages (pdpe1gb in KVM_GET_SUPPORTED_CPUID). */
  gbpages: boolean;
  /** The MCG_CAP each vCPU was given (0: no machine checks). */
  mcgCap: number;
}

/** kvm_get_supported_cpuid(): ask with room for 256 entries, twice as many on each E2BIG. */
function getSupportedCpuid(sys: Syscalls, kvmFd: number): kvm_cpuid2 {
  for (let nent = KVM_MAX_CPUID_ENTRIES; ; nent *= 2) {
    const c: kvm_cpuid2 = { nent, entries: [] };
    try {
      sys.ioctl(kvmFd, KVM_GET_SUPPORTED_CPUID, c);
      return c;
    } catch (e) {
      if (!(errnoOf(e).code === 'E2BIG' && nent < 4096)) throw e;
    }
  }
}

/** The capabilities QEMU refuses to run without (kvm_required_capabilites, the memory ones). */
const REQUIRED_CAPS: readonly [number, string][] = [
  [KVM_CAP_USER_MEMORY, 'KVM_CAP_USER_MEMORY'],
  [KVM_CAP_DESTROY_MEMORY_REGION_WORKS, 'KVM_CAP_DESTROY_MEMORY_REGION_WORKS'],
  [KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, 'KVM_CAP_JOIN_MEMORY_REGIONS_WORKS'],
];

function errnoOf(e: unknown): Errno {
  if (e instanceof Errno) return e;
  throw e;
}

/** kvm_init(): open /dev/kvm, check the API, create the VM, check capabilities and the vCPU count. */
export function kvmInit(sys: Syscalls, vcpus: number, td: Teardown): { kvmFd: number; vmFd: number } {
  let kvmFd: number;
  try {
    kvmFd = sys.open('/dev/kvm', O_RDWR | O_CLOEXEC);
  } catch (e) {
    const err = errnoOf(e);
    throw new VmmError(`Could not access KVM kernel module: ${err.strerror}\nvmm: failed to initialize kvm: ${err.strerror}`);
  }
  td.push(() => sys.close(kvmFd));
  const version = sys.ioctl(kvmFd, KVM_GET_API_VERSION, 0);
  if (version !== KVM_API_VERSION) {
    throw new VmmError(`kvm version ${version < KVM_API_VERSION ? 'too old' : 'not supported'}\nvmm: failed to initialize kvm: Invalid argument`);
  }
  const soft = sys.ioctl(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS) || 4;
  const hard = sys.ioctl(kvmFd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS) || soft;
  if (vcpus > soft) {
    writeStr(sys, 2, `vmm: warning: Number of SMP cpus requested (${vcpus}) exceeds the recommended cpus supported by KVM (${soft})\n`);
    if (vcpus > hard) throw new VmmError(`Number of SMP cpus requested (${vcpus}) exceeds the maximum cpus supported by KVM (${hard})`);
  }
  let vmFd = -1;
  for (;;) {
    try {
      vmFd = sys.ioctl(kvmFd, KVM_CREATE_VM, 0);
      break;
    } catch (e) {
      const err = errnoOf(e);
      if (err.code === 'EINTR') continue;
      throw new VmmError(`ioctl(KVM_CREATE_VM) failed: ${err.errno} ${err.strerror}\nvmm: failed to initialize kvm: ${err.strerror}`);
    }
  }
  td.push(() => sys.close(vmFd));
  for (const [cap, capName] of REQUIRED_CAPS) {
    if (!sys.ioctl(vmFd, KVM_CHECK_EXTENSION, cap)) throw new VmmError(`kvm does not support ${capName}\nvmm: failed to initialize kvm: Invalid argument`);
  }
  return { kvmFd, vmFd };
}

/** kvm_set_user_memory_region() for each RAM region (slot i), then kvm_init_vcpu() for each vCPU. */
export function kvmMachineInit(sys: Syscalls, fds: { kvmFd: number; vmFd: number }, ram: RamBlock, regions: readonly RamRegion[], vcpus: number, td: Teardown): KvmState {
  const slots: kvm_userspace_memory_region[] = [];
  for (const [i, r] of regions.entries()) {
    const slot: kvm_userspace_memory_region = { slot: i, flags: 0, guest_phys_addr: r.gpa, memory_size: r.size, userspace_addr: ram.hva + r.offset };
    try {
      sys.ioctl(fds.vmFd, KVM_SET_USER_MEMORY_REGION, slot);
    } catch (e) {
      throw new VmmError(`kvm_set_phys_mem: error registering slot: ${errnoOf(e).strerror}`);
    }
    td.push(() => sys.ioctl(fds.vmFd, KVM_SET_USER_MEMORY_REGION, { ...slot, memory_size: 0 }));
    slots.push(slot);
  }
  // kvm_init_vcpu maps this much of each vCPU fd; the model passes kvm_run to KVM_RUN instead (uapi/kvm.ts).
  const mmapSize = sys.ioctl(fds.kvmFd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmapSize <= 0) throw new VmmError('KVM_GET_VCPU_MMAP_SIZE failed');
  // -cpu host: every CPUID leaf KVM supports goes to each vCPU (kvm_arch_init_vcpu's KVM_SET_CPUID2).
  let cpuid: kvm_cpuid2;
  try {
    cpuid = getSupportedCpuid(sys, fds.kvmFd);
  } catch (e) {
    throw new VmmError(`kvm_arch_get_supported_cpuid: ${errnoOf(e).strerror}`);
  }
  const vcpuFds: number[] = [];
  let mcgCap = 0;
  for (let id = 0; id < vcpus; id++) {
    try {
      const fd = sys.ioctl(fds.vmFd, KVM_CREATE_VCPU, id);
      vcpuFds.push(fd);
      td.push(() => sys.close(fd));
    } catch (e) {
      throw new VmmError(`kvm_init_vcpu: kvm_get_vcpu failed (${id}): ${errnoOf(e).strerror}`);
    }
    try {
      sys.ioctl(vcpuFds[id]!, KVM_SET_CPUID2, cpuid);
    } catch (e) {
      throw new VmmError(`kvm_init_vcpu: KVM_SET_CPUID2 failed: ${errnoOf(e).strerror}`);
    }
    mcgCap = kvmSetupMce(sys, fds.kvmFd, vcpuFds[id]!, cpuid);
  }
  return { ...fds, vcpuFds, slots, gbpages: cpuid_has_gbpages(cpuid), mcgCap };
}

/**
 * vfio_connect_container() + the memory listener's vfio_container_dma_map() of
 * each RAM region at IOVA = GPA. The model has no groups or devices: the container
 * alone gets the IOMMU and the mappings (pinning and IOMMU tables are what matter here).
 */
export function vfioInit(sys: Syscalls, ram: RamBlock, regions: readonly RamRegion[], td: Teardown): number {
  let fd: number;
  try {
    fd = sys.open('/dev/vfio/vfio', O_RDWR | O_CLOEXEC);
  } catch (e) {
    throw new VmmError(`failed to open /dev/vfio/vfio: ${errnoOf(e).strerror}`);
  }
  td.push(() => sys.close(fd));
  const version = sys.ioctl(fd, VFIO_GET_API_VERSION, 0);
  if (version !== VFIO_API_VERSION) throw new VmmError(`supported vfio version: ${VFIO_API_VERSION}, reported version: ${version}`);
  if (!sys.ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) throw new VmmError('No available IOMMU models');
  try {
    sys.ioctl(fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  } catch (e) {
    throw new VmmError(`failed to set iommu for container: ${errnoOf(e).strerror}`);
  }
  for (const r of regions) {
    const map = { argsz: VFIO_DMA_MAP_MINSZ, flags: VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE, vaddr: ram.hva + r.offset, iova: r.gpa, size: r.size };
    try {
      sys.ioctl(fd, VFIO_IOMMU_MAP_DMA, map);
    } catch (e) {
      const err = errnoOf(e);
      throw new VmmError(`vfio_container_dma_map(0x${r.gpa.toString(16)}, 0x${r.size.toString(16)}, 0x${map.vaddr.toString(16)}) = -${err.errno} (${err.strerror})`);
    }
  }
  return fd;
}
