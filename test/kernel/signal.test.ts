/** sigaction: handlers run in the receiving task, waking it from pause() for the purpose. */
import { describe, expect, it } from 'vitest';
import { SIGBUS, SIGKILL, SIGTERM, SIGUSR1 } from '../../src/uapi/signal.ts';
import type { SigInfo } from '../../src/uapi/syscalls.ts';
import { boot, errno } from './helpers.ts';

describe('signal handlers', () => {
  it('a parked task runs its handler as itself and stays parked', () => {
    const { host, task } = boot();
    const child = task.fork();
    const seen: { info: SigInfo; current: number | undefined }[] = [];
    child.sigaction(SIGUSR1, (info) => seen.push({ info, current: host.current?.pid }));
    child.pause();
    task.kill(child.pid, SIGUSR1);
    expect(seen).toEqual([{ info: { signo: SIGUSR1, code: 0, pid: task.pid, addr: 0, addrLsb: 0 }, current: child.pid }]);
    expect(child.state).toBe('S');
    task.kill(child.pid, SIGTERM);
    expect(child.state).toBe('Z');
  });

  it('an uncaught fault inside the handler kills the task with that signal', () => {
    const { task } = boot();
    const child = task.fork();
    child.sigaction(SIGUSR1, () => child.load(0x1000, 1));
    child.pause();
    task.kill(child.pid, SIGUSR1);
    expect(child.state).toBe('Z');
    expect(task.wait4(child.pid, 0)).toEqual({ pid: child.pid, status: 11 });
  });

  it('SIGKILL cannot be caught; a handler can be removed again', () => {
    const { task } = boot();
    expect(errno(() => task.sigaction(SIGKILL, () => {}))).toBe('EINVAL');
    expect(errno(() => task.sigaction(0, () => {}))).toBe('EINVAL');
    const child = task.fork();
    child.sigaction(SIGBUS, () => {});
    child.sigaction(SIGBUS, null);
    task.kill(child.pid, SIGBUS);
    expect(task.wait4(child.pid, 0).status).toBe(SIGBUS);
  });
});
