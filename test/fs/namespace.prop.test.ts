/**
 * Property test: random namespace operations on a tmpfs against a naive model (a
 * Map of paths), with invariants checked after every step:
 *  - every dentry's parent lists it, and the dcache tree equals the model;
 *  - nlink: directories 2 + subdirectories, files 1; directory i_size 40 + 20/entry;
 *  - file sizes and contents match; readdir matches (".", ".." first, right inos);
 *  - page accounting: pages cached = used_blocks = NR_SHMEM = frames allocated,
 *    no page cached past EOF; statfs inode counts match the inodes alive.
 * Every operation's errno must equal the one the model derives from Linux's rules.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ErrnoName } from '../../src/lib/errno.ts';
import { O_CREAT, O_RDONLY, O_WRONLY, S_IFDIR, S_IFMT } from '../../src/uapi/fcntl.ts';
import { SHMEM_I, type ShmemSbInfo } from '../../src/kernel/fs/tmpfs/index.ts';
import type { Dentry, Path, Vfs } from '../../src/kernel/fs/vfs/index.ts';
import { boot, errno } from './helpers.ts';

type Node = { dir: true } | { dir: false; data: Uint8Array };

/** The naive reference: absolute paths below the mount → node. */
class Model {
  readonly m = new Map<string, Node>([['', { dir: true }]]);

  /** Walk the parents of `p` as link_path_walk would; null when fine. */
  walk(p: string): ErrnoName | null {
    const cs = p.split('/');
    for (let i = 1; i < cs.length; i++) {
      const pre = cs.slice(0, i).join('/');
      const n = this.m.get(pre);
      if (!n) return 'ENOENT';
      if (!n.dir) return 'ENOTDIR';
    }
    return null;
  }
  parent(p: string): string {
    return p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
  }
  children(p: string): string[] {
    return [...this.m.keys()].filter((k) => k !== '' && this.parent(k) === p);
  }
  create(p: string): ErrnoName | 'ok' {
    const e = this.walk(p);
    if (e) return e;
    const n = this.m.get(p);
    if (n?.dir) return 'EISDIR';
    if (!n) this.m.set(p, { dir: false, data: new Uint8Array(0) });
    return 'ok';
  }
  mkdir(p: string): ErrnoName | 'ok' {
    const e = this.walk(p);
    if (e) return e;
    if (this.m.has(p)) return 'EEXIST';
    this.m.set(p, { dir: true });
    return 'ok';
  }
  unlink(p: string): ErrnoName | 'ok' {
    const e = this.walk(p);
    if (e) return e;
    const n = this.m.get(p);
    if (!n) return 'ENOENT';
    if (n.dir) return 'EISDIR';
    this.m.delete(p);
    return 'ok';
  }
  rmdir(p: string): ErrnoName | 'ok' {
    const e = this.walk(p);
    if (e) return e;
    const n = this.m.get(p);
    if (!n) return 'ENOENT';
    if (!n.dir) return 'ENOTDIR';
    if (this.children(p).length) return 'ENOTEMPTY';
    this.m.delete(p);
    return 'ok';
  }
  under(p: string, anc: string): boolean {
    return p === anc || p.startsWith(anc + '/');
  }
  rename(a: string, b: string): ErrnoName | 'ok' {
    const e = this.walk(a) ?? this.walk(b);
    if (e) return e;
    const src = this.m.get(a);
    if (!src) return 'ENOENT';
    const pa = this.parent(a);
    const pb = this.parent(b);
    // lock_rename's trap
    if (pa !== pb && this.under(pb, a)) return 'EINVAL';
    if (pa !== pb && this.under(pa, b)) return 'ENOTEMPTY';
    if (a === b) return 'ok';
    const dst = this.m.get(b);
    if (dst) {
      if (src.dir && !dst.dir) return 'ENOTDIR';
      if (!src.dir && dst.dir) return 'EISDIR';
      if (dst.dir && this.children(b).length) return 'ENOTEMPTY';
      this.m.delete(b);
    }
    for (const k of [...this.m.keys()].filter((k) => this.under(k, a))) {
      const n = this.m.get(k)!;
      this.m.delete(k);
      this.m.set(b + k.slice(a.length), n);
    }
    return 'ok';
  }
  file(p: string): { dir: false; data: Uint8Array } | ErrnoName {
    const e = this.walk(p);
    if (e) return e;
    const n = this.m.get(p);
    if (!n) return 'ENOENT';
    if (n.dir) return 'EISDIR';
    return n;
  }
  truncate(p: string, len: number): ErrnoName | 'ok' {
    const n = this.file(p);
    if (typeof n === 'string') return n;
    const d = new Uint8Array(len);
    d.set(n.data.subarray(0, len));
    n.data = d;
    return 'ok';
  }
  write(p: string, off: number, data: Uint8Array): ErrnoName | 'ok' {
    const n = this.file(p);
    if (typeof n === 'string') return n;
    const end = Math.max(n.data.length, data.length ? off + data.length : 0);
    const d = new Uint8Array(end);
    d.set(n.data);
    // A zero-length write at any offset changes nothing (and must not extend the file).
    if (data.length) d.set(data, off);
    n.data = d;
    return 'ok';
  }
}

