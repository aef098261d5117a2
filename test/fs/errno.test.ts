/**
 * Errno for errno: every invalid operation the VFS rejects, with the errno Linux
 * returns (fs/namei.c, fs/open.c, fs/read_write.c order of checks).
 *
 *   /            tmpfs (root)
 *   ├── tmp/     tmpfs (a separate mount)
 *   │   ├── d/
 *   │   │   └── e/
 *   │   │       └── g
 *   │   └── f    "hello"
 *   ├── proc/ sys/ sys/kernel/debug/ dev/
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
  O_APPEND,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../../src/uapi/fcntl.ts';
import { MAX_LFS_FILESIZE, type File, type Path, type Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno, text } from './helpers.ts';

let v: Vfs;
let r: Path;
let f: File;

beforeEach(() => {
  const b = boot();
  v = b.vfs;
  r = b.root;
  v.mkdir(r, '/tmp/d', 0o755);
  v.mkdir(r, '/tmp/d/e', 0o755);
  v.open(r, '/tmp/d/e/g', O_CREAT | O_WRONLY, 0o644).fput();
  f = v.open(r, '/tmp/f', O_CREAT | O_RDWR, 0o644);
  v.write(f, 'hello');
});

describe('open(2)', () => {
  it.each([
    ['missing file', '/tmp/nope', O_RDONLY, 'ENOENT'],
    ['missing parent with O_CREAT', '/tmp/nope/x', O_CREAT | O_WRONLY, 'ENOENT'],
    ['path through a file', '/tmp/f/x', O_RDONLY, 'ENOTDIR'],
    ['O_DIRECTORY on a file', '/tmp/f', O_RDONLY | O_DIRECTORY, 'ENOTDIR'],
    ['trailing slash on a file', '/tmp/f/', O_RDONLY, 'ENOTDIR'],
    ['directory for writing', '/tmp/d', O_WRONLY, 'EISDIR'],
    ['directory read-write', '/tmp/d', O_RDWR, 'EISDIR'],
    ['directory with O_TRUNC', '/tmp/d', O_RDONLY | O_TRUNC, 'EISDIR'],
    ['directory with O_CREAT', '/tmp/d', O_CREAT | O_RDONLY, 'EISDIR'],
    ['O_CREAT with a trailing slash', '/tmp/new/', O_CREAT | O_WRONLY, 'EISDIR'],
    ['O_CREAT of "."', '/tmp/.', O_CREAT | O_WRONLY, 'EISDIR'],
    ['O_CREAT|O_EXCL on an existing file', '/tmp/f', O_CREAT | O_EXCL | O_WRONLY, 'EEXIST'],
    ['O_CREAT|O_DIRECTORY', '/tmp/x', O_CREAT | O_DIRECTORY | O_RDONLY, 'EINVAL'],
    ['empty name', '', O_RDONLY, 'ENOENT'],
    ['component of 256 bytes', '/tmp/' + 'a'.repeat(256), O_CREAT | O_WRONLY, 'ENAMETOOLONG'],
    ['path of 4096 bytes', '/tmp/' + 'a/'.repeat(2046), O_RDONLY, 'ENAMETOOLONG'],
    ['O_CREAT in /proc (proc_lookup fails)', '/proc/newfile', O_CREAT | O_WRONLY, 'ENOENT'],
    ['O_CREAT in /sys (no ->create)', '/sys/newfile', O_CREAT | O_WRONLY, 'EACCES'],
    ['O_CREAT in debugfs (no ->create)', '/sys/kernel/debug/x', O_CREAT | O_WRONLY, 'EACCES'],
  ] as const)('%s → %s', (_name, path, flags, want) => {
    expect(errno(() => v.open(r, path, flags, 0o644))).toBe(want);
  });

  it('a component of 255 bytes is fine', () => {
    expect(errno(() => v.open(r, '/tmp/' + 'a'.repeat(255), O_CREAT | O_WRONLY, 0o644).fput())).toBe('ok');
  });

  it('O_TRUNC empties, O_APPEND appends at EOF whatever the position', () => {
    const a = v.open(r, '/tmp/f', O_WRONLY | O_APPEND);
    v.lseek(a, 0, SEEK_SET);
    v.write(a, ' world');
    expect(v.stat(r, '/tmp/f').size).toBe(11);
    expect(text(v.pread(f, 100, 0))).toBe('hello world');
    v.open(r, '/tmp/f', O_WRONLY | O_TRUNC).fput();
    expect(v.fstat(f).size).toBe(0);
    a.fput();
  });

  it('O_NOFOLLOW on a regular file is fine', () => {
    expect(errno(() => v.open(r, '/tmp/f', O_RDONLY | O_NOFOLLOW).fput())).toBe('ok');
  });
});

describe('read(2) / write(2) / lseek(2)', () => {
  it('write on O_RDONLY is EBADF, read on O_WRONLY is EBADF', () => {
    const ro = v.open(r, '/tmp/f', O_RDONLY);
    const wo = v.open(r, '/tmp/f', O_WRONLY);
    expect(errno(() => v.write(ro, 'x'))).toBe('EBADF');
    expect(errno(() => v.read(wo, 1))).toBe('EBADF');
  });

  it('read on a directory is EISDIR', () => {
    const d = v.open(r, '/tmp/d', O_RDONLY | O_DIRECTORY);
    expect(errno(() => v.read(d, 10))).toBe('EISDIR');
  });

  it('pread/pwrite at a negative offset are EINVAL', () => {
    expect(errno(() => v.pread(f, 1, -1))).toBe('EINVAL');
    expect(errno(() => v.pwrite(f, 'x', -1))).toBe('EINVAL');
  });

  it('lseek to a negative position or with a bad whence is EINVAL', () => {
    expect(errno(() => v.lseek(f, -1, SEEK_SET))).toBe('EINVAL');
    expect(errno(() => v.lseek(f, -6, SEEK_END))).toBe('EINVAL');
    expect(errno(() => v.lseek(f, 0, 5))).toBe('EINVAL');
    expect(v.lseek(f, 10, SEEK_END)).toBe(15);
    expect(v.lseek(f, -3, SEEK_CUR)).toBe(12);
    expect(errno(() => v.lseek(f, MAX_LFS_FILESIZE + 1, SEEK_SET))).toBe('EINVAL');
  });

  it('a write whose end overflows loff_t is EINVAL (rw_verify_area)', () => {
    expect(errno(() => v.pwrite(f, 'x', MAX_LFS_FILESIZE))).toBe('EINVAL');
  });
});

describe('truncate(2) / ftruncate(2)', () => {
  it.each([
    ['negative length', '/tmp/f', -1, 'EINVAL'],
    ['a directory', '/tmp/d', 0, 'EISDIR'],
    ['a character device', '/dev/null', 0, 'EINVAL'],
    ['a missing file', '/tmp/nope', 0, 'ENOENT'],
    ['past s_maxbytes', '/tmp/f', MAX_LFS_FILESIZE + 1, 'EFBIG'],
  ] as const)('truncate of %s → %s', (_n, path, len, want) => {
    expect(errno(() => v.truncate(r, path, len))).toBe(want);
  });

  it('ftruncate of an fd not open for writing, or of a directory, is EINVAL', () => {
    expect(errno(() => v.ftruncate(v.open(r, '/tmp/f', O_RDONLY), 0))).toBe('EINVAL');
    expect(errno(() => v.ftruncate(v.open(r, '/tmp/d', O_RDONLY), 0))).toBe('EINVAL');
    expect(errno(() => v.ftruncate(f, -1))).toBe('EINVAL');
  });
});

describe('fallocate(2): vfs_fallocate order of checks', () => {
  it.each([
    ['offset < 0', 0, -1, 1, 'EINVAL'],
    ['len 0', 0, 0, 0, 'EINVAL'],
    ['unknown mode bit', 0x100, 0, 1, 'EOPNOTSUPP'],
    ['PUNCH_HOLE without KEEP_SIZE', FALLOC_FL_PUNCH_HOLE, 0, 1, 'EOPNOTSUPP'],
    ['PUNCH_HOLE with ZERO_RANGE', FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 0, 1, 'EOPNOTSUPP'],
    ['COLLAPSE_RANGE with KEEP_SIZE', FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 1, 'EINVAL'],
    ['ZERO_RANGE on tmpfs', FALLOC_FL_ZERO_RANGE, 0, 1, 'EOPNOTSUPP'],
    ['past s_maxbytes', 0, MAX_LFS_FILESIZE, 1, 'EFBIG'],
  ] as const)('%s → %s', (_n, mode, off, len, want) => {
    expect(errno(() => v.fallocate(f, mode, off, len))).toBe(want);
  });

  it('mode errors come before EBADF; EBADF before the file type', () => {
    const ro = v.open(r, '/tmp/f', O_RDONLY);
    expect(errno(() => v.fallocate(ro, FALLOC_FL_PUNCH_HOLE, 0, 1))).toBe('EOPNOTSUPP');
    expect(errno(() => v.fallocate(ro, 0, 0, 1))).toBe('EBADF');
    const d = v.open(r, '/tmp/d', O_RDONLY);
    expect(errno(() => v.fallocate(d, 0, 0, 1))).toBe('EBADF');
  });

  it('a directory is EISDIR, a device ENODEV, a pipe ESPIPE', () => {
    expect(errno(() => v.fallocate(v.open(r, '/dev/null', O_WRONLY), 0, 0, 1))).toBe('ENODEV');
    const [, w] = v.create_pipe();
    expect(errno(() => v.fallocate(w, 0, 0, 1))).toBe('ESPIPE');
    expect(errno(() => v.fallocate(f, FALLOC_FL_KEEP_SIZE, 0, 1))).toBe('ok');
  });
});

describe('mkdir(2)', () => {
  it.each([
    ['an existing directory', '/tmp/d', 'EEXIST'],
    ['an existing file', '/tmp/f', 'EEXIST'],
    ['under a file', '/tmp/f/x', 'ENOTDIR'],
    ['under a missing directory', '/tmp/nope/x', 'ENOENT'],
    ['"."', '/tmp/d/.', 'EEXIST'],
    ['".."', '/tmp/d/..', 'EEXIST'],
    ['"/"', '/', 'EEXIST'],
    ['a name of 256 bytes', '/tmp/' + 'n'.repeat(256), 'ENAMETOOLONG'],
    ['in /proc (proc_lookup fails first)', '/proc/x', 'ENOENT'],
    ['in /sys (no ->mkdir)', '/sys/x', 'EPERM'],
    ['in debugfs (no ->mkdir)', '/sys/kernel/debug/x', 'EPERM'],
  ] as const)('mkdir of %s → %s', (_n, path, want) => {
    expect(errno(() => v.mkdir(r, path, 0o755))).toBe(want);
  });

  it('a trailing slash is fine for mkdir', () => {
    expect(errno(() => v.mkdir(r, '/tmp/new/', 0o755))).toBe('ok');
  });
});

describe('rmdir(2)', () => {
  it.each([
    ['a file', '/tmp/f', 'ENOTDIR'],
    ['a non-empty directory', '/tmp/d', 'ENOTEMPTY'],
    ['"."', '/tmp/d/e/.', 'EINVAL'],
    ['".."', '/tmp/d/e/..', 'ENOTEMPTY'],
    ['"/"', '/', 'EBUSY'],
    ['a mount point', '/tmp', 'EBUSY'],
    ['a missing name', '/tmp/nope', 'ENOENT'],
    ['a file with a trailing slash', '/tmp/f/', 'ENOTDIR'],
    ['a directory in /sys (no ->rmdir)', '/sys/kernel', 'EPERM'],
  ] as const)('rmdir of %s → %s', (_n, path, want) => {
    expect(errno(() => v.rmdir(r, path))).toBe(want);
  });
});

describe('unlink(2)', () => {
  it.each([
    ['a directory', '/tmp/d', 'EISDIR'],
    ['a directory with a trailing slash', '/tmp/d/', 'EISDIR'],
    ['a file with a trailing slash', '/tmp/f/', 'ENOTDIR'],
    ['a missing name', '/tmp/nope', 'ENOENT'],
    ['a missing name with a trailing slash', '/tmp/nope/', 'ENOENT'],
    ['"."', '/tmp/.', 'EISDIR'],
    ['a mount point (a directory)', '/tmp', 'EISDIR'],
    ['under a file', '/tmp/f/x', 'ENOTDIR'],
  ] as const)('unlink of %s → %s', (_n, path, want) => {
    expect(errno(() => v.unlink(r, path))).toBe(want);
  });
});

describe('rename(2)', () => {
  it.each([
    ['across mounts', '/tmp/f', '/f2', 'EXDEV'],
    ['a directory into its own subdirectory', '/tmp/d', '/tmp/d/e/x', 'EINVAL'],
    ['a directory onto its ancestor', '/tmp/d/e', '/tmp/d', 'ENOTEMPTY'],
    ['a file onto a directory', '/tmp/f', '/tmp/d', 'EISDIR'],
    ['a directory onto a file', '/tmp/d/e', '/tmp/f', 'ENOTDIR'],
    ['a directory to a free name', '/tmp/d', '/tmp/x', 'ok'],
    ['a mount point', '/tmp', '/tmp2', 'EBUSY'],
    ['"."', '/tmp/d/.', '/tmp/z', 'EBUSY'],
    ['onto ".."', '/tmp/f', '/tmp/d/..', 'EBUSY'],
    ['a missing name', '/tmp/nope', '/tmp/z', 'ENOENT'],
    ['a file with a trailing slash', '/tmp/f/', '/tmp/z', 'ENOTDIR'],
    ['a file to a name with a trailing slash', '/tmp/f', '/tmp/z/', 'ENOTDIR'],
    ['a file onto itself', '/tmp/f', '/tmp/f', 'ok'],
  ] as const)('rename of %s → %s', (_n, from, to, want) => {
    expect(errno(() => v.rename(r, from, to))).toBe(want);
  });

  it('a directory onto a non-empty directory is ENOTEMPTY', () => {
    v.mkdir(r, '/tmp/x', 0o755);
    expect(errno(() => v.rename(r, '/tmp/x', '/tmp/d'))).toBe('ENOTEMPTY');
  });
});

describe('chdir(2) / getcwd(2)', () => {
  it('chdir to a file is ENOTDIR, to nothing ENOENT', () => {
    expect(errno(() => v.chdir(r, '/tmp/f'))).toBe('ENOTDIR');
    expect(errno(() => v.chdir(r, '/tmp/nope'))).toBe('ENOENT');
  });

  it('getcwd of a removed directory is ENOENT; nothing can be created in it', () => {
    const cwd = v.chdir(r, '/tmp/d/e');
    v.unlink(r, '/tmp/d/e/g');
    v.rmdir(r, '/tmp/d/e');
    expect(errno(() => v.getcwd(cwd))).toBe('ENOENT');
    expect(errno(() => v.open(cwd, 'x', O_CREAT | O_WRONLY, 0o644))).toBe('ENOENT');
    expect(errno(() => v.mkdir(cwd, 'x', 0o755))).toBe('ENOENT');
    expect(v.getdents(v.open(cwd, '.', O_RDONLY))).toEqual([]);
    v.path_put(cwd);
  });
});
