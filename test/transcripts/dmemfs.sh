#! --mem 64G --nodes 2 --cmdline "dmem=16G"
# The DMEMFS story: reserve at boot, mount, give a VM-sized file memory, map it,
# read the counters, shrink it, poison it.
dmesg | grep -E 'dmem|Memory:'
grep MemTotal /proc/meminfo
grep dmem /proc/iomem
cat /sys/kernel/debug/dmem/region_num /sys/kernel/debug/dmem/registered_pages

# 2 MiB dpages; a 4 GiB file for a VM on node 0
mount -t dmemfs -o pagesize=2M none /mnt
grep dmemfs /proc/mounts
df -h /mnt
truncate -s 4G /mnt/vm0
truncate -s 4097 /mnt/vm0
stat -c '%s %b %B %n' /mnt/vm0
memtouch --file /mnt/vm0 --size 4G
cat /sys/kernel/debug/dmem/dpage_shift /sys/kernel/debug/dmem/free_dpages /sys/kernel/debug/dmem/node0/free_dpages
memtouch --file /mnt/vm0 --size 256M --read --verify 0
memtouch --file /mnt/vm0 --size 2M --private
memtouch --file /mnt/vm0 --size 1M
memtouch --file /mnt/vm0 --size 2M --offset 4G --read
echo "status $?"

# another mount must agree on the dpage size while the pool is in use
mkdir /mnt2
mount -t dmemfs -o pagesize=1G none /mnt2
mount -t dmemfs -o pagesize=2M,mapping=remap none /mnt2
memtouch --file /mnt2/vm1 --create --size 64M
umount /mnt2

# shrink: the tail goes back to the pool
truncate -s 1G /mnt/vm0
cat /sys/kernel/debug/dmem/free_dpages

# a held mapping, then a hardware error in the memory it maps
memtouch --file /mnt/vm0 --size 1G --hold
umount /mnt
echo 0x478000 > /sys/kernel/debug/hwpoison/corrupt-pfn
dmesg | grep -E 'Memory failure|MCE' | tail -n 3
ps
grep HardwareCorrupted /proc/meminfo
memtouch --file /mnt/vm0 --size 1G --read
echo "status $?"
echo 0x478000 > /sys/kernel/debug/hwpoison/corrupt-pfn
