/**
 * The device commands' command lines (pmem/ndctl daxctl/device.c: the option
 * tables, parse_device_options, parse_device_file for --input,
 * parse_config_reconfig for -C) and util/size.c __parse_size64.
 */
import { O_RDONLY } from '../../uapi/fcntl.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { parseOptions, usageWithOptions, ParseOptionsExit, type OptionSpec, type OptionValue } from '../parse_options.ts';
import { readAll, writeStr } from '../program.ts';
import { strerror } from './sysfs.ts';

/** enum device_action. */
export type DeviceAction = 'reconfig' | 'online' | 'offline' | 'create' | 'disable' | 'enable' | 'destroy';

const BASE: OptionSpec[] = [
  { type: 'string', short: 'r', long: 'region', argh: 'region-id', help: 'filter by region' },
  { type: 'boolean', short: 'u', long: 'human', help: 'use human friendly number formats' },
  { type: 'boolean', short: 'v', long: 'verbose', help: 'emit more debug messages' },
];
const RECONFIG: OptionSpec[] = [
  { type: 'string', short: 'm', long: 'mode', argh: 'mode', help: 'mode to switch the device to' },
  { type: 'boolean', short: 'N', long: 'no-online', help: "don't auto-online memory sections" },
  { type: 'boolean', short: 'f', long: 'force', help: 'attempt to offline memory sections before reconfiguration' },
  { type: 'boolean', short: 'C', long: 'check-config', help: 'use config files to determine parameters for the operation' },
];
const CREATE: OptionSpec[] = [
  { type: 'string', short: 's', long: 'size', argh: 'size', help: 'size to switch the device to' },
  { type: 'string', short: 'a', long: 'align', argh: 'align', help: 'alignment to switch the device to' },
  { type: 'string', long: 'input', argh: 'input', help: 'input device JSON file' },
];
const DESTROY: OptionSpec[] = [{ type: 'boolean', short: 'f', long: 'force', help: 'attempt to disable before destroying device' }];
const ZONE: OptionSpec[] = [{ type: 'boolean', long: 'no-movable', help: 'online memory in ZONE_NORMAL' }];

/** Each command's option table. */
export const OPTIONS: Readonly<Record<DeviceAction, readonly OptionSpec[]>> = {
  create: [...BASE, ...CREATE, ...RECONFIG, ...ZONE],
  reconfig: [...BASE, ...CREATE, ...RECONFIG, ...ZONE],
  online: [...BASE, ...ZONE],
  offline: [...BASE],
  disable: [...BASE],
  enable: [...BASE],
  destroy: [...BASE, ...DESTROY],
};

/** One range of an --input file, ordered by page offset. */
export interface InputMapping {
  start: number;
  end: number;
  pgoff: number;
}

/** What the command line asks for (the C file's `param` plus the parsed numbers). */
export interface DeviceParams {
  device: string | null;
  region: string | null;
  mode: string | null;
  noOnline: boolean;
  noMovable: boolean;
  force: boolean;
  human: boolean;
  verbose: boolean;
  /** -1 when not given (or unparsable, as __parse_size64 returns ULLONG_MAX). */
  size: number;
  align: number;
  reconfigMode: 'devdax' | 'system-ram' | null;
  maps: InputMapping[];
}

const SIZE_SUFFIX: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** __parse_size64(): strtoull(str, 0) with one k/m/g/t suffix; -1 (ULLONG_MAX) when invalid. */
export function parseSize64(str: string): number {
  // strtoull: no digits converts nothing (0, the whole string left over).
  const m = /^\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)(.*)$/.exec(str) ?? [str, '0', str];
  const digits = m[1]!;
  let val = /^0[xX]/.test(digits) ? parseInt(digits.slice(2), 16) : digits.length > 1 && digits[0] === '0' ? parseInt(digits, 8) : Number(digits);
  let rest = m[2]!;
  const unit = SIZE_SUFFIX[rest.charAt(0).toLowerCase()];
  if (unit !== undefined) {
    val *= unit;
    rest = rest.slice(1);
  }
  if (rest !== '' || val >= 2 ** 64) return -1;
  return val;
}

/** json_object_get_int64(): numbers as they are, strings by strtoll base 10. */
function jsonInt64(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string') {
    const m = /^\s*[+-]?\d+/.exec(v);
    return m ? Number(m[0]) : 0;
  }
  return typeof v === 'boolean' ? Number(v) : 0;
}

