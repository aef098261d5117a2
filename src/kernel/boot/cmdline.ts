/**
 * The kernel command line and its parameter registry (init/main.c,
 * kernel/params.c parse_args/parameq, lib/cmdline.c next_arg,
 * include/linux/init.h early_param/__setup).
 *
 * Order at boot, as Linux: setup_arch() prints "Command line:" and runs
 * parse_early_param() (do_early_param for every early_param); start_kernel()
 * prints "Kernel command line:" and runs parse_args("Booting kernel") whose
 * unknown_bootoption() tries the __setup handlers (obsolete_checksetup), skips
 * bootloader identifiers and module parameters ("mod.param"), and hands the rest
 * to init; print_unknown_bootoptions() reports those once. Everything after
 * "--" goes to init unparsed. Each step is a method so the host can interleave
 * them with e820/memblock setup; parse() runs them all in order.
 */
import type { KernelLog } from '../printk.ts';
import { KERN_NOTICE } from '../printk.ts';

/** An early_param handler: returns 0 when the value was fine, nonzero when malformed. */
export type EarlyParamHandler = (val: string | undefined) => number;
/** A __setup handler: gets the text after the registered prefix; true = consumed. */
export type SetupHandler = (val: string) => boolean;

/** x86 COMMAND_LINE_SIZE: the boot protocol copies at most 2047 characters. */
export const COMMAND_LINE_SIZE = 2048;
/** CONFIG_INIT_ENV_ARG_LIMIT: arguments and environment entries init may receive. */
export const MAX_INIT_ARGS = 32;
export const MAX_INIT_ENVS = 32;

/** struct obs_kernel_param. */
interface ObsKernelParam {
  str: string;
  early: boolean;
  early_func?: EarlyParamHandler;
  setup_func?: SetupHandler;
}

/** What parsing the command line produced. */
export interface ParsedCmdline {
  /** saved_command_line, verbatim: /proc/cmdline. */
  raw: string;
  /** The parameters print_unknown_bootoptions() reported (argv first, then envp), or []. */
  unknown: string[];
  /** argv_init: "init" followed by unknown flags and everything after "--". */
  argv_init: string[];
  /** envp_init: HOME=/, TERM=linux and unknown name=value parameters. */
  envp_init: string[];
  /** Module parameters "mod.param" → value ("" for a bare flag), dashes read as underscores. */
  moduleParams: Map<string, string>;
  /** Early parameters reported as "Malformed early option". */
  malformed: string[];
  /** Set when init got too many arguments ("init") or environment entries ("env"): the kernel panics. */
  panic_later?: string;
}

function dash2underscore(c: string | undefined): string | undefined {
  return c === '-' ? '_' : c;
}

/** parameqn(): the first n characters match, with '-' and '_' equivalent. */
export function parameqn(a: string, b: string, n: number): boolean {
  for (let i = 0; i < n; i++) if (dash2underscore(a[i]) !== dash2underscore(b[i])) return false;
  return true;
}

/** parameq(): whole names match, with '-' and '_' equivalent. */
export function parameq(a: string, b: string): boolean {
  return a.length === b.length && parameqn(a, b, a.length);
}

/** isspace() in the kernel's ctype: space, \t \n \v \f \r. */
function isspace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function skip_spaces(s: string, pos: number): number {
  while (isspace(s[pos])) pos++;
  return pos;
}

/**
 * next_arg() from lib/cmdline.c: one `param[=val]` starting at `pos`. Double
 * quotes group spaces (`foo="a b"`, `"foo=a b"`); they are not escapable and
 * are stripped where Linux strips them. Returns the parameter, its value
 * (undefined without '=', or when '=' is the first character) and where the
 * next argument starts.
 */
export function next_arg(s: string, pos: number): { param: string; val: string | undefined; next: number } {
  let start = pos;
  let inQuote = false;
  let quoted = false;
  if (s[start] === '"') {
    start++;
    inQuote = quoted = true;
  }
  let i = 0;
  let equals = 0;
  for (; start + i < s.length; i++) {
    const c = s[start + i];
    if (isspace(c) && !inQuote) break;
    if (equals === 0 && c === '=') equals = i;
    if (c === '"') inQuote = !inQuote;
  }
  // The C code writes NULs into the buffer; model that on a copy of the token.
  const buf: (string | null)[] = s.slice(start, start + i).split('');
  let valAt = -1;
  if (equals) {
    buf[equals] = null;
    valAt = equals + 1;
    // Don't include quotes in value.
    if (buf[valAt] === '"') {
      valAt++;
      if (buf[i - 1] === '"') buf[i - 1] = null;
    }
  }
  if (quoted && i > 0 && buf[i - 1] === '"') buf[i - 1] = null;
  const cstr = (from: number): string => {
    let out = '';
    for (let k = from; k < buf.length && buf[k] !== null; k++) out += buf[k];
    return out;
  };
  const next = start + i < s.length ? start + i + 1 : start + i;
  return { param: cstr(0), val: valAt >= 0 ? cstr(valAt) : undefined, next: skip_spaces(s, next) };
}

