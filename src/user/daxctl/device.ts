/**
 * daxctl's device commands (pmem/ndctl daxctl/device.c): create-device,
 * destroy-device, reconfigure-device, disable-device, enable-device,
 * online-memory, offline-memory — their checks, messages, JSON output, the
 * "<verb> N device(s)" summary line and the returned status (the last device's
 * rc; -ENXIO when nothing matched).
 *
 * Mirrored as the code does it: do_create and do_reconfig replace the output
 * array for every device, so only the last device's JSON is printed; enable-device
 * says "specify a device to disable" when no device is named.
 */
import { writeStr } from '../program.ts';
import {
  daxctl_dev_disable,
  daxctl_dev_enable,
  daxctl_dev_get_memory,
  daxctl_dev_is_enabled,
  daxctl_dev_set_align,
  daxctl_dev_set_mapping,
  daxctl_dev_set_size,
  daxctl_region_create_dev,
  daxctl_region_destroy_dev,
  daxctl_region_get_available_size,
  daxctl_region_get_dev_seed,
  type DaxctlDev,
  type DaxctlLib,
  type DaxctlRegion,
} from './libdaxctl.ts';
import { displayJsonArray, UTIL_JSON_HUMAN, util_daxctl_dev_filter, util_daxctl_dev_to_json, util_daxctl_region_filter, type JsonValue } from './json.ts';
import {
  daxctl_dev_will_auto_online_memory,
  daxctl_memory_is_online,
  daxctl_memory_num_sections,
  daxctl_memory_offline,
  daxctl_memory_online,
  daxctl_memory_online_no_movable,
} from './memory.ts';
import { parseDeviceOptions, type DeviceAction, type DeviceParams } from './options.ts';
import { strerror, type DaxctlCtx } from './sysfs.ts';

const ENXIO = 6;
const EBUSY = 16;
const EINVAL = 22;
const ENOSPC = 28;

/** One invocation's state: the parameters and the output array. */
class Run {
  jdevs: JsonValue[] | null = null;
  readonly flags: number;

  constructor(
    readonly ctx: DaxctlCtx,
    readonly p: DeviceParams,
  ) {
    this.flags = p.human ? UTIL_JSON_HUMAN : 0;
  }

  say(msg: string): void {
    writeStr(this.ctx.sys, 2, msg);
  }

  /**
   * The steps dev_online_memory() and dev_offline_memory() both start with: the
   * memory object, its section count and how many are online; -errno (said) on failure.
   */
  private memoryState(dev: DaxctlDev): { mem: NonNullable<ReturnType<typeof daxctl_dev_get_memory>>; name: string; numSections: number; numOn: number } | number {
    const mem = daxctl_dev_get_memory(dev);
    const name = dev.devname;
    if (!mem) {
      this.say(`${name}: failed to get the memory object\n`);
      return -ENXIO;
    }
    const numSections = daxctl_memory_num_sections(mem);
    if (numSections < 0) {
      this.say(`${name}: failed to get number of memory sections\n`);
      return numSections;
    }
    const numOn = daxctl_memory_is_online(mem);
    if (numOn < 0) {
      this.say(`${name}: failed to determine online state: ${strerror(-numOn)}\n`);
      return numOn;
    }
    return { mem, name, numSections, numOn };
  }

  /** dev_online_memory(): 0, 1 when everything was online already, or -errno. */
  onlineMemory(dev: DaxctlDev): number {
    const st = this.memoryState(dev);
    if (typeof st === 'number') return st;
    const { mem, name, numSections } = st;
    let numOn = st.numOn;
    if (numOn)
      this.say(
        `${name}:\n  WARNING: detected a race while onlining memory\n` +
          '  Some memory may not be in the expected zone. It is\n' +
          '  recommended to disable any other onlining mechanisms,\n' +
          '  and retry. If onlining is to be left to other agents,\n' +
          '  use the --no-online option to suppress this warning\n',
      );
    if (numOn === numSections) {
      this.say(`${name}: all memory sections (${numOn}) already online\n`);
      return 1;
    }
    if (numOn > 0) this.say(`${name}: ${numOn} memory section${numOn === 1 ? '' : 's'} already online\n`);
    const rc = this.p.noMovable ? daxctl_memory_online_no_movable(mem) : daxctl_memory_online(mem);
    if (rc < 0) {
      this.say(`${name}: failed to online memory: ${strerror(-rc)}\n`);
      return rc;
    }
    if (this.p.verbose) this.say(`${name}: ${rc} memory section${rc === 1 ? '' : 's'} onlined\n`);
    numOn = daxctl_memory_is_online(mem);
    if (numOn < 0) {
      this.say(`${name}: failed to determine online state: ${strerror(-numOn)}\n`);
      return numOn;
    }
    if (numOn < numSections) {
      this.say(`${name}: failed to online ${numSections - numOn} memory sections\n`);
      return -ENXIO;
    }
    return 0;
  }

