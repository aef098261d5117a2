/**
 * /dev/kvm and the VM and vCPU file descriptors (virt/kvm/kvm_main.c:
 * kvm_dev_ioctl, kvm_dev_ioctl_create_vm, kvm_create_vm, kvm_destroy_vm,
 * kvm_vm_ioctl, kvm_vm_ioctl_check_extension_generic, kvm_set_memslot,
 * kvm_vm_ioctl_create_vcpu, kvm_vcpu_ioctl, kvm_vm_ioctl_get_dirty_log,
 * kvm_create_vm_debugfs; arch/x86/kvm/x86.c kvm_vm_ioctl_check_extension,
 * kvm_arch_vm_ioctl, kvm_arch_vcpu_ioctl, kvm_arch_flush_shadow_memslot,
 * kvm_mmu_slot_apply_flags).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import {
  KVMIO,
  KVM_API_VERSION,
  KVM_CAP_CHECK_EXTENSION_VM,
  KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
  KVM_CAP_JOIN_MEMORY_REGIONS_WORKS,
  KVM_CAP_MAX_VCPUS,
  KVM_CAP_MAX_VCPU_ID,
  KVM_CAP_MULTI_ADDRESS_SPACE,
  KVM_CAP_NR_MEMSLOTS,
  KVM_CAP_NR_VCPUS,
  KVM_CAP_READONLY_MEM,
  KVM_CAP_SYNC_MMU,
  KVM_CAP_USER_MEMORY,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_DIRTY_LOG,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  KVM_RUN,
  KVM_SET_USER_MEMORY_REGION,
  _IOC_TYPE,
  type kvm_dirty_log,
  type kvm_run,
  type kvm_userspace_memory_region,
} from '../../uapi/kvm.ts';
import { KVM_MINOR, misc_register } from '../fs/devtmpfs/misc.ts';
import type { File } from '../fs/vfs/file.ts';
import type { FileOperations } from '../fs/vfs/inode.ts';
import { anon_inode_getfile } from './anon_inodes.ts';
import { kvm_arch_vcpu_ioctl_run } from './guest.ts';
import { KVM_MAX_VCPUS, KVM_MAX_VCPU_IDS, Kvm, KvmVcpu, type KvmDeps, type KvmTask } from './kvm_host.ts';
import {
  KVM_MAX_NR_ADDRESS_SPACES,
  KVM_USER_MEM_SLOTS,
  __kvm_set_memory_region,
  kvm_alloc_dirty_bitmap,
  kvm_alloc_memslot_metadata,
  kvm_destroy_dirty_bitmap,
  kvm_free_memslot_metadata,
  type MemslotChange,
} from './memslot.ts';
import { kvm_get_dirty_log_protect, kvm_mmu_notifier_invalidate_range_start, kvm_mmu_slot_remove_write_access, kvm_zap_slot } from './mmu.ts';
import { kvm_create_vm_debugfs, kvm_destroy_vm_debugfs, kvm_init_debugfs } from './stats.ts';
import { KVM_GET_STATS_FD } from '../../uapi/kvm_stats.ts';
import {
  KVM_CAP_MCE,
  KVM_GET_REGS,
  KVM_GET_SREGS,
  KVM_GET_SUPPORTED_CPUID,
  KVM_MAX_MCE_BANKS,
  KVM_SET_CPUID2,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_X86_GET_MCE_CAP_SUPPORTED,
  KVM_X86_SETUP_MCE,
  KVM_X86_SET_MCE,
  KVM_SET_MSRS,
} from '../../uapi/kvm_x86.ts';
import { KVM_MCE_CAP_SUPPORTED, kvm_vcpu_ioctl_set_msrs, kvm_vcpu_ioctl_x86_set_mce, kvm_vcpu_ioctl_x86_setup_mce } from './x86_mce.ts';
import { kvm_vcpu_ioctl_get_stats_fd, kvm_vm_ioctl_get_stats_fd } from './binary_stats.ts';
import {
  kvm_arch_vcpu_ioctl_get_regs,
  kvm_arch_vcpu_ioctl_get_sregs,
  kvm_arch_vcpu_ioctl_set_regs,
  kvm_arch_vcpu_ioctl_set_sregs,
  kvm_dev_ioctl_get_supported_cpuid,
  kvm_vcpu_ioctl_set_cpuid2,
} from './x86_regs.ts';

/** KVM_GET_VCPU_MMAP_SIZE on x86: kvm_run, the PIO data page and the coalesced MMIO ring. */
export const KVM_VCPU_MMAP_SIZE = 3 * PAGE_SIZE;

