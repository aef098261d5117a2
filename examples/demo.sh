# A tour of a simulated 64 GiB, two-node host booted with dmem=16G
# (npm start boots it and runs this).
echo "== boot: dmem=16G took 16 GiB on each node before any struct page existed"
cat /proc/cmdline
dmesg | grep -E 'dmem: register|Memory:'
echo "   struct pages (64 B per 4 KiB) now cover 32 GiB instead of 64: 512 MiB of the 'reserved' above"
grep -E '^(MemTotal|MemFree|PageTables):' /proc/meminfo
free -h

echo "== NUMA: nodes online, node 1's distances and CPUs"
cat /sys/devices/system/node/online /sys/devices/system/node/node1/distance /sys/devices/system/node/node1/cpulist

echo "== 64 MiB of anonymous memory: with THP (32 x 2M faults), then without (16384 x 4K)"
memtouch --anon --size 64M
memtouch --anon --size 64M --no-thp
echo "   reading untouched memory maps the (huge) zero page and uses none:"
memtouch --anon --size 64M --read

echo "== a tmpfs file, filled through a shared mapping, then verified by another process"
mount -t tmpfs -o size=1G tmpfs /mnt
memtouch --file /mnt/data --create --size 8M --fill 0x5a
memtouch --file /mnt/data --size 8M --read --verify 0x5a
df -h /mnt
grep -E '^(Shmem|Cached):' /proc/meminfo

echo "== a process holding 256 MiB, as ps and /proc see it, until it is killed"
memtouch --anon --size 256M --hold
ps
grep -E '^(AnonPages|AnonHugePages|PageTables):' /proc/meminfo
grep -E '^(Size|Rss|AnonHugePages):' /proc/$!/smaps
kill $!
grep -E '^(AnonPages|AnonHugePages):' /proc/meminfo

echo "== DMEMFS: an 8 GiB guest whose RAM is a file of 1 GiB dpages"
mkdir /dmem
mount -t dmemfs -o pagesize=1G none /dmem
df -h /dmem
truncate -s 8G /dmem/vm0
vmm start vm0 --memory 8G --memory-backend file --mem-path /dmem/vm0 --share
vmm run vm0 --pattern seq --write --bytes 64M
vmm info vm0 | grep -E '^(pages_|secpagetables)'
cat /sys/kernel/debug/dmem/free_dpages
vmm stop vm0

echo "== errors read as the real tools print them"
memtouch --file /mnt/data --size 8M --offset 100
memtouch --file /mnt/data --size 16M --read
echo "exit status $? = 128 + SIGBUS"
truncate -s 1M /proc/nonexistent
umount /mnt && echo "unmounted /mnt"
