/**
 * mount(8) and umount(8) with util-linux 2.38's messages (libmount's
 * mnt_context_get_mount_excode / get_umount_excode) and exit status 32 for a
 * failed mount(2)/umount(2). Bare `mount` lists /proc/mounts.
 */
import { Errno } from '../../lib/errno.ts';
import { MNT_DETACH, MNT_FORCE, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT, S_ISDIR } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import type { Program } from '../program.ts';
import { attempt, getopt, out, readFile, usage, warn } from './common.ts';

/** util-linux's exit status when the mount/umount system call fails. */
const MNT_EX_FAIL = 32;
const DMESG_HINT = '       dmesg(1) may have more information after failed mount system call.\n';

/** One line of /proc/mounts. */
export interface MountEntry {
  source: string;
  target: string;
  fstype: string;
  options: string;
}

/** Parse /proc/mounts (octal escapes such as \040 decoded). */
export function readMounts(sys: Syscalls): MountEntry[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFile(sys, '/proc/mounts')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [source = '', target = '', fstype = '', options = ''] = l.split(/\s+/);
      return { source: unescape(source), target: unescape(target), fstype, options };
    });
}

const FLAG_OPTS: Record<string, [number, boolean]> = {
  ro: [MS_RDONLY, true], rw: [MS_RDONLY, false], nosuid: [MS_NOSUID, true], suid: [MS_NOSUID, false],
  nodev: [MS_NODEV, true], dev: [MS_NODEV, false], noexec: [MS_NOEXEC, true], exec: [MS_NOEXEC, false],
  remount: [MS_REMOUNT, true], bind: [MS_BIND, true],
};
const IGNORED_OPTS = new Set(['defaults', 'auto', 'noauto', 'user', 'nouser', 'async']);

/** mount [-t TYPE] [-o OPTS] SOURCE DIR, or bare `mount [-t TYPE]` to list. */
export const mount: Program = ({ sys, argv }) => {
  const p = getopt(argv, 't:o:rwB', { 'types=': 't', 'options=': 'o', bind: 'B', 'read-only': 'r' });
  if ('error' in p) return usage(sys, 'mount', p.error, 1);
  let fstype: string | undefined;
  const optList: string[] = [];
  for (const [c, v] of p.opts) {
    if (c === 't') fstype = v!;
    else if (c === 'o') optList.push(...v!.split(','));
    else if (c === 'r') optList.push('ro');
    else if (c === 'w') optList.push('rw');
    else if (c === 'B') optList.push('bind');
  }
  if (p.operands.length === 0) {
    for (const m of readMounts(sys)) {
      if (fstype === undefined || m.fstype === fstype) out(sys, `${m.source} on ${m.target} type ${m.fstype} (${m.options})\n`);
    }
    return 0;
  }
  if (p.operands.length !== 2) return usage(sys, 'mount', 'bad usage', 1);
  const [source, target] = p.operands as [string, string];
  let flags = 0;
  const data: string[] = [];
  for (const o of optList.filter((x) => x)) {
    const f = FLAG_OPTS[o];
    if (f) flags = f[1] ? flags | f[0] : flags & ~f[0];
    else if (!IGNORED_OPTS.has(o)) data.push(o);
  }
  try {
    sys.mount(source, target, fstype ?? (flags & (MS_BIND | MS_REMOUNT) ? '' : 'none'), flags, data.join(','));
  } catch (e) {
    if (!(e instanceof Errno)) throw e;
    warn(sys, 'mount', `${target}: ${mountError(sys, e, source, target, fstype, flags)}.`);
    out2(sys, DMESG_HINT);
    return MNT_EX_FAIL;
  }
  return 0;
};

function out2(sys: Syscalls, s: string): void {
  sys.write(2, s);
}

function mountError(sys: Syscalls, e: Errno, src: string, tgt: string, fstype: string | undefined, flags: number): string {
  switch (e.code) {
    case 'EPERM':
      return 'permission denied';
    case 'EBUSY': {
      if (flags & MS_REMOUNT) return 'mount point is busy';
      const m = attempt(() => readMounts(sys));
      const on = m instanceof Errno ? undefined : m.find((x) => x.source === src);
      return on ? `${src} already mounted on ${on.target}` : `${src} already mounted or mount point busy`;
    }
    case 'ENOENT':
      if (attempt(() => sys.lstat(tgt)) instanceof Errno) return 'mount point does not exist';
      if (attempt(() => sys.stat(src)) instanceof Errno) return `special device ${src} does not exist`;
      return `mount(2) system call failed: ${e.strerror}`;
    case 'ENOTDIR': {
      const st = attempt(() => sys.stat(tgt));
      if (st instanceof Errno || !S_ISDIR(st.mode)) return 'mount point is not a directory';
      return `mount(2) system call failed: ${e.strerror}`;
    }
    case 'EINVAL':
      if (flags & MS_REMOUNT) return 'mount point not mounted or bad option';
      return `wrong fs type, bad option, bad superblock on ${src}, missing codepage or helper program, or other error`;
    case 'EMFILE':
      return 'mount table full';
    case 'EIO':
      return `can't read superblock on ${src}`;
    case 'ENODEV':
      return fstype ? `unknown filesystem type '${fstype}'` : 'unknown filesystem type';
    case 'ENXIO':
      return `${src} is not a valid block device`;
    case 'EACCES':
    case 'EROFS':
      if (flags & MS_RDONLY) return `cannot mount ${src} read-only`;
      if (flags & MS_REMOUNT) return `cannot remount ${src} read-write, is write-protected`;
      if (flags & MS_BIND) return `bind ${src} failed`;
      return `mount(2) system call failed: ${e.strerror}`;
    default:
      return `mount(2) system call failed: ${e.strerror}`;
  }
}

/** umount [-f] [-l] DIR... */
export const umount: Program = ({ sys, argv }) => {
  const p = getopt(argv, 'flv', { force: 'f', lazy: 'l' });
  if ('error' in p) return usage(sys, 'umount', p.error, 1);
  let flags = 0;
  for (const [c] of p.opts) {
    if (c === 'f') flags |= MNT_FORCE;
    else if (c === 'l') flags |= MNT_DETACH;
  }
  if (p.operands.length === 0) return usage(sys, 'umount', 'bad usage', 1);
  let status = 0;
  for (const target of p.operands) {
    const r = attempt(() => sys.umount2(target, flags));
    if (!(r instanceof Errno)) continue;
    const msg: Partial<Record<string, string>> = {
      EBUSY: 'target is busy',
      EINVAL: 'not mounted',
      ENOENT: 'no mount point specified',
      EPERM: 'must be superuser to unmount',
      EACCES: 'must be superuser to unmount',
    };
    warn(sys, 'umount', `${target}: ${msg[r.code] ?? `umount failed: ${r.strerror}`}.`);
    status = MNT_EX_FAIL;
  }
  return status;
};
