/**
 * Functional cases of the mm core through the syscall interface: mremap of THP
 * memory, shared anonymous memory across fork, MADV_DONTFORK, NUMA placement by
 * policy, and private file mappings. Pictures as in mm_errno.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { follow_page } from '../../src/kernel/mm/gup.ts';
import type { Task } from '../../src/kernel/process.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import {
  MADV_DONTFORK,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  MPOL_BIND,
  MPOL_INTERLEAVE,
  MREMAP_FIXED,
  MREMAP_MAYMOVE,
  PROT_READ,
  PROT_WRITE,
} from '../../src/uapi/mman.ts';
import { boot, readFile, signal } from './helpers.ts';

const P = PAGE_SIZE;
const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function nodeAnonKb(task: Task, nid: number): number {
  const m = new RegExp(`^Node ${nid} AnonPages:\\s+(\\d+) kB`, 'm').exec(readFile(task, `/sys/devices/system/node/node${nid}/meminfo`));
  return Number(m![1]);
}

describe('mremap of transparent huge pages', () => {
  /*
   *  0 ..... 2M ..... 4M            FAR ... +2M ... +4M
   *  |HHHHHHH|HHHHHHH|   move →     |HHHHHHH|HHHHHHH|     2M-aligned: PMDs move whole
   *                      move →     |hhhhhhh|hhhhhhh|     misaligned by 4K: split to PTEs
   */
  it('keeps contents, and its 2M mappings when the new address is 2M aligned', () => {
    const { host, task } = boot();
    const a = task.mmap(0, 4 * MiB, RW, ANON, -1, 0);
    task.store(a + 5, new Uint8Array([1, 2, 3]));
    task.store(a + 2 * MiB + 7 * P, new Uint8Array([4]));
    expect(task.mm.pgtables.count_leaves().pmd).toBe(2);
    const far = 0x100000000000;
    expect(task.mremap(a, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, far)).toBe(far);
    expect(task.mm.pgtables.count_leaves()).toEqual({ pte: 0, pmd: 2, pud: 0 });
    expect(Array.from(task.load(far + 5, 3))).toEqual([1, 2, 3]);
    expect(task.load(far + 2 * MiB + 7 * P, 1)[0]).toBe(4);
    expect(signal(() => task.load(a, 1))).toBe('SIGSEGV/1');
    expect(host.kmem.anon.nrThps).toBe(2);

    const to = far + 64 * MiB + P;
    expect(task.mremap(far, 4 * MiB, 4 * MiB, MREMAP_MAYMOVE | MREMAP_FIXED, to)).toBe(to);
    expect(task.mm.pgtables.count_leaves().pmd).toBe(0);
    expect(Array.from(task.load(to + 5, 3))).toEqual([1, 2, 3]);
    expect(task.load(to + 2 * MiB + 7 * P, 1)[0]).toBe(4);
  });

  /*
   *  |HHHHHHHHHHHHHH|        one THP; move its pages [2M-8K, 2M) by exactly 2M:
   *  |HHHHHHHHHHHH..|  ...  |hh|   only those two pages go, the rest stays behind
   */
  it('moving part of a THP by a multiple of 2M moves only that part', () => {
    const { task } = boot();
    const a = task.mmap(0, 2 * MiB, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([8]));
    task.store(a + 2 * MiB - P, new Uint8Array([9]));
    const to = a + 64 * MiB + 2 * MiB - 2 * P;
    expect(task.mremap(a + 2 * MiB - 2 * P, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, to)).toBe(to);
    expect(task.load(a, 1)[0]).toBe(8);
    expect(task.load(to + P, 1)[0]).toBe(9);
    expect(signal(() => task.load(a + 2 * MiB - P, 1))).toBe('SIGSEGV/1');
    task.mm.pgtables.validate();
  });
});

