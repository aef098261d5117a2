/**
 * Test scaffolding: a small in-memory kernel implementing Syscalls — files and
 * directories in a Map, fd tables, unbounded pipes, fork/exit/wait4/kill
 * bookkeeping, a mount table, and generated /proc files. Not a model of Linux;
 * just enough to run the shell and coreutils against.
 */
import type { ErrnoName } from '../../src/lib/errno.ts';
import type { Statfs } from '../../src/uapi/fcntl.ts';
import { FakeSys } from './fake_proc.ts';
import { enc, dec, statfs, type Desc, type FakeMount, type Node, type Proc } from './fake_util.ts';

export { FakeSys } from './fake_proc.ts';
export { resolvePath, statfs, type FakeMount } from './fake_util.ts';

/** The fake machine: filesystem, processes, terminal output. */
export class FakeKernel {
  readonly nodes = new Map<string, Node>();
  readonly procs = new Map<number, Proc>();
  mounts: FakeMount[] = [];
  /** File system types mount accepts. */
  readonly fstypes = new Set(['tmpfs', 'proc', 'sysfs', 'dmemfs', 'hugetlbfs']);
  /** Mount targets umount refuses with EBUSY. */
  readonly busy = new Set<string>();
  /** Errno the next fallocate on a file under this fstype fails with. */
  fallocateErrors = new Map<string, ErrnoName>();
  meminfo = '';
  log = '';
  clockNs = 1_700_000_000 * 1e9;
  stdin = '';
  out = '';
  err = '';
  /** stdout and stderr interleaved, as a terminal shows them. */
  tty = '';
  private nextPid = 100;
  private nextIno = 2;

  constructor() {
    for (const d of ['/', '/proc', '/bin', '/tmp', '/mnt', '/dev', '/root']) this.mkNode(d, 'dir', 0o755);
  }

  /** Create a file (parents must exist) with text content. */
  writeFile(path: string, text: string, mode = 0o644): void {
    const n = this.mkNode(path, 'file', mode);
    n.data = enc.encode(text);
  }

  /** The text of a file. */
  readFile(path: string): string {
    return dec.decode(this.nodes.get(path)!.data);
  }

  mkNode(path: string, kind: Node['kind'], mode: number, rdev = 0): Node {
    const n: Node = { kind, data: new Uint8Array(0), mode, ino: this.nextIno++, mtimeNs: this.clockNs, rdev };
    this.nodes.set(path, n);
    return n;
  }

  /** Add a mount (and its directory) directly, as if at boot. */
  addMount(m: Omit<FakeMount, 'statfs'> & { statfs?: Partial<Statfs> }): void {
    if (!this.nodes.has(m.target)) this.mkNode(m.target, 'dir', 0o755);
    this.mounts.push({ ...m, statfs: statfs(m.statfs ?? {}) });
  }

  /** A new top-level process with the terminal on fds 0, 1 and 2. */
  spawn(): FakeSys {
    const p = this.newProc(1, new Map<number, Desc>([
      [0, { kind: 'tty', stream: 'in' }],
      [1, { kind: 'tty', stream: 'out' }],
      [2, { kind: 'tty', stream: 'err' }],
    ]), '/root');
    return new FakeSys(this, p);
  }

  newProc(ppid: number, fds: Map<number, Desc>, cwd: string): Proc {
    const p: Proc = { pid: this.nextPid++, ppid, fds, cwd, state: 'run', status: 0, argv: ['sh'] };
    this.procs.set(p.pid, p);
    return p;
  }

  /** Text of a generated /proc file, or undefined. */
  generated(path: string, self: Proc): string | undefined {
    if (path === '/proc/mounts') return this.mounts.map((m) => `${m.source} ${m.target} ${m.fstype} ${m.options} 0 0\n`).join('');
    if (path === '/proc/meminfo') return this.meminfo;
    const m = /^\/proc\/(\d+|self)\/(stat|cmdline)$/.exec(path);
    if (!m) return undefined;
    const p = this.procs.get(m[1] === 'self' ? self.pid : Number(m[1]));
    if (!p || p.state === 'reaped' || p.state === 'zombie') return undefined;
    if (m[2] === 'cmdline') return p.argv.join('\0') + '\0';
    const comm = (p.argv[0] ?? '').split('/').pop()!;
    return `${p.pid} (${comm}) S ${p.ppid} ${p.pid} ${p.pid} 34816 ${p.pid} 0 0 0 0 0 150 50 0 0 20 0 1 0 100 0 0\n`;
  }

  livePids(): number[] {
    return [...this.procs.values()].filter((p) => p.state === 'run' || p.state === 'held').map((p) => p.pid);
  }
}