/** json_object_get_string(): strings as they are, other values as json-c prints them. */
function jsonString(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** parse_device_file(): 0 or -errno; fills align, size, region and the mappings. */
function parseDeviceFile(sys: Syscalls, filename: string, raw: Map<string, OptionValue>, p: DeviceParams): number {
  const EINVAL = -22;
  let obj: unknown;
  try {
    const fd = sys.open(filename, O_RDONLY);
    try {
      obj = JSON.parse(readAll(sys, fd));
    } finally {
      sys.close(fd);
    }
  } catch {
    return EINVAL;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return EINVAL;
  const o = obj as Record<string, unknown>;
  if (!('align' in o)) return EINVAL;
  raw.set('align', jsonString(o.align));
  if (!('size' in o)) return EINVAL;
  raw.set('size', jsonString(o.size));
  if (!('chardev' in o)) return EINVAL;
  const m = /^dax(\d+)\.(\d+)/.exec(jsonString(o.chardev));
  if (!m) return EINVAL;
  raw.set('region', String(Number(m[1])));
  if (!('mappings' in o) || !Array.isArray(o.mappings)) return EINVAL;
  const list = o.mappings as unknown[];
  const maps: InputMapping[] = [];
  for (const j of list) {
    if (typeof j !== 'object' || j === null) return EINVAL;
    const e = j as Record<string, unknown>;
    if (!('start' in e) || !('end' in e) || !('page_offset' in e)) return EINVAL;
    maps.push({ start: jsonInt64(e.start), end: jsonInt64(e.end), pgoff: jsonInt64(e.page_offset) });
  }
  maps.sort((a, b) => a.pgoff - b.pgoff);
  p.maps = maps;
  return 0;
}

/** The text parse_device_options prints when no device is named. */
const ACTION_STRING: Record<DeviceAction, string> = {
  reconfig: 'reconfigure',
  online: 'online memory for',
  offline: 'offline memory for',
  disable: 'disable',
  enable: 'enable',
  destroy: 'destroy',
  create: '<>',
};

/**
 * parse_device_options(): parse, check operands, handle -C and the
 * action-specific options. Throws ParseOptionsExit where the C code exits.
 */
export function parseDeviceOptions(sys: Syscalls, argv: readonly string[], action: DeviceAction, usage: string): DeviceParams {
  const options = OPTIONS[action];
  const u = [usage];
  const { values, args } = parseOptions(sys, argv, options, u);
  const str = (k: string): string | null => (values.get(k) as string | null | undefined) ?? null;
  const bool = (k: string): boolean => values.get(k) === true;
  let device: string | null = args.length ? args[0]!.slice(args[0]!.lastIndexOf('/') + 1) : null;
  let bad = false;
  if (args.length === 0 && action !== 'create') {
    writeStr(sys, 2, `specify a device to ${ACTION_STRING[action]}, or "all"\n`);
    bad = true;
  }
  for (const a of args.slice(1)) {
    writeStr(sys, 2, `unknown extra parameter "${a}"\n`);
    bad = true;
  }
  if (bad) usageWithOptions(sys, u, options);
  if (action === 'create') device = device ?? null;

  const p: DeviceParams = {
    device,
    region: null,
    mode: str('mode'),
    noOnline: bool('no-online'),
    noMovable: bool('no-movable'),
    force: bool('force'),
    human: bool('human'),
    verbose: bool('verbose'),
    size: -1,
    align: -1,
    reconfigMode: null,
    maps: [],
  };

  if (device !== null && bool('check-config')) {
    if (p.mode !== null || p.noOnline || p.noMovable) {
      writeStr(sys, 2, `${device}: -C cannot be used with --mode, --(no-)movable, or --(no-)online\n`);
      usageWithOptions(sys, u, options);
    }
    // No nvdimm namespace here carries a dax device, so no config section can match.
    if (device !== 'all') writeStr(sys, 2, `no UUID match for ${device} found in config files\n`);
    writeStr(sys, 2, `${device}: missing or malformed config section\n`);
    throw new ParseOptionsExit(0);
  }

  let rc = 0;
  if (action === 'reconfig') {
    const size = str('size');
    const align = str('align');
    if (size === null && align === null && p.mode === null) {
      writeStr(sys, 2, "error: a 'align', 'mode' or 'size' option is required\n");
      usageWithOptions(sys, u, OPTIONS.reconfig);
    }
    if (size !== null || align !== null) {
      if (size !== null) p.size = parseSize64(size);
      if (align !== null) p.align = parseSize64(align);
    } else if (p.mode === 'system-ram') {
      p.reconfigMode = 'system-ram';
    } else if (p.mode === 'devdax') {
      p.reconfigMode = 'devdax';
      if (p.noOnline) {
        writeStr(sys, 2, '--no-online is incompatible with --mode=devdax\n');
        rc = -22;
      }
    }
  } else if (action === 'create') {
    const input = str('input');
    if (input !== null && (rc = parseDeviceFile(sys, input, values, p)) !== 0) {
      writeStr(sys, 2, `error: failed to parse device file: ${strerror(-rc)}\n`);
    } else {
      const size = str('size');
      const align = str('align');
      if (size !== null) p.size = parseSize64(size);
      if (align !== null) p.align = parseSize64(align);
    }
  }
  if (rc) usageWithOptions(sys, u, options);
  p.region = str('region');
  return p;
}