  /** dev_offline_memory(): 0, 1 when everything was offline already, or -errno. */
  offlineMemory(dev: DaxctlDev): number {
    const st = this.memoryState(dev);
    if (typeof st === 'number') return st;
    const { mem, name, numSections } = st;
    let numOn = st.numOn;
    const numOff = numSections - numOn;
    if (numOff === numSections) {
      this.say(`${name}: all memory sections (${numOff}) already offline\n`);
      return 1;
    }
    if (numOff) this.say(`${name}: ${numOff} memory section${numOff === 1 ? '' : 's'} already offline\n`);
    const rc = daxctl_memory_offline(mem);
    if (rc < 0) {
      this.say(`${name}: failed to offline memory: ${strerror(-rc)}\n`);
      return rc;
    }
    if (this.p.verbose) this.say(`${name}: ${rc} memory section${rc === 1 ? '' : 's'} offlined\n`);
    numOn = daxctl_memory_is_online(mem);
    if (numOn < 0) {
      this.say(`${name}: failed to determine online state: ${strerror(-numOn)}\n`);
      return numOn;
    }
    if (numOn) {
      this.say(`${name}: failed to offline ${numOn} memory sections\n`);
      return -ENXIO;
    }
    return 0;
  }

  /** Disable with the tool's message on failure. */
  private disable(dev: DaxctlDev): number {
    const rc = daxctl_dev_disable(dev);
    if (rc) this.say(`${dev.devname}: disable failed: ${strerror(-rc)}\n`);
    return rc;
  }

  /** dev_destroy(). */
  destroy(dev: DaxctlDev): number {
    if (daxctl_dev_is_enabled(dev) && !this.p.force) {
      this.say(`${dev.devname} is active, specify --force for deletion\n`);
      return -ENXIO;
    }
    let rc = this.disable(dev);
    if (rc) return rc;
    rc = daxctl_dev_set_size(dev, 0);
    if (rc < 0) return rc;
    rc = daxctl_region_destroy_dev(dev.region, dev);
    return rc < 0 ? rc : 0;
  }

  /** reconfig_mode_system_ram(). */
  private toSystemRam(dev: DaxctlDev): number {
    if (this.p.noOnline || !this.p.noMovable) {
      if (!this.p.force && daxctl_dev_will_auto_online_memory(dev)) {
        this.say(`${dev.devname}: error: kernel policy will auto-online memory, aborting\n`);
        return -EBUSY;
      }
    }
    let skipEnable = false;
    if (daxctl_dev_is_enabled(dev)) {
      // disable_devdax_device()
      if (daxctl_dev_get_memory(dev)) {
        this.say(`${dev.devname} was already in system-ram mode\n`);
        skipEnable = true;
      } else {
        const rc = this.disable(dev);
        if (rc < 0) return rc;
      }
    }
    if (!skipEnable) {
      const rc = daxctl_dev_enable(dev, 'system-ram');
      if (rc) return rc;
    }
    if (this.p.noOnline) return 0;
    return this.onlineMemory(dev);
  }

  /** disable_system_ram_device(). */
  private disableSystemRam(dev: DaxctlDev): number {
    const mem = daxctl_dev_get_memory(dev);
    if (!mem) {
      this.say(`${dev.devname} was already in devdax mode\n`);
      return 1;
    }
    let rc: number;
    if (this.p.force) {
      rc = this.offlineMemory(dev);
      if (rc < 0) return rc;
    }
    rc = daxctl_memory_is_online(mem);
    if (rc < 0) {
      this.say(`${dev.devname}: failed to determine online state: ${strerror(-rc)}\n`);
      return rc;
    }
    if (rc > 0) {
      if (this.p.verbose) {
        this.say(`${dev.devname}: found ${rc} memory sections online\n`);
        this.say(`${dev.devname}: refusing to change modes\n`);
      }
      return -EBUSY;
    }
    return this.disable(dev);
  }

  /** reconfig_mode_devdax(). */
  private toDevdax(dev: DaxctlDev): number {
    if (daxctl_dev_is_enabled(dev)) {
      const rc = this.disableSystemRam(dev);
      if (rc) return rc;
    }
    return daxctl_dev_enable(dev, 'devdax');
  }

  /** do_create(). */
  create(region: DaxctlRegion): number {
    if (daxctl_region_create_dev(region)) return -ENOSPC;
    const dev = daxctl_region_get_dev_seed(region);
    if (!dev) return -ENOSPC;
    let val = this.p.size;
    if (val === -1) val = daxctl_region_get_available_size(region);
    if (val <= 0) return -ENOSPC;
    let rc: number;
    if (this.p.align > 0) {
      rc = daxctl_dev_set_align(dev, this.p.align);
      if (rc < 0) return rc;
    }
    let alloc = 0;
    for (const m of this.p.maps) {
      rc = daxctl_dev_set_mapping(dev, m.start, m.end);
      if (rc < 0) return rc;
      alloc += m.end - m.start + 1;
    }
    if (this.p.maps.length > 0 && val > 0 && alloc !== val) {
      this.say(`${dev.devname}: allocated ${alloc} but specified size ${val}\n`);
    } else {
      rc = daxctl_dev_set_size(dev, val);
      if (rc < 0) return rc;
    }
    rc = daxctl_dev_enable(dev, 'devdax');
    if (rc) {
      this.say(`${dev.devname}: enable failed: ${strerror(-rc)}\n`);
      return rc;
    }
    this.jdevs = [util_daxctl_dev_to_json(dev, this.flags)];
    return 0;
  }

