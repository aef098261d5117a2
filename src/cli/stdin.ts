/**
 * Reading the shell's input from the real standard input, synchronously (the
 * model runs synchronously end to end). A terminal is read a line at a time so
 * the prompt and output interleave as in a real shell.
 */
import { readSync } from 'node:fs';

/** A line reader over fd 0: returns each line without its newline, then null at end of input. */
export function readStdinLines(interactive: boolean): () => string | null {
  let buffered = '';
  let eof = false;
  const chunk = Buffer.alloc(interactive ? 1024 : 65536);
  const fill = (): void => {
    for (;;) {
      let n: number;
      try {
        n = readSync(0, chunk, 0, chunk.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EOF') n = 0;
        else throw e;
      }
      if (n === 0) {
        eof = true;
        return;
      }
      buffered += chunk.toString('utf8', 0, n);
      return;
    }
  };
  return () => {
    while (!buffered.includes('\n') && !eof) fill();
    if (buffered.length === 0 && eof) return null;
    const nl = buffered.indexOf('\n');
    const line = nl < 0 ? buffered : buffered.slice(0, nl);
    buffered = nl < 0 ? '' : buffered.slice(nl + 1);
    return line;
  };
}
