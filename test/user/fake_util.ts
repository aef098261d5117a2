/** Shared pieces of the fake kernel: node and process records, path helpers. */
import type { Statfs } from '../../src/uapi/fcntl.ts';

/** A file, directory or device node. */
export interface Node {
  kind: 'file' | 'dir' | 'chr';
  data: Uint8Array;
  mode: number;
  ino: number;
  mtimeNs: number;
  rdev: number;
}

/** An unbounded pipe buffer. */
export interface Pipe {
  chunks: Uint8Array[];
}

/** An open file description. */
export type Desc =
  | { kind: 'file'; path: string; pos: number; append: boolean }
  | { kind: 'dir'; path: string; done: boolean }
  | { kind: 'pipe'; pipe: Pipe; write: boolean }
  | { kind: 'tty'; stream: 'in' | 'out' | 'err' };

/** A process. */
export interface Proc {
  pid: number;
  ppid: number;
  fds: Map<number, Desc>;
  cwd: string;
  state: 'run' | 'held' | 'zombie' | 'reaped';
  status: number;
  argv: string[];
}

/** A mount table entry. */
export interface FakeMount {
  source: string;
  target: string;
  fstype: string;
  options: string;
  statfs: Statfs;
}

/** UTF-8 codecs. */
export const enc = new TextEncoder();
/** UTF-8 decoder. */
export const dec = new TextDecoder();

/** Normalize `path` against `cwd`. */
export function resolvePath(cwd: string, path: string): string {
  const parts: string[] = [];
  for (const c of (path.startsWith('/') ? path : `${cwd}/${path}`).split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') parts.pop();
    else parts.push(c);
  }
  return '/' + parts.join('/');
}

/** The directory containing an absolute path. */
export const parentOf = (p: string): string => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));

/** A statfs with defaults filled in. */
export function statfs(s: Partial<Statfs>): Statfs {
  return { type: 0, bsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, namelen: 255, frsize: 4096, flags: 0, ...s };
}

