/** hugetlbfs (fs/hugetlbfs): the public surface. */
export * from './file.ts';
export * from './hugetlbfs_fs.ts';
export * from './inode.ts';
export * from './mce.ts';
export * from './options.ts';
export * from './super.ts';
