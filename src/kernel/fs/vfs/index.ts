/** The VFS layer's public surface (see each module for its Linux counterpart). */
export * from './char_dev.ts';
export * from './console.ts';
export * from './dcache.ts';
export * from './dirops.ts';
export * from './file.ts';
export * from './inode.ts';
export * from './libfs.ts';
export * from './mount.ts';
export * from './namei.ts';
export * from './namespace.ts';
export * from './open.ts';
export * from './pipe.ts';
export * from './read_write.ts';
export * from './readdir.ts';
export * from './stat.ts';
export * from './super.ts';
export * from './vfs.ts';
