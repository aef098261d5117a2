/**
 * The KVM ABI user programs see (include/uapi/linux/kvm.h,
 * arch/x86/include/uapi/asm/kvm.h, Documentation/virt/kvm/api.rst): ioctl
 * request numbers, capabilities, memory-slot flags, exit reasons and the
 * argument shapes, plus the layout of the model's stand-in for guest code.
 *
 * Deviations from the C ABI, all forced by ioctl(fd, request, arg) taking a JS
 * value instead of a user pointer:
 * - Structures are passed as objects with the C field names; `dirty_bitmap` is a
 *   Uint8Array the kernel fills (copy_to_user), EFAULT when it is too short.
 * - KVM_RUN takes the `kvm_run` object to fill as its argument. In Linux, arg must
 *   be 0 and kvm_run is the first page of the vCPU fd, mmap'ed by the VMM
 *   (KVM_GET_VCPU_MMAP_SIZE tells how much to map). The model hands the object over
 *   instead; on re-entry after KVM_EXIT_MMIO the kernel reads `mmio.data` back
 *   from it, as it would from the shared page.
 */

/** KVMIO: the ioctl type byte of every KVM request. */
export const KVMIO = 0xae;
/** KVM_GET_API_VERSION's answer; anything else means an incompatible kernel. */
export const KVM_API_VERSION = 12;

// ---- ioctl requests (_IO/_IOW(KVMIO, nr, type)) ----
/** _IO(KVMIO, 0x00) on /dev/kvm. */
export const KVM_GET_API_VERSION = 0xae00;
/** _IO(KVMIO, 0x01) on /dev/kvm: arg is the machine type (0). Returns a VM fd. */
export const KVM_CREATE_VM = 0xae01;
/** _IO(KVMIO, 0x03) on /dev/kvm or a VM fd: arg is a KVM_CAP_* number. */
export const KVM_CHECK_EXTENSION = 0xae03;
/** _IO(KVMIO, 0x04) on /dev/kvm: bytes of the vCPU fd's mmap area. */
export const KVM_GET_VCPU_MMAP_SIZE = 0xae04;
/** _IO(KVMIO, 0x41) on a VM fd: arg is the vCPU id. Returns a vCPU fd. */
export const KVM_CREATE_VCPU = 0xae41;
/** _IOW(KVMIO, 0x42, struct kvm_dirty_log) on a VM fd. */
export const KVM_GET_DIRTY_LOG = 0x4010ae42;
/** _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) on a VM fd. */
export const KVM_SET_USER_MEMORY_REGION = 0x4020ae46;
/** _IO(KVMIO, 0x80) on a vCPU fd. */
export const KVM_RUN = 0xae80;

/** _IOC_TYPE(): the type byte of a request. */
export function _IOC_TYPE(request: number): number {
  return Math.floor(request / 256) % 256;
}

// ---- capabilities (KVM_CHECK_EXTENSION) ----
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_SYNC_MMU = 16;
export const KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21;
export const KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_CHECK_EXTENSION_VM = 105;
export const KVM_CAP_MULTI_ADDRESS_SPACE = 118;
export const KVM_CAP_MAX_VCPU_ID = 128;

// ---- memory slots ----
/** kvm_userspace_memory_region.flags: keep a dirty bitmap for KVM_GET_DIRTY_LOG. */
export const KVM_MEM_LOG_DIRTY_PAGES = 1;
/** kvm_userspace_memory_region.flags: guest writes exit to userspace as MMIO. */
export const KVM_MEM_READONLY = 2;

/** struct kvm_userspace_memory_region. `slot` is (address space id << 16) | slot id. */
export interface kvm_userspace_memory_region {
  slot: number;
  flags: number;
  guest_phys_addr: number;
  memory_size: number;
  userspace_addr: number;
}

/** struct kvm_dirty_log: the slot and the caller's bitmap, filled one bit per page (little-endian bit order). */
export interface kvm_dirty_log {
  slot: number;
  dirty_bitmap: Uint8Array;
}

