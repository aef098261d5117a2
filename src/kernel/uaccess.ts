/**
 * User memory as the CPU reaches it (arch/x86/lib/usercopy, copy_from_user /
 * copy_to_user): each access is translated through the task's page tables, and
 * a missing or forbidden entry takes the page-fault path, whose failure is a
 * signal for the task; a frame with an uncorrected error is a machine check.
 */
import { PAGE_SIZE } from '../lib/size.ts';
import { SEGV_MAPERR, SIGSEGV, Signal } from '../uapi/signal.ts';
import type { Dram } from './mm/dram.ts';
import { do_user_addr_fault } from './mm/fault.ts';
import type { MmStruct } from './mm/mm_types.ts';
import { TASK_SIZE } from './mm/mmap.ts';
import { LEVEL_SIZE, _PAGE_PRESENT, _PAGE_RW, _PAGE_USER, pte_flags, pte_pfn } from './mm/pgtable.ts';

/** Delivers a fault's signal to the task; never returns. */
export type ForceSig = (sig: Signal) => never;

/** The physical address behind a user address for an access of `write`, faulting as the CPU would. */
export function translate(mm: MmStruct, va: number, write: boolean, force_sig: ForceSig): number {
  const pt = mm.pgtables;
  const valid = va >= 0 && va < TASK_SIZE && Number.isInteger(va);
  for (let tries = 0; tries < 4; tries++) {
    const e = valid ? pt.walk(va) : 0;
    // The CPU's check: a present entry the user may access (_PAGE_USER is clear on
    // PROT_NONE entries), writable for a write.
    const f = pte_flags(e);
    if (e !== 0 && f & _PAGE_PRESENT && f & _PAGE_USER && (!write || f & _PAGE_RW)) {
      const pa = pte_pfn(e) * PAGE_SIZE + (va % LEVEL_SIZE[pt.lastLevel]!);
      // The frame has an uncorrected error a mapping survived: the access is a machine check (kernel/mce.ts).
      const hw = mm.kmem.hwpoison;
      if (hw !== null && hw.count !== 0 && hw.has(Math.floor(pa / PAGE_SIZE))) force_sig(hw.consume(Math.floor(pa / PAGE_SIZE), va));
      return pa;
    }
    const sig = valid ? do_user_addr_fault(mm, va, write) : new Signal(SIGSEGV, SEGV_MAPERR, va);
    if (sig) force_sig(sig);
  }
  throw new Error(`BUG: fault at 0x${va.toString(16)} did not resolve`);
}

/** copy_from_user: `length` bytes at a user address, page by page. */
export function copy_from_user(mm: MmStruct, dram: Dram, addr: number, length: number, force_sig: ForceSig): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const va = addr + done;
    const n = Math.min(PAGE_SIZE - (va % PAGE_SIZE), length - done);
    out.set(dram.read(translate(mm, va, false, force_sig), n), done);
    done += n;
  }
  return out;
}

/** copy_to_user: store bytes at a user address, page by page (one byte is the hot path). */
export function copy_to_user(mm: MmStruct, dram: Dram, addr: number, data: Uint8Array, force_sig: ForceSig): void {
  if (data.length === 1) {
    dram.writeByte(translate(mm, addr, true, force_sig), data[0]!);
    return;
  }
  let done = 0;
  while (done < data.length) {
    const va = addr + done;
    const n = Math.min(PAGE_SIZE - (va % PAGE_SIZE), data.length - done);
    dram.write(translate(mm, va, true, force_sig), data.subarray(done, done + n));
    done += n;
  }
}
