/**
 * The commands that talk to a running VM: `vmm run`, `vmm info` (monitor
 * requests, monitor.ts), `vmm list` (reads /run/vmm) and `vmm stop` (SIGTERM,
 * as `kill $(cat pidfile)` stops a QEMU).
 */
import { Errno } from '../../lib/errno.ts';
import { SIGTERM } from '../../uapi/signal.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { writeStr } from '../program.ts';
import { listVms, parseKv, processAlive, qmpCall, readText, removeVmDir, vmPath, vmPid, type QmpRequest } from './monitor.ts';
import type { RunOptions } from './options.ts';

/** The pid of a live VM, or an error printed and null. */
function liveVm(sys: Syscalls, name: string): number | null {
  const pid = vmPid(sys, name);
  if (pid === null) {
    writeStr(sys, 2, `vmm: ${name}: No such VM\n`);
    return null;
  }
  if (!processAlive(sys, pid)) {
    writeStr(sys, 2, `vmm: ${name}: VM is not running (pid ${pid} is gone); 'vmm stop ${name}' cleans up\n`);
    return null;
  }
  return pid;
}

/** Send one monitor command; the reply's fields, or an error printed and null. */
function call(sys: Syscalls, name: string, req: QmpRequest): Record<string, unknown> | null {
  const r = callRaw(sys, name, req);
  return r === null ? null : typeof r === 'string' ? { output: r } : r;
}

/** Send one monitor command; the reply as it came, or an error printed and null. */
function callRaw(sys: Syscalls, name: string, req: QmpRequest): Record<string, unknown> | string | null {
  const pid = liveVm(sys, name);
  if (pid === null) return null;
  const resp = qmpCall(sys, name, pid, req);
  if (resp === null) {
    // The VM died serving the request (e.g. SIGBUS from KVM_RUN): its end of the channel is gone.
    writeStr(sys, 2, `vmm: ${name}: Unable to read from monitor: Connection reset by peer\n`);
    if (!processAlive(sys, pid)) writeStr(sys, 2, `vmm: ${name}: VM process ${pid} terminated\n`);
    return null;
  }
  if ('error' in resp) {
    writeStr(sys, 2, `vmm: ${name}: ${resp.error.desc}\n`);
    return null;
  }
  return resp.return;
}

/** `vmm run NAME ...`: one line, `NAME exit=io port=0xf4 status=0 touched=BYTES ...`. */
export function vmmRun(sys: Syscalls, o: RunOptions): number {
  const r = call(sys, o.name, { execute: 'x-guest-run', arguments: { pattern: o.pattern, bytes: o.bytes, write: o.write, seed: o.seed } });
  if (!r) return 1;
  writeStr(sys, 1, `${o.name} ${Object.entries(r).map(([k, v]) => `${k}=${String(v)}`).join(' ')}\n`);
  return r.status === 0 ? 0 : 1;
}

/**
 * `vmm mce NAME CPU BANK STATUS MCGSTATUS ADDR MISC`: QEMU's HMP `mce`, sent as
 * QMP human-monitor-command. Silent on success; what the monitor says instead
 * (e.g. "Invalid MCE bank number") is printed and the exit status is 1.
 */
export function vmmMce(sys: Syscalls, o: { name: string; args: string[] }): number {
  const r = callRaw(sys, o.name, { execute: 'human-monitor-command', arguments: { 'command-line': `mce ${o.args.join(' ')}` } });
  if (r === null) return 1;
  const text = typeof r === 'string' ? r : '';
  if (!text) return 0;
  writeStr(sys, 2, `vmm: ${o.name}: ${text.trimEnd()}\n`);
  return 1;
}

/** `vmm info NAME`: key=value lines. */
export function vmmInfo(sys: Syscalls, name: string): number {
  const r = call(sys, name, { execute: 'query-vm' });
  if (!r) return 1;
  writeStr(sys, 1, Object.entries(r).map(([k, v]) => `${k}=${String(v)}\n`).join(''));
  return 0;
}

/** `vmm list`: one line per VM under /run/vmm. */
export function vmmList(sys: Syscalls): number {
  for (const name of listVms(sys)) {
    const pid = vmPid(sys, name);
    const cfg = parseKv(readText(sys, vmPath(name, 'config')) ?? '');
    const state = pid !== null && processAlive(sys, pid) ? 'running' : 'dead';
    writeStr(sys, 1, `${name} pid=${pid ?? '?'} memory=${cfg.get('memory') ?? '?'} backend=${cfg.get('backend') ?? '?'} status=${state}\n`);
  }
  return 0;
}

/** `vmm stop NAME`: SIGTERM the VM (its handler exits cleanly) and remove /run/vmm/NAME. */
export function vmmStop(sys: Syscalls, name: string): number {
  const pid = vmPid(sys, name);
  if (pid === null) {
    writeStr(sys, 2, `vmm: ${name}: No such VM\n`);
    return 1;
  }
  if (processAlive(sys, pid)) {
    try {
      sys.kill(pid, SIGTERM);
    } catch (e) {
      if (!(e instanceof Errno && e.code === 'ESRCH')) throw e;
    }
  } else {
    writeStr(sys, 2, `vmm: warning: ${name}: VM process ${pid} had already exited\n`);
  }
  removeVmDir(sys, name);
  return 0;
}
