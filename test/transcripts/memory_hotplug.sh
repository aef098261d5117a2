#! --mem 64G --nodes 2 --cmdline "efi_fake_mem=16G@0x400000000:0x40000"
# Memory hotplug through sysfs (Documentation/admin-guide/mm/memory-hotplug.rst):
# dax0.0's 16 GiB of soft-reserved memory handed to the kmem driver by hand,
# its 2 GiB memory blocks onlined to ZONE_MOVABLE and ZONE_NORMAL, the state
# files' errors, offline, and unbinding with a block still online.
cat /sys/devices/system/memory/block_size_bytes
cat /sys/devices/system/memory/auto_online_blocks
ls /sys/devices/system/memory
cat /sys/devices/system/memory/memory0/valid_zones /sys/devices/system/memory/memory2/valid_zones
grep MemTotal /proc/meminfo
echo dax0.0 > /sys/bus/dax/drivers/device_dax/unbind
echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id
grep -E 'Soft|dax|kmem' /proc/iomem
cat /sys/devices/system/memory/memory8/state /sys/devices/system/memory/memory8/valid_zones
ls /sys/devices/system/node/node0 | grep memory8
echo "## online: movable, kernel, default"
echo online_movable > /sys/devices/system/memory/memory8/state
echo online_kernel > /sys/devices/system/memory/memory9/state
echo online > /sys/devices/system/memory/memory10/state
cat /sys/devices/system/memory/memory8/valid_zones /sys/devices/system/memory/memory9/valid_zones /sys/devices/system/memory/memory10/valid_zones
grep MemTotal /proc/meminfo
cat /proc/buddyinfo
echo "## errors"
echo online > /sys/devices/system/memory/memory8/state
echo "status=$?"
echo sideways > /sys/devices/system/memory/memory8/state
echo "status=$?"
echo offline > /sys/devices/system/memory/memory11/state
echo "status=$?"
echo offline > /sys/devices/system/memory/memory0/state
echo "status=$?"
echo 1 > /sys/devices/system/memory/memory8/online
echo "status=$?"
echo "## offline, then unbind with memory9 and memory10 still online"
echo offline > /sys/devices/system/memory/memory8/state
echo 0 > /sys/devices/system/memory/memory9/online
grep -E 'Movable' /proc/buddyinfo
echo dax0.0 > /sys/bus/dax/drivers/kmem/unbind
dmesg | grep -E 'kmem|removing'
cat /sys/devices/system/memory/memory10/state
grep MemTotal /proc/meminfo
