#! --mem 64G --nodes 2 --cmdline "dmem=4G dmem=2G@40G dmem=1G:1G@44G dmem=512M@46G:256M dmem=0x20000000@0x5c0000000 dmem=!24G dmem=0 dmem=!1G@8G dmem=1G@0 dmem=1G:64M dmem=3G:3G dmem=1G@100G dmem=1G@40G dmem=1G@2G dmem=1G@1G dmem=1G@20G@21G dmem=1Q"
# dmem= at boot: RAM is [0, 2G) and [4G, 66G); node 0 ends at 34G, node 1 is [34G, 66G).
# Valid: SIZE on every node, SIZE@ADDR, SIZE:ALIGN@ADDR, SIZE@ADDR:ALIGN, hex,
# !SIZE (all but SIZE per node), a fixed range below 4G. Invalid: zero size,
# ! with @, @0, an alignment below 128M or not a power of two, a range outside
# RAM, one overlapping an earlier region, one over the hole below 4G, a
# repeated attribute, an unknown suffix.
dmesg | grep -E 'dmem|Malformed|Memory:'
grep MemTotal /proc/meminfo
grep -E 'System RAM|dmem' /proc/iomem
cd /sys/kernel/debug/dmem
grep . region_num registered_pages unaligned_pages dpage_shift total_dpages free_dpages node0/total_dpages node0/free_dpages node1/total_dpages node1/free_dpages

# the first mount fixes the dpage size and the counters fill in
mount -t dmemfs -o pagesize=1G none /mnt
grep . unaligned_pages dpage_shift total_dpages free_dpages node0/total_dpages node0/free_dpages node1/total_dpages node1/free_dpages
dmesg | tail -n 1
