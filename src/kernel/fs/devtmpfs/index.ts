/** devtmpfs and the memory character devices. */
export * from './devtmpfs.ts';
export * from './mem.ts';
export * from './misc.ts';
