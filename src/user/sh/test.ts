/**
 * The `test` / `[` builtin: string, integer and file tests with `!`, `( )`,
 * `-a` and `-o`, parsed by recursive descent (the POSIX special cases for one
 * to four arguments fall out of the same grammar). Errors are bash's texts.
 */
import { Errno } from '../../lib/errno.ts';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, type Stat } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';

/** Thrown for malformed expressions; the builtin prints it and returns 2. */
export class TestError extends Error {}

const UNARY = new Set(['-z', '-n', '-e', '-f', '-d', '-s', '-r', '-w', '-x', '-L', '-h', '-c', '-b', '-p', '-t']);
const BINARY = new Set(['=', '==', '!=', '<', '>', '-eq', '-ne', '-lt', '-le', '-gt', '-ge']);

/** Evaluate test's arguments (without the closing `]`): 0 true, 1 false; throws TestError. */
export function evalTest(sys: Syscalls, args: readonly string[]): number {
  if (args.length === 0) return 1;
  const p = new TestParser(sys, args);
  const v = p.expr();
  if (!p.done()) throw new TestError(p.leftoverMessage());
  return v ? 0 : 1;
}

class TestParser {
  private i = 0;
  constructor(
    private readonly sys: Syscalls,
    private readonly a: readonly string[],
  ) {}

  done(): boolean {
    return this.i >= this.a.length;
  }

  leftoverMessage(): string {
    return 'too many arguments';
  }

  expr(): boolean {
    let v = this.and();
    while (this.a[this.i] === '-o' && this.i + 1 < this.a.length) {
      this.i++;
      v = this.and() || v;
    }
    return v;
  }

  private and(): boolean {
    let v = this.not();
    while (this.a[this.i] === '-a' && this.i + 1 < this.a.length) {
      this.i++;
      v = this.not() && v;
    }
    return v;
  }

  private not(): boolean {
    const rest = this.a.length - this.i;
    if (this.a[this.i] === '!' && rest > 1 && !(rest === 3 && BINARY.has(this.a[this.i + 1]!))) {
      this.i++;
      return !this.not();
    }
    return this.primary();
  }

  private primary(): boolean {
    const a = this.a;
    const rest = a.length - this.i;
    const t = a[this.i]!;
    // A binary operator in second place wins over everything (`[ -n = -n ]`, `[ ! = x ]`).
    if (rest >= 3 && BINARY.has(a[this.i + 1]!)) {
      this.i += 3;
      return this.binary(t, a[this.i - 2]!, a[this.i - 1]!);
    }
    if (t === '(' && rest >= 2) {
      this.i++;
      const v = this.expr();
      if (a[this.i] !== ')') throw new TestError("`)' expected");
      this.i++;
      return v;
    }
    if (UNARY.has(t) && rest >= 2) {
      this.i += 2;
      return this.unary(t, a[this.i - 1]!);
    }
    if (rest >= 3 && !['-a', '-o'].includes(a[this.i + 1]!)) throw new TestError(`${a[this.i + 1]}: binary operator expected`);
    if (rest === 2 && !['-a', '-o'].includes(a[this.i + 1]!)) throw new TestError(`${t}: unary operator expected`);
    this.i++;
    return t.length > 0;
  }

  private binary(l: string, op: string, r: string): boolean {
    switch (op) {
      case '=':
      case '==':
        return l === r;
      case '!=':
        return l !== r;
      case '<':
        return l < r;
      case '>':
        return l > r;
    }
    const x = int(l);
    const y = int(r);
    switch (op) {
      case '-eq':
        return x === y;
      case '-ne':
        return x !== y;
      case '-lt':
        return x < y;
      case '-le':
        return x <= y;
      case '-gt':
        return x > y;
      default:
        return x >= y;
    }
  }

  private unary(op: string, s: string): boolean {
    switch (op) {
      case '-z':
        return s.length === 0;
      case '-n':
        return s.length > 0;
      case '-t':
        return false;
    }
    const st = statOrUndefined(this.sys, s, op === '-L' || op === '-h');
    if (!st) return false;
    const type = st.mode & S_IFMT;
    switch (op) {
      case '-f':
        return type === S_IFREG;
      case '-d':
        return type === S_IFDIR;
      case '-s':
        return st.size > 0;
      case '-L':
      case '-h':
        return type === S_IFLNK;
      case '-c':
        return type === S_IFCHR;
      case '-b':
        return type === S_IFBLK;
      case '-p':
        return type === S_IFIFO;
      default:
        return true; // -e, and -r/-w/-x for root
    }
  }
}

function int(s: string): bigint {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new TestError(`${s}: integer expression expected`);
  return BigInt(t);
}

function statOrUndefined(sys: Syscalls, path: string, link: boolean): Stat | undefined {
  try {
    return link ? sys.lstat(path) : sys.stat(path);
  } catch (e) {
    if (e instanceof Errno) return undefined;
    throw e;
  }
}