/** The KVM module of one host: its deps and the VMs alive. */
export class KvmModule {
  readonly vms = new Set<Kvm>();
  constructor(readonly deps: KvmDeps) {}

  /** `current`, or a kernel bug: ioctls are always made by a task. */
  current(): KvmTask {
    const t = this.deps.current();
    if (!t) throw new Error('BUG: KVM ioctl without a current task');
    return t;
  }
}

/** kvm_vm_ioctl_check_extension_generic() + x86's kvm_vm_ioctl_check_extension(); 0 for what is not modelled. */
export function kvm_check_extension(mod: KvmModule, kvm: Kvm | null, arg: number): number {
  switch (arg) {
    case KVM_CAP_USER_MEMORY:
    case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
    case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
    case KVM_CAP_CHECK_EXTENSION_VM:
    case KVM_CAP_SYNC_MMU:
    case KVM_CAP_READONLY_MEM:
      return 1;
    case KVM_CAP_MULTI_ADDRESS_SPACE:
      return KVM_MAX_NR_ADDRESS_SPACES;
    case KVM_CAP_MAX_VCPU_ID:
      return KVM_MAX_VCPU_IDS;
    case KVM_CAP_NR_MEMSLOTS:
      return KVM_USER_MEM_SLOTS;
    case KVM_CAP_NR_VCPUS:
      return Math.min(mod.deps.nrCpus, KVM_MAX_VCPUS);
    case KVM_CAP_MAX_VCPUS:
      return KVM_MAX_VCPUS;
    case KVM_CAP_MCE:
      return KVM_MAX_MCE_BANKS;
    default:
      void kvm;
      return 0;
  }
}

/** kvm_get_kvm(). */
function kvm_get_kvm(kvm: Kvm): void {
  kvm.users_count++;
}

/** kvm_put_kvm(): the last reference destroys the VM. */
function kvm_put_kvm(mod: KvmModule, kvm: Kvm): void {
  if (--kvm.users_count === 0) kvm_destroy_vm(mod, kvm);
}

/** kvm_destroy_vm(): unregister the notifier, free every slot's metadata and the whole EPT. */
function kvm_destroy_vm(mod: KvmModule, kvm: Kvm): void {
  kvm_destroy_vm_debugfs(mod, kvm);
  kvm.mm.mmu_notifiers.delete(kvm.notifier);
  for (const slots of kvm.memslots) {
    for (const slot of slots.byId.values()) {
      kvm_destroy_dirty_bitmap(mod.deps.kalloc, slot);
      kvm_free_memslot_metadata(mod.deps.kalloc, slot);
    }
    slots.byId.clear();
    slots.rebuild();
  }
  kvm.ept.destroy();
  kvm.vcpus.clear();
  mod.vms.delete(kvm);
}

/**
 * kvm_set_memslot(): apply a checked change. Delete and move zap the slot's
 * SPTEs and free the tables (KVM_X86_QUIRK_SLOT_ZAP_ALL's effect on a TDP VM);
 * switching dirty logging on write-protects the slot, switching it off zaps the
 * slot so it can be mapped huge again (kvm_mmu_zap_collapsible_sptes, simplified).
 */
