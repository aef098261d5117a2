/**
 * daxctl's commands against a fake sysfs laid out as Linux's (fake_dax.ts):
 * the exact output, messages and exit statuses of pmem/ndctl daxctl/device.c
 * and list.c, and the sysfs writes they make.
 *
 *   region 0 (hmem.0)  [16G ........................ 32G)  node 0, idle seed dax0.0
 *   region 1 (hmem.1)  [48G .... 52G)                      node 1, dax1.0 = all of it
 */
import { describe, expect, it } from 'vitest';
import { daxctl } from '../../../src/user/daxctl/index.ts';
import { BLOCK, FakeDax, GiB } from './fake_dax.ts';

function machine(): FakeDax {
  const k = new FakeDax();
  k.addBootBlocks(4);
  k.addRegion(16 * GiB, 16 * GiB, 0);
  k.addRegion(48 * GiB, 4 * GiB, 1, 4 * GiB);
  return k;
}

function run(k: FakeDax, ...args: string[]): { status: number; out: string; err: string } {
  k.out = '';
  k.err = '';
  const status = daxctl({ sys: k, argv: ['daxctl', ...args], env: new Map() }) as number;
  return { status, out: k.out, err: k.err };
}

const dev = (fields: string): string => `[\n  {\n${fields}\n  }\n]\n`;

describe('daxctl list', () => {
  it('lists enabled, sized devices by default; -i adds idle ones (state disabled)', () => {
    const k = machine();
    expect(run(k, 'list')).toEqual({
      status: 0,
      err: '',
      out: dev('    "chardev":"dax1.0",\n    "size":4294967296,\n    "target_node":1,\n    "align":2097152,\n    "mode":"devdax"'),
    });
    expect(run(k, 'list', '-i', '-r', '0', '-D').out).toBe(
      dev('    "chardev":"dax0.0",\n    "size":0,\n    "target_node":0,\n    "align":2097152,\n    "mode":"devdax",\n    "state":"disabled"'),
    );
  });

  it('-r alone lists the region (path without /sys/devices, available_size only when non-zero)', () => {
    const k = machine();
    expect(run(k, 'list', '-r', 'region1').out).toBe(
      '[\n  {\n    "path":"\\/platform\\/hmem.1",\n    "id":1,\n    "size":4294967296,\n    "align":2097152\n  }\n]\n',
    );
    const r0 = run(k, 'list', '-R', '-r', '0', '-u').out;
    expect(r0).toContain('"available_size":"16.00 GiB (17.18 GB)"');
    expect(r0.startsWith('{\n')).toBe(true);
  });

  it('-d filters by name or REGION.ID; -M adds mappings (hex with -u); no match prints nothing', () => {
    const k = machine();
    expect(run(k, 'list', '-d', '1.0', '-M', '-u').out).toBe(
      '{\n  "chardev":"dax1.0",\n  "size":"4.00 GiB (4.29 GB)",\n  "target_node":1,\n  "align":2097152,\n  "mode":"devdax",\n' +
        '  "mappings":[\n    {\n      "page_offset":"0",\n      "start":"0xc00000000",\n      "end":"0xcffffffff",\n      "size":"4.00 GiB (4.29 GB)"\n    }\n  ]\n}\n',
    );
    expect(run(k, 'list', '-d', 'dax7.7')).toEqual({ status: 0, out: '', err: '' });
  });

  it('an operand is an error', () => {
    const r = run(machine(), 'list', 'dax0.0');
    expect(r.status).toBe(129);
    expect(r.err.startsWith('  Error: unknown parameter "dax0.0"\n\n\n usage: daxctl list [<options>]\n')).toBe(true);
  });
});

