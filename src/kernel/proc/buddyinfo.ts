/** /proc/buddyinfo (mm/vmstat.c frag_show, frag_show_print). */
import { NR_PAGE_ORDERS, type PageAllocator } from '../mm/page_alloc.ts';

/** One line per populated zone: `Node N, zone NAME` then free_area[order].nr_free for every order. */
export function frag_show(buddy: PageAllocator): string {
  let out = '';
  for (const node of buddy.nodes) {
    for (const z of node) {
      if (!z.populated) continue;
      out += `Node ${z.nid}, zone ${z.name.padStart(8)} `;
      for (let o = 0; o < NR_PAGE_ORDERS; o++) out += `${String(z.nr_free[o]).padStart(6)} `;
      out += '\n';
    }
  }
  return out;
}
