/**
 * vmm's hugetlb and device-dax backends (QEMU's memory-backend-memfd
 * hugetlb=on/hugetlbsize= and memory-backend-file on hugetlbfs or /dev/daxN.M):
 * option parsing and the -object string, memfd_create's flags, QEMU's error
 * texts, get_file_size's devdax path, and VFIO on each backend.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../src/lib/size.ts';
import { devMajorMinor, getFileSize, memfdFlags } from '../../src/user/vmm/hostmem_fd.ts';
import { UsageError, objectString, parseStart } from '../../src/user/vmm/options.ts';
import { VmmError } from '../../src/user/vmm/teardown.ts';
import { meminfo, readFile } from '../kernel/helpers.ts';
import { info, session as vmmSession, vmPid, type Session } from './vmm_session.ts';

const HUGE = 'hugepagesz=2M hugepages=1024 hugepagesz=1G hugepages=3';
const DAX = 'efi_fake_mem=4G@0x400000000:0x40000';

function session(cmdline: string): Session {
  return vmmSession({ mem: 32 * GiB, cmdline });
}

/** A hugetlb pool's free and reserved counts from sysfs. */
function pool(s: Session, kb: number): { free: number; resv: number } {
  const d = `/sys/kernel/mm/hugepages/hugepages-${kb}kB`;
  return { free: Number(readFile(s.task, `${d}/free_hugepages`)), resv: Number(readFile(s.task, `${d}/resv_hugepages`)) };
}

const start = (args: string): string[] => ['vmm', 'start', ...args.split(' ')];

describe('options', () => {
  it('--hugetlb and --hugetlbsize on memfd, in the -object string', () => {
    const o = parseStart(start('vm0 --memory 16G --memory-backend memfd --hugetlb --hugetlbsize 1G'));
    expect(o).toMatchObject({ hugetlb: true, hugetlbsize: GiB, backend: 'memfd' });
    expect(objectString(o)).toBe('-object memory-backend-memfd,id=vm0,size=16G,hugetlb=on,hugetlbsize=1G');
    expect(objectString(parseStart(start('vm0 --memory 2G --memory-backend memfd --hugetlb')))).toBe('-object memory-backend-memfd,id=vm0,size=2G,hugetlb=on');
    // QEMU applies hugetlbsize only with hugetlb=on, but keeps and shows it.
    expect(parseStart(start('vm0 --memory 2G --memory-backend memfd --hugetlbsize 2M'))).toMatchObject({ hugetlb: false, hugetlbsize: 2 * MiB });
  });

  it('rejects them on ram and file as QEMU rejects a property the type lacks', () => {
    const err = (args: string): string => {
      try {
        parseStart(start(args));
      } catch (e) {
        if (e instanceof UsageError) return e.message;
        throw e;
      }
      return 'ok';
    };
    expect(err('vm0 --memory 1G --hugetlb')).toBe("-object memory-backend-ram,id=vm0,size=1G,hugetlb=on: Invalid parameter 'hugetlb'");
    expect(err('vm0 --memory 1G --memory-backend file --mem-path /dev/hugepages --hugetlbsize 2M')).toBe(
      "-object memory-backend-file,id=vm0,size=1G,mem-path=/dev/hugepages,hugetlbsize=2M: Invalid parameter 'hugetlbsize'",
    );
    expect(err('vm0 --memory 1G --memory-backend memfd --hugetlbsize lots')).toMatch(/^Parameter 'hugetlbsize' expects a non-negative number/);
    expect(err('vm0 --memory 1G --memory-backend memfd --hugetlbsize')).toBe("option '--hugetlbsize' requires an argument");
  });
});

