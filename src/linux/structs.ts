/**
 * Decoding the kernel's structs as x86-64 lays them out: struct stat
 * (arch/x86/include/uapi/asm/stat.h), struct statfs (include/uapi/asm-generic/statfs.h
 * as x86-64 uses it: 64-bit fields), and getdents64's struct linux_dirent64
 * (fs/readdir.c) into the uapi shapes the model's Task returns.
 */
import type { Dirent, Stat, Statfs } from '../uapi/fcntl.ts';

const u64 = (b: Buffer, off: number): number => Number(b.readBigUInt64LE(off));
const i64 = (b: Buffer, off: number): number => Number(b.readBigInt64LE(off));

/** struct stat (144 bytes). */
export function decodeStat(b: Buffer): Stat {
  const ts = (off: number): number => i64(b, off) * 1e9 + i64(b, off + 8);
  return {
    dev: u64(b, 0),
    ino: u64(b, 8),
    nlink: u64(b, 16),
    mode: b.readUInt32LE(24),
    uid: b.readUInt32LE(28),
    gid: b.readUInt32LE(32),
    rdev: u64(b, 40),
    size: i64(b, 48),
    blksize: i64(b, 56),
    blocks: i64(b, 64),
    atimeNs: ts(72),
    mtimeNs: ts(88),
    ctimeNs: ts(104),
  };
}

/** struct statfs (120 bytes). */
export function decodeStatfs(b: Buffer): Statfs {
  return {
    type: i64(b, 0),
    bsize: i64(b, 8),
    blocks: u64(b, 16),
    bfree: u64(b, 24),
    bavail: u64(b, 32),
    files: u64(b, 40),
    ffree: u64(b, 48),
    // f_fsid is 8 bytes at 56.
    namelen: i64(b, 64),
    frsize: i64(b, 72),
    flags: i64(b, 80),
  };
}

/** The linux_dirent64 records in the first `n` bytes of `b`: d_ino, d_off, d_reclen, d_type, d_name. */
export function decodeDirents(b: Buffer, n: number): Dirent[] {
  const out: Dirent[] = [];
  for (let off = 0; off < n; ) {
    const reclen = b.readUInt16LE(off + 16);
    const nameEnd = b.indexOf(0, off + 19);
    out.push({ ino: u64(b, off), type: b[off + 18]!, name: b.toString('utf8', off + 19, nameEnd) });
    off += reclen;
  }
  return out;
}
