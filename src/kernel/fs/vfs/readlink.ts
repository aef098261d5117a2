/**
 * readlink(2) (fs/stat.c do_readlinkat; fs/namei.c vfs_readlink): the target
 * of the symbolic link a name refers to, the last component not followed.
 * EINVAL when it is not a symlink, the walk's errors (ENOENT, ENOTDIR, ELOOP,
 * ENAMETOOLONG) otherwise. The model returns the whole target: there is no
 * user buffer to truncate it to (readlink's bufsiz <= 0 EINVAL has no analogue).
 */
import { Errno } from '../../../lib/errno.ts';
import { isLnk } from './inode.ts';
import type { Path } from './mount.ts';
import { filename_lookup, type WalkRoot } from './namei.ts';

/** do_readlinkat() with AT_FDCWD. */
export function do_readlinkat(vfs: WalkRoot, cwd: Path, name: string): string {
  const path = filename_lookup(vfs, cwd, name, 0);
  const inode = path.dentry.d_inode!;
  if (!isLnk(inode) || !inode.i_op.get_link) throw new Errno('EINVAL');
  return inode.i_op.get_link(path.dentry);
}
