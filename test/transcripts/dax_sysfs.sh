#! --mem 64G --nodes 2 --cmdline "efi_fake_mem=16G@0x400000000:0x40000 memmap=2G!0x900000000"
# The dax bus through sysfs, the way ndctl's test/daxctl-create.sh drives it:
# a soft-reserved 16G region (hmem) and a legacy-pmem static region.
dmesg | grep -E 'efi_fake_mem|soft reserved|type 12'
grep -E 'Soft Reserved|Persistent|dax|namespace' /proc/iomem
ls /sys/bus/dax/devices /sys/bus/dax/drivers
ls /sys/bus/dax/devices/dax1.0/../dax_region
cat /sys/bus/dax/devices/dax1.0/../dax_region/size /sys/bus/dax/devices/dax1.0/../dax_region/align
ls /sys/bus/dax/devices/dax0.0/../dax_region
ls -l /dev/dax1.0
# disable dax1.0 (daxctl: remove_id, unbind) and free the region
echo dax1.0 > /sys/bus/dax/drivers/device_dax/remove_id
echo dax1.0 > /sys/bus/dax/drivers/device_dax/unbind
echo 0 > /sys/bus/dax/devices/dax1.0/size
cat /sys/bus/dax/devices/dax1.0/../dax_region/available_size
# create two devices and interleave their growth: several ranges per device
echo 1 > /sys/bus/dax/devices/dax1.0/../dax_region/create
cat /sys/bus/dax/devices/dax1.0/../dax_region/seed
echo 2147483648 > /sys/bus/dax/devices/dax1.1/size
echo 1 > /sys/bus/dax/devices/dax1.0/../dax_region/create
echo 1073741824 > /sys/bus/dax/devices/dax1.2/size
echo 4294967296 > /sys/bus/dax/devices/dax1.1/size
ls /sys/bus/dax/devices/dax1.1
cat /sys/bus/dax/devices/dax1.1/mapping0/start /sys/bus/dax/devices/dax1.1/mapping0/end /sys/bus/dax/devices/dax1.1/mapping1/start /sys/bus/dax/devices/dax1.1/mapping1/page_offset
cat /sys/bus/dax/devices/dax1.0/../dax_region/available_size
# errors
echo 4096 > /sys/bus/dax/devices/dax1.1/size
echo 68719476736 > /sys/bus/dax/devices/dax1.1/size
echo 65536 > /sys/bus/dax/devices/dax1.1/align
echo dax1.1 > /sys/bus/dax/devices/dax1.0/../dax_region/delete
# enable as devdax (new_id, bind): /dev/dax1.1 opens, iomem shows it
echo dax1.1 > /sys/bus/dax/drivers/device_dax/new_id
ls /sys/bus/dax/drivers/device_dax
grep dax1 /proc/iomem
# destroy: disable, size 0, delete
echo dax1.1 > /sys/bus/dax/drivers/device_dax/remove_id
echo dax1.1 > /sys/bus/dax/drivers/device_dax/unbind
echo 0 > /sys/bus/dax/devices/dax1.1/size
echo dax1.1 > /sys/bus/dax/devices/dax1.0/../dax_region/delete
ls /sys/bus/dax/devices
cat /sys/bus/dax/devices/dax1.0/../dax_region/seed