const name = fc.constantFrom('a', 'b', 'c');
const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((cs) => cs.join('/'));
const op = fc.oneof(
  fc.record({ k: fc.constant('create' as const), p: path }),
  fc.record({ k: fc.constant('mkdir' as const), p: path }),
  fc.record({ k: fc.constant('unlink' as const), p: path }),
  fc.record({ k: fc.constant('rmdir' as const), p: path }),
  fc.record({ k: fc.constant('rename' as const), p: path, q: path }),
  fc.record({ k: fc.constant('truncate' as const), p: path, len: fc.integer({ min: 0, max: 12000 }) }),
  fc.record({
    k: fc.constant('write' as const),
    p: path,
    off: fc.integer({ min: 0, max: 12000 }),
    data: fc.uint8Array({ minLength: 0, maxLength: 5000 }),
  }),
  fc.record({ k: fc.constant('read' as const), p: path, off: fc.integer({ min: 0, max: 12000 }), len: fc.integer({ min: 0, max: 9000 }) }),
);

/** Apply one operation to the VFS, returning its errno. */
function apply(v: Vfs, r: Path, o: OpT): ErrnoName | 'ok' {
  const P = (p: string) => `/tmp/${p}`;
  switch (o.k) {
    case 'create':
      return errno(() => v.open(r, P(o.p), O_CREAT | O_WRONLY, 0o644).fput());
    case 'mkdir':
      return errno(() => v.mkdir(r, P(o.p), 0o755));
    case 'unlink':
      return errno(() => v.unlink(r, P(o.p)));
    case 'rmdir':
      return errno(() => v.rmdir(r, P(o.p)));
    case 'rename':
      return errno(() => v.rename(r, P(o.p), P(o.q)));
    case 'truncate':
      return errno(() => v.truncate(r, P(o.p), o.len));
    case 'write':
      return errno(() => {
        const f = v.open(r, P(o.p), O_WRONLY);
        try {
          v.pwrite(f, o.data, o.off);
        } finally {
          f.fput();
        }
      });
    case 'read':
      return errno(() => {
        const f = v.open(r, P(o.p), O_RDONLY);
        try {
          v.pread(f, o.len, o.off);
        } finally {
          f.fput();
        }
      });
  }
}
type OpT = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Apply one operation to the model. */
function model(m: Model, o: OpT): ErrnoName | 'ok' {
  switch (o.k) {
    case 'create':
      return m.create(o.p);
    case 'mkdir':
      return m.mkdir(o.p);
    case 'unlink':
      return m.unlink(o.p);
    case 'rmdir':
      return m.rmdir(o.p);
    case 'rename':
      return m.rename(o.p, o.q);
    case 'truncate':
      return m.truncate(o.p, o.len);
    case 'write':
      return m.write(o.p, o.off, o.data);
    case 'read': {
      const n = m.file(o.p);
      return typeof n === 'string' ? n : 'ok';
    }
  }
}

