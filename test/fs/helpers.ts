/** Test helpers: a fake ShmemMemory over a small frame pool, and a booted VFS. */
import { Errno, type ErrnoName } from '../../src/lib/errno.ts';
import { PAGE_SIZE } from '../../src/lib/size.ts';
import { mount_early_filesystems } from '../../src/kernel/fs/early_mounts.ts';
import { Devtmpfs, register_mem_devices } from '../../src/kernel/fs/devtmpfs/index.ts';
import { register_pseudo_filesystems, type PseudoFilesystems } from '../../src/kernel/fs/pseudo/index.ts';
import { ShmemFs, type ShmemMemory } from '../../src/kernel/fs/tmpfs/index.ts';
import { Vfs, type Path } from '../../src/kernel/fs/vfs/index.ts';

/** Frames that remember their old bytes (as DRAM does); fresh frames hold 0xCC. */
export class FakeMemory implements ShmemMemory {
  readonly frames = new Map<number, Uint8Array>();
  readonly allocated = new Set<number>();
  private readonly free: number[] = [];
  nr_shmem = 0;
  /** Fail the next N allocations (to test ENOMEM / VM_FAULT_OOM). */
  failNext = 0;

  constructor(
    readonly nframes: number,
    readonly totalram = nframes,
  ) {
    for (let pfn = nframes - 1; pfn >= 0; pfn--) this.free.push(pfn + 0x100);
  }

  alloc_page(): number {
    if (this.failNext > 0) {
      this.failNext--;
      return -1;
    }
    const pfn = this.free.pop();
    if (pfn === undefined) return -1;
    if (!this.frames.has(pfn)) this.frames.set(pfn, new Uint8Array(PAGE_SIZE).fill(0xcc));
    this.allocated.add(pfn);
    return pfn;
  }

  free_page(pfn: number): void {
    if (!this.allocated.delete(pfn)) throw new Error(`double free of pfn ${pfn}`);
    this.free.push(pfn);
  }

  clear_pages(pfn: number, nr: number): void {
    for (let i = 0; i < nr; i++) this.frame(pfn + i).fill(0);
  }

  private frame(pfn: number): Uint8Array {
    if (!this.allocated.has(pfn)) throw new Error(`access to unallocated pfn ${pfn}`);
    return this.frames.get(pfn)!;
  }

  read(phys: number, len: number): Uint8Array {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys % PAGE_SIZE;
    if (off + len > PAGE_SIZE) throw new Error('read crosses a frame');
    return this.frame(pfn).slice(off, off + len);
  }

  write(phys: number, data: Uint8Array): void {
    const pfn = Math.floor(phys / PAGE_SIZE);
    const off = phys % PAGE_SIZE;
    if (off + data.length > PAGE_SIZE) throw new Error('write crosses a frame');
    this.frame(pfn).set(data, off);
  }

  mod_shmem(delta: number): void {
    this.nr_shmem += delta;
  }

  totalram_pages(): number {
    return this.totalram;
  }
}

/** A booted VFS: tmpfs root, /tmp, /proc, /sys, /sys/kernel/debug, /dev. */
export interface Booted {
  vfs: Vfs;
  mem: FakeMemory;
  shmem: ShmemFs;
  devtmpfs: Devtmpfs;
  pseudo: PseudoFilesystems;
  root: Path;
  clock: { now: number };
}

/** Boot a host's file layer the way the host wires it. */
export function boot(opts: { frames?: number; totalram?: number; mountAll?: boolean } = {}): Booted {
  const clock = { now: 1_000_000_000 };
  const vfs = new Vfs(() => clock.now);
  const mem = new FakeMemory(opts.frames ?? 4096, opts.totalram ?? opts.frames ?? 4096);
  const shmem = new ShmemFs(vfs, mem);
  const pseudo = register_pseudo_filesystems(vfs);
  const devtmpfs = new Devtmpfs(shmem);
  register_mem_devices(shmem, devtmpfs);
  const root = vfs.mount_root('tmpfs', 'mode=0755', 'rootfs');
  if (opts.mountAll !== false) mount_early_filesystems(vfs, root);
  return { vfs, mem, shmem, devtmpfs, pseudo, root, clock };
}

/** The errno name a call throws (or 'ok'). */
export function errno(fn: () => unknown): ErrnoName | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof Errno) return e.code;
    throw e;
  }
}

const dec = new TextDecoder();

/** Bytes → text. */
export function text(b: Uint8Array): string {
  return dec.decode(b);
}
