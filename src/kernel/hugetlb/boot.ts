/**
 * HugeTLB boot parameters and boot-time pools (mm/hugetlb_cmdline.c
 * hugetlb_add_param/hugetlb_parse_params, hugepages_setup, hugepagesz_setup,
 * default_hugepagesz_setup; mm/hugetlb.c hugetlb_bootmem_alloc,
 * hugetlb_hstate_alloc_pages, alloc_bootmem_huge_page, hugetlb_init,
 * gather_bootmem_prealloc, report_hugepages; mm/hugetlb_vmemmap.c
 * hugetlb_free_vmemmap=).
 *
 * As in Linux ≥ 6.15 the three size parameters are early_params that only
 * record their text; hugetlb_bootmem_alloc() (a reserve hook here: after NUMA
 * setup, before the memmap) replays them in order and takes gigantic pages from
 * memblock. 2 MiB boot pages come from the page allocator in hugetlb_init().
 */
import { memparse } from '../../lib/size.ts';
import type { KernelParams } from '../boot/cmdline.ts';
import type { ReserveHook } from '../boot/setup.ts';
import { MEMBLOCK_ALLOC_ACCESSIBLE } from '../mm/memblock.ts';
import type { KernelLog } from '../printk.ts';
import { GIGANTIC_ORDER, HUGETLB_PAGE_ORDER, string_get_size } from './hstate.ts';
import type { HugetlbPoolsImpl } from './pool.ts';
import { hugetlb_vmemmap_optimizable_size } from './vmemmap.ts';

const PAGE_SHIFT = 12;
/** MAX_NUMNODES (CONFIG_NODES_SHIFT=6). */
const MAX_NUMNODES = 64;

/** What the command line asked for one size (the parsed part of struct hstate). */
interface ParsedHstate {
  order: number;
  max: number;
  node: number[];
}

/** State of the boot parameters and the boot-time pages, shared by the hook and hugetlb_init. */
export class HugetlbBoot {
  private readonly params: [string, (s: string) => void][] = [];
  /** Hstates in the order the command line created them (hstates[] during boot). */
  readonly parsed: ParsedHstate[] = [];
  private parsed_hstate: ParsedHstate | null = null;
  private parsed_valid_hugepagesz = true;
  private parsed_default_hugepagesz = false;
  private default_order = -1;
  private default_hstate_max_huge_pages = 0;
  private readonly default_hugepages_in_node = new Array<number>(MAX_NUMNODES).fill(0);
  private last_mhp: unknown = null;
  /** Gigantic pages from memblock (huge_boot_pages): physical address, order. */
  readonly bootPages: { addr: number; order: number }[] = [];
  hvo = false;
  private nrCpus = 1;
  private online: number[] = [];

  constructor(private readonly log: KernelLog) {}

  /** Register the early parameters. */
  register(params: KernelParams): void {
    const add = (name: string, fn: (s: string) => void): void =>
      params.early_param(name, (v) => {
        // hugetlb_add_param(): recorded now, parsed in hugetlb_bootmem_alloc().
        this.params.push([v ?? '', fn]);
        return 0;
      });
    add('hugepages', (s) => this.hugepages_setup(s));
    add('hugepagesz', (s) => this.hugepagesz_setup(s));
    add('default_hugepagesz', (s) => this.default_hugepagesz_setup(s));
    params.early_param('hugetlb_free_vmemmap', (v) => {
      // kstrtobool(): y/Y/1/n/N/0, on/off; anything else leaves the setting and is malformed.
      const b = kstrtobool(v ?? '');
      if (b === null) return -22;
      this.hvo = b;
      return 0;
    });
  }

  private find(order: number): ParsedHstate | undefined {
    return this.parsed.find((p) => p.order === order);
  }

  /** hugetlb_add_hstate(): a new size becomes parsed_hstate; an existing one is left alone. */
  private add_hstate(order: number): void {
    if (this.find(order)) return;
    const h = { order, max: 0, node: new Array<number>(MAX_NUMNODES).fill(0) };
    this.parsed.push(h);
    this.parsed_hstate = h;
  }

  /** arch_hugetlb_valid_size() on x86-64 with GBPAGES: 2 MiB or 1 GiB. */
  private static valid(size: number): boolean {
    return size === 2 ** (HUGETLB_PAGE_ORDER + PAGE_SHIFT) || size === 2 ** (GIGANTIC_ORDER + PAGE_SHIFT);
  }

