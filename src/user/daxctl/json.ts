/**
 * daxctl's JSON: json-c's object model and its JSON_C_TO_STRING_PRETTY output
 * (json-c json_object.c: two-space indent, `"key":value` without a space, `/`
 * escaped as `\/`), ndctl's number formats (util/json.c display_size,
 * display_hex, util_display_json_array) and the daxctl objects (daxctl/json.c
 * util_daxctl_dev_to_json, util_daxctl_devs_to_list, util_daxctl_region_to_json,
 * util_daxctl_mapping_to_json; daxctl/filter.c).
 *
 * Not modelled: the famfs mode (no fsdev_dax driver here), so a device is
 * "system-ram" or "devdax".
 */
import {
  daxctl_dev_get_memory,
  daxctl_dev_is_enabled,
  daxctl_dev_mappings,
  daxctl_region_get_available_size,
  type DaxctlDev,
  type DaxctlMapping,
  type DaxctlRegion,
} from './libdaxctl.ts';
import { daxctl_memory_is_movable, daxctl_memory_is_online, daxctl_memory_num_sections } from './memory.ts';

/** enum util_json_flags (util/json.h), the ones daxctl uses. */
export const UTIL_JSON_IDLE = 1 << 0;
export const UTIL_JSON_DAX = 1 << 2;
export const UTIL_JSON_DAX_DEVS = 1 << 3;
export const UTIL_JSON_HUMAN = 1 << 4;
export const UTIL_JSON_CONFIGURED = 1 << 7;
export const UTIL_JSON_DAX_MAPPINGS = 1 << 9;

/** A json-c value; numbers may carry a custom serializer (json_object_set_serializer). */
export type JsonValue = string | boolean | JsonNumber | JsonObject | JsonValue[];
/** An int64 with an optional serializer. */
export interface JsonNumber {
  readonly num: number;
  readonly show?: (n: number) => string;
}
/** An object: insertion-ordered keys (json_object_object_add). */
export type JsonObject = Map<string, JsonValue>;

/** json_object_new_int / new_int64. */
export function jint(n: number): JsonNumber {
  return { num: n };
}

/** display_size(): bytes below 5000 KiB as a number, else "X.YY MiB (X.YY MB)" or GiB/GB. */
export function displaySize(bytes: number): string {
  if (bytes < 5000 * 1024) return String(bytes);
  const B = BigInt(bytes);
  const two = BigInt(2);
  const one = BigInt(1);
  const hundred = BigInt(100);
  const cent = (c: bigint): string => `${c / hundred}.${String(c % hundred).padStart(2, '0')}`;
  const small = bytes < 2 * 1024 * 1024 * 1024;
  const cI = small ? (B * BigInt(200) / BigInt(1 << 20) + one) / two : (B * BigInt(200) / BigInt(1 << 30) + one) / two;
  const cJ = small ? (B / (BigInt(1000000) / BigInt(200)) + one) / two : (B / (BigInt(1000000000) / BigInt(200)) + one) / two;
  return small ? `"${cent(cI)} MiB (${cent(cJ)} MB)"` : `"${cent(cI)} GiB (${cent(cJ)} GB)"`;
}

/** display_hex(): `"0x..."` (`"0"` for zero, as %#llx prints it). */
export function displayHex(n: number): string {
  return `"${n === 0 ? '0' : `0x${n.toString(16)}`}"`;
}

/** util_json_object_size(): human-readable with UTIL_JSON_HUMAN. */
export function jsonSize(n: number, flags: number): JsonNumber {
  return flags & UTIL_JSON_HUMAN ? { num: n, show: displaySize } : { num: n };
}

/** util_json_object_hex(): hex strings with UTIL_JSON_HUMAN, else decimal. */
export function jsonHex(n: number, flags: number): JsonNumber {
  return flags & UTIL_JSON_HUMAN ? { num: n, show: displayHex } : { num: n };
}

/** json-c's string escaping (json_escape_str without NOSLASHESCAPE). */
function escape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '/') out += '\\/';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}

/** json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY). */
export function toJsonPretty(v: JsonValue, level = 0): string {
  const indent = (l: number): string => '  '.repeat(l);
  if (typeof v === 'string') return escape(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) {
    if (v.length === 0) return `[\n${indent(level)}]`;
    return `[\n${v.map((x) => indent(level + 1) + toJsonPretty(x, level + 1)).join(',\n')}\n${indent(level)}]`;
  }
  if (v instanceof Map) {
    if (v.size === 0) return `{\n${indent(level)}}`;
    const parts = [...v].map(([k, x]) => `${indent(level + 1)}${escape(k)}:${toJsonPretty(x, level + 1)}`);
    return `{\n${parts.join(',\n')}\n${indent(level)}}`;
  }
  return v.show ? v.show(v.num) : String(v.num);
}

