/**
 * The overcommit policy (mm/util.c __vm_enough_memory, vm_commit_limit;
 * Documentation/mm/overcommit-accounting.rst) and its sysctls
 * /proc/sys/vm/overcommit_memory, overcommit_ratio, overcommit_kbytes.
 *
 *   0 (OVERCOMMIT_GUESS)  refuse only a single request larger than RAM + swap
 *   1 (OVERCOMMIT_ALWAYS) never refuse
 *   2 (OVERCOMMIT_NEVER)  refuse when Committed_AS would pass the commit limit:
 *                         overcommit_kbytes, or (RAM - hugetlb) * ratio / 100
 *
 * Differences: the check runs for new VM_ACCOUNT mappings only (not for
 * mprotect or brk); tasks are root, so the admin reserve is not deducted;
 * /proc/meminfo's CommitLimit still shows the ratio-based limit.
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE } from '../../lib/size.ts';
import type { PseudoDir } from '../fs/pseudo/index.ts';
import type { PageAllocator } from './page_alloc.ts';

/** sysctl_user_reserve_kbytes default: min(3% of free memory, 128 MiB), in pages. */
const USER_RESERVE_PAGES = (128 * 1024 * 1024) / PAGE_SIZE;

/** What the policy reads from the rest of the kernel. */
export interface OvercommitDeps {
  buddy: PageAllocator;
  /** vm_committed_as in pages. */
  committed(): number;
  /** hugetlb_total_pages() in base pages. */
  hugetlbPages(): number;
}

/** The overcommit sysctls and the check mmap calls. */
export class Overcommit {
  memory = 0;
  ratio = 50;
  kbytes = 0;

  constructor(private readonly deps: OvercommitDeps) {}

  /** vm_commit_limit(), in pages (no swap). */
  vm_commit_limit(): number {
    if (this.kbytes) return Math.floor(this.kbytes / (PAGE_SIZE / 1024));
    return Math.floor(((this.deps.buddy.totalram_pages() - this.deps.hugetlbPages()) * this.ratio) / 100);
  }

  /** __vm_enough_memory(mm, pages, cap_sys_admin=true). */
  vm_enough_memory(pages: number): boolean {
    if (this.memory === 1) return true;
    if (this.memory === 0) return pages <= this.deps.buddy.totalram_pages();
    const allowed = this.vm_commit_limit() - USER_RESERVE_PAGES;
    return this.deps.committed() + pages < allowed;
  }

  /** The three files under /proc/sys/vm. */
  register(proc: PseudoDir): void {
    const vm = proc.dir('sys/vm');
    const num = (t: string, max: number): number => {
      const s = t.trim();
      if (!/^\d+$/.test(s) || Number(s) > max) throw new Errno('EINVAL');
      return Number(s);
    };
    vm.file('overcommit_memory', { show: () => `${this.memory}\n`, store: (t) => void (this.memory = num(t, 2)) });
    // Writing one of ratio/kbytes clears the other (overcommit_ratio_handler, overcommit_kbytes_handler).
    vm.file('overcommit_ratio', { show: () => `${this.ratio}\n`, store: (t) => void ((this.ratio = num(t, Number.MAX_SAFE_INTEGER)), (this.kbytes = 0)) });
    vm.file('overcommit_kbytes', { show: () => `${this.kbytes}\n`, store: (t) => void ((this.kbytes = num(t, Number.MAX_SAFE_INTEGER)), (this.ratio = 0)) });
  }
}
