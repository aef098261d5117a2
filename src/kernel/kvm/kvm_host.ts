/**
 * struct kvm and struct kvm_vcpu (include/linux/kvm_host.h,
 * arch/x86/include/asm/kvm_host.h), the statistics they keep
 * (virt/kvm/kvm_main.c, arch/x86/kvm/x86.c kvm_vm_stats_desc /
 * kvm_vcpu_stats_desc) and what the KVM module needs from the host.
 */
import type { Rng } from '../../lib/rng.ts';
import type { Devtmpfs } from '../fs/devtmpfs/index.ts';
import type { PseudoDir } from '../fs/pseudo/index.ts';
import type { File, Vfs } from '../fs/vfs/index.ts';
import type { KernelAllocator } from '../mm/kalloc.ts';
import type { Kmem } from '../mm/kmem.ts';
import type { MmStruct, MmuNotifier } from '../mm/mm_types.ts';
import { PageTables } from '../mm/pgtable.ts';
import type { GuestProgram } from '../../uapi/kvm.ts';
import { KVM_MAX_NR_ADDRESS_SPACES, KvmMemslots } from './memslot.ts';

/** The task making a KVM call: its pid (debugfs names), its mm, and fd_install for new fds. */
export interface KvmTask {
  readonly pid: number;
  readonly mm: MmStruct;
  fdInstall(file: File): number;
}

/** What kvm_init needs from the host. */
export interface KvmDeps {
  vfs: Vfs;
  devtmpfs: Devtmpfs;
  /** The debugfs root (/sys/kernel/debug). */
  debugfs: PseudoDir;
  kmem: Kmem;
  kalloc: KernelAllocator;
  /** Online CPUs (KVM_CAP_NR_VCPUS). */
  nrCpus: number;
  /** `current`: the task whose system call is running. */
  current(): KvmTask | null;
}

/** x86 CONFIG_KVM_MAX_NR_VCPUS default. */
export const KVM_MAX_VCPUS = 1024;
/** KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS * KVM_VCPU_ID_RATIO (4 on x86). */
export const KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS * 4;

/** VM statistics as kvm_vm_stats_desc names them (pages_* are read from the EPT's leaf counts). */
export const KVM_VM_STATS = ['remote_tlb_flush', 'mmu_shadow_zapped', 'pages_4k', 'pages_2m', 'pages_1g', 'nx_lpage_splits'] as const;
/** Indices into Kvm.stat. */
export const VM_REMOTE_TLB_FLUSH = 0;
export const VM_MMU_SHADOW_ZAPPED = 1;

/** vCPU statistics as kvm_vcpu_stats_desc names them (the modelled subset). */
export const KVM_VCPU_STATS = [
  'pf_taken',
  'pf_fixed',
  'pf_emulate',
  'pf_spurious',
  'pf_fast',
  'pf_guest',
  'exits',
  'io_exits',
  'mmio_exits',
  'signal_exits',
  'halt_exits',
] as const;
export const PF_TAKEN = 0;
export const PF_FIXED = 1;
export const PF_EMULATE = 2;
export const PF_SPURIOUS = 3;
export const PF_FAST = 4;
export const EXITS = 6;
export const IO_EXITS = 7;
export const MMIO_EXITS = 8;
export const SIGNAL_EXITS = 9;

/** Where a vCPU is in the guest program: fetching it, or running access `pos` of `total`. */
export interface GuestState {
  prog: GuestProgram | null;
  pos: number;
  total: number;
  rng: Rng | null;
  /** XOR of the values read, as two 32-bit halves. */
  sumLo: number;
  sumHi: number;
  /** A read that exited to userspace as MMIO: its value comes from kvm_run.mmio.data on re-entry. */
  pendingMmioRead: boolean;
}

/** struct kvm_vcpu. */
export class KvmVcpu {
  readonly stat = new Float64Array(KVM_VCPU_STATS.length);
  readonly guest: GuestState = { prog: null, pos: 0, total: 0, rng: null, sumLo: 0, sumHi: 0, pendingMmioRead: false };

  constructor(
    readonly kvm: Kvm,
    readonly vcpu_id: number,
  ) {}
}

/** struct kvm: one VM. */
export class Kvm {
  /** Memory slots per address space. */
  readonly memslots: KvmMemslots[] = [];
  /** The TDP root for address space 0 (vCPUs never enter SMM here): EPT tables count as SecPageTables. */
  readonly ept: PageTables;
  readonly vcpus = new Map<number, KvmVcpu>();
  created_vcpus = 0;
  /** users_count: the VM fd and each vCPU fd hold one. */
  users_count = 1;
  readonly stat = new Float64Array(KVM_VM_STATS.length);
  /** stats_id / the debugfs directory name, "PID-FD". */
  debugfs_name = '';
  /** The mmu_notifier this VM registered on its mm. */
  readonly notifier: MmuNotifier;
  /** Node the VM's kernel memory comes from (the creating task's). */
  readonly nid: number;

  constructor(
    readonly mm: MmStruct,
    readonly deps: KvmDeps,
    invalidate: (kvm: Kvm, start: number, end: number) => void,
  ) {
    for (let i = 0; i < KVM_MAX_NR_ADDRESS_SPACES; i++) this.memslots.push(new KvmMemslots());
    this.nid = mm.homeNid;
    const kmem = deps.kmem;
    this.ept = new PageTables({
      alloc_table: () => kmem.allocPgtable(this.nid, true),
      free_table: (pfn) => kmem.freePgtable(pfn, true),
    });
    this.notifier = { invalidate_range_start: (start, end) => invalidate(this, start, end) };
  }

  /** pages_4k / pages_2m / pages_1g: current second-stage leaves by size. */
  pages(level: 1 | 2 | 3): number {
    const c = this.ept.count_leaves();
    return level === 1 ? c.pte : level === 2 ? c.pmd : c.pud;
  }

  /** A VM statistic by its Linux name (VM stats, then vCPU stats summed over vCPUs). */
  statByName(name: string): number {
    if (name === 'pages_4k') return this.pages(1);
    if (name === 'pages_2m') return this.pages(2);
    if (name === 'pages_1g') return this.pages(3);
    const vi = (KVM_VM_STATS as readonly string[]).indexOf(name);
    if (vi >= 0) return this.stat[vi]!;
    const ci = (KVM_VCPU_STATS as readonly string[]).indexOf(name);
    if (ci < 0) throw new Error(`no KVM statistic ${name}`);
    let sum = 0;
    for (const v of this.vcpus.values()) sum += v.stat[ci]!;
    return sum;
  }
}