/**
 * parse_args() with no built-in params table: call `unknown` for every
 * argument; stop at a bare "--" and return the offset after it (or -1).
 */
function parse_args(args: string, unknown: (param: string, val: string | undefined) => void): number {
  let pos = skip_spaces(args, 0);
  while (pos < args.length) {
    const { param, val, next } = next_arg(args, pos);
    pos = next;
    if (val === undefined && param === '--') return pos;
    unknown(param, val);
  }
  return -1;
}

/** The registry of boot parameters and the state of one boot's parsing. */
export class KernelParams {
  private readonly table: ObsKernelParam[] = [];
  private boot_command_line = '';
  private earlyDone = false;
  private result: ParsedCmdline | undefined;
  private readonly modParams = new Map<string, string>();
  private readonly malformed: string[] = [];
  /** Core settings from init/main.c's own parameters (quiet, debug, loglevel, init=, rdinit=, ro/rw, root=). */
  readonly core: {
    loglevel?: number;
    quiet: boolean;
    debug: boolean;
    init?: string;
    rdinit?: string;
    root?: string;
    readonly?: boolean;
  } = { quiet: false, debug: false };
  private argv_init: string[] = ['init'];
  private envp_init: string[] = ['HOME=/', 'TERM=linux'];
  private panic_later: string | undefined;

  constructor() {
    this.early_param('debug', () => {
      this.core.debug = true;
      return 0;
    });
    this.early_param('quiet', () => {
      this.core.quiet = true;
      return 0;
    });
    this.early_param('loglevel', (v) => {
      // get_option(): an integer or the option is malformed (loglevel keeps its value).
      const m = /^-?(0x[0-9a-f]+|\d+)/i.exec(v ?? '');
      if (!m) return -22;
      this.core.loglevel = parseInt(m[0], m[0].toLowerCase().includes('0x') ? 16 : 10);
      return 0;
    });
    this.setup('init=', (v) => {
      this.core.init = v;
      this.argv_init.length = 1; // arguments given before init= are dropped
      return true;
    });
    this.setup('rdinit=', (v) => {
      this.core.rdinit = v;
      this.argv_init.length = 1;
      return true;
    });
    // init/do_mounts.c: "ro"/"rw" take no value, so "root=" falls through to its own handler.
    this.setup('ro', (v) => {
      if (v !== '') return false;
      this.core.readonly = true;
      return true;
    });
    this.setup('rw', (v) => {
      if (v !== '') return false;
      this.core.readonly = false;
      return true;
    });
    this.setup('root=', (v) => {
      this.core.root = v;
      return true;
    });
  }

  /** early_param(name, fn): run from parse_early_param(); several handlers per name are allowed. */
  early_param(name: string, handler: EarlyParamHandler): void {
    if (this.earlyDone) throw new Error(`early_param("${name}") registered after parse_early_param()`);
    this.table.push({ str: name, early: true, early_func: handler });
  }

  /** __setup(str, fn): str is a prefix such as "hugepages=" or "nosmp"; fn gets the rest. */
  setup(str: string, handler: SetupHandler): void {
    if (this.result) throw new Error(`__setup("${str}") registered after parse_args()`);
    this.table.push({ str, early: false, setup_func: handler });
  }

  /** boot_command_line as the boot loader handed it over (truncated to COMMAND_LINE_SIZE - 1). */
  set_boot_command_line(cmdline: string): void {
    this.boot_command_line = cmdline.slice(0, COMMAND_LINE_SIZE - 1);
  }

  /** saved_command_line: what /proc/cmdline shows. */
  get raw(): string {
    return this.boot_command_line;
  }

  /** setup_arch(): `Command line: ...`. */
  print_command_line(log: KernelLog): void {
    log.info(`Command line: ${this.boot_command_line}`);
  }

  /** start_kernel(): `Kernel command line: ...` (pr_notice). */
  print_kernel_command_line(log: KernelLog): void {
    log.printk(KERN_NOTICE, `Kernel command line: ${this.boot_command_line}`);
  }