  private hugepages_setup(s: string): void {
    if (!this.parsed_valid_hugepagesz) {
      this.log.warn(`HugeTLB: hugepages=${s} does not follow a valid hugepagesz, ignoring`);
      this.parsed_valid_hugepagesz = true;
      return;
    }
    const toDefault = this.parsed.length === 0;
    const mhp: unknown = toDefault ? 'default' : this.parsed_hstate;
    if (mhp === this.last_mhp) {
      this.log.warn(`HugeTLB: hugepages= specified twice without interleaving hugepagesz=, ignoring hugepages=${s}`);
      return;
    }
    const setMax = (v: number, add: boolean): void => {
      if (toDefault) this.default_hstate_max_huge_pages = add ? this.default_hstate_max_huge_pages + v : v;
      else this.parsed_hstate!.max = add ? this.parsed_hstate!.max + v : v;
    };
    let p = 0;
    const invalid = (): void => {
      this.log.warn(`HugeTLB: Invalid hugepages parameter ${s.slice(p)}`);
      // hugepages_clear_pages_in_node()
      if (toDefault) {
        this.default_hstate_max_huge_pages = 0;
        this.default_hugepages_in_node.fill(0);
      } else {
        this.parsed_hstate!.max = 0;
        this.parsed_hstate!.node.fill(0);
      }
    };
    while (p < s.length) {
      // sscanf("%lu%n"): leading white space, then digits.
      let m = /^\s*(\d+)/.exec(s.slice(p));
      if (!m) return invalid();
      let tmp = Number(m[1]);
      let count = m[0].length;
      if (s[p + count] === ':') {
        if (tmp >= MAX_NUMNODES || !this.online.includes(tmp)) return invalid();
        const node = tmp;
        p += count + 1;
        m = /^\s*(\d+)/.exec(s.slice(p));
        if (!m) return invalid();
        tmp = Number(m[1]);
        count = m[0].length;
        if (toDefault) this.default_hugepages_in_node[node] = tmp;
        else this.parsed_hstate!.node[node] = tmp;
        setMax(tmp, true);
        if (s[p + count] === ',') p += count + 1;
        else break;
      } else {
        if (p !== 0) return invalid();
        setMax(tmp, false);
        break;
      }
    }
    this.last_mhp = mhp;
  }

  private hugepagesz_setup(s: string): void {
    this.parsed_valid_hugepagesz = false;
    const size = memparse(s).value;
    if (!HugetlbBoot.valid(size)) {
      this.log.err(`HugeTLB: unsupported hugepagesz=${s}`);
      return;
    }
    const order = Math.log2(size) - PAGE_SHIFT;
    const h = this.find(order);
    if (h) {
      // Allowed once more only for the default size whose count was not given yet.
      if (!this.parsed_default_hugepagesz || order !== this.default_order || h.max) {
        this.log.warn(`HugeTLB: hugepagesz=${s} specified twice, ignoring`);
        return;
      }
      this.parsed_hstate = h;
      this.parsed_valid_hugepagesz = true;
      return;
    }
    this.add_hstate(order);
    this.parsed_valid_hugepagesz = true;
  }

  private default_hugepagesz_setup(s: string): void {
    this.parsed_valid_hugepagesz = false;
    if (this.parsed_default_hugepagesz) {
      this.log.err(`HugeTLB: default_hugepagesz previously specified, ignoring ${s}`);
      return;
    }
    const size = memparse(s).value;
    if (!HugetlbBoot.valid(size)) {
      this.log.err(`HugeTLB: unsupported default_hugepagesz=${s}`);
      return;
    }
    const order = Math.log2(size) - PAGE_SHIFT;
    this.add_hstate(order);
    this.parsed_valid_hugepagesz = true;
    this.parsed_default_hugepagesz = true;
    this.default_order = order;
    if (this.default_hstate_max_huge_pages) {
      const h = this.find(order)!;
      h.max = this.default_hstate_max_huge_pages;
      for (let i = 0; i < MAX_NUMNODES; i++) if (this.default_hugepages_in_node[i]) h.node[i] = this.default_hugepages_in_node[i]!;
      this.default_hstate_max_huge_pages = 0;
    }
  }

