/**
 * The user page-fault entry (arch/x86/mm/fault.c do_user_addr_fault,
 * access_error, bad_area, mm_fault_error): find the VMA, check the access,
 * call handle_mm_fault, and turn failures into the signal the task gets.
 */
import { BUS_ADRERR, SEGV_ACCERR, SEGV_MAPERR, SIGBUS, SIGKILL, SIGSEGV, Signal } from '../../uapi/signal.ts';
import { PAGE_SHIFT, PMD_SIZE, ilog2 } from '../../lib/size.ts';
import { handle_mm_fault } from './memory.ts';
import type { MmStruct } from './mm_types.ts';
import {
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  VM_EXEC,
  VM_FAULT_HWPOISON,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_OOM,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_READ,
  VM_WRITE,
} from './vm_area.ts';
import { BUS_MCEERR_AR } from '../../uapi/signal.ts';

/** access_error: may this kind of access touch the VMA at all? */
function access_error(flags: number, vmFlags: number, write: boolean): boolean {
  void flags;
  if (write) return !(vmFlags & VM_WRITE);
  return !(vmFlags & (VM_READ | VM_WRITE | VM_EXEC));
}

/**
 * do_user_addr_fault: returns null when the access may be retried and will now
 * succeed, or the Signal to deliver. An OOM result is reported as SIGKILL: the
 * model's OOM killer picks the faulting task.
 */
export function do_user_addr_fault(mm: MmStruct, address: number, write: boolean): Signal | null {
  const vma = mm.vmas.find_vma(address);
  if (!vma || vma.start > address) return new Signal(SIGSEGV, SEGV_MAPERR, address);
  const flags = FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0);
  if (access_error(flags, vma.flags, write)) return new Signal(SIGSEGV, SEGV_ACCERR, address);
  const ret = handle_mm_fault(mm, vma, address, flags);
  if (ret & VM_FAULT_OOM) return new Signal(SIGKILL, 0, address);
  if (ret & VM_FAULT_HWPOISON) return new Signal(SIGBUS, BUS_MCEERR_AR, address, PAGE_SHIFT);
  if (ret & VM_FAULT_HWPOISON_LARGE) {
    // Linux encodes the huge page's size in the fault code; the mapping's page size tells us here.
    return new Signal(SIGBUS, BUS_MCEERR_AR, address, ilog2(vma.vm_ops?.pagesize?.(vma) ?? PMD_SIZE));
  }
  if (ret & VM_FAULT_SIGBUS) return new Signal(SIGBUS, BUS_ADRERR, address);
  if (ret & VM_FAULT_SIGSEGV) return new Signal(SIGSEGV, SEGV_MAPERR, address);
  return null;
}
