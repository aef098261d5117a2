/**
 * A fake dmem pool for dmemfs tests: first-fit over one fixed physical range,
 * with the DmemPool contract (src/kernel/dmem/api.ts) and loud checks — a
 * double free or a free of something never handed out throws.
 */
import { Errno } from '../../src/lib/errno.ts';
import { PAGE_SIZE } from '../../src/lib/size.ts';
import type { DmemPool, DpageRun } from '../../src/kernel/dmem/api.ts';
import type { MmStruct } from '../../src/kernel/mm/mm_types.ts';
import type { VmArea } from '../../src/kernel/mm/vm_area.ts';

/** A naive first-fit allocator over [base, base + bytes). */
export class FakeDmemPool implements DmemPool {
  dpage_shift = 0;
  users = 0;
  /** One byte per dpage: 1 = allocated. Built at the first dmem_alloc_init. */
  private used = new Uint8Array(0);
  private nfree = 0;
  /** Every allocation call: [try_max, nr handed out] (nr 0 = none free). */
  readonly calls: [number, number][] = [];
  /** Fail the next N allocations (as if the pool were empty). */
  failNext = 0;

  constructor(
    /** First physical address of the range (aligned to 1 GiB by the tests). */
    readonly base: number,
    readonly registeredBytes: number,
  ) {}

  get dpageSize(): number {
    return 2 ** this.dpage_shift;
  }

  dmem_alloc_init(dpage_shift: number): void {
    if (this.registeredBytes === 0) throw new Errno('ENOMEM');
    if (this.users > 0) {
      if (dpage_shift !== this.dpage_shift) throw new Errno('EBUSY');
      this.users++;
      return;
    }
    this.dpage_shift = dpage_shift;
    this.used = new Uint8Array(Math.floor(this.registeredBytes / 2 ** dpage_shift));
    this.nfree = this.used.length;
    this.users = 1;
  }

  dmem_alloc_uinit(): void {
    if (this.users <= 0) throw new Error('fake pool: uinit without init');
    if (--this.users > 0) return;
    if (this.nfree !== this.used.length) throw new Error(`fake pool: last user left with ${this.used.length - this.nfree} dpages allocated`);
    this.dpage_shift = 0;
    this.used = new Uint8Array(0);
    this.nfree = 0;
  }

  dmem_alloc_pages_vma(_mm: MmStruct, _vma: VmArea, _addr: number, try_max: number): DpageRun | null {
    return this.alloc(try_max);
  }

  dmem_alloc_pages_nodemask(_nid: number, _nodemask: readonly number[] | undefined, try_max: number): DpageRun | null {
    return this.alloc(try_max);
  }

  private alloc(try_max: number): DpageRun | null {
    if (this.users === 0) throw new Error('fake pool: allocation before dmem_alloc_init');
    if (!(try_max >= 1)) throw new Error(`fake pool: try_max ${try_max}`);
    if (this.failNext > 0) {
      this.failNext--;
      this.calls.push([try_max, 0]);
      return null;
    }
    const i = this.used.indexOf(0);
    if (i < 0) {
      this.calls.push([try_max, 0]);
      return null;
    }
    let nr = 0;
    while (nr < try_max && i + nr < this.used.length && this.used[i + nr] === 0) this.used[i + nr++] = 1;
    this.nfree -= nr;
    this.calls.push([try_max, nr]);
    return { phys: this.base + i * this.dpageSize, nr };
  }

  dmem_free_pages(phys: number, nr: number): void {
    const i = (phys - this.base) / this.dpageSize;
    if (!Number.isInteger(i) || i < 0 || i + nr > this.used.length) throw new Error(`fake pool: free of 0x${phys.toString(16)} outside the pool`);
    for (let k = i; k < i + nr; k++) {
      if (this.used[k] !== 1) throw new Error(`fake pool: double free of dpage ${k}`);
      this.used[k] = 0;
    }
    this.nfree += nr;
  }

  /** Frames marked bad by a test. */
  readonly poisoned = new Set<number>();

  is_poisoned(pfn: number): boolean {
    return this.poisoned.has(pfn);
  }

  dpage_poisoned(phys: number): boolean {
    const first = phys / 4096;
    for (const p of this.poisoned) if (p >= first && p < first + 2 ** (this.dpage_shift - 12)) return true;
    return false;
  }

  is_dmem_pfn(pfn: number): boolean {
    return pfn * PAGE_SIZE >= this.base && pfn * PAGE_SIZE < this.base + this.registeredBytes;
  }

  dmem_get_page(): void {}

  dmem_put_page(): boolean {
    return true;
  }

  total_dpages(): number {
    return this.used.length;
  }

  free_dpages(): number {
    return this.nfree;
  }

  /** Is the dpage at phys handed out? */
  isAllocated(phys: number): boolean {
    return this.used[(phys - this.base) / this.dpageSize] === 1;
  }
}
