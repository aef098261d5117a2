/**
 * One booted machine: the kernel's global state (what Linux keeps in globals)
 * and its process table. `Host.boot` runs start_kernel's memory bring-up,
 * mounts the filesystems and starts init; user programs then run as tasks.
 *
 * Linux: init/main.c (start_kernel, kernel_init), kernel/fork.c, kernel/exit.c,
 * kernel/signal.c (default signal actions), mm/oom_kill.c (the OOM report).
 */
import { PAGE_SIZE, pfnOf } from '../lib/size.ts';
import { Signal, SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH } from '../uapi/signal.ts';
import { SI_USER, type SigInfo } from '../uapi/syscalls.ts';
import { KernelParams } from './boot/cmdline.ts';
import type { MachineDesc } from './boot/machine.ts';
import { boot_memory, type MemoryBoot, type ReserveHook } from './boot/setup.ts';
import type { File } from './fs/vfs/file.ts';
import { Dram } from './mm/dram.ts';
import { Kmem, defaultThpSettings, setup_transparent_hugepage } from './mm/kmem.ts';
import { MachineCheck } from './mce.ts';
import { EarlyKillPolicy, kill_procs } from './mf_kill.ts';
import { MemoryFailure } from './mm/memory_failure.ts';
import { MemoryHotplug } from './mm/memory_hotplug.ts';
import { register_memhp_params } from './host_hotplug.ts';
import { KernelAllocator } from './mm/kalloc.ts';
import type { DmemPoolImpl } from './dmem/pool.ts';
import { createDmem } from './dmem/reserve.ts';
import { MmStruct } from './mm/mm_types.ts';
import type { MappedFile, VmArea } from './mm/vm_area.ts';
import { VmStat } from './mm/vmstat.ts';
import { KernelLog } from './printk.ts';
import { Task } from './process.ts';
import { Clock } from './time.ts';
import { init_filesystems, type HostFs } from './host_fs.ts';
import { createHugetlb } from './host_hugetlb.ts';
import type { HugetlbPools } from './hugetlb/api.ts';
import { dax_e820_hooks } from './host_dax.ts';

/** What a boot needs. */
export interface BootOptions {
  machine: MachineDesc;
  cmdline?: string;
  /** Boot-time memory carve-outs run after NUMA setup and before the memmap (dmem=, gigantic hugetlb). */
  reserveHooks?: readonly ReserveHook[];
  /** Subsystems that declare kernel parameters before the command line is parsed. */
  registerParams?: ReadonlyArray<(params: KernelParams) => void>;
}

/** tty_nr of /dev/pts/0 (major 136, minor 0), the terminal console tasks run on. */
const PTS0 = 136 * 256;

/** First pid handed to user processes (boot-time daemons and kernel threads are not modelled). */
export const FIRST_USER_PID = 1000;

