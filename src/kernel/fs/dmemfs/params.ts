/**
 * dmemfs's module parameter max_alloc_try_dpages (fs/dmemfs/inode.c:
 * max_alloc_try_dpages_set, alloc_max_try_dpages_ops with param_get_uint,
 * fs_param_cb(max_alloc_try_dpages, ..., 0644); lib/kstrtox.c kstrtouint;
 * kernel/params.c param_attr_show/store and the boot-time "dmemfs.NAME=" form).
 */
import { Errno } from '../../../lib/errno.ts';
import type { KernelParams } from '../../boot/cmdline.ts';
import type { PseudoDir } from '../pseudo/index.ts';

/** The module's parameters. */
export class DmemfsParams {
  /**
   * Dpages a fault may allocate at once (default 1). More entries per fault relieve
   * allocation pressure and speed faults up, but may leave dpages allocated that
   * no process maps while others find the pool empty; 1 disables the behaviour.
   */
  max_alloc_try_dpages = 1;
}

/**
 * kstrtouint(s, 0): decimal, 0x hex or 0 octal, an optional '+', one trailing
 * newline. EINVAL for anything else, ERANGE above UINT_MAX.
 */
export function kstrtouint(text: string): number {
  let s = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (s.startsWith('+')) s = s.slice(1);
  let digits: string;
  let base: number;
  if (/^0[xX]/.test(s)) {
    digits = s.slice(2);
    base = 16;
    if (!/^[0-9a-fA-F]+$/.test(digits)) throw new Errno('EINVAL');
  } else if (s.startsWith('0')) {
    digits = s;
    base = 8;
    if (!/^[0-7]+$/.test(digits)) throw new Errno('EINVAL');
  } else {
    digits = s;
    base = 10;
    if (!/^[0-9]+$/.test(digits)) throw new Errno('EINVAL');
  }
  const v = parseInt(digits, base);
  if (v > 0xffffffff) throw new Errno('ERANGE');
  return v;
}

/** max_alloc_try_dpages_set(): a uint, at least 1 (else EINVAL). */
export function max_alloc_try_dpages_set(params: DmemfsParams, text: string): void {
  const sval = kstrtouint(text);
  // should be 1 at least
  if (!sval) throw new Errno('EINVAL');
  params.max_alloc_try_dpages = sval;
}

/**
 * The parameters as the boot command line leaves them: `dmemfs.max_alloc_try_dpages=N`
 * (built-in module parameters are parsed with the rest of the command line). A
 * value the setter refuses keeps the default and is reported, as parse_args does.
 */
export function dmemfs_params_from_cmdline(kparams: KernelParams, warn?: (msg: string) => void): DmemfsParams {
  const params = new DmemfsParams();
  const val = kparams.moduleParam('dmemfs', 'max_alloc_try_dpages');
  if (val !== undefined) {
    try {
      max_alloc_try_dpages_set(params, val);
    } catch (e) {
      if (!(e instanceof Errno)) throw e;
      warn?.(`Booting kernel: \`${val}' invalid for parameter \`dmemfs.max_alloc_try_dpages'`);
    }
  }
  return params;
}

/** /sys/module/dmemfs/parameters/max_alloc_try_dpages (0644: param_get_uint / max_alloc_try_dpages_set). */
export function registerDmemfsSysfs(sysRoot: PseudoDir, params: DmemfsParams): void {
  sysRoot.dir('module/dmemfs/parameters').file('max_alloc_try_dpages', {
    show: () => `${params.max_alloc_try_dpages}\n`,
    store: (text) => max_alloc_try_dpages_set(params, text),
    mode: 0o644,
  });
}