function kvm_set_memslot(mod: KvmModule, kvm: Kvm, ch: MemslotChange): void {
  const { kalloc } = mod.deps;
  const slots = kvm.memslots[ch.slot.as_id]!;
  const { old, slot } = ch;
  if (ch.change === 'delete') {
    kvm_zap_slot(kvm, old!, true);
    kvm_destroy_dirty_bitmap(kalloc, old!);
    kvm_free_memslot_metadata(kalloc, old!);
    slots.byId.delete(old!.id);
    slots.rebuild();
    return;
  }
  // kvm_prepare_memory_region(): metadata for a new placement, the dirty bitmap carried over or allocated.
  if (ch.change === 'create' || ch.change === 'move') kvm_alloc_memslot_metadata(kalloc, slot, kvm.nid);
  else slot.lpageHandles = old!.lpageHandles;
  if (slot.flags & KVM_MEM_LOG_DIRTY_PAGES) {
    if (old?.dirty_bitmap) {
      slot.dirty_bitmap = old.dirty_bitmap;
      slot.dirtyHandle = old.dirtyHandle;
    } else {
      try {
        kvm_alloc_dirty_bitmap(kalloc, slot, kvm.nid);
      } catch (e) {
        if (ch.change !== 'flags_only') kvm_free_memslot_metadata(kalloc, slot);
        throw e;
      }
    }
  }
  if (old) {
    if (ch.change === 'move') {
      kvm_zap_slot(kvm, old, true);
      kvm_free_memslot_metadata(kalloc, old);
    }
    if (old.dirty_bitmap && !(slot.flags & KVM_MEM_LOG_DIRTY_PAGES)) kvm_destroy_dirty_bitmap(kalloc, old);
  }
  slots.byId.set(slot.id, slot);
  slots.rebuild();
  // kvm_mmu_slot_apply_flags().
  if (ch.change === 'flags_only') {
    const logging = (slot.flags & KVM_MEM_LOG_DIRTY_PAGES) !== 0;
    if (logging && !(old!.flags & KVM_MEM_LOG_DIRTY_PAGES)) kvm_mmu_slot_remove_write_access(kvm, slot);
    if (!logging && old!.flags & KVM_MEM_LOG_DIRTY_PAGES) kvm_zap_slot(kvm, slot, false);
  }
}

/** copy_from_user of struct kvm_userspace_memory_region: EFAULT when arg is not one. */
function get_region(arg: unknown): kvm_userspace_memory_region {
  const m = arg as Partial<kvm_userspace_memory_region> | null;
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  if (!m || typeof m !== 'object' || !ok(m.slot) || !ok(m.flags) || !ok(m.guest_phys_addr) || !ok(m.memory_size) || !ok(m.userspace_addr)) {
    throw new Errno('EFAULT');
  }
  return m as kvm_userspace_memory_region;
}

/** kvm_vm_ioctl_get_dirty_log() → kvm_get_dirty_log_protect(). */
function kvm_vm_ioctl_get_dirty_log(kvm: Kvm, arg: unknown): number {
  const log = arg as Partial<kvm_dirty_log> | null;
  if (!log || typeof log !== 'object' || typeof log.slot !== 'number') throw new Errno('EFAULT');
  const w = log.slot >>> 0;
  const as_id = Math.floor(w / 65536);
  const id = w % 65536;
  if (as_id >= KVM_MAX_NR_ADDRESS_SPACES || id >= KVM_USER_MEM_SLOTS) throw new Errno('EINVAL');
  const slot = kvm.memslots[as_id]!.byId.get(id);
  if (!slot || !slot.dirty_bitmap) throw new Errno('ENOENT');
  const bm = kvm_get_dirty_log_protect(kvm, slot);
  // copy_to_user(log->dirty_bitmap, ..., n): a buffer too small is a bad user pointer.
  if (!(log.dirty_bitmap instanceof Uint8Array) || log.dirty_bitmap.length < bm.length) throw new Errno('EFAULT');
  log.dirty_bitmap.set(bm);
  return 0;
}

