/**
 * A process's descriptor table as both syscall implementations keep it (the
 * model's Task and LinuxSyscalls): an array of open files, null where a
 * descriptor is free (fs/file.c alloc_fd, fd_install; RLIMIT_NOFILE's default).
 */
import { Errno } from './errno.ts';

/** Descriptors a process may have open (the soft RLIMIT_NOFILE default). */
export const NR_OPEN_DEFAULT = 1024;

/** Install `file` at the lowest free descriptor; EMFILE (dropping the file's reference) when the table is full. */
export function fd_install<T extends { fput(): void }>(fds: (T | null)[], file: T): number {
  let fd = fds.indexOf(null);
  if (fd < 0) fd = fds.length;
  if (fd >= NR_OPEN_DEFAULT) {
    file.fput();
    throw new Errno('EMFILE');
  }
  fds[fd] = file;
  return fd;
}

/** pipe(2)'s install of both ends: [read fd, write fd]; when the second does not fit, the first is closed again (EMFILE). */
export function fd_install_pair<T extends { fput(): void }>(fds: (T | null)[], r: T, w: T): [number, number] {
  const rfd = fd_install(fds, r);
  try {
    return [rfd, fd_install(fds, w)];
  } catch (e) {
    fds[rfd] = null;
    r.fput();
    throw e;
  }
}
