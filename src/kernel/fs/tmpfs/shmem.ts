/**
 * The tmpfs filesystem type and the kernel's own uses of shmem (mm/shmem.c:
 * shmem_fill_super, shmem_init/shm_mnt, shmem_file_setup, shmem_zero_setup;
 * mm/memfd.c memfd_create).
 */
import { Errno } from '../../../lib/errno.ts';
import { PAGE_SIZE } from '../../../lib/size.ts';
import { O_RDWR, S_IFDIR, S_IFREG, TMPFS_MAGIC } from '../../../uapi/fcntl.ts';
import { MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_HUGETLB } from '../../../uapi/mman.ts';
import type { VmArea } from '../../mm/vm_area.ts';
import { d_alloc_pseudo, d_make_root } from '../vfs/dcache.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE } from '../vfs/file.ts';
import { MAX_LFS_FILESIZE } from '../vfs/inode.ts';
import type { Mount } from '../vfs/mount.ts';
import { FS_USERNS_MOUNT, SB_KERNMOUNT, SuperBlock, type FileSystemType } from '../vfs/super.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { shmem_vm_ops } from './file.ts';
import { shmem_evict_inode, shmem_get_inode, shmem_put_super, shmem_statfs } from './inode.ts';
import { shmem_apply_new, shmem_parse_options, shmem_reconfigure, shmem_show_options } from './options.ts';
import { ShmemSbInfo, type ShmemMemory } from './shmem_fs.ts';

/** MFD_NOEXEC_SEAL / MFD_EXEC (Linux 6.3). */
export const MFD_NOEXEC_SEAL = 0x8;
export const MFD_EXEC = 0x10;
/** Longest memfd name, without the "memfd:" prefix (MFD_NAME_MAX_LEN). */
export const MFD_NAME_MAX_LEN = 249;

/** tmpfs for one host: the "tmpfs" type, the internal shm mount, memfd and /dev/zero's shared memory. */
export class ShmemFs {
  /** The "tmpfs" filesystem type (registered with the VFS by the constructor). */
  readonly fs_type: FileSystemType;
  /** shm_mnt: the internal, unlimited tmpfs behind memfd and shared anonymous memory. */
  readonly shm_mnt: Mount;

  constructor(
    readonly vfs: Vfs,
    readonly mem: ShmemMemory,
  ) {
    const type: FileSystemType = {
      name: 'tmpfs',
      fs_flags: FS_USERNS_MOUNT,
      mount: (_source, flags, data) => this.fill_super(type, flags, data),
    };
    this.fs_type = type;
    vfs.register_filesystem(type);
    this.shm_mnt = vfs.kern_mount(type);
  }

  /**
   * shmem_fill_super(): a new tmpfs superblock of `type` (tmpfs, or devtmpfs's
   * internal instance). EINVAL for a bad option string.
   */
  fill_super(type: FileSystemType, flags: number, data: string): SuperBlock {
    const totalram = this.mem.totalram_pages();
    const ctx = shmem_parse_options(data, totalram);
    const sbinfo = new ShmemSbInfo(this.mem);
    shmem_apply_new(sbinfo, ctx, (flags & SB_KERNMOUNT) !== 0, totalram);
    const sb = new SuperBlock(
      type,
      TMPFS_MAGIC,
      PAGE_SIZE,
      {
        statfs: shmem_statfs,
        show_options: () => shmem_show_options(sbinfo, this.mem.totalram_pages()),
        put_super: shmem_put_super,
        evict_inode: shmem_evict_inode,
        remount_fs: (_sb, _flags, d) => shmem_reconfigure(sbinfo, shmem_parse_options(d, this.mem.totalram_pages())),
      },
      this.vfs.clockNs,
    );
    sb.s_fs_info = sbinfo;
    sb.s_maxbytes = MAX_LFS_FILESIZE;
    const root = shmem_get_inode(sb, S_IFDIR | sbinfo.mode);
    root.i_uid = sbinfo.uid;
    root.i_gid = sbinfo.gid;
    sb.s_root = d_make_root(root);
    return sb;
  }

  /**
   * __shmem_file_setup(): an unlinked tmpfs file on shm_mnt, open O_RDWR, named
   * `name` (memfd passes "memfd:NAME", shown as "/memfd:NAME (deleted)").
   */
  shmem_file_setup(name: string, size: number, _flags = 0): File {
    if (size < 0 || size > MAX_LFS_FILESIZE) throw new Errno('EINVAL');
    const sb = this.shm_mnt.mnt_sb;
    const inode = shmem_get_inode(sb, S_IFREG | 0o777);
    inode.i_size = size;
    inode.i_nlink = 0; // It is unlinked
    const dentry = d_alloc_pseudo(sb.s_root, name, inode);
    // alloc_file_pseudo(..., O_RDWR, &shmem_file_operations)
    const file = new File({ mnt: this.shm_mnt, dentry }, inode, O_RDWR, inode.i_fop);
    file.f_mode |= FMODE_CAN_READ | FMODE_CAN_WRITE;
    return file;
  }

  /** shmem_kernel_file_setup(): the same, for kernel-internal users. */
  shmem_kernel_file_setup(name: string, size: number, flags = 0): File {
    return this.shmem_file_setup(name, size, flags);
  }

  /**
   * shmem_zero_setup(): make a shared anonymous (or MAP_SHARED /dev/zero) VMA a
   * mapping of a fresh "dev/zero" shmem file. The VMA's file reference moves to
   * the new file: the old vma.file is put and the new one is owned by the VMA.
   */
  shmem_zero_setup(vma: VmArea): void {
    const file = this.shmem_kernel_file_setup('dev/zero', vma.size, vma.flags);
    vma.file?.fput();
    vma.file = file;
    vma.vm_ops = shmem_vm_ops;
  }

  /**
   * memfd_create(2) for tmpfs-backed memfds. EINVAL for unknown flags or a name
   * longer than 249 bytes. MFD_HUGETLB belongs to hugetlbfs: the caller routes it.
   */
  memfd_create(name: string, flags: number): File {
    const all = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;
    if (flags & ~all) throw new Errno('EINVAL');
    if (flags & MFD_HUGETLB) throw new Errno('EINVAL');
    if ((flags & MFD_EXEC) && (flags & MFD_NOEXEC_SEAL)) throw new Errno('EINVAL');
    if (new TextEncoder().encode(name).length > MFD_NAME_MAX_LEN) throw new Errno('EINVAL');
    return this.shmem_file_setup(`memfd:${name}`, 0);
  }
}
