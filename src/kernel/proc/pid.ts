/**
 * /proc/PID files (fs/proc/array.c do_task_stat and proc_pid_status,
 * fs/proc/task_mmu.c show_map_vma and show_smap, fs/proc/base.c
 * proc_pid_cmdline_read), rendered from the task and its page tables.
 *
 * /proc/PID/model_faults is the model's own addition (not in Linux): the
 * task's faults by the size of the entry they installed, which memtouch reads.
 */
import { PAGE_SIZE } from '../../lib/size.ts';
import { mm_lock_state } from '../mm/gup.ts';
import type { MmStruct } from '../mm/mm_types.ts';
import { _PAGE_ANON } from '../mm/page_prot.ts';
import { LEVEL_SIZE, PMD_LEVEL, PUD_LEVEL, PTE_LEVEL, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_SPECIAL, pte_flags, pte_pfn } from '../mm/pgtable.ts';
import {
  VM_ACCOUNT,
  VM_DONTCOPY,
  VM_DONTDUMP,
  VM_DONTEXPAND,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_HUGEPAGE,
  VM_HUGETLB,
  VM_IO,
  VM_LOCKED,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_MIXEDMAP,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_PFNMAP,
  VM_RAND_READ,
  VM_READ,
  VM_SEQ_READ,
  VM_SHARED,
  VM_WIPEONFORK,
  VM_WRITE,
  type VmArea,
} from '../mm/vm_area.ts';
import type { Task } from '../process.ts';

/** How a VMA names its file: path, device and inode (d_path, sb->s_dev, i_ino). */
export type VmaFileInfo = (vma: VmArea) => { path: string; dev: number; ino: number } | null;

/** /proc/PID/cmdline: argv, NUL-terminated. */
export function proc_pid_cmdline(t: Task): string {
  return t.state === 'Z' ? '' : t.argv.map((a) => a + '\0').join('');
}

/** /proc/PID/model_faults (model-only): faults by installed entry size. */
export function proc_pid_model_faults(t: Task): string {
  const f = t.mm.faultsByLevel;
  return `4K ${f[PTE_LEVEL]}\n2M ${f[PMD_LEVEL]}\n1G ${f[PUD_LEVEL]}\n`;
}

function vmaSize(mm: MmStruct): number {
  let s = 0;
  for (const v of mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) s += v.size;
  return s;
}

function rssPages(t: Task): number {
  const r = t.rss();
  return r.anon + r.file + r.shmem;
}

/** /proc/PID/stat: the 52 fields of do_task_stat. */
export function proc_pid_stat(t: Task, bootNs: number): string {
  const ticks = (ns: number): number => Math.floor(ns / 1e7); // USER_HZ = 100
  const state = t.state;
  const mm = t.mm;
  const dead = t.state === 'Z';
  const fields = [
    t.pid, `(${t.comm})`, state, t.parent?.pid ?? 0, t.pid, t.parent?.pid ?? t.pid, t.tty, t.tty ? t.pid : -1, 4194560,
    dead ? 0 : mm.minflt, 0, dead ? 0 : mm.majflt, 0, 0, 0, 0, 0, 20, 0, 1, 0, ticks(t.startTimeNs - bootNs),
    dead ? 0 : vmaSize(mm), dead ? 0 : rssPages(t), '18446744073709551615', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, dead ? t.exitStatus : 0,
  ];
  return fields.join(' ') + '\n';
}

const STATE_NAMES: Record<string, string> = { R: 'R (running)', S: 'S (sleeping)', Z: 'Z (zombie)' };

/** /proc/PID/status (the memory-related subset of proc_pid_status, in its order). */
export function proc_pid_status(t: Task): string {
  const kb = (pages: number): string => `${String(pages * 4).padStart(8)} kB`;
  const r = t.rss();
  const lines = [
    `Name:\t${t.comm}`,
    'Umask:\t0022',
    `State:\t${STATE_NAMES[t.state]}`,
    `Tgid:\t${t.pid}`,
    'Ngid:\t0',
    `Pid:\t${t.pid}`,
    `PPid:\t${t.parent?.pid ?? 0}`,
    'TracerPid:\t0',
    'Uid:\t0\t0\t0\t0',
    'Gid:\t0\t0\t0\t0',
    `FDSize:\t${Math.max(64, 2 ** Math.ceil(Math.log2(Math.max(1, t.fds.length))))}`,
    'Groups:\t0 ',
  ];
  if (t.state !== 'Z') {
    const vm = vmaSize(t.mm) / 1024 / 4;
    lines.push(
      `VmPeak:\t${kb(vm)}`,
      `VmSize:\t${kb(vm)}`,
      // locked_vm, which VFIO charges for its long-term pins (account_locked_vm).
      `VmLck:\t${kb(mm_lock_state(t.mm).locked_vm)}`,
      `VmPin:\t${kb(0)}`,
      `VmHWM:\t${kb(rssPages(t))}`,
      `VmRSS:\t${kb(rssPages(t))}`,
      `RssAnon:\t${kb(r.anon)}`,
      `RssFile:\t${kb(r.file)}`,
      `RssShmem:\t${kb(r.shmem)}`,
      `VmData:\t${kb(vm)}`,
      `VmStk:\t${kb(0)}`,
      `VmExe:\t${kb(0)}`,
      `VmLib:\t${kb(0)}`,
      `VmPTE:\t${kb(t.mm.nrPgtables)}`,
      `VmSwap:\t${kb(0)}`,
      `HugetlbPages:\t${kb(0)}`,
    );
  }
  lines.push('CoreDumping:\t0', 'THP_enabled:\t1', 'Threads:\t1');
  return lines.join('\n') + '\n';
}