describe('create-device and destroy-device', () => {
  it('creates on the seed with -s, then with all that is left; ENOSPC when nothing is', () => {
    const k = machine();
    expect(run(k, 'create-device', '-r', '0', '-s', '4G')).toEqual({
      status: 0,
      out: dev('    "chardev":"dax0.0",\n    "size":4294967296,\n    "target_node":0,\n    "align":2097152,\n    "mode":"devdax"'),
      err: 'created 1 device\n',
    });
    expect(run(k, 'create-device', '-r', '0', '-u')).toEqual({
      status: 0,
      out: '{\n  "chardev":"dax0.1",\n  "size":"12.00 GiB (12.88 GB)",\n  "target_node":0,\n  "align":2097152,\n  "mode":"devdax"\n}\n',
      err: 'created 1 device\n',
    });
    expect(run(k, 'create-device', '-r', '0')).toEqual({ status: 228, out: '', err: 'error creating devices: No space left on device\ncreated 0 devices\n' });
  });

  it('a misaligned size: the library\'s message, -ENXIO (250)', () => {
    const k = machine();
    expect(run(k, 'create-device', '-r', '0', '-s', '3m')).toEqual({
      status: 250,
      out: '',
      err: 'libdaxctl: daxctl_dev_set_size: dax0.0: failed to set size\nerror creating devices: No such device or address\ncreated 0 devices\n',
    });
  });

  it('-a sets the align before the size', () => {
    const k = machine();
    const r = run(k, 'create-device', '-r', '0', '-s', '2G', '-a', '1G');
    expect(r.out).toContain('"align":1073741824');
    expect(k.regions[0]!.devs[0]!.align).toBe(GiB);
  });

  it('destroy needs --force for an enabled device; then disables, sizes to 0 and deletes', () => {
    const k = machine();
    run(k, 'create-device', '-r', '0', '-s', '4G');
    expect(run(k, 'destroy-device', 'dax0.0')).toEqual({
      status: 250,
      out: '',
      err: 'dax0.0 is active, specify --force for deletion\nerror destroying devices: No such device or address\ndestroyed 0 devices\n',
    });
    run(k, 'create-device', '-r', '0', '-s', '2G');
    expect(run(k, 'destroy-device', '-f', 'dax0.1')).toEqual({ status: 0, out: '', err: 'destroyed 1 device\n' });
    expect(k.regions[0]!.devs.map((d) => d.id)).toEqual([0, 2]);
  });

  it('no device named: the action text and the usage; extra operands are named', () => {
    const k = machine();
    expect(run(k, 'destroy-device').err.split('\n')[0]).toBe('specify a device to destroy, or "all"');
    expect(run(k, 'enable-device').err.split('\n')[0]).toBe('specify a device to disable, or "all"');
    const r = run(k, 'disable-device', 'dax0.0', 'dax1.0');
    expect(r.status).toBe(129);
    expect(r.err.startsWith('unknown extra parameter "dax1.0"\n\n usage: daxctl disable-device <device>\n')).toBe(true);
  });

  it('--input recreates a device from a list -M object (mappings in page-offset order)', () => {
    const k = machine();
    const file = JSON.stringify({
      chardev: 'dax0.5',
      size: 2 * GiB,
      align: 2097152,
      mappings: [
        { page_offset: 262144, start: 20 * GiB, end: 21 * GiB - 1, size: GiB },
        { page_offset: 0, start: 18 * GiB, end: 19 * GiB - 1, size: GiB },
      ],
    });
    const sys = k as FakeDax & { open: FakeDax['open'] };
    const origOpen = sys.open.bind(sys);
    const origRead = sys.read.bind(sys);
    let pos = 0;
    sys.open = (p: string, ...rest: unknown[]) => (p === '/tmp/dev.json' ? 99 : origOpen(p, ...(rest as [])));
    sys.read = (fd: number, n: number) => {
      if (fd !== 99) return origRead(fd, n);
      const b = new TextEncoder().encode(file).slice(pos, pos + n);
      pos += b.length;
      return b;
    };
    const r = run(k, 'create-device', '--input', '/tmp/dev.json');
    expect(r.err).toBe('created 1 device\n');
    expect(k.regions[0]!.devs[0]!.ranges).toEqual([
      { start: 18 * GiB, end: 19 * GiB - 1 },
      { start: 20 * GiB, end: 21 * GiB - 1 },
    ]);
    expect(run(k, 'create-device', '--input', '/nonexistent').err.split('\n')[0]).toBe('error: failed to parse device file: Invalid argument');
  });
});

