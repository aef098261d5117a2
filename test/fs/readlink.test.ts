/**
 * readlink(2) on a booted host (fs/stat.c do_readlinkat): the target of the
 * last component without following it, EINVAL for anything that is not a
 * symlink, the path walk's errors otherwise; and /sys/dev/char/MAJ:MIN, the
 * links QEMU's get_file_size and libdaxctl resolve for a /dev/daxN.M.
 *
 *   /sys/dev/char/254:0 ──> ../../devices/platform/hmem.0/dax0.0
 *                              └── subsystem ──> ../../../../bus/dax
 */
import { describe, expect, it } from 'vitest';
import { GiB } from '../../src/lib/size.ts';
import { boot, readFile } from '../kernel/helpers.ts';
import { errno } from './helpers.ts';

const DAX = { mem: 32 * GiB, cmdline: 'efi_fake_mem=8G@0x400000000:0x40000' };

describe('readlink(2)', () => {
  it('returns a sysfs link target verbatim and does not follow the last component', () => {
    const { task } = boot(DAX);
    expect(task.readlink('/sys/bus/dax/devices/dax0.0')).toBe('../../../devices/platform/hmem.0/dax0.0');
    // Intermediate links are followed: dax0.0's own subsystem link.
    expect(task.readlink('/sys/bus/dax/devices/dax0.0/subsystem')).toBe('../../../../bus/dax');
  });

  it('EINVAL for a directory, a regular file and a device; ENOENT, ENOTDIR and ENOENT for "" as Linux', () => {
    const { task } = boot(DAX);
    expect(errno(() => task.readlink('/sys/bus/dax'))).toBe('EINVAL');
    expect(errno(() => task.readlink('/proc/meminfo'))).toBe('EINVAL');
    expect(errno(() => task.readlink('/dev/dax0.0'))).toBe('EINVAL');
    expect(errno(() => task.readlink('/nonexistent'))).toBe('ENOENT');
    expect(errno(() => task.readlink('/proc/meminfo/x'))).toBe('ENOTDIR');
    expect(errno(() => task.readlink(''))).toBe('ENOENT');
  });
});

describe('/sys/dev/char', () => {
  it('has a MAJ:MIN link per dax device to its device directory, with size and subsystem', () => {
    const { task } = boot(DAX);
    const st = task.stat('/dev/dax0.0');
    const devt = `${Math.floor(st.rdev / 256) % 4096}:${st.rdev % 256}`;
    expect(readFile(task, `/sys/dev/char/${devt}/dev`)).toBe(`${devt}\n`);
    expect(task.readlink(`/sys/dev/char/${devt}`)).toBe('../../devices/platform/hmem.0/dax0.0');
    expect(task.readlink(`/sys/dev/char/${devt}/subsystem`)).toBe('../../../../bus/dax');
    expect(readFile(task, `/sys/dev/char/${devt}/size`)).toBe(`${8 * GiB}\n`);
    const fd = task.open('/sys/dev/char', 0o200000);
    expect(task.getdents(fd).map((d) => d.name)).toContain(devt);
  });

  it('follows the devices: a created device appears, a deleted one goes', () => {
    const { task } = boot(DAX);
    const w = (path: string, text: string): void => {
      const fd = task.open(path, 1);
      task.write(fd, text);
      task.close(fd);
    };
    w('/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0');
    w('/sys/bus/dax/devices/dax0.0/size', '0');
    w('/sys/bus/dax/devices/dax0.0/../dax_region/create', '1');
    const st = task.stat('/dev/dax0.1');
    const devt = `${Math.floor(st.rdev / 256) % 4096}:${st.rdev % 256}`;
    expect(task.readlink(`/sys/dev/char/${devt}`)).toBe('../../devices/platform/hmem.0/dax0.1');
    w('/sys/bus/dax/devices/dax0.0/../dax_region/delete', 'dax0.1');
    expect(errno(() => task.readlink(`/sys/dev/char/${devt}`))).toBe('ENOENT');
  });
});
