# A tour of the simulated host: what boot left us, then memory at work.
echo "== the kernel command line and the memory it found"
cat /proc/cmdline
dmesg | grep -E 'Memory:|Zone ranges|Normal|Freeing'
grep -E '^(MemTotal|MemFree|AnonPages|AnonHugePages|PageTables):' /proc/meminfo

echo "== NUMA nodes"
cat /sys/devices/system/node/online
cat /sys/devices/system/node/node0/distance

echo "== 64 MiB of anonymous memory, touched with transparent huge pages, then without"
memtouch --anon --size 64M
memtouch --anon --size 64M --no-thp

echo "== a tmpfs file, mapped shared and filled, then checked"
mount -t tmpfs -o size=1G tmpfs /mnt
memtouch --file /mnt/data --create --size 8M --fill 0x5a
memtouch --file /mnt/data --size 8M --read --verify 0x5a
df -B 1M /mnt
ls -l /mnt

echo "== a process holding its memory, as ps and /proc see it"
memtouch --anon --size 256M --hold
ps
grep -E '^(AnonPages|AnonHugePages|PageTables):' /proc/meminfo
kill $!
grep -E '^(AnonPages|AnonHugePages):' /proc/meminfo

echo "== errors look like the real tools'"
truncate -s 1M /proc/meminfo
memtouch --file /mnt/missing --size 4K
