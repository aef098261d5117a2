/**
 * vmm's command lines: the usage text, the option parsers of each subcommand,
 * QEMU's size syntax (qemu_strtosz) and the `-object memory-backend-…` string
 * QEMU would have been given, which backend errors are reported against.
 */
import { PAGE_SIZE, isPowerOf2 } from '../../lib/size.ts';
import { MPOL_BIND, MPOL_DEFAULT, MPOL_INTERLEAVE, MPOL_PREFERRED } from '../../uapi/mman.ts';

/** The usage text printed after a usage error. */
export const USAGE =
  'usage: vmm start NAME --memory SIZE [--memory-backend ram|memfd|file] [--mem-path PATH]\n' +
  '                 [--share] [--prealloc] [--host-nodes N[,M]] [--policy default|preferred|bind|interleave]\n' +
  '                 [--align SIZE] [--hugetlb] [--hugetlbsize SIZE] [--vcpus N] [--vfio]\n' +
  '       vmm run NAME --pattern seq|random|hot-cold [--bytes SIZE] [--write] [--seed N]\n' +
  '       vmm mce NAME CPU BANK STATUS MCGSTATUS ADDR MISC\n' +
  '       vmm info NAME\n' +
  '       vmm list\n' +
  '       vmm stop NAME\n';

/** A bad command line: printed with the usage text, exit status 2. */
export class UsageError extends Error {}

/** memory-backend-ram, -memfd or -file. */
export type BackendKind = 'ram' | 'memfd' | 'file';

/** HostMemPolicy names → MPOL_* (qapi/machine.json). */
export const POLICIES: Readonly<Record<string, number>> = {
  default: MPOL_DEFAULT,
  preferred: MPOL_PREFERRED,
  bind: MPOL_BIND,
  interleave: MPOL_INTERLEAVE,
};

/** `vmm start`'s options. Sizes are bytes; `text` keeps what the user typed for messages. */
export interface StartOptions {
  name: string;
  memory: number;
  backend: BackendKind;
  memPath: string | null;
  share: boolean;
  prealloc: boolean;
  hostNodes: number[];
  policy: string;
  /** Requested alignment of the mapping, 0 for the backend's default. */
  align: number;
  /** memory-backend-memfd's hugetlb=on: MFD_HUGETLB. */
  hugetlb: boolean;
  /** memory-backend-memfd's hugetlbsize, 0 for the default huge page size. */
  hugetlbsize: number;
  vcpus: number;
  vfio: boolean;
  text: { memory: string; align: string; hostNodes: string; hugetlbsize: string };
}

/** Guest access patterns `vmm run` can ask for. */
export const PATTERNS = ['seq', 'random', 'hot-cold'] as const;
/** One of PATTERNS. */
export type PatternName = (typeof PATTERNS)[number];

/** `vmm run`'s options; bytes null means all of guest memory. */
export interface RunOptions {
  name: string;
  pattern: PatternName;
  bytes: number | null;
  write: boolean;
  seed: number;
}

const QEMU_SIZE_SUFFIX: Readonly<Record<string, number>> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };

/**
 * qemu_strtosz_MiB's grammar without the MiB default: an integer or decimal
 * fraction and one optional suffix B, K, M, G, T, P, E (either case, powers of
 * 1024). undefined when the text is not a size or the result is not a whole
 * number of bytes that fits a double exactly.
 */
export function parseQemuSize(text: string): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?([bkmgtpeBKMGTPE])?$/.exec(text);
  if (!m) return undefined;
  const unit = QEMU_SIZE_SUFFIX[(m[3] ?? 'b').toLowerCase()]!;
  if (m[2] !== undefined && unit === 1) return undefined;
  const v = Number(`${m[1]}.${m[2] ?? '0'}`) * unit;
  return Number.isSafeInteger(v) ? v : undefined;
}

/** QEMU's message for a size it cannot parse (qapi's visit_type_size). */
function badSize(param: string): UsageError {
  return new UsageError(
    `Parameter '${param}' expects a non-negative number below 2^64\n` +
      'Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.',
  );
}

