#! --mem 64G --nodes 2 --cmdline "efi_fake_mem=16G@0x400000000:0x40000"
# daxctl and memory hotplug (ndctl test/daxctl-devices.sh style): a 4 GiB
# device goes to system-ram (two 2 GiB memory blocks, as on a 64 GiB x86-64
# machine; onlined movable), its memory goes offline and back online in
# ZONE_NORMAL, back to devdax only once offline (or with --force), and the
# kernel's auto-online policy makes daxctl refuse unless told it is fine.
cat /sys/devices/system/memory/block_size_bytes
cat /sys/devices/system/memory/auto_online_blocks
daxctl disable-device dax0.0
daxctl reconfigure-device -s 0 dax0.0
daxctl create-device -s 4G
grep MemTotal /proc/meminfo
echo "## to system-ram"
daxctl reconfigure-device -m system-ram dax0.1
grep MemTotal /proc/meminfo
daxctl list -d dax0.1
echo "## offline (one block by hand first), then online in ZONE_NORMAL"
echo offline > /sys/devices/system/memory/memory9/state
daxctl list -d dax0.1
daxctl offline-memory dax0.1
daxctl list -d dax0.1
daxctl offline-memory dax0.1
echo "status=$?"
daxctl online-memory --no-movable dax0.1
daxctl list -d 0.1 -u
echo "## back to devdax: refused while online"
daxctl reconfigure-device -m devdax -v dax0.1
echo "status=$?"
daxctl disable-device dax0.1
echo "status=$?"
daxctl reconfigure-device -m devdax -f dax0.1
echo "## -N leaves the blocks offline; online-memory onlines them"
daxctl reconfigure-device -m system-ram -N dax0.1
daxctl online-memory dax0.1
daxctl reconfigure-device -m system-ram dax0.1
echo "status=$?"
echo "## a kernel that auto-onlines"
daxctl reconfigure-device -m devdax -f dax0.1
echo online_movable > /sys/devices/system/memory/auto_online_blocks
daxctl reconfigure-device -m system-ram dax0.1
echo "status=$?"
daxctl reconfigure-device -m system-ram --force dax0.1
echo "status=$?"
daxctl list