/** util_display_json_array(): a lone element without brackets under UTIL_JSON_HUMAN. */
export function displayJsonArray(arr: readonly JsonValue[], flags: number): string {
  if (arr.length > 1 || !(flags & UTIL_JSON_HUMAN)) return `${toJsonPretty(arr as JsonValue[])}\n`;
  if (arr.length) return `${toJsonPretty(arr[0]!)}\n`;
  return '';
}

/** util_daxctl_dev_filter(): all, the name, or REGION.ID. */
export function util_daxctl_dev_filter(dev: DaxctlDev, ident: string | null): boolean {
  if (ident === null || ident === 'all') return true;
  if (ident === dev.devname) return true;
  const m = /^\s*([+-]?\d+)\.\s*([+-]?\d+)/.exec(ident);
  return m !== null && dev.region.id === Number(m[1]) && dev.id === Number(m[2]);
}

/** util_daxctl_region_filter(): all, N or regionN. */
export function util_daxctl_region_filter(region: DaxctlRegion, ident: string | null): boolean {
  if (ident === null || ident === 'all') return true;
  const m = /^\s*([+-]?\d+)/.exec(ident) ?? /^region\s*([+-]?\d+)/.exec(ident);
  return m !== null && region.id === Number(m[1]);
}

/** util_daxctl_mapping_to_json(). */
export function util_daxctl_mapping_to_json(m: DaxctlMapping, flags: number): JsonObject {
  return new Map<string, JsonValue>([
    ['page_offset', jsonHex(m.pgoff, flags)],
    ['start', jsonHex(m.start, flags)],
    ['end', jsonHex(m.end, flags)],
    ['size', jsonSize(m.end - m.start + 1, flags)],
  ]);
}

/** util_daxctl_dev_to_json(). */
export function util_daxctl_dev_to_json(dev: DaxctlDev, flags: number): JsonObject {
  const mem = daxctl_dev_get_memory(dev);
  const j: JsonObject = new Map();
  j.set('chardev', dev.devname);
  j.set('size', jsonSize(dev.size, flags));
  if (dev.targetNode >= 0) j.set('target_node', jint(dev.targetNode));
  if (dev.align > 0) j.set('align', jsonSize(dev.align, flags));
  j.set('mode', mem ? 'system-ram' : 'devdax');
  if (mem && dev.resource !== 0) {
    const numSections = daxctl_memory_num_sections(mem);
    const numOnline = daxctl_memory_is_online(mem);
    j.set('online_memblocks', jint(numOnline));
    j.set('total_memblocks', jint(numSections));
    const movable = daxctl_memory_is_movable(mem);
    if (movable === 1) j.set('movable', true);
    else if (movable === 0) j.set('movable', false);
  }
  if (!daxctl_dev_is_enabled(dev)) j.set('state', 'disabled');
  if (!(flags & UTIL_JSON_DAX_MAPPINGS)) return j;
  const maps = daxctl_dev_mappings(dev);
  if (maps.length) j.set('mappings', maps.map((m) => util_daxctl_mapping_to_json(m, flags)));
  return j;
}

/** util_daxctl_devs_to_list(): appends to `jdevs` (created on the first device); idle devices need -i. */
export function util_daxctl_devs_to_list(region: DaxctlRegion, jdevs: JsonValue[] | null, ident: string | null, flags: number): JsonValue[] | null {
  for (const dev of region.devs()) {
    if (!util_daxctl_dev_filter(dev, ident)) continue;
    if (!(flags & (UTIL_JSON_IDLE | UTIL_JSON_CONFIGURED)) && !dev.size) continue;
    jdevs ??= [];
    jdevs.push(util_daxctl_dev_to_json(dev, flags));
  }
  return jdevs;
}

/** util_daxctl_region_to_json(). */
export function util_daxctl_region_to_json(region: DaxctlRegion, ident: string | null, flags: number): JsonObject | null {
  const j: JsonObject = new Map();
  if (!(flags & UTIL_JSON_DAX)) {
    if (!region.path.startsWith('/sys/devices')) return null;
    j.set('path', region.path.slice('/sys/devices'.length));
  }
  j.set('id', jint(region.id));
  if (region.size >= 0) j.set('size', jsonSize(region.size, flags));
  const avail = daxctl_region_get_available_size(region);
  if (avail) j.set('available_size', jsonSize(avail, flags));
  if (region.align >= 0) j.set('align', jint(region.align));
  if (!(flags & UTIL_JSON_DAX_DEVS)) return j;
  const devs = util_daxctl_devs_to_list(region, null, ident, flags);
  if (devs) j.set('devices', devs);
  return j;
}