/** Check every invariant of the /tmp tree against the model. */
function check(v: Vfs, r: Path, m: Model, root: Dentry, sbinfo: ShmemSbInfo, nrShmem: number, allocated: number): void {
  const seen = new Set<string>();
  let inodes = 0;
  let pages = 0;
  const visit = (d: Dentry, rel: string) => {
    seen.add(rel);
    inodes++;
    const inode = d.d_inode!;
    const node = m.m.get(rel);
    expect(node, `model has ${rel}`).toBeDefined();
    const kids = [...d.d_subdirs.values()];
    if (node!.dir) {
      expect(inode.i_mode & S_IFMT).toBe(S_IFDIR);
      expect(inode.i_nlink).toBe(2 + kids.filter((k) => (k.d_inode!.i_mode & S_IFMT) === S_IFDIR).length);
      expect(inode.i_size).toBe(40 + 20 * kids.length);
      const f = v.open(r, `/tmp/${rel}`, O_RDONLY);
      const ents = v.getdents(f);
      f.fput();
      expect(ents.slice(0, 2).map((e) => [e.name, e.ino])).toEqual([
        ['.', inode.i_ino],
        ['..', d.d_parent.d_inode!.i_ino],
      ]);
      expect(ents.slice(2).map((e) => e.name).sort()).toEqual(m.children(rel).map((k) => k.slice(k.lastIndexOf('/') + 1)).sort());
    } else {
      expect(inode.i_nlink).toBe(1);
      expect(inode.i_size).toBe(node!.data.length);
      const f = v.open(r, `/tmp/${rel}`, O_RDONLY);
      expect(v.pread(f, node!.data.length + 10, 0)).toEqual(node!.data);
      f.fput();
      const cached = SHMEM_I(inode).pages;
      pages += cached.size;
      for (const idx of cached.keys()) expect(idx).toBeLessThan(Math.ceil(inode.i_size / 4096));
      expect(inode.i_mapping.nrpages).toBe(cached.size);
      expect(inode.i_blocks).toBe(cached.size * 8);
    }
    for (const [nm, k] of d.d_subdirs) {
      expect(k.d_parent).toBe(d);
      expect(k.d_name).toBe(nm);
      expect(k.d_unhashed).toBe(false);
      visit(k, rel === '' ? nm : `${rel}/${nm}`);
    }
  };
  visit(root, '');
  expect([...seen].sort()).toEqual([...m.m.keys()].sort());
  expect(sbinfo.used_blocks).toBe(pages);
  expect(nrShmem).toBe(pages);
  expect(allocated).toBe(pages);
  const st = v.statfs(r, '/tmp');
  expect(st.files - st.ffree).toBe(inodes);
  expect(st.blocks - st.bfree).toBe(pages);
}

describe('namespace operations against a reference model', () => {
  it('agree errno for errno, and every invariant holds after every step', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), (ops) => {
        const b = boot({ frames: 1 << 14 });
        const { vfs: v, root: r } = b;
        const tmp = v.stat(r, '/tmp');
        const mnt = [...v.mountpoints()].find((x) => x.path === '/tmp')!.mnt;
        expect(tmp.ino).toBe(1);
        const m = new Model();
        for (const o of ops) {
          expect(apply(v, r, o), JSON.stringify({ ...o, data: undefined })).toBe(model(m, o));
          check(v, r, m, mnt.mnt_root, mnt.mnt_sb.s_fs_info as ShmemSbInfo, b.mem.nr_shmem, b.mem.allocated.size);
        }
      }),
      { numRuns: 150 },
    );
  });
});
