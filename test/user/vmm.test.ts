/**
 * vmm on a booted host, driven through the shell as a user would: the memory
 * backends and what QEMU does with them, the KVM and VFIO setup, the monitor
 * channel (run/info/list/stop), the errors (QEMU's wording, nothing left
 * behind) and a VM that dies of a memory error mid-request.
 */
import { describe, expect, it } from 'vitest';
import { GiB, MiB } from '../../src/lib/size.ts';
import { pte_pfn } from '../../src/kernel/mm/pgtable.ts';
import { meminfo, readFile } from '../kernel/helpers.ts';
import { info, session, vmTask, type Session } from './vmm_session.ts';


/** Nothing of a failed or stopped VM is left: no directory, no VM in KVM, no guest memory. */
function expectNothingLeft(s: Session, name: string): void {
  expect(s.sh(`ls /run/vmm/${name}`).status).not.toBe(0);
  expect(s.host.fs.kvm.vms.size).toBe(0);
  expect(meminfo(s.task, 'SecPageTables')).toBe(0);
  expect(meminfo(s.task, 'AnonPages')).toBe(0);
}

describe('vmm start / info / list / stop', () => {
  it('starts a parked VM process, answers info through the monitor, and stops it cleanly', () => {
    const s = session();
    const r = s.sh('vmm start vm0 --memory 64M');
    expect(r).toMatchObject({ status: 0, err: '' });
    expect(r.out).toMatch(/^vm0 pid=(\d+)\n$/);
    const t = vmTask(s, 'vm0');
    expect(t.state).toBe('S');
    expect(s.sh('vmm list').out).toBe(`vm0 pid=${t.pid} memory=64M backend=ram status=running\n`);
    const i = info(s, 'vm0');
    expect(i.get('pid')).toBe(String(t.pid));
    expect(i.get('backend')).toBe('ram');
    expect(i.get('slot0.gpa')).toBe('0x0');
    expect(i.get('slot0.size')).toBe('0x4000000');
    expect(Number(i.get('slot0.hva')) % (2 * MiB)).toBe(0);
    expect(i.get('vcpus')).toBe('1');
    expect(i.get('pages_4k')).toBe('0');
    expect(i.get('kvm-stats')).toBe(`${t.pid}-4`);
    // QEMU's guest RAM: MAP_PRIVATE|MAP_ANONYMOUS, madvised MADV_HUGEPAGE, a PROT_NONE guard page after it.
    const maps = readFile(s.task, `/proc/${t.pid}/maps`);
    const hva = Number(i.get('slot0.hva')).toString(16);
    expect(maps).toContain(`${hva}-${(Number(i.get('slot0.hva')) + 64 * MiB).toString(16)} rw-p`);
    expect(maps).toMatch(/ ---p 00000000 00:00 0/);
    expect(readFile(s.task, `/proc/${t.pid}/smaps`)).toMatch(/VmFlags:.* hg/);

    const stop = s.sh('vmm stop vm0');
    expect(stop.status).toBe(0);
    expect(stop.err).toBe(`vmm: terminating on signal 15 from pid ${stop.err.match(/pid (\d+)/)![1]} (vmm)\n`);
    expect(t.state).toBe('Z');
    expectNothingLeft(s, 'vm0');
    expect(s.sh('vmm list').out).toBe('');
  });

  it('a plain kill (SIGTERM) also removes /run/vmm/NAME', () => {
    const s = session();
    s.sh('vmm start vm0 --memory 16M');
    const t = vmTask(s, 'vm0');
    expect(s.sh(`kill ${t.pid}`).err).toMatch(/terminating on signal 15 from pid \d+ \(kill\)/);
    expectNothingLeft(s, 'vm0');
  });

  it('refuses a name that is running, and takes over the name of a VM that died', () => {
    const s = session();
    s.sh('vmm start vm0 --memory 16M');
    const t = vmTask(s, 'vm0');
    expect(s.sh('vmm start vm0 --memory 16M')).toMatchObject({ status: 1, out: '', err: `vmm: VM 'vm0' is already running (pid ${t.pid})\n` });
    expect(s.host.fs.kvm.vms.size).toBe(1);
    s.sh(`kill -9 ${t.pid}`);
    expect(s.sh('vmm list').out).toBe(`vm0 pid=${t.pid} memory=16M backend=ram status=dead\n`);
    expect(s.sh('vmm info vm0').err).toBe(`vmm: vm0: VM is not running (pid ${t.pid} is gone); 'vmm stop vm0' cleans up\n`);
    const again = s.sh('vmm start vm0 --memory 16M');
    expect(again.status).toBe(0);
    expect(vmTask(s, 'vm0').pid).not.toBe(t.pid);
  });

  it('creates the vCPUs asked for, warning past KVM_CAP_NR_VCPUS and failing past KVM_CAP_MAX_VCPUS', () => {
    const s = session();
    const r = s.sh('vmm start vm0 --memory 16M --vcpus 6');
    expect(r.status).toBe(0);
    expect(r.err).toBe('vmm: warning: Number of SMP cpus requested (6) exceeds the recommended cpus supported by KVM (4)\n');
    expect([...s.host.fs.kvm.vms][0]!.vcpus.size).toBe(6);
    const big = s.sh('vmm start vm1 --memory 16M --vcpus 2000');
    expect(big.status).toBe(1);
    expect(big.err).toContain('vmm: Number of SMP cpus requested (2000) exceeds the maximum cpus supported by KVM (1024)\n');
    expect(s.host.fs.kvm.vms.size).toBe(1);
  });
});

