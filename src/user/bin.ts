/**
 * What /bin holds: program name → Program. The shell looks commands up here
 * (after its builtins); `/bin/NAME` and `/usr/bin/NAME` resolve to the same.
 */
import { cat } from './coreutils/cat.ts';
import { daxctl } from './daxctl/index.ts';
import { df } from './coreutils/df.ts';
import { echo } from './coreutils/echo.ts';
import { fallocate } from './coreutils/fallocate.ts';
import { free } from './coreutils/free.ts';
import { grep } from './coreutils/grep.ts';
import { head, tail } from './coreutils/headtail.ts';
import { kill } from './coreutils/kill.ts';
import { ls } from './coreutils/ls.ts';
import { mkdir } from './coreutils/mkdir.ts';
import { mount, umount } from './coreutils/mount.ts';
import { mv } from './coreutils/mv.ts';
import { ps } from './coreutils/ps.ts';
import { rm } from './coreutils/rm.ts';
import { rmdir } from './coreutils/rmdir.ts';
import { seq } from './coreutils/seq.ts';
import { basename, dirname, dmesg, env, falseProgram, pwd, trueProgram } from './coreutils/simple.ts';
import { sleep } from './coreutils/sleep.ts';
import { stat } from './coreutils/stat.ts';
import { readlink } from './coreutils/readlink.ts';
import { tr } from './coreutils/tr.ts';
import { truncate } from './coreutils/truncate.ts';
import { wc } from './coreutils/wc.ts';
import { memtouch } from './memtouch.ts';
import type { Program } from './program.ts';
import { makeShProgram } from './sh/shell.ts';
import { vmm } from './vmm/index.ts';

/** The program table. Mutable so the system can register more (memtouch, daxctl, vmm). */
export const BIN = new Map<string, Program>([
  ['basename', basename],
  ['cat', cat],
  ['daxctl', daxctl],
  ['df', df],
  ['dirname', dirname],
  ['dmesg', dmesg],
  ['echo', echo],
  ['env', env],
  ['fallocate', fallocate],
  ['false', falseProgram],
  ['free', free],
  ['grep', grep],
  ['head', head],
  ['kill', kill],
  ['ls', ls],
  ['memtouch', memtouch],
  ['mkdir', mkdir],
  ['mount', mount],
  ['mv', mv],
  ['ps', ps],
  ['pwd', pwd],
  ['readlink', readlink],
  ['rm', rm],
  ['rmdir', rmdir],
  ['seq', seq],
  ['sleep', sleep],
  ['stat', stat],
  ['tail', tail],
  ['tr', tr],
  ['true', trueProgram],
  ['truncate', truncate],
  ['umount', umount],
  ['vmm', vmm],
  ['wc', wc],
]);
BIN.set('sh', makeShProgram(BIN));
