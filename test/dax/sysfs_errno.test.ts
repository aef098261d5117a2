/**
 * The sysfs ABI of drivers/dax/bus.c, one errno per case, in bus.c's check order.
 *
 * Region 0 (hmem.0) spans [0x400000000, 0x800000000) = 16 GiB, align 2 MiB;
 * dax0.0 spans all of it at boot and is bound to device_dax.
 */
import { describe, expect, test } from 'vitest';
import { D, R, bootDax, enable, errno, get, ls, put } from './helpers.ts';

/** Free the region: disable dax0.0 and size it to 0. */
function freeRegion(): ReturnType<typeof bootDax> {
  const b = bootDax();
  put(b.task, '/sys/bus/dax/drivers/device_dax/unbind', 'dax0.0');
  put(b.task, D('dax0.0') + '/size', '0');
  return b;
}

describe('region attributes', () => {
  test('boot: one dynamic region, device 0 spanning it, bound to device_dax', () => {
    const { task } = bootDax();
    expect(ls(task, '/sys/bus/dax/devices')).toEqual(['dax0.0']);
    expect(get(task, R + '/size')).toBe(String(16 * 2 ** 30));
    expect(get(task, R + '/align')).toBe('2097152');
    expect(get(task, R + '/available_size')).toBe('0');
    expect(get(task, R + '/seed')).toBe('');
    expect(get(task, R + '/id')).toBe('0');
    expect(ls(task, D('dax0.0'))).toContain('driver');
    expect(get(task, D('dax0.0') + '/resource')).toBe('0x400000000');
  });

  test('create: ENOSPC with nothing available, EINVAL for values other than 1, then a 0-size seed', () => {
    const { task } = bootDax();
    expect(errno(() => put(task, R + '/create', '1'))).toBe('ENOSPC');
    const b = freeRegion();
    expect(errno(() => put(b.task, R + '/create', '2'))).toBe('EINVAL');
    expect(errno(() => put(b.task, R + '/create', 'x'))).toBe('EINVAL');
    put(b.task, R + '/create', '1');
    expect(get(b.task, R + '/create')).toBe('dax0.1');
    expect(get(b.task, R + '/seed')).toBe('dax0.1');
    put(b.task, R + '/create', '1');
    // the seed stays the first unbound one; create shows the youngest
    expect(get(b.task, R + '/seed')).toBe('dax0.1');
    expect(get(b.task, R + '/create')).toBe('dax0.2');
    expect(get(b.task, D('dax0.1') + '/size')).toBe('0');
  });

  test('delete: ENXIO unknown, EBUSY bound, sized or id 0', () => {
    const b = freeRegion();
    put(b.task, R + '/create', '1');
    expect(errno(() => put(b.task, R + '/delete', 'dax0.9'))).toBe('ENXIO');
    expect(errno(() => put(b.task, R + '/delete', 'dax0.0'))).toBe('EBUSY');
    put(b.task, D('dax0.1') + '/size', String(2 * 2 ** 20));
    expect(errno(() => put(b.task, R + '/delete', 'dax0.1'))).toBe('EBUSY');
    enable(b.task, 'dax0.1');
    expect(errno(() => put(b.task, R + '/delete', 'dax0.1'))).toBe('EBUSY');
  });

  test('delete of an unbound 0-size device removes it and its /dev node; the seed clears', () => {
    const b = freeRegion();
    put(b.task, R + '/create', '1');
    expect(ls(b.task, '/dev')).toContain('dax0.1');
    put(b.task, R + '/delete', 'dax0.1\n');
    expect(ls(b.task, '/sys/bus/dax/devices')).toEqual(['dax0.0']);
    expect(ls(b.task, '/dev')).not.toContain('dax0.1');
    expect(get(b.task, R + '/seed')).toBe('');
  });
});

