import { describe, expect, it } from 'vitest';
import { FakeKernel } from './fake_sys.ts';
import { sh, shInteractive } from './helpers.ts';

describe('simple commands and quoting', () => {
  it('runs builtins and programs', () => {
    const r = sh('echo hello world\n/bin/echo -n a; echo b');
    expect(r.out).toBe('hello world\nab\n');
    expect(r.status).toBe(0);
  });

  it('quotes, escapes and field splitting', () => {
    const r = sh(`X='a   b'\nargs $X "$X" '$X' a\\ b "" $EMPTY "x"y'z'`);
    expect(r.out).toBe('<a><b><a   b><$X><a b><><xyz>\n');
  });

  it('$?, $$ and ${VAR}', () => {
    const r = sh('false; echo $?; true; echo $?; V=x; echo ${V}y; echo $$');
    expect(r.out).toBe(`1\n0\nxy\n100\n`);
  });

  it('assignment before a command goes to its environment only', () => {
    const r = sh('FOO=bar printenv FOO; printenv FOO; export BAZ=1; printenv BAZ; echo "[$FOO]"');
    expect(r.out).toBe('bar\n\n1\n[]\n');
  });

  it('unset and export', () => {
    const r = sh('A=1; export A; unset A; printenv A; echo "${A}."; export 1x');
    expect(r.out).toBe('\n.\n');
    expect(r.err).toBe("sh: line 1: export: `1x': not a valid identifier\n");
  });

  it('echo -n and -e', () => {
    expect(sh('echo -e "a\\tb\\nc"; echo -n x; echo -e "y\\c"; echo z').out).toBe('a\tb\nc\nxyz\n');
  });
});

describe('exit statuses and lists', () => {
  it('&&, || and !', () => {
    const r = sh('true && echo a; false && echo b; false || echo c; ! false && echo d; ! true; echo $?');
    expect(r.out).toBe('a\nc\nd\n1\n');
  });

  it('script status is the last command’s', () => {
    expect(sh('true; false').status).toBe(1);
    expect(sh('false; true').status).toBe(0);
    expect(sh('exitwith 7').status).toBe(7);
  });

  it('exit N ends the script', () => {
    const r = sh('echo a; exit 3; echo b');
    expect(r.out).toBe('a\n');
    expect(r.status).toBe(3);
    expect(sh('false; exit').status).toBe(1);
    expect(sh('exit abc').err).toBe('sh: line 1: exit: abc: numeric argument required\n');
  });

  it('command not found is 127 with bash’s message', () => {
    const r = sh('echo a\nnosuch arg\necho $?');
    expect(r.err).toBe('sh: line 2: nosuch: command not found\n');
    expect(r.out).toBe('a\n127\n');
    expect(sh('./x').err).toBe('sh: line 1: ./x: No such file or directory\n');
  });

  it('syntax errors stop the script with status 2 after running earlier lines', () => {
    const r = sh('echo first\necho a ;; b\necho never');
    expect(r.out).toBe('first\n');
    expect(r.err).toBe("sh: line 2: syntax error near unexpected token `;;'\nsh: line 2: `echo a ;; b'\n");
    expect(r.status).toBe(2);
    expect(sh("echo 'x").err).toBe("sh: line 1: unexpected EOF while looking for matching `''\n");
  });
});

describe('set -e', () => {
  it('exits with the failing status', () => {
    const r = sh('set -e\necho a\nexitwith 4\necho b');
    expect(r.out).toBe('a\n');
    expect(r.status).toBe(4);
  });

  it('is ignored in conditions of && || ! if while', () => {
    const r = sh('set -e\nfalse && true\nfalse || true\n! true\nif false; then :; fi\nwhile false; do :; done\necho survived');
    expect(r.out).toBe('survived\n');
    expect(r.status).toBe(0);
  });

  it('applies to the last command of an and-or list', () => {
    const r = sh('set -e\ntrue && false\necho no');
    expect(r.out).toBe('');
    expect(r.status).toBe(1);
  });

  it('set +e turns it off; failing assignment from $(...) triggers it', () => {
    expect(sh('set -e; set +e; false; echo on').out).toBe('on\n');
    expect(sh('set -e; x=$(false); echo no').status).toBe(1);
  });
});

describe('pipes, substitution and redirection', () => {
  it('pipes stdout to stdin', () => {
    const r = sh('echo hello | cat | wc -c');
    expect(r.out).toBe('6\n');
  });

  it('pipeline status is the last stage’s', () => {
    expect(sh('false | true').status).toBe(0);
    expect(sh('true | false').status).toBe(1);
    expect(sh('! true | false').status).toBe(0);
  });

  it('builtins in pipelines', () => {
    expect(sh('echo a b | grep b').out).toBe('a b\n');
  });

  it('$(...) inside and outside quotes, trailing newlines stripped', () => {
    const r = sh('x=$(echo a; echo b); echo "$x"; echo $(echo 1   2)"$(echo q)"; echo $(echo $(echo nested))');
    expect(r.out).toBe('a\nb\n1 2q\nnested\n');
  });

  it('$(...) sets $?', () => {
    expect(sh('x=$(exitwith 5); echo $?').out).toBe('5\n');
  });

  it('> >> < and 2>&1', () => {
    const k = new FakeKernel();
    const r = sh('echo one > /tmp/f; echo two >> /tmp/f; cat < /tmp/f; cat /nonexistent 2>&1 | grep -c such; ls /nope 2>/tmp/e; cat /tmp/e', k);
    expect(r.out).toBe("one\ntwo\n1\nls: cannot access '/nope': No such file or directory\n");
    expect(k.readFile('/tmp/f')).toBe('one\ntwo\n');
  });

  it('redirection of builtins is undone afterwards', () => {
    const k = new FakeKernel();
    expect(sh('echo x > /tmp/o; echo y', k).out).toBe('y\n');
    expect(k.readFile('/tmp/o')).toBe('x\n');
  });

  it('redirection failure prints bash’s message and skips the command', () => {
    const r = sh('echo hi > /nodir/f; echo $?; cat < /missing');
    expect(r.err).toBe('sh: line 1: /nodir/f: No such file or directory\nsh: line 1: /missing: No such file or directory\n');
    expect(r.out).toBe('1\n');
    expect(r.status).toBe(1);
  });

  it('2> to a file, and >&2', () => {
    const k = new FakeKernel();
    const r = sh('echo err >&2; cat /nope 2>/tmp/e; true', k);
    expect(r.err).toBe('err\n');
    expect(k.readFile('/tmp/e')).toBe('cat: /nope: No such file or directory\n');
  });
});