// ---- exits ----
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
/** kvm_run.io.direction. */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;
/** kvm_run.internal.suberror: the instruction could not be emulated. */
export const KVM_INTERNAL_ERROR_EMULATION = 1;

/** struct kvm_run's io exit: `data` holds the bytes the guest wrote (the data_offset page in Linux). */
export interface kvm_run_io {
  direction: number;
  size: number;
  port: number;
  count: number;
  data: Uint8Array;
}

/** struct kvm_run's mmio exit. For a read, userspace puts the value in `data` before the next KVM_RUN. */
export interface kvm_run_mmio {
  phys_addr: number;
  data: Uint8Array;
  len: number;
  is_write: number;
}

/** struct kvm_run: what KVM_RUN reports (see the header for how it travels). */
export interface kvm_run {
  exit_reason: number;
  io?: kvm_run_io;
  mmio?: kvm_run_mmio;
  internal?: { suberror: number };
}

/** A fresh kvm_run to pass to KVM_RUN. */
export function new_kvm_run(): kvm_run {
  return { exit_reason: KVM_EXIT_UNKNOWN };
}

// ---- the dmemfs model guest program ----
/**
 * The model's stand-in for guest code (issue 7 replaces it with real x86 code).
 * The VMM writes this descriptor at guest physical address 0; KVM_RUN makes the
 * vCPU read it through the two-dimensional translation and run it:
 *
 *   off size field
 *     0    8 magic "DMEMGST1"
 *     8    4 pattern      0 sequential, 1 random, 2 hot-cold
 *    12    4 flags        bit 0 write, bit 1 checksum
 *    16    8 start_gpa
 *    24    8 bytes
 *    32    8 seed         for random and hot-cold (lib/rng.ts Rng(seed))
 *    40    4 hot_percent  hot-cold: the first hot_percent% of the pages are hot
 *    44    4 iterations   passes (sequential) or accesses / page count (others)
 *    48    8 result       written by the guest: XOR of the values read (checksum)
 *    56    4 hole_start   first page (GPA / 4K) of a hole in guest RAM, 0 when none
 *    60    4 hole_end     page after the hole, 0 when none
 *
 * All little-endian. Bytes 56..63 were padding before the x86 image at 0x40 that
 * nothing writes, so a descriptor from before the hole fields reads as "no hole".
 * The pages touched are ⌊start/4K⌋ … ⌈(start+bytes)/4K⌉ − 1, counted in guest
 * RAM: page i is at GPA i × 4K below the hole and i × 4K + (hole_end −
 * hole_start) × 4K from hole_start on (guest_page_gpa), so a guest whose RAM
 * is split around the PCI hole (QEMU's pc machine: 3 GiB below 4 GiB, the rest
 * from 4 GiB) covers its RAM and never the hole; start and bytes are RAM
 * offsets then (GPAs when there is no hole or below it). A hole_end below
 * hole_start is a bad descriptor. Each access is one 8-byte read or write at
 * the page's first byte. A write
 * stores the gpa itself (u64). Hot-cold sends 90% of accesses to the hot pages.
 * When done the guest does `out 0xf4, eax` (isa-debug-exit): a KVM_EXIT_IO on
 * port 0xf4 with a u32 status (0 ok, 1 bad descriptor, 2 killed by a machine
 * check: the guest OS's #MC handler ends a program that consumed poisoned
 * memory, as Linux's kill_me_now does); the next KVM_RUN reads the descriptor
 * again.
 *
 * Real KVM runs x86-64 code that does the same (user/vmm/guest_x86.ts): vmm
 * writes it, with its page tables, into page 0 after the descriptor (from
 * offset 0x40) and starts it with KVM_SET_SREGS/KVM_SET_REGS, on both kernels;
 * the model's vCPU keeps interpreting the descriptor.
 */
