import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { KernelParams, next_arg, parameq, parameqn } from '../../src/kernel/boot/cmdline.ts';
import { KERN_NOTICE, KernelLog } from '../../src/kernel/printk.ts';

const newLog = (): KernelLog => new KernelLog(() => 0);
const lines = (log: KernelLog): string[] => log.all().map((r) => r.text);

/** All (param, val) pairs next_arg() splits a string into. */
function split(s: string): [string, string | undefined][] {
  const out: [string, string | undefined][] = [];
  let pos = 0;
  while (pos < s.length && s[pos] === ' ') pos++;
  while (pos < s.length) {
    const { param, val, next } = next_arg(s, pos);
    out.push([param, val]);
    pos = next;
  }
  return out;
}

describe('next_arg (lib/cmdline.c)', () => {
  it('splits on whitespace, values after the first "="', () => {
    expect(split('a b=1  c=x=y\td')).toEqual([
      ['a', undefined],
      ['b', '1'],
      ['c', 'x=y'],
      ['d', undefined],
    ]);
  });

  it('double quotes group spaces and are stripped', () => {
    expect(split('foo="a b" "bar=c d" baz')).toEqual([
      ['foo', 'a b'],
      ['bar', 'c d'],
      ['baz', undefined],
    ]);
  });

  it('quirks kept from C: "=x" has no value, "x=" has an empty one, an open quote runs to the end', () => {
    expect(split('=x y= z="open q')).toEqual([
      ['=x', undefined],
      ['y', ''],
      ['z', 'open q'],
    ]);
  });

  it('parameq/parameqn treat dashes and underscores alike', () => {
    expect(parameq('hugetlb-free-vmemmap', 'hugetlb_free_vmemmap')).toBe(true);
    expect(parameq('mem', 'memmap')).toBe(false);
    expect(parameqn('hugepages=4', 'hugepages=', 10)).toBe(true);
    expect(parameqn('huge', 'hugepages=', 10)).toBe(false);
  });

  it('property: unquoted words round-trip', () => {
    const word = fc.stringMatching(/^[a-z_.][a-z0-9_.-]{0,8}(=[a-z0-9,.:-]{0,8})?$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (ws) => {
        const got = split(ws.join(' ')).map(([p, v]) => (v === undefined ? p : `${p}=${v}`));
        return JSON.stringify(got) === JSON.stringify(ws);
      }),
    );
  });
});