  /** do_reconfig(). */
  reconfig(dev: DaxctlDev): number {
    let rc: number;
    if (this.p.align > 0) {
      rc = daxctl_dev_set_align(dev, this.p.align);
      if (rc < 0) return rc;
    }
    if (this.p.size >= 0) {
      rc = daxctl_dev_set_size(dev, this.p.size);
      return rc < 0 ? rc : 0;
    }
    switch (this.p.reconfigMode) {
      case 'system-ram':
        rc = this.toSystemRam(dev);
        break;
      case 'devdax':
        rc = this.toDevdax(dev);
        break;
      default:
        this.say(`${dev.devname}: unknown mode requested: 0\n`);
        rc = -EINVAL;
    }
    if (rc < 0) return rc;
    this.jdevs = [util_daxctl_dev_to_json(dev, this.flags)];
    return 0;
  }

  /** do_xline(): online/offline-memory. */
  xline(dev: DaxctlDev, action: 'online' | 'offline'): number {
    if (!daxctl_dev_get_memory(dev)) {
      this.say(`${dev.devname}: memory operations are not applicable in devdax mode\n`);
      return -ENXIO;
    }
    return action === 'online' ? this.onlineMemory(dev) : this.offlineMemory(dev);
  }

  /** do_xble(): enable/disable-device. */
  xble(dev: DaxctlDev, action: 'enable' | 'disable'): number {
    if (daxctl_dev_get_memory(dev)) {
      this.say(`${dev.devname}: status operations are only applicable in devdax mode\n`);
      return -ENXIO;
    }
    if (action === 'disable') return this.disable(dev);
    const rc = daxctl_dev_enable(dev, 'devdax');
    if (rc) this.say(`${dev.devname}: enable failed: ${strerror(-rc)}\n`);
    return rc;
  }
}

/** What each command says: usage, error verb, summary verb. */
const COMMANDS: Record<DeviceAction, { usage: string; error: string; done: string; parseAs?: DeviceAction }> = {
  create: { usage: 'daxctl create-device [<options>]', error: 'error creating devices', done: 'created' },
  destroy: { usage: 'daxctl destroy-device <device> [<options>]', error: 'error destroying devices', done: 'destroyed' },
  reconfig: { usage: 'daxctl reconfigure-device <device> [<options>]', error: 'error reconfiguring devices', done: 'reconfigured' },
  disable: { usage: 'daxctl disable-device <device>', error: 'error disabling device', done: 'disabled' },
  enable: { usage: 'daxctl enable-device <device>', error: 'error enabling device', done: 'enabled', parseAs: 'disable' },
  online: { usage: 'daxctl online-memory <device> [<options>]', error: 'error onlining memory', done: 'onlined memory for' },
  offline: { usage: 'daxctl offline-memory <device> [<options>]', error: 'error offlining memory', done: 'offlined memory for' },
};

/** cmd_<action>_device(): run the command; returns its rc (negative errno, 0, or 1). */
export function cmd_device(lib: DaxctlLib, argv: readonly string[], action: DeviceAction): number {
  const c = COMMANDS[action];
  const parseAs = c.parseAs ?? action;
  // enable-device parses as disable (its "specify a device" message) but with its own table.
  const p = parseDeviceOptions(lib.ctx.sys, argv, parseAs, c.usage);
  const run = new Run(lib.ctx, p);
  let rc = -ENXIO;
  let processed = 0;
  for (const region of lib.regionList()) {
    if (!util_daxctl_region_filter(region, p.region)) continue;
    if (action === 'create') {
      rc = run.create(region);
      if (rc === 0) processed++;
      continue;
    }
    for (const dev of [...region.devs()]) {
      if (!util_daxctl_dev_filter(dev, p.device)) continue;
      switch (action) {
        case 'reconfig':
          rc = run.reconfig(dev);
          break;
        case 'online':
        case 'offline':
          rc = run.xline(dev, action);
          break;
        case 'enable':
        case 'disable':
          rc = run.xble(dev, action);
          break;
        case 'destroy':
          rc = run.destroy(dev);
          break;
      }
      if (rc === 0) processed++;
    }
  }
  if (run.jdevs) writeStr(lib.ctx.sys, 1, displayJsonArray(run.jdevs, run.flags));
  if (rc < 0) run.say(`${c.error}: ${strerror(-rc)}\n`);
  run.say(`${c.done} ${processed} device${processed === 1 ? '' : 's'}\n`);
  return rc;
}
