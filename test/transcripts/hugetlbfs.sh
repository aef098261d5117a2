#! --mem 16G --cmdline "hugepagesz=2M hugepages=1024 hugepagesz=1G hugepages=2"
# hugetlbfs: mounts and their options, files, reservations and faults as
# HugePages_Rsvd/Free show them.
grep -E '^(HugePages|Hugepagesize|Hugetlb)' /proc/meminfo
mkdir /mnt/huge /mnt/g /mnt/q
mount -t hugetlbfs none /mnt/huge
mount -t hugetlbfs -o pagesize=1G none /mnt/g
mount -t hugetlbfs -o pagesize=2M,size=64M,min_size=16M,mode=1770 none /mnt/q
grep hugetlbfs /proc/mounts
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo

# bad options
mount -t hugetlbfs -o pagesize=4M none /mnt/huge
mount -t hugetlbfs -o size=8M,min_size=16M none /mnt/huge
mount -t hugetlbfs -o size=K none /mnt/huge
dmesg | grep hugetlbfs

# files: fallocate takes whole pages, write(2) is refused, truncate frees
fallocate -l 5M /mnt/huge/a
ls -l /mnt/huge
df /mnt/huge /mnt/q
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
echo hello > /mnt/huge/a
truncate -s 3M /mnt/huge/a
truncate -s 2M /mnt/huge/a
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo

# a held shared mapping reserves at mmap and consumes on touch
memtouch --file /mnt/huge/vm --create --size 64M --touch 16M --hold
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
memtouch --file /mnt/huge/vm --size 64M --private --write
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
memtouch --file /mnt/q/big --create --size 128M
memtouch --file /mnt/g/vm --create --size 1G
grep -E 'HugePages_(Free|Rsvd)' /sys/devices/system/node/node0/meminfo
df /mnt/q

# a writable mapping extends the file to its end (hugetlbfs_file_mmap)
truncate -s 4M /mnt/huge/small
memtouch --file /mnt/huge/small --size 8M
ls -l /mnt/huge/small

# everything goes back
rm /mnt/huge/a /mnt/huge/small /mnt/g/vm
umount /mnt/q
grep -E '^HugePages_(Free|Rsvd)' /proc/meminfo