  /** hugetlb_bootmem_alloc(): replay the parameters, then take gigantic pages from memblock. */
  readonly reserveHook: ReserveHook = ({ memblock, nodeRanges }) => {
    this.online = [...new Set(nodeRanges.map((r) => r.nid))].sort((a, b) => a - b);
    for (const [v, fn] of this.params) fn(v);
    for (const h of this.parsed) {
      if (h.order !== GIGANTIC_ORDER) continue;
      const size = 2 ** (h.order + PAGE_SHIFT);
      const nodeSpecific = h.node.some((n) => n > 0);
      if (nodeSpecific) {
        for (const nid of this.online) {
          const want = h.node[nid]!;
          if (!want) continue;
          let i = 0;
          for (; i < want; i++) {
            // hugetlb_hstate_alloc_pages_onenode → memblock_alloc_exact_nid_raw.
            const m = memblock.alloc_exact_nid_raw(size, size, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
            if (!m) break;
            this.bootPages.push({ addr: m, order: h.order });
          }
          if (i < want) {
            this.log.warn(`HugeTLB: allocating ${want} of page size ${string_get_size(size)} failed node${nid}.  Only allocated ${i} hugepages.`);
            h.max -= want - i;
            h.node[nid] = i;
          }
        }
        continue;
      }
      let next = 0;
      let i = 0;
      for (; i < h.max; i++) {
        // alloc_bootmem_huge_page(h, NUMA_NO_NODE): nodes in turn, memblock_alloc_try_nid_raw.
        let m = 0;
        for (let k = 0; k < this.online.length && !m; k++) {
          const nid = this.online[next % this.online.length]!;
          next++;
          m = memblock.alloc_try_nid_raw(size, size, 0, MEMBLOCK_ALLOC_ACCESSIBLE, nid);
        }
        if (!m) break;
        this.bootPages.push({ addr: m, order: h.order });
      }
      if (i < h.max) {
        this.log.warn(`HugeTLB: allocating ${h.max} of page size ${string_get_size(size)} failed.  Only allocated ${i} hugepages.`);
        h.max = i;
      }
    }
  };

  /**
   * hugetlb_init(): the default hstate, 2 MiB boot pages from the page
   * allocator, gather_bootmem_prealloc() and report_hugepages().
   */
  hugetlb_init(pool: HugetlbPoolsImpl, nrCpus: number): void {
    this.nrCpus = nrCpus;
    pool.vmemmap.enabled = this.hvo;
    const byOrder = (o: number): ParsedHstate | undefined => this.find(o);
    if (this.parsed_default_hugepagesz) pool.set_default(pool.size_to_hstate(2 ** (this.default_order + PAGE_SHIFT))!);
    let def2m = byOrder(HUGETLB_PAGE_ORDER);
    if (!this.parsed_default_hugepagesz && this.default_hstate_max_huge_pages) {
      if (def2m?.max) {
        this.log.warn(`HugeTLB: Ignoring hugepages=${def2m.max} associated with ${string_get_size(pool.hstates[0]!.size)} page size`);
        this.log.warn(`HugeTLB: Using hugepages=${this.default_hstate_max_huge_pages} for number of default huge pages`);
      }
      def2m ??= { order: HUGETLB_PAGE_ORDER, max: 0, node: new Array<number>(MAX_NUMNODES).fill(0) };
      if (!this.find(HUGETLB_PAGE_ORDER)) this.parsed.push(def2m);
      def2m.max = this.default_hstate_max_huge_pages;
      for (const n of this.online) def2m.node[n] = this.default_hugepages_in_node[n]!;
    }
    // hugetlb_init_hstates(): non-gigantic pools from the page allocator.
    const h2 = pool.hstates[0]!;
    const p2 = byOrder(HUGETLB_PAGE_ORDER);
    if (p2 && p2.max > 0) {
      const nodes = pool.memoryNodes();
      if (p2.node.some((n) => n > 0)) {
        for (const nid of nodes) {
          const want = p2.node[nid]!;
          if (!want) continue;
          let i = 0;
          for (; i < want; i++) {
            const page = pool.alloc_pool_huge_folio(h2, [nid]);
            if (!page) break;
            pool.enqueue_hugetlb_folio(page);
          }
          if (i < want) {
            this.log.warn(`HugeTLB: allocating ${want} of page size ${string_get_size(h2.size)} failed node${nid}.  Only allocated ${i} hugepages.`);
          }
        }
      } else {
        // hugetlb_pages_alloc_boot(): padata workers, a quarter of the CPUs; the virtual clock does not move.
        let i = 0;
        for (; i < p2.max; i++) {
          const page = pool.alloc_pool_huge_folio(h2, nodes);
          if (!page) break;
          pool.enqueue_hugetlb_folio(page);
        }
        this.log.info(`HugeTLB: allocation took 0ms with hugepage_allocation_threads=${Math.max(1, Math.floor(this.nrCpus / 4))}`);
        if (i < p2.max) this.log.warn(`HugeTLB: allocating ${p2.max} of page size ${string_get_size(h2.size)} failed.  Only allocated ${i} hugepages.`);
      }
    }
    // gather_bootmem_prealloc(): huge_boot_pages is LIFO.
    const g = pool.hstates[1]!;
    for (const bp of [...this.bootPages].reverse()) pool.add_bootmem_page(g, bp.addr / 4096);
    for (const h of pool.hstates) h.max_huge_pages = h.nr_huge_pages;
    // report_hugepages(), in hstates[] order: the command line's sizes, then the 1G hstate
    // gigantic_pages_init() adds at arch_initcall, then the 2M one hugetlb_init() adds.
    const order = [...this.parsed.map((p) => p.order), GIGANTIC_ORDER, HUGETLB_PAGE_ORDER].filter((o, i, a) => a.indexOf(o) === i);
    for (const h of order.map((o) => pool.hstates.find((x) => x.order === o)!)) {
      const buf = string_get_size(h.size);
      this.log.info(`HugeTLB: registered ${buf} page size, pre-allocated ${h.nr_huge_pages} pages`);
      this.log.info(`HugeTLB: ${hugetlb_vmemmap_optimizable_size(h.order) / 1024} KiB vmemmap can be freed for a ${buf} page`);
    }
  }
}

/** kstrtobool(): true/false, or null when the text is not a boolean. */
export function kstrtobool(s: string): boolean | null {
  switch (s[0]) {
    case 'y':
    case 'Y':
    case 't':
    case 'T':
    case '1':
      return true;
    case 'n':
    case 'N':
    case 'f':
    case 'F':
    case '0':
      return false;
    case 'o':
    case 'O':
      if (s[1] === 'n' || s[1] === 'N') return true;
      if (s[1] === 'f' || s[1] === 'F') return false;
      return null;
    default:
      return null;
  }
}