describe('vmm run', () => {
  it('runs the guest program over guest RAM: real bytes, one EPT fault per 4K page with THP off', () => {
    const s = session();
    s.sh('echo never > /sys/kernel/mm/transparent_hugepage/enabled; vmm start vm0 --memory 64M');
    const r = s.sh('vmm run vm0 --pattern seq --write --bytes 1M');
    expect(r).toMatchObject({ status: 0, err: '' });
    expect(r.out).toBe('vm0 exit=io port=0xf4 status=0 touched=1048576 accesses=256 faults=256 fixed=256\n');
    // The guest stored each page's gpa at its first byte; the VMM sees it at hva + gpa.
    const t = vmTask(s, 'vm0');
    const hva = Number(info(s, 'vm0').get('slot0.hva'));
    const v = new DataView(t.load(hva + 0x3000, 8).buffer);
    expect(v.getUint32(0, true)).toBe(0x3000);
    const all = s.sh('vmm run vm0 --pattern seq');
    expect(all.out).toMatch(/^vm0 exit=io port=0xf4 status=0 touched=67108864 accesses=16384 faults=16128 fixed=16128 checksum=0x[0-9a-f]{16}\n$/);
    const i = info(s, 'vm0');
    expect(i.get('pages_4k')).toBe('16384');
    expect(i.get('pf_taken')).toBe('16384');
    // 32 PT + 1 PD + 1 PDPT + 1 PML4: what /proc/meminfo shows too.
    expect(i.get('secpagetables_kb')).toBe('140');
    expect(meminfo(s.task, 'SecPageTables')).toBe(140);
  });

  it('maps 2M in the EPT on THP, and a random or hot-cold pass only faults what it touches', () => {
    const s = session();
    s.sh('vmm start vm0 --memory 64M');
    expect(s.sh('vmm run vm0 --pattern seq --write').out).toContain(' faults=32 ');
    expect(info(s, 'vm0').get('pages_2m')).toBe('32');
    expect(meminfo(s.task, 'AnonHugePages')).toBe(64 * 1024);
    const rnd = s.sh('vmm run vm0 --pattern random --seed 7');
    expect(rnd.out).toContain(' faults=0 ');
    const again = s.sh('vmm run vm0 --pattern random --seed 7');
    expect(again.out).toBe(rnd.out);
    expect(s.sh('vmm run vm0 --pattern hot-cold --write').status).toBe(0);
  });

  it('rejects --bytes past guest memory without running the guest', () => {
    const s = session();
    s.sh('vmm start vm0 --memory 16M');
    expect(s.sh('vmm run vm0 --pattern seq --bytes 32M')).toMatchObject({ status: 1, err: 'vmm: vm0: --bytes 0x2000000 is larger than guest memory 0x1000000\n' });
    expect(s.sh('vmm run nope --pattern seq')).toMatchObject({ status: 1, err: 'vmm: nope: No such VM\n' });
  });

  it('a poisoned guest page becomes a machine check for the guest (SIGBUS BUS_MCEERR_AR from KVM_RUN); the VM lives', () => {
    const s = session();
    s.sh('echo never > /sys/kernel/mm/transparent_hugepage/enabled; vmm start vm0 --memory 16M');
    s.sh('vmm run vm0 --pattern seq --write');
    const t = vmTask(s, 'vm0');
    const hva = Number(info(s, 'vm0').get('slot0.hva'));
    const pfn = pte_pfn(t.mm.pgtables.walk(hva + 0x5000));
    expect(s.sh(`echo 0x${pfn.toString(16)} > /sys/kernel/debug/hwpoison/corrupt-pfn`).status).toBe(0);
    // Anonymous memory: the kernel unmaps it and waits for an access (late kill); the VM lives.
    expect(t.state).toBe('S');
    // The guest reads page 5: KVM_RUN raises SIGBUS AR, vmm injects #MC at GPA 0x5000, and the
    // guest's handler ends the program that consumed it (status 2) — the guest itself goes on.
    const r = s.sh('vmm run vm0 --pattern seq');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^vm0 exit=io port=0xf4 status=2 /);
    expect(r.err).toBe(`vmm: Guest MCE Memory Error at QEMU addr 0x${(hva + 0x5000).toString(16)} and GUEST addr 0x5000 of type BUS_MCEERR_AR injected\n`);
    expect(t.state).toBe('S');
    // Memory below the error is still good; touching the page again gets the next machine check.
    expect(s.sh('vmm run vm0 --pattern seq --bytes 20K')).toMatchObject({ status: 0 });
    expect(s.sh('vmm run vm0 --pattern seq').out).toMatch(/status=2 /);
    expect(s.sh('vmm stop vm0')).toMatchObject({ status: 0 });
    expect(s.host.fs.kvm.vms.size).toBe(0);
  });

  it('an injected machine check with CR4.MCE clear is a triple fault: KVM_EXIT_SHUTDOWN', async () => {
    const { kvm_vcpu_ioctl_x86_setup_mce, kvm_vcpu_ioctl_x86_set_mce, kvm_take_mce_event } = await import('../../src/kernel/kvm/x86_mce.ts');
    const s = session();
    s.sh('vmm start vm0 --memory 16M');
    const vm = [...s.host.fs.kvm.vms][0]!;
    const vcpu = [...vm.vcpus.values()][0]!;
    // Bank 10 of 10 does not exist; no MCI_STATUS_VAL is refused too.
    expect(() => kvm_vcpu_ioctl_x86_set_mce(vcpu, { status: 1n << 63n, addr: 0, misc: 0n, mcg_status: 0n, bank: 10 })).toThrow('EINVAL');
    expect(() => kvm_vcpu_ioctl_x86_set_mce(vcpu, { status: 0n, addr: 0, misc: 0n, mcg_status: 0n, bank: 9 })).toThrow('EINVAL');
    expect(() => kvm_vcpu_ioctl_x86_setup_mce(vcpu, 0)).toThrow('EINVAL');
    expect(() => kvm_vcpu_ioctl_x86_setup_mce(vcpu, 33)).toThrow('EINVAL');
    // Before any KVM_SET_SREGS the vCPU is at reset: CR4 = 0, so an uncorrected error is a triple fault.
    expect(kvm_vcpu_ioctl_x86_setup_mce(vcpu, 10 | (1 << 8) | (1 << 24))).toBe(0);
    expect(kvm_vcpu_ioctl_x86_set_mce(vcpu, { status: (1n << 63n) | (1n << 61n), addr: 0x5000, misc: 0n, mcg_status: 4n, bank: 9 })).toBe(0);
    expect(kvm_take_mce_event(vcpu)).toEqual({ kind: 'triple-fault' });
    expect(kvm_take_mce_event(vcpu)).toEqual({ kind: 'none' });
    s.sh('vmm stop vm0');
  });
});

