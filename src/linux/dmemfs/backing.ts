/**
 * The user-space dmemfs pool: real memory reserved at mount, managed by the
 * model's dmem allocator (kernel/dmem/pool.ts, the series' mm/dmem.c) over one
 * region [0, size) whose "physical addresses" are offsets in the backing fd.
 *
 * The backing is a memfd of the pool size: MFD_HUGETLB with the dpage's size
 * (mm/hugetlb.c; memfd_create's MFD_HUGE_2MB/1GB) where the host can supply the
 * pages — growing nr_hugepages by the shortfall when root, through the session so
 * the watchdog shrinks it back whatever ends Node — otherwise an ordinary (shmem)
 * memfd, and the reason is kept for the mount message. The whole pool is
 * fallocate()d at mount, so its memory is really taken then (hugetlbfs reserves
 * only at mmap otherwise), and mapped once into Node for read/write/zeroing
 * (hugetlbfs has no write_iter, so pwrite on the fd would be EINVAL).
 *
 * Differs from the kernel: the dmem= reservation is boot-time physical memory
 * without struct pages; here it is a file, so KVM and GUP see ordinary
 * hugetlb/shmem pages.
 */
import { Errno } from '../../lib/errno.ts';
import { formatSizeSuffix, PAGE_SIZE } from '../../lib/size.ts';
import { PROT_READ, PROT_WRITE, MAP_SHARED } from '../../uapi/mman.ts';
import { DmemPoolImpl } from '../../kernel/dmem/pool.ts';
import { KernelLog } from '../../kernel/printk.ts';
import * as libc from '../libc.ts';
import { readHugetlbInfo, readText, type LinuxSession } from '../session.ts';

const MFD_CLOEXEC = 1;
const MFD_HUGETLB = 4;
/** MFD_HUGE_SHIFT (include/uapi/linux/memfd.h). */
const MFD_HUGE_SHIFT = 26;

/** What the pool is made of. */
export type PoolKind = 'hugetlb' | 'memfd';

/** The reserved memory and the allocator over it. */
export class DmemBacking {
  readonly pool: DmemPoolImpl;
  /** Node's own shared mapping of the whole pool (read/write/zeroing). */
  readonly base: number;
  private released = false;

  private constructor(
    readonly fd: number,
    readonly size: number,
    readonly dpageSize: number,
    readonly kind: PoolKind,
    /** The page size the kernel maps the backing with (hugetlb: the dpage size; memfd: 4K). */
    readonly hostPageSize: number,
    /** Why hugetlb was not used (memfd only). */
    readonly why: string,
    private readonly session: LinuxSession,
    /** nr_hugepages added for this pool (given back at release). */
    private readonly addedPages: number,
  ) {
    this.base = libc.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    this.pool = new DmemPoolImpl(1, new KernelLog(() => 0));
    this.pool.dmem_region_register(0, 0, size);
    // No struct page check and no metadata charge: the pool is a file, its bitmaps live in Node.
    const rc = this.pool.dmem_late_init({
      sparse: { first_pfn_with_struct_page: () => -1 },
      kalloc: { kvzalloc: () => 0, kvfree: () => {} },
      topo: { distances: [[10]], cpus: [1], hasMemory: [true] },
    });
    if (rc < 0) throw new Errno('ENOMEM', 'dmem: late init of the user-space pool failed');
    this.pool.dmem_alloc_init(Math.log2(dpageSize));
  }

  /**
   * Reserve `size` bytes (a multiple of dpageSize) for a mount: hugetlb pages of the dpage
   * size unless `want` is 'memfd' or the host cannot give them.
   */
  static reserve(session: LinuxSession, size: number, dpageSize: number, want: PoolKind | null): DmemBacking {
    let why = '';
    if (want === 'memfd') why = 'pool=memfd asked for';
    else if (dpageSize === PAGE_SIZE) why = 'a 4K dpage has no hugetlb pool';
    else {
      const r = tryHugetlb(session, size, dpageSize);
      if (typeof r !== 'string') return new DmemBacking(r.fd, size, dpageSize, 'hugetlb', dpageSize, '', session, r.added);
      why = r;
      if (want === 'hugetlb') throw new Errno('ENOMEM', `dmemfs: pool=hugetlb: ${why}`);
    }
    const fd = libc.memfd_create('dmemfs-pool', MFD_CLOEXEC);
    try {
      libc.ftruncate(fd, size);
      fallocateAll(fd, size);
    } catch (e) {
      libc.close(fd);
      throw e;
    }
    return new DmemBacking(fd, size, dpageSize, 'memfd', PAGE_SIZE, why, session, 0);
  }