  /** parse_early_param(): every early_param handler for each matching argument, once per boot. */
  parse_early_param(log: KernelLog): void {
    if (this.earlyDone) return;
    this.earlyDone = true;
    parse_args(this.boot_command_line, (param, val) => {
      // do_early_param(): "We accept everything at this stage."
      for (const p of this.table) {
        if (p.early && parameq(param, p.str) && p.early_func!(val) !== 0) {
          log.warn(`Malformed early option '${param}'`);
          this.malformed.push(param);
        }
      }
    });
  }

  /** obsolete_checksetup(): __setup handlers by prefix; true when consumed or done as an early param. */
  private obsolete_checksetup(line: string, log: KernelLog): boolean {
    let hadEarly = false;
    for (const p of this.table) {
      const n = p.str.length;
      if (!parameqn(line, p.str, n)) continue;
      if (p.early) {
        // Already done in parse_early_param? (Needs exact match on param part.)
        if (line.length === n || line[n] === '=') hadEarly = true;
      } else if (!p.setup_func) {
        log.warn(`Parameter ${p.str} is obsolete, ignored`);
        return true;
      } else if (p.setup_func(line.slice(n))) {
        return true;
      }
    }
    return hadEarly;
  }

  /** unknown_bootoption(): the fate of one argument nobody else claimed. */
  private unknown_bootoption(param: string, val: string | undefined, log: KernelLog): void {
    // repair_env_string(): put the '=' back (quotes around the value are gone).
    const line = val === undefined ? param : `${param}=${val}`;
    // Well-known bootloader identifiers: LILO/Grub "BOOT_IMAGE=", kexec-tools "kexec".
    if (line.startsWith('BOOT_IMAGE=') || line.startsWith('kexec')) return;
    if (this.obsolete_checksetup(line, log)) return;
    // Unused module parameter: a '.' in the name part.
    if (param.includes('.')) {
      this.modParams.set(param.replaceAll('-', '_'), val ?? '');
      return;
    }
    if (this.panic_later) return;
    if (val !== undefined) {
      // Environment option: a later value of the same name replaces the earlier one.
      let i = 0;
      for (; i < this.envp_init.length; i++) {
        if (i === MAX_INIT_ENVS) this.panic_later = 'env';
        if (this.envp_init[i]!.startsWith(param + '=')) break;
      }
      this.envp_init[i] = line;
    } else {
      // Command line option.
      if (this.argv_init.length > MAX_INIT_ARGS) this.panic_later = 'init';
      this.argv_init.push(line);
    }
  }

  /**
   * parse_args("Booting kernel", ..., unknown_bootoption), then
   * print_unknown_bootoptions(), then "Setting init args" for what follows "--".
   */
  parse_args(log: KernelLog): ParsedCmdline {
    if (this.result) return this.result;
    this.parse_early_param(log); // "Arch code calls this early on, or if not, just before other parsing."
    const cmd = this.boot_command_line;
    const afterDashes = parse_args(cmd, (param, val) => this.unknown_bootoption(param, val, log));
    const unknown = this.print_unknown_bootoptions(log);
    if (afterDashes >= 0) {
      parse_args(cmd.slice(afterDashes), (param, val) => {
        // set_init_arg()
        if (this.panic_later) return;
        if (this.argv_init.length > MAX_INIT_ARGS) this.panic_later = 'init';
        else this.argv_init.push(val === undefined ? param : `${param}=${val}`);
      });
    }
    this.result = {
      raw: cmd,
      unknown,
      argv_init: [...this.argv_init],
      envp_init: [...this.envp_init],
      moduleParams: this.modParams,
      malformed: [...this.malformed],
      ...(this.panic_later ? { panic_later: this.panic_later } : {}),
    };
    return this.result;
  }

  /** print_unknown_bootoptions(): one line naming every parameter handed to init. */
  private print_unknown_bootoptions(log: KernelLog): string[] {
    if (this.panic_later) return [];
    const list = [...this.argv_init.slice(1), ...this.envp_init.slice(2)];
    if (list.length === 0) return [];
    log.printk(KERN_NOTICE, `Unknown kernel command line parameters "${list.join(' ')}", will be passed to user space.`);
    return list;
  }

  /** The whole sequence for `cmdline`, in boot order (steps as described at the top). */
  parse(cmdline: string, log: KernelLog): ParsedCmdline {
    this.set_boot_command_line(cmdline);
    this.print_command_line(log);
    this.parse_early_param(log);
    this.print_kernel_command_line(log);
    return this.parse_args(log);
  }

  /** Module parameters seen on the command line, e.g. "dmemfs.max_alloc_try_dpages" → "4". */
  moduleParams(): Map<string, string> {
    return this.modParams;
  }

  /** One module parameter (dashes and underscores equivalent), or undefined. */
  moduleParam(module: string, name: string): string | undefined {
    return this.modParams.get(`${module}.${name}`.replaceAll('-', '_'));
  }
}
