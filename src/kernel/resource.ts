/**
 * The physical resource tree behind /proc/iomem (kernel/resource.c:
 * request_resource, insert_resource, r_show). Children nest inside their
 * parent; siblings never overlap.
 */

/** struct resource: [start, end] inclusive, as Linux keeps it. */
export class Resource {
  readonly children: Resource[] = [];
  constructor(
    readonly name: string,
    readonly start: number,
    /** Inclusive. */
    readonly end: number,
  ) {}
}

/** The iomem root. */
export class ResourceTree {
  readonly root = new Resource('PCI mem', 0, 2 ** 52 - 1);

  /**
   * insert_resource: place `res` under the deepest resource that contains it,
   * adopting existing siblings it contains. Returns false on a partial overlap
   * (the kernel's -EBUSY), leaving the tree unchanged.
   */
  insert(res: Resource, parent: Resource = this.root): boolean {
    // A resource that contains the new one (or has the same range) becomes its parent.
    for (const c of parent.children) if (c.start <= res.start && c.end >= res.end) return this.insert(res, c);
    const inside: Resource[] = [];
    for (const c of parent.children) {
      const overlap = c.start <= res.end && c.end >= res.start;
      if (!overlap) continue;
      if (c.start >= res.start && c.end <= res.end) inside.push(c);
      else return false;
    }
    for (const c of inside) parent.children.splice(parent.children.indexOf(c), 1);
    res.children.push(...inside);
    res.children.sort((a, b) => a.start - b.start);
    parent.children.push(res);
    parent.children.sort((a, b) => a.start - b.start);
    return true;
  }

  /** Remove a resource (release_resource); its children go with it. */
  remove(res: Resource, parent: Resource = this.root): boolean {
    const i = parent.children.indexOf(res);
    if (i >= 0) {
      parent.children.splice(i, 1);
      return true;
    }
    return parent.children.some((c) => this.remove(res, c));
  }

  /** /proc/iomem: `%08llx-%08llx : name`, two spaces of indent per level. */
  render(): string {
    const out: string[] = [];
    const walk = (r: Resource, depth: number): void => {
      for (const c of r.children) {
        out.push(`${'  '.repeat(depth)}${hex8(c.start)}-${hex8(c.end)} : ${c.name}\n`);
        walk(c, depth + 1);
      }
    };
    walk(this.root, 0);
    return out.join('');
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}
