/**
 * Test scaffolding for daxctl: a small Syscalls over an in-memory sysfs laid
 * out as Linux lays it out for hmem dax regions (Documentation/ABI/testing/
 * sysfs-bus-dax, drivers/dax/bus.c) and memory hotplug (sysfs-devices-memory):
 *
 *   /sys/devices/platform/hmem.N/dax_region/{id,size,align,available_size,seed,create,delete}
 *   /sys/devices/platform/hmem.N/daxN.M/{size,align,mapping,mappingK/*,target_node,resource,driver}
 *   /sys/bus/dax/devices/daxN.M -> the device;  /sys/bus/dax/drivers/{device_dax,kmem}/{bind,unbind,new_id,remove_id}
 *   /sys/devices/system/memory/{block_size_bytes,auto_online_blocks,memoryX/{phys_index,state,valid_zones}}
 *   /sys/devices/system/node/nodeN/memoryX -> the block;  /dev/daxN.M
 *
 * Not a model of the kernel: just enough behaviour (first-fit growth, seeds,
 * binding rules, hot-added blocks) to exercise daxctl's paths and messages.
 */
import { Errno, type ErrnoName } from '../../../src/lib/errno.ts';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type Dirent, type Stat } from '../../../src/uapi/fcntl.ts';
import type { Syscalls } from '../../../src/uapi/syscalls.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** Memory block size (128 MiB, x86-64's default). */
export const BLOCK = 128 * MiB;

type Entry =
  | { kind: 'dir' }
  | { kind: 'file'; show?: () => string; store?: (s: string) => void }
  | { kind: 'link'; target: string }
  | { kind: 'chr'; rdev: number };

interface FakeDev {
  id: number;
  ranges: { start: number; end: number }[];
  align: number;
  driver: null | 'device_dax' | 'kmem';
}

interface FakeRegion {
  id: number;
  start: number;
  size: number;
  align: number;
  node: number;
  devs: FakeDev[];
  nextId: number;
}

interface Block {
  online: boolean;
  zone: 'Movable' | 'Normal';
  node: number;
  /** Offlining fails with EBUSY (unmovable pages). */
  busy?: boolean;
}

const fail = (code: ErrnoName): never => {
  throw new Errno(code);
};
const nosys = (): never => fail('ENOSYS');

/** The fake machine and the process daxctl runs as. */
export class FakeDax implements Syscalls {
  readonly regions: FakeRegion[] = [];
  readonly blocks = new Map<number, Block>();
  autoOnline = 'offline';
  /** Add /sys/dev/char/MAJ:MIN/subsystem links (Linux has them; the fallback path is tested without). */
  devChar = true;
  /** device_dax probe fails with this errno. */
  probeError: ErrnoName | null = null;
  out = '';
  err = '';
  private cwd = '/';
  private fds = new Map<number, { path: string; pos: number; dir: boolean }>();
  private kmemIds = new Set<string>();

  /** A region of `size` bytes at `start` on `node`, with device 0 taking `dev0` bytes (0 = idle seed). */
  addRegion(start: number, size: number, node: number, dev0 = 0, align = 2 * MiB): FakeRegion {
    const r: FakeRegion = { id: this.regions.length, start, size, align, node, devs: [], nextId: 0 };
    this.regions.push(r);
    const d = this.newDev(r);
    if (dev0) {
      this.resize(r, d, dev0);
      d.driver = 'device_dax';
    }
    return r;
  }

  /** Boot memory blocks [0, n) online in ZONE_NORMAL on `node`. */
  addBootBlocks(n: number, node = 0): void {
    for (let i = 0; i < n; i++) this.blocks.set(i, { online: true, zone: 'Normal', node });
  }

  private newDev(r: FakeRegion): FakeDev {
    const d: FakeDev = { id: r.nextId++, ranges: [], align: r.align, driver: null };
    r.devs.push(d);
    return d;
  }

  private size(d: FakeDev): number {
    return d.ranges.reduce((a, x) => a + x.end - x.start + 1, 0);
  }

  private avail(r: FakeRegion): number {
    return r.size - r.devs.reduce((a, d) => a + this.size(d), 0);
  }

  private seed(r: FakeRegion): FakeDev | undefined {
    return r.devs.find((d) => this.size(d) === 0 && d.driver === null);
  }

