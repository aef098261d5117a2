/**
 * Where guest RAM goes in guest physical memory: QEMU's pc (i440fx) machine
 * splits it around the PCI hole below 4 GiB (hw/i386/pc_piix.c pc_init1's
 * below_4g_mem_size / above_4g_mem_size with max_ram_below_4g and
 * gigabyte_align; hw/i386/pc.c pc_memory_init's "ram-below-4g" and
 * "ram-above-4g" aliases of the one RAM block). Each alias becomes its own
 * KVM memory slot (accel/kvm/kvm-all.c kvm_set_phys_mem) and its own VFIO DMA
 * mapping (hw/vfio/listener.c vfio_listener_region_add → vfio_container_dma_map).
 *
 *   RAM block   0 ─────────────── lowmem ──────────────────── size
 *               │  ram-below-4g    │  ram-above-4g             │
 *   GPA         0 ────── lowmem    4 GiB ──── 4 GiB + size − lowmem
 *                          └ PCI hole, MSI window at 0xfee00000 ┘
 *
 * Knowingly simpler than QEMU: no max-ram-below-4g machine option (its default
 * 3.5 GiB), no VGA/ROM holes below 1 MiB (QEMU's low RAM is several slots
 * there), and RAM above 4 GiB always starts at 4 GiB (QEMU moves it to 1 TiB
 * on AMD hosts when it would cross the HyperTransport window,
 * pc_set_amd_above_4g_mem_start).
 */

/** pc_init1's default max_ram_below_4g (the traditional 3.5 GiB split). */
export const PC_MAX_RAM_BELOW_4G = 0xe0000000;
/** gigabyte_align (every current pc machine type): a split guest gets 3 GiB below 4 GiB. */
export const PC_GIGABYTE_ALIGNED_LOWMEM = 0xc0000000;
/** x86ms->above_4g_mem_start. */
export const PC_ABOVE_4G_MEM_START = 2 ** 32;

/** One alias of the RAM block in guest physical memory. */
export interface RamRegion {
  /** Guest physical address. */
  gpa: number;
  /** Bytes. */
  size: number;
  /** Offset in the RAM block (hva = block hva + offset). */
  offset: number;
}

/**
 * pc_init1's split: RAM of at least max_ram_below_4g gets lowmem = 3 GiB
 * (gigabyte_align), and everything at or above lowmem goes above 4 GiB.
 */
export function pcRamSplit(ramSize: number): { below4g: number; above4g: number } {
  let lowmem = PC_MAX_RAM_BELOW_4G;
  if (ramSize >= PC_MAX_RAM_BELOW_4G && lowmem > PC_GIGABYTE_ALIGNED_LOWMEM) lowmem = PC_GIGABYTE_ALIGNED_LOWMEM;
  return ramSize >= lowmem ? { below4g: lowmem, above4g: ramSize - lowmem } : { below4g: ramSize, above4g: 0 };
}

/** pc_memory_init's aliases: ram-below-4g at GPA 0 and, when there is more, ram-above-4g at 4 GiB. */
export function pcRamRegions(ramSize: number): RamRegion[] {
  const { below4g, above4g } = pcRamSplit(ramSize);
  const regions: RamRegion[] = [{ gpa: 0, size: below4g, offset: 0 }];
  if (above4g > 0) regions.push({ gpa: PC_ABOVE_4G_MEM_START, size: above4g, offset: below4g });
  return regions;
}

/** The GPA of a RAM block offset, or -1 when the offset is outside every region. */
export function ramOffsetToGpa(regions: readonly RamRegion[], offset: number): number {
  for (const r of regions) if (offset >= r.offset && offset < r.offset + r.size) return r.gpa + (offset - r.offset);
  return -1;
}

/** The hole the guest program skips ([0, 0) when RAM is in one piece): from the end of the first region to the second. */
export function ramHole(regions: readonly RamRegion[]): { start: number; end: number } {
  return regions.length > 1 ? { start: regions[0]!.gpa + regions[0]!.size, end: regions[1]!.gpa } : { start: 0, end: 0 };
}