/** The first line of a maps/smaps entry (show_map_vma). */
function show_map_vma(vma: VmArea, info: VmaFileInfo): string {
  const f = vma.flags;
  const perms = (f & VM_READ ? 'r' : '-') + (f & VM_WRITE ? 'w' : '-') + (f & VM_EXEC ? 'x' : '-') + (f & VM_MAYSHARE ? 's' : 'p');
  const file = info(vma);
  const pgoff = file ? vma.pgoff * PAGE_SIZE : 0;
  const dev = file ? file.dev : 0;
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
  let line = `${hex(vma.start, 8)}-${hex(vma.end, 8)} ${perms} ${hex(pgoff, 8)} ${hex(Math.floor(dev / 256), 2)}:${hex(dev % 256, 2)} ${file ? file.ino : 0} `;
  const name = file ? file.path : vma.name;
  if (name) line = line.padEnd(72) + ' ' + name;
  return line.trimEnd() === line ? line + '\n' : line + '\n';
}

/** /proc/PID/maps. */
export function proc_pid_maps(mm: MmStruct, info: VmaFileInfo): string {
  let s = '';
  for (const vma of mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) s += show_map_vma(vma, info);
  return s;
}

const MNEMONICS: [number, string][] = [
  [VM_READ, 'rd'], [VM_WRITE, 'wr'], [VM_EXEC, 'ex'], [VM_SHARED, 'sh'], [VM_MAYREAD, 'mr'], [VM_MAYWRITE, 'mw'],
  [VM_MAYEXEC, 'me'], [VM_MAYSHARE, 'ms'], [VM_GROWSDOWN, 'gd'], [VM_PFNMAP, 'pf'], [VM_LOCKED, 'lo'], [VM_IO, 'io'],
  [VM_SEQ_READ, 'sr'], [VM_RAND_READ, 'rr'], [VM_DONTCOPY, 'dc'], [VM_DONTEXPAND, 'de'], [VM_ACCOUNT, 'ac'],
  [VM_NORESERVE, 'nr'], [VM_HUGETLB, 'ht'], [VM_WIPEONFORK, 'wf'], [VM_DONTDUMP, 'dd'], [VM_MIXEDMAP, 'mm'],
  [VM_HUGEPAGE, 'hg'], [VM_NOHUGEPAGE, 'nh'],
];

/** /proc/PID/smaps: each VMA's line followed by its memory counters (show_smap). */
export function proc_pid_smaps(mm: MmStruct, info: VmaFileInfo, thpEligible: (vma: VmArea) => boolean): string {
  let out = '';
  for (const vma of mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) {
    const c = { rss: 0, pss: 0, pssDirty: 0, sharedClean: 0, sharedDirty: 0, privateClean: 0, privateDirty: 0, referenced: 0, anon: 0, anonHuge: 0, filePmd: 0 };
    mm.pgtables.for_each_leaf(vma.start, vma.end, (_va, level, entry) => {
      const f = pte_flags(entry);
      if (!(f & _PAGE_PRESENT)) return; // a hwpoison entry maps nothing
      if (f & _PAGE_SPECIAL) return; // vm_normal_page() is NULL: the zero page and raw pfns are not counted
      const size = LEVEL_SIZE[level]!;
      const anon = (f & _PAGE_ANON) !== 0;
      const mapcount = anon ? mm.kmem.anon.mapcount(pte_pfn(entry)) : 1;
      const dirty = (f & _PAGE_DIRTY) !== 0;
      c.rss += size;
      c.pss += size / mapcount;
      if (dirty) c.pssDirty += size / mapcount;
      if (mapcount > 1) {
        if (dirty) c.sharedDirty += size;
        else c.sharedClean += size;
      } else if (dirty) c.privateDirty += size;
      else c.privateClean += size;
      if (f & _PAGE_ACCESSED) c.referenced += size;
      if (anon) c.anon += size;
      if (anon && level === PMD_LEVEL) c.anonHuge += size;
      if (!anon && level === PMD_LEVEL) c.filePmd += size;
    });
    const kb = (label: string, bytes: number): string => `${label.padEnd(16)}${String(Math.floor(bytes / 1024)).padStart(8)} kB\n`;
    out += show_map_vma(vma, info);
    out += kb('Size:', vma.size);
    // vma_kernel_pagesize / vma_mmu_pagesize: the driver's page size (dmemfs: the dpage).
    const pagesize = vma.vm_ops?.pagesize?.(vma) ?? PAGE_SIZE;
    out += kb('KernelPageSize:', pagesize);
    out += kb('MMUPageSize:', pagesize);
    out += kb('Rss:', c.rss);
    out += kb('Pss:', c.pss);
    out += kb('Pss_Dirty:', c.pssDirty);
    out += kb('Shared_Clean:', c.sharedClean);
    out += kb('Shared_Dirty:', c.sharedDirty);
    out += kb('Private_Clean:', c.privateClean);
    out += kb('Private_Dirty:', c.privateDirty);
    out += kb('Referenced:', c.referenced);
    out += kb('Anonymous:', c.anon);
    out += kb('KSM:', 0);
    out += kb('LazyFree:', 0);
    out += kb('AnonHugePages:', c.anonHuge);
    out += kb('ShmemPmdMapped:', 0);
    out += kb('FilePmdMapped:', c.filePmd);
    out += kb('Shared_Hugetlb:', 0);
    out += kb('Private_Hugetlb:', 0);
    out += kb('Swap:', 0);
    out += kb('SwapPss:', 0);
    out += kb('Locked:', 0);
    out += `THPeligible:    ${String(thpEligible(vma) ? 1 : 0).padStart(8)}\n`;
    out += 'VmFlags: ' + MNEMONICS.filter(([bit]) => vma.flags & bit).map(([, m]) => m + ' ').join('') + '\n';
  }
  return out;
}
