/**
 * `daxctl list` (pmem/ndctl daxctl/list.c cmd_list): regions and/or devices as
 * JSON. With no -R/-D, -r implies regions and -d implies devices; with neither,
 * devices are listed. Idle (0-size) devices need -i.
 */
import { parseError, parseOptions, usageWithOptions, type OptionSpec } from '../parse_options.ts';
import { writeStr } from '../program.ts';
import type { DaxctlLib } from './libdaxctl.ts';
import {
  displayJsonArray,
  UTIL_JSON_DAX_DEVS,
  UTIL_JSON_DAX_MAPPINGS,
  UTIL_JSON_HUMAN,
  UTIL_JSON_IDLE,
  util_daxctl_devs_to_list,
  util_daxctl_region_filter,
  util_daxctl_region_to_json,
  type JsonValue,
} from './json.ts';

/** cmd_list's option table. */
export const LIST_OPTIONS: readonly OptionSpec[] = [
  { type: 'string', short: 'r', long: 'region', argh: 'region-id', help: 'filter by region' },
  { type: 'string', short: 'd', long: 'dev', argh: 'dev-id', help: 'filter by dax device instance name' },
  { type: 'boolean', short: 'D', long: 'devices', help: 'include dax device info' },
  { type: 'boolean', short: 'R', long: 'regions', help: 'include dax region info' },
  { type: 'boolean', short: 'M', long: 'mappings', help: 'include dax mappings info' },
  { type: 'boolean', short: 'i', long: 'idle', help: 'include idle devices' },
  { type: 'boolean', short: 'u', long: 'human', help: 'use human friendly number formats ' },
];

const USAGE = ['daxctl list [<options>]'];

/** cmd_list(): returns the command's status (0, or -ENOMEM when building JSON failed). */
export function cmd_list(lib: DaxctlLib, argv: readonly string[]): number {
  const sys = lib.ctx.sys;
  const { values, args } = parseOptions(sys, argv, LIST_OPTIONS, USAGE);
  for (const a of args) parseError(sys, `unknown parameter "${a}"\n`);
  if (args.length) usageWithOptions(sys, USAGE, LIST_OPTIONS);

  const region = (values.get('region') as string | null | undefined) ?? null;
  const dev = (values.get('dev') as string | null | undefined) ?? null;
  let devs = values.get('devices') === true;
  let regions = values.get('regions') === true;
  if (!devs && !regions) {
    regions = region !== null;
    devs = dev !== null;
  }
  if (!devs && !regions) devs = true;

  let flags = 0;
  if (devs) flags |= UTIL_JSON_DAX_DEVS;
  if (values.get('mappings') === true) flags |= UTIL_JSON_DAX_MAPPINGS;
  if (values.get('idle') === true) flags |= UTIL_JSON_IDLE;
  if (values.get('human') === true) flags |= UTIL_JSON_HUMAN;

  let jregions: JsonValue[] | null = null;
  let jdevs: JsonValue[] | null = null;
  let didFail = false;
  for (const r of lib.regionList()) {
    if (!util_daxctl_region_filter(r, region)) continue;
    if (regions) {
      jregions ??= [];
      const jregion = util_daxctl_region_to_json(r, dev, flags);
      if (!jregion) {
        // fail(): the tool prints its version, function and line.
        writeStr(sys, 2, `daxctl-${DAXCTL_VERSION}:cmd_list:118: \n`);
        didFail = true;
        continue;
      }
      jregions.push(jregion);
    } else if (devs) {
      jdevs = util_daxctl_devs_to_list(r, jdevs, dev, flags);
    }
  }
  if (jregions) writeStr(sys, 1, displayJsonArray(jregions, flags));
  else if (jdevs) writeStr(sys, 1, displayJsonArray(jdevs, flags));
  return didFail ? -12 : 0;
}

/** The ndctl release whose daxctl this mirrors (what `daxctl --version` prints). */
export const DAXCTL_VERSION = '80';
