/**
 * `vmm start`: the VM process itself. It builds the VM in QEMU's order (pid
 * file, accelerator, memory backend, memory slot and vCPUs, VFIO), records
 * itself in /run/vmm/NAME, installs its monitor (SIGUSR1) and shutdown
 * (SIGTERM) handlers, prints `NAME pid=PID` and parks in pause(). The handlers
 * run later in this process, on behalf of `vmm run|info|stop` (monitor.ts).
 */
import { Errno } from '../../lib/errno.ts';
import { PAGE_SIZE, formatSizeSuffix } from '../../lib/size.ts';
import {
  GUEST_EXIT_PORT,
  GUEST_FLAG_CHECKSUM,
  GUEST_FLAG_WRITE,
  GUEST_PATTERN_HOT_COLD,
  GUEST_PATTERN_RANDOM,
  GUEST_PATTERN_SEQ,
  GUEST_RESULT_OFFSET,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_INTR,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_IO,
  KVM_EXIT_MMIO,
  KVM_RUN,
  encode_guest_program,
  new_kvm_run,
  type kvm_run,
} from '../../uapi/kvm.ts';
import { PR_MCE_KILL, PR_MCE_KILL_EARLY, PR_MCE_KILL_SET } from '../../uapi/prctl.ts';
import { KVM_GET_SREGS, KVM_SET_REGS, KVM_SET_SREGS, KVM_X86_SET_MCE, type kvm_sregs } from '../../uapi/kvm_x86.ts';
import { BUS_MCEERR_AO, BUS_MCEERR_AR, SIGBUS, SIGTERM, SIGUSR1, Signal } from '../../uapi/signal.ts';
import type { SigInfo, Syscalls } from '../../uapi/syscalls.ts';
import { HOLD, writeStr } from '../program.ts';
import { kvmInit, kvmMachineInit, vfioInit, type KvmState } from './accel.ts';
import { hostMemoryBackendAlloc, type RamBlock } from './backend.ts';
import { pcRamRegions, ramHole, ramOffsetToGpa, type RamRegion } from './pc_ram.ts';
import { GUEST_IMAGE_OFFSET, guestImage, guestRegs, guestSregs, type GuestImage } from './guest_x86.ts';
import { hmpMce, kvmMceForSigbus, kvmResetMce, type MceRequest } from './mce.ts';
import { KvmStats } from './stats.ts';
import { VMM_RUN_DIR, processAlive, qmpReadRequest, qmpReply, readText, removeVmDir, vmPath, vmPid, writeText, type QmpResponse } from './monitor.ts';
import type { PatternName, StartOptions } from './options.ts';
import { Teardown, VmmError } from './teardown.ts';

/** Everything a running VM's handlers need. */
interface Vm {
  sys: Syscalls;
  o: StartOptions;
  ram: RamBlock;
  /** Guest RAM in guest physical memory (pc_ram.ts): below 4 GiB, and above it for large guests. */
  regions: RamRegion[];
  kvm: KvmState;
  vfioFd: number;
  /** /sys/kernel/debug/kvm/PID-FD (its name is shown as kvm-stats). */
  statsDir: string;
  /** KVM_GET_STATS_FD of the VM and its vCPUs. */
  stats: KvmStats;
  /** The guest code and tables for this RAM size (null when its tables cannot map it), and vCPU 0's reset sregs. */
  image: GuestImage | null;
  resetSregs: kvm_sregs;
  run: kvm_run;
  /** QEMU's RunState as `info` shows it: a failed KVM_RUN stops the guest (internal-error). */
  status: 'running' | 'internal-error';
  /** Machine checks the monitor's `mce` asked for, injected before the vCPU next runs. */
  pendingMce: MceRequest[];
}

const PATTERN_CODES: Record<PatternName, number> = { seq: GUEST_PATTERN_SEQ, random: GUEST_PATTERN_RANDOM, 'hot-cold': GUEST_PATTERN_HOT_COLD };
/** hot-cold: the share of guest pages that are hot. */
const HOT_PERCENT = 10;

