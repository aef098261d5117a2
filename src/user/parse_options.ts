/**
 * git/perf-style option parsing as ndctl, daxctl and cxl use it (pmem/ndctl
 * util/parse-options.c, util/usage.c): short switches that cluster (`-uv`), long
 * options with unique-prefix abbreviation, `--no-NAME` negation (and `--NAME` for
 * an option whose name starts with `no-`), `--opt=value` or `--opt value`,
 * operands anywhere (options are permuted out), `--` ending options, `-h`/`--help`
 * printing the usage text, and the exact messages and exit statuses (129 for a
 * usage error or help, 130 for --list-opts).
 *
 * A C tool calls exit() from inside parse_options; a Program must return its
 * status, so the parser throws ParseOptionsExit and the program's main returns
 * its status (see daxctl/index.ts).
 */
import type { Syscalls } from '../uapi/syscalls.ts';
import { writeStr } from './program.ts';

/** OPT_BOOLEAN, OPT_STRING, OPT_INTEGER. */
export type OptionType = 'boolean' | 'string' | 'integer';

/** One entry of a `struct option` table. */
export interface OptionSpec {
  readonly type: OptionType;
  /** Short letter, or undefined for a long-only option ('\0' in C). */
  readonly short?: string;
  readonly long?: string;
  /** Where the value lands in the result (defaults to the long name, else the letter). */
  readonly key?: string;
  /** The argument's name in the help text (`<region-id>`). */
  readonly argh?: string;
  readonly help: string;
}

/** What an option parsed to: true/false, a string (null when negated), or a number. */
export type OptionValue = boolean | string | number | null;

/** The parsed command line. */
export interface ParsedOptions {
  /** Values of the options that were given, by key. */
  readonly values: Map<string, OptionValue>;
  /** The operands (non-option arguments), in order. */
  readonly args: string[];
}

/** parse_options wanted the program to exit (usage error, -h, --list-opts). */
export class ParseOptionsExit extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

const USAGE_OPTS_WIDTH = 24;
const USAGE_GAP = 2;

/** The key an option's value is stored under. */
export function optionKey(o: OptionSpec): string {
  return o.key ?? o.long ?? o.short!;
}

/** util/usage.c error(): `  Error: MSG` on stderr. */
export function parseError(sys: Syscalls, msg: string): void {
  writeStr(sys, 2, `  Error: ${msg}\n`);
}

/** One line (or two) of option help, as print_option_help() lays it out. */
function optionHelp(o: OptionSpec): string {
  let s = '    ';
  s += o.short ? `-${o.short}` : '    ';
  if (o.long && o.short) s += ', ';
  if (o.long) s += `--${o.long}`;
  if (o.type === 'integer') s += ' <n>';
  else if (o.type === 'string') s += o.argh ? ` <${o.argh}>` : ' ...';
  let pad: number;
  if (s.length <= USAGE_OPTS_WIDTH) pad = USAGE_OPTS_WIDTH - s.length;
  else {
    s += '\n';
    pad = USAGE_OPTS_WIDTH;
  }
  return `${s}${' '.repeat(pad + USAGE_GAP)}${o.help}\n`;
}

/** The usage header lines: ` usage: FIRST` then `    or: ...` lines. */
function usageHeader(usage: readonly string[]): string {
  let s = `\n usage: ${usage[0]}\n`;
  let i = 1;
  for (; i < usage.length && usage[i] !== ''; i++) s += `    or: ${usage[i]}\n`;
  for (; i < usage.length; i++) s += `${usage[i] ? '    ' : ''}${usage[i]}\n`;
  return s;
}

/** usage_with_options_internal(): the usage text and every option's help, on stderr. */
export function usageText(usage: readonly string[], options: readonly OptionSpec[]): string {
  return `${usageHeader(usage)}\n${options.map(optionHelp).join('')}\n`;
}

