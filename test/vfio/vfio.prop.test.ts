/**
 * Property: random sequences of DMA map / unmap, munmap, MADV_DONTNEED,
 * tmpfs and dmemfs truncation never leave a DMA-mapped frame free (in the
 * buddy allocator or the dmem pool), and every count returns to zero at the end.
 *
 *   vaddr:  anon (64 pages) | memfd (64 pages) | dmemfs (4 × 2M)
 *   iova:   slot i at i × 4M, each slot one mapping of a random sub-range
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GiB, MiB, PAGE_SIZE } from '../../src/lib/size.ts';
import { mm_lock_state } from '../../src/kernel/mm/gup.ts';
import { O_CREAT, O_RDWR } from '../../src/uapi/fcntl.ts';
import { MADV_DONTNEED, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../src/uapi/mman.ts';
import { errno, iommuOf, mapDma, openContainer, setup, unmapDma } from './helpers.ts';

const ANON = 64 * PAGE_SIZE;
const SHM = 64 * PAGE_SIZE;
const DMEM = 8 * MiB;
const SLOTS = 6;

type Op =
  | { k: 'map'; slot: number; region: 0 | 1 | 2; off: number; len: number }
  | { k: 'unmap'; slot: number }
  | { k: 'touch'; region: 0 | 1 | 2 }
  | { k: 'dontneed'; off: number; len: number }
  | { k: 'truncate'; region: 1 | 2; size: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('map' as const), slot: fc.nat(SLOTS - 1), region: fc.constantFrom(0 as const, 1 as const, 2 as const), off: fc.nat(63), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant('unmap' as const), slot: fc.nat(SLOTS - 1) }),
  fc.record({ k: fc.constant('touch' as const), region: fc.constantFrom(0 as const, 1 as const, 2 as const) }),
  fc.record({ k: fc.constant('dontneed' as const), off: fc.nat(63), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ k: fc.constant('truncate' as const), region: fc.constantFrom(1 as const, 2 as const), size: fc.nat(4) }),
);

describe('VFIO pinning property', () => {
  it('no DMA-mapped frame is ever free; all counts return to zero', () => {
    const { host, task } = setup({ mem: 8 * GiB, cmdline: 'dmem=2G' });
    task.mount('none', '/mnt', 'dmemfs', 0, 'pagesize=2M');
    const totalDpages = () => host.dmem.free_dpages();
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const free0 = host.buddy.nr_free_pages() + task.mm.nrPgtables;
        const dfree0 = totalDpages();
        const fd = openContainer(task);
        const anon = task.mmap(0, ANON, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        const mfd = task.memfd_create('g', 0);
        task.ftruncate(mfd, SHM);
        const shm = task.mmap(0, SHM, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
        const dfd = task.open('/mnt/g', O_RDWR | O_CREAT, 0o600);
        task.ftruncate(dfd, DMEM);
        const dm = task.mmap(0, DMEM, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
        const base = [anon, shm, dm];
        const size = [ANON, SHM, DMEM];
        const iommu = iommuOf(task, fd);
        let mapped = 0;
        for (const o of ops) {
          if (o.k === 'map') {
            const unit = o.region === 2 ? 2 * MiB : PAGE_SIZE;
            const off = (o.off % (size[o.region]! / unit)) * unit;
            const len = Math.min(o.len * unit, size[o.region]! - off);
            const r = errno(() => mapDma(task, fd, base[o.region]! + off, o.slot * 4 * MiB * 64, len));
            // EEXIST for an occupied slot; EFAULT/SIGBUS-made EFAULT past a truncated EOF.
            expect(['ok', 'EEXIST', 'EFAULT']).toContain(r);
            if (r === 'ok') mapped++;
          } else if (o.k === 'unmap') {
            unmapDma(task, fd, o.slot * 4 * MiB * 64, 4 * MiB * 64);
          } else if (o.k === 'touch') {
            try {
              task.store(base[o.region]!, new Uint8Array([1]));
            } catch {
              // SIGBUS past EOF of a truncated file.
            }
          } else if (o.k === 'dontneed') {
            const off = (o.off % 64) * PAGE_SIZE;
            task.madvise(anon + off, Math.min(o.len * PAGE_SIZE, ANON - off), MADV_DONTNEED);
          } else {
            task.ftruncate(o.region === 1 ? mfd : dfd, (o.size * size[o.region]!) / 4);
          }
          // Invariant: every IOMMU leaf points at a frame that is not free.
          for (const d of iommu.dma_list) {
            for (const leaf of iommu.domain.leaves(d.iova, d.size)) {
              const pfn = leaf.phys / PAGE_SIZE;
              if (host.dmem.is_dmem_pfn(pfn)) expect(host.dmem.dmem_page_count(leaf.phys - (leaf.phys % (2 * MiB)))).toBeGreaterThan(0);
              else for (let i = 0; i < leaf.size / PAGE_SIZE; i++) expect(host.buddy.is_free_buddy_page(pfn + i)).toBe(false);
            }
          }
          expect(mm_lock_state(task.mm).locked_vm).toBe(iommu.stats().locked_pages);
          iommu.domain.validate();
        }
        if (ops.length > 30) expect(mapped).toBeGreaterThan(0);
        task.munmap(anon, ANON);
        task.munmap(shm, SHM);
        task.munmap(dm, DMEM);
        task.close(mfd);
        task.close(dfd);
        task.unlink('/mnt/g');
        task.close(fd);
        expect([host.kmem.nrPinned, host.kmem.nrPins, host.kmem.nrDeferred, mm_lock_state(task.mm).locked_vm]).toEqual([0, 0, 0, 0]);
        expect(totalDpages()).toBe(dfree0);
        // Every frame is back (page tables the mm keeps counted as theirs).
        expect(host.buddy.nr_free_pages() + task.mm.nrPgtables).toBe(free0);
      }),
      { numRuns: 60, seed: 4 },
    );
  });
});
