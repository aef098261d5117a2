/** dmemfs (fs/dmemfs): the public surface. */
export * from './dmemfs_fs.ts';
export * from './dpages.ts';
export * from './extent.ts';
export * from './file.ts';
export * from './inode.ts';
export * from './mmap.ts';
export * from './options.ts';
export * from './params.ts';
export * from './super.ts';
