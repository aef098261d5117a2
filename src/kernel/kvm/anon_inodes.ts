/**
 * Anonymous-inode files (fs/anon_inodes.c: anon_inode_getfile): files with no
 * name in any directory, for objects like a KVM VM or vCPU. /proc/PID/fd shows
 * them as "anon_inode:NAME". Linux shares one inode among them; the model gives
 * each file its own unlinked inode on a private mount, as pipes do.
 */
import { O_RDWR } from '../../uapi/fcntl.ts';
import { d_alloc_pseudo } from '../fs/vfs/dcache.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE } from '../fs/vfs/file.ts';
import { new_inode, type FileOperations } from '../fs/vfs/inode.ts';
import { init_pseudo } from '../fs/vfs/libfs.ts';
import type { Mount } from '../fs/vfs/mount.ts';
import type { Vfs } from '../fs/vfs/vfs.ts';

/** ANON_INODE_FS_MAGIC (include/uapi/linux/magic.h). */
export const ANON_INODE_FS_MAGIC = 0x09041934;

const mounts = new WeakMap<Vfs, Mount>();

/** anon_inode_getfile(): a new O_RDWR file with `fops` and `priv` as private_data. */
export function anon_inode_getfile(vfs: Vfs, name: string, fops: FileOperations, priv: unknown): File {
  let mnt = mounts.get(vfs);
  if (!mnt) {
    mnt = vfs.kern_mount(init_pseudo('anon_inodefs', ANON_INODE_FS_MAGIC, vfs.clockNs));
    mounts.set(vfs, mnt);
  }
  const sb = mnt.mnt_sb;
  // S_IRUSR | S_IWUSR and no file type, as alloc_anon_inode leaves i_mode.
  const inode = new_inode(sb, 0o600);
  inode.i_fop = fops;
  inode.i_nlink = 1;
  const dentry = d_alloc_pseudo(sb.s_root, name, inode);
  dentry.d_op = { d_dname: () => `anon_inode:${name}` };
  const f = new File({ mnt, dentry }, inode, O_RDWR, fops);
  inode.i_nlink = 0;
  f.private_data = priv;
  if (fops.read) f.f_mode |= FMODE_CAN_READ;
  if (fops.write) f.f_mode |= FMODE_CAN_WRITE;
  return f;
}