describe('fork', () => {
  /*
   *  parent |SSSS|  MAP_SHARED|MAP_ANONYMOUS       child |SSSS| the same pages
   */
  it('MAP_SHARED|MAP_ANONYMOUS memory is shared with the child both ways', () => {
    const { task } = boot();
    const s = task.mmap(0, 4 * P, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    task.store(s, new Uint8Array([1]));
    const child = task.fork();
    expect(child.load(s, 1)[0]).toBe(1);
    child.store(s + P, new Uint8Array([2]));
    task.store(s + 2 * P, new Uint8Array([3]));
    expect(task.load(s + P, 1)[0]).toBe(2);
    expect(child.load(s + 2 * P, 1)[0]).toBe(3);
    child.exit(0);
    task.wait4(child.pid, 0);
    expect(task.load(s + P, 1)[0]).toBe(2);
  });

  /*
   *  parent |AAAA|DDDD|   D is MADV_DONTFORK      child |AAAA|....|
   */
  it('MADV_DONTFORK memory is absent in the child', () => {
    const { task } = boot();
    const a = task.mmap(0, 8 * P, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([1]));
    task.store(a + 4 * P, new Uint8Array([2]));
    task.madvise(a + 4 * P, 4 * P, MADV_DONTFORK);
    const child = task.fork();
    expect(child.load(a, 1)[0]).toBe(1);
    expect(signal(() => child.load(a + 4 * P, 1))).toBe('SIGSEGV/1');
    expect(task.load(a + 4 * P, 1)[0]).toBe(2);
    child.exit(0);
    task.wait4(child.pid, 0);
  });
});

describe('NUMA policy', () => {
  /*
   *  node 0 | node 1          MPOL_BIND {1}: every page on node 1
   */
  it('MPOL_BIND places pages on the bound node', () => {
    const { host, task } = boot({ nodes: 2 });
    const a = task.mmap(0, 16 * P, RW, ANON, -1, 0);
    task.mbind(a, 16 * P, MPOL_BIND, [1], 0);
    const before = nodeAnonKb(task, 1);
    for (let i = 0; i < 16; i++) task.store(a + i * P, new Uint8Array([i]));
    for (let i = 0; i < 16; i++) expect(host.pfn_to_nid(follow_page(task.mm, a + i * P)!.pfn)).toBe(1);
    expect(nodeAnonKb(task, 1) - before).toBe(16 * 4);
  });

  it('MPOL_INTERLEAVE alternates pages between the nodes', () => {
    const { host, task } = boot({ nodes: 2 });
    const a = task.mmap(0, 16 * P, RW, ANON, -1, 0);
    task.mbind(a, 16 * P, MPOL_INTERLEAVE, [0, 1], 0);
    const n0 = nodeAnonKb(task, 0);
    const n1 = nodeAnonKb(task, 1);
    for (let i = 0; i < 16; i++) task.store(a + i * P, new Uint8Array([i]));
    const nids = Array.from({ length: 16 }, (_, i) => host.pfn_to_nid(follow_page(task.mm, a + i * P)!.pfn));
    for (let i = 1; i < 16; i++) expect(nids[i]).not.toBe(nids[i - 1]);
    expect(nodeAnonKb(task, 0) - n0).toBe(8 * 4);
    expect(nodeAnonKb(task, 1) - n1).toBe(8 * 4);
  });

  it('set_mempolicy(MPOL_BIND) places a task\'s pages, including THPs', () => {
    const { host, task } = boot({ nodes: 2 });
    task.set_mempolicy(MPOL_BIND, [1]);
    const a = task.mmap(0, 2 * MiB, RW, ANON, -1, 0);
    task.store(a, new Uint8Array([1]));
    expect(task.mm.pgtables.count_leaves().pmd).toBe(1);
    expect(host.pfn_to_nid(follow_page(task.mm, a)!.pfn)).toBe(1);
  });
});

describe('file mappings', () => {
  /*
   *  file |1111|      MAP_PRIVATE |1111| → write → |9111| in the mapping only
   */
  it('a private file mapping\'s write does not reach the file', () => {
    const { task } = boot();
    const fd = task.open('/tmp/f', O_RDWR | O_CREAT, 0o644);
    task.pwrite(fd, new Uint8Array(2 * P).fill(1), 0);
    const priv = task.mmap(0, 2 * P, RW, MAP_PRIVATE, fd, 0);
    const shared = task.mmap(0, 2 * P, RW, MAP_SHARED, fd, 0);
    expect(task.load(priv, 1)[0]).toBe(1);
    task.store(priv, new Uint8Array([9]));
    expect(task.load(priv, 1)[0]).toBe(9);
    expect(task.pread(fd, 1, 0)[0]).toBe(1);
    expect(task.load(shared, 1)[0]).toBe(1);
    // A page the private mapping has not written still shows the file's changes.
    task.pwrite(fd, new Uint8Array([5]), P);
    expect(task.load(priv + P, 1)[0]).toBe(5);
    task.store(shared, new Uint8Array([7]));
    expect(task.pread(fd, 1, 0)[0]).toBe(7);
    expect(task.load(priv, 1)[0]).toBe(9);
  });
});
