import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fake_sys.ts';
import { sh } from './helpers.ts';

/** A kernel with a few files under /tmp (mtime 2023-11-14 22:13:20 UTC). */
function withFiles(): FakeKernel {
  const k = new FakeKernel();
  k.writeFile('/tmp/a', 'hello');
  k.writeFile('/tmp/b', 'line1\nline2\nline3\n');
  k.mkNode('/tmp/d', 'dir', 0o755);
  k.writeFile('/tmp/d/.hidden', '');
  k.writeFile('/tmp/d/z', '');
  k.mkNode('/dev/dax0.0', 'chr', 0o600, 252 * 256);
  return k;
}

describe('cat', () => {
  it('concatenates files and stdin, reports errors GNU-style', () => {
    const k = withFiles();
    const r = sh('cat /tmp/a /tmp/b; echo in | cat - /nope "/no pe" /tmp/d', k);
    expect(r.out).toBe('helloline1\nline2\nline3\nin\n');
    expect(r.err).toBe("cat: /nope: No such file or directory\ncat: '/no pe': No such file or directory\ncat: /tmp/d: Is a directory\n");
    expect(r.status).toBe(1);
  });
});

describe('ls', () => {
  it('lists one name per line, sorted, dotfiles only with -a/-A', () => {
    const k = withFiles();
    expect(sh('ls /tmp', k).out).toBe('a\nb\nd\n');
    expect(sh('ls -a /tmp/d', k).out).toBe('.\n..\n.hidden\nz\n');
    expect(sh('ls -A /tmp/d', k).out).toBe('.hidden\nz\n');
  });

  it('file operands first, then directories with headers', () => {
    const r = sh('ls /tmp/b /tmp/d /tmp/a /nope', withFiles());
    expect(r.out).toBe('/tmp/a\n/tmp/b\n\n/tmp/d:\nz\n');
    expect(r.err).toBe("ls: cannot access '/nope': No such file or directory\n");
    expect(r.status).toBe(2);
  });

  it('-l long format with GNU column widths and device numbers', () => {
    const k = withFiles();
    expect(sh('ls -l /tmp', k).out).toBe(
      'total 8\n' +
        '-rw-r--r-- 1 root root  5 Nov 14 22:13 a\n' +
        '-rw-r--r-- 1 root root 18 Nov 14 22:13 b\n' +
        'drwxr-xr-x 2 root root 60 Nov 14 22:13 d\n',
    );
    expect(sh('ls -l /dev/dax0.0', k).out).toBe('crw------- 1 root root 252, 0 Nov 14 22:13 /dev/dax0.0\n');
  });

  it('shows the year for old files', () => {
    const k = withFiles();
    k.clockNs += 400 * 86400 * 1e9;
    expect(sh('ls -l /tmp/a', k).out).toBe('-rw-r--r-- 1 root root 5 Nov 14  2023 /tmp/a\n');
  });
});

describe('mkdir, rmdir, rm, mv', () => {
  it('mkdir and its errors', () => {
    const k = withFiles();
    const r = sh('mkdir /tmp/n; mkdir /tmp/n; mkdir -p /tmp/p/q/r /tmp/n; mkdir /x/y; mkdir -p /tmp/a/b; mkdir', k);
    expect(r.err).toBe(
      "mkdir: cannot create directory '/tmp/n': File exists\n" +
        "mkdir: cannot create directory '/x/y': No such file or directory\n" +
        "mkdir: cannot create directory '/tmp/a': Not a directory\n" +
        'mkdir: missing operand\nTry \'mkdir --help\' for more information.\n',
    );
    expect(k.nodes.get('/tmp/p/q/r')?.kind).toBe('dir');
  });

  it('rmdir', () => {
    const r = sh('rmdir /tmp/d; rmdir /nope; mkdir /tmp/e; rmdir /tmp/e && echo ok', withFiles());
    expect(r.err).toBe("rmdir: failed to remove '/tmp/d': Directory not empty\nrmdir: failed to remove '/nope': No such file or directory\n");
    expect(r.out).toBe('ok\n');
  });

  it('rm with -f and -r', () => {
    const k = withFiles();
    const r = sh('rm /nope; rm -f /nope; echo $?; rm /tmp/d; rm -r /tmp/d; rm /tmp/a; ls /tmp; rm -rf /; rm .', k);
    expect(r.err).toBe(
      "rm: cannot remove '/nope': No such file or directory\n" +
        "rm: cannot remove '/tmp/d': Is a directory\n" +
        "rm: it is dangerous to operate recursively on '/'\nrm: use --no-preserve-root to override this failsafe\n" +
        "rm: refusing to remove '.' or '..' directory: skipping '.'\n",
    );
    expect(r.out).toBe('0\nb\n');
  });

  it('rm of a mount point reports EBUSY', () => {
    const k = withFiles();
    k.addMount({ source: 'none', target: '/mnt/x', fstype: 'tmpfs', options: 'rw' });
    expect(sh('rm -r /mnt/x', k).err).toBe("rm: cannot remove '/mnt/x': Device or resource busy\n");
  });

  it('mv renames, moves into directories, copies across mounts', () => {
    const k = withFiles();
    k.addMount({ source: 'none', target: '/mnt/x', fstype: 'tmpfs', options: 'rw' });
    const r = sh('mv /tmp/a /tmp/c; mv /tmp/c /tmp/d; mv /tmp/b /mnt/x/b; mv /nope /tmp; mv /tmp/d/c /no/where; mv /tmp/d', k);
    expect(r.err).toBe(
      "mv: cannot stat '/nope': No such file or directory\n" +
        "mv: cannot move '/tmp/d/c' to '/no/where': No such file or directory\n" +
        "mv: missing destination file operand after '/tmp/d'\nTry 'mv --help' for more information.\n",
    );
    expect(k.readFile('/tmp/d/c')).toBe('hello');
    expect(k.readFile('/mnt/x/b')).toBe('line1\nline2\nline3\n');
    expect(k.nodes.has('/tmp/b')).toBe(false);
  });
});

