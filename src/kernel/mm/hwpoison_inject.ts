/**
 * The software injector (mm/hwpoison-inject.c): /sys/kernel/debug/hwpoison/
 * corrupt-pfn and unpoison-pfn. A write of a pfn (any base kstrtoull accepts)
 * runs memory_failure or unpoison_memory; the write fails with its errno.
 *
 * One extension: Linux refuses a pfn without a struct page (-ENXIO) before
 * memory_failure runs. dmem frames have none by design, so frames an owner hook
 * claims (dmem) are let through, as the DMEMFS series' memory_failure hook needs.
 */
import { Errno, errnoName } from '../../lib/errno.ts';
import type { PseudoDir } from '../fs/pseudo/index.ts';
import type { KernelLog } from '../printk.ts';
import type { MemoryFailure } from './memory_failure.ts';

/** kstrtoull(s, 0): decimal, 0x hex or leading-0 octal, one trailing newline allowed. */
function kstrtoull(text: string): number {
  const t = text.endsWith('\n') ? text.slice(0, -1) : text;
  const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^0[0-7]*$/.test(t) ? parseInt(t, 8) : /^[1-9]\d*$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(v)) throw new Errno('EINVAL');
  return v;
}

function check(ret: number): void {
  if (ret < 0) throw new Errno(errnoName(-ret) ?? 'EIO');
}

/** Create hwpoison/corrupt-pfn and hwpoison/unpoison-pfn under debugfs. */
export function register_hwpoison_inject(
  debug: PseudoDir,
  mf: MemoryFailure,
  pfnValidOrOwned: (pfn: number) => boolean,
  log: KernelLog,
): void {
  const dir = debug.dir('hwpoison');
  dir.file('corrupt-pfn', {
    mode: 0o200,
    store: (text) => {
      const pfn = kstrtoull(text);
      if (!pfnValidOrOwned(pfn)) throw new Errno('ENXIO');
      log.info(`Injecting memory failure at pfn 0x${pfn.toString(16)}`);
      check(mf.memory_failure(pfn, 0));
    },
  });
  dir.file('unpoison-pfn', {
    mode: 0o200,
    store: (text) => {
      const pfn = kstrtoull(text);
      if (!pfnValidOrOwned(pfn)) throw new Errno('ENXIO');
      check(mf.unpoison_memory(pfn));
    },
  });
}
