/**
 * device-dax create/destroy cycles on a 16 TiB soft-reserved region — the
 * issue's bar for daxctl. Each cycle is what `daxctl create-device` followed
 * by `daxctl destroy-device -f` writes, through a Task's syscalls
 * (open/write/close of sysfs attributes):
 *   create (dax_region/create ← 1) → size (daxN.1/size ← 16T) → enable
 *   (device_dax/new_id, bind) → disable (remove_id, unbind) → size 0 → delete.
 * Enabling populates the device's struct pages (align 2M: compound pages,
 * 64 GiB of vmemmap for 16 TiB) and disabling gives them back; the host has
 * 16 TiB + 128 GiB of RAM so the vmemmap fits.
 * Run: node bin/run-ts.mjs bench/dax.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { GiB, TiB, formatBytes } from '../src/lib/size.ts';
import { machineFromFlags } from '../src/kernel/boot/machine.ts';
import { Host } from '../src/kernel/host.ts';
import type { Task } from '../src/kernel/process.ts';
import { dax_drvdata } from '../src/kernel/dax/cdev.ts';
import { O_WRONLY } from '../src/uapi/fcntl.ts';

const BASE = 64 * GiB;
const SIZE = 16 * TiB;

function put(t: Task, path: string, text: string): void {
  const fd = t.open(path, O_WRONLY);
  try {
    t.write(fd, text);
  } finally {
    t.close(fd);
  }
}

const t0 = performance.now();
const host = Host.boot({
  machine: machineFromFlags({ mem: SIZE + 128 * GiB, nodes: 1 }),
  cmdline: `efi_fake_mem=16T@0x${BASE.toString(16)}:0x40000`,
});
const bootMs = performance.now() - t0;
const t = host.spawnConsoleTask('bench', { stdout: () => {}, stderr: () => {} });
const region = '/sys/bus/dax/devices/dax0.0/../dax_region';
const drv = '/sys/bus/dax/drivers/device_dax';
// Free the region: dax0.0 spans it at boot.
put(t, drv + '/remove_id', 'dax0.0');
put(t, drv + '/unbind', 'dax0.0');
put(t, '/sys/bus/dax/devices/dax0.0/size', '0');

let vmemmap = 0;
function cycle(): void {
  put(t, region + '/create', '1');
  const dev = '/sys/bus/dax/devices/dax0.1';
  put(t, dev + '/size', String(SIZE));
  put(t, drv + '/new_id', 'dax0.1');
  vmemmap = dax_drvdata(host.fs.dax.bus.find('dax0.1')!)!.pgmap!.vmemmapBytes;
  put(t, drv + '/remove_id', 'dax0.1');
  put(t, drv + '/unbind', 'dax0.1');
  put(t, dev + '/size', '0');
  put(t, region + '/delete', 'dax0.1');
}

cycle(); // warm
const free0 = host.buddy.nr_free_pages();
const N = 20;
const c0 = performance.now();
for (let i = 0; i < N; i++) cycle();
const ms = performance.now() - c0;
if (host.buddy.nr_free_pages() !== free0) throw new Error('vmemmap leaked across cycles');

console.log('device-dax create/size/enable/disable/size-0/delete (sysfs through Task syscalls)');
console.log(`  region                      ${formatBytes(SIZE)} soft reserved (boot ${bootMs.toFixed(0)} ms)`);
console.log(`  vmemmap per enable (2M)     ${formatBytes(vmemmap)}`);
console.log(`  cycles/s                    ${((N / ms) * 1000).toFixed(1)}  (${(ms / N).toFixed(2)} ms per cycle)`);
