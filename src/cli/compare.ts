/**
 * `dmemfs compare [SCENARIO.yaml] [--json] [--html FILE] [--backends id,id] [--seed N]`:
 * run a scenario on every backend and print the comparison (a terminal table,
 * JSON, or a self-contained HTML report). Progress goes to stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderHtml } from '../report/html.ts';
import { renderTable } from '../report/table.ts';
import { BACKEND_IDS, type BackendId } from '../scenario/result.ts';
import { compare } from '../scenario/runner.ts';
import { ScenarioError, parseScenario } from '../scenario/scenario.ts';

/** The scenario `dmemfs compare` runs when none is named. */
export const DEFAULT_SCENARIO = join(dirname(fileURLToPath(import.meta.url)), '../../examples/default.yaml');

/** Parsed `compare` options. */
export interface CompareArgs {
  file: string;
  json: boolean;
  html: string | null;
  backends: BackendId[] | null;
  seed: number | null;
}

/** Parse the arguments after `compare`; `usage` builds the error the caller reports. */
export function parseCompareArgs(args: string[], usage: (msg: string) => Error): CompareArgs {
  const o: CompareArgs = { file: '', json: false, html: null, backends: null, seed: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const val = (): string => {
      const v = args[++i];
      if (v === undefined) throw usage(`option '${a}' requires an argument`);
      return v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--html') o.html = val();
    else if (a === '--backends') {
      const ids = val().split(',').filter(Boolean);
      for (const id of ids) if (!(BACKEND_IDS as readonly string[]).includes(id)) throw usage(`--backends: unknown backend '${id}' (expected ${BACKEND_IDS.join(', ')})`);
      if (!ids.length) throw usage('--backends: empty list');
      o.backends = ids as BackendId[];
    } else if (a === '--seed') {
      const v = val();
      if (!/^\d+$/.test(v)) throw usage(`--seed: not a number: '${v}'`);
      o.seed = Number(v);
    } else if (a.startsWith('-')) throw usage(`unknown option '${a}'`);
    else if (!o.file) o.file = a;
    else throw usage(`unexpected argument '${a}'`);
  }
  if (!o.file) o.file = DEFAULT_SCENARIO;
  return o;
}

/** Where compare writes. */
export interface CompareIo {
  stdout(s: string): void;
  stderr(s: string): void;
  readFile(path: string): string;
  writeFile(path: string, text: string): void;
}

/** Default I/O: the process's streams and files. */
export const processIo: CompareIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  readFile: (p) => readFileSync(p, 'utf8'),
  writeFile: (p, t) => writeFileSync(p, t),
};

/** Run `dmemfs compare`; returns the exit status (1 for a bad scenario). */
export function runCompare(o: CompareArgs, io: CompareIo): number {
  let text: string;
  try {
    text = io.readFile(o.file);
  } catch (e) {
    io.stderr(`dmemfs compare: ${o.file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}\n`);
    return 1;
  }
  let scn;
  try {
    scn = parseScenario(text, basename(o.file).replace(/\.ya?ml$/, ''));
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    io.stderr(`dmemfs compare: ${o.file}: ${e.message}\n`);
    return 1;
  }
  const result = compare(scn, {
    ...(o.backends ? { backends: o.backends } : {}),
    ...(o.seed !== null ? { seed: o.seed } : {}),
    progress: (line) => io.stderr(`${line}\n`),
  });
  if (o.html) {
    io.writeFile(o.html, renderHtml(result));
    io.stderr(`wrote ${o.html}\n`);
  }
  io.stdout(o.json ? JSON.stringify(result, null, 2) + '\n' : renderTable(result));
  return 0;
}
