/**
 * The git/perf-style option parser (ndctl util/parse-options.c): what each
 * command line parses to, and the exact messages and statuses of bad ones.
 */
import { describe, expect, it } from 'vitest';
import { ParseOptionsExit, parseOptions, usageText, type OptionSpec } from '../../../src/user/parse_options.ts';
import { FakeDax } from './fake_dax.ts';

const OPTS: OptionSpec[] = [
  { type: 'string', short: 'r', long: 'region', argh: 'region-id', help: 'filter by region' },
  { type: 'boolean', short: 'u', long: 'human', help: 'use human friendly number formats' },
  { type: 'boolean', short: 'f', long: 'force', help: 'attempt to offline memory sections before reconfiguration' },
  { type: 'integer', short: 'n', long: 'count', help: 'how many' },
  { type: 'boolean', long: 'no-movable', help: 'online memory in ZONE_NORMAL' },
  { type: 'boolean', short: 'N', long: 'no-online', help: "don't auto-online memory sections" },
];
const USAGE = ['daxctl thing <device> [<options>]'];

function parse(...args: string[]): { values?: Record<string, unknown>; args?: string[]; status?: number; err: string; out: string } {
  const k = new FakeDax();
  try {
    const r = parseOptions(k, ['thing', ...args], OPTS, USAGE);
    return { values: Object.fromEntries(r.values), args: r.args, err: k.err, out: k.out };
  } catch (e) {
    if (!(e instanceof ParseOptionsExit)) throw e;
    return { status: e.status, err: k.err, out: k.out };
  }
}

const HELP =
  '\n usage: daxctl thing <device> [<options>]\n\n' +
  '    -r, --region <region-id>\n' +
  '                          filter by region\n' +
  '    -u, --human           use human friendly number formats\n' +
  '    -f, --force           attempt to offline memory sections before reconfiguration\n' +
  '    -n, --count <n>       how many\n' +
  '        --no-movable      online memory in ZONE_NORMAL\n' +
  '    -N, --no-online       don\'t auto-online memory sections\n\n';

describe('parse_options: accepted forms', () => {
  it('short options cluster, a value may be attached or the next word, operands are permuted out', () => {
    expect(parse('dax0.0', '-uf', '-r0', 'x')).toMatchObject({ values: { human: true, force: true, region: '0' }, args: ['dax0.0', 'x'] });
    expect(parse('-ur', '1', 'all')).toMatchObject({ values: { human: true, region: '1' }, args: ['all'] });
  });

  it('long options: =value or next word, unique prefixes, the last one wins', () => {
    expect(parse('--region=3', '--hum', 'd')).toMatchObject({ values: { region: '3', human: true }, args: ['d'] });
    expect(parse('--reg', '2', '--region', '5')).toMatchObject({ values: { region: '5' } });
  });

  it('negation: --no-NAME clears; an option named no-X is also reached as --X (unset)', () => {
    expect(parse('-u', '--no-human')).toMatchObject({ values: { human: false } });
    expect(parse('--no-movable')).toMatchObject({ values: { 'no-movable': true } });
    expect(parse('--movable')).toMatchObject({ values: { 'no-movable': false } });
    expect(parse('--no-region')).toMatchObject({ values: { region: null } });
  });

  it('-- ends the options; a lone - is an operand', () => {
    expect(parse('--', '-u', '-')).toMatchObject({ values: {}, args: ['-u', '-'] });
    expect(parse('-')).toMatchObject({ args: ['-'] });
  });

  it('integers take strtol text; junk after the digits is an error', () => {
    expect(parse('-n', '42')).toMatchObject({ values: { count: 42 } });
    expect(parse('--count=4x')).toMatchObject({ status: 129 });
    expect(parse('--count=4x').err).toMatch(/^ {2}Error: option `count' expects a numerical value\n/);
  });
});

describe('parse_options: errors and help, as ndctl prints them', () => {
  it('unknown long option: the error, then the whole usage text; 129', () => {
    const r = parse('--bogus');
    expect(r.status).toBe(129);
    expect(r.err).toBe(`  Error: unknown option \`bogus'\n${HELP}`);
  });

  it('unknown switch, also inside a cluster', () => {
    expect(parse('-x').err).toBe(`  Error: unknown switch \`x'\n${HELP}`);
    expect(parse('-ux').err.split('\n')[0]).toBe("  Error: unknown switch `x'");
  });

  it('a missing value: the usage header and only that option\'s help line', () => {
    const r = parse('-r');
    expect(r.status).toBe(129);
    expect(r.err).toBe(
      "  Error: switch `r' requires a value\n\n usage: daxctl thing <device> [<options>]\n\n    -r, --region <region-id>\n                          filter by region\n",
    );
    expect(parse('--region').err.split('\n')[0]).toBe("  Error: option `region' requires a value");
  });

  it('a value given to a boolean', () => {
    expect(parse('--human=1').err.split('\n')[0]).toBe("  Error: option `human' takes no value");
    expect(parse('--no-human=1').err.split('\n')[0]).toBe("  Error: option `no-human' takes no value");
  });

  it('ambiguous abbreviation names both candidates', () => {
    expect(parse('--no-').err.split('\n')[0]).toMatch(/^ {2}Error: Ambiguous option: no- \(could be --/);
  });

  it('check_typos: -force meant --force; exits 129 without the usage', () => {
    const r = parse('-force');
    expect(r).toMatchObject({ status: 129, err: "  Error: did you mean `--force` (with two dashes ?)\n" });
  });

  it('-h and --help print the usage text (status 129); --list-opts lists long names (130)', () => {
    expect(parse('-h')).toMatchObject({ status: 129, err: HELP });
    expect(parse('-uh')).toMatchObject({ status: 129, err: HELP });
    expect(parse('--help')).toMatchObject({ status: 129, err: HELP });
    expect(parse('--list-opts')).toMatchObject({ status: 130, out: '--region --human --force --count --no-movable --no-online ' });
  });

  it('usage layout: long option texts push the help to the next line at column 26', () => {
    const t = usageText(['x'], [{ type: 'string', short: 'a', long: 'a-very-long-option', argh: 'value', help: 'h' }]);
    expect(t).toBe('\n usage: x\n\n    -a, --a-very-long-option <value>\n                          h\n\n');
  });
});
