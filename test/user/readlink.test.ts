/**
 * readlink(1) and `ls -l`'s `NAME -> TARGET`, over sysfs's links:
 *
 *   /sys/bus/dax/devices/dax0.0 ──> ../../../devices/platform/hmem.0/dax0.0
 *   /sys/dev/char/254:0         ──> ../../devices/platform/hmem.0/dax0.0
 */
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { runShell } from '../../src/user/sh/index.ts';
import { boot } from '../kernel/helpers.ts';

function sh(script: string): { status: number; out: string; err: string } {
  const { task, out, err } = boot({ mem: 32 * GiB, cmdline: 'efi_fake_mem=8G@0x400000000:0x40000' });
  const status = runShell(task, { script });
  return { status, out: out.join(''), err: err.join('') };
}

describe('readlink(1)', () => {
  it('prints a target verbatim, or canonicalized with -f', () => {
    expect(sh('readlink /sys/bus/dax/devices/dax0.0')).toEqual({ status: 0, out: '../../../devices/platform/hmem.0/dax0.0\n', err: '' });
    expect(sh('readlink -f /sys/bus/dax/devices/dax0.0/subsystem').out).toBe('/sys/bus/dax\n');
    // ".." after a link climbs from where the link points (GNU canonicalize), not lexically.
    expect(sh('readlink -f /sys/bus/dax/devices/dax0.0/../dax_region').out).toBe('/sys/devices/platform/hmem.0/dax_region\n');
    // -f accepts a missing last component, not a missing directory.
    expect(sh('readlink -f /tmp/./nothere').out).toBe('/tmp/nothere\n');
    expect(sh('readlink -f /nodir/nothere')).toEqual({ status: 1, out: '', err: '' });
  });

  it('fails quietly (status 1) on a name that is not a link, as GNU without -v', () => {
    expect(sh('readlink /proc/meminfo')).toEqual({ status: 1, out: '', err: '' });
    expect(sh('readlink -n /sys/bus/dax/devices/dax0.0').out).toBe('../../../devices/platform/hmem.0/dax0.0');
    expect(sh('readlink').err).toBe("readlink: missing operand\nTry 'readlink --help' for more information.\n");
  });
});

describe('ls -l', () => {
  it('shows a symlink in a directory and on the command line as NAME -> TARGET', () => {
    const r = sh('ls -l /sys/bus/dax/devices; ls -l /sys/bus/dax/devices/dax0.0');
    expect(r.out).toBe(
      'total 0\n' +
        'lrwxrwxrwx 1 root root 0 Jan  1 00:00 dax0.0 -> ../../../devices/platform/hmem.0/dax0.0\n' +
        'lrwxrwxrwx 1 root root 0 Jan  1 00:00 /sys/bus/dax/devices/dax0.0 -> ../../../devices/platform/hmem.0/dax0.0\n',
    );
    // Without -l a command-line link to a directory is listed as the directory.
    expect(sh('ls /sys/bus/dax/devices/dax0.0').out).toContain('subsystem\n');
  });
});