describe('memory backends', () => {
  it('--share gives a MAP_SHARED anonymous (shmem) mapping; memfd is shared and counts as Shmem', () => {
    const s = session();
    s.sh('vmm start a --memory 16M --share; vmm start b --memory 16M --memory-backend memfd');
    const maps = (n: string): string => readFile(s.task, `/proc/${vmTask(s, n).pid}/maps`);
    expect(maps('a')).toMatch(/rw-s 00000000 00:\d+ \d+ +\/dev\/zero \(deleted\)/);
    expect(maps('b')).toMatch(/rw-s 00000000 00:\d+ \d+ +\/memfd:memory-backend-memfd \(deleted\)/);
    const shmem = meminfo(s.task, 'Shmem');
    s.sh('vmm run b --pattern seq --write');
    expect(meminfo(s.task, 'Shmem') - shmem).toBe(16 * 1024);
    expect(info(s, 'b').get('share')).toBe('on');
  });

  it('file: creates a missing file with the guest size, and removes it again when start fails', () => {
    const s = session();
    expect(s.sh('vmm start f --memory 32M --memory-backend file --mem-path /tmp/ram --share').status).toBe(0);
    expect(s.sh("stat -c '%s' /tmp/ram").out).toBe(`${32 * MiB}\n`);
    s.sh('vmm stop f');
    // The file stays (QEMU only unlinks a file it created when setup fails) and is reused.
    expect(s.sh('vmm start f --memory 32M --memory-backend file --mem-path /tmp/ram').status).toBe(0);
    s.sh('vmm stop f');
    // A non-empty file that is too small is an error, not resized.
    s.sh('truncate -s 1M /tmp/small');
    expect(s.sh('vmm start g --memory 32M --memory-backend file --mem-path /tmp/small')).toMatchObject({
      status: 1,
      err: "vmm: -object memory-backend-file,id=g,size=32M,mem-path=/tmp/small: g backing store size 0x100000 is too small for 'size' option 0x2000000 plus 'offset' option 0x0\n",
    });
    expect(s.sh("stat -c '%s' /tmp/small").out).toBe(`${MiB}\n`);
    expect(s.sh('vmm start g --memory 32M --memory-backend file --mem-path /tmp/nodir/x')).toMatchObject({
      status: 1,
      err: "vmm: -object memory-backend-file,id=g,size=32M,mem-path=/tmp/nodir/x: can't open backing store /tmp/nodir/x for guest RAM: No such file or directory\n",
    });
    expectNothingLeft(s, 'g');
  });

  it('file: a directory mem-path gets an unlinked temporary file', () => {
    const s = session();
    expect(s.sh('mkdir /tmp/d; vmm start f --memory 16M --memory-backend file --mem-path /tmp/d --share').status).toBe(0);
    expect(s.sh('ls /tmp/d').out).toBe('');
    expect(readFile(s.task, `/proc/${vmTask(s, 'f').pid}/maps`)).toMatch(/\/tmp\/d\/qemu_back_mem\.f\.\w+ \(deleted\)/);
  });

  it('dmemfs: 1G dpages need a 1G-aligned shared mapping; private fails and leaves no file behind', () => {
    const s = session({ mem: 16 * GiB, cmdline: 'dmem=4G' });
    s.sh('mount -t dmemfs -o pagesize=1G none /mnt');
    const bad = s.sh('vmm start d --memory 2G --memory-backend file --mem-path /mnt/d');
    expect(bad).toMatchObject({
      status: 1,
      err: 'vmm: -object memory-backend-file,id=d,size=2G,mem-path=/mnt/d: unable to map backing store for guest RAM: Invalid argument\n',
    });
    expect(s.sh('ls /mnt').out).toBe('');
    expectNothingLeft(s, 'd');
    expect(s.sh('vmm start d --memory 2G --memory-backend file --mem-path /mnt/d --share').status).toBe(0);
    const i = info(s, 'd');
    expect(i.get('align')).toBe('1G');
    expect(Number(i.get('slot0.hva')) % GiB).toBe(0);
    s.sh('vmm run d --pattern seq --write --bytes 64M; vmm run d --pattern seq');
    expect(info(s, 'd').get('pages_1g')).toBe('2');
    expect(s.sh('vmm start e --memory 512M --memory-backend file --mem-path /mnt/e --share').err).toBe(
      'vmm: -object memory-backend-file,id=e,size=512M,mem-path=/mnt/e,share=on: memory size 0x20000000 must be equal to or larger than page size 0x40000000\n',
    );
  });

  it('--align places the block at an aligned address and trims the reservation', () => {
    const s = session();
    s.sh('vmm start a --memory 64M --align 1G');
    const i = info(s, 'a');
    expect(Number(i.get('slot0.hva')) % GiB).toBe(0);
    expect(readFile(s.task, `/proc/${vmTask(s, 'a').pid}/maps`).trimEnd().split('\n')).toHaveLength(2);
  });

  it('--prealloc populates guest RAM before the guest runs; --host-nodes/--policy bind it', () => {
    const s = session({ nodes: 2 });
    s.sh('vmm start a --memory 64M --prealloc --host-nodes 1 --policy bind');
    expect(meminfo(s.task, 'AnonPages')).toBe(64 * 1024);
    expect(readFile(s.task, '/sys/devices/system/node/node1/meminfo')).toMatch(/Node 1 AnonPages: +65536 kB/);
    expect(info(s, 'a').get('pages_2m')).toBe('0');
    expect(s.sh('vmm start b --memory 64M --host-nodes 5 --policy bind').err).toBe(
      'vmm: -object memory-backend-ram,id=b,size=64M,host-nodes=5,policy=bind: cannot bind memory to host NUMA nodes: Invalid argument\n',
    );
    expect(s.sh('ls /run/vmm').out).toBe('a\n');
    expect(s.host.fs.kvm.vms.size).toBe(1);
  });

  it('--vfio maps all of guest RAM for DMA at IOVA 0, pinning it', () => {
    const s = session();
    expect(s.sh('vmm start a --memory 64M --vfio').status).toBe(0);
    expect(meminfo(s.task, 'AnonPages')).toBe(64 * 1024);
    expect(readFile(s.task, `/proc/${vmTask(s, 'a').pid}/status`)).toMatch(/VmLck:\s+65536 kB/);
  });
});