/** The VM's configuration as key=value lines (/run/vmm/NAME/config, and the head of `vmm info`). */
function configLines(o: StartOptions, ram: RamBlock): [string, string][] {
  const lines: [string, string][] = [
    ['memory', formatSizeSuffix(o.memory)],
    ['backend', o.backend],
  ];
  if (o.memPath !== null) lines.push(['mem-path', o.memPath]);
  if (o.hugetlb) lines.push(['hugetlb', 'on']);
  if (o.text.hugetlbsize) lines.push(['hugetlbsize', formatSizeSuffix(o.hugetlbsize)]);
  lines.push(['share', ram.shared ? 'on' : 'off'], ['prealloc', o.prealloc ? 'on' : 'off'], ['policy', o.policy]);
  if (o.hostNodes.length) lines.push(['host-nodes', o.hostNodes.join(',')]);
  lines.push(['align', formatSizeSuffix(ram.align)], ['page-size', formatSizeSuffix(ram.pageSize)], ['vcpus', String(o.vcpus)], ['vfio', o.vfio ? 'on' : 'off']);
  return lines;
}

/** Claim /run/vmm/NAME (a VM of that name that is gone leaves a directory we may take over). */
function claimName(sys: Syscalls, name: string): void {
  try {
    sys.mkdir(VMM_RUN_DIR, 0o755);
  } catch (e) {
    if (!(e instanceof Errno && e.code === 'EEXIST')) throw e;
  }
  try {
    sys.mkdir(vmPath(name), 0o700);
    return;
  } catch (e) {
    if (!(e instanceof Errno && e.code === 'EEXIST')) throw e;
  }
  const pid = vmPid(sys, name);
  if (pid !== null && processAlive(sys, pid)) throw new VmmError(`VM '${name}' is already running (pid ${pid})`);
  removeVmDir(sys, name);
  sys.mkdir(vmPath(name), 0o700);
}

/** A statistic of this VM (KVM_GET_STATS_FD). */
function stat(vm: Vm, name: string): number {
  return vm.stats.get(name);
}

/**
 * The fewest EPT table pages that can hold the VM's leaves, in kB: one
 * page-table page per 512 entries at each level, a PML4 root always. It is
 * the VM's SecPageTables exactly when the mapped guest memory is dense (a
 * sequential pass from GPA 0); scattered leaves need more tables.
 */
function secPageTablesKb(p4k: number, p2m: number, p1g: number): number {
  const pt = Math.ceil(p4k / 512);
  const pd = Math.ceil((pt + p2m) / 512);
  const pdpt = Math.ceil((pd + p1g) / 512);
  return (pt + pd + pdpt + 1) * (PAGE_SIZE / 1024);
}

/** `info`: configuration, the memory slots (slot1.* only for RAM above 4 GiB), and KVM's statistics for the VM. */
function qmpInfo(vm: Vm): Record<string, unknown> {
  const r: Record<string, unknown> = { name: vm.o.name, pid: vm.sys.getpid(), status: vm.status };
  for (const [k, v] of configLines(vm.o, vm.ram)) r[k] = v;
  for (const s of vm.kvm.slots) {
    r[`slot${s.slot}.gpa`] = `0x${s.guest_phys_addr.toString(16)}`;
    r[`slot${s.slot}.size`] = `0x${s.memory_size.toString(16)}`;
    r[`slot${s.slot}.hva`] = `0x${s.userspace_addr.toString(16)}`;
    r[`slot${s.slot}.flags`] = `0x${s.flags.toString(16)}`;
  }
  r['kvm-stats'] = vm.statsDir.slice(vm.statsDir.lastIndexOf('/') + 1);
  const all = vm.stats.all();
  for (const k of ['pages_4k', 'pages_2m', 'pages_1g', 'pf_taken', 'pf_fixed', 'pf_fast', 'pf_spurious', 'mmu_shadow_zapped', 'exits', 'io_exits', 'mmio_exits']) r[k] = all.get(k) ?? 0;
  r['secpagetables_kb'] = secPageTablesKb(r['pages_4k'] as number, r['pages_2m'] as number, r['pages_1g'] as number);
  return r;
}

