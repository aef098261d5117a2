/**
 * The control channel between a running VM and the vmm commands that talk to
 * it — the model's QEMU monitor. QEMU listens on a socket (-qmp unix:…) and its
 * main loop answers QMP commands while the vCPUs run. Programs in the model run
 * to completion, so the VM process instead parks in pause() and is woken by a
 * signal: a client writes a QMP-shaped JSON request into /run/vmm/NAME/request
 * and sends SIGUSR1; the VM's handler runs in the VM process (its mm, its KVM
 * fds), performs the request and writes /run/vmm/NAME/response, which the
 * client reads once kill() returns. A VM that dies while serving a request (an
 * unhandled SIGBUS from KVM_RUN) leaves no response: the client reports the
 * connection lost, as a QMP client sees its socket reset.
 *
 *   /run/vmm/NAME/pid       the VM's pid (QEMU's -pidfile)
 *   /run/vmm/NAME/config    key=value lines: how the VM was started (vmm list)
 *   /run/vmm/NAME/request   {"execute": …, "arguments": {…}}
 *   /run/vmm/NAME/response  {"return": {…}} or {"error": {"class": …, "desc": …}}
 */
import { Errno } from '../../lib/errno.ts';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, O_WRONLY } from '../../uapi/fcntl.ts';
import { SIGUSR1 } from '../../uapi/signal.ts';
import type { Syscalls } from '../../uapi/syscalls.ts';
import { readAll, writeStr } from '../program.ts';

/** Where every VM's directory lives. */
export const VMM_RUN_DIR = '/run/vmm';

/** A QMP command. */
export interface QmpRequest {
  execute: string;
  arguments?: Record<string, unknown>;
}

/** A QMP reply: a result (human-monitor-command's is the HMP output text), or an error with QEMU's error class. */
export type QmpResponse = { return: Record<string, unknown> | string } | { error: { class: string; desc: string } };

/** /run/vmm/NAME/FILE. */
export function vmPath(name: string, file?: string): string {
  return file ? `${VMM_RUN_DIR}/${name}/${file}` : `${VMM_RUN_DIR}/${name}`;
}

/** The whole text of a file, or null when it does not exist. */
export function readText(sys: Syscalls, path: string): string | null {
  let fd: number;
  try {
    fd = sys.open(path, O_RDONLY);
  } catch (e) {
    if (e instanceof Errno && e.code === 'ENOENT') return null;
    throw e;
  }
  try {
    return readAll(sys, fd);
  } finally {
    sys.close(fd);
  }
}

/** Create or replace a file with `text`. */
export function writeText(sys: Syscalls, path: string, text: string): void {
  const fd = sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
  try {
    writeStr(sys, fd, text);
  } finally {
    sys.close(fd);
  }
}

/** unlink that ignores a missing file. */
export function unlinkQuiet(sys: Syscalls, path: string): void {
  try {
    sys.unlink(path);
  } catch (e) {
    if (!(e instanceof Errno && e.code === 'ENOENT')) throw e;
  }
}

/** Remove /run/vmm/NAME and whatever is in it (errors ignored: best effort, like QEMU's exit path). */
export function removeVmDir(sys: Syscalls, name: string): void {
  for (const f of ['request', 'response', 'config', 'pid']) {
    try {
      sys.unlink(vmPath(name, f));
    } catch {
      // already gone
    }
  }
  try {
    sys.rmdir(vmPath(name));
  } catch {
    // already gone, or someone put something else there
  }
}

/** The names under /run/vmm, sorted. */
export function listVms(sys: Syscalls): string[] {
  let fd: number;
  try {
    fd = sys.open(VMM_RUN_DIR, O_RDONLY | O_DIRECTORY);
  } catch (e) {
    if (e instanceof Errno && e.code === 'ENOENT') return [];
    throw e;
  }
  try {
    return sys
      .getdents(fd)
      .map((d) => d.name)
      .filter((n) => n !== '.' && n !== '..')
      .sort();
  } finally {
    sys.close(fd);
  }
}

/** key=value lines → a map. */
export function parseKv(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** The pid recorded for VM `name`, or null when there is no such VM. */
export function vmPid(sys: Syscalls, name: string): number | null {
  const t = readText(sys, vmPath(name, 'pid'));
  if (t === null) return null;
  const pid = Number(t.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** Whether process `pid` is alive (kill(pid, 0), and not a zombie in /proc/PID/stat). */
export function processAlive(sys: Syscalls, pid: number): boolean {
  try {
    sys.kill(pid, 0);
  } catch (e) {
    if (e instanceof Errno && e.code === 'ESRCH') return false;
    throw e;
  }
  const stat = readText(sys, `/proc/${pid}/stat`);
  return stat === null ? false : !/\) Z /.test(stat);
}

/** What a client gets: the reply, or null when the VM died before answering. */
export function qmpCall(sys: Syscalls, name: string, pid: number, req: QmpRequest): QmpResponse | null {
  unlinkQuiet(sys, vmPath(name, 'response'));
  writeText(sys, vmPath(name, 'request'), JSON.stringify(req) + '\n');
  try {
    sys.kill(pid, SIGUSR1);
  } catch (e) {
    if (!(e instanceof Errno && e.code === 'ESRCH')) throw e;
  }
  const text = readText(sys, vmPath(name, 'response'));
  unlinkQuiet(sys, vmPath(name, 'request'));
  unlinkQuiet(sys, vmPath(name, 'response'));
  if (text === null) return null;
  return JSON.parse(text) as QmpResponse;
}

/** The VM side: the pending request, or null. */
export function qmpReadRequest(sys: Syscalls, name: string): QmpRequest | null {
  const text = readText(sys, vmPath(name, 'request'));
  if (text === null) return null;
  try {
    const req = JSON.parse(text) as QmpRequest;
    return typeof req.execute === 'string' ? req : null;
  } catch {
    return null;
  }
}

/** The VM side: write the reply. */
export function qmpReply(sys: Syscalls, name: string, resp: QmpResponse): void {
  writeText(sys, vmPath(name, 'response'), JSON.stringify(resp) + '\n');
}