describe('device attributes', () => {
  test('size: EINVAL unless a multiple of max(align, 2M); EBUSY bound; ENOSPC beyond available', () => {
    const { task } = bootDax();
    expect(errno(() => put(task, D('dax0.0') + '/size', '4096'))).toBe('EINVAL');
    expect(errno(() => put(task, D('dax0.0') + '/size', '0'))).toBe('EBUSY');
    const b = freeRegion();
    expect(errno(() => put(b.task, D('dax0.0') + '/size', String(18 * 2 ** 30)))).toBe('ENOSPC');
    put(b.task, D('dax0.0') + '/size', String(2 ** 30));
    expect(get(b.task, R + '/available_size')).toBe(String(15 * 2 ** 30));
  });

  test('align: ENXIO unparsable, EINVAL invalid, EBUSY bound, EINVAL when a range misfits (old align kept)', () => {
    const { task } = bootDax();
    expect(errno(() => put(task, D('dax0.0') + '/align', 'zz'))).toBe('ENXIO');
    expect(errno(() => put(task, D('dax0.0') + '/align', '8192'))).toBe('EINVAL');
    expect(errno(() => put(task, D('dax0.0') + '/align', '4096'))).toBe('EBUSY');
    const b = freeRegion();
    put(b.task, D('dax0.0') + '/size', String(4 * 2 ** 20));
    expect(errno(() => put(b.task, D('dax0.0') + '/align', String(2 ** 30)))).toBe('EINVAL');
    expect(get(b.task, D('dax0.0') + '/align')).toBe('2097152');
    put(b.task, D('dax0.0') + '/align', '4096');
    // 4K align still needs 2M multiples (memremap_compat_align)
    expect(errno(() => put(b.task, D('dax0.0') + '/size', String(4 * 2 ** 20 + 4096)))).toBe('EINVAL');
  });

  test('mapping: EINVAL unparsable, ENXIO misaligned, ENOMEM overlapping or outside; mappingK ids', () => {
    const b = freeRegion();
    const m = D('dax0.0') + '/mapping';
    expect(errno(() => put(b.task, m, 'nonsense'))).toBe('EINVAL');
    expect(errno(() => put(b.task, m, '400000000-400000fff'))).toBe('ENXIO');
    put(b.task, m, '400200000-4003fffff');
    expect(errno(() => put(b.task, m, '400200000-4003fffff'))).toBe('ENOMEM');
    expect(errno(() => put(b.task, m, '800000000-8001fffff'))).toBe('ENOMEM');
    put(b.task, m, '400000000-4001fffff');
    expect(get(b.task, D('dax0.0') + '/mapping1/start')).toBe('0x400000000');
    expect(get(b.task, D('dax0.0') + '/mapping1/page_offset')).toBe('0x200');
    expect(get(b.task, D('dax0.0') + '/resource')).toBe('0x400200000');
  });

  test('bind: ENXIO for a 0-size device, ENODEV unknown, EBUSY already bound; unbind ENODEV when not bound', () => {
    const b = freeRegion();
    const drv = '/sys/bus/dax/drivers/device_dax';
    // hmem regions are IORESOURCE_DAX_KMEM: device_dax matches them only through new_id (dax_match_type)
    expect(errno(() => put(b.task, drv + '/bind', 'dax0.0'))).toBe('ENODEV');
    put(b.task, drv + '/new_id', 'dax0.0');
    expect(errno(() => put(b.task, drv + '/bind', 'dax0.0'))).toBe('ENXIO');
    expect(errno(() => put(b.task, drv + '/bind', 'dax0.7'))).toBe('ENODEV');
    expect(errno(() => put(b.task, drv + '/unbind', 'dax0.0'))).toBe('ENODEV');
    put(b.task, D('dax0.0') + '/size', String(2 ** 30));
    put(b.task, drv + '/bind', 'dax0.0');
    expect(errno(() => put(b.task, drv + '/bind', 'dax0.0'))).toBe('EBUSY');
    expect(errno(() => put(b.task, drv + '/new_id', 'dax0.0x'))).toBe('EINVAL');
  });

  test('static region (memmap=!): hidden create/seed/delete/available_size/mapping, read-only size', () => {
    const { task } = bootDax('memmap=4G!0x400000000');
    const r = '/sys/bus/dax/devices/dax0.0/../dax_region';
    expect(ls(task, r).sort()).toEqual(['align', 'id', 'size']);
    expect(ls(task, D('dax0.0'))).not.toContain('mapping');
    expect(errno(() => put(task, D('dax0.0') + '/size', '0'))).toBe('EACCES');
    expect(get(task, r + '/size')).toBe(String(4 * 2 ** 30 - 2 * 2 ** 20));
  });
});