/** `run`: write the guest program at GPA 0 and KVM_RUN vCPU 0 until it reports on port 0xf4. */
function qmpRun(vm: Vm, args: Record<string, unknown>): QmpResponse {
  const { sys, ram } = vm;
  if (vm.status !== 'running') return { error: { class: 'GenericError', desc: `guest is stopped (${vm.status})` } };
  const bytes = typeof args.bytes === 'number' ? args.bytes : ram.size;
  if (bytes > ram.size) return { error: { class: 'GenericError', desc: `--bytes 0x${bytes.toString(16)} is larger than guest memory 0x${ram.size.toString(16)}` } };
  const write = args.write === true;
  const pattern = PATTERN_CODES[args.pattern as PatternName];
  const npages = Math.ceil(bytes / PAGE_SIZE);
  if (!vm.image) return { error: { class: 'GenericError', desc: `guest memory 0x${ram.size.toString(16)} is too large for the guest's page tables${vm.kvm.gbpages ? '' : ' without 1 GiB pages'}` } };
  const hole = ramHole(vm.regions);
  const before = { taken: stat(vm, 'pf_taken'), fixed: stat(vm, 'pf_fixed') };
  sys.store(ram.hva, encode_guest_program({
    pattern,
    flags: write ? GUEST_FLAG_WRITE : GUEST_FLAG_CHECKSUM,
    start_gpa: 0,
    bytes,
    seed: typeof args.seed === 'number' ? args.seed : 1,
    hot_percent: HOT_PERCENT,
    iterations: 1,
    hole_start: hole.start,
    hole_end: hole.end,
  }));
  // The guest: its page tables and code after the descriptor, started in long mode at its entry.
  sys.store(ram.hva + GUEST_IMAGE_OFFSET, vm.image.bytes);
  // A wide layout's table pages (in the RAM below the hole): their first 8 bytes are the program's.
  for (const t of vm.image.tables) sys.store(ram.hva + t.gpa + 8, t.bytes);
  sys.ioctl(vm.kvm.vcpuFds[0]!, KVM_SET_SREGS, guestSregs(vm.resetSregs, vm.image));
  sys.ioctl(vm.kvm.vcpuFds[0]!, KVM_SET_REGS, guestRegs(vm.image));
  const run = vm.run;
  let mmio = 0;
  for (;;) {
    // kvm_arch_process_async_events: machine checks queued since the last entry go in now,
    // after the registers (KVM_SET_REGS drops a queued exception: __set_regs).
    for (const m of vm.pendingMce.splice(0)) sys.ioctl(vm.kvm.vcpuFds[m.cpu]!, KVM_X86_SET_MCE, m.mce);
    try {
      sys.ioctl(vm.kvm.vcpuFds[0]!, KVM_RUN, run);
    } catch (e) {
      // SIGBUS BUS_MCEERR_AR for poisoned guest memory: QEMU's handler on the vCPU thread
      // (kvm_on_sigbus_vcpu) injects a machine check and the vCPU runs again.
      if (e instanceof Signal && e.signo === SIGBUS) {
        onSigbus(vm, e.code, e.addr);
        continue;
      }
      if (!(e instanceof Errno)) throw e;
      if (e.code === 'EINTR' || e.code === 'EAGAIN') continue;
      // kvm_cpu_exec: the vCPU stops and the VM goes to RUN_STATE_INTERNAL_ERROR.
      vm.status = 'internal-error';
      return { error: { class: 'GenericError', desc: `error: kvm run failed ${e.strerror}` } };
    }
    if (run.exit_reason === KVM_EXIT_IO && run.io!.port === GUEST_EXIT_PORT) break;
    if (run.exit_reason === KVM_EXIT_MMIO) {
      // Nothing is mapped outside guest RAM: unassigned reads return 0, writes are dropped.
      run.mmio!.data.fill(0);
      mmio++;
      continue;
    }
    if (run.exit_reason === KVM_EXIT_INTR) continue;
    if (run.exit_reason === KVM_EXIT_SHUTDOWN) {
      // qemu_system_reset_request(SHUTDOWN_CAUSE_GUEST_RESET): the guest starts over; the program is lost.
      // The registers are set again by the next run; the machine-check state is reset here.
      for (const fd of vm.kvm.vcpuFds) kvmResetMce(sys, fd, vm.kvm.mcgCap);
      return { error: { class: 'GenericError', desc: 'guest triple fault (KVM_EXIT_SHUTDOWN): the VM was reset' } };
    }
    if (run.exit_reason === KVM_EXIT_INTERNAL_ERROR) {
      vm.status = 'internal-error';
      return { error: { class: 'GenericError', desc: `KVM internal error. Suberror: ${run.internal?.suberror ?? 0}` } };
    }
    return { error: { class: 'GenericError', desc: `unhandled KVM exit reason ${run.exit_reason}` } };
  }
  const status = new DataView(run.io!.data.buffer, run.io!.data.byteOffset, 4).getUint32(0, true);
  const r: Record<string, unknown> = { exit: 'io', port: `0x${run.io!.port.toString(16)}`, status, touched: npages * PAGE_SIZE, accesses: npages };
  r.faults = stat(vm, 'pf_taken') - before.taken;
  r.fixed = stat(vm, 'pf_fixed') - before.fixed;
  if (mmio) r.mmio = mmio;
  if (!write && status === 0) {
    const sum = sys.load(ram.hva + GUEST_RESULT_OFFSET, 8);
    const v = new DataView(sum.buffer, sum.byteOffset, 8);
    r.checksum = `0x${v.getUint32(4, true).toString(16).padStart(8, '0')}${v.getUint32(0, true).toString(16).padStart(8, '0')}`;
  }
  return { return: r };
}

