/**
 * The mounts a distribution's early boot makes (systemd's mount_setup /
 * an initramfs's init): proc, sysfs, debugfs, devtmpfs and a tmpfs on /tmp.
 */
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../../uapi/fcntl.ts';
import type { Path } from './vfs/mount.ts';
import type { Vfs } from './vfs/vfs.ts';

/** Create the mount points under `root` and mount the early filesystems on them. */
export function mount_early_filesystems(vfs: Vfs, root: Path): void {
  for (const d of ['/proc', '/sys', '/dev', '/tmp']) vfs.mkdir(root, d, 0o755);
  const nsne = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  vfs.do_mount(root, 'proc', '/proc', 'proc', nsne, '');
  vfs.do_mount(root, 'sysfs', '/sys', 'sysfs', nsne, '');
  vfs.do_mount(root, 'debugfs', '/sys/kernel/debug', 'debugfs', nsne, '');
  vfs.do_mount(root, 'devtmpfs', '/dev', 'devtmpfs', MS_NOSUID, '');
  vfs.do_mount(root, 'tmpfs', '/tmp', 'tmpfs', MS_NOSUID | MS_NODEV, '');
}
