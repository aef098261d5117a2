/**
 * The host's terminal as a file: the model's stand-in for a pty slave
 * (drivers/tty: tty_read, tty_write, tty_ioctl; shown as /dev/pts/0).
 * Writes go to a callback; reads consume a provided input string and then
 * report end of file, as a terminal does after ^D.
 */
import { Errno } from '../../../lib/errno.ts';
import { O_RDWR, S_IFCHR } from '../../../uapi/fcntl.ts';
import { MKDEV } from './char_dev.ts';
import { d_alloc_pseudo } from './dcache.ts';
import { File, FMODE_CAN_READ, FMODE_CAN_WRITE } from './file.ts';
import { new_inode, type FileOperations } from './inode.ts';
import type { Mount } from './mount.ts';
import { stream_open } from './read_write.ts';

/** DEVPTS_SUPER_MAGIC. */
export const DEVPTS_SUPER_MAGIC = 0x1cd1;
/** TCGETS: what isatty() asks. */
export const TCGETS = 0x5401;

/** How the host connects a console. */
export interface ConsoleOptions {
  /** Receives every write (the host's terminal output). */
  write(data: Uint8Array): void;
  /** What reads return, then end of file. */
  input?: string;
}

/** The console's input queue. */
interface ConsoleState {
  input: Uint8Array;
  out: (data: Uint8Array) => void;
}

const console_fops: FileOperations = {
  read(file, count) {
    const st = file.private_data as ConsoleState;
    const n = Math.min(count, st.input.length);
    const out = st.input.slice(0, n);
    st.input = st.input.subarray(n);
    return out;
  },
  write(file, data) {
    (file.private_data as ConsoleState).out(data.slice());
    return data.length;
  },
  unlocked_ioctl(_file, request) {
    if (request === TCGETS) return 0;
    throw new Errno('ENOTTY');
  },
};

/** A console file on the internal devpts mount, open O_RDWR. */
export function create_console(mnt: Mount, opts: ConsoleOptions): File {
  const sb = mnt.mnt_sb;
  const inode = new_inode(sb, S_IFCHR | 0o620);
  inode.i_rdev = MKDEV(136, 0);
  inode.i_fop = console_fops;
  const dentry = d_alloc_pseudo(sb.s_root, '0', inode);
  dentry.d_op = { d_dname: () => '/dev/pts/0' };
  const f = new File({ mnt, dentry }, inode, O_RDWR, console_fops);
  f.private_data = { input: new TextEncoder().encode(opts.input ?? ''), out: opts.write } satisfies ConsoleState;
  stream_open(f);
  f.f_mode |= FMODE_CAN_READ | FMODE_CAN_WRITE;
  return f;
}

/** Queue more terminal input on a console file. */
export function console_push_input(file: File, text: string): void {
  const st = file.private_data as ConsoleState;
  const add = new TextEncoder().encode(text);
  const next = new Uint8Array(st.input.length + add.length);
  next.set(st.input);
  next.set(add, st.input.length);
  st.input = next;
}
