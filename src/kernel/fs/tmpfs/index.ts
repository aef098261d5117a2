/** tmpfs (mm/shmem.c): the public surface. */
export * from './file.ts';
export * from './inode.ts';
export * from './options.ts';
export * from './shmem.ts';
export * from './shmem_fs.ts';
