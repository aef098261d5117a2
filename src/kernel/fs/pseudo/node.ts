/**
 * The content tree of a pseudo filesystem (the model's kernfs_node /
 * proc_dir_entry / debugfs dentry): directories with static children and optional
 * dynamic ones, attribute files rendered by show() and written through store(),
 * and symlinks. Subsystems build it with a small builder:
 *
 *   root.dir('kernel/mm/transparent_hugepage').file('enabled', { show, store });
 */

/** How a file is read and written. */
export interface PseudoFileSpec {
  /** Render the whole file (seq_file show): called at the first read after open or seek. */
  show?: () => string;
  /** Accept one write() call's bytes (sysfs store); throw Errno to fail that write. */
  store?: (text: string) => void;
  /** A binary file read at a position (a proc_ops.proc_read such as pagemap_read), instead of show; throw Errno to fail it. */
  read?: (pos: number, count: number) => Uint8Array;
  /** Permission bits; default 0644 with store, 0444 without. */
  mode?: number;
}

/** Dynamic children of a directory (/proc/PID appear and disappear with processes). */
export interface PseudoDynamic {
  /** The node for `name`, or undefined. Returning the same object keeps cached dentries valid. */
  lookup(name: string): PseudoNode | undefined;
  /** The names lookup() currently answers, in readdir order. */
  list(): Iterable<string>;
}

/** An attribute file. */
export class PseudoFile {
  readonly kind = 'file';
  readonly show: (() => string) | null;
  readonly store: ((text: string) => void) | null;
  readonly read: ((pos: number, count: number) => Uint8Array) | null;
  readonly mode: number;

  constructor(spec: PseudoFileSpec) {
    this.show = spec.show ?? null;
    this.store = spec.store ?? null;
    this.read = spec.read ?? null;
    this.mode = (spec.mode ?? (spec.store ? 0o644 : 0o444)) & 0o7777;
  }
}

/** A symlink; the target may be computed at each lookup (/proc/self). */
export class PseudoSymlink {
  readonly kind = 'symlink';
  constructor(readonly target: string | (() => string)) {}

  /** The current target. */
  resolve(): string {
    return typeof this.target === 'string' ? this.target : this.target();
  }
}

/** Any node of the tree. */
export type PseudoNode = PseudoDir | PseudoFile | PseudoSymlink;

/** Check one path component. */
function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/')) throw new Error(`bad pseudo-fs name '${name}'`);
}

/** Split "a/b/c" into components. */
function comps(path: string): string[] {
  return path.split('/').filter((c) => c !== '');
}

/** A directory. */
export class PseudoDir {
  readonly kind = 'dir';
  /** Static children in creation (readdir) order. */
  readonly children = new Map<string, PseudoNode>();
  /** Dynamic children, consulted after the static ones. */
  dynamic: PseudoDynamic | null = null;

  /** `mode` null: the filesystem's default directory mode. */
  constructor(public mode: number | null = null) {}

  /** The directory at `path` below this one, created (with parents) if missing. */
  dir(path: string, mode?: number): PseudoDir {
    return comps(path).reduce((d: PseudoDir, c: string): PseudoDir => {
      checkName(c);
      const have = d.children.get(c);
      if (have instanceof PseudoDir) return have;
      if (have) throw new Error(`pseudo-fs: '${c}' exists and is not a directory`);
      const nd = new PseudoDir(mode ?? null);
      d.children.set(c, nd);
      return nd;
    }, this);
  }

  /** Add (or replace) the file at `path` ("a/b/name" creates a/b); returns this directory. */
  file(path: string, spec: PseudoFileSpec): this {
    const cs = comps(path);
    const name = cs.pop()!;
    checkName(name);
    this.dir(cs.join('/')).children.set(name, new PseudoFile(spec));
    return this;
  }

  /** Add a symlink at `path`; returns this directory. */
  symlink(path: string, target: string | (() => string)): this {
    const cs = comps(path);
    const name = cs.pop()!;
    checkName(name);
    this.dir(cs.join('/')).children.set(name, new PseudoSymlink(target));
    return this;
  }

  /** Install dynamic children; returns this directory. */
  setDynamic(dynamic: PseudoDynamic | null): this {
    this.dynamic = dynamic;
    return this;
  }

  /** Remove a static child (and everything below it). */
  remove(name: string): boolean {
    return this.children.delete(name);
  }

  /** The child called `name`, static first. */
  get(name: string): PseudoNode | undefined {
    return this.children.get(name) ?? this.dynamic?.lookup(name);
  }

  /** The node at a relative path, or undefined. */
  resolve(path: string): PseudoNode | undefined {
    return comps(path).reduce<PseudoNode | undefined>((n, c) => (n instanceof PseudoDir ? n.get(c) : undefined), this);
  }

  /** Every child name, static then dynamic, without duplicates. */
  names(): string[] {
    const out = [...this.children.keys()];
    if (this.dynamic) for (const n of this.dynamic.list()) if (!this.children.has(n)) out.push(n);
    return out;
  }
}