describe('reconfigure-device, online-memory, offline-memory', () => {
  function ramDevice(): FakeDax {
    const k = machine();
    run(k, 'create-device', '-r', '0', '-s', '1G');
    return k;
  }

  it('system-ram: binds kmem, onlines the blocks movable, prints the device', () => {
    const k = ramDevice();
    expect(run(k, 'reconfigure-device', '-m', 'system-ram', 'dax0.0')).toEqual({
      status: 0,
      out: dev(
        '    "chardev":"dax0.0",\n    "size":1073741824,\n    "target_node":0,\n    "align":2097152,\n    "mode":"system-ram",\n' +
          '    "online_memblocks":8,\n    "total_memblocks":8,\n    "movable":true',
      ),
      err: 'reconfigured 1 device\n',
    });
    const blocks = [...k.blocks].filter(([i]) => i * BLOCK >= 16 * GiB);
    expect(blocks.map(([, b]) => `${b.online}:${b.zone}`)).toEqual(Array(8).fill('true:Movable'));
  });

  it('--no-movable onlines to ZONE_NORMAL; -N leaves the blocks offline', () => {
    let k = ramDevice();
    expect(run(k, 'reconfigure-device', '-m', 'system-ram', '--no-movable', 'dax0.0').out).toContain('"movable":false');
    k = ramDevice();
    const r = run(k, 'reconfigure-device', '-m', 'system-ram', '-N', 'dax0.0');
    expect(r.out).toContain('"online_memblocks":0,\n    "total_memblocks":8\n');
    expect(run(k, 'online-memory', 'dax0.0')).toEqual({ status: 0, out: '', err: 'onlined memory for 1 device\n' });
    expect(run(k, 'online-memory', 'dax0.0')).toEqual({ status: 1, out: '', err: 'dax0.0:\n  WARNING: detected a race while onlining memory\n  Some memory may not be in the expected zone. It is\n  recommended to disable any other onlining mechanisms,\n  and retry. If onlining is to be left to other agents,\n  use the --no-online option to suppress this warning\ndax0.0: all memory sections (8) already online\nonlined memory for 0 devices\n' });
  });

  it('an auto-onlining kernel makes it abort unless --force', () => {
    const k = ramDevice();
    k.autoOnline = 'online';
    expect(run(k, 'reconfigure-device', '-m', 'system-ram', 'dax0.0')).toEqual({
      status: 240,
      out: '',
      err: 'dax0.0: error: kernel policy will auto-online memory, aborting\nerror reconfiguring devices: Device or resource busy\nreconfigured 0 devices\n',
    });
  });

  it('back to devdax needs the memory offline (EBUSY, -v explains), or --force to offline it first', () => {
    const k = ramDevice();
    run(k, 'reconfigure-device', '-m', 'system-ram', 'dax0.0');
    expect(run(k, 'reconfigure-device', '-m', 'devdax', '-v', 'dax0.0')).toEqual({
      status: 240,
      out: '',
      err: 'dax0.0: found 8 memory sections online\ndax0.0: refusing to change modes\nerror reconfiguring devices: Device or resource busy\nreconfigured 0 devices\n',
    });
    expect(run(k, 'disable-device', 'dax0.0').err).toBe(
      'dax0.0: status operations are only applicable in devdax mode\nerror disabling device: No such device or address\ndisabled 0 devices\n',
    );
    const r = run(k, 'reconfigure-device', '-m', 'devdax', '-f', 'dax0.0');
    expect(r.err).toBe('reconfigured 1 device\n');
    expect(r.out).toContain('"mode":"devdax"');
    expect(run(k, 'offline-memory', 'dax0.0').err).toBe(
      'dax0.0: memory operations are not applicable in devdax mode\nerror offlining memory: No such device or address\nofflined memory for 0 devices\n',
    );
  });

  it('offline-memory reports blocks already offline and a block that will not go', () => {
    const k = ramDevice();
    run(k, 'reconfigure-device', '-m', 'system-ram', 'dax0.0');
    const first = Math.floor((16 * GiB) / BLOCK);
    k.blocks.get(first)!.online = false;
    k.blocks.get(first + 1)!.busy = true;
    expect(run(k, 'offline-memory', 'dax0.0')).toEqual({
      status: 240,
      out: '',
      err:
        'dax0.0: 1 memory section already offline\n' +
        `libdaxctl: offline_one_memblock: dax0.0: Failed to offline /sys/devices/system/node/node0/memory${first + 1}/state: Device or resource busy\n` +
        'dax0.0: failed to offline memory: Device or resource busy\nerror offlining memory: Device or resource busy\nofflined memory for 0 devices\n',
    });
  });

  it('-s resizes a disabled device and prints nothing but the summary; no option at all is an error', () => {
    const k = machine();
    expect(run(k, 'reconfigure-device', '-s', '2G', 'dax0.0')).toEqual({ status: 0, out: '', err: 'reconfigured 1 device\n' });
    expect(run(k, 'reconfigure-device', 'dax0.0').err.split('\n')[0]).toBe("error: a 'align', 'mode' or 'size' option is required");
    expect(run(k, 'reconfigure-device', '-m', 'devdax', '-N', 'dax0.0').err.split('\n')[0]).toBe('--no-online is incompatible with --mode=devdax');
  });

  it('enable/disable in devdax mode; an unknown device is -ENXIO', () => {
    const k = machine();
    expect(run(k, 'disable-device', 'dax1.0')).toEqual({ status: 0, out: '', err: 'disabled 1 device\n' });
    expect(run(k, 'list', '-d', 'dax1.0').out).toContain('"state":"disabled"');
    expect(run(k, 'enable-device', 'all', '-r', '1')).toEqual({ status: 0, out: '', err: 'enabled 1 device\n' });
    expect(run(k, 'enable-device', 'dax9.9')).toEqual({ status: 250, out: '', err: 'error enabling device: No such device or address\nenabled 0 devices\n' });
  });

  it('a failing probe: the library says so and the bind errno is reported', () => {
    const k = machine();
    run(k, 'reconfigure-device', '-s', '2G', 'dax0.0');
    k.probeError = 'ENOMEM';
    expect(run(k, 'enable-device', 'dax0.0')).toEqual({
      status: 244,
      out: '',
      err: 'libdaxctl: daxctl_dev_enable: dax0.0: failed to enable\ndax0.0: enable failed: Cannot allocate memory\nerror enabling device: Cannot allocate memory\nenabled 0 devices\n',
    });
  });

  it('-C: no nvdimm namespace carries the device, so no config section applies (status 0)', () => {
    const k = machine();
    expect(run(k, 'reconfigure-device', '-C', 'dax1.0')).toEqual({
      status: 0,
      out: '',
      err: 'no UUID match for dax1.0 found in config files\ndax1.0: missing or malformed config section\n',
    });
    expect(run(k, 'reconfigure-device', '-C', '-m', 'devdax', 'dax1.0').err.split('\n')[0]).toBe(
      'dax1.0: -C cannot be used with --mode, --(no-)movable, or --(no-)online',
    );
  });

  it('without /sys/dev/char the device is still recognised through /sys/bus/dax', () => {
    const k = machine();
    k.devChar = false;
    expect(run(k, 'disable-device', 'dax1.0').err).toBe('disabled 1 device\n');
  });
});

