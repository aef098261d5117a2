import { describe, expect, it } from 'vitest';
import { PseudoDir, PseudoFile } from '../../src/kernel/fs/pseudo/index.ts';
import { register_dmem_debugfs } from '../../src/kernel/dmem/debugfs.ts';
import { DmemPoolImpl } from '../../src/kernel/dmem/pool.ts';
import { GiB } from '../../src/lib/size.ts';
import { bootDmem, newLog } from './helpers.ts';

const read = (root: PseudoDir, path: string): string => {
  const f = root.resolve(path);
  if (!(f instanceof PseudoFile)) throw new Error(`${path}: no such file`);
  expect(f.mode).toBe(0o444);
  return f.show!();
};

describe('/sys/kernel/debug/dmem', () => {
  it('pool and per-node counters as "%llu\\n", live', () => {
    const b = bootDmem('dmem=16G');
    const root = new PseudoDir();
    register_dmem_debugfs(root, b.pool);
    const all = (): Record<string, string> =>
      Object.fromEntries(
        ['region_num', 'registered_pages', 'unaligned_pages', 'dpage_shift', 'total_dpages', 'free_dpages', 'node0/total_dpages', 'node1/free_dpages'].map((p) => [p, read(root, `dmem/${p}`)]),
      );
    expect(all()).toEqual({
      region_num: '2\n',
      registered_pages: '8388608\n',
      unaligned_pages: '0\n',
      dpage_shift: '0\n',
      total_dpages: '0\n',
      free_dpages: '0\n',
      'node0/total_dpages': '0\n',
      'node1/free_dpages': '0\n',
    });
    b.pool.dmem_alloc_init(30);
    b.pool.dmem_alloc_pages_nodemask(1, undefined, 3);
    // 16 GiB regions at 17.875G and 49.875G: 15 whole 1 GiB dpages each, 1 GiB of 4K pages lost per region.
    expect(all()).toMatchObject({ dpage_shift: '30\n', total_dpages: '30\n', free_dpages: '27\n', unaligned_pages: '524288\n', 'node1/free_dpages': '12\n' });
    expect(read(root, 'dmem/retired_dpages')).toBe('0\n');
    expect(read(root, 'dmem/poisoned_pages')).toBe('0\n');
  });

  it('no nodeN directory for nodes without regions; nothing when late init failed', () => {
    const pool = new DmemPoolImpl(2, newLog());
    pool.dmem_region_register(1, 8 * GiB, 9 * GiB);
    const root = new PseudoDir();
    const kalloc = { kvzalloc: () => 1, kvfree: () => {} };
    const t = { distances: [[10, 20], [20, 10]], cpus: [1, 1], hasMemory: [true, true] };
    pool.dmem_late_init({ sparse: { first_pfn_with_struct_page: () => -1 }, kalloc, topo: t });
    register_dmem_debugfs(root, pool);
    expect((root.resolve('dmem') as PseudoDir).names()).toContain('node1');
    expect((root.resolve('dmem') as PseudoDir).names()).not.toContain('node0');

    const bad = new DmemPoolImpl(1, newLog());
    bad.dmem_region_register(0, 8 * GiB, 9 * GiB);
    bad.dmem_late_init({ sparse: { first_pfn_with_struct_page: (s) => s }, kalloc, topo: { ...t, distances: [[10]], cpus: [1], hasMemory: [true] } });
    const root2 = new PseudoDir();
    register_dmem_debugfs(root2, bad);
    expect(root2.resolve('dmem')).toBeUndefined();
  });
});
