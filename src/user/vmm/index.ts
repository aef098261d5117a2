/**
 * vmm: a QEMU-like VM launcher. It uses only system calls — /dev/kvm and
 * /dev/vfio/vfio through ioctl, guest RAM through mmap/madvise/mbind — so it
 * runs unchanged wherever Syscalls is implemented.
 *
 *   vmm start NAME --memory SIZE [--memory-backend ram|memfd|file] …   the VM process
 *   vmm run NAME --pattern seq|random|hot-cold [--bytes SIZE] [--write] [--seed N]
 *   vmm mce NAME CPU BANK STATUS MCGSTATUS ADDR MISC                    QEMU's HMP mce
 *   vmm info NAME | vmm list | vmm stop NAME
 *
 * `vmm start` is the VM: it parks itself and stays as a background job. The
 * other subcommands are separate processes that reach it through a control
 * channel under /run/vmm/NAME — the model's QEMU monitor (QMP-shaped requests
 * delivered with SIGUSR1, see monitor.ts) — just as `virsh` or a QMP client
 * reaches a running QEMU through its monitor socket.
 *
 * Exit status: 0 on success, 1 for a failure (QEMU-like message on stderr,
 * nothing left behind), 2 for a bad command line.
 */
import { writeStr, type HOLD, type ProgramContext } from '../program.ts';
import { vmmInfo, vmmList, vmmMce, vmmRun, vmmStop } from './client.ts';
import { USAGE, UsageError, parseMce, parseNameOnly, parseRun, parseStart } from './options.ts';
import { vmmStart } from './vm.ts';

/** vmm's main. */
export function vmm({ sys, argv }: ProgramContext): number | typeof HOLD {
  try {
    switch (argv[1]) {
      case 'start':
        return vmmStart(sys, parseStart(argv));
      case 'run':
        return vmmRun(sys, parseRun(argv));
      case 'mce':
        return vmmMce(sys, parseMce(argv));
      case 'info':
        return vmmInfo(sys, parseNameOnly(argv));
      case 'list':
        if (argv.length > 2) throw new UsageError(`unexpected argument '${argv[2]}'`);
        return vmmList(sys);
      case 'stop':
        return vmmStop(sys, parseNameOnly(argv));
      case undefined:
        throw new UsageError('a command is required');
      default:
        throw new UsageError(`unknown command '${argv[1]}'`);
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeStr(sys, 2, `vmm: ${e.message}\n${USAGE}`);
    return 2;
  }
}
