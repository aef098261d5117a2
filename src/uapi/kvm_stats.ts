/**
 * KVM's binary statistics (include/uapi/linux/kvm.h struct kvm_stats_header,
 * struct kvm_stats_desc, KVM_GET_STATS_FD; virt/kvm/binary_stats.c
 * kvm_stats_read; Documentation/virt/kvm/api.rst "KVM_GET_STATS_FD"). A VM fd
 * and each vCPU fd hand out a read-only fd whose contents are:
 *
 *   off                      what
 *   0                        struct kvm_stats_header (6 × __u32)
 *   id_offset                the id string, name_size bytes ("kvm-PID", "kvm-PID/vcpu-N")
 *   desc_offset              num_desc × (struct kvm_stats_desc + name_size bytes of name)
 *   data_offset              the values: desc.size × __u64 at data_offset + desc.offset
 *
 * The header, id and descriptors never change; the data is read fresh at each
 * pread. This module encodes (for the model's kernel) and decodes (for vmm) it.
 */

/** _IO(KVMIO, 0xce) on a VM or vCPU fd: returns the stats fd. */
export const KVM_GET_STATS_FD = 0xaece;
/** Bytes of each descriptor's name (and of the id string). */
export const KVM_STATS_NAME_SIZE = 48;
/** sizeof(struct kvm_stats_header). */
export const KVM_STATS_HEADER_SIZE = 24;
/** sizeof(struct kvm_stats_desc) without the name. */
export const KVM_STATS_DESC_SIZE = 16;

export const KVM_STATS_TYPE_CUMULATIVE = 0x0;
export const KVM_STATS_TYPE_INSTANT = 0x1;
export const KVM_STATS_TYPE_PEAK = 0x2;
export const KVM_STATS_TYPE_MASK = 0xf;
export const KVM_STATS_UNIT_NONE = 0x0 << 4;
export const KVM_STATS_BASE_POW10 = 0x0 << 8;

/** One statistic's description (struct kvm_stats_desc). */
export interface KvmStatsDesc {
  name: string;
  flags: number;
  exponent: number;
  /** Number of __u64 values (1 for counters, more for histograms). */
  size: number;
  /** Byte offset of the values from data_offset. */
  offset: number;
  bucket_size: number;
}

/** The fixed part of a stats fd: header, id and descriptors. */
export interface KvmStatsLayout {
  id: string;
  descs: KvmStatsDesc[];
  data_offset: number;
}

/** A layout for counters (size 1 each, laid out one __u64 after another). */
export function kvm_stats_layout(id: string, names: readonly { name: string; flags: number }[]): KvmStatsLayout {
  const descs = names.map((n, i) => ({ name: n.name, flags: n.flags, exponent: 0, size: 1, offset: i * 8, bucket_size: 0 }));
  const data_offset = KVM_STATS_HEADER_SIZE + KVM_STATS_NAME_SIZE + descs.length * (KVM_STATS_DESC_SIZE + KVM_STATS_NAME_SIZE);
  return { id, descs, data_offset };
}

/** The bytes of a stats fd for `values` (one per descriptor, in order). */
export function kvm_stats_encode(l: KvmStatsLayout, values: ArrayLike<number>): Uint8Array {
  const b = new Uint8Array(l.data_offset + l.descs.length * 8);
  const v = new DataView(b.buffer);
  const descOffset = KVM_STATS_HEADER_SIZE + KVM_STATS_NAME_SIZE;
  [0, KVM_STATS_NAME_SIZE, l.descs.length, KVM_STATS_HEADER_SIZE, descOffset, l.data_offset].forEach((x, i) => v.setUint32(i * 4, x, true));
  const putName = (at: number, s: string): void => {
    for (let i = 0; i < Math.min(s.length, KVM_STATS_NAME_SIZE - 1); i++) b[at + i] = s.charCodeAt(i);
  };
  putName(KVM_STATS_HEADER_SIZE, l.id);
  l.descs.forEach((d, i) => {
    const at = descOffset + i * (KVM_STATS_DESC_SIZE + KVM_STATS_NAME_SIZE);
    v.setUint32(at, d.flags, true);
    v.setInt16(at + 4, d.exponent, true);
    v.setUint16(at + 6, d.size, true);
    v.setUint32(at + 8, d.offset, true);
    v.setUint32(at + 12, d.bucket_size, true);
    putName(at + KVM_STATS_DESC_SIZE, d.name);
    v.setBigUint64(l.data_offset + d.offset, BigInt(values[i] ?? 0), true);
  });
  return b;
}

/** A decoded stats header. */
export interface KvmStatsHeader {
  flags: number;
  name_size: number;
  num_desc: number;
  id_offset: number;
  desc_offset: number;
  data_offset: number;
}

/** Decode the header (the first 24 bytes). */
export function kvm_stats_header(b: Uint8Array): KvmStatsHeader {
  if (b.length < KVM_STATS_HEADER_SIZE) throw new Error('kvm stats: short header');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u = (i: number): number => v.getUint32(i * 4, true);
  return { flags: u(0), name_size: u(1), num_desc: u(2), id_offset: u(3), desc_offset: u(4), data_offset: u(5) };
}

/** Decode the id and descriptors from the bytes from 0 to data_offset. */
export function kvm_stats_descs(b: Uint8Array): { id: string; descs: KvmStatsDesc[] } {
  const h = kvm_stats_header(b);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const str = (at: number): string => {
    let s = '';
    for (let i = 0; i < h.name_size && b[at + i]; i++) s += String.fromCharCode(b[at + i]!);
    return s;
  };
  const descs: KvmStatsDesc[] = [];
  for (let i = 0; i < h.num_desc; i++) {
    const at = h.desc_offset + i * (KVM_STATS_DESC_SIZE + h.name_size);
    descs.push({
      flags: v.getUint32(at, true),
      exponent: v.getInt16(at + 4, true),
      size: v.getUint16(at + 6, true),
      offset: v.getUint32(at + 8, true),
      bucket_size: v.getUint32(at + 12, true),
      name: str(at + KVM_STATS_DESC_SIZE),
    });
  }
  return { id: str(h.id_offset), descs };
}

/** The first value of each statistic from the data block (histograms: their first bucket). */
export function kvm_stats_values(descs: readonly KvmStatsDesc[], data: Uint8Array): Map<string, number> {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const m = new Map<string, number>();
  for (const d of descs) if (d.offset + 8 <= data.length) m.set(d.name, Number(v.getBigUint64(d.offset, true)));
  return m;
}
