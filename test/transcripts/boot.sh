#! --mem 64G --nodes 2 --cmdline "root=/dev/vda1 ro mem=48G foo=bar loglevel=x"
# Boot messages and the memory accounting they imply.
dmesg
cat /proc/cmdline
grep -E '^(MemTotal|MemFree|PageTables|DirectMap)' /proc/meminfo
cat /proc/iomem
cat /proc/buddyinfo
cat /sys/devices/system/node/possible /sys/devices/system/node/node1/distance /sys/devices/system/node/node1/cpulist
grep MemTotal /sys/devices/system/node/node0/meminfo /sys/devices/system/node/node1/meminfo