describe('daxctl main', () => {
  it('no command: the usage on stdout, status 1; unknown command or option', () => {
    const k = machine();
    expect(run(k)).toEqual({
      status: 1,
      out: "\n usage: daxctl [--version] [--help] COMMAND [ARGS]\n\n\n See 'daxctl help COMMAND' for more information on a specific command.\n daxctl --list-cmds to see all available commands\n\n",
      err: '',
    });
    expect(run(k, 'frob')).toEqual({ status: 1, out: '', err: "Unknown command: 'frob'\n" });
    expect(run(k, '-x')).toEqual({ status: 129, out: '', err: 'Unknown option: -x\n\n Usage: daxctl [--version] [--help] COMMAND [ARGS]\n' });
  });

  it('--version, -v and version print the version; --list-cmds the commands', () => {
    const k = machine();
    for (const a of ['--version', '-v', 'version']) expect(run(k, a)).toEqual({ status: 0, out: '80\n', err: '' });
    expect(run(k, '--list-cmds').out.split('\n')).toContain('reconfigure-device');
  });

  it('CMD --help and help CMD show the command usage (no man pages here)', () => {
    const k = machine();
    const r = run(k, 'list', '--help');
    expect(r.status).toBe(129);
    expect(r.err.startsWith('\n usage: daxctl list [<options>]\n')).toBe(true);
    expect(run(k, 'help', 'create-device').err).toContain('        --input <input>   input device JSON file\n');
  });
});