describe('qemu_memfd_create flags and get_file_size helpers', () => {
  it('MFD_CLOEXEC|MFD_ALLOW_SEALING, plus MFD_HUGETLB and log2(size) << 26', () => {
    expect(memfdFlags(false, 0, '')).toBe(0x3);
    expect(memfdFlags(true, 0, '')).toBe(0x7);
    expect(memfdFlags(true, 2 * MiB, '')).toBe(0x54000007);
    expect(memfdFlags(true, GiB, '')).toBe(0x78000007);
    // 2^40: bit 31 set, as QEMU's unsigned int prints it.
    expect(memfdFlags(true, 2 ** 40, '').toString(16)).toBe('a0000007');
    // The power-of-two check runs even without hugetlb=on.
    expect(() => memfdFlags(false, 3 * MiB, 'W')).toThrow(new VmmError('Hugepage size must be a power of 2', 'W'));
  });

  it('decodes dev_t as glibc does, minors above 255 included', () => {
    expect(devMajorMinor(254 * 256 + 3)).toEqual([254, 3]);
    // new_encode_dev(MKDEV(10, 0x1234)): minor low byte, major, minor high bits at 20.
    expect(devMajorMinor(0x34 + 10 * 256 + 0x12 * 2 ** 20)).toEqual([10, 0x1234]);
  });

  it('sizes /dev/dax0.0 from sysfs and a regular file by lseek', () => {
    const s = session(DAX);
    const fd = s.task.open('/dev/dax0.0', 2);
    expect(getFileSize(s.task, fd)).toBe(4 * GiB);
    // fstat says 0 for the device: the sysfs size is what makes QEMU see it.
    expect(s.task.fstat(fd).size).toBe(0);
    s.sh('truncate -s 3M /tmp/f');
    expect(getFileSize(s.task, s.task.open('/tmp/f', 2))).toBe(3 * MiB);
  });
});

describe('memory-backend-memfd hugetlb=on', () => {
  it('reserves at mmap, maps 2M in the EPT, and frees everything at stop', () => {
    const s = session(HUGE);
    expect(s.sh('vmm start m --memory 1G --memory-backend memfd --hugetlb').status).toBe(0);
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 512 });
    s.sh('vmm run m --pattern seq --write');
    const i = info(s, 'm');
    expect([i.get('page-size'), i.get('align'), i.get('share'), i.get('pages_2m'), i.get('pages_4k')]).toEqual(['2M', '2M', 'on', '512', '0']);
    expect(pool(s, 2048)).toEqual({ free: 512, resv: 0 });
    expect(readFile(s.task, `/proc/${vmPid(s, 'm')}/maps`)).toMatch(/rw-s 00000000 00:[0-9a-f]+ \d+ +\/memfd:memory-backend-memfd \(deleted\)/);
    s.sh('vmm stop m');
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 0 });
  });

  it('--prealloc faults every huge page in before the guest runs (MADV_POPULATE_WRITE)', () => {
    const s = session(HUGE);
    expect(s.sh('vmm start p --memory 1G --memory-backend memfd --hugetlb --prealloc').status).toBe(0);
    expect(pool(s, 2048)).toEqual({ free: 512, resv: 0 });
    // Populated in the host page tables, not yet in the EPT.
    expect(info(s, 'p').get('pages_2m')).toBe('0');
  });

  it('--hugetlbsize 1G picks the 1G hstate and a 1G-aligned mapping', () => {
    const s = session(HUGE);
    expect(s.sh('vmm start m --memory 2G --memory-backend memfd --hugetlb --hugetlbsize 1G').status).toBe(0);
    expect(pool(s, 1048576)).toEqual({ free: 3, resv: 2 });
    expect(Number(info(s, 'm').get('slot0.hva')) % GiB).toBe(0);
    s.sh('vmm run m --pattern seq');
    expect(info(s, 'm').get('pages_1g')).toBe('2');
    expect(meminfo(s.task, 'SecPageTables')).toBe(8);
  });

  it("QEMU's errors: flags, resize, power of 2, zero, and an exhausted pool at mmap", () => {
    const s = session(HUGE);
    const w = (args: string): string => `-object memory-backend-memfd,id=e,${args}`;
    const cases: [string, string][] = [
      ['--memory 1G --hugetlb --hugetlbsize 4M', `vmm: ${w('size=1G,hugetlb=on,hugetlbsize=4M')}: failed to create memfd with flags 0x58000007: No such device\n`],
      ['--memory 3M --hugetlb', `vmm: ${w('size=3M,hugetlb=on')}: failed to resize memfd to 3145728: Invalid argument\n`],
      ['--memory 1G --hugetlb --hugetlbsize 3M', `vmm: ${w('size=1G,hugetlb=on,hugetlbsize=3M')}: Hugepage size must be a power of 2\n`],
      ['--memory 1G --hugetlbsize 3M', `vmm: ${w('size=1G,hugetlbsize=3M')}: Hugepage size must be a power of 2\n`],
      ['--memory 1G --hugetlb --hugetlbsize 0', `vmm: ${w('size=1G,hugetlb=on,hugetlbsize=0')}: Property 'memory-backend-memfd.hugetlbsize' doesn't take value '0'\n`],
      ['--memory 4G --hugetlb', `vmm: ${w('size=4G,hugetlb=on')}: unable to map backing store for guest RAM: Cannot allocate memory\n`],
      // Without hugetlb the memfd is tmpfs: an unaligned size is QEMU's "too small" (the block is 4K-aligned, the file not).
      ['--memory 1000', `vmm: ${w('size=1000')}: e backing store size 0x3e8 is too small for 'size' option 0x1000 plus 'offset' option 0x0\n`],
    ];
    for (const [args, msg] of cases) {
      expect(s.sh(`vmm start e ${args} --memory-backend memfd`), args).toMatchObject({ status: 1, out: '', err: msg });
    }
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 0 });
    expect(s.host.fs.kvm.vms.size).toBe(0);
    expect(s.sh('ls /run/vmm').out).toBe('');
  });
});

