/**
 * daxctl: manage device-dax instances (pmem/ndctl daxctl/daxctl.c main and
 * cmd_version/cmd_help, util/main.c main_handle_options, run_builtin,
 * main_handle_internal_command). A user program: it sees the system only
 * through sysfs files, /dev nodes and the Syscalls interface.
 *
 * Exit statuses as the real tool's: a command's negative errno & 0xff (e.g. 250
 * for -ENXIO), 129 for usage errors and help, 1 for an unknown command.
 *
 * Known differences: `daxctl help COMMAND` and `daxctl COMMAND --help` would
 * open the man page; there is no man here, so they print the command's usage
 * (as -h does, status 129). split-acpi and migrate-device-model are not
 * provided (there is no ACPI table or dax-class device model to act on).
 */
import type { Program } from '../program.ts';
import { writeStr } from '../program.ts';
import { ParseOptionsExit, parseOptions } from '../parse_options.ts';
import { cmd_device } from './device.ts';
import { DaxctlLib } from './libdaxctl.ts';
import { cmd_list, DAXCTL_VERSION } from './list.ts';
import { LOG_DEBUG, DaxctlCtx } from './sysfs.ts';
import type { DeviceAction } from './options.ts';

const USAGE_STRING = 'daxctl [--version] [--help] COMMAND [ARGS]';
const MORE_INFO = "See 'daxctl help COMMAND' for more information on a specific command.\n daxctl --list-cmds to see all available commands";

type Cmd = (lib: DaxctlLib, argv: readonly string[]) => number;

const device = (action: DeviceAction): Cmd => (lib, argv) => cmd_device(lib, argv, action);

/** The commands table, in daxctl.c's order. */
const COMMANDS: readonly [string, Cmd][] = [
  ['version', (lib) => (writeStr(lib.ctx.sys, 1, `${DAXCTL_VERSION}\n`), 0)],
  ['list', cmd_list],
  ['help', cmd_help],
  ['create-device', device('create')],
  ['destroy-device', device('destroy')],
  ['reconfigure-device', device('reconfig')],
  ['online-memory', device('online')],
  ['offline-memory', device('offline')],
  ['disable-device', device('disable')],
  ['enable-device', device('enable')],
];

/** cmd_help(): the general usage, or (no man pages here) the command's usage text. */
function cmd_help(lib: DaxctlLib, argv: readonly string[]): number {
  const sys = lib.ctx.sys;
  const { args } = parseOptions(sys, argv, [], ['daxctl help [command]']);
  if (!args.length) {
    writeStr(sys, 1, `\n usage: ${USAGE_STRING}\n\n`);
    writeStr(sys, 1, `\n ${MORE_INFO}\n\n`);
    return 0;
  }
  const cmd = COMMANDS.find(([n]) => n === args[0]);
  if (!cmd || args[0] === 'help' || args[0] === 'version') {
    writeStr(sys, 2, `No manual entry for daxctl-${args[0]}\n`);
    return 1;
  }
  return cmd[1](lib, [args[0]!, '-h']);
}

/** daxctl's main(). */
export const daxctl: Program = ({ sys, argv, env }) => {
  let args = argv.slice(1);
  // main_handle_options()
  while (args.length > 0) {
    const cmd = args[0]!;
    if (cmd[0] !== '-') break;
    if (cmd === '--version' || cmd === '--help') break;
    if (cmd === '-h') {
      args[0] = '--help';
      break;
    }
    if (cmd === '-v') {
      args[0] = '--version';
      break;
    }
    if (cmd === '--list-cmds') {
      writeStr(sys, 1, COMMANDS.map(([n]) => `${n}\n`).join(''));
      return 0;
    }
    writeStr(sys, 2, `Unknown option: ${cmd}\n`);
    writeStr(sys, 2, `\n Usage: ${USAGE_STRING}\n`);
    return 129;
  }
  if (args.length === 0) {
    writeStr(sys, 1, `\n usage: ${USAGE_STRING}\n\n`);
    writeStr(sys, 1, `\n ${MORE_INFO}\n\n`);
    return 1;
  }
  if (args[0]!.startsWith('--')) args = [args[0]!.slice(2), ...args.slice(1)];

  const ctx = new DaxctlCtx(sys);
  // DAXCTL_LOG overrides the library's log priority (util/log.c log_init).
  const level = env.get('DAXCTL_LOG');
  if (level !== undefined) ctx.logPriority = /^\d/.test(level) ? parseInt(level, 10) : level.startsWith('debug') ? LOG_DEBUG : level.startsWith('info') ? 6 : level.startsWith('err') ? 3 : 0;
  const lib = new DaxctlLib(ctx);

  // main_handle_internal_command(): "daxctl CMD --help" is "daxctl help CMD".
  if (args.length > 1 && args[1] === '--help') args = ['help', args[0]!, ...args.slice(2)];
  const entry = COMMANDS.find(([n]) => n === args[0]);
  if (!entry) {
    writeStr(sys, 2, `Unknown command: '${args[0]}'\n`);
    return 1;
  }
  try {
    const status = entry[1](lib, args);
    return status & 0xff;
  } catch (e) {
    if (e instanceof ParseOptionsExit) return e.status;
    throw e;
  }
};