describe('signals and held processes', () => {
  it('a command killed by a signal: message and 128+N', () => {
    const r = sh('segv; echo $?; buserr; echo $?');
    expect(r.tty).toBe('Segmentation fault\n139\nBus error\n135\n');
  });

  it('set -e exits on a signal death', () => {
    expect(sh('set -e; buserr; echo no').status).toBe(135);
  });

  it('a program that parks itself is a background job; kill reaps it later', () => {
    const k = new FakeKernel();
    const r = sh('hold; echo $?; ps', k);
    expect(r.out).toBe('0\n    PID TTY          TIME CMD\n    100 pts/0    00:00:02 sh\n    101 pts/0    00:00:02 hold\n    102 pts/0    00:00:02 ps\n');
    const r2 = sh('hold; kill 101; echo $?; kill 101', new FakeKernel());
    expect(r2.out).toBe('0\n');
    expect(r2.err).toBe('kill: (101) - No such process\n');
  });
});

describe('compound commands and builtins', () => {
  it('if/elif/else, while, for, break, continue', () => {
    const r = sh('for i in 1 2 3 4; do if [ $i -eq 2 ]; then continue; elif [ $i = 4 ]; then break; fi; echo $i; done\nn=0; while [ $n -lt 2 ]; do echo w$n; n=$(seq 2 | wc -l); done');
    expect(r.out).toBe('1\n3\nw0\n');
  });

  it('test and [ ]', () => {
    const k = new FakeKernel();
    k.writeFile('/tmp/f', 'x');
    k.writeFile('/tmp/empty', '');
    const r = sh(
      'for t in "-z \'\'" "-n a" "a = a" "a != b" "3 -gt 2" "-e /tmp/f" "-f /tmp/f" "-d /tmp" "-s /tmp/f" "! -s /tmp/empty" "-d /tmp/f" "1 -eq 2 -o 2 -eq 2"; do eval_me=0; done\n' +
        '[ -z "" ] && [ -n a ] && [ a = a ] && [ a != b ] && [ 3 -gt 2 ] && [ -e /tmp/f ] && [ -f /tmp/f ] && [ -d /tmp ] && [ -s /tmp/f ] && [ ! -s /tmp/empty ] && ! [ -d /tmp/f ] && [ 1 -eq 2 -o 2 -eq 2 ] && test x && echo ok\n' +
        '[ 1 -eq x ]; echo $?; [ a; echo $?',
      k,
    );
    expect(r.out).toBe('ok\n2\n2\n');
    expect(r.err).toBe("sh: line 3: [: x: integer expression expected\nsh: line 3: [: missing `]'\n");
  });

  it('cd and pwd', () => {
    const r = sh('cd /tmp; pwd; cd nope; cd ..; pwd; echo $PWD');
    expect(r.out).toBe('/tmp\n/\n/\n');
    expect(r.err).toBe('sh: line 1: cd: nope: No such file or directory\n');
  });

  it('subshells do not change the parent', () => {
    expect(sh('X=1; (X=2; cd /tmp); echo $X; pwd').out).toBe('1\n/root\n');
  });
});

describe('interactive mode', () => {
  it('prompts, continues incomplete lines, reports errors without line numbers', () => {
    const r = shInteractive(['echo hi', 'if true; then', 'echo in', 'fi', 'nosuch', 'echo ;;', 'exit 3']);
    expect(r.out).toBe('# hi\n# > > in\n# # # ');
    expect(r.err).toBe("sh: nosuch: command not found\nsh: syntax error near unexpected token `;;'\nexit\n");
    expect(r.status).toBe(3);
  });
});

describe('background jobs', () => {
  it('`prog &` runs now, $! is its pid, and it is reaped silently', () => {
    const r = sh('echo bg & echo $!; hold & echo $!; kill $!; echo done');
    expect(r.out).toBe('bg\n101\n102\ndone\n');
    expect(r.err).toBe('');
  });

  it('a parked foreground program becomes $!', () => {
    expect(sh('hold; kill $! && echo killed').out).toBe('killed\n');
  });

  it('a builtin writing to a closed stdout reports a write error', () => {
    expect(sh('echo x >&-; echo $?').err).toBe('sh: line 1: echo: write error: Bad file descriptor\n');
  });
});