describe('memory-backend-file on hugetlbfs', () => {
  it('a directory gets qemu_back_mem.ID.XXXXXX, unlinked; its pages go back when the VM stops', () => {
    const s = session(HUGE);
    s.sh('mkdir /mnt/h; mount -t hugetlbfs none /mnt/h');
    expect(s.sh('vmm start h --memory 1G --memory-backend file --mem-path /mnt/h --share').status).toBe(0);
    expect(s.sh('ls /mnt/h').out).toBe('');
    expect(readFile(s.task, `/proc/${vmPid(s, 'h')}/maps`)).toMatch(/rw-s 00000000 00:[0-9a-f]+ \d+ +\/mnt\/h\/qemu_back_mem\.h\.\w{6} \(deleted\)/);
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 512 });
    s.sh('vmm run h --pattern seq --write --bytes 64M');
    expect(pool(s, 2048)).toEqual({ free: 992, resv: 480 });
    s.sh('vmm stop h');
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 0 });
  });

  it('without --share the mapping is private and still reserves; a named file on 1G keeps its pages', () => {
    const s = session(HUGE);
    s.sh('mkdir /mnt/g; mount -t hugetlbfs -o pagesize=1G none /mnt/g');
    expect(s.sh('vmm start p --memory 1G --memory-backend file --mem-path /mnt/g').status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'p')}/maps`)).toMatch(/rw-p 00000000 .*qemu_back_mem\.p\./);
    expect(pool(s, 1048576)).toEqual({ free: 3, resv: 1 });
    s.sh('vmm stop p');
    expect(s.sh('vmm start f --memory 2G --memory-backend file --mem-path /mnt/g/f --share').status).toBe(0);
    s.sh('vmm run f --pattern seq --write --bytes 4K; vmm stop f');
    // The file stays with the one page the guest wrote, and the reservation of the
    // other (a shared mapping's reservation belongs to the file until truncate/unlink).
    expect(s.sh("stat -c '%s %b' /mnt/g/f").out).toBe(`${2 * GiB} ${GiB / 512}\n`);
    expect(pool(s, 1048576)).toEqual({ free: 2, resv: 1 });
    // Reused: not truncated, not resized, nothing more to reserve.
    expect(s.sh('vmm start f --memory 2G --memory-backend file --mem-path /mnt/g/f --share').status).toBe(0);
    expect(pool(s, 1048576)).toEqual({ free: 2, resv: 1 });
    s.sh('vmm stop f; rm /mnt/g/f');
    expect(pool(s, 1048576)).toEqual({ free: 3, resv: 0 });
  });

  it('page-size errors and pool exhaustion, with nothing left behind', () => {
    const s = session(HUGE);
    s.sh('mkdir /mnt/g /mnt/h; mount -t hugetlbfs -o pagesize=1G none /mnt/g; mount -t hugetlbfs none /mnt/h');
    expect(s.sh('vmm start e --memory 512M --memory-backend file --mem-path /mnt/g --share').err).toBe(
      'vmm: -object memory-backend-file,id=e,size=512M,mem-path=/mnt/g,share=on: memory size 0x20000000 must be equal to or larger than page size 0x40000000\n',
    );
    expect(s.sh('vmm start e --memory 1G --memory-backend file --mem-path /mnt/h --align 1M').err).toBe(
      'vmm: -object memory-backend-file,id=e,size=1G,mem-path=/mnt/h,align=1M: alignment 0x100000 must be multiples of page size 0x200000\n',
    );
    expect(s.sh('vmm start e --memory 4G --memory-backend file --mem-path /mnt/g/e --share').err).toBe(
      'vmm: -object memory-backend-file,id=e,size=4G,mem-path=/mnt/g/e,share=on: unable to map backing store for guest RAM: Cannot allocate memory\n',
    );
    // QEMU unlinks a file it created when the setup fails.
    expect(s.sh('ls /mnt/g /mnt/h').out).toBe('/mnt/g:\n\n/mnt/h:\n');
    expect(pool(s, 1048576)).toEqual({ free: 3, resv: 0 });
  });
});

describe('memory-backend-file on /dev/daxN.M', () => {
  it('needs --share and an --align the device accepts; then maps at the device alignment', () => {
    const s = session(DAX);
    const where = '-object memory-backend-file,id=d,size=4G,mem-path=/dev/dax0.0';
    expect(s.sh('vmm start d --memory 4G --memory-backend file --mem-path /dev/dax0.0').err).toBe(`vmm: ${where}: unable to map backing store for guest RAM: Invalid argument\n`);
    expect(s.sh('vmm start d --memory 4G --memory-backend file --mem-path /dev/dax0.0 --share').err).toBe(
      `vmm: ${where},share=on: unable to map backing store for guest RAM: Invalid argument\n`,
    );
    expect(s.sh('vmm start d --memory 8G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M').err).toBe(
      "vmm: -object memory-backend-file,id=d,size=8G,mem-path=/dev/dax0.0,share=on,align=2M: d backing store size 0x100000000 is too small for 'size' option 0x200000000 plus 'offset' option 0x0\n",
    );
    expect(s.sh('vmm start d --memory 4G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M').status).toBe(0);
    s.sh('vmm run d --pattern seq');
    const i = info(s, 'd');
    expect([i.get('page-size'), i.get('align'), i.get('pages_2m'), i.get('secpagetables_kb')]).toEqual(['4K', '2M', '2048', '24']);
  });

  it('map=0: the fault path needs VM_DONTCOPY, which QEMU sets with MADV_DONTFORK', () => {
    const s = session(DAX);
    s.sh('daxctl disable-device dax0.0; echo 0 > /sys/bus/dax/devices/dax0.0/map; daxctl enable-device dax0.0');
    expect(s.sh('memtouch --file /dev/dax0.0 --size 2M --touch 4K')).toMatchObject({ status: 135, err: 'Bus error\n' });
    expect(s.sh('vmm start d --memory 4G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M').status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'd')}/smaps`)).toMatch(/VmFlags: rd wr sh mr mw me ms pf dc de dd hg/);
    expect(s.sh('vmm run d --pattern seq').status).toBe(0);
    expect(info(s, 'd').get('pages_2m')).toBe('2048');
  });
});