  /** Zero [off, off + len) of the pool (every dpage is zeroed as it enters a file). */
  zero(off: number, len: number): void {
    // memset, not a copy from a zero buffer: about twice the bandwidth (bench/linux.bench.ts).
    libc.fill(this.base + off, 0, len);
  }

  /** Bytes at pool offset `off`. */
  read(off: number, len: number): Uint8Array {
    return libc.peek(this.base + off, len);
  }

  /** Store bytes at pool offset `off`. */
  write(off: number, data: Uint8Array): void {
    libc.poke(this.base + off, data);
  }

  /** One line for the mount message and /proc/mounts' pool= option. */
  describe(): string {
    const n = this.size / this.dpageSize;
    const what = this.kind === 'hugetlb' ? `hugetlb ${formatSizeSuffix(this.dpageSize)} pages (memfd MFD_HUGETLB)` : `an ordinary memfd, 4K pages (${this.why})`;
    return `${n} dpage${n === 1 ? '' : 's'} of ${formatSizeSuffix(this.dpageSize)} (${formatSizeSuffix(this.size)}) reserved from ${what}`;
  }

  /** Give the memory back: the pool mapping, the fd, the hugetlb pages added. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    libc.munmap(this.base, this.size);
    libc.close(this.fd);
    if (this.addedPages) this.session.unreserveHugepages(this.dpageSize, this.addedPages);
  }
}

/** A hugetlb memfd of `size` with every page allocated, or why not. */
function tryHugetlb(session: LinuxSession, size: number, pageSize: number): { fd: number; added: number } | string {
  const info = readHugetlbInfo();
  if (!info.sizes.includes(pageSize)) return `this kernel has no ${formatSizeSuffix(pageSize)} hugetlb pool`;
  const need = size / pageSize;
  const dir = `/sys/kernel/mm/hugepages/hugepages-${pageSize / 1024}kB`;
  let free: number;
  try {
    free = Number(readText(`${dir}/free_hugepages`).trim()) - Number(readText(`${dir}/resv_hugepages`).trim());
  } catch {
    free = 0;
  }
  let added = 0;
  if (free < need) {
    if (process.getuid?.() !== 0) return `the ${formatSizeSuffix(pageSize)} hugetlb pool has ${Math.max(0, free)} free pages, ${need} needed (root could grow it)`;
    added = session.reserveHugepages(pageSize, need - free);
    if (added < need - free) {
      session.unreserveHugepages(pageSize, added);
      return `the kernel found only ${Math.max(0, free) + added} of ${need} ${formatSizeSuffix(pageSize)} hugetlb pages`;
    }
  }
  let fd = -1;
  try {
    fd = libc.memfd_create('dmemfs-pool', MFD_CLOEXEC | MFD_HUGETLB | (Math.log2(pageSize) << MFD_HUGE_SHIFT));
    libc.ftruncate(fd, size);
    fallocateAll(fd, size);
    return { fd, added };
  } catch (e) {
    if (fd >= 0) libc.close(fd);
    if (added) session.unreserveHugepages(pageSize, added);
    return `hugetlb ${formatSizeSuffix(pageSize)}: ${e instanceof Errno ? e.message : String(e)}`;
  }
}

/**
 * fallocate the whole backing. hugetlbfs_fallocate and shmem_fallocate stop with EINTR
 * on a pending signal (Node's worker threads get some); what was allocated stays, so retry.
 */
function fallocateAll(fd: number, size: number): void {
  for (let tries = 0; ; tries++) {
    try {
      return libc.fallocate(fd, 0, 0, size);
    } catch (e) {
      if (!(e instanceof Errno) || e.code !== 'EINTR' || tries >= 100) throw e;
    }
  }
}
