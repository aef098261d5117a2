import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fake_sys.ts';
import { sh } from './helpers.ts';

const HINT = '       dmesg(1) may have more information after failed mount system call.\n';

/** A kernel with a root fs, procfs (0 blocks) and a dmemfs mount of 2 MiB blocks. */
function withMounts(): FakeKernel {
  const k = new FakeKernel();
  k.addMount({ source: '/dev/vda', target: '/', fstype: 'ext4', options: 'rw,relatime', statfs: { blocks: 2621440, bfree: 2000000, bavail: 1900000 } });
  k.addMount({ source: 'proc', target: '/proc', fstype: 'proc', options: 'rw,nosuid,nodev,noexec,relatime' });
  k.addMount({
    source: 'dmem', target: '/mnt/dmem', fstype: 'dmemfs', options: 'rw,relatime',
    statfs: { bsize: 2097152, frsize: 2097152, blocks: 512, bfree: 500, bavail: 500 },
  });
  return k;
}

describe('mount and umount', () => {
  it('bare mount lists /proc/mounts in util-linux form', () => {
    expect(sh('mount; mount -t dmemfs', withMounts()).out).toBe(
      '/dev/vda on / type ext4 (rw,relatime)\nproc on /proc type proc (rw,nosuid,nodev,noexec,relatime)\ndmem on /mnt/dmem type dmemfs (rw,relatime)\n' +
        'dmem on /mnt/dmem type dmemfs (rw,relatime)\n',
    );
  });

  it('mounts, and reports util-linux 2.38 errors with status 32', () => {
    const k = withMounts();
    const r = sh('mount -t tmpfs none /mnt && echo ok; mount -t foo none /mnt; echo $?; mount -t tmpfs none /nodir; mount -t tmpfs -o size=1M,bogus none /tmp; mount -t tmpfs none /mnt; mount -t tmpfs none /tmp/../bin/../root/x', k);
    expect(r.out).toBe('ok\n32\n');
    expect(r.err).toBe(
      "mount: /mnt: unknown filesystem type 'foo'.\n" + HINT +
        'mount: /nodir: mount point does not exist.\n' + HINT +
        'mount: /tmp: wrong fs type, bad option, bad superblock on none, missing codepage or helper program, or other error.\n' + HINT +
        'mount: /mnt: none already mounted on /mnt.\n' + HINT +
        'mount: /tmp/../bin/../root/x: mount point does not exist.\n' + HINT,
    );
    expect(k.mounts.at(-1)).toMatchObject({ source: 'none', target: '/mnt', fstype: 'tmpfs' });
  });

  it('umount errors', () => {
    const k = withMounts();
    k.busy.add('/mnt/dmem');
    const r = sh('umount /mnt/dmem; echo $?; umount /tmp; umount /nope; umount /proc && echo gone', k);
    expect(r.out).toBe('32\ngone\n');
    expect(r.err).toBe('umount: /mnt/dmem: target is busy.\numount: /tmp: not mounted.\numount: /nope: no mount point specified.\n');
  });
});

describe('df', () => {
  it('lists real file systems with GNU widths, skipping 0-block pseudo file systems', () => {
    expect(sh('df', withMounts()).out).toBe(
      'Filesystem     1K-blocks    Used Available Use% Mounted on\n' +
        '/dev/vda        10485760 2485760   7600000  25% /\n' +
        'dmem             1048576   24576   1024000   3% /mnt/dmem\n',
    );
  });

  it('-B and a path argument; errors', () => {
    const r = sh('df -B1M /mnt/dmem; df -BM /mnt/dmem/x; df /proc; df -h /', withMounts());
    expect(r.out).toBe(
      'Filesystem     1M-blocks  Used Available Use% Mounted on\ndmem                1024    24      1000   3% /mnt/dmem\n' +
        'Filesystem     1K-blocks  Used Available Use% Mounted on\nproc                   0     0         0    - /proc\n' +
        'Filesystem      Size  Used Avail Use% Mounted on\n/dev/vda         10G  2.4G  7.3G  25% /\n',
    );
    expect(r.err).toBe('df: /mnt/dmem/x: No such file or directory\n');
  });

  it('header for other block sizes', async () => {
    const { blocksHeader } = await import('../../src/user/coreutils/df.ts');
    expect([1, 512, 1000, 1024, 4096, 1048576].map((b) => blocksHeader(b, false))).toEqual([
      '1B-blocks', '512B-blocks', '1kB-blocks', '1K-blocks', '4K-blocks', '1M-blocks',
    ]);
  });
});

describe('free', () => {
  const meminfo =
    'MemTotal:       16384000 kB\nMemFree:         8000000 kB\nMemAvailable:   12000000 kB\nBuffers:          100000 kB\n' +
    'Cached:          3000000 kB\nSwapCached:            0 kB\nShmem:             50000 kB\nSReclaimable:     200000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n';

  it('procps-ng 4 layout in KiB, MiB and human units', () => {
    const k = new FakeKernel();
    k.meminfo = meminfo;
    const r = sh('free; free -m; free -h', k);
    expect(r.out).toBe(
      '               total        used        free      shared  buff/cache   available\n' +
        'Mem:        16384000     4384000     8000000       50000     3300000    12000000\n' +
        'Swap:              0           0           0\n' +
        '               total        used        free      shared  buff/cache   available\n' +
        'Mem:           16000        4281        7812          48        3222       11718\n' +
        'Swap:              0           0           0\n' +
        '               total        used        free      shared  buff/cache   available\n' +
        'Mem:            15Gi       4.2Gi       7.6Gi        48Mi       3.1Gi        11Gi\n' +
        'Swap:             0B          0B          0B\n',
    );
  });
});

describe('processes, signals, time, log', () => {
  it('ps reads /proc', () => {
    expect(sh('ps').out).toBe('    PID TTY          TIME CMD\n    100 pts/0    00:00:02 sh\n    101 pts/0    00:00:02 ps\n');
  });

  it('kill with signal names and numbers', () => {
    const k = new FakeKernel();
    const r = sh('hold; kill -9 101; kill -s TERM 101; kill -l 9; kill -l TERM; kill -FOO 1; kill; echo $?', k);
    expect(r.out).toBe('KILL\n15\n2\n');
    expect(r.err).toBe(
      'kill: (101) - No such process\nkill: FOO: invalid signal specification\n' +
        'kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]\n',
    );
    expect(k.procs.get(101)!.status).toBe(9);
  });

  it('sleep advances the virtual clock', () => {
    const k = new FakeKernel();
    const t0 = k.clockNs;
    const r = sh('sleep 1.5 1m; sleep x', k);
    expect(k.clockNs - t0).toBe(61.5e9);
    expect(r.err).toBe("sleep: invalid time interval 'x'\nTry 'sleep --help' for more information.\n");
  });

  it('dmesg prints the log as is', () => {
    const k = new FakeKernel();
    k.log = '[    0.000000] Linux version 6.6.0\n[    0.000001] dmem: reserved 1G\n';
    expect(sh('dmesg | tail -n 1', k).out).toBe('[    0.000001] dmem: reserved 1G\n');
  });

  it('sh runs scripts from files and -c', () => {
    const k = new FakeKernel();
    k.writeFile('/tmp/s.sh', 'echo "from $0 $1"\nexit 4\n');
    const r = sh('sh -c \'echo $1; exit 3\' name arg; echo $?; sh /tmp/s.sh x; echo $?; sh /nope', k);
    expect(r.out).toBe('arg\n3\nfrom sh x\n4\n');
    expect(r.err).toBe('sh: /nope: No such file or directory\n');
  });
});