/** An HMP command line (human-monitor-command): its output text; `mce` is the one vmm has. */
function hmp(vm: Vm, line: string): string {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd !== 'mce') return `unknown command: '${cmd ?? ''}'\n`;
  const r = hmpMce(args, vm.kvm.mcgCap, vm.kvm.vcpuFds.length);
  if (typeof r === 'string') return `${r}\n`;
  if (r) vm.pendingMce.push(r);
  return '';
}

/** The SIGUSR1 handler: serve the pending monitor request. */
function monitorHandler(vm: Vm): () => void {
  return () => {
    const req = qmpReadRequest(vm.sys, vm.o.name);
    if (!req) return;
    let resp: QmpResponse;
    try {
      if (req.execute === 'query-vm') resp = { return: qmpInfo(vm) };
      else if (req.execute === 'x-guest-run') resp = qmpRun(vm, req.arguments ?? {});
      else if (req.execute === 'human-monitor-command') resp = { return: hmp(vm, String(req.arguments?.['command-line'] ?? '')) };
      else resp = { error: { class: 'CommandNotFound', desc: `The command ${req.execute} has not been found` } };
    } catch (e) {
      // A failed system call is the request's error; a Signal (SIGBUS) goes on and ends the VM.
      if (!(e instanceof Errno)) throw e;
      resp = { error: { class: 'GenericError', desc: e.strerror } };
    }
    try {
      qmpReply(vm.sys, vm.o.name, resp);
    } catch (e) {
      // No way to answer (the client then reports the channel lost); the VM goes on.
      if (!(e instanceof Errno)) throw e;
    }
  };
}

/**
 * kvm_arch_on_sigbus_vcpu() (and sigbus_handler's other cases): a memory error
 * in guest RAM becomes a machine check the guest handles (kvm_mce_inject,
 * mce.ts) — action-required when the guest consumed it (from KVM_RUN),
 * action-optional when memory_failure found it first (QEMU sets
 * PR_MCE_KILL_EARLY to get those). The machine check is queued for the
 * vCPU's next entry (cpu_x86_inject_mce's run_on_cpu). An error outside guest
 * RAM that QEMU itself consumed, or a plain bus error, ends the VMM.
 */