describe('KernelParams', () => {
  it('logs both command lines verbatim and keeps raw for /proc/cmdline', () => {
    const log = newLog();
    const kp = new KernelParams();
    const cmd = 'BOOT_IMAGE=/vmlinuz root=/dev/vda ro quiet "x=a b"';
    const res = kp.parse(cmd, log);
    expect(res.raw).toBe(cmd);
    expect(kp.raw).toBe(cmd);
    expect(lines(log)).toEqual([
      `Command line: ${cmd}`,
      `Kernel command line: ${cmd}`,
      'Unknown kernel command line parameters "x=a b", will be passed to user space.',
    ]);
    expect(log.all()[1]!.level).toBe(KERN_NOTICE);
    expect(kp.core).toMatchObject({ root: '/dev/vda', readonly: true, quiet: true });
  });

  it('unknown parameters are reported once: flags first, then name=value', () => {
    const log = newLog();
    const res = new KernelParams().parse('b=1 a', log);
    expect(res.unknown).toEqual(['a', 'b=1']);
    expect(lines(log).at(-1)).toBe('Unknown kernel command line parameters "a b=1", will be passed to user space.');
    expect(res.argv_init).toEqual(['init', 'a']);
    expect(res.envp_init).toEqual(['HOME=/', 'TERM=linux', 'b=1']);
  });

  it('no unknown parameters: no line', () => {
    const log = newLog();
    expect(new KernelParams().parse('ro quiet', log).unknown).toEqual([]);
    expect(lines(log).some((l) => l.startsWith('Unknown'))).toBe(false);
  });

  it('module parameters are kept, not reported; dashes read as underscores', () => {
    const log = newLog();
    const kp = new KernelParams();
    const res = kp.parse('dmemfs.max_alloc_try_dpages=4 kvm-intel.ept=0 foo.bar foo=a.b', log);
    expect(res.unknown).toEqual(['foo=a.b']); // the dot is in the value, not the name
    expect([...kp.moduleParams()]).toEqual([
      ['dmemfs.max_alloc_try_dpages', '4'],
      ['kvm_intel.ept', '0'],
      ['foo.bar', ''],
    ]);
    expect(kp.moduleParam('dmemfs', 'max-alloc-try-dpages')).toBe('4');
  });

  it('early params run first, every occurrence, and may be malformed', () => {
    const log = newLog();
    const kp = new KernelParams();
    const seen: (string | undefined)[] = [];
    kp.early_param('dmem', (v) => {
      seen.push(v);
      return v === 'bad' ? -22 : 0;
    });
    const order: string[] = [];
    kp.setup('hugepages=', (v) => (order.push(`hugepages ${v} after ${seen.length} dmem`), true));
    const res = kp.parse('hugepages=4 dmem=16G dmem dmem=bad loglevel=x', log);
    expect(seen).toEqual(['16G', undefined, 'bad']);
    expect(order).toEqual(['hugepages 4 after 3 dmem']);
    expect(lines(log)).toContain("Malformed early option 'dmem'");
    expect(lines(log)).toContain("Malformed early option 'loglevel'");
    expect(res.malformed).toEqual(['dmem', 'loglevel']);
    expect(res.unknown).toEqual([]); // early params are never passed to init
    expect(log.all().find((r) => r.text.startsWith('Malformed'))!.level).toBe(4);
  });

  it('early param names match with dashes or underscores', () => {
    const kp = new KernelParams();
    let got: string | undefined;
    kp.early_param('hugetlb_free_vmemmap', (v) => ((got = v), 0));
    kp.parse('hugetlb-free-vmemmap=on', newLog());
    expect(got).toBe('on');
  });

  it('__setup matches by prefix; a handler returning false hands the option to init', () => {
    const log = newLog();
    const kp = new KernelParams();
    const calls: string[] = [];
    kp.setup('nosmp', (v) => (calls.push(`nosmp:${v}`), v === ''));
    kp.setup('default_hugepagesz=', (v) => (calls.push(`dhp:${v}`), true));
    const res = kp.parse('nosmp nosmpx default_hugepagesz=1G', log);
    expect(calls).toEqual(['nosmp:', 'nosmp:x', 'dhp:1G']);
    expect(res.unknown).toEqual(['nosmpx']);
  });

  it('repeated environment options: the last value replaces the first', () => {
    const res = new KernelParams().parse('x=1 y=2 x=3 TERM=vt100', newLog());
    expect(res.unknown).toEqual(['x=3', 'y=2']); // TERM replaced envp_init[1], not reported
    expect(res.envp_init).toEqual(['HOME=/', 'TERM=vt100', 'x=3', 'y=2']);
  });

  it('"--" ends kernel parsing: the rest goes to init unreported', () => {
    const kp = new KernelParams();
    let mem: string | undefined;
    kp.early_param('mem', (v) => ((mem = v), 0));
    const res = kp.parse('a -- b mem=1G', newLog());
    expect(mem).toBeUndefined();
    expect(res.unknown).toEqual(['a']);
    expect(res.argv_init).toEqual(['init', 'a', 'b', 'mem=1G']);
  });

  it('bootloader identifiers and init= are not reported; init= drops earlier arguments', () => {
    const kp = new KernelParams();
    const res = kp.parse('single BOOT_IMAGE=/boot/vmlinuz kexec_jump_back init=/bin/sh emergency', newLog());
    expect(kp.core.init).toBe('/bin/sh');
    expect(res.unknown).toEqual(['emergency']);
  });

  it('steps can be called one by one in boot order; parse_early_param runs once', () => {
    const log = newLog();
    const kp = new KernelParams();
    let n = 0;
    kp.early_param('x', () => (n++, 0));
    kp.set_boot_command_line('x');
    kp.print_command_line(log);
    kp.parse_early_param(log);
    kp.parse_early_param(log);
    log.info('... e820, memblock, sparse_init ...');
    kp.print_kernel_command_line(log);
    kp.parse_args(log);
    expect(n).toBe(1);
    expect(lines(log)).toEqual(['Command line: x', '... e820, memblock, sparse_init ...', 'Kernel command line: x']);
    expect(() => kp.early_param('late', () => 0)).toThrow('registered after parse_early_param');
  });

  it('too many init arguments sets panic_later and suppresses the report', () => {
    const args = Array.from({ length: 40 }, (_, i) => `arg${i}`).join(' ');
    const log = newLog();
    const res = new KernelParams().parse(args, log);
    expect(res.panic_later).toBe('init');
    expect(res.unknown).toEqual([]);
  });

  it('the command line is truncated to COMMAND_LINE_SIZE - 1', () => {
    const kp = new KernelParams();
    kp.set_boot_command_line('a'.repeat(3000));
    expect(kp.raw.length).toBe(2047);
  });
});