/** host-nodes as QEMU takes it: node numbers and ranges, "0", "0,1", "0-1". */
export function parseHostNodes(text: string): number[] {
  const nodes = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(`Parameter 'host-nodes' expects a list of NUMA node numbers, not '${text}'`);
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    // MAX_NODES (128) bounds the bitmap QEMU keeps.
    if (hi < lo || hi >= 128) throw new UsageError(`Invalid host-nodes value: ${hi < lo ? part : hi}`);
    for (let n = lo; n <= hi; n++) nodes.add(n);
  }
  return [...nodes].sort((a, b) => a - b);
}

/** A VM name: QEMU's identifier rule (letters, digits, '-', '.', '_', starting with a letter). */
function checkName(name: string | undefined): string {
  if (name === undefined || name.startsWith('-')) throw new UsageError('a VM name is required');
  if (!/^[A-Za-z][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new UsageError(`Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter.`);
  }
  return name;
}

/** Walk `--opt [value]` pairs after the subcommand and its NAME. */
function eachOption(argv: readonly string[], from: number, on: (opt: string, val: () => string) => void): void {
  for (let i = from; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`);
    on(a, () => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`option '${a}' requires an argument`);
      return v;
    });
  }
}

/** Parse `vmm start NAME ...` (argv[0] is "vmm", argv[1] "start"). */
export function parseStart(argv: readonly string[]): StartOptions {
  const o: StartOptions = {
    name: checkName(argv[2]),
    memory: 0,
    backend: 'ram',
    memPath: null,
    share: false,
    prealloc: false,
    hostNodes: [],
    policy: 'default',
    align: 0,
    hugetlb: false,
    hugetlbsize: 0,
    vcpus: 1,
    vfio: false,
    text: { memory: '', align: '', hostNodes: '', hugetlbsize: '' },
  };
  // The memfd-only properties given, in order, for QEMU's "Invalid parameter" on other backends.
  const memfdOnly: string[] = [];
  eachOption(argv, 3, (opt, val) => {
    switch (opt) {
      case '--memory': {
        const t = val();
        const v = parseQemuSize(t);
        if (v === undefined) throw badSize('size');
        o.memory = v;
        o.text.memory = t;
        break;
      }
      case '--memory-backend': {
        const t = val();
        if (t !== 'ram' && t !== 'memfd' && t !== 'file') throw new UsageError(`invalid object type: memory-backend-${t}`);
        o.backend = t;
        break;
      }
      case '--mem-path': o.memPath = val(); break;
      case '--share': o.share = true; break;
      case '--prealloc': o.prealloc = true; break;
      case '--host-nodes': {
        const t = val();
        o.hostNodes = parseHostNodes(t);
        o.text.hostNodes = t;
        break;
      }
      case '--policy': {
        const t = val();
        if (!(t in POLICIES)) throw new UsageError(`Parameter 'policy' does not accept value '${t}'`);
        o.policy = t;
        break;
      }
      case '--align': {
        const t = val();
        const v = parseQemuSize(t);
        if (v === undefined) throw badSize('align');
        o.align = v;
        o.text.align = t;
        break;
      }
      case '--vcpus': {
        const t = val();
        if (!/^\d+$/.test(t) || Number(t) < 1) throw new UsageError(`Invalid SMP CPUs ${t}`);
        o.vcpus = Number(t);
        break;
      }
      case '--hugetlb': o.hugetlb = true; memfdOnly.push('hugetlb'); break;
      case '--hugetlbsize': {
        const t = val();
        const v = parseQemuSize(t);
        if (v === undefined) throw badSize('hugetlbsize');
        o.hugetlbsize = v;
        o.text.hugetlbsize = t;
        memfdOnly.push('hugetlbsize');
        break;
      }
      case '--vfio': o.vfio = true; break;
      default: throw new UsageError(`unrecognized option '${opt}'`);
    }
  });
  // hugetlb and hugetlbsize are properties of memory-backend-memfd only: QEMU's opts
  // visitor rejects them for another type while parsing -object (exit 1 there, 2 here).
  if (memfdOnly.length && o.backend !== 'memfd') throw new UsageError(`${objectString(o)}: Invalid parameter '${memfdOnly[0]}'`);
  if (!o.text.memory) throw new UsageError('--memory is required');
  if (o.memory === 0) throw new UsageError("can't create backend with size 0");
  if (o.backend === 'file' && o.memPath === null) throw new UsageError('mem-path property not set');
  if (o.backend !== 'file' && o.memPath !== null) throw new UsageError('--mem-path needs --memory-backend file');
  if (o.align !== 0 && !isPowerOf2(o.align)) throw new UsageError(`alignment 0x${o.align.toString(16)} must be a power of two`);
  if (o.align !== 0 && o.align % PAGE_SIZE !== 0) throw new UsageError(`alignment 0x${o.align.toString(16)} must be multiples of page size 0x${PAGE_SIZE.toString(16)}`);
  // host_memory_backend_memory_complete's own checks, made before anything is allocated.
  if (o.hostNodes.length && o.policy === 'default') {
    throw new UsageError('host-nodes must be empty for policy default, or you should explicitly specify a policy other than default');
  }
  if (!o.hostNodes.length && o.policy !== 'default') throw new UsageError(`host-nodes must be set for policy ${o.policy}`);
  return o;
}

/** Parse `vmm run NAME ...`. */
export function parseRun(argv: readonly string[]): RunOptions {
  const o: RunOptions = { name: checkName(argv[2]), pattern: 'seq', bytes: null, write: false, seed: 1 };
  let pattern: string | null = null;
  eachOption(argv, 3, (opt, val) => {
    switch (opt) {
      case '--pattern': pattern = val(); break;
      case '--bytes': {
        const v = parseQemuSize(val());
        if (v === undefined || v === 0) throw new UsageError('--bytes: not a positive size');
        o.bytes = v;
        break;
      }
      case '--write': o.write = true; break;
      case '--seed': {
        const t = val();
        if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) throw new UsageError(`--seed: not a number: '${t}'`);
        o.seed = Number(t);
        break;
      }
      default: throw new UsageError(`unrecognized option '${opt}'`);
    }
  });
  if (pattern === null) throw new UsageError('--pattern is required');
  if (!(PATTERNS as readonly string[]).includes(pattern)) throw new UsageError(`--pattern: expected seq, random or hot-cold, not '${pattern}'`);
  o.pattern = pattern as PatternName;
  return o;
}

/** Parse `vmm mce NAME CPU BANK STATUS MCGSTATUS ADDR MISC` (QEMU's HMP `mce`; the numbers are checked by the VM's monitor). */
export function parseMce(argv: readonly string[]): { name: string; args: string[] } {
  const name = checkName(argv[2]);
  const args = argv.slice(3);
  if (args.length !== 6) throw new UsageError('mce: expected CPU BANK STATUS MCGSTATUS ADDR MISC');
  return { name, args };
}

/** Parse a subcommand that takes only NAME (info, stop). */
export function parseNameOnly(argv: readonly string[]): string {
  const name = checkName(argv[2]);
  if (argv.length > 3) throw new UsageError(`unexpected argument '${argv[3]}'`);
  return name;
}

/** The `-object` argument QEMU would have been given for these options (its error location). */
export function objectString(o: StartOptions): string {
  const parts = [`memory-backend-${o.backend}`, `id=${o.name}`, `size=${o.text.memory}`];
  if (o.memPath !== null) parts.push(`mem-path=${o.memPath}`);
  if (o.share) parts.push('share=on');
  if (o.prealloc) parts.push('prealloc=on');
  if (o.hostNodes.length) parts.push(`host-nodes=${o.text.hostNodes}`);
  if (o.policy !== 'default') parts.push(`policy=${o.policy}`);
  if (o.align) parts.push(`align=${o.text.align}`);
  if (o.hugetlb) parts.push('hugetlb=on');
  if (o.text.hugetlbsize) parts.push(`hugetlbsize=${o.text.hugetlbsize}`);
  return `-object ${parts.join(',')}`;
}
