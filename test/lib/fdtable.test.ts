/**
 * The descriptor table both syscall implementations share (src/lib/fdtable.ts):
 * pipe's pair install gives back the first end when the second does not fit.
 *
 *   fds: [f f f … f _]   (1023 taken, one free)  → pipe: EMFILE, table unchanged, both ends released
 */
import { describe, expect, it } from 'vitest';
import { Errno } from '../../src/lib/errno.ts';
import { NR_OPEN_DEFAULT, fd_install, fd_install_pair } from '../../src/lib/fdtable.ts';

class F {
  refs = 1;
  fput(): void {
    this.refs--;
  }
}

describe('fd_install_pair', () => {
  it('installs both ends at the lowest free descriptors', () => {
    const fds: (F | null)[] = [new F(), null, new F()];
    expect(fd_install_pair(fds, new F(), new F())).toEqual([1, 3]);
  });

  it('EMFILE with one slot left: the first end is taken out again and both are released', () => {
    const fds: (F | null)[] = [];
    for (let i = 0; i < NR_OPEN_DEFAULT - 1; i++) fd_install(fds, new F());
    const r = new F();
    const w = new F();
    let err: unknown = null;
    try {
      fd_install_pair(fds, r, w);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Errno);
    expect((err as Errno).code).toBe('EMFILE');
    expect([r.refs, w.refs]).toEqual([0, 0]);
    expect(fds[NR_OPEN_DEFAULT - 1]).toBeNull();
  });
});
