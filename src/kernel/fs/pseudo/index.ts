/** The pseudo filesystems (proc, sysfs, debugfs) and their content builder. */
export * from './fs.ts';
export * from './node.ts';
export * from './types.ts';