/** Signals whose default action is to be ignored (kernel/signal.c sig_kernel_ignore). */
const SIG_IGNORED = new Set([SIGCHLD, SIGCONT, SIGURG, SIGWINCH]);
/** Signals whose default action is to stop; the model has no job control, so they are ignored too. */
const SIG_STOP = new Set([SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);

/** A booted simulated Linux host. */
export class Host {
  readonly clock = new Clock();
  readonly log = new KernelLog(() => this.clock.now());
  readonly params = new KernelParams();
  readonly tasks = new Map<number, Task>();
  readonly mem: MemoryBoot;
  readonly dram = new Dram();
  readonly vmstat: VmStat;
  readonly kmem: Kmem;
  readonly fs: HostFs;
  readonly mf: MemoryFailure;
  /** Who is told of memory errors at once (prctl PR_MCE_KILL, vm.memory_failure_early_kill). */
  readonly earlyKill = new EarlyKillPolicy();
  /** Memory hotplug: memory blocks, online/offline, add/remove (kmem). */
  readonly hotplug: MemoryHotplug;
  /** kvzalloc/kvfree for subsystem metadata. */
  readonly kalloc: KernelAllocator;
  /** The dmem pool (empty when no dmem= was given). */
  readonly dmem: DmemPoolImpl;
  /** The HugeTLB pools (mm/hugetlb.c). */
  readonly hugetlb: HugetlbPools;
  readonly init: Task;
  /** The task whose system call is running (what /proc/self and page accounting refer to). */
  current: Task | null = null;
  private nextPid = FIRST_USER_PID;

  private constructor(readonly machine: MachineDesc, opts: BootOptions) {
    this.log.info('Linux version 6.18.0-dmemfs (dmemfs model) #1 SMP PREEMPT_DYNAMIC');
    const thp = defaultThpSettings();
    const memhp = register_memhp_params(this.params);
    // dmem= is an early parameter; its reservation runs in setup_arch before the memmap exists.
    const dmem = createDmem(this.params, this.log);
    const hugetlb = createHugetlb(this.params, this.log);
    this.params.setup('transparent_hugepage=', (v) => setup_transparent_hugepage(thp, v, (m) => this.log.warn(m)));
    for (const reg of opts.registerParams ?? []) reg(this.params);
    this.mem = boot_memory(machine, this.params, opts.cmdline ?? '', this.log, [dmem.reserveHook, hugetlb.reserveHook, ...(opts.reserveHooks ?? [])], dax_e820_hooks);
    this.vmstat = new VmStat(machine.nodes.length);
    this.kmem = new Kmem(this.mem.buddy, this.dram, this.vmstat, (pfn) => this.pfn_to_nid(pfn), thp);
    // empty_zero_page lives in the kernel's bss, which is reserved memory.
    this.kmem.zeroPfn = pfnOf(this.mem.kernel.bss[0]);
    this.kalloc = new KernelAllocator(this.kmem);
    this.dmem = dmem.lateInit({ sparse: this.mem.sparse, kalloc: this.kalloc, machine, log: this.log });
    this.clock.advance(100_000_000);
    this.mf = new MemoryFailure(
      this.mem.buddy,
      (pfn) => this.mem.sparse.pfn_valid(pfn),
      () => [...this.tasks.values()].filter((t) => t.state !== 'Z'),
      this.log,
    );
    this.mf.kill = (tokill, pfn, force_early) => kill_procs(this, tokill, pfn, force_early);
    this.kmem.hwpoison = new MachineCheck(this.mf, this.log, () => this.current);
    this.hugetlb = hugetlb.init(this);
    // memory_dev_init() (driver_init): the boot memory blocks.
    this.hotplug = new MemoryHotplug({ ...this.mem, log: this.log, ...memhp });
    this.fs = init_filesystems(this);
    hugetlb.registerFiles(this);
    this.free_initmem();
    const initMm = new MmStruct(this.kmem, 0);
    this.init = new Task(this, 1, null, initMm, this.vfs.path_get(this.vfs.rootPath()), 'init');
    this.init.argv = ['/sbin/init'];
    this.init.state = 'S';
    this.tasks.set(1, this.init);
    this.log.info('Run /sbin/init as init process');
  }

  /** Boot a host. */
  static boot(opts: BootOptions): Host {
    return new Host(opts.machine, opts);
  }

  /** Number of NUMA nodes. */
  get nrNodes(): number {
    return this.machine.nodes.length;
  }

  /** The VFS. */
  get vfs() {
    return this.fs.vfs;
  }

  /** The page allocator. */
  get buddy() {
    return this.mem.buddy;
  }

  /** page_to_nid for any frame. */
  pfn_to_nid(pfn: number): number {
    const z = this.mem.buddy.zone_of(pfn);
    if (z) return z.nid;
    for (const r of this.mem.nodeRanges) if (pfn * PAGE_SIZE >= r.start && pfn * PAGE_SIZE < r.end) return r.nid;
    return 0;
  }

  /** free_initmem(): the kernel's init sections go back to the page allocator after boot. */
  private free_initmem(): void {
    const [s, e] = this.mem.kernel.init;
    this.mem.buddy.free_reserved_pages(pfnOf(s), pfnOf(e));
    this.log.info(`Freeing unused kernel image (initmem) memory: ${(e - s) / 1024}K`);
  }

  /** A new task (copy_process) under `parent`. */
  newTask(parent: Task, mm: MmStruct, cwd: Task['cwd'], comm: string): Task {
    const pid = this.nextPid++;
    const t = new Task(this, pid, parent, mm, this.vfs.path_get(cwd), comm);
    parent.children.add(t);
    this.tasks.set(pid, t);
    return t;
  }

  /** A task under init whose fds 0, 1 and 2 are the host's terminal (what a login gives a shell). */
  spawnConsoleTask(comm: string, io: { stdout: (s: string) => void; stderr: (s: string) => void; input?: string }): Task {
    const t = this.newTask(this.init, new MmStruct(this.kmem, 0), this.vfs.rootPath(), comm);
    t.argv = [comm];
    t.tty = PTS0;
    const dec = new TextDecoder();
    const con = (out: (s: string) => void, input?: string): File =>
      this.vfs.create_console({ write: (d) => out(dec.decode(d)), ...(input !== undefined ? { input } : {}) });
    t.fds[0] = con(io.stdout, io.input ?? '');
    t.fds[1] = con(io.stdout);
    t.fds[2] = con(io.stderr);
    return t;
  }

  /** Children of an exiting task go to init, which reaps zombies at once. */
  reparent(child: Task): void {
    child.parent = this.init;
    if (child.state === 'Z') this.release_task(child);
    else this.init.children.add(child);
  }

  /** release_task: the zombie is gone from the process table. */
  release_task(t: Task): void {
    this.tasks.delete(t.pid);
    this.init.children.delete(t);
  }

  /**
   * Deliver an asynchronous signal (kernel/signal.c send_signal → get_signal): a
   * handler the task installed runs in the task's context — the task wakes from
   * pause() for it, and a signal the handler itself does not survive (an uncaught
   * SIGBUS from KVM_RUN, say) kills the task; otherwise the default action applies.
   */
  send_signal(t: Task, signo: number, info?: { code: number; addr: number; lsb: number }, senderPid = 0): void {
    if (t.state === 'Z') return;
    if (info) t.lastSiginfo = { signo, ...info };
    const handler = t.sighand.get(signo);
    if (handler) {
      this.run_handler(t, handler, { signo, code: info?.code ?? SI_USER, pid: senderPid, addr: info?.addr ?? 0, addrLsb: info?.lsb ?? 0 });
      return;
    }
    if (SIG_IGNORED.has(signo) || SIG_STOP.has(signo)) return;
    // init is SIGNAL_UNKILLABLE: signals it has no handler for are dropped, even SIGKILL.
    if (t === this.init) return;
    t.do_exit(signo);
  }

  /** Run a handler as task t (handle_signal): t is current meanwhile, and returns to its state after. */
  private run_handler(t: Task, handler: (info: SigInfo) => void, info: SigInfo): void {
    const prevCurrent = this.current;
    const prevState = t.state;
    t.state = 'R';
    try {
      this.current = t;
      handler(info);
    } catch (e) {
      // A fatal synchronous signal inside the handler ends the task, as it would have unhandled.
      if (!(e instanceof Signal)) throw e;
      t.do_exit(e.signo);
    } finally {
      if (t.state === 'R') t.state = prevState;
      this.current = prevCurrent;
    }
  }

  /** oom_kill_process's report for a task the OOM killer chose. */
  oom_kill(t: Task): void {
    const r = t.rss();
    let vm = 0;
    for (const v of t.mm.vmas.vmas_in(0, Number.MAX_SAFE_INTEGER)) vm += v.size;
    this.log.err(
      `Out of memory: Killed process ${t.pid} (${t.comm}) total-vm:${vm / 1024}kB, anon-rss:${r.anon * 4}kB, file-rss:${r.file * 4}kB, ` +
        `shmem-rss:${r.shmem * 4}kB, UID:0 pgtables:${t.mm.nrPgtables * 4}kB oom_score_adj:0`,
    );
  }

  /** memfd_create: an unlinked tmpfs file (mm/memfd.c). */
  memfd_create(name: string, flags: number): File {
    return this.fs.memfd_create(name, flags);
  }

  /** Make a MAP_SHARED|MAP_ANONYMOUS VMA a mapping of a fresh shmem file (shmem_zero_setup). */
  shmem_zero_setup(vma: VmArea): void {
    this.fs.shmem_zero_setup(vma);
  }

  /** vfs_fallocate(PUNCH_HOLE|KEEP_SIZE) for MADV_REMOVE. */
  punch_hole(file: MappedFile, offset: number, len: number): void {
    this.fs.punch_hole(file as File, offset, len);
  }
}