describe('--vfio on the new backends', () => {
  it('hugetlb pages are pinned and charged to locked_vm; their reservation is consumed', () => {
    const s = session(HUGE);
    expect(s.sh('vmm start v --memory 2G --memory-backend memfd --hugetlb --vfio').status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'v')}/status`)).toMatch(/VmLck:\s+2097152 kB/);
    expect(pool(s, 2048)).toEqual({ free: 0, resv: 0 });
    s.sh('vmm stop v');
    expect(pool(s, 2048)).toEqual({ free: 1024, resv: 0 });
  });

  it('devdax with struct pages is pinned; map=0 goes the VM_PFNMAP path with nothing locked', () => {
    const s = session(DAX);
    s.sh('daxctl disable-device dax0.0; daxctl reconfigure-device -s 2G dax0.0; daxctl enable-device dax0.0');
    expect(s.sh('vmm start v --memory 2G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M --vfio').status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'v')}/status`)).toMatch(/VmLck:\s+2097152 kB/);
    s.sh('vmm stop v; daxctl disable-device dax0.0; echo 0 > /sys/bus/dax/devices/dax0.0/map; daxctl enable-device dax0.0');
    expect(s.sh('vmm start v --memory 2G --memory-backend file --mem-path /dev/dax0.0 --share --align 2M --vfio').status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'v')}/status`)).toMatch(/VmLck:\s+0 kB/);
    expect(s.sh('vmm run v --pattern seq').status).toBe(0);
  });

  it('a 4 GiB guest is split around the PCI hole, so neither DMA mapping crosses the MSI window (vmm_pc_ram.test.ts)', () => {
    const s = session(HUGE);
    const r = s.sh('vmm start v --memory 4G --vfio');
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(readFile(s.task, `/proc/${vmPid(s, 'v')}/status`)).toMatch(/VmLck:\s+4194304 kB/);
    expect([info(s, 'v').get('slot0.size'), info(s, 'v').get('slot1.gpa'), info(s, 'v').get('slot1.size')]).toEqual(['0xc0000000', '0x100000000', '0x40000000']);
  });
});
