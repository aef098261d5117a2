/**
 * devtmpfs (drivers/base/devtmpfs.c): one tmpfs instance, created at boot with
 * "mode=0755", that drivers populate with device nodes; every
 * `mount -t devtmpfs` shows that same superblock (devtmpfs_get_tree). Options given
 * at mount time are parsed as tmpfs options and otherwise ignored.
 */
import { Errno } from '../../../lib/errno.ts';
import { S_IFCHR, S_IFDIR, S_IFMT } from '../../../uapi/fcntl.ts';
import { d_add, d_alloc, d_delete } from '../vfs/dcache.ts';
import { inc_nlink, isDir, iput_final } from '../vfs/inode.ts';
import type { Mount } from '../vfs/mount.ts';
import { d_inode, lookup_one } from '../vfs/namei.ts';
import type { FileSystemType, SuperBlock } from '../vfs/super.ts';
import type { ShmemFs } from '../tmpfs/shmem.ts';
import { shmem_mknod } from '../tmpfs/inode.ts';
import { shmem_parse_options } from '../tmpfs/options.ts';

/** devtmpfs for one host. */
export class Devtmpfs {
  /** The "devtmpfs" filesystem type (registered by the constructor). */
  readonly fs_type: FileSystemType;
  /** devtmpfs's own mount (vfs_kern_mount of the internal type). */
  readonly mnt: Mount;

  constructor(readonly shmem: ShmemFs) {
    const vfs = shmem.vfs;
    const internal: FileSystemType = {
      name: 'devtmpfs',
      fs_flags: 0,
      mount: (_source, flags, data) => shmem.fill_super(internal, flags, data),
    };
    this.mnt = vfs.kern_mount(internal, 'mode=0755', 0);
    const sb = this.mnt.mnt_sb;
    this.fs_type = {
      name: 'devtmpfs',
      fs_flags: 0,
      mount: (_source, _flags, data): SuperBlock => {
        shmem_parse_options(data, shmem.mem.totalram_pages());
        return sb;
      },
    };
    vfs.register_filesystem(this.fs_type);
  }

  /** The directory that holds `name`'s last component, creating parents (0755) as needed. */
  private parent(name: string, create: boolean) {
    const comps = name.split('/').filter((c) => c !== '');
    if (comps.length === 0) throw new Errno('EINVAL');
    let dir = this.mnt.mnt_sb.s_root;
    for (const c of comps.slice(0, -1)) {
      let d = lookup_one(dir, c);
      if (!d.d_inode) {
        if (!create) throw new Errno('ENOENT');
        const parent = d_inode(dir);
        const inode = shmem_mknod(parent, S_IFDIR | 0o755);
        inc_nlink(parent);
        d = d_alloc(dir, c);
        d_add(d, inode);
      } else if (!isDir(d.d_inode)) {
        throw new Errno('ENOTDIR');
      }
      dir = d;
    }
    return { dir, last: comps[comps.length - 1]! };
  }

  /** devtmpfs_create_node(): /dev/NAME as a character device node. EEXIST if present. */
  devtmpfs_create_node(name: string, mode: number, rdev: number): void {
    const { dir, last } = this.parent(name, true);
    const dentry = lookup_one(dir, last);
    if (dentry.d_inode) throw new Errno('EEXIST');
    const inode = shmem_mknod(d_inode(dir), (mode & ~S_IFMT) | S_IFCHR, rdev, this.shmem.vfs.chrdevs);
    d_add(dentry, inode);
  }

  /** devtmpfs_delete_node(): remove /dev/NAME (open files keep working). */
  devtmpfs_delete_node(name: string): void {
    const { dir, last } = this.parent(name, false);
    const dentry = lookup_one(dir, last);
    if (!dentry.d_inode) throw new Errno('ENOENT');
    const parent = d_inode(dir);
    parent.i_op.unlink!(parent, dentry);
    const inode = dentry.d_inode;
    d_delete(dentry);
    iput_final(inode);
  }
}