  private resize(r: FakeRegion, d: FakeDev, size: number): void {
    const cur = this.size(d);
    if (size % Math.max(d.align, 2 * MiB)) fail('EINVAL');
    if (d.driver) fail('EBUSY');
    if (size > cur) {
      if (size - cur > this.avail(r)) fail('ENOSPC');
      let need = size - cur;
      const used = r.devs.flatMap((x) => x.ranges).sort((a, b) => a.start - b.start);
      let pos = r.start;
      const gaps: [number, number][] = [];
      for (const u of used) {
        if (u.start > pos) gaps.push([pos, u.start - 1]);
        pos = u.end + 1;
      }
      if (pos < r.start + r.size) gaps.push([pos, r.start + r.size - 1]);
      for (const [s, e] of gaps) {
        if (!need) break;
        const take = Math.min(need, e - s + 1);
        const last = d.ranges[d.ranges.length - 1];
        if (last && last.end + 1 === s) last.end += take;
        else d.ranges.push({ start: s, end: s + take - 1 });
        need -= take;
      }
    } else {
      let drop = cur - size;
      while (drop) {
        const last = d.ranges[d.ranges.length - 1]!;
        const len = last.end - last.start + 1;
        if (len <= drop) {
          d.ranges.pop();
          drop -= len;
        } else {
          last.end -= drop;
          drop = 0;
        }
      }
    }
  }

  private bind(drv: 'device_dax' | 'kmem', name: string): void {
    const { r, d } = this.find(name) ?? fail('ENODEV');
    if (d.driver) fail('EBUSY');
    if (drv === 'kmem' && !this.kmemIds.has(name)) fail('ENODEV');
    if (this.size(d) === 0) fail('ENXIO');
    if (drv === 'device_dax' && this.probeError) fail(this.probeError);
    d.driver = drv;
    if (drv === 'kmem') {
      for (const x of d.ranges)
        for (let a = x.start; a <= x.end; a += BLOCK)
          this.blocks.set(a / BLOCK, { online: this.autoOnline !== 'offline', zone: this.autoOnline === 'online_movable' ? 'Movable' : 'Normal', node: r.node });
    } else if (!r.devs.some((x) => x !== d && this.size(x) === 0 && x.driver === null)) {
      this.newDev(r);
    }
  }

  private unbind(drv: string, name: string): void {
    const { d } = this.find(name) ?? fail('ENODEV');
    if (d.driver !== drv) fail('ENODEV');
    if (drv === 'kmem') {
      // kmem cannot hot-remove online memory; the blocks stay (as Linux leaks them).
      for (const x of d.ranges) for (let a = x.start; a <= x.end; a += BLOCK) if (!this.blocks.get(a / BLOCK)!.online) this.blocks.delete(a / BLOCK);
    }
    d.driver = null;
  }

  private find(name: string): { r: FakeRegion; d: FakeDev } | undefined {
    const m = /^dax(\d+)\.(\d+)$/.exec(name.trim());
    if (!m) return undefined;
    const r = this.regions[Number(m[1])];
    const d = r?.devs.find((x) => x.id === Number(m[2]));
    return r && d ? { r, d } : undefined;
  }