describe('stat', () => {
  it('default output as coreutils 9 prints it', () => {
    const r = sh('stat /tmp/a', withFiles());
    expect(r.out).toBe(
      '  File: /tmp/a\n' +
        '  Size: 5         \tBlocks: 8          IO Block: 4096   regular file\n' +
        'Device: 0,1\tInode: 9           Links: 1\n' +
        'Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)\n' +
        'Access: 2023-11-14 22:13:20.000000000 +0000\n' +
        'Modify: 2023-11-14 22:13:20.000000000 +0000\n' +
        'Change: 2023-11-14 22:13:20.000000000 +0000\n' +
        ' Birth: -\n',
    );
  });

  it('-c FORMAT and errors', () => {
    const r = sh('stat -c "%s %b %B %n %F %h %a %A %o %i %t,%T" /tmp/a /tmp/d /dev/dax0.0 /nope', withFiles());
    expect(r.out).toBe('5 8 512 /tmp/a regular file 1 644 -rw-r--r-- 4096 9 0,0\n60 0 512 /tmp/d directory 2 755 drwxr-xr-x 4096 11 0,0\n0 0 512 /dev/dax0.0 character special file 1 600 crw------- 4096 14 fc,0\n');
    expect(r.err).toBe("stat: cannot statx '/nope': No such file or directory\n");
    expect(r.status).toBe(1);
  });
});

describe('truncate and fallocate', () => {
  it('truncate sizes, relative sizes and errors', () => {
    const k = withFiles();
    const r = sh('truncate -s 1K /tmp/n; stat -c %s /tmp/n; truncate -s +1M /tmp/n; stat -c %s /tmp/n; truncate -s %4096 /tmp/a; stat -c %s /tmp/a; truncate -s -10 /tmp/a; stat -c %s /tmp/a; truncate -s x /tmp/a; truncate -s 1 /nodir/f; truncate -c -s 0 /nope; truncate -s 1 /tmp/d', k);
    expect(r.out).toBe('1024\n1049600\n4096\n4086\n');
    expect(r.err).toBe(
      "truncate: Invalid number: 'x'\n" +
        "truncate: cannot open '/nodir/f' for writing: No such file or directory\n" +
        "truncate: cannot open '/tmp/d' for writing: Is a directory\n",
    );
  });

  it('fallocate grows files, keep-size does not; util-linux messages', () => {
    const k = withFiles();
    k.addMount({ source: 'none', target: '/mnt/d', fstype: 'dmemfs', options: 'rw' });
    k.fallocateErrors.set('dmemfs', 'EOPNOTSUPP');
    const r = sh('fallocate -l 8K /tmp/f; stat -c %s /tmp/f; fallocate -n -o 0 -l 16K /tmp/f; stat -c %s /tmp/f; fallocate -l 4K /mnt/d/x; fallocate -p -l 4K /mnt/d/x; fallocate /tmp/f; fallocate -l 1 /nodir/f; fallocate -l abc /tmp/f', k);
    expect(r.out).toBe('8192\n8192\n');
    expect(r.err).toBe(
      'fallocate: fallocate failed: Operation not supported\n' +
        'fallocate: fallocate failed: keep size mode is unsupported\n' +
        'fallocate: no length argument specified\n' +
        'fallocate: cannot open /nodir/f: No such file or directory\n' +
        "fallocate: invalid length value specified: 'abc'\n",
    );
  });
});

describe('text utilities', () => {
  it('grep basic and extended', () => {
    const k = withFiles();
    const r = sh('grep line2 /tmp/b; grep -c line /tmp/b; grep -v -e 1 -e 3 /tmp/b; grep -E "line(1|3)" /tmp/b; grep "line\\(1\\|3\\)" /tmp/b; grep -o "[[:digit:]]" /tmp/b | head -n 1; grep -q nope /tmp/b; echo $?; grep -i LINE1 /tmp/b /tmp/a; grep x /nope; echo $?', k);
    expect(r.out).toBe('line2\n3\nline2\nline1\nline3\nline1\nline3\n1\n1\n/tmp/b:line1\n2\n');
    expect(r.err).toBe('grep: /nope: No such file or directory\n');
  });

  it('head, tail, wc', () => {
    const k = withFiles();
    const r = sh('head -n 1 /tmp/b; tail -n 1 /tmp/b; tail -n +2 /tmp/b | head -1; wc -l /tmp/b; wc /tmp/b; wc -l < /tmp/b; echo hi | wc; wc -c /tmp/a /tmp/b', k);
    expect(r.out).toBe('line1\nline3\nline2\n3 /tmp/b\n 3  3 18 /tmp/b\n3\n      1       1       3\n 5 /tmp/a\n18 /tmp/b\n23 total\n');
  });

  it('basename, dirname, seq, tr', () => {
    const r = sh('basename /a/b/c.txt .txt; dirname /a/b/c; dirname c; seq 3; seq 2 2 6 | tr "\\n" " "; echo; seq -w 8 10; echo abc | tr a-z A-Z; echo aabbcc | tr -d b; echo "a  b" | tr -s " "');
    expect(r.out).toBe('c\n/a/b\n.\n1\n2\n3\n2 4 6 \n08\n09\n10\nABC\naacc\na b\n');
  });
});
