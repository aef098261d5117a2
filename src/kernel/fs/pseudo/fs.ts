/**
 * The pseudo-filesystem engine behind proc, sysfs and debugfs (fs/kernfs/{dir,
 * file,inode}.c, fs/proc/{generic,inode,root}.c, fs/debugfs/inode.c,
 * fs/seq_file.c). Inodes are made on demand from a PseudoNode tree; cached
 * dentries are revalidated against the tree on every walk, so dynamic entries
 * (/proc/PID) vanish when their owner does.
 *
 * Reads follow seq_file: the file is rendered once at the first read and later
 * reads continue in that snapshot, so a reader sees one consistent copy; a read
 * at any other position than where the last one stopped (lseek, pread) renders
 * afresh, as seq_read's traverse() does. Writes follow sysfs: each write() call
 * passes its buffer (up to the filesystem's limit) to store().
 */
import { Errno } from '../../../lib/errno.ts';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, SEEK_CUR, SEEK_SET } from '../../../uapi/fcntl.ts';
import { d_make_root, type Dentry } from '../vfs/dcache.ts';
import { FMODE_READ, FMODE_WRITE, type File } from '../vfs/file.ts';
import {
  dt_type,
  new_inode,
  type DirContext,
  type FileOperations,
  type Iattr,
  type Inode,
  type InodeOperations,
  type Loff,
} from '../vfs/inode.ts';
import { dir_emit_dots, generic_read_dir } from '../vfs/libfs.ts';
import { simple_statfs, SuperBlock, type FileSystemType } from '../vfs/super.ts';
import { PseudoDir, PseudoFile, PseudoSymlink, type PseudoNode } from './node.ts';

/** How one pseudo filesystem differs from the others. */
export interface PseudoFsConfig {
  name: string;
  magic: number;
  /** Directory mode when a PseudoDir has none. */
  dirMode: number;
  /** st_size of attribute files (sysfs: PAGE_SIZE; proc, debugfs: 0). */
  fileSize: number;
  /** A missing name: proc_lookup fails with ENOENT; kernfs and debugfs give a negative dentry. */
  missing: 'ENOENT' | 'negative';
  /**
   * Writing a file that has no store(): sysfs refuses the open (EACCES, its
   * KERNFS_ROOT_EXTRA_OPEN_PERM_CHECK, which binds root too); proc opens and fails
   * the write with EIO (pde_write); debugfs attributes fail the write with EACCES.
   */
  noStore: 'open-EACCES' | 'write-EIO' | 'write-EACCES';
  /** Bytes one write() passes to store (sysfs: PAGE_SIZE, the rest is left unwritten). */
  writeLimit: number;
  /** One superblock for every mount (sysfs, debugfs), or one per mount (proc since 5.8). */
  single: boolean;
  /** Parse mount options into per-superblock state; throw EINVAL for bad ones. */
  parse(data: string): unknown;
  /** show_options text for that state. */
  show(opts: unknown): string;
  /** Mode of the root directory for that state. */
  rootMode(opts: unknown): number;
}

/** Per-superblock state: options and the node → inode cache. */
interface PseudoSbInfo {
  cfg: PseudoFsConfig;
  opts: unknown;
  inodes: WeakMap<PseudoNode, Inode>;
}