  /** Every path in the tree, rebuilt from the state. */
  private tree(): Map<string, Entry> {
    const t = new Map<string, Entry>();
    const dir = (p: string): void => {
      const parts = p.split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i++) t.set('/' + parts.slice(0, i).join('/'), { kind: 'dir' });
    };
    const file = (p: string, show?: () => string, store?: (s: string) => void): void => {
      dir(p.slice(0, p.lastIndexOf('/')));
      t.set(p, { kind: 'file', show, store });
    };
    const link = (p: string, target: string): void => {
      dir(p.slice(0, p.lastIndexOf('/')));
      t.set(p, { kind: 'link', target });
    };
    t.set('/', { kind: 'dir' });
    dir('/dev');
    dir('/sys/bus/dax/devices');
    for (const drv of ['device_dax', 'kmem'] as const) {
      const base = `/sys/bus/dax/drivers/${drv}`;
      file(`${base}/bind`, undefined, (s) => this.bind(drv, s));
      file(`${base}/unbind`, undefined, (s) => this.unbind(drv, s.trim()));
      file(`${base}/new_id`, undefined, (s) => {
        if (drv === 'kmem') this.kmemIds.add(s.trim());
        const f = this.find(s);
        if (f && !f.d.driver && this.size(f.d) && (drv === 'kmem' || !this.probeError)) this.bind(drv, s.trim());
      });
      file(`${base}/remove_id`, undefined, (s) => {
        if (drv === 'kmem') this.kmemIds.delete(s.trim());
      });
    }
    let minor = 0;
    for (const r of this.regions) {
      const rp = `/sys/devices/platform/hmem.${r.id}`;
      const ra = `${rp}/dax_region`;
      file(`${ra}/id`, () => `${r.id}\n`);
      file(`${ra}/size`, () => `${r.size}\n`);
      file(`${ra}/align`, () => `${r.align}\n`);
      file(`${ra}/available_size`, () => `${this.avail(r)}\n`);
      file(`${ra}/seed`, () => {
        const s = this.seed(r);
        return s ? `dax${r.id}.${s.id}\n` : '\n';
      });
      file(`${ra}/create`, () => {
        const y = r.devs[r.devs.length - 1];
        return y ? `dax${r.id}.${y.id}\n` : '\n';
      }, (s) => {
        if (s.trim() !== '1') fail('EINVAL');
        if (this.avail(r) === 0) fail('ENOSPC');
        this.newDev(r);
      });
      file(`${ra}/delete`, undefined, (s) => {
        const f = this.find(s) ?? fail('ENXIO');
        if (f.d.driver || this.size(f.d) || f.d.id === 0) fail('EBUSY');
        r.devs.splice(r.devs.indexOf(f.d), 1);
      });
      for (const d of r.devs) {
        const name = `dax${r.id}.${d.id}`;
        const dp = `${rp}/${name}`;
        const rdev = 252 * 256 + minor++;
        t.set(`/dev/${name}`, { kind: 'chr', rdev });
        link(`/sys/bus/dax/devices/${name}`, dp);
        if (this.devChar) link(`/sys/dev/char/252:${rdev % 256}/subsystem`, '/sys/bus/dax');
        file(`${dp}/size`, () => `${this.size(d)}\n`, (s) => this.resize(r, d, Number(s.trim())));
        file(`${dp}/align`, () => `${d.align}\n`, (s) => {
          const v = Number(s.trim());
          if (![4096, 2 * MiB, GiB].includes(v)) fail('EINVAL');
          if (d.driver) fail('EBUSY');
          d.align = v;
        });
        file(`${dp}/mapping`, undefined, (s) => {
          const m = /^0x([0-9a-f]+)-0x([0-9a-f]+)$/.exec(s.trim()) ?? fail('EINVAL');
          d.ranges.push({ start: parseInt(m[1]!, 16), end: parseInt(m[2]!, 16) });
        });
        file(`${dp}/target_node`, () => `${r.node}\n`);
        file(`${dp}/resource`, () => `0x${(d.ranges[0]?.start ?? r.start).toString(16)}\n`);
        let pg = 0;
        d.ranges.forEach((x, k) => {
          const off = pg;
          file(`${dp}/mapping${k}/start`, () => `0x${x.start.toString(16)}\n`);
          file(`${dp}/mapping${k}/end`, () => `0x${x.end.toString(16)}\n`);
          file(`${dp}/mapping${k}/page_offset`, () => `0x${off.toString(16)}\n`);
          pg += (x.end - x.start + 1) / 4096;
        });
        if (d.driver) {
          link(`${dp}/driver`, `/sys/bus/dax/drivers/${d.driver}`);
          link(`/sys/bus/dax/drivers/${d.driver}/${name}`, dp);
        }
      }
    }
    const mem = '/sys/devices/system/memory';
    file(`${mem}/block_size_bytes`, () => `${BLOCK.toString(16)}\n`);
    file(`${mem}/auto_online_blocks`, () => `${this.autoOnline}\n`, (s) => (this.autoOnline = s.trim()));
    for (const [i, b] of this.blocks) {
      const bp = `${mem}/memory${i}`;
      file(`${bp}/phys_index`, () => `${i.toString(16).padStart(8, '0')}\n`);
      file(`${bp}/state`, () => `${b.online ? 'online' : 'offline'}\n`, (s) => {
        const v = s.trim();
        if (v === 'offline') {
          if (b.busy) fail('EBUSY');
          b.online = false;
        } else if (v === 'online' || v === 'online_movable' || v === 'online_kernel') {
          if (b.online) fail('EINVAL');
          b.online = true;
          b.zone = v === 'online_movable' ? 'Movable' : 'Normal';
        } else fail('EINVAL');
      });
      file(`${bp}/valid_zones`, () => (b.online ? `${b.zone}\n` : 'Normal Movable\n'));
      link(`/sys/devices/system/node/node${b.node}/memory${i}`, bp);
    }
    for (const r of this.regions) dir(`/sys/devices/system/node/node${r.node}`);
    return t;
  }

  /** Resolve to a physical path; `follow` the last component when it is a link. */
  private resolve(path: string, follow = true, t = this.tree(), depth = 0): string {
    if (depth > 40) fail('ELOOP');
    let cur = '';
    const comps = (path.startsWith('/') ? path : `${this.cwd}/${path}`).split('/').filter((c) => c && c !== '.');
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i]!;
      if (c === '..') {
        cur = cur.slice(0, cur.lastIndexOf('/'));
        continue;
      }
      const next = `${cur}/${c}`;
      const e = t.get(next);
      if (!e) {
        if (i === comps.length - 1) return next;
        fail('ENOENT');
      }
      if (e!.kind === 'link' && (follow || i < comps.length - 1)) cur = this.resolve(e!.target, true, t, depth + 1);
      else cur = next;
    }
    return cur || '/';
  }

  private entry(path: string, follow = true): { p: string; e: Entry; t: Map<string, Entry> } {
    const t = this.tree();
    const p = this.resolve(path, follow, t);
    const e = t.get(p) ?? fail('ENOENT');
    return { p, e, t };
  }

  getpid(): number {
    return 100;
  }
  getppid(): number {
    return 1;
  }
  open(path: string): number {
    const { p, e } = this.entry(path);
    let n = 3;
    while (this.fds.has(n)) n++;
    this.fds.set(n, { path: p, pos: 0, dir: e.kind === 'dir' });
    return n;
  }
  close(fd: number): void {
    this.fds.delete(fd);
  }
  read(fd: number, count: number): Uint8Array {
    const f = this.fds.get(fd) ?? fail('EBADF');
    const e = this.tree().get(f.path);
    if (!e || e.kind !== 'file') fail('EISDIR');
    if (e!.kind !== 'file' || !e!.show) return fail('EACCES');
    const data = new TextEncoder().encode(e!.show());
    const chunk = data.slice(f.pos, f.pos + count);
    f.pos += chunk.length;
    return chunk;
  }
  write(fd: number, data: Uint8Array | string): number {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    if (fd === 1 || fd === 2) {
      if (fd === 1) this.out += text;
      else this.err += text;
      return text.length;
    }
    const f = this.fds.get(fd) ?? fail('EBADF');
    const e = this.tree().get(f.path);
    if (!e || e.kind !== 'file' || !e.store) return fail('EACCES');
    e.store(text);
    return text.length;
  }
  getdents(fd: number): Dirent[] {
    const f = this.fds.get(fd) ?? fail('EBADF');
    if (!f.dir) fail('ENOTDIR');
    const prefix = f.path === '/' ? '/' : `${f.path}/`;
    const names = [...this.tree().keys()].filter((k) => k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes('/'));
    return names.map((k, i) => ({ ino: i + 1, type: 0, name: k.slice(prefix.length) }));
  }
  chdir(path: string): void {
    const { p, e } = this.entry(path);
    if (e.kind !== 'dir') fail('ENOTDIR');
    this.cwd = p;
  }
  getcwd(): string {
    return this.cwd;
  }
  private statOf(e: Entry): Stat {
    const mode = e.kind === 'dir' ? S_IFDIR | 0o755 : e.kind === 'link' ? S_IFLNK | 0o777 : e.kind === 'chr' ? S_IFCHR | 0o600 : S_IFREG | 0o644;
    return { dev: 0, ino: 0, mode, nlink: 1, uid: 0, gid: 0, rdev: e.kind === 'chr' ? e.rdev : 0, size: 4096, blksize: 4096, blocks: 0, atimeNs: 0, mtimeNs: 0, ctimeNs: 0 };
  }
  stat(path: string): Stat {
    return this.statOf(this.entry(path).e);
  }
  lstat(path: string): Stat {
    return this.statOf(this.entry(path, false).e);
  }

  // Not used by daxctl.
  pread = nosys; pwrite = nosys; lseek = nosys; dup = nosys; dup2 = nosys; pipe = nosys;
  readlink = nosys;
  ftruncate = nosys; truncate = nosys; fallocate = nosys; fstat = nosys; statfs = nosys; fstatfs = nosys;
  mkdir = nosys; rmdir = nosys; unlink = nosys; rename = nosys; mount = nosys; umount2 = nosys;
  memfd_create = nosys; ioctl = nosys; mmap = nosys; munmap = nosys; mprotect = nosys; mremap = nosys;
  madvise = nosys; mbind = nosys; set_mempolicy = nosys; load = nosys; store = nosys; fork = nosys;
  execve = nosys; exit = nosys; pause = nosys; wait4 = nosys; kill = nosys; sigaction = nosys; prctl = nosys;
  nanosleep = nosys; clock_gettime = nosys; syslog = nosys;
}

export { GiB, MiB };