function onSigbus(vm: Vm, code: number, at: number): void {
  const { sys, ram } = vm;
  const addr = `0x${at.toString(16)}`;
  const type = code === BUS_MCEERR_AR ? 'BUS_MCEERR_AR' : 'BUS_MCEERR_AO';
  if (code !== BUS_MCEERR_AO && code !== BUS_MCEERR_AR) {
    writeStr(sys, 2, `vmm: Bus error at addr ${addr}\n`);
    sys.exit(1);
  } else if (at >= ram.hva && at < ram.hva + ram.size && ramOffsetToGpa(vm.regions, at - ram.hva) >= 0) {
    const gpa = ramOffsetToGpa(vm.regions, at - ram.hva);
    vm.pendingMce.push({ cpu: 0, mce: kvmMceForSigbus(gpa, code) });
    const what = `Guest MCE Memory Error at QEMU addr ${addr} and GUEST addr 0x${gpa.toString(16)} of type ${type} injected`;
    writeStr(sys, 2, code === BUS_MCEERR_AR ? `vmm: ${what}\n` : `vmm: warning: ${what}\n`);
  } else if (code === BUS_MCEERR_AO) {
    writeStr(sys, 2, `vmm: warning: Hardware memory error at addr ${addr} of type ${type} for memory used by QEMU itself instead of guest system!\n`);
  } else {
    writeStr(sys, 2, `vmm: QEMU got Hardware memory error at addr ${addr}\n`);
    sys.exit(1);
  }
}

/** The SIGBUS handler (errors reported asynchronously; see onSigbus). */
function sigbusHandler(vm: Vm): (info: SigInfo) => void {
  return (info) => onSigbus(vm, info.code, info.addr);
}

/** The sender's argv[0] from /proc/PID/cmdline (qemu_get_pid_name). */
function pidName(sys: Syscalls, pid: number): string {
  const cmd = pid > 0 ? readText(sys, `/proc/${pid}/cmdline`) : null;
  return cmd ? cmd.split('\0')[0]! : '<unknown process>';
}

/** The SIGTERM handler: QEMU's "terminating on signal" and a clean exit. */
function shutdownHandler(vm: Vm): (info: SigInfo) => void {
  return (info) => {
    writeStr(vm.sys, 2, `vmm: terminating on signal ${info.signo} from pid ${info.pid} (${pidName(vm.sys, info.pid)})\n`);
    removeVmDir(vm.sys, vm.o.name);
    vm.sys.exit(0);
  };
}

/** vmm start's main, after option parsing: 0/HOLD on success, 1 after an error (nothing left behind). */
export function vmmStart(sys: Syscalls, o: StartOptions): number | typeof HOLD {
  const td = new Teardown();
  let vm: Vm;
  try {
    claimName(sys, o.name);
    td.push(() => removeVmDir(sys, o.name));
    writeText(sys, vmPath(o.name, 'pid'), `${sys.getpid()}\n`);
    const fds = kvmInit(sys, o.vcpus, td);
    const ram = hostMemoryBackendAlloc(sys, o, td);
    const regions = pcRamRegions(ram.size);
    const kvm = kvmMachineInit(sys, fds, ram, regions, o.vcpus, td);
    const vfioFd = o.vfio ? vfioInit(sys, ram, regions, td) : -1;
    const stats = new KvmStats(sys, kvm.vmFd, kvm.vcpuFds, td);
    const resetSregs = {} as kvm_sregs;
    sys.ioctl(kvm.vcpuFds[0]!, KVM_GET_SREGS, resetSregs);
    const image = guestImage(regions, kvm.gbpages);
    vm = { sys, o, ram, regions, kvm, vfioFd, statsDir: `/sys/kernel/debug/kvm/${sys.getpid()}-${kvm.vmFd}`, stats, image, resetSregs, run: new_kvm_run(), status: 'running', pendingMce: [] };
    writeText(sys, vmPath(o.name, 'config'), configLines(o, ram).map(([k, v]) => `${k}=${v}\n`).join(''));
    sys.sigaction(SIGUSR1, monitorHandler(vm));
    sys.sigaction(SIGTERM, shutdownHandler(vm));
    // qemu_init_sigbus(): a SIGBUS handler, and early kill, so errors found in guest RAM are heard at once.
    sys.sigaction(SIGBUS, sigbusHandler(vm));
    sys.prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_EARLY);
  } catch (e) {
    td.run();
    if (e instanceof VmmError) {
      writeStr(sys, 2, `vmm: ${e.location ? `${e.location}: ` : ''}${e.message}\n`);
      return 1;
    }
    if (e instanceof Errno) {
      writeStr(sys, 2, `vmm: ${e.strerror}\n`);
      return 1;
    }
    throw e;
  }
  writeStr(sys, 1, `${o.name} pid=${sys.getpid()}\n`);
  sys.pause();
  return HOLD;
}