/** Per-open state of an attribute file (struct seq_file). */
interface SeqState {
  buf: Uint8Array | null;
  read_pos: number;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function info(inode: Inode): PseudoSbInfo {
  return inode.i_sb.s_fs_info as PseudoSbInfo;
}

/** Inode for a node (one per node per superblock). */
function pseudo_iget(sb: SuperBlock, node: PseudoNode): Inode {
  const si = sb.s_fs_info as PseudoSbInfo;
  const have = si.inodes.get(node);
  if (have) return have;
  let inode: Inode;
  if (node instanceof PseudoDir) {
    inode = new_inode(sb, S_IFDIR | (node.mode ?? si.cfg.dirMode));
    inode.i_nlink = 2;
    inode.i_op = pseudo_dir_iops;
    inode.i_fop = pseudo_dir_fops;
  } else if (node instanceof PseudoFile) {
    inode = new_inode(sb, S_IFREG | node.mode);
    inode.i_size = si.cfg.fileSize;
    inode.i_op = pseudo_file_iops;
    inode.i_fop = pseudo_file_fops;
  } else {
    inode = new_inode(sb, S_IFLNK | 0o777);
    inode.i_op = pseudo_link_iops;
  }
  inode.i_private = node;
  si.inodes.set(node, inode);
  return inode;
}

/** d_revalidate: the parent still has this very node under this name. */
function pseudo_revalidate(dentry: Dentry): boolean {
  const parent = dentry.d_parent.d_fsdata;
  return parent instanceof PseudoDir && parent.get(dentry.d_name) === dentry.d_fsdata;
}

/** ->lookup. */
function pseudo_lookup(dir: Inode, dentry: Dentry): Inode | null {
  const node = (dir.i_private as PseudoDir).get(dentry.d_name);
  if (!node) {
    if (info(dir).cfg.missing === 'ENOENT') throw new Errno('ENOENT');
    return null;
  }
  dentry.d_fsdata = node;
  return pseudo_iget(dir.i_sb, node);
}

/** ->setattr: sizes are ignored (O_TRUNC on an attribute succeeds and does nothing). */
function pseudo_setattr(dentry: Dentry, attr: Iattr): void {
  const inode = dentry.d_inode!;
  if (attr.mode !== undefined) inode.i_mode = (inode.i_mode & S_IFMT) | (attr.mode & 0o7777);
}

const pseudo_dir_iops: InodeOperations = {
  lookup: pseudo_lookup,
  setattr: pseudo_setattr,
  getattr(dentry, st) {
    // 2 + subdirectories, counted now (dynamic children come and go).
    const dir = dentry.d_inode!.i_private as PseudoDir;
    let n = 2;
    for (const name of dir.names()) if (dir.get(name) instanceof PseudoDir) n++;
    st.nlink = n;
  },
};
const pseudo_file_iops: InodeOperations = { setattr: pseudo_setattr };
const pseudo_link_iops: InodeOperations = {
  get_link: (dentry) => (dentry.d_inode!.i_private as PseudoSymlink).resolve(),
};

/** readdir: ".", "..", the static children, then the dynamic ones. */
function pseudo_iterate(file: File, ctx: DirContext): void {
  if (!dir_emit_dots(file, ctx)) return;
  const dir = file.f_inode.i_private as PseudoDir;
  const names = dir.names();
  for (let i = ctx.pos - 2; i < names.length; i++) {
    const node = dir.get(names[i]!);
    if (!node) continue;
    const inode = pseudo_iget(file.f_inode.i_sb, node);
    if (!ctx.emit(names[i]!, inode.i_ino, dt_type(inode.i_mode))) return;
    ctx.pos = i + 3;
  }
}

const pseudo_dir_fops: FileOperations = {
  read: generic_read_dir,
  iterate: pseudo_iterate,
  llseek(file, offset, whence) {
    return seq_lseek(file, offset, whence);
  },
};

/** kernfs_fop_open() / proc_reg_open(). */
function pseudo_open(inode: Inode, file: File): void {
  const node = inode.i_private as PseudoFile;
  if (info(inode).cfg.noStore === 'open-EACCES') {
    if (file.f_mode & FMODE_WRITE && (!(inode.i_mode & 0o222) || !node.store)) throw new Errno('EACCES');
    if (file.f_mode & FMODE_READ && (!(inode.i_mode & 0o444) || !(node.show || node.read))) throw new Errno('EACCES');
  }
  file.private_data = { buf: null, read_pos: 0 } satisfies SeqState;
}

/** seq_read(): a snapshot rendered at the first read, re-rendered after a seek. */
function pseudo_read(file: File, count: number, ppos: Loff): Uint8Array {
  const node = file.f_inode.i_private as PseudoFile;
  const st = file.private_data as SeqState;
  if (node.read) {
    // A binary proc_read: no snapshot, every read looks at the state now.
    const out = node.read(ppos.pos, count);
    ppos.pos += out.length;
    return out;
  }
  if (!node.show) throw new Errno('EIO');
  if (st.buf === null || ppos.pos !== st.read_pos) st.buf = utf8.encode(node.show());
  const out = st.buf.slice(ppos.pos, ppos.pos + count);
  ppos.pos += out.length;
  st.read_pos = ppos.pos;
  return out;
}

/** kernfs_fop_write_iter() / pde_write(). */
function pseudo_write(file: File, data: Uint8Array, ppos: Loff): number {
  const node = file.f_inode.i_private as PseudoFile;
  const cfg = info(file.f_inode).cfg;
  if (!node.store) throw new Errno(cfg.noStore === 'write-EIO' ? 'EIO' : 'EACCES');
  const len = Math.min(data.length, cfg.writeLimit);
  if (len === 0) return 0;
  node.store(utf8d.decode(data.subarray(0, len)));
  ppos.pos += len;
  return len;
}

/** seq_lseek(): SEEK_SET and SEEK_CUR to a non-negative position. */
function seq_lseek(file: File, offset: number, whence: number): number {
  let off = offset;
  if (whence === SEEK_CUR) off += file.f_pos;
  else if (whence !== SEEK_SET) throw new Errno('EINVAL');
  if (off < 0) throw new Errno('EINVAL');
  file.f_pos = off;
  return off;
}

const pseudo_file_fops: FileOperations = {
  open: pseudo_open,
  read: pseudo_read,
  write: pseudo_write,
  llseek: seq_lseek,
};

/** A filesystem type serving `root` under `cfg`'s rules. */
export function pseudo_fs_type(cfg: PseudoFsConfig, root: PseudoDir, clockNs: () => number): FileSystemType {
  let single: SuperBlock | null = null;
  const type: FileSystemType = {
    name: cfg.name,
    fs_flags: 0,
    mount(_source, _flags, data): SuperBlock {
      const opts = cfg.parse(data);
      if (cfg.single && single) {
        (single.s_fs_info as PseudoSbInfo).opts = opts;
        return single;
      }
      const sb = new SuperBlock(
        type,
        cfg.magic,
        4096,
        { statfs: simple_statfs, show_options: (s) => cfg.show((s.s_fs_info as PseudoSbInfo).opts) },
        clockNs,
      );
      const si: PseudoSbInfo = { cfg, opts, inodes: new WeakMap() };
      sb.s_fs_info = si;
      const rootInode = pseudo_iget(sb, root);
      rootInode.i_mode = S_IFDIR | cfg.rootMode(opts);
      sb.s_root = d_make_root(rootInode);
      sb.s_root.d_fsdata = root;
      sb.s_root.d_op = { d_revalidate: pseudo_revalidate };
      if (cfg.single) single = sb;
      return sb;
    },
    kill_sb(sb) {
      if (single === sb) single = null;
    },
  };
  return type;
}
