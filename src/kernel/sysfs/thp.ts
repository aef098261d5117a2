/**
 * /sys/kernel/mm/transparent_hugepage (mm/huge_memory.c enabled_show/store,
 * defrag_show/store, use_zero_page_show/store, hpage_pmd_size_show).
 */
import { Errno } from '../../lib/errno.ts';
import { PMD_SIZE } from '../../lib/size.ts';
import type { ThpSettings } from '../mm/kmem.ts';

const ENABLED = ['always', 'madvise', 'never'] as const;
const DEFRAG = ['always', 'defer', 'defer+madvise', 'madvise', 'never'] as const;

/** sysfs_streq: equal, ignoring one trailing newline on either side. */
export function sysfs_streq(a: string, b: string): boolean {
  const strip = (s: string): string => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return strip(a) === strip(b);
}

function choices(all: readonly string[], current: string): string {
  return all.map((c) => (c === current ? `[${c}]` : c)).join(' ') + '\n';
}

/** The attribute files of the directory, as name → show/store. */
export function thpAttributes(thp: ThpSettings): Record<string, { show: () => string; store?: (text: string) => void }> {
  return {
    enabled: {
      show: () => choices(ENABLED, thp.enabled),
      store: (text) => {
        const v = ENABLED.find((c) => sysfs_streq(text, c));
        if (!v) throw new Errno('EINVAL');
        thp.enabled = v;
      },
    },
    defrag: {
      show: () => choices(DEFRAG, thp.defrag),
      store: (text) => {
        const v = DEFRAG.find((c) => sysfs_streq(text, c));
        if (!v) throw new Errno('EINVAL');
        thp.defrag = v;
      },
    },
    use_zero_page: {
      show: () => `${thp.use_zero_page ? 1 : 0}\n`,
      store: (text) => {
        // kstrtoul: a number, optionally followed by one newline.
        const m = /^(\d+)\n?$/.exec(text);
        if (!m) throw new Errno('EINVAL');
        thp.use_zero_page = Number(m[1]) !== 0;
      },
    },
    hpage_pmd_size: { show: () => `${PMD_SIZE}\n` },
  };
}