describe('errors', () => {
  it('bad command lines: a usage message and exit 2', () => {
    const s = session();
    const cases: [string, string][] = [
      ['vmm', 'vmm: a command is required'],
      ['vmm start', 'vmm: a VM name is required'],
      ['vmm start vm0', 'vmm: --memory is required'],
      ['vmm start vm0 --memory lots', "vmm: Parameter 'size' expects a non-negative number below 2^64"],
      ['vmm start vm0 --memory 1G --memory-backend disk', 'vmm: invalid object type: memory-backend-disk'],
      ['vmm start vm0 --memory 1G --memory-backend file', 'vmm: mem-path property not set'],
      ['vmm start vm0 --memory 1G --host-nodes 0', 'vmm: host-nodes must be empty for policy default, or you should explicitly specify a policy other than default'],
      ['vmm start vm0 --memory 1G --policy bind', 'vmm: host-nodes must be set for policy bind'],
      ['vmm start vm0 --memory 1G --align 3M', 'vmm: alignment 0x300000 must be a power of two'],
      ['vmm start 0vm --memory 1G', "vmm: Parameter 'id' expects an identifier"],
      ['vmm run vm0', 'vmm: --pattern is required'],
      ['vmm run vm0 --pattern zigzag', "vmm: --pattern: expected seq, random or hot-cold, not 'zigzag'"],
      ['vmm frob', "vmm: unknown command 'frob'"],
    ];
    for (const [cmd, msg] of cases) {
      const r = s.sh(cmd);
      expect(r.status, cmd).toBe(2);
      expect(r.err.startsWith(msg), `${cmd}: ${r.err}`).toBe(true);
      expect(r.err).toContain('usage: vmm start NAME --memory SIZE');
    }
    expect(s.sh('ls /run/vmm').out).toBe('');
  });

  it('without /dev/kvm: QEMU\'s two lines, exit 1, nothing left', () => {
    const s = session();
    s.sh('rm /dev/kvm');
    expect(s.sh('vmm start vm0 --memory 16M')).toMatchObject({
      status: 1,
      err: 'vmm: Could not access KVM kernel module: No such file or directory\nvmm: failed to initialize kvm: No such file or directory\n',
    });
    expectNothingLeft(s, 'vm0');
  });
});