/** The vCPU fd's operations (kvm_vcpu_fops). */
function vcpu_fops(mod: KvmModule): FileOperations {
  return {
    release: (_inode, file) => {
      const vcpu = file.private_data as KvmVcpu;
      kvm_put_kvm(mod, vcpu.kvm);
    },
    unlocked_ioctl: (file: File, request: number, arg: unknown): number => {
      const vcpu = file.private_data as KvmVcpu;
      if (vcpu.kvm.mm !== mod.current().mm) throw new Errno('EIO');
      if (_IOC_TYPE(request) !== KVMIO) throw new Errno('EINVAL');
      if (request === KVM_RUN) {
        // Model: arg is the kvm_run to fill (Linux: arg 0, kvm_run is mmap'ed; see uapi/kvm.ts).
        if (!arg || typeof arg !== 'object') throw new Errno('EINVAL');
        kvm_arch_vcpu_ioctl_run(vcpu, arg as kvm_run);
        return 0;
      }
      switch (request) {
        case KVM_GET_REGS:
          return kvm_arch_vcpu_ioctl_get_regs(vcpu, arg);
        case KVM_SET_REGS:
          return kvm_arch_vcpu_ioctl_set_regs(vcpu, arg);
        case KVM_GET_SREGS:
          return kvm_arch_vcpu_ioctl_get_sregs(vcpu, arg);
        case KVM_SET_SREGS:
          return kvm_arch_vcpu_ioctl_set_sregs(vcpu, arg);
        case KVM_SET_CPUID2:
          return kvm_vcpu_ioctl_set_cpuid2(vcpu, arg);
        case KVM_X86_SETUP_MCE:
          return kvm_vcpu_ioctl_x86_setup_mce(vcpu, arg);
        case KVM_X86_SET_MCE:
          return kvm_vcpu_ioctl_x86_set_mce(vcpu, arg);
        case KVM_SET_MSRS:
          return kvm_vcpu_ioctl_set_msrs(vcpu, arg);
        case KVM_GET_STATS_FD:
          return kvm_vcpu_ioctl_get_stats_fd(mod.deps.vfs, mod.current(), vcpu, () => kvm_get_kvm(vcpu.kvm), () => kvm_put_kvm(mod, vcpu.kvm));
      }
      throw new Errno('EINVAL');
    },
  };
}

/** kvm_vm_ioctl_create_vcpu(). */
function kvm_vm_ioctl_create_vcpu(mod: KvmModule, kvm: Kvm, arg: unknown): number {
  const id = typeof arg === 'number' && Number.isInteger(arg) ? arg >>> 0 : -1;
  if (id < 0) throw new Errno('EFAULT');
  if (id >= KVM_MAX_VCPU_IDS) throw new Errno('EINVAL');
  if (kvm.created_vcpus >= KVM_MAX_VCPUS) throw new Errno('EINVAL');
  if (kvm.vcpus.has(id)) throw new Errno('EEXIST');
  const vcpu = new KvmVcpu(kvm, id);
  kvm_get_kvm(kvm);
  const file = anon_inode_getfile(mod.deps.vfs, `kvm-vcpu:${id}`, vcpu_fops(mod), vcpu);
  // On EMFILE fdInstall drops the file, and its release drops the reference taken above.
  const fd = mod.current().fdInstall(file);
  kvm.created_vcpus++;
  kvm.vcpus.set(id, vcpu);
  return fd;
}