/** usage_with_options(): print the usage text and exit 129. */
export function usageWithOptions(sys: Syscalls, usage: readonly string[], options: readonly OptionSpec[]): never {
  writeStr(sys, 2, usageText(usage, options));
  throw new ParseOptionsExit(129);
}

/** parse_options_usage(): the usage header and the help line of the offending option. */
function parseOptionsUsage(sys: Syscalls, usage: readonly string[], options: readonly OptionSpec[], optstr: string, shortOpt: boolean): never {
  let s = `${usageHeader(usage)}\n`;
  const o = options.find((x) =>
    shortOpt ? x.short === optstr[0] : x.long !== undefined && (optstr.startsWith(x.long) || (optstr.startsWith('no-') && optstr.slice(3).startsWith(x.long))),
  );
  if (o) s += optionHelp(o);
  writeStr(sys, 2, s);
  throw new ParseOptionsExit(129);
}

/** A value error from get_value(): -1 in C. */
class ValueError extends Error {}

/**
 * parse_options(argc, argv, options, usage, 0): `argv[0]` is the command name.
 * Returns the values given and the operands; throws ParseOptionsExit after
 * printing what the C code prints.
 */
export function parseOptions(sys: Syscalls, argv: readonly string[], options: readonly OptionSpec[], usage: readonly string[]): ParsedOptions {
  const values = new Map<string, OptionValue>();
  const args: string[] = [];

  const opterror = (o: OptionSpec, reason: string, short: boolean, unset: boolean): never => {
    if (short) parseError(sys, `switch \`${o.short}' ${reason}`);
    else if (unset) parseError(sys, `option \`no-${o.long}' ${reason}`);
    else parseError(sys, `option \`${o.long}' ${reason}`);
    throw new ValueError();
  };

  let i = 1;
  /** get_value(): `inline` is the text after `=` or the rest of a short cluster. */
  const getValue = (o: OptionSpec, short: boolean, unset: boolean, inline: string | undefined): void => {
    if (unset && inline !== undefined) opterror(o, 'takes no value', short, unset);
    if (!short && inline !== undefined && o.type === 'boolean') opterror(o, 'takes no value', short, unset);
    const key = optionKey(o);
    if (o.type === 'boolean') {
      values.set(key, !unset);
      return;
    }
    if (unset) {
      values.set(key, o.type === 'string' ? null : 0);
      return;
    }
    let arg = inline;
    if (arg === undefined) {
      if (i + 1 < argv.length) arg = argv[++i]!;
      else opterror(o, 'requires a value', short, unset);
    }
    if (o.type === 'string') {
      values.set(key, arg!);
      return;
    }
    const m = /^\s*([+-]?\d+)/.exec(arg!);
    const n = m ? parseInt(m[1]!, 10) : 0;
    values.set(key, n);
    if ((m ? arg!.slice(m[0].length) : arg!) !== '') opterror(o, 'expects a numerical value', short, unset);
  };

  /** parse_short_opt(): consumes letters of `cluster` from `pos`; returns the new position, -2 when unknown. */
  const parseShort = (cluster: string, pos: number): number => {
    const o = options.find((x) => x.short === cluster[pos]);
    if (!o) return -2;
    const rest = pos + 1 < cluster.length ? cluster.slice(pos + 1) : undefined;
    if (o.type === 'boolean') {
      getValue(o, true, false, undefined);
      return pos + 1;
    }
    getValue(o, true, false, rest);
    return cluster.length;
  };

  /** parse_long_opt(): 0 on success, -2 when nothing matches. */
  const parseLong = (arg: string): number => {
    const eq = arg.indexOf('=');
    const argEnd = eq < 0 ? arg.length : eq;
    let abbrev: OptionSpec | undefined;
    let abbrevUnset = false;
    let abbrevInline: string | undefined;
    let ambiguous: OptionSpec | undefined;
    let ambiguousUnset = false;
    for (const o of options) {
      if (!o.long) continue;
      let unset = false;
      let rest: string | undefined = arg.startsWith(o.long) ? arg.slice(o.long.length) : undefined;
      let abbreviated = false;
      if (rest === undefined) {
        if (o.long.startsWith('no-')) {
          const base = o.long.slice(3);
          if (arg.startsWith(base)) {
            rest = arg.slice(base.length);
            unset = true;
          } else if (base.startsWith(arg)) {
            unset = true;
            abbreviated = true;
          }
        }
        if (rest === undefined && !abbreviated) {
          if (o.long.startsWith(arg.slice(0, argEnd))) abbreviated = true;
          else if ('no-'.startsWith(arg)) {
            unset = true;
            abbreviated = true;
          } else if (arg.startsWith('no-')) {
            unset = true;
            const neg = arg.slice(3);
            if (neg.startsWith(o.long)) rest = neg.slice(o.long.length);
            else if (o.long.startsWith(neg)) abbreviated = true;
            else continue;
          } else continue;
        }
      }
      if (abbreviated) {
        if (abbrev) {
          ambiguous = abbrev;
          ambiguousUnset = abbrevUnset;
        }
        abbrevInline = !unset && eq >= 0 ? arg.slice(eq + 1) : undefined;
        abbrev = o;
        abbrevUnset = unset;
        continue;
      }
      let inline: string | undefined;
      if (rest !== undefined && rest !== '') {
        if (rest[0] !== '=') continue;
        inline = rest.slice(1);
      }
      getValue(o, false, unset, inline);
      return 0;
    }
    if (ambiguous) {
      parseError(
        sys,
        `Ambiguous option: ${arg} (could be --${ambiguousUnset ? 'no-' : ''}${ambiguous.long} or --${abbrevUnset ? 'no-' : ''}${abbrev!.long})`,
      );
      throw new ValueError();
    }
    if (abbrev) {
      getValue(abbrev, false, abbrevUnset, abbrevInline);
      return 0;
    }
    return -2;
  };

  /** check_typos(): `-force` meant `--force`. */
  const checkTypos = (arg: string): void => {
    if (arg.length < 3) return;
    if (arg.startsWith('no-') || options.some((o) => o.long !== undefined && o.long.startsWith(arg))) {
      parseError(sys, `did you mean \`--${arg}\` (with two dashes ?)`);
      throw new ParseOptionsExit(129);
    }
  };

  const unknown = (text: string): never => {
    parseError(sys, text);
    return usageWithOptions(sys, usage, options);
  };

  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg[0] !== '-' || arg.length === 1) {
      args.push(arg);
      continue;
    }
    if (arg[1] !== '-') {
      const cluster = arg.slice(1);
      let pos = 0;
      let first = true;
      while (pos < cluster.length) {
        if (cluster[pos] === 'h') {
          writeStr(sys, 2, usageText(usage, options));
          throw new ParseOptionsExit(129);
        }
        let next: number;
        try {
          next = parseShort(cluster, pos);
        } catch (e) {
          if (e instanceof ValueError) parseOptionsUsage(sys, usage, options, cluster.slice(pos), true);
          throw e;
        }
        if (next === -2) unknown(`unknown switch \`${cluster[pos]}'`);
        if (first && next < cluster.length) checkTypos(cluster);
        first = false;
        pos = next;
      }
      continue;
    }
    if (arg.length === 2) {
      args.push(...argv.slice(i + 1));
      break;
    }
    const name = arg.slice(2);
    if (name === 'help-all' || name === 'help') {
      writeStr(sys, 2, usageText(usage, options));
      throw new ParseOptionsExit(129);
    }
    if (name === 'list-opts') {
      writeStr(sys, 1, options.map((o) => `--${o.long} `).join(''));
      throw new ParseOptionsExit(130);
    }
    let rc: number;
    try {
      rc = parseLong(name);
    } catch (e) {
      if (e instanceof ValueError) parseOptionsUsage(sys, usage, options, name, false);
      throw e;
    }
    if (rc === -2) unknown(`unknown option \`${name}'`);
  }
  return { values, args };
}