export const GUEST_PROGRAM_MAGIC = 'DMEMGST1';
/** Bytes of the descriptor (56 before the hole fields). */
export const GUEST_PROGRAM_SIZE = 64;
/** Offsets of the hole fields (u32 page numbers). */
export const GUEST_HOLE_START_OFFSET = 56;
export const GUEST_HOLE_END_OFFSET = 60;
export const GUEST_PATTERN_SEQ = 0;
export const GUEST_PATTERN_RANDOM = 1;
export const GUEST_PATTERN_HOT_COLD = 2;
export const GUEST_FLAG_WRITE = 1;
export const GUEST_FLAG_CHECKSUM = 2;
/** Offset of the result field. */
export const GUEST_RESULT_OFFSET = 48;
/** Exit status of a program the guest's machine-check handler ended (action-required error). */
export const GUEST_STATUS_MCE = 2;
/** The isa-debug-exit port the guest reports completion on. */
export const GUEST_EXIT_PORT = 0xf4;

/** The guest program's fields. */
export interface GuestProgram {
  pattern: number;
  flags: number;
  start_gpa: number;
  bytes: number;
  seed: number;
  hot_percent: number;
  iterations: number;
  /** The hole in guest RAM's GPAs, [hole_start, hole_end), page aligned; absent or 0 for none. */
  hole_start?: number;
  hole_end?: number;
}

/**
 * The GPA of the program's page number `page` (RAM pages, the hole left out):
 * an offset a = page × 4K is GPA a below hole_start and a + the hole's size
 * from there on.
 *
 *   page index   0 ............ hs/4K-1 | hs/4K ......... n-1
 *   GPA          0 ............ hs-4K   | he ............ he + (n-1)·4K - hs
 *                                  hole [hs, he) skipped
 */
export function guest_page_gpa(p: GuestProgram, page: number): number {
  const a = page * 4096;
  const hs = p.hole_start ?? 0;
  const he = p.hole_end ?? 0;
  return he > hs && a >= hs ? a + (he - hs) : a;
}

/** Encode a descriptor for the VMM to store at gpa 0. */
export function encode_guest_program(p: GuestProgram): Uint8Array {
  const b = new Uint8Array(GUEST_PROGRAM_SIZE);
  const v = new DataView(b.buffer);
  for (let i = 0; i < 8; i++) b[i] = GUEST_PROGRAM_MAGIC.charCodeAt(i);
  v.setUint32(8, p.pattern, true);
  v.setUint32(12, p.flags, true);
  v.setBigUint64(16, BigInt(p.start_gpa), true);
  v.setBigUint64(24, BigInt(p.bytes), true);
  v.setBigUint64(32, BigInt(p.seed), true);
  v.setUint32(40, p.hot_percent, true);
  v.setUint32(44, p.iterations, true);
  v.setUint32(GUEST_HOLE_START_OFFSET, Math.floor((p.hole_start ?? 0) / 4096), true);
  v.setUint32(GUEST_HOLE_END_OFFSET, Math.floor((p.hole_end ?? 0) / 4096), true);
  return b;
}

/** Decode a descriptor; null when the magic is wrong. */
export function decode_guest_program(b: Uint8Array): GuestProgram | null {
  for (let i = 0; i < 8; i++) if (b[i] !== GUEST_PROGRAM_MAGIC.charCodeAt(i)) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    pattern: v.getUint32(8, true),
    flags: v.getUint32(12, true),
    start_gpa: Number(v.getBigUint64(16, true)),
    bytes: Number(v.getBigUint64(24, true)),
    seed: Number(v.getBigUint64(32, true)),
    hot_percent: v.getUint32(40, true),
    iterations: v.getUint32(44, true),
    hole_start: b.byteLength >= GUEST_PROGRAM_SIZE ? v.getUint32(GUEST_HOLE_START_OFFSET, true) * 4096 : 0,
    hole_end: b.byteLength >= GUEST_PROGRAM_SIZE ? v.getUint32(GUEST_HOLE_END_OFFSET, true) * 4096 : 0,
  };
}
