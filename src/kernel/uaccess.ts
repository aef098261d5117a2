/**
 * Splitting a user access into per-page pieces (the shape of copy_to_user /
 * copy_from_user loops): each piece lies within one 4 KiB page.
 */
import { PAGE_SIZE } from '../lib/size.ts';

/** Call piece(va, n, out, offset) for each page-bounded piece of [addr, addr+length); returns out. */
export function user_access(
  length: number,
  addr: number,
  piece: (va: number, n: number, out: Uint8Array, offset: number) => void,
): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const va = addr + done;
    const n = Math.min(PAGE_SIZE - (va % PAGE_SIZE), length - done);
    piece(va, n, out, done);
    done += n;
  }
  return out;
}