/** The VM fd's operations (kvm_vm_fops). */
function vm_fops(mod: KvmModule): FileOperations {
  return {
    release: (_inode, file) => kvm_put_kvm(mod, file.private_data as Kvm),
    unlocked_ioctl: (file: File, request: number, arg: unknown): number => {
      const kvm = file.private_data as Kvm;
      if (kvm.mm !== mod.current().mm) throw new Errno('EIO');
      switch (request) {
        case KVM_CREATE_VCPU:
          return kvm_vm_ioctl_create_vcpu(mod, kvm, arg);
        case KVM_SET_USER_MEMORY_REGION: {
          const mem = get_region(arg);
          if (mem.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) throw new Errno('EINVAL');
          // kvm_vm_ioctl_set_memory_region(): userspace may not use KVM's own slots.
          if ((mem.slot >>> 0) % 65536 >= KVM_USER_MEM_SLOTS) throw new Errno('EINVAL');
          const ch = __kvm_set_memory_region(kvm.memslots, mem);
          if (ch) kvm_set_memslot(mod, kvm, ch);
          return 0;
        }
        case KVM_GET_DIRTY_LOG:
          return kvm_vm_ioctl_get_dirty_log(kvm, arg);
        case KVM_GET_STATS_FD:
          return kvm_vm_ioctl_get_stats_fd(mod.deps.vfs, mod.current(), kvm, () => kvm_get_kvm(kvm), () => kvm_put_kvm(mod, kvm));
        case KVM_CHECK_EXTENSION:
          return kvm_check_extension(mod, kvm, Number(arg));
        default:
          // kvm_arch_vm_ioctl()'s default.
          throw new Errno('ENOTTY');
      }
    },
  };
}

/** kvm_dev_ioctl_create_vm(): a VM on current's mm, its fd, its debugfs directory. */
function kvm_dev_ioctl_create_vm(mod: KvmModule, arg: unknown): number {
  // kvm_arch_init_vm(): only KVM_X86_DEFAULT_VM (0).
  if (arg !== undefined && arg !== 0) throw new Errno('EINVAL');
  const task = mod.current();
  if (task.mm.dead) throw new Errno('EINTR');
  const kvm = new Kvm(task.mm, mod.deps, kvm_mmu_notifier_invalidate_range_start);
  task.mm.mmu_notifiers.add(kvm.notifier);
  mod.vms.add(kvm);
  const file = anon_inode_getfile(mod.deps.vfs, 'kvm-vm', vm_fops(mod), kvm);
  const fd = task.fdInstall(file);
  kvm_create_vm_debugfs(mod, kvm, `${task.pid}-${fd}`);
  return fd;
}

/** kvm_dev_ioctl(): /dev/kvm's ioctls; anything else is EINVAL (kvm_arch_dev_ioctl's default). */
function kvm_dev_ioctl(mod: KvmModule, request: number, arg: unknown): number {
  switch (request) {
    case KVM_GET_API_VERSION:
      if (arg) throw new Errno('EINVAL');
      return KVM_API_VERSION;
    case KVM_CREATE_VM:
      return kvm_dev_ioctl_create_vm(mod, arg);
    case KVM_CHECK_EXTENSION:
      return kvm_check_extension(mod, null, Number(arg));
    case KVM_GET_VCPU_MMAP_SIZE:
      if (arg) throw new Errno('EINVAL');
      return KVM_VCPU_MMAP_SIZE;
    case KVM_GET_SUPPORTED_CPUID:
      return kvm_dev_ioctl_get_supported_cpuid(arg);
    case KVM_X86_GET_MCE_CAP_SUPPORTED:
      if (!arg || typeof arg !== 'object') throw new Errno('EFAULT');
      (arg as { value: number }).value = KVM_MCE_CAP_SUPPORTED;
      return 0;
    default:
      throw new Errno('EINVAL');
  }
}

/**
 * kvm_init(): register /dev/kvm (misc 10:232, mode 0666 as udev sets it) and
 * /sys/kernel/debug/kvm. Returns the module, whose `vms` tests may inspect.
 */
export function kvm_init(deps: KvmDeps): KvmModule {
  const mod = new KvmModule(deps);
  const kvm_chardev_ops: FileOperations = {
    unlocked_ioctl: (_file, request, arg) => kvm_dev_ioctl(mod, request, arg),
  };
  misc_register(deps.devtmpfs, { minor: KVM_MINOR, name: 'kvm', fops: kvm_chardev_ops, mode: 0o666 });
  kvm_init_debugfs(mod);
  return mod;
}
